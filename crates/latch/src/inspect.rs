//! Read-only looks at a registry: what an image is, which tags a repository has.

use latch_oci::{Digest, Manifest, Platform, Reference};
use latch_registry::{Client, RegistryError};
use serde::Serialize;

/// One platform entry of an index.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlatformEntry {
    /// `os/arch[/variant]`, or `unknown` for entries without a platform.
    pub platform: String,
    /// The platform manifest's digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One layer of an image manifest.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LayerEntry {
    /// Digest.
    pub digest: Digest,
    /// Media type.
    pub media_type: String,
    /// Size in bytes (compressed, as stored).
    pub size: u64,
}

/// What `inspect` found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InspectReport {
    /// The reference as normalised (`docker.io/library/debian:12`).
    pub reference: String,
    /// Digest of the manifest bytes received.
    pub digest: Digest,
    /// Media type.
    pub media_type: String,
    /// Size of the manifest in bytes.
    pub size: u64,
    /// For an index: its platforms.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformEntry>,
    /// For an image: its config digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Digest>,
    /// For an image: its platform, from the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// For an image: its layers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerEntry>,
}

/// Fetches and describes the manifest `reference` names (verified against its digest).
pub async fn inspect(
    client: &Client,
    reference: &Reference,
) -> Result<InspectReport, RegistryError> {
    let m = client.get_manifest(reference).await?;
    let mut report = InspectReport {
        reference: reference.to_string(),
        digest: m.digest().clone(),
        media_type: m.media_type().to_owned(),
        size: m.bytes().len() as u64,
        platforms: Vec::new(),
        config: None,
        platform: None,
        layers: Vec::new(),
    };
    match m.manifest() {
        Manifest::Index(index) => {
            report.platforms = index
                .manifests
                .iter()
                .map(|d| PlatformEntry {
                    platform: d
                        .platform
                        .as_ref()
                        .map(Platform::to_string)
                        .unwrap_or_else(|| "unknown".to_owned()),
                    digest: d.digest.clone(),
                    media_type: d.media_type.clone(),
                    size: d.size,
                })
                .collect();
        }
        Manifest::Image(image) => {
            report.config = Some(image.config.digest.clone());
            report.layers = image
                .layers
                .iter()
                .map(|l| LayerEntry {
                    digest: l.digest.clone(),
                    media_type: l.media_type.clone(),
                    size: l.size,
                })
                .collect();
            if let Ok(bytes) = client
                .get_blob_bytes(reference, &image.config, 8 * 1024 * 1024)
                .await
                && let Ok(cfg) = latch_oci::ImageConfig::parse(&bytes)
            {
                report.platform = Some(cfg.platform().to_string());
            }
        }
    }
    Ok(report)
}

/// The repository's tags, sorted (registries return them in any order).
pub async fn tags(client: &Client, reference: &Reference) -> Result<Vec<String>, RegistryError> {
    let mut t = client.list_tags(reference).await?;
    t.sort();
    t.dedup();
    Ok(t)
}
