//! cosign v3 image signatures and attestations: an in-toto statement about the image
//! digest, in a DSSE envelope signed by any [`Signer`] (a key file, a PKCS#11 token), in
//! a Sigstore bundle v0.3, attached to the image as its own OCI referrer
//! (`latch_sources::attach`, with the `sha256-<hex>` tag fallback for registries without
//! the referrers API).
//!
//! A signature is the statement cosign v3 writes (predicate type
//! `https://sigstore.dev/cosign/sign/v1`, empty predicate); an attestation
//! ([`BundleOptions::attestation`]) carries the releaser's predicate under its type, e.g.
//! a provenance the releasers checked, signed on top.
//!
//! With [`BundleOptions::tlog`] the envelope is logged on a Rekor v1-compatible log as a
//! `dsse` entry and the entry (SET, inclusion proof, checkpoint) goes into the bundle,
//! which is then verified whole (signature, binding of the entry, SET, proof and
//! checkpoint) with the pinned log keys, or with the key the log publishes. Without it the
//! bundle carries no log entry, and verifiers must be told so explicitly (`cosign verify
//! --insecure-ignore-tlog`; Latch refuses it where a log is required). With
//! [`BundleOptions::certificate`] (keyless signing, [`crate::keyless`]) the bundle carries
//! the signer's certificate instead of a key hint.
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

use crate::sign::{SignError, collect_targets, sign_checked};
use crate::signer::Signer;
use crate::tlog::TlogUploader;

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
    /// Log each envelope here (a `dsse` entry) and put the entry in the bundle.
    pub tlog: Option<TlogUploader>,
    /// The signer's certificate (DER), for a keyless signature: the bundle carries it
    /// instead of a key hint. Its public key must be the signer's.
    pub certificate: Option<Vec<u8>>,
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
            tlog: None,
            certificate: None,
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
    /// The log index of its entry, when logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
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
    /// Whether each bundle carries a transparency log entry.
    pub logged: bool,
    /// The log's key the entries were verified with was pinned (`false`: the key the
    /// log itself published); absent without a log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_key_pinned: Option<bool>,
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
    // The log's keys, to verify what it returns before anything is attached.
    let log_keys = match &opts.tlog {
        None => None,
        Some(t) if !t.log_keys().is_empty() => Some((t.log_keys().to_vec(), true)),
        Some(t) => Some((vec![t.fetch_log_key().await?], false)),
    };
    let mut signed = Vec::with_capacity(targets.len());
    for target in targets {
        let digest = &target.descriptor.digest;
        let envelope = signed_envelope(
            signer,
            &repository.cosign_name(),
            digest,
            &opts.predicate_type,
            &opts.predicate,
        )?;
        let mut entries = Vec::new();
        if let Some(tlog) = &opts.tlog {
            let verifier = match &opts.certificate {
                Some(der) => certificate_pem(der),
                None => latch_trust::spki_to_pem(signer.public_key().der()),
            };
            entries.push(tlog.upload_dsse(&envelope, &verifier).await?);
        }
        let bundle = assemble(signer, opts.certificate.as_deref(), &envelope, entries)?;
        let mut log_index = None;
        if let Some((keys, _)) = &log_keys {
            log_index = check_logged(&bundle, signer, opts.certificate.is_some(), keys, digest)?;
        }
        let subject = target.descriptor.clone();
        let attached = attach_bundle(
            client,
            &repository,
            &subject,
            &BundleArtifact::dsse(&bundle, &opts.predicate_type, &created),
            opts.contention,
        )
        .await
        .map_err(|source| SignError::Attach {
            image: repository.with_digest(digest.clone()).to_string(),
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
            log_index,
        });
    }
    Ok(BundleReport {
        reference: repository.to_string(),
        signer: signer.describe(),
        key_id: signer.public_key().log_id().to_owned(),
        predicate_type: opts.predicate_type.clone(),
        logged: opts.tlog.is_some(),
        log_key_pinned: log_keys.map(|(_, pinned)| pinned),
        signed,
    })
}

/// The statement naming `repository` and `digest`, in a DSSE envelope signed by
/// `signer` and checked with its public key (pure but for the signer).
pub fn signed_envelope(
    signer: &dyn Signer,
    repository: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate: &serde_json::Value,
) -> Result<serde_json::Value, SignError> {
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
    let signature = sign_checked(signer, &message)?;
    Ok(serde_json::json!({
        "payload": STANDARD.encode(&payload),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": [{"sig": STANDARD.encode(&signature), "keyid": ""}]
    }))
}

/// The v0.3 bundle around `envelope`: the certificate when given, else the key's hint
/// (base64 SHA-256 of its DER, as sigstore-go writes it), and the log entries.
pub fn assemble(
    signer: &dyn Signer,
    certificate: Option<&[u8]>,
    envelope: &serde_json::Value,
    tlog_entries: Vec<serde_json::Value>,
) -> Result<Vec<u8>, SignError> {
    let material = match certificate {
        Some(der) => serde_json::json!({"certificate": {"rawBytes": STANDARD.encode(der)}}),
        None => serde_json::json!({"publicKey": {
            "hint": STANDARD.encode(sha2::Sha256::digest(signer.public_key().der()))
        }}),
    };
    let mut verification = material;
    verification["tlogEntries"] = serde_json::Value::from(tlog_entries);
    verification["timestampVerificationData"] = serde_json::json!({});
    let bundle = serde_json::json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": verification,
        "dsseEnvelope": envelope,
    });
    serde_json::to_vec(&bundle).map_err(|e| SignError::BadPredicate {
        reason: format!("the bundle cannot be written: {e}"),
    })
}

/// Verifies a logged bundle as a verifier will: the signature, the entry bound to it, its
/// SET, inclusion proof and checkpoint under `log_keys`. For a certificate, the log part
/// only (the certificate's chain is the verifier's to check against its root). Returns
/// the log index.
fn check_logged(
    bundle: &[u8],
    signer: &dyn Signer,
    keyless: bool,
    log_keys: &[latch_trust::PublicKey],
    digest: &Digest,
) -> Result<Option<u64>, SignError> {
    let refused = |detail: String| SignError::LogCheckFailed { detail };
    let ders: Vec<Vec<u8>> = log_keys.iter().map(|k| k.der().to_vec()).collect();
    let root =
        latch_sigstore::TrustRoot::from_rekor_keys(&ders).map_err(|e| refused(e.to_string()))?;
    let raw = digest
        .sha256_bytes()
        .ok_or_else(|| refused(format!("{digest} is not a sha256 digest")))?;
    let parsed = latch_sigstore::parse_bundle(bundle, "the new bundle")
        .map_err(|e| refused(e.to_string()))?;
    if keyless {
        // The certificate chains to the verifier's root, which is the verifier's to hold.
        return match parsed.verification_material.tlog_entries.first() {
            Some(e) => Ok(e.log_index.to_string().parse().ok()),
            None => Err(refused("no log entry".into())),
        };
    }
    let signers = [latch_sigstore::Signer::Key {
        der: signer.public_key().der().to_vec(),
        name: signer.public_key().log_id().to_owned(),
    }];
    let v = latch_sigstore::verify_parsed_bundle(
        &root,
        &parsed,
        "the new bundle",
        latch_sigstore::Artifact::Sha256(raw),
        &signers,
        latch_sigstore::TlogRequirement::Required,
    )
    .map_err(|e| refused(e.to_string()))?;
    Ok(v.max_log_index())
}

fn certificate_pem(der: &[u8]) -> String {
    latch_trust::pem_encode("CERTIFICATE", der)
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
        let envelope = signed_envelope(
            &key,
            "registry.example/app",
            &digest,
            COSIGN_SIGN_PREDICATE,
            &serde_json::json!({}),
        )
        .unwrap();
        let bundle = assemble(&key, None, &envelope, Vec::new()).unwrap();
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
