//! The trust document chain (`latch-rotation`) beside the image in its registry: version
//! N's envelope is an OCI artifact tagged `latch-trust-vN` (docs/trust-rotation.md).
//!
//! One immutable tag per version, not a referrer or a growing list: every registry has
//! tags (ghcr.io has no referrers API), a client fetches only the versions it lacks (one
//! request, a 404, when it is up to date), and two releasers rotating at once cannot
//! lose each other's work: the second finds the tag taken and stops.

use bytes::Bytes;
use latch_oci::{
    Descriptor, Digest, ImageManifest, LayoutError, ManifestBytes, OciLayout, Reference,
    media_types as mt,
};
use latch_registry::{Client, RegistryError};
use latch_rotation::{MAX_ENVELOPE, PAYLOAD_TYPE};

use crate::error::SourceError;
use crate::layout::{KIND_ANNOTATION, KIND_TRUST};
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
        let layer = envelope_layer(&manifest).map_err(|detail| SourceError::NotTrustArtifact {
            location: tag.to_string(),
            detail,
        })?;
        chain.push(
            client
                .get_blob_bytes(&tag, &layer, MAX_ENVELOPE as u64)
                .await?,
        );
    }
    Ok(chain)
}

/// The artifact that carries an envelope, in a registry or a layout: an image manifest
/// with `artifactType` = the envelope's type, the empty config and the envelope as its one
/// layer. Returns the config's and the layer's descriptors and the manifest.
pub fn trust_artifact(envelope: &[u8]) -> (Descriptor, Descriptor, ManifestBytes) {
    let config = Descriptor::for_bytes(mt::OCI_EMPTY, EMPTY_CONFIG);
    let layer = Descriptor::for_bytes(PAYLOAD_TYPE, envelope);
    let manifest = ManifestBytes::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(mt::OCI_MANIFEST.to_owned()),
        artifact_type: Some(PAYLOAD_TYPE.to_owned()),
        config: config.clone(),
        layers: vec![layer.clone()],
        subject: None,
        annotations: None,
    });
    (config, layer, manifest)
}

const EMPTY_CONFIG: &[u8] = b"{}";

/// The envelope an artifact manifest carries (its one layer, of the envelope's type), or
/// why it is not one.
fn envelope_layer(manifest: &ManifestBytes) -> Result<Descriptor, String> {
    manifest
        .as_image()
        .and_then(|m| match m.layers.as_slice() {
            [one] if one.media_type == PAYLOAD_TYPE => Some(one.clone()),
            _ => None,
        })
        .ok_or_else(|| format!("not a trust document artifact (one {PAYLOAD_TYPE} layer)"))
}

/// The envelopes an OCI layout carries (an air-gap archive, a layout mirror): the
/// entries of kind [`KIND_TRUST`], at most [`MAX_FETCHED_VERSIONS`], each bounded by
/// [`MAX_ENVELOPE`] and checked against its digest. Their order does not matter.
pub fn trust_chain_in_layout(
    layout: &OciLayout,
    entries: &[Descriptor],
) -> Result<Vec<Vec<u8>>, SourceError> {
    let bad = |source| SourceError::Layout {
        path: layout.root().display().to_string(),
        source,
    };
    let mut chain = Vec::new();
    let carried = entries
        .iter()
        .filter(|d| d.annotation(KIND_ANNOTATION) == Some(KIND_TRUST))
        .take(MAX_FETCHED_VERSIONS as usize);
    for entry in carried {
        let manifest = layout.read_manifest(entry).map_err(bad)?;
        let layer = envelope_layer(&manifest).map_err(|detail| SourceError::NotTrustArtifact {
            location: format!("{}: {}", layout.root().display(), entry.digest),
            detail,
        })?;
        chain.push(
            layout
                .read_blob(&layer.digest, MAX_ENVELOPE as u64)
                .map_err(bad)?,
        );
    }
    Ok(chain)
}

/// Writes an envelope into `layout` as a trust artifact; returns its entry (kind
/// [`KIND_TRUST`]) for the layout's index.
pub fn write_trust_artifact(
    layout: &OciLayout,
    envelope: &[u8],
) -> Result<Descriptor, LayoutError> {
    let (_, _, manifest) = trust_artifact(envelope);
    layout.write_blob(EMPTY_CONFIG)?;
    layout.write_blob(envelope)?;
    layout.write_blob(manifest.bytes())?;
    let mut entry = manifest.descriptor();
    entry.artifact_type = Some(PAYLOAD_TYPE.to_owned());
    entry.set_annotation(KIND_ANNOTATION, KIND_TRUST);
    Ok(entry)
}

/// Publishes version `version`'s envelope under its tag (the artifact of
/// [`trust_artifact`]). Refused, with nothing written, when the tag already exists.
/// Returns the manifest's digest.
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
    let (_, _, manifest) = trust_artifact(envelope);
    client
        .push_blob_bytes(&repo, mt::OCI_EMPTY, Bytes::from_static(EMPTY_CONFIG))
        .await?;
    client
        .push_blob_bytes(&repo, PAYLOAD_TYPE, Bytes::copy_from_slice(envelope))
        .await?;
    let tag_name = format!("{TRUST_TAG_PREFIX}{version}");
    Ok(client.put_manifest(&repo, &tag_name, &manifest).await?)
}
