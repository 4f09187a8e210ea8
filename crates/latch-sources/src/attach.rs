//! Attaching a Sigstore bundle to an image as an OCI referrer, as cosign v3 and GitHub's
//! `attest-build-provenance` do (FORMATS.md 5.6, 5.7).
//!
//! Each bundle is its own artifact manifest (`artifactType` = the bundle media type, the
//! empty config, the bundle as its one layer, `subject` = the image), so signers never
//! write the same document for it. What they share is the referrers tag fallback
//! (`sha256-<hex>`, an image index listing the referrers) that registries without the
//! referrers API (Debian's distribution 2.8, ghcr.io) need. It is extended the way
//! [`crate::contention`] describes: every entry read is kept, the write is confirmed by a
//! read-back, and a writer whose entry was lost to another writes again.
//! [`latch_registry::Client::put_manifest`] does not report `OCI-Subject`, so a registry
//! with the referrers API gets the tag too, which is harmless.

use std::collections::BTreeMap;

use bytes::Bytes;
use latch_oci::media_types as mt;
use latch_oci::{Descriptor, Digest, ImageIndex, ImageManifest, ManifestBytes, Reference};
use latch_registry::{Client, RegistryError};
use latch_sigstore::cosign::{
    BUNDLE_CONTENT_ANNOTATION, BUNDLE_PREDICATE_TYPE_ANNOTATION, BUNDLE_V03_MEDIA_TYPE,
};
use serde::Serialize;

use crate::SourceError;
use crate::contention::{Contention, tag_digest};
use crate::registry::get_optional_manifest;

/// Bound on the entries of a referrers tag index that is extended (more is refused, not
/// truncated: dropping another signer's entry would hide its signature).
pub const MAX_INDEX_ENTRIES: usize = 1024;

/// A bundle to attach.
#[derive(Debug, Clone, Copy)]
pub struct BundleArtifact<'a> {
    /// The bundle document (v0.3 JSON).
    pub bundle: &'a [u8],
    /// What it holds: `dsse-envelope` or `message-signature`.
    pub content: &'a str,
    /// The statement's predicate type (the annotation that lets readers choose).
    pub predicate_type: &'a str,
    /// When it was made, RFC 3339 (`org.opencontainers.image.created`).
    pub created: &'a str,
}

impl<'a> BundleArtifact<'a> {
    /// A bundle holding a DSSE envelope (a cosign v3 signature or an attestation).
    pub fn dsse(bundle: &'a [u8], predicate_type: &'a str, created: &'a str) -> Self {
        BundleArtifact {
            bundle,
            content: "dsse-envelope",
            predicate_type,
            created,
        }
    }
}

/// Where a bundle was attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attached {
    /// The referrer: `repository@<artifact manifest digest>`.
    pub referrer: String,
    /// The artifact manifest's digest.
    pub manifest_digest: Digest,
    /// The referrers tag fallback: `repository:sha256-<hex>`.
    pub index: String,
    /// Referrers the index lists after the write.
    pub referrers: usize,
    /// Attempts the index update took.
    pub attempts: u32,
}

/// Attaches `artifact` to the image `subject` in `repository` (tag and digest ignored):
/// the blobs and the artifact manifest, then the referrers tag index, extended and
/// confirmed as [`crate::contention`] describes. Attaching the same bundle again adds
/// nothing (same manifest, same entry). Until the index is written nothing refers to
/// what was pushed, so a failure leaves only unreferenced blobs and manifests.
pub async fn attach_bundle(
    client: &Client,
    repository: &Reference,
    subject: &Descriptor,
    artifact: &BundleArtifact<'_>,
    contention: Contention,
) -> Result<Attached, SourceError> {
    let repo = repository.repository_only();
    let config = client
        .push_blob_bytes(&repo, mt::OCI_EMPTY, Bytes::from_static(b"{}"))
        .await?;
    let layer = client
        .push_blob_bytes(
            &repo,
            BUNDLE_V03_MEDIA_TYPE,
            Bytes::copy_from_slice(artifact.bundle),
        )
        .await?;
    let annotations = BTreeMap::from([
        (
            "org.opencontainers.image.created".to_owned(),
            artifact.created.to_owned(),
        ),
        (
            BUNDLE_CONTENT_ANNOTATION.to_owned(),
            artifact.content.to_owned(),
        ),
        (
            BUNDLE_PREDICATE_TYPE_ANNOTATION.to_owned(),
            artifact.predicate_type.to_owned(),
        ),
    ]);
    let manifest = ManifestBytes::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(mt::OCI_MANIFEST.to_owned()),
        artifact_type: Some(BUNDLE_V03_MEDIA_TYPE.to_owned()),
        config,
        layers: vec![layer],
        subject: Some(Descriptor {
            annotations: None,
            platform: None,
            ..subject.clone()
        }),
        annotations: Some(annotations.clone()),
    });
    let manifest_digest = client
        .put_manifest(&repo, &manifest.digest().to_string(), &manifest)
        .await?;
    let mut entry = manifest.descriptor();
    entry.artifact_type = Some(BUNDLE_V03_MEDIA_TYPE.to_owned());
    entry.annotations = Some(annotations);

    let tag = subject.digest.tag_form();
    let tag_ref = repo
        .with_tag(&tag)
        .map_err(|e| RegistryError::BadResponse {
            url: repo.to_string(),
            detail: e.to_string(),
        })?;
    let index = tag_ref.to_string();
    let referrer = repo.with_digest(manifest_digest.clone()).to_string();
    for attempt in 1..=contention.attempts() {
        contention.pause(attempt).await;
        let current = get_optional_manifest(client, &tag_ref).await?;
        let read_digest = current.as_ref().map(|m| m.digest().clone());
        let mut listed = match &current {
            Some(m) => referrers_index(m, &index)?,
            None => ImageIndex::empty(),
        };
        if current.is_some() && listed.manifests.iter().any(|d| d.digest == entry.digest) {
            return Ok(Attached {
                referrer,
                manifest_digest,
                index,
                referrers: listed.manifests.len(),
                attempts: attempt,
            });
        }
        if listed.manifests.len() >= MAX_INDEX_ENTRIES {
            return Err(SourceError::IndexFull {
                location: index,
                max: MAX_INDEX_ENTRIES,
            });
        }
        listed.manifests.push(entry.clone());
        // The compare half of compare-and-swap: does the tag still hold what was read?
        if tag_digest(client, &tag_ref).await? != read_digest {
            continue;
        }
        client
            .put_manifest(&repo, &tag, &ManifestBytes::from_index(&listed))
            .await?;
        contention.settle().await;
        if let Some(back) = get_optional_manifest(client, &tag_ref).await? {
            let back_index = referrers_index(&back, &index)?;
            if back_index
                .manifests
                .iter()
                .any(|d| d.digest == entry.digest)
            {
                return Ok(Attached {
                    referrer,
                    manifest_digest,
                    index,
                    referrers: back_index.manifests.len(),
                    attempts: attempt,
                });
            }
        }
    }
    Err(SourceError::Contended {
        location: index,
        attempts: contention.attempts(),
    })
}

fn referrers_index(m: &ManifestBytes, location: &str) -> Result<ImageIndex, SourceError> {
    m.as_index()
        .cloned()
        .ok_or_else(|| SourceError::NotAReferrersIndex {
            location: location.to_owned(),
            media_type: latch_oci::text::clip(m.media_type(), 200),
        })
}
