//! cosign v3 image signatures and attestations: an in-toto statement about the image
//! digest, in a DSSE envelope signed by any [`Signer`] (a key file, a PKCS#11 token), in
//! a Sigstore bundle v0.3, attached to the image as its own OCI referrer
//! (`latch_sources::attach`, with the `sha256-<hex>` tag fallback for registries without
//! the referrers API).
//!
//! A signature is the statement cosign v3 writes (predicate type
//! `https://sigstore.dev/cosign/sign/v1`, empty predicate); an attestation
//! ([`BundleOptions::attestation`]) carries the releaser's predicate under its type, e.g.
//! a provenance the releasers checked, signed on top. The bundle carries no log entry:
//! verifiers are told so explicitly (`cosign verify --new-bundle-format
//! --insecure-ignore-tlog`; Latch refuses it where a log is required).
//!
//! Each signature is checked with the signer's public key before anything is written,
//! and until the tag index names the new referrer nothing refers to what was pushed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latch_oci::{Digest, Reference};
use latch_registry::Client;
use latch_sigstore::cosign::{BUNDLE_V03_MEDIA_TYPE, COSIGN_SIGN_PREDICATE};
use latch_sigstore::statement::{IN_TOTO_PAYLOAD_TYPE, Statement, Subject};
use latch_sources::attach::{BundleArtifact, attach_bundle};
use latch_sources::contention::Contention;
use latch_trust::dsse::pae;
use serde::Serialize;
use sha2::Digest as _;

use crate::sign::{SignError, collect_targets};
use crate::signer::Signer;

/// `_type` of the statements written.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// Bound on a predicate (a provenance document is a few kilobytes).
pub const MAX_PREDICATE_BYTES: usize = 4 * 1024 * 1024;

/// What to sign into bundles, and how.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// The statement's predicate type.
    pub predicate_type: String,
    /// The statement's predicate.
    pub predicate: serde_json::Value,
    /// Sign an index and every manifest under it.
    pub recursive: bool,
    /// How a contended update of the referrers tag index is retried.
    pub contention: Contention,
    /// Unix seconds: the referrer's `created` annotation.
    pub now: i64,
}

impl BundleOptions {
    /// A cosign v3 image signature: predicate type `sign/v1`, empty predicate.
    pub fn signature(now: i64) -> BundleOptions {
        BundleOptions {
            predicate_type: COSIGN_SIGN_PREDICATE.to_owned(),
            predicate: serde_json::json!({}),
            recursive: false,
            contention: Contention::default(),
            now,
        }
    }

    /// An attestation: `predicate` (a JSON document of at most [`MAX_PREDICATE_BYTES`])
    /// under `predicate_type` (an absolute URI).
    pub fn attestation(
        predicate_type: &str,
        predicate: &[u8],
        now: i64,
    ) -> Result<BundleOptions, SignError> {
        if !is_uri(predicate_type) {
            return Err(SignError::BadPredicate {
                reason: format!(
                    "predicate type {:?} is not an absolute URI (e.g. https://example.com/review/v1)",
                    latch_oci::text::clip(predicate_type, 200)
                ),
            });
        }
        if predicate.len() > MAX_PREDICATE_BYTES {
            return Err(SignError::BadPredicate {
                reason: format!(
                    "the predicate is {} bytes, over the bound of {MAX_PREDICATE_BYTES}",
                    predicate.len()
                ),
            });
        }
        let predicate: serde_json::Value =
            serde_json::from_slice(predicate).map_err(|e| SignError::BadPredicate {
                reason: format!("the predicate is not JSON: {e}"),
            })?;
        if !predicate.is_object() {
            return Err(SignError::BadPredicate {
                reason: "the predicate must be a JSON object".into(),
            });
        }
        Ok(BundleOptions {
            predicate_type: predicate_type.to_owned(),
            predicate,
            ..BundleOptions::signature(now)
        })
    }
}

fn is_uri(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// One manifest given a bundle.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BundledManifest {
    /// The manifest's digest (the statement's subject).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its platform, for an entry of an index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The referrer holding the bundle: `repository@sha256:…`.
    pub referrer: String,
    /// The referrers tag fallback updated: `repository:sha256-<hex>`.
    pub index: String,
    /// Referrers that index lists after the update.
    pub referrers: usize,
    /// Attempts the index update took.
    pub attempts: u32,
}

/// What [`sign_bundle`] did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BundleReport {
    /// The image (repository@digest).
    pub reference: String,
    /// The signer (algorithm and key id).
    pub signer: String,
    /// sha256 of the signer's public key DER.
    pub key_id: String,
    /// The statements' predicate type.
    pub predicate_type: String,
    /// No log entry was made (the bundle proves no signing time).
    pub logged: bool,
    /// Each manifest signed, the one named first.
    pub signed: Vec<BundledManifest>,
}

/// Signs `image` (which must name a digest, fetched first so a typo is not signed) with
/// `signer` into a bundle per manifest (every manifest of an index with
/// [`BundleOptions::recursive`]) and attaches each as a referrer.
pub async fn sign_bundle(
    client: &Client,
    signer: &dyn Signer,
    image: &Reference,
    opts: &BundleOptions,
) -> Result<BundleReport, SignError> {
    let digest = image.digest().cloned().ok_or_else(|| SignError::NoDigest {
        reference: image.to_string(),
    })?;
    let repository = image.with_digest(digest.clone());
    let targets = collect_targets(client, &repository, &digest, opts.recursive).await?;
    let created = latch_oci::time::rfc3339(opts.now);
    let mut signed = Vec::with_capacity(targets.len());
    for target in targets {
        let bundle = image_bundle(
            signer,
            &repository.cosign_name(),
            &target.descriptor.digest,
            &opts.predicate_type,
            &opts.predicate,
        )?;
        let subject = target.descriptor.clone();
        let attached = attach_bundle(
            client,
            &repository,
            &subject,
            &BundleArtifact {
                bundle: &bundle,
                content: "dsse-envelope",
                predicate_type: &opts.predicate_type,
                created: &created,
            },
            opts.contention,
        )
        .await
        .map_err(|source| SignError::Attach {
            image: repository
                .with_digest(target.descriptor.digest.clone())
                .to_string(),
            source: Box::new(source),
        })?;
        signed.push(BundledManifest {
            digest: target.descriptor.digest,
            media_type: target.descriptor.media_type,
            platform: target.platform,
            referrer: attached.referrer,
            index: attached.index,
            referrers: attached.referrers,
            attempts: attached.attempts,
        });
    }
    Ok(BundleReport {
        reference: repository.to_string(),
        signer: signer.describe(),
        key_id: signer.public_key().log_id().to_owned(),
        predicate_type: opts.predicate_type.clone(),
        logged: false,
        signed,
    })
}

/// The bundle itself (pure but for the signer): the statement naming `repository` and
/// `digest`, its DSSE envelope signed by `signer` and checked with its public key, and
/// the v0.3 bundle around it with the key's hint (base64 SHA-256 of its DER, as
/// sigstore-go writes it) and no log entry.
pub fn image_bundle(
    signer: &dyn Signer,
    repository: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate: &serde_json::Value,
) -> Result<Vec<u8>, SignError> {
    let statement = Statement {
        statement_type: STATEMENT_V1.to_owned(),
        subject: vec![Subject {
            name: repository.to_owned(),
            digest: [(
                digest.algorithm().name().to_owned(),
                digest.hex().to_owned(),
            )]
            .into(),
        }],
        predicate_type: predicate_type.to_owned(),
        predicate: predicate.clone(),
    };
    let payload = serde_json::to_vec(&statement).map_err(|e| SignError::BadPredicate {
        reason: format!("the statement cannot be written: {e}"),
    })?;
    let message = pae(IN_TOTO_PAYLOAD_TYPE, &payload);
    let signature = signer.sign(&message).map_err(|source| SignError::Signer {
        signer: signer.describe(),
        source,
    })?;
    if signer.public_key().verify(&message, &signature).is_err() {
        return Err(SignError::SelfCheckFailed {
            signer: signer.describe(),
        });
    }
    let hint = STANDARD.encode(sha2::Sha256::digest(signer.public_key().der()));
    let bundle = serde_json::json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": hint},
            "tlogEntries": [],
            "timestampVerificationData": {}
        },
        "dsseEnvelope": {
            "payload": STANDARD.encode(&payload),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": STANDARD.encode(&signature), "keyid": ""}]
        }
    });
    serde_json::to_vec(&bundle).map_err(|e| SignError::BadPredicate {
        reason: format!("the bundle cannot be written: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrivateKey;

    #[test]
    fn predicate_types_must_be_uris() {
        for bad in ["", "review", ":x", "1http://x", "https://a b", "https:"] {
            assert!(
                matches!(
                    BundleOptions::attestation(bad, b"{}", 0),
                    Err(SignError::BadPredicate { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(BundleOptions::attestation("https://example.com/review/v1", b"{}", 0).is_ok());
        assert!(BundleOptions::attestation("urn:example:review", b"{}", 0).is_ok());
    }

    #[test]
    fn predicates_must_be_bounded_json_objects() {
        let t = "https://example.com/review/v1";
        for bad in [&b"[]"[..], b"not json", b"\"s\"", b""] {
            assert!(BundleOptions::attestation(t, bad, 0).is_err(), "{bad:?}");
        }
        let big = vec![b' '; MAX_PREDICATE_BYTES + 1];
        assert!(matches!(
            BundleOptions::attestation(t, &big, 0),
            Err(SignError::BadPredicate { reason }) if reason.contains("over the bound")
        ));
    }

    #[test]
    fn the_bundle_verifies_with_the_key_and_names_the_digest() {
        let key = PrivateKey::generate().unwrap();
        let digest = Digest::sha256_of(b"manifest");
        let bundle = image_bundle(
            &key,
            "registry.example/app",
            &digest,
            COSIGN_SIGN_PREDICATE,
            &serde_json::json!({}),
        )
        .unwrap();
        let root = latch_sigstore::TrustRoot::from_rekor_keys(&[]).unwrap();
        let v = latch_sigstore::verify_bundle(
            &root,
            &bundle,
            "test",
            latch_sigstore::Artifact::Sha256(digest.sha256_bytes().unwrap()),
            &[latch_sigstore::Signer::Key {
                der: key.public_key().der().to_vec(),
                name: "k".into(),
            }],
            latch_sigstore::TlogRequirement::None,
        )
        .unwrap();
        let st = v.require_statement().unwrap();
        latch_sigstore::cosign::check_image_signature(st, &digest.to_string(), "test").unwrap();
        assert_eq!(st.subject[0].name, "registry.example/app");
        // Another key does not verify it.
        let other = PrivateKey::generate().unwrap();
        assert!(
            latch_sigstore::verify_bundle(
                &root,
                &bundle,
                "test",
                latch_sigstore::Artifact::Sha256(digest.sha256_bytes().unwrap()),
                &[latch_sigstore::Signer::Key {
                    der: other.public_key().der().to_vec(),
                    name: "o".into(),
                }],
                latch_sigstore::TlogRequirement::None,
            )
            .is_err()
        );
    }
}
