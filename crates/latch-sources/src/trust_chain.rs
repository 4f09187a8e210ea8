//! The trust document chain (`latch-rotation`) beside the image in its registry: version
//! N's envelope is an OCI artifact tagged `latch-trust-vN` (docs/trust-rotation.md).
//!
//! One immutable tag per version, not a referrer or a growing list: every registry has
//! tags (ghcr.io has no referrers API), a client fetches only the versions it lacks (one
//! request, a 404, when it is up to date), and two releasers rotating at once cannot
//! lose each other's work: the second finds the tag taken and stops.

use bytes::Bytes;
use latch_oci::{Digest, ImageManifest, ManifestBytes, Reference, media_types as mt};
use latch_registry::{Client, RegistryError};
use latch_rotation::{MAX_ENVELOPE, PAYLOAD_TYPE};

use crate::error::SourceError;
use crate::registry::get_optional_manifest;

/// The tag of version N is this prefix and N.
pub const TRUST_TAG_PREFIX: &str = "latch-trust-v";

/// Most versions fetched in one go (an installation years behind still catches up; a
/// registry that serves endless versions is stopped).
pub const MAX_FETCHED_VERSIONS: u64 = 64;

/// The reference of version `version`'s tag in `repository`.
pub fn trust_reference(repository: &Reference, version: u64) -> Result<Reference, SourceError> {
    let repo = repository.repository_only();
    repo.with_tag(&format!("{TRUST_TAG_PREFIX}{version}"))
        .map_err(|e| {
            SourceError::Registry(RegistryError::BadResponse {
                url: repo.to_string(),
                detail: e.to_string(),
            })
        })
}

/// The envelopes of versions `after + 1`, `after + 2`, ... in `repository`, up to the
/// first version with no tag (at most [`MAX_FETCHED_VERSIONS`]). Each is the one layer
/// of its artifact, bounded by [`MAX_ENVELOPE`] and checked against its digest; what it
/// says is `latch-rotation`'s to judge.
pub async fn fetch_trust_chain(
    client: &Client,
    repository: &Reference,
    after: u64,
) -> Result<Vec<Vec<u8>>, SourceError> {
    let mut chain = Vec::new();
    for version in (after + 1)..=(after + MAX_FETCHED_VERSIONS) {
        let tag = trust_reference(repository, version)?;
        let Some(manifest) = get_optional_manifest(client, &tag).await? else {
            break;
        };
        let layer = manifest
            .as_image()
            .and_then(|m| match m.layers.as_slice() {
                [one] if one.media_type == PAYLOAD_TYPE => Some(one.clone()),
                _ => None,
            })
            .ok_or_else(|| RegistryError::BadResponse {
                url: tag.to_string(),
                detail: format!("not a trust document artifact (one {PAYLOAD_TYPE} layer)"),
            })?;
        chain.push(
            client
                .get_blob_bytes(&tag, &layer, MAX_ENVELOPE as u64)
                .await?,
        );
    }
    Ok(chain)
}

/// Publishes version `version`'s envelope under its tag: an artifact manifest
/// (`artifactType` = the envelope's type, empty config, the envelope as its one layer).
/// Refused, with nothing written, when the tag already exists. Returns the manifest's
/// digest.
pub async fn push_trust_link(
    client: &Client,
    repository: &Reference,
    version: u64,
    envelope: &[u8],
) -> Result<Digest, SourceError> {
    let tag = trust_reference(repository, version)?;
    if get_optional_manifest(client, &tag).await?.is_some() {
        return Err(SourceError::TrustVersionTaken {
            reference: tag.to_string(),
            version,
        });
    }
    let repo = repository.repository_only();
    let config = client
        .push_blob_bytes(&repo, mt::OCI_EMPTY, Bytes::from_static(b"{}"))
        .await?;
    let layer = client
        .push_blob_bytes(&repo, PAYLOAD_TYPE, Bytes::copy_from_slice(envelope))
        .await?;
    let manifest = ManifestBytes::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(mt::OCI_MANIFEST.to_owned()),
        artifact_type: Some(PAYLOAD_TYPE.to_owned()),
        config,
        layers: vec![layer],
        subject: None,
        annotations: None,
    });
    let tag_name = format!("{TRUST_TAG_PREFIX}{version}");
    Ok(client.put_manifest(&repo, &tag_name, &manifest).await?)
}
