//! `rotate-keys`: the next trust document, signed by the keys in force and published
//! beside the image (docs/trust-rotation.md).
//!
//! The chain already published is read and followed from version 1 (the application's
//! keys) first, so the new version is numbered and signed against the trust clients
//! will actually hold; the new link is then followed locally, exactly as a client will,
//! before anything is written: a link signed below threshold, by a key not in force, or
//! incoherent never reaches the registry.

use latch_oci::{Digest, Reference};
use latch_registry::Client;
use latch_rotation::{
    ChainError, Envelope, RevokedEntry, Succession, TrustDocument, signing_message,
};
use latch_sources::SourceError;
use latch_sources::trust_chain::{fetch_trust_chain, push_trust_link, trust_reference};
use latch_trust::PublicKey;
use serde::Serialize;

use crate::signer::{Signer, SignerError};

/// Why no new version was published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// The registry could not be read or written (nothing, or only unreferenced blobs,
    /// was written).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The chain published is not valid from version 1, or the new link would not be
    /// (below the threshold of the keys in force, incoherent, ...): nothing written.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A signer failed.
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// A `--new-key` private key whose public half is not among the new keys.
    #[error("the cosigning key {key} is not one of the new keys")]
    CosignerNotNew {
        /// Its log id.
        key: String,
    },
}

/// What the next version is to say.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// Version 1: the application's keys and threshold, as it ships them.
    pub anchor: Succession,
    /// The keys the new version trusts.
    pub new_keys: Vec<PublicKey>,
    /// How many of them must sign the version after.
    pub threshold: usize,
    /// Keys revoked, each with its distrust time (`None`: `now`).
    pub revoke: Vec<(PublicKey, Option<i64>)>,
    /// How long the new version is valid (seconds from `now`).
    pub valid_for: i64,
    /// The time of the rotation (Unix seconds).
    pub now: i64,
}

/// What was published.
#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    /// The repository.
    pub repository: String,
    /// The version in force before (1 when nothing was published yet).
    pub previous_version: u64,
    /// The version published.
    pub version: u64,
    /// Its tag reference.
    pub reference: String,
    /// Its artifact manifest's digest.
    pub manifest_digest: Digest,
    /// Log ids of the keys it trusts.
    pub keys: Vec<String>,
    /// How many of them must sign the next version.
    pub threshold: usize,
    /// The keys revoked in it.
    pub revoked: Vec<RevokedKey>,
    /// Log ids of the keys in force that signed it.
    pub signed_by: Vec<String>,
    /// Log ids of the new keys that cosigned it (proving they are held).
    pub cosigned_by: Vec<String>,
    /// When it expires (Unix seconds).
    pub expires: i64,
}

/// A key revoked by the new version.
#[derive(Debug, Clone, Serialize)]
pub struct RevokedKey {
    /// Its log id.
    pub key: String,
    /// Signatures logged from this time on (Unix seconds) do not count.
    pub distrust_after: i64,
}

/// Publishes the next version of `repository`'s trust, signed by `signers` (keys in
/// force) and cosigned by `cosigners` (private halves of new keys, optional).
pub async fn rotate_keys(
    client: &Client,
    repository: &Reference,
    opts: &RotateOptions,
    signers: &[&dyn Signer],
    cosigners: &[&dyn Signer],
) -> Result<RotateReport, RotateError> {
    let published = fetch_trust_chain(client, repository, 1).await?;
    let links: Vec<&[u8]> = published.iter().map(Vec::as_slice).collect();
    let held = opts.anchor.follow(&links, opts.now)?.succession;
    for c in cosigners {
        let id = c.public_key().log_id();
        if !opts.new_keys.iter().any(|k| k.log_id() == id) {
            return Err(RotateError::CosignerNotNew { key: id.to_owned() });
        }
    }
    let pem = |k: &PublicKey| String::from_utf8_lossy(k.pem()).into_owned();
    let revoke: Vec<RevokedEntry> = opts
        .revoke
        .iter()
        .map(|(k, t)| RevokedEntry {
            key: pem(k),
            distrust_after: t.unwrap_or(opts.now),
        })
        .collect();
    let doc = TrustDocument::next_of(
        &held,
        opts.new_keys.iter().map(pem).collect(),
        opts.threshold,
        revoke,
        opts.now + opts.valid_for,
    );
    let payload = doc.to_bytes();
    let message = signing_message(&payload);
    let mut envelope = Envelope::new(&payload);
    for s in signers.iter().chain(cosigners) {
        envelope.add_signature(s.public_key().log_id(), &s.sign(&message)?);
    }
    let bytes = envelope.to_bytes();
    // Followed as a client will, before anything is written.
    let next = held.follow(&[&bytes], opts.now)?.succession;
    let signed_by = held
        .keys()
        .iter()
        .filter(|k| {
            signers
                .iter()
                .any(|s| s.public_key().log_id() == k.log_id())
        })
        .map(|k| k.log_id().to_owned())
        .collect();
    let manifest_digest = push_trust_link(client, repository, next.version(), &bytes).await?;
    Ok(RotateReport {
        repository: repository.repository_only().to_string(),
        previous_version: held.version(),
        version: next.version(),
        reference: trust_reference(repository, next.version())?.to_string(),
        manifest_digest,
        keys: next.keys().iter().map(|k| k.log_id().to_owned()).collect(),
        threshold: next.threshold(),
        revoked: opts
            .revoke
            .iter()
            .map(|(k, t)| RevokedKey {
                key: k.log_id().to_owned(),
                distrust_after: t.unwrap_or(opts.now),
            })
            .collect(),
        signed_by,
        cosigned_by: next.proven().to_vec(),
        expires: doc.expires,
    })
}
