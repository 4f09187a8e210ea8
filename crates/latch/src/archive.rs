//! Air-gapped updates: an archive that carries an image and all the proof it needs.
//!
//! The format is Dangerzone's: a tar of a `cosign save` OCI layout, entries named `./…`,
//! where `dangerzone.json` is the layout's full index (the image, its `.sig` and `.att`
//! manifests, each annotated with `kind`) and `index.json` is cut down to the image alone
//! so that `podman load` and `docker load` accept the tar as it is.
//!
//! Loading reads the tar as a stream and refuses anything an image layout does not need
//! (absolute paths, `..`, links, devices, duplicates, oversized entries), verifies every
//! blob against its name, checks `index.json` against `dangerzone.json`, and verifies the
//! signatures, the digest binding and the rollback ratchet **before** anything reaches the
//! runtime.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use latch_oci::manifest::ANNOTATION_REF_NAME;
use latch_oci::{
    Descriptor, Digest, ImageIndex, ManifestBytes, OciLayout, Platform, media_types as mt,
};
use latch_registry::{NoProgress, Progress, PullOptions, RegistryError, pull_to_layout};
use latch_trust::{Candidate, signatures_from_manifest};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::profile::Source;
use crate::signatures::{MAX_PAYLOAD_BYTES, fetch_signatures, sig_reference};
use crate::updater::{
    BundleSource, Remote, Updater, UpgradeOptions, UpgradeReport, accepted_bundles,
    accepted_signatures, store_error,
};
use crate::verify::now_unix;

/// `kind` of the signed image manifest in a `cosign save` layout.
pub const KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
/// `kind` of a signed index.
pub const KIND_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
/// `kind` of the `.sig` manifest.
pub const KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";
/// `kind` of the `.att` manifest.
pub const KIND_ATTS: &str = "dev.cosignproject.cosign/atts";
/// `kind` Latch gives a cosign v3 signature (a Sigstore bundle referrer manifest) it
/// carries; its descriptor also keeps the bundle `artifactType`, as a registry lists it.
pub const KIND_BUNDLE: &str = "dev.sigstore.bundle";

/// Bound on `index.json`, `dangerzone.json` and `oci-layout`.
const MAX_JSON: u64 = 4 * 1024 * 1024;
/// Bound on one blob of an archive.
pub const MAX_BLOB: u64 = 16 * 1024 * 1024 * 1024;
/// Bound on all the bytes of an archive.
pub const MAX_TOTAL: u64 = 64 * 1024 * 1024 * 1024;
/// Bound on entries in an archive.
pub const MAX_ENTRIES: usize = 100_000;

/// What `prepare-archive` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PrepareReport {
    /// The archive.
    pub output: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// sha256 of the archive file (to compare copies).
    pub archive_digest: Digest,
    /// The digest the signatures name (the platform manifest, or the index when only it
    /// is signed).
    pub digest: Digest,
    /// `image` or `imageIndex`.
    pub kind: &'static str,
    /// The platform carried.
    pub platform: String,
    /// Highest log index of the accepted signatures.
    pub log_index: Option<u64>,
    /// Signatures carried (accepted or not: the `.sig` manifest as published).
    pub signatures: usize,
    /// Whether attestations (`.att`) were carried.
    pub attestations: bool,
}

/// Why an archive was refused, before anything was loaded.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The tar itself is broken (truncated, bad header).
    #[error("{path}: not a readable tar archive: {source}")]
    Tar {
        /// The archive.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// An entry an image layout never has, or one that could escape the directory.
    #[error("{archive}: entry {entry:?} refused: {reason}")]
    Entry {
        /// The archive.
        archive: PathBuf,
        /// The entry's name.
        entry: String,
        /// Why.
        reason: String,
    },
    /// The layout inside is not what an archive must be.
    #[error("{archive}: {reason}")]
    Layout {
        /// The archive.
        archive: PathBuf,
        /// Why.
        reason: String,
    },
}

impl From<ArchiveError> for Error {
    fn from(e: ArchiveError) -> Error {
        Error::Archive(Box::new(e))
    }
}

/// An archive unpacked into a staging layout, with its two indexes.
pub struct Unpacked {
    /// The staging layout (every blob verified against its name).
    pub layout: OciLayout,
    /// `index.json` as parsed.
    pub index: Value,
    /// `dangerzone.json` as parsed.
    pub full_index: ImageIndex,
}

fn entry_err(archive: &Path, entry: &str, reason: impl Into<String>) -> Error {
    ArchiveError::Entry {
        archive: archive.to_owned(),
        entry: entry.chars().take(300).collect(),
        reason: reason.into(),
    }
    .into()
}

fn layout_err(archive: &Path, reason: impl Into<String>) -> Error {
    ArchiveError::Layout {
        archive: archive.to_owned(),
        reason: reason.into(),
    }
    .into()
}

/// The entry name with `./` prefixes removed, refused if absolute or with `..`/`.` parts.
fn clean_name(archive: &Path, raw: &Path) -> Result<String> {
    let mut parts = Vec::new();
    for c in raw.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(p) => match p.to_str() {
                Some(s) => parts.push(s.to_owned()),
                None => {
                    return Err(entry_err(
                        archive,
                        &raw.to_string_lossy(),
                        "the name is not UTF-8",
                    ));
                }
            },
            Component::ParentDir => {
                return Err(entry_err(
                    archive,
                    &raw.to_string_lossy(),
                    "the name climbs out of the archive (..)",
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(entry_err(
                    archive,
                    &raw.to_string_lossy(),
                    "absolute names are not allowed",
                ));
            }
        }
    }
    Ok(parts.join("/"))
}

/// Reads an archive as a stream into a fresh staging layout at `staging`. Nothing is
/// trusted yet: blobs are only known to match their names.
pub fn unpack(archive: &Path, staging: &Path) -> Result<Unpacked> {
    let file = File::open(archive).map_err(Error::io(archive))?;
    let total_size = file.metadata().map_err(Error::io(archive))?.len();
    if total_size > MAX_TOTAL {
        return Err(layout_err(
            archive,
            format!("the archive is {total_size} bytes, over the bound of {MAX_TOTAL}"),
        ));
    }
    let _ = fs::remove_dir_all(staging);
    let blobs_dir = staging.join("blobs").join("sha256");
    fs::create_dir_all(&blobs_dir).map_err(Error::io(&blobs_dir))?;
    let tar_err = |source: io::Error| -> Error {
        ArchiveError::Tar {
            path: archive.to_owned(),
            source,
        }
        .into()
    };
    let mut tar = tar::Archive::new(BufReader::with_capacity(1 << 20, file));
    let mut seen = HashSet::new();
    let mut index_json = None;
    let mut full_json = None;
    let mut layout_marker = None;
    let mut total = 0u64;
    for entry in tar.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        if seen.len() >= MAX_ENTRIES {
            return Err(layout_err(
                archive,
                format!("more than {MAX_ENTRIES} entries"),
            ));
        }
        let raw = entry.path().map_err(tar_err)?.into_owned();
        let name = clean_name(archive, &raw)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .ok()
                .flatten()
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Err(entry_err(
                archive,
                &name,
                format!("links are not allowed in an image archive (it points to {target:?})"),
            ));
        }
        if kind.is_dir() {
            if !matches!(name.as_str(), "" | "blobs" | "blobs/sha256") {
                return Err(entry_err(
                    archive,
                    &name,
                    "an image archive has no such directory",
                ));
            }
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(entry_err(
                archive,
                &name,
                format!("{kind:?} entries (devices, fifos…) are not allowed"),
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(entry_err(
                archive,
                &name,
                "the archive holds this entry twice",
            ));
        }
        let size = entry.header().size().map_err(tar_err)?;
        let bound = match name.as_str() {
            "index.json" | "dangerzone.json" | "oci-layout" => MAX_JSON,
            _ => MAX_BLOB,
        };
        if size > bound {
            return Err(entry_err(
                archive,
                &name,
                format!("it declares {size} bytes, over the bound of {bound}"),
            ));
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL {
            return Err(layout_err(
                archive,
                format!("the entries add up to more than the bound of {MAX_TOTAL} bytes"),
            ));
        }
        match name.as_str() {
            "index.json" | "dangerzone.json" | "oci-layout" => {
                let mut buf = Vec::with_capacity(size as usize);
                (&mut entry)
                    .take(MAX_JSON + 1)
                    .read_to_end(&mut buf)
                    .map_err(tar_err)?;
                match name.as_str() {
                    "index.json" => index_json = Some(buf),
                    "dangerzone.json" => full_json = Some(buf),
                    _ => layout_marker = Some(buf),
                }
            }
            other => {
                let Some(hex) = other.strip_prefix("blobs/sha256/") else {
                    return Err(entry_err(
                        archive,
                        &name,
                        "an image archive has no such file",
                    ));
                };
                let digest = Digest::from_sha256_hex(hex)
                    .map_err(|e| entry_err(archive, &name, format!("not a blob name: {e}")))?;
                copy_blob(archive, &name, &mut entry, size, &digest, &blobs_dir)?;
            }
        }
    }
    let marker = layout_marker
        .ok_or_else(|| layout_err(archive, "no oci-layout file: not an OCI image layout"))?;
    fs::write(staging.join("oci-layout"), &marker).map_err(Error::io(staging))?;
    let index_bytes = index_json.ok_or_else(|| layout_err(archive, "no index.json"))?;
    let full_bytes = full_json.ok_or_else(|| {
        layout_err(archive, "no dangerzone.json: this is not an air-gap archive (prepare one with `latch prepare-archive`)")
    })?;
    fs::write(staging.join("index.json"), &index_bytes).map_err(Error::io(staging))?;
    let layout = OciLayout::open(staging).map_err(|e| layout_err(archive, e.to_string()))?;
    let index: Value = serde_json::from_slice(&index_bytes)
        .map_err(|e| layout_err(archive, format!("index.json is not JSON: {e}")))?;
    let full_index = ManifestBytes::parse(full_bytes, Some(mt::OCI_INDEX))
        .ok()
        .and_then(|m| m.as_index().cloned())
        .ok_or_else(|| layout_err(archive, "dangerzone.json is not an OCI index"))?;
    Ok(Unpacked {
        layout,
        index,
        full_index,
    })
}

/// Streams one blob to the staging layout, hashing as it goes; refused unless it is
/// exactly `size` bytes that hash to its name.
fn copy_blob(
    archive: &Path,
    name: &str,
    entry: &mut impl Read,
    size: u64,
    digest: &Digest,
    dir: &Path,
) -> Result<()> {
    let partial = dir.join(format!(".partial-{}", digest.hex()));
    let out = File::create(&partial).map_err(Error::io(&partial))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut hasher = digest.algorithm().hasher();
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = size;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = entry.read(&mut buf[..want]).map_err(|source| -> Error {
            ArchiveError::Tar {
                path: archive.to_owned(),
                source,
            }
            .into()
        })?;
        if n == 0 {
            let _ = fs::remove_file(&partial);
            return Err(entry_err(
                archive,
                name,
                format!("truncated: {} of {size} bytes", size - left),
            ));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Error::io(&partial))?;
        left -= n as u64;
    }
    out.flush().map_err(Error::io(&partial))?;
    drop(out);
    let actual = hasher.finish();
    if &actual != digest {
        let _ = fs::remove_file(&partial);
        return Err(entry_err(
            archive,
            name,
            format!("its content hashes to {actual}"),
        ));
    }
    let final_path = dir.join(digest.hex());
    fs::rename(&partial, &final_path).map_err(Error::io(&final_path))
}

/// The image-only cut of an index: the entries of kind image or imageIndex.
fn image_only(full: &ImageIndex) -> ImageIndex {
    let mut cut = full.clone();
    cut.manifests
        .retain(|d| matches!(d.annotation("kind"), Some(KIND_IMAGE) | Some(KIND_INDEX)));
    cut
}

/// Checks an unpacked archive's structure; returns the one image entry and the
/// signatures its `sigs` manifests carry.
fn check_structure(archive: &Path, u: &Unpacked) -> Result<(Descriptor, Vec<Candidate>)> {
    let cut = image_only(&u.full_index);
    let cut_value = serde_json::to_value(&cut).map_err(|e| layout_err(archive, e.to_string()))?;
    if cut_value != u.index {
        return Err(layout_err(
            archive,
            "index.json is not the image-only cut of dangerzone.json: the archive may have been tampered with",
        ));
    }
    let subject = match cut.manifests.as_slice() {
        [one] => one.clone(),
        [] => return Err(layout_err(archive, "the archive holds no image")),
        many => {
            return Err(layout_err(
                archive,
                format!(
                    "the archive holds {} images; an air-gap archive carries exactly one",
                    many.len()
                ),
            ));
        }
    };
    let mut candidates = Vec::new();
    for d in u
        .full_index
        .manifests
        .iter()
        .filter(|d| d.annotation("kind") == Some(KIND_SIGS))
    {
        let m = u
            .layout
            .read_manifest(d)
            .map_err(|e| layout_err(archive, format!("signature manifest {}: {e}", d.digest)))?;
        let Some(image) = m.as_image() else {
            return Err(layout_err(
                archive,
                format!("signature manifest {} is an index", d.digest),
            ));
        };
        let mut blobs = Vec::new();
        for l in &image.layers {
            if let Ok(b) = u.layout.read_blob(&l.digest, MAX_PAYLOAD_BYTES) {
                blobs.push((l.clone(), b));
            }
        }
        candidates.extend(signatures_from_manifest(image, &blobs).map_err(|source| {
            Error::BadSignatures {
                location: format!("{}: {}", archive.display(), d.digest),
                source,
            }
        })?);
    }
    Ok((subject, candidates))
}

/// Removes the staging directory when dropped.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl Updater {
    fn staging_dir(&self, what: &str) -> PathBuf {
        self.store()
            .root()
            .join("latch")
            .join(format!("{what}-{}", std::process::id()))
    }

    /// Unpacks and verifies an archive without loading it: the image it carries, verified
    /// (signatures, digest binding), ready to install.
    fn open_archive(&self, path: &Path, staging: &Path, now: i64) -> Result<Remote> {
        let u = unpack(path, staging)?;
        let (subject, candidates) = check_structure(path, &u)?;
        let manifest = u
            .layout
            .read_manifest(&subject)
            .map_err(|e| layout_err(path, format!("image manifest {}: {e}", subject.digest)))?;
        let platform_digest = match manifest.as_index() {
            Some(index) => Some(
                index
                    .select_platform(&self.profile().platform)
                    .ok_or_else(|| {
                        layout_err(
                            path,
                            format!(
                                "the archive's index has no image for {} (it has: {})",
                                self.profile().platform,
                                index
                                    .platforms()
                                    .iter()
                                    .map(|p| p.to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?
                    .digest
                    .clone(),
            ),
            None => None,
        };
        let (verification, referrers) = self.verify_signed_in_layout(
            format!("{} (dangerzone.json sigs)", path.display()),
            manifest.digest(),
            &candidates,
            &u.layout,
            &u.full_index.manifests,
            now,
        )?;
        let signatures = accepted_signatures(&verification.verdict, &candidates);
        let bundles = accepted_bundles(&verification, &referrers.bundles);
        Ok(Remote {
            manifest,
            platform_digest,
            verification,
            signatures,
            bundles,
            layout: Some((u.layout, subject)),
        })
    }

    /// The highest verified log index of an archive's image, without loading it (to
    /// choose between installed, bundled and remote images).
    pub fn archive_log_index(&self, path: &Path) -> Result<Option<u64>> {
        let staging = Staging(self.staging_dir("inspect"));
        let remote = self.open_archive(path, &staging.0, now_unix())?;
        Ok(remote.verification.max_log_index())
    }

    /// Loads an air-gap archive: unpacked as a stream, checked, verified and
    /// rollback-checked before anything reaches the runtime; then installed as `upgrade`
    /// installs (signatures and state written atomically, tagged, older images removed).
    /// `opts.force` bypasses only the rollback check.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let data = tempfile::tempdir()?;
    /// # let profile = latch::demo::profile(latch::Overrides {
    /// #     data_dir: Some(data.path().to_path_buf()),
    /// #     ..Default::default()
    /// # })?;
    /// let updater = latch::Updater::new(profile)?;
    /// let rt = tokio::runtime::Runtime::new()?;
    /// // Not an archive: refused before anything reaches the runtime.
    /// let bogus = data.path().join("bogus.tar");
    /// std::fs::write(&bogus, b"not a tar")?;
    /// let err = rt.block_on(updater.load_archive(&bogus, &Default::default())).unwrap_err();
    /// assert!(matches!(err, latch::Error::Archive(_)));
    /// # Ok(()) }
    /// ```
    pub async fn load_archive(&self, path: &Path, opts: &UpgradeOptions) -> Result<UpgradeReport> {
        let _lock = self.lock(opts.wait).await?;
        let now = now_unix();
        let state = self.store().state().map_err(store_error)?;
        let staging = Staging(self.staging_dir("archive"));
        let remote = self.open_archive(path, &staging.0, now)?;
        // No freeze check: an archive is chosen by the person carrying it, and may be old.
        self.install_remote(state, remote, now, opts, &NoProgress, false)
            .await
    }

    /// Prepares an air-gap archive of the image the profile follows, for `platform`
    /// (default: the profile's), verified exactly as `upgrade` verifies. The archive is
    /// written to a temporary file and renamed into place only when complete.
    pub async fn prepare_archive(
        &self,
        platform: Option<&Platform>,
        output: &Path,
        force: bool,
        progress: &dyn Progress,
    ) -> Result<PrepareReport> {
        if !matches!(self.profile().source, Source::Registry) {
            return Err(Error::Invalid(
                "prepare-archive reads from a registry; this profile's source is a layout".into(),
            ));
        }
        let now = now_unix();
        let image = self.profile().image.clone();
        let platform = platform
            .cloned()
            .unwrap_or_else(|| self.profile().platform.clone());
        let client = self.client();
        let top = client.get_manifest(&image).await?;
        // Prefer the platform manifest's own signatures (Dangerzone's CI signs with
        // --recursive); else the index's, carrying the index and that one platform.
        let (subject, kind, (verification, referrers)) = match top.as_index() {
            Some(index) => {
                let desc = index.select_platform(&platform).ok_or_else(|| {
                    Error::Registry(RegistryError::NoSuchPlatform {
                        reference: image.to_string(),
                        platform: platform.to_string(),
                        available: index
                            .platforms()
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                })?;
                let platform_manifest = client
                    .get_manifest(&image.with_digest(desc.digest.clone()))
                    .await?;
                let sigs = fetch_signatures(client, &image, &desc.digest).await?;
                let location = sig_reference(&image, &desc.digest)?.to_string();
                match self
                    .verify_signed(location, &desc.digest, &sigs, BundleSource::Registry, now)
                    .await
                {
                    Ok(verified) => (platform_manifest, KIND_IMAGE, verified),
                    Err(_) => {
                        let sigs = fetch_signatures(client, &image, top.digest()).await?;
                        let location = sig_reference(&image, top.digest())?.to_string();
                        let verified = self
                            .verify_signed(
                                location,
                                top.digest(),
                                &sigs,
                                BundleSource::Registry,
                                now,
                            )
                            .await?;
                        (top.clone(), KIND_INDEX, verified)
                    }
                }
            }
            None => {
                let sigs = fetch_signatures(client, &image, top.digest()).await?;
                let location = sig_reference(&image, top.digest())?.to_string();
                let verified = self
                    .verify_signed(location, top.digest(), &sigs, BundleSource::Registry, now)
                    .await?;
                (top.clone(), KIND_IMAGE, verified)
            }
        };
        let state = self.store().state().map_err(store_error)?;
        let mut warnings = Vec::new();
        self.check_rollback(&state, &verification, force, &mut warnings)?;

        // Build the cosign-save layout in a staging directory beside the output.
        let parent = output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let staging = Staging(parent.join(format!(".latch-archive-{}", std::process::id())));
        let _ = fs::remove_dir_all(&staging.0);
        let layout = OciLayout::create(&staging.0).map_err(|e| Error::Invalid(e.to_string()))?;
        let pull_platform = match kind {
            KIND_INDEX => Some(platform.clone()),
            _ => None,
        };
        pull_to_layout(
            client,
            &image.with_digest(subject.digest().clone()),
            &layout,
            &PullOptions {
                platform: pull_platform,
                name: None,
            },
            progress,
        )
        .await?;
        if kind == KIND_INDEX {
            layout
                .write_blob(subject.bytes())
                .map_err(|e| Error::Invalid(e.to_string()))?;
        }
        let mut entries = Vec::new();
        let mut image_entry = subject.descriptor();
        image_entry.set_annotation("kind", kind);
        image_entry.set_annotation(ANNOTATION_REF_NAME, &image.to_string());
        entries.push(image_entry);
        let mut signature_count = 0;
        let mut attestations = false;
        for (suffix, entry_kind) in [("sig", KIND_SIGS), ("att", KIND_ATTS)] {
            let tag = format!("{}.{suffix}", subject.digest().tag_form());
            let attached = image.with_tag(&tag)?;
            match client.get_manifest(&attached).await {
                Ok(m) => {
                    pull_to_layout(
                        client,
                        &attached,
                        &layout,
                        &PullOptions::default(),
                        &NoProgress,
                    )
                    .await?;
                    if entry_kind == KIND_SIGS {
                        signature_count = m.as_image().map_or(0, |i| i.layers.len());
                    } else {
                        attestations = true;
                    }
                    let mut d = m.descriptor();
                    d.set_annotation("kind", entry_kind);
                    entries.push(d);
                }
                Err(RegistryError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The cosign v3 signatures that were needed, as the referrer manifests the
        // registry holds (bytes unchanged, so their digests still name them).
        for v in &verification.bundles {
            let Some(b) = referrers.bundles.iter().find(|b| b.location == v.location) else {
                continue;
            };
            let at = image
                .repository_only()
                .with_digest(b.manifest_digest.clone());
            let m = client.get_manifest(&at).await?;
            pull_to_layout(client, &at, &layout, &PullOptions::default(), &NoProgress).await?;
            let mut d = m.descriptor();
            d.artifact_type = Some(latch_sigstore::cosign::BUNDLE_V03_MEDIA_TYPE.to_owned());
            d.set_annotation("kind", KIND_BUNDLE);
            entries.push(d);
            signature_count += 1;
        }
        let mut full = ImageIndex::empty();
        full.manifests = entries;
        let full_bytes = ManifestBytes::from_index(&full).into_bytes();
        let cut_bytes = ManifestBytes::from_index(&image_only(&full)).into_bytes();
        let tmp = parent.join(format!(
            ".{}.partial-{}",
            output
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("archive.tar"),
            std::process::id()
        ));
        let written = write_tar(&tmp, &layout, &full_bytes, &cut_bytes);
        let size = match written {
            Ok(s) => s,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        latch_oci::fsutil::durable_rename(&tmp, output).map_err(Error::io(output))?;
        let archive_digest = {
            let mut f = File::open(output).map_err(Error::io(output))?;
            let mut h = latch_oci::Algorithm::Sha256.hasher();
            io::copy(&mut f, &mut h).map_err(Error::io(output))?;
            h.finish()
        };
        Ok(PrepareReport {
            output: output.to_owned(),
            size,
            archive_digest,
            digest: subject.digest().clone(),
            kind: if kind == KIND_INDEX {
                "imageIndex"
            } else {
                "image"
            },
            platform: platform.to_string(),
            log_index: verification.max_log_index(),
            signatures: signature_count,
            attestations,
        })
    }
}

/// Writes the archive: `./`, `./blobs/`, `./blobs/sha256/`, every blob, then
/// `./dangerzone.json`, `./index.json` and `./oci-layout`; sorted, owners 0, times 0,
/// fixed modes, so the same inputs give the same bytes. Returns the size.
fn write_tar(path: &Path, layout: &OciLayout, full: &[u8], cut: &[u8]) -> Result<u64> {
    let file = File::create(path).map_err(Error::io(path))?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, file));
    let io_err = Error::io(path);
    let header = |name: &str, size: u64, dir: bool| -> Result<tar::Header> {
        let mut h = tar::Header::new_ustar();
        // Written as given (`./…`, as Dangerzone's tarfile writes them): `set_path` would
        // drop the leading `./`. Every name here is ASCII and well under 100 bytes.
        let bytes = name.as_bytes();
        if bytes.len() >= 100 {
            return Err(Error::Invalid(format!("tar entry name too long: {name}")));
        }
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_size(size);
        h.set_mode(if dir { 0o755 } else { 0o644 });
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_cksum();
        Ok(h)
    };
    let result = (|| -> Result<()> {
        for d in ["./", "./blobs/", "./blobs/sha256/"] {
            tar.append(&header(d, 0, true)?, io::empty())
                .map_err(Error::io(path))?;
        }
        let blobs = layout.root().join("blobs").join("sha256");
        let mut names: Vec<String> = fs::read_dir(&blobs)
            .map_err(Error::io(&blobs))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect();
        names.sort();
        for n in names {
            let p = blobs.join(&n);
            let f = File::open(&p).map_err(Error::io(&p))?;
            let size = f.metadata().map_err(Error::io(&p))?.len();
            tar.append(&header(&format!("./blobs/sha256/{n}"), size, false)?, f)
                .map_err(Error::io(path))?;
        }
        for (name, bytes) in [
            ("./dangerzone.json", full),
            ("./index.json", cut),
            (
                "./oci-layout",
                latch_oci::layout::OCI_LAYOUT_FILE.as_bytes(),
            ),
        ] {
            tar.append(&header(name, bytes.len() as u64, false)?, bytes)
                .map_err(Error::io(path))?;
        }
        Ok(())
    })();
    result?;
    let mut inner = tar.into_inner().map_err(Error::io(path))?;
    inner.flush().map_err(Error::io(path))?;
    let file = inner.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(Error::io(path))?;
    Ok(file.metadata().map_err(Error::io(path))?.len())
}

/// What [`Updater::install`] chose.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    /// `installed` (kept what is there), `bundled` (loaded the archive shipped with the
    /// application) or `remote` (upgraded from the registry).
    pub choice: &'static str,
    /// Log index of what is installed (before).
    pub installed: Option<u64>,
    /// Log index of the bundled archive, verified.
    pub bundled: Option<u64>,
    /// Log index of the remote image, verified (when looked at).
    pub remote: Option<u64>,
    /// Why the remote image was not considered, if it was not.
    pub remote_skipped: Option<String>,
    /// The installation, when one happened.
    pub report: Option<UpgradeReport>,
}

impl Updater {
    /// Installs the best image: what is installed, the archive bundled with the
    /// application (the profile's `[source] archive`, "full" packages), or the newest
    /// image of the registry (only when `online`; a layout mirror is always looked at);
    /// whichever has the highest verified log
    /// index, as Dangerzone's installer chooses. Ties keep what is installed, then prefer
    /// the bundled archive (no network needed).
    pub async fn install(&self, online: bool, progress: &dyn Progress) -> Result<InstallReport> {
        let now = now_unix();
        let state = self.store().state().map_err(store_error)?;
        let repository = self.repository();
        let installed = match state
            .installed
            .as_ref()
            .filter(|i| i.repository == repository.name())
        {
            Some(i) if self.verify_local(false).await.is_ok() => Some(i.log_index.unwrap_or(0)),
            _ => None,
        };
        let bundled = match &self.profile().bundled_archive {
            Some(path) => Some(self.archive_log_index(path)?.unwrap_or(0)),
            None => None,
        };
        // A layout mirror is local: it is looked at even offline.
        let local_source = matches!(self.profile().source, Source::Layout(_));
        let (remote, remote_skipped) = if !online && !local_source {
            (None, Some("offline".to_owned()))
        } else {
            match self.fetch_remote(now).await {
                Ok(r) => (Some(r.verification.max_log_index().unwrap_or(0)), None),
                Err(e) => (None, Some(e.to_string())),
            }
        };
        let mut report = InstallReport {
            choice: "installed",
            installed,
            bundled,
            remote,
            remote_skipped,
            report: None,
        };
        let floor = installed.map_or(-1i128, i128::from);
        let b = bundled.map_or(-1i128, i128::from);
        let r = remote.map_or(-1i128, i128::from);
        if b > floor && b >= r {
            if let Some(path) = &self.profile().bundled_archive {
                report.choice = "bundled";
                report.report = Some(self.load_archive(path, &UpgradeOptions::default()).await?);
            }
        } else if r > floor {
            report.choice = "remote";
            report.report = Some(self.upgrade(&UpgradeOptions::default(), progress).await?);
        }
        Ok(report)
    }
}
