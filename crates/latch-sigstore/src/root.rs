//! Trust roots: what certificate authorities, transparency logs, CT logs and timestamp
//! authorities are trusted. Built in or read from bytes; never fetched.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigstore_verify::Verifier;
use sigstore_verify::trust_root::{
    SIGSTORE_PRODUCTION_TRUSTED_ROOT, SIGSTORE_STAGING_TRUSTED_ROOT, TrustedRoot,
};

use crate::error::{Error, Result};

/// A parsed, validated trusted root with its verifier built once.
pub struct TrustRoot {
    origin: String,
    root: TrustedRoot,
    verifier: Verifier,
}

impl std::fmt::Debug for TrustRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustRoot")
            .field("origin", &self.origin)
            .field("tlogs", &self.root.tlogs.len())
            .field(
                "certificate_authorities",
                &self.root.certificate_authorities.len(),
            )
            .field("ctlogs", &self.root.ctlogs.len())
            .field(
                "timestamp_authorities",
                &self.root.timestamp_authorities.len(),
            )
            .finish()
    }
}

/// A transparency log's key as a trusted root lists it, with the window in which
/// entries it signs may have been integrated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    /// The log's base URL.
    pub base_url: String,
    /// DER SubjectPublicKeyInfo.
    pub der: Vec<u8>,
    /// Unix seconds the key's validity starts (inclusive).
    pub valid_from: Option<i64>,
    /// Unix seconds it ends (inclusive); `None`: still in use.
    pub valid_until: Option<i64>,
}

impl TrustRoot {
    /// The transparency logs' keys (Rekor v1 keys and v2 shards), with their validity
    /// windows.
    pub fn log_keys(&self) -> Vec<LogKey> {
        self.root
            .tlogs
            .iter()
            .map(|t| LogKey {
                base_url: t.base_url.clone(),
                der: t.public_key.raw_bytes.as_bytes().to_vec(),
                valid_from: t.public_key.valid_for.as_ref().map(|v| v.start.as_second()),
                valid_until: t
                    .public_key
                    .valid_for
                    .as_ref()
                    .and_then(|v| v.end.map(|e| e.as_second())),
            })
            .collect()
    }

    /// Another handle on the same root (the verifier is built again).
    pub fn duplicate(&self) -> Result<TrustRoot> {
        TrustRoot::from_root(self.root.clone(), &self.origin)
    }

    /// The Sigstore public-good production root, as embedded by `sigstore-trust-root`
    /// (byte for byte the `trusted_root.json` of the public-good TUF repository at that
    /// crate's release).
    pub fn production() -> Result<TrustRoot> {
        TrustRoot::from_json(SIGSTORE_PRODUCTION_TRUSTED_ROOT.as_bytes(), "production")
    }

    /// The embedded public-good production `trusted_root.json`, byte for byte.
    pub fn production_json() -> &'static str {
        SIGSTORE_PRODUCTION_TRUSTED_ROOT
    }

    /// How many transparency logs, certificate authorities, CT logs and timestamp
    /// authorities the root holds, in that order.
    pub fn counts(&self) -> [usize; 4] {
        [
            self.root.tlogs.len(),
            self.root.certificate_authorities.len(),
            self.root.ctlogs.len(),
            self.root.timestamp_authorities.len(),
        ]
    }

    /// The Sigstore public-good staging root, as embedded by `sigstore-trust-root`.
    pub fn staging() -> Result<TrustRoot> {
        TrustRoot::from_json(SIGSTORE_STAGING_TRUSTED_ROOT.as_bytes(), "staging")
    }

    /// A `trusted_root.json` document; `origin` names it in errors (a path).
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<TrustRoot> {
        let bad = |detail: String| Error::TrustRoot {
            origin: origin.to_owned(),
            detail,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
        let root = TrustedRoot::from_json(text).map_err(|e| bad(e.to_string()))?;
        TrustRoot::from_root(root, origin)
    }

    /// A root that trusts nothing (no authority, no log), named `origin`: what stands in
    /// for a root that is not there yet, so that every signature needing one is refused
    /// for that reason.
    pub fn empty(origin: &str) -> Result<TrustRoot> {
        let doc = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [],
        });
        TrustRoot::from_json(doc.to_string().as_bytes(), origin)
    }

    /// A root that trusts only these Rekor keys (DER SubjectPublicKeyInfo), with no
    /// certificate authority: for key-signed bundles checked against a pinned log key.
    pub fn from_rekor_keys(keys: &[Vec<u8>]) -> Result<TrustRoot> {
        let origin = "pinned Rekor keys";
        let mut tlogs = Vec::new();
        for der in keys {
            let key = sigstore_verify::types::DerPublicKey::new(der.clone());
            let details = match sigstore_verify::crypto::KeyAlgorithm::from_spki(&key) {
                Ok(sigstore_verify::crypto::KeyAlgorithm::EcdsaP256) => "PKIX_ECDSA_P256_SHA_256",
                Ok(sigstore_verify::crypto::KeyAlgorithm::EcdsaP384) => "PKIX_ECDSA_P384_SHA_384",
                Ok(sigstore_verify::crypto::KeyAlgorithm::Ed25519) => "PKIX_ED25519",
                Ok(sigstore_verify::crypto::KeyAlgorithm::Rsa) => "PKIX_RSA_PKCS1V15_2048_SHA256",
                Ok(other) => {
                    return Err(Error::TrustRoot {
                        origin: origin.into(),
                        detail: format!("unsupported Rekor key algorithm {other:?}"),
                    });
                }
                Err(e) => {
                    return Err(Error::TrustRoot {
                        origin: origin.into(),
                        detail: format!("not a public key: {e}"),
                    });
                }
            };
            let log_id = sigstore_verify::crypto::sha256(der);
            tlogs.push(serde_json::json!({
                "baseUrl": "pinned",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(der),
                    "keyDetails": details,
                    "validFor": {"start": "1970-01-01T00:00:00Z"},
                },
                "logId": {"keyId": STANDARD.encode(log_id.as_bytes())},
            }));
        }
        let doc = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": tlogs,
        });
        TrustRoot::from_json(doc.to_string().as_bytes(), origin)
    }

    fn from_root(root: TrustedRoot, origin: &str) -> Result<TrustRoot> {
        let verifier = Verifier::new(&root).map_err(|e| Error::TrustRoot {
            origin: origin.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(TrustRoot {
            origin: origin.to_owned(),
            root,
            verifier,
        })
    }

    /// Where the root came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The parsed document.
    pub fn trusted_root(&self) -> &TrustedRoot {
        &self.root
    }

    /// Whether the root trusts any certificate authority (keyless signatures need one).
    pub fn has_certificate_authorities(&self) -> bool {
        !self.root.certificate_authorities.is_empty()
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_roots_load() {
        let prod = TrustRoot::production().unwrap();
        assert!(prod.has_certificate_authorities());
        assert_eq!(prod.origin(), "production");
        assert!(!prod.trusted_root().tlogs.is_empty());
        TrustRoot::staging().unwrap();
        let empty = TrustRoot::empty("nothing yet").unwrap();
        assert_eq!(empty.counts(), [0, 0, 0, 0]);
        assert_eq!(empty.origin(), "nothing yet");
    }

    #[test]
    fn bad_roots_name_their_origin() {
        let e = TrustRoot::from_json(b"{", "/etc/root.json").unwrap_err();
        assert!(
            e.to_string().starts_with("trusted root /etc/root.json:"),
            "{e}"
        );
        let e = TrustRoot::from_json(&[0xff, 0xfe], "x").unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
        let e = TrustRoot::from_rekor_keys(&[b"not a key".to_vec()]).unwrap_err();
        assert!(e.to_string().contains("pinned Rekor keys"), "{e}");
    }
}
