//! The cosign `.sig` manifest next to an image: reading it (with its payload blobs) and
//! the config cosign writes for it.

use latch_oci::{Descriptor, Digest, ManifestBytes, Reference};
use latch_registry::{Client, RegistryError};
use latch_trust::{Candidate, DocumentError, signatures_from_manifest};

/// Bound on one signature payload blob (a simple-signing payload is a few hundred bytes).
pub const MAX_PAYLOAD_BYTES: u64 = latch_trust::payload::MAX_PAYLOAD_BYTES as u64;

/// The tag of `digest`'s signatures: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}.sig", digest.tag_form())
}

/// The reference of `digest`'s signature manifest in `repository`.
pub fn signature_reference(repository: &Reference, digest: &Digest) -> Reference {
    // A digest's tag form is always a valid tag (`sha256-` + hex + `.sig`, under 128 chars).
    repository
        .with_tag(&signature_tag(digest))
        .unwrap_or_else(|_| repository.with_digest(digest.clone()))
}

/// The `.sig` manifest, or `None` when the registry has none.
pub async fn get_signature_manifest(
    client: &Client,
    sig_ref: &Reference,
) -> Result<Option<ManifestBytes>, RegistryError> {
    match client.get_manifest(sig_ref).await {
        Ok(m) => Ok(Some(m)),
        Err(RegistryError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Why the signatures of an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The registry failed.
    #[error("reading the signatures at {location}: {source}")]
    Registry {
        /// The `.sig` reference.
        location: String,
        /// The client's error.
        #[source]
        source: Box<RegistryError>,
    },
    /// The `.sig` tag holds an index, not an image manifest.
    #[error("{location} is an index, not a cosign signature manifest")]
    NotAnImageManifest {
        /// The `.sig` reference.
        location: String,
    },
    /// The manifest is over the bounds.
    #[error("signatures at {location}: {source}")]
    Document {
        /// The `.sig` reference.
        location: String,
        /// Why.
        #[source]
        source: DocumentError,
    },
}

/// The signatures of `digest` in `repository`, each layer's payload fetched (bounded,
/// verified against its digest). No `.sig` manifest gives an empty list; a layer that
/// cannot be fetched becomes a rejected entry.
pub async fn fetch_signatures(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
) -> Result<Vec<Candidate>, FetchError> {
    let sig_ref = signature_reference(repository, digest);
    let location = sig_ref.to_string();
    let registry = |source| FetchError::Registry {
        location: location.clone(),
        source: Box::new(source),
    };
    let Some(manifest) = get_signature_manifest(client, &sig_ref)
        .await
        .map_err(registry)?
    else {
        return Ok(Vec::new());
    };
    let image = manifest
        .as_image()
        .ok_or_else(|| FetchError::NotAnImageManifest {
            location: location.clone(),
        })?;
    // Refuses an oversized list before fetching anything.
    signatures_from_manifest(image, &[]).map_err(|source| FetchError::Document {
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
            Err(
                RegistryError::TooLarge { .. }
                | RegistryError::NotFound { .. }
                | RegistryError::DigestMismatch { .. }
                | RegistryError::SizeMismatch { .. },
            ) => {}
            Err(e) => return Err(registry(e)),
        }
    }
    signatures_from_manifest(image, &blobs)
        .map_err(|source| FetchError::Document { location, source })
}

/// The config blob cosign (go-containerregistry) writes for a `.sig` manifest: empty
/// platform, the zero time, one history entry and the layers as `diff_ids` (signature
/// layers are not compressed).
pub fn cosign_config(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    let mut out = String::from(
        r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":"#,
    );
    out.push_str(&serde_json::Value::from(diff_ids).to_string());
    out.push_str(r#"},"config":{}}"#);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_matches_cosign() {
        // What cosign 2.5 wrote here for one signature layer.
        let layer = Descriptor::for_bytes("x", b"");
        let d = layer.digest.to_string();
        assert_eq!(
            String::from_utf8(cosign_config(&[layer])).unwrap(),
            format!(
                r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{d}"]}},"config":{{}}}}"#
            )
        );
    }
}
