//! Image sources: where the two images of a diff come from, and how they are opened.
//!
//! | argument | source |
//! | --- | --- |
//! | `oci:DIR[:NAME]` | an OCI image layout (`NAME` is the `org.opencontainers.image.ref.name`) |
//! | `oci-archive:FILE[:NAME]` | an OCI layout in a tar (`podman save --format oci-archive`) |
//! | `docker-archive:FILE[:REPO:TAG]` | `docker save`, `podman save --format docker-archive` |
//! | `store:DIR[:NAME]` | Latch's built-in store; `NAME` is `repository@digest`, `repository:tag`, a digest, or a repository holding one image |
//! | an existing file | an archive, its kind detected from its members |
//! | an existing directory | an OCI layout |
//! | anything else (`docker://` optional) | a registry reference, pulled into a temporary layout |
//!
//! Manifests and configs are verified against their digests when opened; layers are
//! verified as they are streamed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use latch_oci::manifest::{ANNOTATION_REF_NAME, MAX_MANIFEST_BYTES};
use latch_oci::media_types as mt;
use latch_oci::{Descriptor, Digest, LayoutRef, ManifestBytes, Platform, Reference};
use latch_registry::{Client, ClientOptions, NoProgress, PullOptions};

use crate::Limits;
use crate::archive::{ArchiveIndex, ArchiveKind};
use crate::blob::Region;
use crate::error::{DiffError, Result};

/// An image source, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A registry reference.
    Registry(Reference),
    /// An OCI layout directory, and the name of the image in its `index.json`.
    Layout {
        /// The directory.
        dir: PathBuf,
        /// The `ref.name`.
        name: Option<String>,
    },
    /// An oci-archive tar.
    OciArchive {
        /// The file.
        path: PathBuf,
        /// The `ref.name`.
        name: Option<String>,
    },
    /// A docker-archive tar.
    DockerArchive {
        /// The file.
        path: PathBuf,
        /// One of its `RepoTags`.
        name: Option<String>,
    },
    /// A tar whose kind is detected from its members.
    Archive {
        /// The file.
        path: PathBuf,
    },
    /// Latch's built-in store (an OCI layout whose entries are named
    /// `repository@digest`), and which image.
    Store {
        /// The store directory.
        dir: PathBuf,
        /// `repository@digest`, `repository:tag`, a digest or a repository.
        name: Option<String>,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let named =
            |f: &mut std::fmt::Formatter<'_>, prefix: &str, p: &Path, n: &Option<String>| {
                write!(f, "{prefix}{}", p.display())?;
                if let Some(n) = n {
                    write!(f, ":{n}")?;
                }
                Ok(())
            };
        match self {
            Source::Registry(r) => write!(f, "{r}"),
            Source::Layout { dir, name } => named(f, "oci:", dir, name),
            Source::OciArchive { path, name } => named(f, "oci-archive:", path, name),
            Source::DockerArchive { path, name } => named(f, "docker-archive:", path, name),
            Source::Archive { path } => write!(f, "{}", path.display()),
            Source::Store { dir, name } => named(f, "store:", dir, name),
        }
    }
}

/// Splits `PATH[:NAME]` where PATH must exist: the whole string if it exists, else at
/// the last `:` whose left side exists.
fn split_existing(rest: &str) -> Option<(PathBuf, Option<String>)> {
    if Path::new(rest).exists() {
        return Some((PathBuf::from(rest), None));
    }
    let mut idx = rest.len();
    while let Some(i) = rest[..idx].rfind(':') {
        let (p, n) = (&rest[..i], &rest[i + 1..]);
        if !p.is_empty() && !n.is_empty() && Path::new(p).exists() {
            return Some((PathBuf::from(p), Some(n.to_owned())));
        }
        idx = i;
    }
    None
}

impl Source {
    /// Parses a source argument (see the module documentation). Paths given with a
    /// prefix must exist (except `oci:` layouts, checked when opened).
    pub fn parse(arg: &str) -> Result<Source> {
        let bad = |detail: &str| DiffError::BadSource {
            source_arg: arg.to_owned(),
            detail: detail.to_owned(),
        };
        if arg.starts_with("oci:") {
            let r = LayoutRef::parse(arg).ok_or_else(|| bad("expected oci:DIR[:NAME]"))?;
            return Ok(Source::Layout {
                dir: r.dir,
                name: r.name,
            });
        }
        for (prefix, kind) in [("oci-archive:", 0), ("docker-archive:", 1), ("store:", 2)] {
            if let Some(rest) = arg.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Err(bad("no path after the prefix"));
                }
                let (path, name) = split_existing(rest).ok_or_else(|| {
                    bad(&format!(
                        "{rest:?} does not exist (expected {prefix}PATH[:NAME])"
                    ))
                })?;
                return Ok(match kind {
                    0 => Source::OciArchive { path, name },
                    1 => Source::DockerArchive { path, name },
                    _ => Source::Store { dir: path, name },
                });
            }
        }
        if let Some(rest) = arg.strip_prefix("docker://") {
            return Reference::parse(rest)
                .map(Source::Registry)
                .map_err(|e| bad(&e.to_string()));
        }
        let p = Path::new(arg);
        if p.is_file() {
            return Ok(Source::Archive { path: p.to_owned() });
        }
        if p.is_dir() {
            return Ok(Source::Layout {
                dir: p.to_owned(),
                name: None,
            });
        }
        Reference::parse(arg).map(Source::Registry).map_err(|e| {
            bad(&format!(
                "not an existing file or directory, and not an image reference: {e}"
            ))
        })
    }

    /// Whether opening it needs the network.
    pub fn is_registry(&self) -> bool {
        matches!(self, Source::Registry(_))
    }
}

/// How sources are opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The registry client (default: [`ClientOptions::from_env`]).
    pub client: Option<Client>,
    /// For a registry source: pull only this platform of an index (otherwise every
    /// platform is pulled).
    pub platform: Option<Platform>,
    /// Bounds.
    pub limits: Limits,
    /// Where registry images are pulled (default: a temporary directory, removed when
    /// the [`Image`] is dropped).
    pub scratch_dir: Option<PathBuf>,
}

/// Where an image came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A registry (pulled).
    Registry,
    /// An OCI layout.
    OciLayout,
    /// An oci-archive.
    OciArchive,
    /// A docker-archive.
    DockerArchive,
    /// The built-in store.
    Store,
}

/// A layer of an image, readable as a byte range of a local file.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Media type (as declared; a docker-archive's layers are `…rootfs.diff.tar`).
    pub media_type: String,
    /// The blob's digest, checked while it is read (`None` for a docker-archive layer
    /// whose file name is not a digest).
    pub digest: Option<Digest>,
    /// The blob's size.
    pub size: u64,
    /// The config's `diff_id` for it, checked against the uncompressed stream.
    pub diff_id: Option<Digest>,
    /// Descriptor annotations.
    pub annotations: BTreeMap<String, String>,
    pub(crate) region: Region,
}

/// One platform's image.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    /// The image manifest (`None` for a docker-archive, which has none).
    pub manifest: Option<ManifestBytes>,
    /// The config's exact bytes.
    pub config_bytes: Vec<u8>,
    /// Their digest.
    pub config_digest: Digest,
    /// The config, parsed.
    pub config: serde_json::Value,
    /// The platform the config declares.
    pub platform: Platform,
    /// Layers, base first.
    pub layers: Vec<Layer>,
}

/// An entry of an image: one platform (an index lists several; a single image has one).
#[derive(Debug, Clone)]
pub struct PlatformEntry {
    /// The index entry (`None` for a single image).
    pub descriptor: Option<Descriptor>,
    /// The platform (the index entry's, else the config's).
    pub platform: Option<Platform>,
    /// The image, or `None` when its blobs are not here (a store or a pull keeps one
    /// platform of an index).
    pub image: Option<PlatformImage>,
}

/// An opened image.
#[derive(Debug)]
pub struct Image {
    /// The source, as given.
    pub label: String,
    /// What kind of source.
    pub kind: SourceKind,
    /// The top-level manifest: an index or an image manifest (`None` for a
    /// docker-archive).
    pub top: Option<ManifestBytes>,
    /// Annotations of the entry that named the image (a layout's `index.json` entry).
    pub entry_annotations: BTreeMap<String, String>,
    /// Its platforms (one for a single image).
    pub entries: Vec<PlatformEntry>,
    /// The index digest a registry pull selected the platform from, if any.
    pub index_digest: Option<Digest>,
    _scratch: Option<tempfile::TempDir>,
}

impl Image {
    /// Whether the top-level manifest is an index.
    pub fn is_index(&self) -> bool {
        self.top.as_ref().is_some_and(|t| t.as_index().is_some())
    }

    /// The digest that names the image: the top-level manifest's, else (docker-archive)
    /// the config's (the image id).
    pub fn digest(&self) -> Option<Digest> {
        match &self.top {
            Some(t) => Some(t.digest().clone()),
            None => self
                .entries
                .first()
                .and_then(|e| e.image.as_ref())
                .map(|i| i.config_digest.clone()),
        }
    }

    /// The platforms whose images are here.
    pub fn platforms(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.image.is_some())
            .filter_map(|e| e.platform.as_ref().map(|p| p.to_string()))
            .collect()
    }
}

/// Where the blobs of an OCI-layout-like source are.
enum Blobs<'a> {
    Dir(&'a Path),
    Archive(&'a ArchiveIndex),
}

impl Blobs<'_> {
    fn region(&self, digest: &Digest) -> Option<Region> {
        match self {
            Blobs::Dir(root) => Region::file(&root.join(digest.layout_path())).ok(),
            Blobs::Archive(a) => a.get(&digest.layout_path()).cloned(),
        }
    }

    fn file(&self, name: &str) -> Option<Region> {
        match self {
            Blobs::Dir(root) => Region::file(&root.join(name)).ok(),
            Blobs::Archive(a) => a.get(name).cloned(),
        }
    }
}

/// Opens a source. Registry images are pulled into a temporary layout first (only
/// `opts.platform` of an index, when given).
pub async fn open(source: &Source, opts: &OpenOptions) -> Result<Image> {
    let label = source.to_string();
    match source {
        Source::Registry(reference) => open_registry(reference, opts, label).await,
        Source::Layout { dir, name } => {
            let img = open_oci(
                &Blobs::Dir(dir),
                name.as_deref(),
                &label,
                &opts.limits,
                None,
            )?;
            Ok(finish(img, label, SourceKind::OciLayout, None))
        }
        Source::Store { dir, name } => open_store(dir, name.as_deref(), label, opts).await,
        Source::OciArchive { path, name } => {
            let idx = ArchiveIndex::open(path, &opts.limits)?;
            open_archive_as(&idx, ArchiveKind::Oci, name.as_deref(), label, &opts.limits)
        }
        Source::DockerArchive { path, name } => {
            let idx = ArchiveIndex::open(path, &opts.limits)?;
            open_archive_as(
                &idx,
                ArchiveKind::Docker,
                name.as_deref(),
                label,
                &opts.limits,
            )
        }
        Source::Archive { path } => {
            let idx = ArchiveIndex::open(path, &opts.limits)?;
            let kind = idx.kind().ok_or_else(|| DiffError::BadArchive {
                path: path.clone(),
                detail: "has neither index.json and oci-layout (oci-archive) nor manifest.json (docker-archive)".to_owned(),
            })?;
            open_archive_as(&idx, kind, None, label, &opts.limits)
        }
    }
}

/// Opens two sources for a diff. Local sources are opened first, so that a registry
/// index is pulled only for the platform the other side has when no platform is given.
pub async fn open_pair(a: &Source, b: &Source, opts: &OpenOptions) -> Result<(Image, Image)> {
    let single_platform = |img: &Image| -> Option<Platform> {
        if img.is_index() {
            return None;
        }
        img.entries.first().and_then(|e| e.platform.clone())
    };
    match (a.is_registry(), b.is_registry()) {
        (true, false) => {
            let ib = open(b, opts).await?;
            let mut o = opts.clone();
            if o.platform.is_none() {
                o.platform = single_platform(&ib);
            }
            let ia = open(a, &o).await?;
            Ok((ia, ib))
        }
        (false, true) => {
            let ia = open(a, opts).await?;
            let mut o = opts.clone();
            if o.platform.is_none() {
                o.platform = single_platform(&ia);
            }
            let ib = open(b, &o).await?;
            Ok((ia, ib))
        }
        _ => {
            let ia = open(a, opts).await?;
            let ib = open(b, opts).await?;
            Ok((ia, ib))
        }
    }
}

struct Opened {
    top: Option<ManifestBytes>,
    entry_annotations: BTreeMap<String, String>,
    entries: Vec<PlatformEntry>,
}

fn finish(o: Opened, label: String, kind: SourceKind, scratch: Option<tempfile::TempDir>) -> Image {
    Image {
        label,
        kind,
        top: o.top,
        entry_annotations: o.entry_annotations,
        entries: o.entries,
        index_digest: None,
        _scratch: scratch,
    }
}

fn open_archive_as(
    idx: &ArchiveIndex,
    kind: ArchiveKind,
    name: Option<&str>,
    label: String,
    limits: &Limits,
) -> Result<Image> {
    match kind {
        ArchiveKind::Oci => {
            let o = open_oci(&Blobs::Archive(idx), name, &label, limits, None)?;
            Ok(finish(o, label, SourceKind::OciArchive, None))
        }
        ArchiveKind::Docker => {
            let o = open_docker(idx, name, &label, limits)?;
            Ok(finish(o, label, SourceKind::DockerArchive, None))
        }
    }
}

fn bad_json(what: &str, detail: impl ToString) -> DiffError {
    DiffError::BadJson {
        what: what.to_owned(),
        detail: detail.to_string(),
    }
}

/// How an entry of a layout's `index.json` is chosen.
type Chooser<'a> = &'a dyn Fn(&[Descriptor]) -> Result<Descriptor>;

/// Opens an OCI layout (a directory or an archive).
fn open_oci(
    blobs: &Blobs<'_>,
    name: Option<&str>,
    label: &str,
    limits: &Limits,
    chooser: Option<Chooser<'_>>,
) -> Result<Opened> {
    let missing = |what: &str| DiffError::BadSource {
        source_arg: label.to_owned(),
        detail: format!("{what} is missing: not an OCI layout"),
    };
    let marker = blobs
        .file("oci-layout")
        .ok_or_else(|| missing("oci-layout"))?;
    let marker = marker.read_verified(None, 4096, label)?;
    let v: serde_json::Value = serde_json::from_slice(&marker)
        .map_err(|e| bad_json(&format!("{label}: oci-layout"), e))?;
    if v.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
        return Err(bad_json(
            &format!("{label}: oci-layout"),
            "imageLayoutVersion is not 1.0.0",
        ));
    }
    let index_region = blobs
        .file("index.json")
        .ok_or_else(|| missing("index.json"))?;
    let index_bytes = index_region.read_verified(None, MAX_MANIFEST_BYTES as u64, label)?;
    let index = ManifestBytes::parse(index_bytes, Some(mt::OCI_INDEX)).map_err(|source| {
        DiffError::Manifest {
            what: format!("{label}: index.json"),
            source,
        }
    })?;
    let index = index
        .as_index()
        .ok_or_else(|| bad_json(&format!("{label}: index.json"), "is not an image index"))?;
    let entry = match chooser {
        Some(choose) => choose(&index.manifests)?,
        None => choose_by_name(&index.manifests, name, label)?,
    };
    let top = read_manifest(blobs, &entry, label)?;
    let entry_annotations = entry.annotations.clone().unwrap_or_default();
    let entries = match top.as_index() {
        Some(idx) => {
            let mut entries = Vec::new();
            for d in &idx.manifests {
                let image = match blobs.region(&d.digest) {
                    None => None,
                    Some(_) => {
                        let m = read_manifest(blobs, d, label)?;
                        if m.as_index().is_some() {
                            return Err(DiffError::BadSource {
                                source_arg: label.to_owned(),
                                detail: format!(
                                    "index entry {} is itself an index; nested indexes are not supported",
                                    d.digest
                                ),
                            });
                        }
                        // A platform whose config or layers are absent is not here.
                        let present = m.as_image().is_some_and(|im| {
                            blobs.region(&im.config.digest).is_some()
                                && im.layers.iter().all(|l| blobs.region(&l.digest).is_some())
                        });
                        if present {
                            Some(read_image(blobs, m, label, limits)?)
                        } else {
                            None
                        }
                    }
                };
                entries.push(PlatformEntry {
                    descriptor: Some(d.clone()),
                    platform: d
                        .platform
                        .clone()
                        .or_else(|| image.as_ref().map(|i| i.platform.clone())),
                    image,
                });
            }
            entries
        }
        None => {
            let img = read_image(blobs, top.clone(), label, limits)?;
            vec![PlatformEntry {
                descriptor: None,
                platform: Some(img.platform.clone()),
                image: Some(img),
            }]
        }
    };
    Ok(Opened {
        top: Some(top),
        entry_annotations,
        entries,
    })
}

fn choose_by_name(manifests: &[Descriptor], name: Option<&str>, label: &str) -> Result<Descriptor> {
    match name {
        Some(n) => manifests
            .iter()
            .find(|d| d.annotation(ANNOTATION_REF_NAME) == Some(n))
            .cloned()
            .ok_or_else(|| DiffError::BadSource {
                source_arg: label.to_owned(),
                detail: format!(
                    "no image named {n:?} in index.json (names: {})",
                    names(manifests)
                ),
            }),
        None => match manifests {
            [only] => Ok(only.clone()),
            [] => Err(DiffError::BadSource {
                source_arg: label.to_owned(),
                detail: "index.json lists no image".to_owned(),
            }),
            many => Err(DiffError::BadSource {
                source_arg: label.to_owned(),
                detail: format!(
                    "index.json lists {} images; name one (names: {})",
                    many.len(),
                    names(many)
                ),
            }),
        },
    }
}

fn names(manifests: &[Descriptor]) -> String {
    let mut v: Vec<String> = manifests
        .iter()
        .take(20)
        .map(|d| {
            d.annotation(ANNOTATION_REF_NAME)
                .map(str::to_owned)
                .unwrap_or_else(|| d.digest.to_string())
        })
        .collect();
    if manifests.len() > 20 {
        v.push("…".to_owned());
    }
    v.join(", ")
}

fn read_manifest(blobs: &Blobs<'_>, d: &Descriptor, label: &str) -> Result<ManifestBytes> {
    let region = blobs
        .region(&d.digest)
        .ok_or_else(|| DiffError::BadSource {
            source_arg: label.to_owned(),
            detail: format!("blob {} is missing", d.digest),
        })?;
    if region.len != d.size {
        return Err(DiffError::BadSource {
            source_arg: label.to_owned(),
            detail: format!(
                "manifest {} is {} bytes, its descriptor says {}",
                d.digest, region.len, d.size
            ),
        });
    }
    let bytes = region.read_verified(Some(&d.digest), MAX_MANIFEST_BYTES as u64, label)?;
    ManifestBytes::parse_verified(bytes, Some(&d.media_type), &d.digest).map_err(|source| {
        DiffError::Manifest {
            what: format!("{label}: manifest {}", d.digest),
            source,
        }
    })
}

fn parse_config(bytes: &[u8], label: &str) -> Result<(serde_json::Value, Platform)> {
    let config: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad_json(&format!("{label}: config"), e))?;
    if !config.is_object() {
        return Err(bad_json(
            &format!("{label}: config"),
            "is not a JSON object",
        ));
    }
    let s = |k: &str| {
        config
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let variant = config.get("variant").and_then(|v| v.as_str());
    let platform = Platform::new(&s("os"), &s("architecture"), variant);
    Ok((config, platform))
}

fn diff_ids(config: &serde_json::Value) -> Vec<Option<Digest>> {
    config
        .pointer("/rootfs/diff_ids")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .map(|d| d.as_str().and_then(|s| Digest::parse(s).ok()))
                .collect()
        })
        .unwrap_or_default()
}

fn read_image(
    blobs: &Blobs<'_>,
    manifest: ManifestBytes,
    label: &str,
    limits: &Limits,
) -> Result<PlatformImage> {
    let m = manifest
        .as_image()
        .ok_or_else(|| bad_json(label, "expected an image manifest"))?
        .clone();
    if m.layers.len() > limits.max_layers {
        return Err(DiffError::Limit {
            image: label.to_owned(),
            what: format!("{} layers", m.layers.len()),
            max: limits.max_layers as u64,
        });
    }
    let config_region = blobs
        .region(&m.config.digest)
        .ok_or_else(|| DiffError::BadSource {
            source_arg: label.to_owned(),
            detail: format!("blob {} is missing", m.config.digest),
        })?;
    let config_bytes =
        config_region.read_verified(Some(&m.config.digest), limits.max_config_bytes, label)?;
    let (config, platform) = parse_config(&config_bytes, label)?;
    let ids = diff_ids(&config);
    let mut layers = Vec::with_capacity(m.layers.len());
    for (i, l) in m.layers.iter().enumerate() {
        if mt::layer_compression(&l.media_type).is_none() {
            return Err(DiffError::BadSource {
                source_arg: label.to_owned(),
                detail: format!(
                    "layer {} has media type {:?}, which is not a tar layer",
                    i + 1,
                    l.media_type
                ),
            });
        }
        let region = blobs
            .region(&l.digest)
            .ok_or_else(|| DiffError::BadSource {
                source_arg: label.to_owned(),
                detail: format!("blob {} is missing", l.digest),
            })?;
        if region.len != l.size {
            return Err(DiffError::BadSource {
                source_arg: label.to_owned(),
                detail: format!(
                    "layer {} is {} bytes, its descriptor says {}",
                    l.digest, region.len, l.size
                ),
            });
        }
        layers.push(Layer {
            media_type: l.media_type.clone(),
            digest: Some(l.digest.clone()),
            size: l.size,
            diff_id: ids.get(i).cloned().flatten(),
            annotations: l.annotations.clone().unwrap_or_default(),
            region,
        });
    }
    Ok(PlatformImage {
        config_digest: m.config.digest.clone(),
        manifest: Some(manifest),
        config_bytes,
        config,
        platform,
        layers,
    })
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// A digest in a member name: `blobs/sha256/<hex>`, `<hex>.json`, `<hex>.tar`,
/// `sha256:<hex>`.
fn digest_in_name(name: &str) -> Option<Digest> {
    let n = name.trim_start_matches("./");
    if let Some(hex) = n.strip_prefix("blobs/sha256/") {
        return Digest::from_sha256_hex(hex).ok();
    }
    let stem = n
        .strip_suffix(".json")
        .or_else(|| n.strip_suffix(".tar"))
        .unwrap_or(n);
    let stem = stem.strip_prefix("sha256:").unwrap_or(stem);
    if stem.len() == 64 {
        return Digest::from_sha256_hex(stem).ok();
    }
    None
}

fn open_docker(
    idx: &ArchiveIndex,
    name: Option<&str>,
    label: &str,
    limits: &Limits,
) -> Result<Opened> {
    let bad = |detail: String| DiffError::BadArchive {
        path: idx.path.clone(),
        detail,
    };
    let region = idx
        .get("manifest.json")
        .ok_or_else(|| bad("has no manifest.json: not a docker-archive".to_owned()))?;
    let bytes = region.read_verified(None, MAX_MANIFEST_BYTES as u64, label)?;
    let list: Vec<DockerEntry> = serde_json::from_slice(&bytes)
        .map_err(|e| bad_json(&format!("{label}: manifest.json"), e))?;
    let tags = |e: &DockerEntry| e.repo_tags.clone().unwrap_or_default();
    let entry = match name {
        Some(n) => list
            .iter()
            .find(|e| {
                tags(e).iter().any(|t| {
                    t == n
                        || t.strip_prefix("localhost/") == Some(n)
                        || t.strip_prefix("docker.io/library/") == Some(n)
                        || t.strip_prefix("docker.io/") == Some(n)
                })
            })
            .ok_or_else(|| bad(format!("no image tagged {n:?} in manifest.json")))?,
        None => match list.as_slice() {
            [only] => only,
            [] => return Err(bad("manifest.json lists no image".to_owned())),
            many => {
                let all: Vec<String> = many.iter().take(20).flat_map(tags).collect();
                return Err(bad(format!(
                    "manifest.json lists {} images; name one with docker-archive:PATH:REPO:TAG (tags: {})",
                    many.len(),
                    all.join(", ")
                )));
            }
        },
    };
    if entry.layers.len() > limits.max_layers {
        return Err(DiffError::Limit {
            image: label.to_owned(),
            what: format!("{} layers", entry.layers.len()),
            max: limits.max_layers as u64,
        });
    }
    let config_region = idx
        .get(&entry.config)
        .ok_or_else(|| bad(format!("config {:?} is missing", entry.config)))?;
    let named = digest_in_name(&entry.config);
    let config_bytes =
        config_region.read_verified(named.as_ref(), limits.max_config_bytes, label)?;
    let config_digest = Digest::sha256_of(&config_bytes);
    let (config, platform) = parse_config(&config_bytes, label)?;
    let ids = diff_ids(&config);
    if ids.len() != entry.layers.len() {
        return Err(bad(format!(
            "manifest.json lists {} layers, the config's rootfs {}",
            entry.layers.len(),
            ids.len()
        )));
    }
    let mut layers = Vec::new();
    for (i, l) in entry.layers.iter().enumerate() {
        let region = idx
            .get(l)
            .ok_or_else(|| bad(format!("layer {l:?} is missing")))?;
        layers.push(Layer {
            media_type: "application/vnd.docker.image.rootfs.diff.tar".to_owned(),
            digest: digest_in_name(l),
            size: region.len,
            diff_id: ids.get(i).cloned().flatten(),
            annotations: BTreeMap::new(),
            region: region.clone(),
        });
    }
    Ok(Opened {
        top: None,
        entry_annotations: BTreeMap::new(),
        entries: vec![PlatformEntry {
            descriptor: None,
            platform: Some(platform.clone()),
            image: Some(PlatformImage {
                manifest: None,
                config_bytes,
                config_digest,
                config,
                platform,
                layers,
            }),
        }],
    })
}

async fn open_registry(reference: &Reference, opts: &OpenOptions, label: String) -> Result<Image> {
    let client = match &opts.client {
        Some(c) => c.clone(),
        None => Client::new(ClientOptions::from_env())?,
    };
    let (scratch, dir) = match &opts.scratch_dir {
        Some(d) => (None, d.clone()),
        None => {
            let t = tempfile::Builder::new()
                .prefix("latch-diff-")
                .tempdir()
                .map_err(|e| DiffError::Io {
                    path: std::env::temp_dir(),
                    source: e,
                })?;
            let p = t.path().to_owned();
            (Some(t), p)
        }
    };
    let layout = latch_oci::OciLayout::create(&dir)?;
    let pull = PullOptions {
        platform: opts.platform.clone(),
        name: Some("latch-diff".to_owned()),
    };
    let report =
        latch_registry::pull_to_layout(&client, reference, &layout, &pull, &NoProgress).await?;
    let o = open_oci(
        &Blobs::Dir(&dir),
        Some("latch-diff"),
        &label,
        &opts.limits,
        None,
    )?;
    let mut img = finish(o, label, SourceKind::Registry, scratch);
    img.entry_annotations.clear();
    img.index_digest = report.index_digest;
    Ok(img)
}

async fn open_store(
    dir: &Path,
    name: Option<&str>,
    label: String,
    opts: &OpenOptions,
) -> Result<Image> {
    let store = latch_runtime::BuiltinStore::new(dir);
    let layout = store.layout()?;
    let index = layout.index()?;
    let wanted: Option<Descriptor> = match name {
        None => None,
        Some(n) => {
            if let Some(d) = index
                .manifests
                .iter()
                .find(|d| d.annotation(ANNOTATION_REF_NAME) == Some(n))
            {
                Some(d.clone())
            } else if let Ok(digest) = Digest::parse(n) {
                Some(store.descriptor(&digest)?)
            } else if let Ok(r) = Reference::parse(n) {
                // A repository: its one image.
                let mut found: Vec<Descriptor> = Vec::new();
                for d in &index.manifests {
                    let Some(rn) = d.annotation(ANNOTATION_REF_NAME) else {
                        continue;
                    };
                    if Reference::parse(rn).is_ok_and(|x| x.same_repository(&r))
                        && !found.iter().any(|f| f.digest == d.digest)
                    {
                        found.push(d.clone());
                    }
                }
                match found.as_slice() {
                    [one] => Some(one.clone()),
                    [] => {
                        return Err(DiffError::BadSource {
                            source_arg: label,
                            detail: format!("no image of {n:?} in the store"),
                        });
                    }
                    many => {
                        return Err(DiffError::BadSource {
                            source_arg: label,
                            detail: format!(
                                "the store holds {} images of {n:?}; name one by digest (store:DIR:REPOSITORY@DIGEST)",
                                many.len()
                            ),
                        });
                    }
                }
            } else {
                return Err(DiffError::BadSource {
                    source_arg: label,
                    detail: format!("no image named {n:?} in the store"),
                });
            }
        }
    };
    let chooser = move |manifests: &[Descriptor]| -> Result<Descriptor> {
        if let Some(w) = &wanted {
            return Ok(w.clone());
        }
        let mut digests: Vec<&Descriptor> = Vec::new();
        for d in manifests {
            if d.annotation(ANNOTATION_REF_NAME)
                .is_some_and(|n| n.starts_with("latch-staging/"))
            {
                continue;
            }
            if !digests.iter().any(|x| x.digest == d.digest) {
                digests.push(d);
            }
        }
        match digests.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(DiffError::BadSource {
                source_arg: format!("store:{}", dir.display()),
                detail: format!(
                    "the store holds {} images; name one: store:DIR:NAME (names: {})",
                    digests.len(),
                    names(manifests)
                ),
            }),
        }
    };
    let label2 = label.clone();
    let mut o = open_oci(
        &Blobs::Dir(dir),
        None,
        &label2,
        &opts.limits,
        Some(&chooser),
    )?;
    // The store records which platform of an index it installed.
    if let Some(p) = o
        .entry_annotations
        .get(latch_runtime::store::ANNOTATION_PLATFORM_MANIFEST)
        .and_then(|p| Digest::parse(p).ok())
    {
        for e in &mut o.entries {
            if e.descriptor.as_ref().is_some_and(|d| d.digest != p) {
                e.image = None;
            }
        }
    }
    Ok(finish(o, label, SourceKind::Store, None))
}
