//! The trust document: one version of the keys trusted for a repository.

use latch_trust::PublicKey;
use serde::{Deserialize, Serialize};

use crate::error::{ChainError, Problem};

/// The `type` every trust document carries.
pub const DOCUMENT_TYPE: &str = "latch-trust/v1";

/// Most keys (trusted plus revoked) one document may list.
pub const MAX_KEYS: usize = 32;

/// One version of the trust, as written (and signed) by the releasers.
///
/// ```json
/// {"type": "latch-trust/v1", "repository": "ghcr.io/org/app", "version": 2,
///  "expires": 1796256000, "threshold": 1, "keys": ["-----BEGIN PUBLIC KEY-----..."],
///  "revoked": [{"key": "-----BEGIN PUBLIC KEY-----...", "distrust_after": 1764547200}]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustDocument {
    /// Always [`DOCUMENT_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The repository it is for (a document for another repository is refused).
    pub repository: String,
    /// Its version: 2 for the first rotation (version 1 is the application's own keys).
    pub version: u64,
    /// When it stops being valid (Unix seconds), unless a newer version replaced it.
    pub expires: i64,
    /// How many distinct keys of this version must sign the next one.
    pub threshold: usize,
    /// The trusted keys, as PEM.
    pub keys: Vec<String>,
    /// Keys no longer trusted for what was logged after their distrust time.
    #[serde(default)]
    pub revoked: Vec<RevokedEntry>,
}

/// A revoked key as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedEntry {
    /// The key, as PEM.
    pub key: String,
    /// Signatures logged at or after this time (Unix seconds) do not count.
    pub distrust_after: i64,
}

/// A revoked key, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The key.
    pub key: PublicKey,
    /// Signatures logged at or after this time (Unix seconds) do not count; logged
    /// before, they still do (an installed image stays valid).
    pub distrust_after: i64,
}

/// A document's content, checked for coherence (not yet for its signatures).
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub version: u64,
    pub repository: String,
    pub expires: i64,
    pub threshold: usize,
    pub keys: Vec<PublicKey>,
    pub revoked: Vec<Revoked>,
}

fn key(version: u64, pem: &str) -> Result<PublicKey, ChainError> {
    PublicKey::from_pem(pem.as_bytes()).map_err(|e| ChainError::Malformed {
        version: Some(version),
        problem: Problem::Key(e.to_string()),
    })
}

impl TrustDocument {
    /// Parses a document's JSON (the envelope's payload).
    pub fn parse(payload: &[u8]) -> Result<TrustDocument, ChainError> {
        let doc: TrustDocument =
            serde_json::from_slice(payload).map_err(|e| ChainError::Malformed {
                version: None,
                problem: Problem::Json(e.to_string()),
            })?;
        if doc.kind != DOCUMENT_TYPE {
            return Err(ChainError::Malformed {
                version: Some(doc.version),
                problem: Problem::Type(doc.kind),
            });
        }
        Ok(doc)
    }

    /// Its canonical bytes (what is signed): compact JSON in field order.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads the keys and checks the document is coherent: keys given and distinct, a
    /// possible threshold, no key both trusted and revoked.
    pub(crate) fn check(&self) -> Result<Checked, ChainError> {
        let v = self.version;
        let bad = |problem| ChainError::Malformed {
            version: Some(v),
            problem,
        };
        if self.keys.is_empty() {
            return Err(bad(Problem::NoKeys));
        }
        if self.keys.len() + self.revoked.len() > MAX_KEYS {
            return Err(bad(Problem::TooManyKeys {
                count: self.keys.len() + self.revoked.len(),
            }));
        }
        if self.threshold == 0 || self.threshold > self.keys.len() {
            return Err(bad(Problem::Threshold {
                threshold: self.threshold,
                keys: self.keys.len(),
            }));
        }
        let mut keys: Vec<PublicKey> = Vec::with_capacity(self.keys.len());
        for pem in &self.keys {
            let k = key(v, pem)?;
            if keys.iter().any(|have| have.log_id() == k.log_id()) {
                return Err(bad(Problem::DuplicateKey(k.log_id().to_owned())));
            }
            keys.push(k);
        }
        let mut revoked: Vec<Revoked> = Vec::with_capacity(self.revoked.len());
        for r in &self.revoked {
            let k = key(v, &r.key)?;
            if keys.iter().any(|have| have.log_id() == k.log_id()) {
                return Err(bad(Problem::TrustedAndRevoked(k.log_id().to_owned())));
            }
            if revoked.iter().any(|have| have.key.log_id() == k.log_id()) {
                return Err(bad(Problem::DuplicateKey(k.log_id().to_owned())));
            }
            revoked.push(Revoked {
                key: k,
                distrust_after: r.distrust_after,
            });
        }
        Ok(Checked {
            version: v,
            repository: self.repository.clone(),
            expires: self.expires,
            threshold: self.threshold,
            keys,
            revoked,
        })
    }
}
