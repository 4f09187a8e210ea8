//! Cosign legacy signatures made in the test: a P-256 key the test owns, the
//! simple-signing payload cosign writes (FORMATS.md 5.1), and, with a test log key, a Rekor
//! SET over a `hashedrekord` entry at a log index and time the test chooses (5.3, 5.4).
//! The result is what `cosign download signature` prints for one signature, so any reader
//! of that format takes it.

use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

/// A P-256 key pair made for a test.
pub struct TestKey {
    pair: EcdsaKeyPair,
    /// PKCS#8 of the private key.
    pub pkcs8: Vec<u8>,
    /// The public key as cosign writes `cosign.pub` (64-column PEM, final newline).
    pub public_pem: String,
}

impl TestKey {
    /// A fresh key.
    pub fn generate() -> TestKey {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("generate a P-256 key");
        TestKey::from_pkcs8(doc.as_ref())
    }

    /// The key of a PKCS#8 document.
    pub fn from_pkcs8(pkcs8: &[u8]) -> TestKey {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
            .expect("a P-256 PKCS#8 key");
        let public_pem = pem(
            "PUBLIC KEY",
            &crate::der::p256_spki(pair.public_key().as_ref()),
        );
        TestKey {
            pair,
            pkcs8: pkcs8.to_vec(),
            public_pem,
        }
    }

    /// Writes the public PEM to `dir/<name>.pub` and returns the path.
    pub fn write_public(&self, dir: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).expect("create the key directory");
        let path = dir.join(format!("{name}.pub"));
        std::fs::write(&path, &self.public_pem).expect("write the public key");
        path
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn public_der(&self) -> Vec<u8> {
        crate::der::p256_spki(self.pair.public_key().as_ref())
    }

    /// An ECDSA P-256 SHA-256 signature over `message` (ASN.1 DER).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .expect("sign")
            .as_ref()
            .to_vec()
    }

    /// Hex sha256 of the DER: a log's `logID` when this key is a log key.
    pub fn log_id(&self) -> String {
        hex(&Sha256::digest(self.public_der()))
    }
}

/// Where and when a test log says it recorded a signature.
#[derive(Debug, Clone, Copy)]
pub struct LogPosition {
    /// `logIndex`.
    pub index: i64,
    /// `integratedTime`, unix seconds.
    pub time: i64,
}

/// The simple-signing payload cosign signs for `digest` (`sha256:<hex>`) in `repository`,
/// with `annotations` in `optional` (`null` without any), byte for byte as Go's
/// `json.Marshal` writes it.
pub fn simple_signing(repository: &str, digest: &str, annotations: &[(&str, &str)]) -> Vec<u8> {
    let optional = if annotations.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::Value::Object(
            annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect(),
        )
    };
    // serde_json's map is ordered by key, which is Go's struct order for these members.
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": repository},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": optional
    }))
    .expect("payload JSON")
}

/// One cosign signature as `cosign download signature` prints it: `key` signs the payload
/// for `digest` in `repository` (with `annotations`); with `log`, a SET by the log key
/// over a `hashedrekord` 0.0.1 entry binding payload hash, signature and public key, at
/// the position given.
pub fn cosign_signature(
    key: &TestKey,
    repository: &str,
    digest: &str,
    log: Option<(&TestKey, LogPosition)>,
    annotations: &[(&str, &str)],
) -> String {
    let payload = simple_signing(repository, digest, annotations);
    let sig = key.sign(&payload);
    let bundle = match log {
        None => serde_json::Value::Null,
        Some((log_key, pos)) => {
            let body = serde_json::to_vec(&serde_json::json!({
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": hex(&Sha256::digest(&payload))}},
                    "signature": {
                        "content": STANDARD.encode(&sig),
                        "publicKey": {"content": STANDARD.encode(key.public_pem.as_bytes())}
                    }
                }
            }))
            .expect("body JSON");
            let body_b64 = STANDARD.encode(&body);
            let log_id = log_key.log_id();
            // The canonical SET payload: members sorted, no whitespace (RFC 8785).
            let signed = format!(
                "{{\"body\":\"{body_b64}\",\"integratedTime\":{},\"logID\":\"{log_id}\",\"logIndex\":{}}}",
                pos.time, pos.index
            );
            let set = log_key.sign(signed.as_bytes());
            serde_json::json!({
                "SignedEntryTimestamp": STANDARD.encode(set),
                "Payload": {
                    "body": body_b64,
                    "integratedTime": pos.time,
                    "logIndex": pos.index,
                    "logID": log_id,
                }
            })
        }
    };
    serde_json::json!({
        "Base64Signature": STANDARD.encode(&sig),
        "Payload": STANDARD.encode(&payload),
        "Cert": null,
        "Chain": null,
        "Bundle": bundle,
        "RFC3161Timestamp": null,
    })
    .to_string()
}

/// A cosign v3 image signature of `digest` (`sha256:<hex>`) by `key`, without a log entry
/// (what `cosign sign --new-bundle-format --tlog-upload=false` attaches): a v0.3 bundle
/// whose DSSE envelope holds the `sign/v1` statement.
pub fn key_bundle(key: &TestKey, digest: &str) -> Vec<u8> {
    let payload = crate::sigstore::statement(
        digest,
        "https://sigstore.dev/cosign/sign/v1",
        serde_json::json!({}),
    );
    let payload_type = "application/vnd.in-toto+json";
    let sig = key.sign(&crate::sigstore::pae(payload_type, &payload));
    serde_json::to_vec(&serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": ""},
            "tlogEntries": [],
            "timestampVerificationData": {}
        },
        "dsseEnvelope": {
            "payloadType": payload_type,
            "payload": STANDARD.encode(&payload),
            "signatures": [{"sig": STANDARD.encode(sig), "keyid": ""}]
        }
    }))
    .expect("bundle JSON")
}

/// PEM of `der` under `label`, 64-column lines.
pub fn pem(label: &str, der: &[u8]) -> String {
    crate::der::pem(label, der)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
