//! Finding an image's signatures: the cosign `sha256-<hex>.sig` manifest in the registry.

use latch_oci::{Descriptor, Digest, Reference};
use latch_registry::{Client, RegistryError};
use latch_trust::{Candidate, signatures_from_manifest};

use crate::error::{Error, Result};

/// Bound on one signature payload blob (a simple-signing payload is a few hundred bytes).
pub const MAX_PAYLOAD_BYTES: u64 = 1024 * 1024;

/// The `.sig` tag of `digest` in `repository` (cosign's tag scheme).
pub fn sig_reference(repository: &Reference, digest: &Digest) -> Result<Reference> {
    Ok(repository.with_tag(&format!("{}.sig", digest.tag_form()))?)
}

/// Fetches the signatures of `digest` from the `.sig` manifest next to it. An absent
/// manifest gives no signatures (an empty list), not an error; the caller decides. Each
/// layer's payload is fetched bounded and verified against its digest; a layer that cannot
/// be fetched becomes a rejected entry, not a failure of the whole list.
pub async fn fetch_signatures(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
) -> Result<Vec<Candidate>> {
    let sig_ref = sig_reference(repository, digest)?;
    let manifest = match client.get_manifest(&sig_ref).await {
        Ok(m) => m,
        Err(RegistryError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let image = manifest.as_image().ok_or_else(|| {
        Error::Invalid(format!(
            "{sig_ref} is an index, not a cosign signature manifest"
        ))
    })?;
    let location = sig_ref.to_string();
    // Refuse an oversized list before fetching anything.
    signatures_from_manifest(image, &[]).map_err(|source| Error::BadSignatures {
        location: location.clone(),
        source,
    })?;
    let mut blobs: Vec<(Descriptor, Vec<u8>)> = Vec::new();
    for layer in &image.layers {
        if blobs.iter().any(|(d, _)| d.digest == layer.digest) {
            continue;
        }
        match client
            .get_blob_bytes(&sig_ref, layer, MAX_PAYLOAD_BYTES)
            .await
        {
            Ok(bytes) => blobs.push((layer.clone(), bytes)),
            // A layer too large, absent or corrupt is that signature's problem only.
            Err(RegistryError::TooLarge { .. })
            | Err(RegistryError::NotFound { .. })
            | Err(RegistryError::DigestMismatch { .. })
            | Err(RegistryError::SizeMismatch { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    signatures_from_manifest(image, &blobs)
        .map_err(|source| Error::BadSignatures { location, source })
}
