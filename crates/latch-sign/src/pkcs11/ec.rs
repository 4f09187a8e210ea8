//! The DER a PKCS#11 EC key needs around it, pure: the curve of `CKA_EC_PARAMS`, a
//! SubjectPublicKeyInfo from `CKA_EC_POINT`, and the ASN.1 DER signature cosign verifies
//! from the raw `r || s` that `CKM_ECDSA` returns.

/// An EC curve a token key may be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (prime256v1): ECDSA with SHA-256.
    P256,
    /// NIST P-384 (secp384r1): ECDSA with SHA-384.
    P384,
}

/// DER of the OID 1.2.840.10045.3.1.7 (prime256v1).
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the OID 1.3.132.0.34 (secp384r1).
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER of the OID 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

impl Curve {
    /// The curve `CKA_EC_PARAMS` names (a DER named-curve OID, or the PKCS#11 3.0
    /// PrintableString of its name); `None` for any other.
    pub fn from_ec_params(params: &[u8]) -> Option<Curve> {
        match params {
            OID_P256 => Some(Curve::P256),
            OID_P384 => Some(Curve::P384),
            [0x13, len, name @ ..] if usize::from(*len) == name.len() => match name {
                b"prime256v1" | b"secp256r1" | b"P-256" => Some(Curve::P256),
                b"secp384r1" | b"P-384" => Some(Curve::P384),
                _ => None,
            },
            _ => None,
        }
    }

    fn oid(self) -> &'static [u8] {
        match self {
            Curve::P256 => OID_P256,
            Curve::P384 => OID_P384,
        }
    }

    /// Bytes of one coordinate, and of `r` and `s`.
    pub fn scalar_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    /// The digest signed with this curve's key (SHA-256 or SHA-384 of the message).
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Curve::P256 => sha2::Sha256::digest(message).to_vec(),
            Curve::P384 => sha2::Sha384::digest(message).to_vec(),
        }
    }

    /// How the curve is written in messages.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }
}

/// DER length octets.
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(tag);
    push_len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// The EC point of `CKA_EC_POINT`: the spec says a DER OCTET STRING around the point, and
/// some modules give the bare point; both are read. `None` if it is neither.
pub fn ec_point(value: &[u8], curve: Curve) -> Option<&[u8]> {
    let n = curve.scalar_len();
    let bare = |p: &[u8]| match p.first() {
        Some(0x04) => p.len() == 1 + 2 * n,
        Some(0x02 | 0x03) => p.len() == 1 + n,
        _ => false,
    };
    // An uncompressed bare point also starts with 0x04 (the OCTET STRING tag): its length
    // tells them apart.
    if bare(value) {
        return Some(value);
    }
    let inner = match value {
        [0x04, len, rest @ ..] if *len < 0x80 && usize::from(*len) == rest.len() => rest,
        [0x04, 0x81, len, rest @ ..] if *len >= 0x80 && usize::from(*len) == rest.len() => rest,
        _ => return None,
    };
    bare(inner).then_some(inner)
}

/// The DER SubjectPublicKeyInfo of `point` on `curve`.
pub fn spki(curve: Curve, point: &[u8]) -> Vec<u8> {
    let mut algorithm = OID_EC_PUBLIC_KEY.to_vec();
    algorithm.extend_from_slice(curve.oid());
    let mut bits = vec![0u8];
    bits.extend_from_slice(point);
    let mut body = tlv(0x30, &algorithm);
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

fn der_integer(unsigned: &[u8]) -> Vec<u8> {
    let skip = unsigned.iter().take_while(|&&b| b == 0).count();
    let mut body = Vec::with_capacity(unsigned.len() + 1);
    match unsigned.get(skip) {
        None => body.push(0),
        Some(&first) => {
            if first & 0x80 != 0 {
                body.push(0);
            }
            body.extend_from_slice(&unsigned[skip..]);
        }
    }
    tlv(0x02, &body)
}

/// The ASN.1 DER `Ecdsa-Sig-Value` (SEQUENCE of two INTEGERs) of the raw `r || s` that
/// PKCS#11's `CKM_ECDSA` returns; `None` unless `raw` is exactly two scalars of `curve`.
pub fn raw_to_der(raw: &[u8], curve: Curve) -> Option<Vec<u8>> {
    let n = curve.scalar_len();
    if raw.len() != 2 * n {
        return None;
    }
    let (r, s) = raw.split_at(n);
    let mut body = der_integer(r);
    body.extend(der_integer(s));
    Some(tlv(0x30, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_ASN1,
        ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
    };

    #[test]
    fn curves_from_params() {
        assert_eq!(Curve::from_ec_params(OID_P256), Some(Curve::P256));
        assert_eq!(Curve::from_ec_params(OID_P384), Some(Curve::P384));
        assert_eq!(
            Curve::from_ec_params(b"\x13\x0aprime256v1"),
            Some(Curve::P256)
        );
        assert_eq!(
            Curve::from_ec_params(b"\x13\x09secp384r1"),
            Some(Curve::P384)
        );
        // secp256k1, Ed25519's OID, garbage.
        assert_eq!(Curve::from_ec_params(&[6, 5, 0x2b, 0x81, 4, 0, 0x0a]), None);
        assert_eq!(Curve::from_ec_params(&[6, 3, 0x2b, 0x65, 0x70]), None);
        assert_eq!(Curve::from_ec_params(b""), None);
        assert_eq!(Curve::from_ec_params(b"\x13\x20prime256v1"), None);
    }

    #[test]
    fn raw_signatures_become_der_that_verifies() {
        // What a token returns is what aws-lc's FIXED signing returns: r || s.
        let rng = SystemRandom::new();
        for (curve, signing, verifying) in [
            (
                Curve::P256,
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &ECDSA_P256_SHA256_ASN1,
            ),
            (
                Curve::P384,
                &ECDSA_P384_SHA384_FIXED_SIGNING,
                &ECDSA_P384_SHA384_ASN1,
            ),
        ] {
            let doc = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(signing, doc.as_ref()).unwrap();
            let point = pair.public_key().as_ref().to_vec();
            // Through the SubjectPublicKeyInfo Latch builds, as the token path does.
            let key = latch_trust::PublicKey::from_der(&spki(curve, &point)).unwrap();
            // Enough signatures that some r or s start with a high bit, or a zero byte.
            for i in 0..64u8 {
                let msg = [i; 17];
                let raw = pair.sign(&rng, &msg).unwrap();
                let der = raw_to_der(raw.as_ref(), curve).unwrap();
                UnparsedPublicKey::new(verifying, &point)
                    .verify(&msg, &der)
                    .unwrap();
                key.verify(&msg, &der).unwrap();
            }
            assert_eq!(raw_to_der(&[1; 10], curve), None);
        }
    }

    #[test]
    fn der_integers() {
        let n = Curve::P256.scalar_len();
        let mut raw = vec![0u8; 2 * n];
        raw[n - 1] = 1; // r = 1
        raw[n] = 0x80; // s has its high bit set
        let der = raw_to_der(&raw, Curve::P256).unwrap();
        assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x01, 0x01]);
        assert_eq!(&der[5..8], &[0x02, 0x21, 0x00]);
        assert_eq!(der.len(), 2 + 3 + 2 + 33);
        // r = 0 is one zero byte (not valid for ECDSA, but well-formed DER).
        let der = raw_to_der(&vec![0u8; 2 * n], Curve::P256).unwrap();
        assert_eq!(der, [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]);
        // P-384 with both high bits: a long-form length is not needed (0x66 < 0x80).
        let der = raw_to_der(&[0xff; 96], Curve::P384).unwrap();
        assert_eq!(&der[..2], &[0x30, 0x66]);
    }

    #[test]
    fn points_wrapped_or_bare() {
        let mut bare = vec![0x04];
        bare.extend([7u8; 64]);
        let wrapped = tlv(0x04, &bare);
        assert_eq!(ec_point(&bare, Curve::P256), Some(bare.as_slice()));
        assert_eq!(ec_point(&wrapped, Curve::P256), Some(bare.as_slice()));
        assert_eq!(ec_point(&wrapped, Curve::P384), None);
        let mut p384 = vec![0x04];
        p384.extend([7u8; 96]);
        let wrapped384 = tlv(0x04, &p384);
        assert_eq!(&wrapped384[..3], &[0x04, 0x61, 0x04]);
        assert_eq!(ec_point(&wrapped384, Curve::P384), Some(p384.as_slice()));
        let mut compressed = vec![0x02];
        compressed.extend([7u8; 32]);
        assert_eq!(
            ec_point(&tlv(0x04, &compressed), Curve::P256),
            Some(compressed.as_slice())
        );
        assert_eq!(ec_point(&[0x04, 0x05, 1, 2], Curve::P256), None);
        assert_eq!(ec_point(b"", Curve::P256), None);
        assert_eq!(tlv(0x30, &[0u8; 200])[..3], [0x30, 0x81, 200]);
        assert_eq!(tlv(0x30, &[0u8; 300])[..4], [0x30, 0x82, 0x01, 0x2c]);
    }
}
