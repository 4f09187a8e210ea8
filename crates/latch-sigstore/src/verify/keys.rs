//! ECDSA keys and the hash each curve signs with.
//!
//! sigstore-verify 0.15 knows ECDSA P-256 and P-384 only (`sigstore-crypto`
//! `verification.rs::key_algorithm` refuses any other curve: "unsupported or invalid EC
//! curve parameters"), so a P-521 key cannot even be read there. Sigstore's clients sign
//! with the hash that goes with the curve (`sigstore/sigstore` `GetDefaultPublicKeyDetails`:
//! P-256 → SHA-256, P-384 → SHA-384, P-521 → SHA-512), and Rekor logs that hash of the
//! artifact in the `hashedrekord` entry. Signatures are verified here with aws-lc-rs.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, ECDSA_P521_SHA512_ASN1,
    EcdsaVerificationAlgorithm, UnparsedPublicKey,
};
use sigstore_verify::types::HashAlgorithm;
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// A hash of the SHA-2 family, as the bundle and the log name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// Rekor's name (`hashedrekord` 0.0.1 `data.hash.algorithm`).
    pub(crate) fn rekor_name(self) -> &'static str {
        match self {
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
        }
    }

    /// The protobuf name (`messageDigest.algorithm`, `hashedrekord` 0.0.2).
    pub(crate) fn proto_name(self) -> &'static str {
        match self {
            Hash::Sha256 => "SHA2_256",
            Hash::Sha384 => "SHA2_384",
            Hash::Sha512 => "SHA2_512",
        }
    }

    /// How people write it.
    pub(crate) fn display_name(self) -> &'static str {
        match self {
            Hash::Sha256 => "SHA-256",
            Hash::Sha384 => "SHA-384",
            Hash::Sha512 => "SHA-512",
        }
    }

    pub(crate) fn from_rekor_name(name: &str) -> Option<Hash> {
        match name {
            "sha256" => Some(Hash::Sha256),
            "sha384" => Some(Hash::Sha384),
            "sha512" => Some(Hash::Sha512),
            _ => None,
        }
    }

    pub(crate) fn from_proto_name(name: &str) -> Option<Hash> {
        match name {
            "SHA2_256" => Some(Hash::Sha256),
            "SHA2_384" => Some(Hash::Sha384),
            "SHA2_512" => Some(Hash::Sha512),
            _ => None,
        }
    }

    pub(crate) fn from_bundle(algorithm: HashAlgorithm) -> Option<Hash> {
        match algorithm {
            HashAlgorithm::Sha2256 => Some(Hash::Sha256),
            HashAlgorithm::Sha2384 => Some(Hash::Sha384),
            HashAlgorithm::Sha2512 => Some(Hash::Sha512),
            _ => None,
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        };
        digest::digest(algorithm, data).as_ref().to_vec()
    }
}

/// The NIST curves an ECDSA signer can be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// `ECDSA P-384`…
    pub(crate) fn name(self) -> &'static str {
        match self {
            Curve::P256 => "ECDSA P-256",
            Curve::P384 => "ECDSA P-384",
            Curve::P521 => "ECDSA P-521",
        }
    }

    /// The hash the curve signs with.
    pub(crate) fn hash(self) -> Hash {
        match self {
            Curve::P256 => Hash::Sha256,
            Curve::P384 => Hash::Sha384,
            Curve::P521 => Hash::Sha512,
        }
    }

    /// The trusted-root / Rekor v2 `keyDetails` of a key on this curve.
    pub(crate) fn key_details(self) -> &'static str {
        match self {
            Curve::P256 => "PKIX_ECDSA_P256_SHA_256",
            Curve::P384 => "PKIX_ECDSA_P384_SHA_384",
            Curve::P521 => "PKIX_ECDSA_P521_SHA_512",
        }
    }

    /// Whether sigstore-verify 0.15 gets message signatures on this curve wrong (a
    /// `hashedrekord` entry with a SHA-384/SHA-512 hash, or a key it cannot read), so
    /// that Latch verifies them itself.
    pub(crate) fn needs_own_verification(self) -> bool {
        self != Curve::P256
    }

    fn algorithm(self) -> &'static EcdsaVerificationAlgorithm {
        match self {
            Curve::P256 => &ECDSA_P256_SHA256_ASN1,
            Curve::P384 => &ECDSA_P384_SHA384_ASN1,
            Curve::P521 => &ECDSA_P521_SHA512_ASN1,
        }
    }
}

/// An ECDSA public key read from a DER SubjectPublicKeyInfo.
#[derive(Debug, Clone)]
pub(crate) struct EcKey {
    pub(crate) curve: Curve,
    point: Vec<u8>,
}

impl EcKey {
    /// The key, when `spki` is an ECDSA key on a NIST curve with an uncompressed point;
    /// `None` for anything else (RSA, Ed25519, other curves, malformed DER).
    pub(crate) fn from_spki(spki: &[u8]) -> Option<EcKey> {
        let info = SubjectPublicKeyInfoRef::try_from(spki).ok()?;
        if info.algorithm.oid != ID_EC_PUBLIC_KEY {
            return None;
        }
        let curve = match info.algorithm.parameters_oid().ok()? {
            SECP256R1 => Curve::P256,
            SECP384R1 => Curve::P384,
            SECP521R1 => Curve::P521,
            _ => return None,
        };
        let point = info.subject_public_key.as_bytes()?;
        if point.first() != Some(&0x04) {
            return None;
        }
        Some(EcKey {
            curve,
            point: point.to_vec(),
        })
    }

    /// Verifies an ASN.1 (DER) ECDSA `signature` over `message`, hashed with the curve's
    /// hash.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        UnparsedPublicKey::new(self.curve.algorithm(), &self.point)
            .verify(message, signature)
            .map_err(|_| {
                format!(
                    "{} signature over {} does not verify",
                    self.curve.name(),
                    self.curve.hash().display_name()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    };

    #[test]
    fn curves_are_read_from_the_spki_and_sign_with_their_hash() {
        let rng = SystemRandom::new();
        for (alg, curve) in [
            (&ECDSA_P384_SHA384_ASN1_SIGNING, Curve::P384),
            (&ECDSA_P521_SHA512_ASN1_SIGNING, Curve::P521),
        ] {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
            let spki = pair.public_key().as_der().unwrap();
            let key = EcKey::from_spki(spki.as_ref()).unwrap();
            assert_eq!(key.curve, curve);
            let sig = pair.sign(&rng, b"message").unwrap();
            key.verify(b"message", sig.as_ref()).unwrap();
            assert!(key.verify(b"other", sig.as_ref()).is_err());
        }
        assert!(EcKey::from_spki(b"not a key").is_none());
        assert_eq!(Hash::from_rekor_name("sha384"), Some(Hash::Sha384));
        assert_eq!(Hash::from_proto_name("SHA2_512"), Some(Hash::Sha512));
        assert_eq!(Hash::Sha384.digest(b"").len(), 48);
    }
}
