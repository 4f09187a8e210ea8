//! Public keys read from PEM `SubjectPublicKeyInfo` (`-----BEGIN PUBLIC KEY-----`).
//!
//! Supported: ECDSA P-256 (SHA-256) and P-384 (SHA-384) with ASN.1 DER signatures,
//! Ed25519, and RSA of 2048 to 8192 bits (PKCS#1 v1.5 with SHA-256 by default, as cosign
//! and containers/image verify RSA keys; PSS with SHA-256 on request). The PEM framing is
//! read strictly: exactly one block, nothing but whitespace around it, no headers.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use spki::ObjectIdentifier;
use spki::der::asn1::UintRef;
use spki::der::{Decode, Reader, SliceReader};

/// Bound on a PEM public key file (an RSA-8192 key is under 1.5 KiB).
pub const MAX_PEM_BYTES: usize = 16 * 1024;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// Why bytes are not a public key Latch accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Over [`MAX_PEM_BYTES`].
    #[error("public key file is {size} bytes, over the bound of {max}")]
    TooLarge {
        /// Size seen.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// No well-formed PEM block.
    #[error("not a PEM public key: {reason}")]
    NotPem {
        /// What is wrong with the framing.
        reason: &'static str,
    },
    /// Text before the `-----BEGIN` line.
    #[error("PEM public key has data before its BEGIN line")]
    LeadingData,
    /// Anything but whitespace after the `-----END` line.
    #[error("PEM public key has data after its END line")]
    TrailingData,
    /// More than one PEM block.
    #[error("PEM file holds more than one block; exactly one PUBLIC KEY block is expected")]
    MultipleBlocks,
    /// PEM headers (`Proc-Type:` …), as encrypted keys carry.
    #[error("PEM public key has headers, which a public key never carries")]
    Headers,
    /// A label other than `PUBLIC KEY`.
    #[error("PEM label is {found:?}, expected \"PUBLIC KEY\" (a SubjectPublicKeyInfo)")]
    WrongLabel {
        /// The label found.
        found: String,
    },
    /// The PEM body is not base64.
    #[error("PEM body is not valid base64: {reason}")]
    BadBase64 {
        /// The decoder's message.
        reason: String,
    },
    /// The DER is not a SubjectPublicKeyInfo.
    #[error("public key DER is not a valid SubjectPublicKeyInfo: {reason}")]
    BadDer {
        /// The decoder's message.
        reason: String,
    },
    /// A key algorithm other than EC, Ed25519 or RSA.
    #[error("public key algorithm {oid} is not supported (ECDSA P-256/P-384, Ed25519 and RSA are)")]
    UnsupportedAlgorithm {
        /// The algorithm OID.
        oid: String,
    },
    /// An EC curve other than P-256 or P-384.
    #[error("elliptic curve {oid} is not supported (P-256 and P-384 are)")]
    UnsupportedCurve {
        /// The curve OID.
        oid: String,
    },
    /// An RSA modulus under 2048 bits.
    #[error("RSA key of {bits} bits is too small (2048 bits or more are required)")]
    RsaTooSmall {
        /// Modulus size.
        bits: usize,
    },
    /// An RSA modulus over 8192 bits.
    #[error("RSA key of {bits} bits is too large (8192 bits at most)")]
    RsaTooLarge {
        /// Modulus size.
        bits: usize,
    },
    /// The crypto library refused the key material (a point not on the curve…).
    #[error("public key rejected by the crypto library: {reason}")]
    Rejected {
        /// The library's reason.
        reason: String,
    },
    /// An RSA signature scheme asked of a key that is not RSA.
    #[error("{scheme} applies to RSA keys only; this key is {algorithm}")]
    NotRsa {
        /// Scheme asked for.
        scheme: &'static str,
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
    },
}

/// A signature did not verify under a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify with this key")]
pub struct BadSignature;

/// The algorithm, and so the signature scheme, of a [`PublicKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256, ASN.1 DER signatures (cosign's default).
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384, ASN.1 DER signatures.
    EcdsaP384Sha384,
    /// Ed25519 (pure).
    Ed25519,
    /// RSA PKCS#1 v1.5 with SHA-256.
    RsaPkcs1Sha256 {
        /// Modulus size in bits.
        bits: usize,
    },
    /// RSA-PSS with SHA-256 (MGF1 SHA-256, salt of 32 bytes).
    RsaPssSha256 {
        /// Modulus size in bits.
        bits: usize,
    },
}

impl KeyAlgorithm {
    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            KeyAlgorithm::EcdsaP256Sha256 => &sig::ECDSA_P256_SHA256_ASN1,
            KeyAlgorithm::EcdsaP384Sha384 => &sig::ECDSA_P384_SHA384_ASN1,
            KeyAlgorithm::Ed25519 => &sig::ED25519,
            KeyAlgorithm::RsaPkcs1Sha256 { .. } => &sig::RSA_PKCS1_2048_8192_SHA256,
            KeyAlgorithm::RsaPssSha256 { .. } => &sig::RSA_PSS_2048_8192_SHA256,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::EcdsaP256Sha256 => f.write_str("ECDSA P-256 SHA-256"),
            KeyAlgorithm::EcdsaP384Sha384 => f.write_str("ECDSA P-384 SHA-384"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
            KeyAlgorithm::RsaPkcs1Sha256 { bits } => write!(f, "RSA-{bits} PKCS#1 v1.5 SHA-256"),
            KeyAlgorithm::RsaPssSha256 { bits } => write!(f, "RSA-{bits} PSS SHA-256"),
        }
    }
}

/// A public key trusted to sign images (or a pinned Rekor log key).
///
/// Two identities: [`store_id`](PublicKey::store_id), the hex sha256 of the PEM file bytes
/// as given (the folder name of Dangerzone's signature store: a byte of difference in the
/// file changes it), and [`log_id`](PublicKey::log_id), the hex sha256 of the canonical DER
/// SubjectPublicKeyInfo (Rekor's `logID` for a log key). The DER is canonical whatever the
/// encoding given: an EC point written compressed is kept uncompressed, as Rekor and cosign
/// write it, so one key has one `log_id` and counts once towards a threshold.
#[derive(Clone)]
pub struct PublicKey {
    pem: Vec<u8>,
    der: Vec<u8>,
    store_id: String,
    log_id: String,
    algorithm: KeyAlgorithm,
    parsed: ParsedPublicKey,
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` file: exactly one block, only whitespace around it.
    pub fn from_pem(pem: &[u8]) -> Result<PublicKey, KeyError> {
        let der = decode_public_key_pem(pem)?;
        PublicKey::build(pem.to_vec(), der)
    }

    /// Reads a DER SubjectPublicKeyInfo. Its [`store_id`](PublicKey::store_id) is that of
    /// the PEM that [`spki_to_pem`] writes for it (64-column lines, final newline).
    pub fn from_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        PublicKey::build(spki_to_pem(der).into_bytes(), der.to_vec())
    }

    fn build(pem: Vec<u8>, der: Vec<u8>) -> Result<PublicKey, KeyError> {
        let algorithm = classify(&der)?;
        let parsed = ParsedPublicKey::new(algorithm.verification(), &der).map_err(|e| {
            KeyError::Rejected {
                reason: e.to_string(),
            }
        })?;
        // The crypto library writes the key back as a plain SubjectPublicKeyInfo with an
        // uncompressed point: the one encoding every copy of this key shares.
        let der = parsed
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|e| KeyError::Rejected {
                reason: e.to_string(),
            })?;
        Ok(PublicKey {
            store_id: hex::encode(Sha256::digest(&pem)),
            log_id: hex::encode(Sha256::digest(&der)),
            pem,
            der,
            algorithm,
            parsed,
        })
    }

    /// The same RSA key, verifying RSA-PSS (SHA-256) signatures instead of PKCS#1 v1.5.
    pub fn with_rsa_pss(self) -> Result<PublicKey, KeyError> {
        let bits = match self.algorithm {
            KeyAlgorithm::RsaPkcs1Sha256 { bits } | KeyAlgorithm::RsaPssSha256 { bits } => bits,
            other => {
                return Err(KeyError::NotRsa {
                    scheme: "RSA-PSS",
                    algorithm: other,
                });
            }
        };
        let algorithm = KeyAlgorithm::RsaPssSha256 { bits };
        let parsed = ParsedPublicKey::new(algorithm.verification(), &self.der).map_err(|e| {
            KeyError::Rejected {
                reason: e.to_string(),
            }
        })?;
        Ok(PublicKey {
            algorithm,
            parsed,
            ..self
        })
    }

    /// Hex sha256 of the PEM file bytes as given: Dangerzone's store folder name.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// Hex sha256 of the canonical DER SubjectPublicKeyInfo: Rekor's `logID` for a log
    /// key, and the key's identity when signers are counted.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The canonical DER SubjectPublicKeyInfo (EC points uncompressed).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM bytes as given (or as written by [`spki_to_pem`] for [`PublicKey::from_der`]).
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// The algorithm and signature scheme.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Verifies `signature` over `message` (the message is hashed by the scheme).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), BadSignature> {
        self.parsed
            .verify_sig(message, signature)
            .map_err(|_| BadSignature)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.der == other.der && self.algorithm == other.algorithm
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("log_id", &self.log_id)
            .field("store_id", &self.store_id)
            .finish()
    }
}

/// Writes a DER SubjectPublicKeyInfo as PEM the way Go's `pem.Encode` does (64-column
/// lines, final newline), which is how cosign writes `cosign.pub`.
pub fn spki_to_pem(der: &[u8]) -> String {
    pem_encode("PUBLIC KEY", der)
}

/// Writes `der` as one PEM block labelled `label` the way Go's `pem.Encode` does
/// (64-column lines, final newline).
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + 64);
    out.push_str(&format!("-----BEGIN {label}-----\n"));
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decodes a strict single-block PEM `PUBLIC KEY` into its DER.
pub(crate) fn decode_public_key_pem(input: &[u8]) -> Result<Vec<u8>, KeyError> {
    let (label, der) = decode_pem(input)?;
    if label != "PUBLIC KEY" {
        return Err(KeyError::WrongLabel { found: label });
    }
    Ok(der)
}

/// Decodes exactly one PEM block, with only whitespace before and after it.
pub(crate) fn decode_pem(input: &[u8]) -> Result<(String, Vec<u8>), KeyError> {
    if input.len() > MAX_PEM_BYTES {
        return Err(KeyError::TooLarge {
            size: input.len(),
            max: MAX_PEM_BYTES,
        });
    }
    let text = std::str::from_utf8(input).map_err(|_| KeyError::NotPem {
        reason: "not UTF-8 text",
    })?;
    let text = text.trim_start();
    let Some(after_begin) = text.strip_prefix("-----BEGIN ") else {
        return Err(if text.contains("-----BEGIN ") {
            KeyError::LeadingData
        } else {
            KeyError::NotPem {
                reason: "no -----BEGIN line",
            }
        });
    };
    let Some((label, rest)) = after_begin.split_once("-----") else {
        return Err(KeyError::NotPem {
            reason: "unterminated BEGIN line",
        });
    };
    let Some(rest) = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
    else {
        return Err(KeyError::NotPem {
            reason: "no line break after the BEGIN line",
        });
    };
    let end_marker = format!("-----END {label}-----");
    let Some((body, after_end)) = rest.split_once(&end_marker) else {
        return Err(KeyError::NotPem {
            reason: "no matching -----END line",
        });
    };
    if after_end.contains("-----BEGIN ") {
        return Err(KeyError::MultipleBlocks);
    }
    if !after_end.trim().is_empty() {
        return Err(KeyError::TrailingData);
    }
    if body.contains("-----") {
        return Err(KeyError::NotPem {
            reason: "a dash line inside the block",
        });
    }
    if body.contains(':') {
        return Err(KeyError::Headers);
    }
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if b64.is_empty() {
        return Err(KeyError::NotPem {
            reason: "empty block",
        });
    }
    let der = STANDARD.decode(b64).map_err(|e| KeyError::BadBase64 {
        reason: e.to_string(),
    })?;
    Ok((label.to_owned(), der))
}

/// Reads the algorithm (and curve or modulus size) from a DER SubjectPublicKeyInfo.
fn classify(der: &[u8]) -> Result<KeyAlgorithm, KeyError> {
    let bad = |e: spki::Error| KeyError::BadDer {
        reason: e.to_string(),
    };
    let info = spki::SubjectPublicKeyInfoRef::try_from(der).map_err(bad)?;
    let oid = info.algorithm.oid;
    if oid == OID_EC_PUBLIC_KEY {
        let curve = info.algorithm.parameters_oid().map_err(bad)?;
        if curve == OID_P256 {
            Ok(KeyAlgorithm::EcdsaP256Sha256)
        } else if curve == OID_P384 {
            Ok(KeyAlgorithm::EcdsaP384Sha384)
        } else {
            Err(KeyError::UnsupportedCurve {
                oid: curve.to_string(),
            })
        }
    } else if oid == OID_ED25519 {
        if info.algorithm.parameters.is_some() {
            return Err(KeyError::BadDer {
                reason: "Ed25519 algorithm identifier carries parameters".to_owned(),
            });
        }
        Ok(KeyAlgorithm::Ed25519)
    } else if oid == OID_RSA {
        let key = info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::BadDer {
                reason: "RSA public key bit string is not octet-aligned".to_owned(),
            })?;
        let bits = rsa_modulus_bits(key)?;
        if bits < RSA_MIN_BITS {
            Err(KeyError::RsaTooSmall { bits })
        } else if bits > RSA_MAX_BITS {
            Err(KeyError::RsaTooLarge { bits })
        } else {
            Ok(KeyAlgorithm::RsaPkcs1Sha256 { bits })
        }
    } else {
        Err(KeyError::UnsupportedAlgorithm {
            oid: oid.to_string(),
        })
    }
}

/// Size in bits of the modulus of a DER `RSAPublicKey ::= SEQUENCE { n, e }`.
fn rsa_modulus_bits(der: &[u8]) -> Result<usize, KeyError> {
    let bad = |e: spki::der::Error| KeyError::BadDer {
        reason: format!("RSA public key: {e}"),
    };
    let mut reader = SliceReader::new(der).map_err(bad)?;
    let modulus = reader
        .sequence(|seq| {
            let n = UintRef::decode(seq)?;
            let _e = UintRef::decode(seq)?;
            Ok(n)
        })
        .map_err(bad)?;
    reader.finish(()).map_err(bad)?;
    let bytes = modulus.as_bytes();
    Ok(match bytes.first() {
        None => 0,
        Some(first) => bytes.len() * 8 - first.leading_zeros() as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_PUB: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoE0CXLGff79fR8KyPnSvOY74UBkt
2sLi+aVFUzS1Qwt4wosxHhcDN2B6QSsLlvgsH82q6qcA6PL2SdS/p4jWGA==
-----END PUBLIC KEY-----
";

    #[test]
    fn reads_p256_pem_and_ids() {
        let k = PublicKey::from_pem(TEST_PUB.as_bytes()).unwrap();
        assert_eq!(k.algorithm(), KeyAlgorithm::EcdsaP256Sha256);
        assert_eq!(k.der().len(), 91);
        assert_eq!(k.log_id().len(), 64);
        assert_eq!(
            k.store_id(),
            hex::encode(Sha256::digest(TEST_PUB.as_bytes()))
        );
        // cosign's own PEM layout round-trips to the same bytes, so the same store id.
        assert_eq!(spki_to_pem(k.der()), TEST_PUB);
        let again = PublicKey::from_der(k.der()).unwrap();
        assert_eq!(again.store_id(), k.store_id());
        assert_eq!(again, k);
        // A byte of difference in the file changes the store id, not the log id.
        let crlf = TEST_PUB.replace('\n', "\r\n");
        let k2 = PublicKey::from_pem(crlf.as_bytes()).unwrap();
        assert_ne!(k2.store_id(), k.store_id());
        assert_eq!(k2.log_id(), k.log_id());
        assert!(format!("{k:?}").contains("EcdsaP256Sha256"));
    }

    #[test]
    fn refuses_bad_framing() {
        type Check = fn(&KeyError) -> bool;
        let no_final = TEST_PUB.trim_end().to_owned();
        assert!(PublicKey::from_pem(no_final.as_bytes()).is_ok());
        let two = format!("{TEST_PUB}{TEST_PUB}");
        let trailing = format!("{TEST_PUB}garbage\n");
        let leading = format!("hello\n{TEST_PUB}");
        let label = TEST_PUB.replace("PUBLIC KEY", "RSA PUBLIC KEY");
        let headers = TEST_PUB.replace("-----\nMFkw", "-----\nProc-Type: 4,ENCRYPTED\n\nMFkw");
        let badb64 = TEST_PUB.replace("MFkw", "MF!w");
        let truncated = TEST_PUB.replace(
            "2sLi+aVFUzS1Qwt4wosxHhcDN2B6QSsLlvgsH82q6qcA6PL2SdS/p4jWGA==\n",
            "",
        );
        let mismatched_end = TEST_PUB.replace("END PUBLIC KEY", "END CERTIFICATE");
        let huge = "a".repeat(MAX_PEM_BYTES + 1);
        let cases: Vec<(&[u8], Check)> = vec![
            (b"", |e| matches!(e, KeyError::NotPem { .. })),
            (b"\xff\xfe", |e| matches!(e, KeyError::NotPem { .. })),
            (two.as_bytes(), |e| matches!(e, KeyError::MultipleBlocks)),
            (trailing.as_bytes(), |e| matches!(e, KeyError::TrailingData)),
            (leading.as_bytes(), |e| matches!(e, KeyError::LeadingData)),
            (label.as_bytes(), |e| {
                matches!(e, KeyError::WrongLabel { .. })
            }),
            (headers.as_bytes(), |e| matches!(e, KeyError::Headers)),
            (badb64.as_bytes(), |e| {
                matches!(e, KeyError::BadBase64 { .. })
            }),
            (truncated.as_bytes(), |e| {
                matches!(e, KeyError::BadDer { .. })
            }),
            (mismatched_end.as_bytes(), |e| {
                matches!(e, KeyError::NotPem { .. })
            }),
            (huge.as_bytes(), |e| matches!(e, KeyError::TooLarge { .. })),
            (
                b"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
                |e| matches!(e, KeyError::NotPem { .. }),
            ),
        ];
        for (input, check) in cases {
            let err = PublicKey::from_pem(input).expect_err(&String::from_utf8_lossy(input));
            assert!(
                check(&err),
                "{:?} gave {err:?}",
                String::from_utf8_lossy(input)
            );
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn one_key_one_identity_whatever_its_encoding() {
        let k = PublicKey::from_pem(TEST_PUB.as_bytes()).unwrap();
        // The same point, written compressed: 0x02 or 0x03 (parity of y), then x.
        let der = k.der();
        let (x, y) = (&der[27..59], &der[59..91]);
        let mut compressed = vec![0x30, 0x39];
        compressed.extend_from_slice(&der[2..23]);
        compressed.extend_from_slice(&[0x03, 0x22, 0x00, 0x02 | (y[31] & 1)]);
        compressed.extend_from_slice(x);
        let c = PublicKey::from_pem(spki_to_pem(&compressed).as_bytes()).unwrap();
        assert_eq!(c.der(), k.der(), "kept uncompressed");
        assert_eq!(c.log_id(), k.log_id());
        assert_eq!(c, k);
        assert_ne!(
            c.store_id(),
            k.store_id(),
            "the file differs, so does its folder"
        );
        // Line endings change the file, not the key.
        let crlf = PublicKey::from_pem(TEST_PUB.replace('\n', "\r\n").as_bytes()).unwrap();
        assert_eq!(crlf.log_id(), k.log_id());
    }

    #[test]
    fn pss_only_for_rsa() {
        let k = PublicKey::from_pem(TEST_PUB.as_bytes()).unwrap();
        assert!(matches!(k.with_rsa_pss(), Err(KeyError::NotRsa { .. })));
    }
}
