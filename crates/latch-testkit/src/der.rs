//! Just enough DER to write a self-signed P-256 certificate for the token server's key
//! (distribution reads the token signing keys from the certificates of its
//! `rootcertbundle`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::EcdsaKeyPair;

/// The DER `SubjectPublicKeyInfo` prefix of a P-256 key (id-ecPublicKey, prime256v1,
/// bit string of 66 bytes), to which the 65-byte uncompressed point is appended.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// OID 1.2.840.10045.4.3.2 (ecdsa-with-SHA256).
const ECDSA_WITH_SHA256: [u8; 8] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// OID 2.5.4.3 (commonName).
const COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];

/// DER `SubjectPublicKeyInfo` of an uncompressed P-256 point.
pub(crate) fn p256_spki(point: &[u8]) -> Vec<u8> {
    assert_eq!(point.len(), 65, "an uncompressed P-256 point is 65 bytes");
    let mut out = P256_SPKI_PREFIX.to_vec();
    out.extend_from_slice(point);
    out
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn name(common_name: &str) -> Vec<u8> {
    let atv = seq(&[&tlv(0x06, &COMMON_NAME), &tlv(0x0c, common_name.as_bytes())]);
    seq(&[&tlv(0x31, &atv)])
}

/// A self-signed X.509 v3 certificate (DER) for the key `pair`, signed by it, valid from
/// 2000 to 2049.
pub(crate) fn self_signed_cert(pair: &EcdsaKeyPair, common_name: &str) -> Vec<u8> {
    use aws_lc_rs::signature::KeyPair;
    let alg = seq(&[&tlv(0x06, &ECDSA_WITH_SHA256)]);
    let version = tlv(0xa0, &tlv(0x02, &[2]));
    let serial = tlv(0x02, &[0x01, 0x7e, 0x57, 0x4b, 0x17]);
    let validity = seq(&[&tlv(0x17, b"000101000000Z"), &tlv(0x17, b"491231235959Z")]);
    let spki = p256_spki(pair.public_key().as_ref());
    let subject = name(common_name);
    let tbs = seq(&[
        &version, &serial, &alg, &subject, &validity, &subject, &spki,
    ]);
    let sig = pair
        .sign(&SystemRandom::new(), &tbs)
        .expect("ECDSA signing with a fresh key");
    let mut bits = vec![0u8];
    bits.extend_from_slice(sig.as_ref());
    seq(&[&tbs, &alg, &tlv(0x03, &bits)])
}

/// PEM armour.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_use_the_long_form() {
        assert_eq!(tlv(0x04, &[0; 3]), vec![0x04, 3, 0, 0, 0]);
        let long = tlv(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(long.len(), 304);
    }

    #[test]
    fn certificate_is_a_sequence_that_holds_the_key() {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, KeyPair};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let cert = self_signed_cert(&pair, "test");
        assert_eq!(cert[0], 0x30);
        let spki = p256_spki(pair.public_key().as_ref());
        assert!(cert.windows(spki.len()).any(|w| w == spki.as_slice()));
        let text = pem("CERTIFICATE", &cert);
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
    }
}
