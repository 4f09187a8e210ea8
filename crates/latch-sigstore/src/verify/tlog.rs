//! Transparency-log entries: duplicates, inclusion proofs with signed checkpoints, SETs,
//! and `hashedrekord` bodies read whatever their hash algorithm.
//!
//! sigstore-verify 0.15 reads a `hashedrekord` 0.0.1 body's `spec.data.hash.value` as a
//! SHA-256 whatever `spec.data.hash.algorithm` says
//! (`verify_impl/hashedrekord.rs::verify_hashedrekord_entry`:
//! `Sha256Hash::from_hex(rekord.spec.data.hash.value)`): a SHA-384 or SHA-512 entry fails
//! with "SHA-256 hash must be 32 bytes, got 48", and the algorithm is never compared with
//! the one the signature was made with. The Rekor schema (`hashedrekord` v0.0.1) allows
//! `sha256`, `sha384` and `sha512`; Rekor v2 (`hashedrekord` 0.0.2) names them
//! `SHA2_256`, `SHA2_384`, `SHA2_512`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigstore_verify::crypto::{Checkpoint, Keyring};
use sigstore_verify::types::{
    Bundle, KindVersion, Sha256Hash, SignatureBytes, TransparencyLogEntry,
};
use sigstore_verify::{Error as SvError, TransparencyLogError};

use super::keys::Hash;
use crate::error::Error;

/// Refuses a bundle that lists one log entry (same log, same index) more than once, as
/// sigstore-go does (`pkg/verify/tlog.go::VerifyArtifactTransparencyLog`: "disallow
/// duplicate entries, as a malicious actor could use duplicates to bypass the
/// threshold"). sigstore-verify checks each entry and accepts the repeats.
/// A bundle listing more log entries than this is refused before anything is verified
/// (sigstore-go's `maxAllowedTlogEntries`).
pub(crate) const MAX_TLOG_ENTRIES: usize = 32;

pub(crate) fn refuse_duplicates(bundle: &Bundle, location: &str) -> Result<(), Error> {
    let entries = &bundle.verification_material.tlog_entries;
    if entries.len() > MAX_TLOG_ENTRIES {
        return Err(Error::BadBundle {
            location: location.to_owned(),
            detail: format!(
                "{} transparency-log entries, more than the {MAX_TLOG_ENTRIES} allowed",
                entries.len()
            ),
        });
    }
    let mut seen_ids = std::collections::HashSet::new();
    let mut seen_bodies = std::collections::HashSet::new();
    for entry in entries {
        // The same entry relabelled (another index or log id around the same body) is
        // still the same entry: bodies are compared too.
        let id = (
            entry.log_id.key_id.as_bytes().to_vec(),
            entry.log_index.get(),
        );
        let body = entry.canonicalized_body.as_bytes().to_vec();
        let twice = !seen_ids.insert(id) | !seen_bodies.insert(body);
        if twice {
            return Err(Error::DuplicateLogEntry {
                location: location.to_owned(),
                log_id: hex::encode(entry.log_id.key_id.as_bytes()),
                log_index: entry.log_index.get(),
            });
        }
    }
    Ok(())
}

pub(crate) fn is_rekor_v2(entry: &TransparencyLogEntry) -> bool {
    entry.kind_version == KindVersion::HashedRekordV002
}

/// Whether the entry is a Rekor v1 entry (its integrated time can be signed by a SET).
pub(crate) fn is_rekor_v1(entry: &TransparencyLogEntry) -> bool {
    matches!(
        entry.kind_version,
        KindVersion::HashedRekordV001 | KindVersion::DsseV001 | KindVersion::IntotoV002
    )
}

fn log_key_id(entry: &TransparencyLogEntry) -> Result<Sha256Hash, SvError> {
    Sha256Hash::try_from(entry.log_id.key_id.as_bytes())
        .map_err(|e| TransparencyLogError::MalformedEntry(format!("invalid log ID: {e}")).into())
}

/// Verifies the entry's inclusion proof, if it has one: the RFC 6962 leaf hash of its
/// body up to the root, and that root in a checkpoint signed by a log key of `keys`
/// (Rekor v1: the proof's own root and size must be the checkpoint's; Rekor v2: index
/// from the entry, size and root from the checkpoint). Returns whether there was a proof.
pub(crate) fn verify_inclusion(
    entry: &TransparencyLogEntry,
    keys: &Keyring,
    now: jiff::Timestamp,
) -> Result<bool, SvError> {
    let Some(proof) = &entry.inclusion_proof else {
        return Ok(false);
    };
    let checkpoint = Checkpoint::from_text(proof.checkpoint.envelope()).map_err(|e| {
        SvError::from(TransparencyLogError::Checkpoint(format!(
            "failed to parse checkpoint: {e}"
        )))
    })?;
    let (index, size, root) = if is_rekor_v2(entry) {
        (
            entry.log_index.get(),
            checkpoint.tree_size(),
            *checkpoint.root_hash(),
        )
    } else {
        if checkpoint.root_hash().as_bytes() != proof.root_hash.as_bytes()
            || checkpoint.tree_size() != proof.tree_size
        {
            return Err(TransparencyLogError::Checkpoint(format!(
                "checkpoint (size {}, root {}) is not the proof's tree (size {}, root {})",
                checkpoint.tree_size(),
                checkpoint.root_hash().to_hex(),
                proof.tree_size,
                proof.root_hash.to_hex()
            ))
            .into());
        }
        (proof.log_index.get(), proof.tree_size, proof.root_hash)
    };
    let leaf = sigstore_merkle::hash_leaf(entry.canonicalized_body.as_bytes());
    sigstore_merkle::verify_inclusion_proof(&leaf, index, size, &proof.hashes, &root).map_err(
        |e| {
            SvError::from(TransparencyLogError::InclusionProof(format!(
                "inclusion proof verification failed: {e}"
            )))
        },
    )?;
    let message = checkpoint.signed_data();
    let mut candidates = false;
    for sig in checkpoint.signatures() {
        for key in keys.keys_by_hint(&sig.key_id, now) {
            candidates = true;
            if key.verify(message, &sig.signature).is_ok() {
                return Ok(true);
            }
        }
    }
    Err(TransparencyLogError::Checkpoint(
        if candidates {
            "no valid log signature on the checkpoint"
        } else {
            "no trusted log key matches the checkpoint's signatures"
        }
        .into(),
    )
    .into())
}

/// Verifies the entry's SET (inclusion promise) with the key of its log that was valid
/// at its integrated time: ECDSA over the canonical JSON of `body`, `integratedTime`,
/// `logID` (hex) and `logIndex`.
pub(crate) fn verify_set(
    entry: &TransparencyLogEntry,
    keys: &Keyring,
    now: jiff::Timestamp,
) -> Result<(), SvError> {
    let promise = entry.inclusion_promise.as_ref().ok_or_else(|| {
        SvError::from(TransparencyLogError::InclusionPromise(
            "missing inclusion promise".into(),
        ))
    })?;
    let key_id = log_key_id(entry)?;
    let key = match entry.integrated_time {
        Some(t) => keys.key_at(&key_id, t).ok_or_else(|| {
            SvError::from(TransparencyLogError::InclusionPromise(format!(
                "no log key valid at integrated time {t} for log ID {}",
                key_id.to_hex()
            )))
        })?,
        None => keys.key_started_by(&key_id, now).ok_or_else(|| {
            SvError::from(TransparencyLogError::UnknownLog {
                log_id: key_id.to_hex(),
            })
        })?,
    };
    // Canonical JSON (RFC 8785) of these four members: keys in this order, no spaces; the
    // base64 alphabet and the hex digits need no escaping.
    let payload = format!(
        "{{\"body\":\"{}\",\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
        STANDARD.encode(entry.canonicalized_body.as_bytes()),
        entry.integrated_time.map_or(0, |t| t.as_second()),
        key_id.to_hex(),
        entry.log_index.get()
    );
    key.verify(
        payload.as_bytes(),
        &SignatureBytes::new(promise.signed_entry_timestamp.as_bytes().to_vec()),
    )
    .map_err(|e| {
        TransparencyLogError::InclusionPromise(format!("SET verification failed: {e}")).into()
    })
}

/// Refuses a Rekor v1 entry whose integrated time falls outside the validity of its log's
/// key in the trusted root (or whose log the root does not know).
pub(crate) fn check_log_key_at_integration(
    entry: &TransparencyLogEntry,
    keys: &Keyring,
) -> Result<(), SvError> {
    let Some(t) = entry.integrated_time.filter(|_| is_rekor_v1(entry)) else {
        return Ok(());
    };
    let key_id = log_key_id(entry)?;
    if keys.key(&key_id).is_none() {
        return Err(TransparencyLogError::UnknownLog {
            log_id: key_id.to_hex(),
        }
        .into());
    }
    if keys.key_at(&key_id, t).is_none() {
        return Err(TransparencyLogError::IntegratedTime(format!(
            "integrated time {t} is outside the validity of the key of log {}",
            key_id.to_hex()
        ))
        .into());
    }
    Ok(())
}

/// Who a `hashedrekord` entry says signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoggedVerifier {
    /// A public key (DER SubjectPublicKeyInfo).
    PublicKey(Vec<u8>),
    /// A certificate (DER).
    Certificate(Vec<u8>),
}

/// A `hashedrekord` body (0.0.1 or 0.0.2), as logged.
#[derive(Debug, Clone)]
pub(crate) struct HashedRekord {
    /// The hash algorithm as written in the body.
    pub(crate) algorithm: String,
    /// The same, when it is one of the SHA-2 hashes Rekor allows.
    pub(crate) hash: Option<Hash>,
    /// The artifact's digest.
    pub(crate) digest: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    pub(crate) verifier: LoggedVerifier,
    /// Rekor v2's `keyDetails`.
    pub(crate) key_details: Option<String>,
}

fn malformed(detail: impl Into<String>) -> SvError {
    TransparencyLogError::MalformedEntry(detail.into()).into()
}

fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Result<&'a str, SvError> {
    let mut at = v;
    for key in path {
        at = at
            .get(key)
            .ok_or_else(|| malformed(format!("hashedrekord body has no {}", path.join("."))))?;
    }
    at.as_str()
        .ok_or_else(|| malformed(format!("hashedrekord {} is not a string", path.join("."))))
}

fn base64_at(v: &serde_json::Value, path: &[&str]) -> Result<Vec<u8>, SvError> {
    STANDARD
        .decode(str_at(v, path)?)
        .map_err(|e| malformed(format!("hashedrekord {}: {e}", path.join("."))))
}

/// The DER of a single PEM block, and its label.
fn pem_block(text: &str) -> Result<(String, Vec<u8>), String> {
    let mut blocks = crate::encoding::pem_blocks(text)?;
    match blocks.len() {
        1 => Ok(blocks.remove(0)),
        _ => Err("data after the PEM block".into()),
    }
}

/// Reads the `hashedrekord` body of `entry` (0.0.1: Rekor v1; 0.0.2: Rekor v2).
pub(crate) fn parse_hashedrekord(entry: &TransparencyLogEntry) -> Result<HashedRekord, SvError> {
    let body: serde_json::Value = serde_json::from_slice(entry.canonicalized_body.as_bytes())
        .map_err(|e| malformed(format!("failed to parse Rekor body: {e}")))?;
    let version = match entry.kind_version {
        KindVersion::HashedRekordV001 => "0.0.1",
        KindVersion::HashedRekordV002 => "0.0.2",
        other => {
            return Err(malformed(format!(
                "expected a hashedrekord entry, got {}/{}",
                other.kind(),
                other.version()
            )));
        }
    };
    let kind = str_at(&body, &["kind"])?;
    let api_version = str_at(&body, &["apiVersion"])?;
    if kind != "hashedrekord" || api_version != version {
        return Err(malformed(format!(
            "body is {kind}/{api_version}, the entry says hashedrekord/{version}"
        )));
    }
    if version == "0.0.1" {
        let algorithm = str_at(&body, &["spec", "data", "hash", "algorithm"])?.to_owned();
        let value = str_at(&body, &["spec", "data", "hash", "value"])?;
        let digest = crate::encoding::decode_hex(value)
            .ok_or_else(|| malformed("hashedrekord spec.data.hash.value is not hex"))?;
        let signature = base64_at(&body, &["spec", "signature", "content"])?;
        let pem = base64_at(&body, &["spec", "signature", "publicKey", "content"])?;
        let pem = String::from_utf8(pem)
            .map_err(|_| malformed("hashedrekord public key is not PEM text"))?;
        let (label, der) =
            pem_block(&pem).map_err(|e| malformed(format!("hashedrekord public key: {e}")))?;
        let verifier = match label.as_str() {
            "CERTIFICATE" => LoggedVerifier::Certificate(der),
            "PUBLIC KEY" => LoggedVerifier::PublicKey(der),
            other => {
                return Err(malformed(format!(
                    "hashedrekord public key is a PEM {other:?}"
                )));
            }
        };
        Ok(HashedRekord {
            hash: Hash::from_rekor_name(&algorithm),
            algorithm,
            digest,
            signature,
            verifier,
            key_details: None,
        })
    } else {
        const V2: &str = "hashedRekordV002";
        let algorithm = str_at(&body, &["spec", V2, "data", "algorithm"])?.to_owned();
        let digest = base64_at(&body, &["spec", V2, "data", "digest"])?;
        let signature = base64_at(&body, &["spec", V2, "signature", "content"])?;
        let verifier_json = body
            .get("spec")
            .and_then(|s| s.get(V2))
            .and_then(|s| s.get("signature"))
            .and_then(|s| s.get("verifier"))
            .ok_or_else(|| malformed("hashedrekord body has no verifier"))?;
        let key_details = str_at(verifier_json, &["keyDetails"])?.to_owned();
        let verifier = if verifier_json.get("x509Certificate").is_some() {
            LoggedVerifier::Certificate(base64_at(verifier_json, &["x509Certificate", "rawBytes"])?)
        } else {
            LoggedVerifier::PublicKey(base64_at(verifier_json, &["publicKey", "rawBytes"])?)
        };
        Ok(HashedRekord {
            hash: Hash::from_proto_name(&algorithm),
            algorithm,
            digest,
            signature,
            verifier,
            key_details: Some(key_details),
        })
    }
}

/// The `data.hash.algorithm` of each `hashedrekord` 0.0.1 entry that can be read, with
/// the entry's index: what sigstore-verify compares as a SHA-256 whatever it says.
pub(crate) fn hashedrekord_v1_algorithms(bundle: &Bundle) -> Vec<(u64, String)> {
    bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter(|e| e.kind_version == KindVersion::HashedRekordV001)
        .filter_map(|e| {
            let body: serde_json::Value =
                serde_json::from_slice(e.canonicalized_body.as_bytes()).ok()?;
            let alg = body
                .get("spec")?
                .get("data")?
                .get("hash")?
                .get("algorithm")?
                .as_str()?;
            Some((e.log_index.get(), alg.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_read_strictly() {
        let (label, der) =
            pem_block("-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n").unwrap();
        assert_eq!((label.as_str(), der), ("PUBLIC KEY", vec![0, 1, 2]));
        assert!(pem_block("-----BEGIN X-----\nAAEC\n-----END X-----\ntrailing").is_err());
        assert!(pem_block("-----BEGIN X-----\nAAEC\n-----END Y-----").is_err());
        assert!(pem_block("AAEC").is_err());
    }
}
