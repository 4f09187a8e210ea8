//! Whole-image transfers between a registry and an OCI layout.

use std::collections::HashSet;
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use latch_oci::{Descriptor, Digest, ManifestBytes, OciLayout, Platform, Reference};

use crate::client::Client;
use crate::error::{RegistryError, Result};
use crate::progress::Progress;

/// Bound on a config blob (configs are small JSON).
const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// What to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Only this platform's image from an index. `None` keeps the index and every
    /// platform it lists (the index digest is what is usually signed).
    pub platform: Option<Platform>,
    /// The name under which the result is recorded in `index.json`
    /// (`org.opencontainers.image.ref.name`); default: the reference's tag, if any.
    pub name: Option<String>,
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PullReport {
    /// Digest of the top-level manifest now in the layout (an index, or the platform's
    /// manifest when a platform was asked for).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Digest of the index the platform manifest was selected from, if any.
    pub index_digest: Option<Digest>,
    /// Image manifests written.
    pub manifests: usize,
    /// Blobs downloaded.
    pub blobs_downloaded: usize,
    /// Blobs already present and skipped.
    pub blobs_present: usize,
    /// Bytes downloaded.
    pub bytes_downloaded: u64,
}

/// Pulls `reference` into `layout`: manifests verified against their digests, blobs
/// streamed to disk in parallel, verified, and only then moved into `blobs/`; `index.json`
/// is updated last and atomically, so an interrupted pull leaves the layout as it was.
pub async fn pull_to_layout(
    client: &Client,
    reference: &Reference,
    layout: &OciLayout,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<PullReport> {
    let top = client.get_manifest(reference).await?;
    let mut index_digest = None;
    let mut image_manifests: Vec<ManifestBytes> = Vec::new();
    let mut to_write: Vec<ManifestBytes> = Vec::new();
    let root = match (top.as_index(), &opts.platform) {
        (Some(index), Some(platform)) => {
            let desc = index.require_platform(platform, &reference.to_string())?;
            index_digest = Some(top.digest().clone());
            let m = client
                .get_manifest(&reference.with_digest(desc.digest.clone()))
                .await?;
            image_manifests.push(m.clone());
            m
        }
        (Some(index), None) => {
            for desc in &index.manifests {
                let m = client
                    .get_manifest(&reference.with_digest(desc.digest.clone()))
                    .await?;
                if m.as_image().is_none() {
                    return Err(RegistryError::BadResponse {
                        url: reference.to_string(),
                        detail: format!(
                            "index entry {} is itself an index; nested indexes are not supported",
                            desc.digest
                        ),
                    });
                }
                image_manifests.push(m);
            }
            top.clone()
        }
        (None, _) => {
            image_manifests.push(top.clone());
            top.clone()
        }
    };
    // Collect the blobs: configs and layers, each once.
    let mut seen = HashSet::new();
    let mut blobs: Vec<(Descriptor, bool)> = Vec::new();
    for m in &image_manifests {
        let Some(image) = m.as_image() else { continue };
        if seen.insert(image.config.digest.clone()) {
            blobs.push((image.config.clone(), true));
        }
        for l in &image.layers {
            if seen.insert(l.digest.clone()) {
                blobs.push((l.clone(), false));
            }
        }
    }
    let partial_dir = layout.partial_dir()?;
    let present: Vec<bool> = blobs
        .iter()
        .map(|(d, _)| layout.has_blob(&d.digest, d.size))
        .collect();
    let blobs_present = present.iter().filter(|p| **p).count();
    let mut bytes_downloaded = 0;
    let mut blobs_downloaded = 0;
    // Owned jobs, and an `async fn` per blob: the future stays `Send`, so applications
    // can spawn the flows that pull.
    let jobs: Vec<(Descriptor, bool, PathBuf)> = blobs
        .into_iter()
        .zip(present)
        .filter(|(_, present)| !present)
        .map(|((desc, is_config), _)| {
            let partial = partial_dir.join(desc.digest.hex());
            (desc, is_config, partial)
        })
        .collect();
    let partials: Vec<PathBuf> = jobs.iter().map(|(_, _, p)| p.clone()).collect();
    let jobs = jobs.into_iter().map(|(desc, is_config, partial)| {
        fetch_one(
            client, reference, layout, desc, is_config, partial, progress,
        )
    });
    let fetched: Result<Vec<u64>> = futures_util::stream::iter(jobs)
        .buffer_unordered(client.options().parallel_blobs.max(1))
        .try_collect()
        .await;
    let sizes = match fetched {
        Ok(sizes) => sizes,
        Err(e) => {
            // Retries and resumes happened within this pull: a failed pull leaves no
            // partial file behind (the other downloads were dropped mid-way).
            for p in &partials {
                let _ = std::fs::remove_file(p);
            }
            let _ = std::fs::remove_dir(&partial_dir);
            return Err(e);
        }
    };
    for s in sizes {
        bytes_downloaded += s;
        blobs_downloaded += 1;
    }
    for m in image_manifests.iter().chain(std::iter::once(&root)) {
        to_write.push(m.clone());
    }
    for m in &to_write {
        write_manifest(layout, m)?;
    }
    let name = opts
        .name
        .clone()
        .or_else(|| reference.tag().map(str::to_owned));
    layout.set_ref(root.descriptor(), name.as_deref())?;
    let _ = std::fs::remove_dir(&partial_dir);
    Ok(PullReport {
        digest: root.digest().clone(),
        media_type: root.media_type().to_owned(),
        index_digest,
        manifests: image_manifests.len(),
        blobs_downloaded,
        blobs_present,
        bytes_downloaded,
    })
}

/// Fetches one blob into the layout: a config into memory (bounded), a layer streamed
/// through a partial file. Returns its size.
async fn fetch_one(
    client: &Client,
    reference: &Reference,
    layout: &OciLayout,
    desc: Descriptor,
    is_config: bool,
    partial: PathBuf,
    progress: &dyn Progress,
) -> Result<u64> {
    if is_config {
        let bytes = client
            .get_blob_bytes(reference, &desc, MAX_CONFIG_BYTES)
            .await?;
        layout.write_blob(&bytes)?;
    } else {
        client
            .download_blob(reference, &desc, &partial, progress)
            .await?;
        layout.commit_blob(&partial, &desc.digest)?;
    }
    Ok(desc.size)
}

fn write_manifest(layout: &OciLayout, m: &ManifestBytes) -> Result<()> {
    let d = layout.write_blob(m.bytes())?;
    if &d != m.digest() {
        // write_blob hashes with sha256; a sha512-named manifest is stored under sha256.
        return Err(RegistryError::BadResponse {
            url: layout.root().display().to_string(),
            detail: format!("manifest {} is not sha256-addressed", m.digest()),
        });
    }
    Ok(())
}

/// Pushes the image named `descriptor` (a manifest or an index in `layout`) to
/// `target`: blobs first (skipping those present), then platform manifests, then the
/// top-level manifest under `target`'s tag (or digest). Returns the top-level digest.
pub async fn push_from_layout(
    client: &Client,
    layout: &OciLayout,
    descriptor: &Descriptor,
    target: &Reference,
    chunk_size: Option<u64>,
    progress: &dyn Progress,
) -> Result<Digest> {
    let top = layout.read_manifest(descriptor)?;
    let mut images = Vec::new();
    if let Some(index) = top.as_index() {
        for d in &index.manifests {
            images.push(layout.read_manifest(d)?);
        }
    } else {
        images.push(top.clone());
    }
    let mut seen = HashSet::new();
    let mut blobs: Vec<(PathBuf, Digest)> = Vec::new();
    for m in &images {
        if let Some(image) = m.as_image() {
            for d in std::iter::once(&image.config).chain(image.layers.iter()) {
                if seen.insert(d.digest.clone()) {
                    blobs.push((layout.blob_path(&d.digest), d.digest.clone()));
                }
            }
        }
    }
    let jobs = blobs
        .into_iter()
        .map(|(path, digest)| push_one(client, target, path, digest, chunk_size, progress));
    futures_util::stream::iter(jobs)
        .buffer_unordered(client.options().parallel_blobs.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    if top.as_index().is_some() {
        for m in &images {
            client
                .put_manifest(target, &m.digest().to_string(), m)
                .await?;
        }
    }
    let selector = target.manifest_selector();
    client.put_manifest(target, &selector, &top).await
}

async fn push_one(
    client: &Client,
    target: &Reference,
    path: PathBuf,
    digest: Digest,
    chunk_size: Option<u64>,
    progress: &dyn Progress,
) -> Result<()> {
    client
        .push_blob_file(target, &path, &digest, chunk_size, progress)
        .await
}

/// Pushes a blob from memory (helper for small artifacts such as signatures).
pub async fn push_bytes(
    client: &Client,
    target: &Reference,
    media_type: &str,
    bytes: Vec<u8>,
) -> Result<Descriptor> {
    client
        .push_blob_bytes(target, media_type, Bytes::from(bytes))
        .await
}
