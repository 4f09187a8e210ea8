//! The built-in store: an OCI image layout that needs neither podman nor docker.
//!
//! ```text
//! DIR/oci-layout
//! DIR/index.json           one entry per name, replaced atomically
//! DIR/blobs/sha256/<hex>   content-addressed, verified before they are moved in
//! DIR/.partial/            downloads in progress
//! DIR/.latch.lock          one writer at a time (pull, load, tag, remove, gc)
//! ```
//!
//! **Naming.** Each installed image has an `index.json` entry whose descriptor is the
//! top-level manifest (the index when the image was pulled by an index digest: that is
//! the digest that is signed) annotated with
//! `org.opencontainers.image.ref.name` = `<repository>@<digest>` (for example
//! `ghcr.io/org/app@sha256:…`; the repository is normalised as [`Reference::name`]
//! writes it). For an index, the platform manifest that was installed is recorded beside
//! it as [`ANNOTATION_PLATFORM_MANIFEST`] (and its platform as [`ANNOTATION_PLATFORM`]);
//! only that platform's manifest, config and layers are stored, as podman does. A tag is
//! one more entry with the same descriptor named `<repository>:<tag>`. Entries with
//! other names (a layout shared with other tools) are kept and their blobs are never
//! collected, but they are not images of any repository.
//!
//! **Consistency.** Blobs are written before the entry that references them, and
//! `index.json` is replaced atomically, so an interrupted pull or load leaves the
//! previous state (plus unreferenced blobs, which [`BuiltinStore::gc`] removes).
//! Readers take no lock: opening the store reads two small files.
//!
//! **Verification.** [`BuiltinStore::verify`] re-hashes every blob of an image,
//! streaming (about 1.5 GB/s); [`BuiltinStore::verify_sizes`] re-hashes the manifests
//! and the config but only checks that each layer is present with its declared size,
//! which catches truncation and deletion but not a same-size substitution.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use latch_oci::manifest::ANNOTATION_REF_NAME;
use latch_oci::{Descriptor, Digest, ImageIndex, LayoutError, OciLayout, Platform, Reference};
use latch_registry::{Client, Progress, PullOptions, pull_to_layout};
use serde::Serialize;

use crate::cli::{blocking, repository_of, require_digest, tag_target};
use crate::error::{Result, RuntimeError, io_err};
use crate::image::{self, Closure};
use crate::{InstalledImage, RuntimeInfo};

/// Annotation on an index entry: the digest of the platform manifest installed from it.
pub const ANNOTATION_PLATFORM_MANIFEST: &str = "dev.latch.platform-manifest";
/// Annotation on an index entry: the platform installed (`linux/amd64`).
pub const ANNOTATION_PLATFORM: &str = "dev.latch.platform";
/// Prefix of the names pulls in progress give their entry.
const STAGING_PREFIX: &str = "latch-staging/";
/// The lock file.
const LOCK_FILE: &str = ".latch.lock";

/// What [`BuiltinStore::gc`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Entries of interrupted pulls dropped from `index.json`.
    pub entries_dropped: usize,
    /// Blobs deleted.
    pub blobs_removed: usize,
    /// Bytes they held.
    pub bytes_freed: u64,
}

/// What [`BuiltinStore::verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The entry's top-level digest.
    pub digest: Digest,
    /// The platform manifest checked (equal to `digest` for a single-image entry).
    pub platform_manifest: Digest,
    /// Blobs checked (manifests, config, layers).
    pub blobs: usize,
    /// Their total size.
    pub bytes: u64,
    /// Bytes re-hashed (less than `bytes` with [`BuiltinStore::verify_sizes`]).
    pub hashed_bytes: u64,
}

/// Latch's own image store: an OCI layout at a directory. Cheap to create (no I/O until
/// an operation runs).
#[derive(Debug, Clone)]
pub struct BuiltinStore {
    dir: PathBuf,
}

/// A held lock on the store; released when dropped.
struct StoreLock {
    _file: File,
}

/// How an `index.json` entry is named.
#[derive(Debug, Clone)]
enum Name {
    Digest(Reference),
    Tag(Reference, String),
}

impl Name {
    fn of(d: &Descriptor) -> Option<Name> {
        let n = d.annotation(ANNOTATION_REF_NAME)?;
        if n.starts_with(STAGING_PREFIX) {
            return None;
        }
        let r = Reference::parse(n).ok()?;
        match (r.digest(), r.tag()) {
            // A digest name must name the entry's own manifest.
            (Some(dg), None) if dg == &d.digest => Some(Name::Digest(r)),
            (None, Some(t)) => {
                let t = t.to_owned();
                Some(Name::Tag(r, t))
            }
            _ => None,
        }
    }

    fn reference(&self) -> &Reference {
        match self {
            Name::Digest(r) | Name::Tag(r, _) => r,
        }
    }
}

fn is_staging(d: &Descriptor) -> bool {
    d.annotation(ANNOTATION_REF_NAME)
        .is_some_and(|n| n.starts_with(STAGING_PREFIX))
}

impl BuiltinStore {
    /// The store at `dir` (created by the first write).
    pub fn new(dir: impl Into<PathBuf>) -> BuiltinStore {
        BuiltinStore { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store is always available; this checks that `dir`, if it exists, is an OCI
    /// layout (or empty).
    pub async fn check_available(&self) -> Result<RuntimeInfo> {
        self.open_existing()?;
        Ok(RuntimeInfo {
            name: "store",
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    /// The layout, if the store exists (`None` for a missing or empty directory).
    pub fn open_existing(&self) -> Result<Option<OciLayout>> {
        match OciLayout::open(&self.dir) {
            Ok(l) => Ok(Some(l)),
            Err(LayoutError::NotALayout(_)) if !self.has_foreign_content()? => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The layout, which must exist (to hand an installed image to another runtime's
    /// [`load_oci_layout`](crate::Runtime::load_oci_layout), or to an archive writer).
    pub fn layout(&self) -> Result<OciLayout> {
        self.open_existing()?
            .ok_or_else(|| RuntimeError::NotInstalled {
                what: "any image".to_owned(),
                place: self.place(),
            })
    }

    /// The `index.json` entry of the image whose top-level (or platform) digest is
    /// `digest`.
    pub fn descriptor(&self, digest: &Digest) -> Result<Descriptor> {
        let layout = self.layout()?;
        let index = layout.index()?;
        find_entry(&index, digest)
            .map(|(d, _)| d.clone())
            .ok_or_else(|| self.not_installed(digest))
    }

    fn place(&self) -> String {
        format!("the store {}", self.dir.display())
    }

    fn not_installed(&self, what: impl ToString) -> RuntimeError {
        RuntimeError::NotInstalled {
            what: what.to_string(),
            place: self.place(),
        }
    }

    /// Whether the directory holds anything but our lock file (so it is not ours to
    /// turn into a store).
    fn has_foreign_content(&self) -> Result<bool> {
        match fs::read_dir(&self.dir) {
            Ok(entries) => {
                for e in entries {
                    let e = e.map_err(io_err(&self.dir))?;
                    if e.file_name() != LOCK_FILE {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(&self.dir)(e)),
        }
    }

    async fn lock(&self) -> Result<StoreLock> {
        let dir = self.dir.clone();
        let store = self.clone();
        blocking(move || {
            let foreign = |store: &BuiltinStore| -> Result<bool> {
                Ok(!store.dir.join("oci-layout").exists() && store.has_foreign_content()?)
            };
            let refuse = |dir: PathBuf| RuntimeError::BadStore {
                path: dir,
                detail: "is not empty and not an OCI layout: refusing to make it a store"
                    .to_owned(),
            };
            // A folder that is not ours (no lock file of ours in it) is refused before
            // anything is written in it.
            let path = dir.join(LOCK_FILE);
            if !path.exists() && foreign(&store)? {
                return Err(refuse(dir));
            }
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            file.lock().map_err(io_err(&path))?;
            // Judged again under the lock: another process may have been creating the
            // layout (its blobs there, its `oci-layout` not yet) when we first looked.
            if foreign(&store)? {
                return Err(refuse(dir));
            }
            Ok(StoreLock { _file: file })
        })
        .await
    }

    /// Every image named in `repository`.
    pub async fn images(&self, repository: &Reference) -> Result<Vec<InstalledImage>> {
        let Some(layout) = self.open_existing()? else {
            return Ok(Vec::new());
        };
        let index = layout.index()?;
        Ok(images_in(&layout, &index, repository))
    }

    /// The image the tag `reference` names: `None` if the tag names nothing.
    pub async fn tagged(&self, reference: &Reference) -> Result<Option<InstalledImage>> {
        let tag = tag_target(reference).map(|_| reference.tag().unwrap_or_default())?;
        Ok(self
            .images(reference)
            .await?
            .into_iter()
            .find(|i| i.tags.iter().any(|t| t == tag)))
    }

    /// Pulls `reference` (by digest) with Latch's registry client into the store. For an
    /// index, only `platform`'s image (default: the host's) is downloaded; the index
    /// itself is kept, so the entry carries the digest that is signed.
    pub async fn pull(
        &self,
        reference: &Reference,
        client: &Client,
        platform: Option<&Platform>,
        progress: &dyn Progress,
    ) -> Result<InstalledImage> {
        let digest = require_digest(reference)?.clone();
        let repo = repository_of(reference);
        let _lock = self.lock().await?;
        let layout = OciLayout::create(&self.dir)?;
        let top = client
            .get_manifest(&repo.with_digest(digest.clone()))
            .await?;
        let (pull_digest, platform_entry) = match top.as_index() {
            Some(index) => {
                let wanted = platform.cloned().unwrap_or_else(Platform::host);
                let d = index
                    .require_platform(&wanted, &repo.to_string())
                    .map_err(|e| RuntimeError::NoSuchPlatform {
                        digest: digest.clone(),
                        platform: e.platform,
                        place: e.image,
                        available: e.available.join(", "),
                    })?;
                (d.digest.clone(), Some(d.clone()))
            }
            None => (digest.clone(), None),
        };
        let staging = format!("{STAGING_PREFIX}{}-{}", std::process::id(), digest.hex());
        let opts = PullOptions {
            platform: None,
            name: Some(staging.clone()),
        };
        let pulled = pull_to_layout(
            client,
            &repo.with_digest(pull_digest.clone()),
            &layout,
            &opts,
            progress,
        )
        .await;
        let commit = (|| {
            pulled?;
            if top.as_index().is_some() {
                let written = layout.write_blob(top.bytes())?;
                if written != digest {
                    return Err(RuntimeError::InvalidArgument(format!(
                        "{digest} is not sha256-addressed; the store holds sha256 blobs only"
                    )));
                }
            }
            let mut entry = top.descriptor();
            entry.set_annotation(
                ANNOTATION_REF_NAME,
                &repo.with_digest(digest.clone()).to_string(),
            );
            if let Some(p) = &platform_entry {
                entry.set_annotation(ANNOTATION_PLATFORM_MANIFEST, &p.digest.to_string());
                if let Some(plat) = &p.platform {
                    entry.set_annotation(ANNOTATION_PLATFORM, &plat.to_string());
                }
            }
            update_index(&layout, |idx| {
                idx.manifests.retain(|d| {
                    d.annotation(ANNOTATION_REF_NAME) != Some(staging.as_str())
                        && !same_name(d, &entry)
                });
                idx.manifests.push(entry);
            })
        })();
        if let Err(e) = commit {
            // Best effort: the next gc drops staging entries anyway.
            let _ = update_index(&layout, |idx| {
                idx.manifests
                    .retain(|d| d.annotation(ANNOTATION_REF_NAME) != Some(staging.as_str()));
            });
            return Err(e);
        }
        let index = layout.index()?;
        images_in(&layout, &index, &repo)
            .into_iter()
            .find(|i| i.pinned.contains(&digest))
            .ok_or_else(|| self.not_installed(repo.with_digest(digest)))
    }

    /// Copies the image `descriptor` names in `layout` into the store (every blob
    /// re-hashed on the way) and names it `target`'s `repository@digest`, plus
    /// `repository:tag` when `target` has a tag.
    pub async fn load_oci_layout(
        &self,
        layout: &OciLayout,
        descriptor: &Descriptor,
        target: &Reference,
        platform: Option<&Platform>,
    ) -> Result<InstalledImage> {
        if let Some(d) = target.digest()
            && d != &descriptor.digest
        {
            return Err(RuntimeError::InvalidArgument(format!(
                "cannot load {} as {target}: the digests differ",
                descriptor.digest
            )));
        }
        let repo = repository_of(target);
        let tag = target.tag().map(str::to_owned);
        let _lock = self.lock().await?;
        let dir = self.dir.clone();
        let (src, descriptor, platform) = (layout.clone(), descriptor.clone(), platform.cloned());
        let repo2 = repo.clone();
        let digest = descriptor.digest.clone();
        blocking(move || {
            let store = OciLayout::create(&dir)?;
            let closure = image::resolve(&src, &descriptor, platform.as_ref())?;
            for d in closure.blobs() {
                image::copy_blob(&src, &store, d)?;
            }
            store.write_blob(closure.image.bytes())?;
            if closure.is_index() {
                store.write_blob(closure.top.bytes())?;
            }
            let entry = entry_for(&closure, &repo2);
            let tag_entry = match &tag {
                Some(t) => {
                    let mut e = entry.clone();
                    let name = repo2
                        .with_tag(t)
                        .map_err(|e| RuntimeError::InvalidArgument(e.to_string()))?;
                    e.set_annotation(ANNOTATION_REF_NAME, &name.to_string());
                    Some(e)
                }
                None => None,
            };
            update_index(&store, |idx| {
                for e in std::iter::once(&entry).chain(tag_entry.as_ref()) {
                    idx.manifests.retain(|d| !same_name(d, e));
                    idx.manifests.push(e.clone());
                }
            })
        })
        .await?;
        let layout = self.layout()?;
        let index = layout.index()?;
        images_in(&layout, &index, &repo)
            .into_iter()
            .find(|i| i.pinned.contains(&digest))
            .ok_or_else(|| self.not_installed(repo.with_digest(digest)))
    }

    /// Names `image` `target` (`repository:tag`) too.
    pub async fn tag(&self, image: &InstalledImage, target: &Reference) -> Result<()> {
        let name = tag_target(target)?;
        let Some(top) = image.pinned.first().or(image.digests.first()).cloned() else {
            return Err(self.not_installed(&image.id));
        };
        let _lock = self.lock().await?;
        let layout = self.layout()?;
        let index = layout.index()?;
        let Some((source, _)) = find_entry(&index, &top) else {
            return Err(self.not_installed(top));
        };
        let mut entry = source.clone();
        entry.set_annotation(ANNOTATION_REF_NAME, &name);
        update_index(&layout, |idx| {
            idx.manifests.retain(|d| !same_name(d, &entry));
            idx.manifests.push(entry);
        })
    }

    /// Removes every name `image` has in its repository, then collects garbage.
    pub async fn remove(&self, image: &InstalledImage) -> Result<()> {
        let _lock = self.lock().await?;
        let Some(layout) = self.open_existing()? else {
            return Ok(());
        };
        let repository = image.repository.clone();
        let digests = image.digests.clone();
        update_index(&layout, |idx| {
            idx.manifests.retain(|d| {
                !(Name::of(d).is_some_and(|n| n.reference().name() == repository)
                    && digests.contains(&d.digest))
            });
        })?;
        gc_locked(layout).await.map(|_| ())
    }

    /// Removes every image of `repository` that does not hold `keep`, then collects
    /// garbage.
    pub async fn remove_others(
        &self,
        repository: &Reference,
        keep: &Digest,
    ) -> Result<Vec<InstalledImage>> {
        let _lock = self.lock().await?;
        let Some(layout) = self.open_existing()? else {
            return Ok(Vec::new());
        };
        let index = layout.index()?;
        let removed: Vec<InstalledImage> = images_in(&layout, &index, repository)
            .into_iter()
            .filter(|i| !i.holds(keep))
            .collect();
        if removed.is_empty() {
            return Ok(removed);
        }
        let gone: HashSet<Digest> = removed
            .iter()
            .filter_map(|i| i.digests.first().cloned())
            .collect();
        update_index(&layout, |idx| {
            idx.manifests.retain(|d| {
                !(Name::of(d).is_some_and(|n| n.reference().same_repository(repository))
                    && gone.contains(&d.digest))
            });
        })?;
        gc_locked(layout).await?;
        Ok(removed)
    }

    /// Deletes every blob no `index.json` entry needs, the entries of interrupted pulls,
    /// and partial downloads. Refuses (deleting nothing) if a manifest an entry needs is
    /// corrupt: its children could not be known.
    pub async fn gc(&self) -> Result<GcReport> {
        let _lock = self.lock().await?;
        match self.open_existing()? {
            Some(layout) => gc_locked(layout).await,
            None => Ok(GcReport::default()),
        }
    }

    /// Re-hashes every blob of the image whose top-level or platform digest is
    /// `digest`: manifests, config and layers, streaming. This is what proves the store
    /// was not tampered with.
    pub async fn verify(&self, digest: &Digest) -> Result<VerifyReport> {
        self.verify_with(digest, true).await
    }

    /// The fast check: manifests and config re-hashed, layers only checked to be
    /// present with their declared sizes (a same-size substitution of a layer goes
    /// unnoticed; [`BuiltinStore::verify`] catches it).
    pub async fn verify_sizes(&self, digest: &Digest) -> Result<VerifyReport> {
        self.verify_with(digest, false).await
    }

    async fn verify_with(&self, digest: &Digest, full: bool) -> Result<VerifyReport> {
        let layout = self.layout()?;
        let index = layout.index()?;
        let Some((entry, wanted)) = find_entry(&index, digest) else {
            return Err(self.not_installed(digest));
        };
        let entry = entry.clone();
        let place = self.place();
        let check = move || -> Result<VerifyReport> {
            let closure = entry_closure(&layout, &entry, wanted.as_ref())?;
            let mut report = VerifyReport {
                digest: closure.top.digest().clone(),
                platform_manifest: closure.image.digest().clone(),
                blobs: 0,
                bytes: 0,
                hashed_bytes: 0,
            };
            // Manifests were re-hashed by `resolve`.
            for m in std::iter::once(&closure.top)
                .chain((closure.image.digest() != closure.top.digest()).then_some(&closure.image))
            {
                report.blobs += 1;
                report.bytes += m.bytes().len() as u64;
                report.hashed_bytes += m.bytes().len() as u64;
            }
            image::verify_blob(&layout, &closure.config)?;
            report.blobs += 1;
            report.bytes += closure.config.size;
            report.hashed_bytes += closure.config.size;
            for l in &closure.layers {
                if full {
                    image::verify_blob(&layout, l)?;
                    report.hashed_bytes += l.size;
                } else if !layout.has_blob(&l.digest, l.size) {
                    let detail = match fs::metadata(layout.blob_path(&l.digest)) {
                        Ok(m) => format!("{} bytes, expected {}", m.len(), l.size),
                        Err(_) => "missing".to_owned(),
                    };
                    return Err(RuntimeError::Corrupt {
                        place,
                        digest: l.digest.clone(),
                        detail,
                    });
                }
                report.blobs += 1;
                report.bytes += l.size;
            }
            Ok(report)
        };
        if full {
            blocking(check).await
        } else {
            // Small reads only: no thread hop, which matters for a 10 ms verify-local.
            check()
        }
    }
}

/// Whether two entries carry the same `ref.name`.
fn same_name(a: &Descriptor, b: &Descriptor) -> bool {
    a.annotation(ANNOTATION_REF_NAME).is_some()
        && a.annotation(ANNOTATION_REF_NAME) == b.annotation(ANNOTATION_REF_NAME)
}

/// The entry for an image resolved from a layout, named `repository@top digest`.
fn entry_for(closure: &Closure, repository: &Reference) -> Descriptor {
    let mut entry = closure.top_descriptor();
    entry.set_annotation(
        ANNOTATION_REF_NAME,
        &repository
            .with_digest(closure.top.digest().clone())
            .to_string(),
    );
    if closure.is_index() {
        entry.set_annotation(
            ANNOTATION_PLATFORM_MANIFEST,
            &closure.image.digest().to_string(),
        );
        entry.set_annotation(ANNOTATION_PLATFORM, &closure.platform.to_string());
    }
    entry
}

/// The first entry whose top-level digest is `digest`, else whose recorded platform
/// manifest is; with the platform manifest digest to check.
fn find_entry<'a>(
    index: &'a ImageIndex,
    digest: &Digest,
) -> Option<(&'a Descriptor, Option<Digest>)> {
    let platform_of = |d: &Descriptor| {
        d.annotation(ANNOTATION_PLATFORM_MANIFEST)
            .and_then(|p| Digest::parse(p).ok())
    };
    index
        .manifests
        .iter()
        .find(|d| &d.digest == digest)
        .map(|d| (d, platform_of(d)))
        .or_else(|| {
            index
                .manifests
                .iter()
                .find(|d| platform_of(d).as_ref() == Some(digest))
                .map(|d| (d, Some(digest.clone())))
        })
}

/// Resolves an entry to its image: for an index, the platform manifest recorded (or
/// `platform_manifest`), else the first one present.
fn entry_closure(
    layout: &OciLayout,
    entry: &Descriptor,
    platform_manifest: Option<&Digest>,
) -> Result<Closure> {
    let top = layout.read_manifest(entry)?;
    let Some(index) = top.as_index() else {
        return image::resolve(layout, entry, None);
    };
    let chosen = match platform_manifest {
        Some(p) => index
            .manifests
            .iter()
            .find(|d| &d.digest == p)
            .ok_or_else(|| RuntimeError::BadStore {
                path: layout.root().join("index.json"),
                detail: format!(
                    "entry {} records platform manifest {p}, which its index does not list",
                    entry.digest
                ),
            })?,
        None => index
            .manifests
            .iter()
            .find(|d| layout.has_blob(&d.digest, d.size))
            .ok_or_else(|| RuntimeError::Corrupt {
                place: layout.root().display().to_string(),
                digest: entry.digest.clone(),
                detail: "no platform manifest of this index is present".to_owned(),
            })?,
    };
    let image = layout.read_manifest(chosen)?;
    let manifest = image.as_image().cloned().ok_or_else(|| {
        RuntimeError::InvalidArgument(format!("{} is not an image manifest", chosen.digest))
    })?;
    let platform = chosen.platform.clone().unwrap_or_default();
    Ok(Closure {
        top,
        image,
        platform,
        config: manifest.config,
        layers: manifest.layers,
    })
}

/// The images named in `repository`, grouped by top-level digest, in `index.json` order.
fn images_in(
    layout: &OciLayout,
    index: &ImageIndex,
    repository: &Reference,
) -> Vec<InstalledImage> {
    let mut groups: Vec<(Descriptor, Vec<Name>)> = Vec::new();
    for d in &index.manifests {
        let Some(name) = Name::of(d) else { continue };
        if !name.reference().same_repository(repository) {
            continue;
        }
        match groups.iter_mut().find(|(g, _)| g.digest == d.digest) {
            Some((g, names)) => {
                if g.annotation(ANNOTATION_PLATFORM_MANIFEST).is_none() {
                    *g = d.clone();
                }
                names.push(name);
            }
            None => groups.push((d.clone(), vec![name])),
        }
    }
    groups
        .into_iter()
        .map(|(entry, names)| {
            let platform = entry
                .annotation(ANNOTATION_PLATFORM_MANIFEST)
                .and_then(|p| Digest::parse(p).ok());
            let mut digests = vec![entry.digest.clone()];
            if let Some(p) = &platform
                && p != &entry.digest
            {
                digests.push(p.clone());
            }
            let mut pinned = Vec::new();
            let mut tags = Vec::new();
            for n in names {
                match n {
                    Name::Digest(_) => {
                        if !pinned.contains(&entry.digest) {
                            pinned.push(entry.digest.clone());
                        }
                    }
                    Name::Tag(_, t) => {
                        if !tags.contains(&t) {
                            tags.push(t);
                        }
                    }
                }
            }
            // The id is the config digest. Listing stays lenient (a damaged entry is
            // still listed, with an empty id, so that it can be removed); `verify` is
            // what judges the content.
            let id = image_id(layout, &entry, platform.as_ref()).unwrap_or_default();
            InstalledImage {
                id,
                repository: repository.name(),
                digests,
                pinned,
                tags,
            }
        })
        .collect()
}

/// The config digest of an entry's image, from its manifests (read and re-hashed: they
/// are small).
fn image_id(layout: &OciLayout, entry: &Descriptor, platform: Option<&Digest>) -> Result<String> {
    let top = layout.read_manifest(entry)?;
    let image = match top.as_index() {
        None => top,
        Some(index) => {
            let chosen = index
                .manifests
                .iter()
                .find(|d| Some(&d.digest) == platform)
                .or_else(|| {
                    index
                        .manifests
                        .iter()
                        .find(|d| layout.has_blob(&d.digest, d.size))
                })
                .ok_or_else(|| RuntimeError::InvalidArgument("no platform manifest".into()))?;
            layout.read_manifest(chosen)?
        }
    };
    image
        .as_image()
        .map(|m| m.config.digest.to_string())
        .ok_or_else(|| RuntimeError::InvalidArgument("not an image manifest".into()))
}

/// Reads, edits and atomically replaces `index.json`.
fn update_index(layout: &OciLayout, edit: impl FnOnce(&mut ImageIndex)) -> Result<()> {
    let mut index = layout.index()?;
    edit(&mut index);
    layout.write_index(&index)?;
    Ok(())
}

/// Mark and sweep, with the lock held.
async fn gc_locked(layout: OciLayout) -> Result<GcReport> {
    blocking(move || {
        let mut report = GcReport::default();
        let mut index = layout.index()?;
        let before = index.manifests.len();
        index.manifests.retain(|d| !is_staging(d));
        report.entries_dropped = before - index.manifests.len();
        if report.entries_dropped > 0 {
            layout.write_index(&index)?;
        }
        let mut keep: HashSet<Digest> = HashSet::new();
        for d in &index.manifests {
            mark(&layout, d, &mut keep, 0)?;
        }
        let blobs = layout.root().join("blobs");
        let algs = match fs::read_dir(&blobs) {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
            Err(e) => return Err(io_err(&blobs)(e)),
        };
        for alg in algs {
            let alg = alg.map_err(io_err(&blobs))?;
            let alg_name = alg.file_name().to_string_lossy().into_owned();
            let alg_dir = alg.path();
            if !alg_dir.is_dir() {
                continue;
            }
            for f in fs::read_dir(&alg_dir).map_err(io_err(&alg_dir))? {
                let f = f.map_err(io_err(&alg_dir))?;
                let name = f.file_name().to_string_lossy().into_owned();
                // Only files named like blobs are ours to delete.
                let Ok(d) = Digest::parse(&format!("{alg_name}:{name}")) else {
                    continue;
                };
                if keep.contains(&d) {
                    continue;
                }
                let path = f.path();
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                fs::remove_file(&path).map_err(io_err(&path))?;
                report.blobs_removed += 1;
                report.bytes_freed += size;
            }
        }
        // No pull runs while the lock is held: whatever is partial is abandoned.
        let partial = layout.root().join(".partial");
        if let Ok(entries) = fs::read_dir(&partial) {
            for e in entries.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(report)
    })
    .await
}

/// Marks a manifest and everything it needs. A manifest that is absent has nothing to
/// keep; one that is present but unreadable stops the collection.
fn mark(
    layout: &OciLayout,
    desc: &Descriptor,
    keep: &mut HashSet<Digest>,
    depth: u8,
) -> Result<()> {
    if !layout.blob_path(&desc.digest).exists() {
        return Ok(());
    }
    keep.insert(desc.digest.clone());
    let m = layout
        .read_manifest(desc)
        .map_err(|e| RuntimeError::BadStore {
            path: layout.blob_path(&desc.digest),
            detail: format!("gc refused, nothing deleted: {e}"),
        })?;
    if let Some(index) = m.as_index() {
        if depth > 1 {
            return Ok(());
        }
        for child in &index.manifests {
            mark(layout, child, keep, depth + 1)?;
        }
    } else if let Some(image) = m.as_image() {
        keep.insert(image.config.digest.clone());
        for l in &image.layers {
            keep.insert(l.digest.clone());
        }
    }
    Ok(())
}
