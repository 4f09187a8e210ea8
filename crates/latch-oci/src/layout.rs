//! OCI image layouts on disk: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`.
//!
//! Every blob that enters the layout is verified against its digest first; `index.json`
//! is replaced atomically. A layout is also how Latch's built-in store and air-gap
//! archives hold images.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::fsutil;
use crate::manifest::{
    ANNOTATION_REF_NAME, Descriptor, ImageIndex, MAX_MANIFEST_BYTES, ManifestBytes, ManifestError,
};

/// The content of the `oci-layout` file.
pub const OCI_LAYOUT_FILE: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// Why a layout operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// File system error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// `oci-layout` missing or of an unknown version.
    #[error("{0} is not an OCI image layout (no valid oci-layout file)")]
    NotALayout(PathBuf),
    /// `index.json` malformed.
    #[error("{path}: invalid index.json: {source}")]
    BadIndex {
        /// The path.
        path: PathBuf,
        /// The error.
        source: ManifestError,
    },
    /// A blob is absent.
    #[error("blob {0} is missing from the layout")]
    MissingBlob(Digest),
    /// A blob's content does not match its name.
    #[error("blob {expected} in the layout hashes to {actual}: the layout is corrupt")]
    CorruptBlob {
        /// Its name.
        expected: Digest,
        /// Its content's digest.
        actual: Digest,
    },
    /// A blob larger than the caller's bound.
    #[error("blob {digest} is {size} bytes, over the bound of {max}")]
    TooLarge {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
        /// The bound.
        max: u64,
    },
    /// No manifest with that name in the index.
    #[error("no manifest named {0:?} in the layout's index.json")]
    NoSuchName(String),
    /// Several manifests and no name given.
    #[error("the layout holds {0} manifests; name one (oci:DIR:NAME)")]
    Ambiguous(usize),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LayoutError + '_ {
    move |source| LayoutError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Opens an existing layout, checking its `oci-layout` file.
    pub fn open(root: impl Into<PathBuf>) -> Result<OciLayout, LayoutError> {
        let root = root.into();
        let marker = root.join("oci-layout");
        let text =
            read_bounded(&marker, 4096).map_err(|_| LayoutError::NotALayout(root.clone()))?;
        let v: serde_json::Value =
            serde_json::from_slice(&text).map_err(|_| LayoutError::NotALayout(root.clone()))?;
        if v.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
            return Err(LayoutError::NotALayout(root));
        }
        Ok(OciLayout { root })
    }

    /// Opens the layout at `root`, creating it (with an empty index) if absent.
    pub fn create(root: impl Into<PathBuf>) -> Result<OciLayout, LayoutError> {
        let root = root.into();
        if root.join("oci-layout").exists() {
            return OciLayout::open(root);
        }
        let blobs = root.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(io_err(&blobs))?;
        let layout = OciLayout { root };
        if !layout.root.join("index.json").exists() {
            layout.write_index(&ImageIndex::empty())?;
        }
        let marker = layout.root.join("oci-layout");
        fsutil::atomic_write(&marker, OCI_LAYOUT_FILE.as_bytes()).map_err(io_err(&marker))?;
        Ok(layout)
    }

    /// The layout's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob lives (whether or not it is there).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join(digest.layout_path())
    }

    /// A directory for partial downloads, outside `blobs/` so no reader mistakes one for
    /// a blob.
    pub fn partial_dir(&self) -> Result<PathBuf, LayoutError> {
        let dir = self.root.join(".partial");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// Whether a blob of that digest and size is present (size only; contents are verified
    /// when they enter the layout and when they are read).
    pub fn has_blob(&self, digest: &Digest, size: u64) -> bool {
        fs::metadata(self.blob_path(digest)).is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// Verifies and writes a blob held in memory; returns its sha256 digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest, LayoutError> {
        let digest = Digest::sha256_of(bytes);
        let path = self.blob_path(&digest);
        if fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(digest);
        }
        let dir = path.parent().unwrap_or(&self.root).to_owned();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        fsutil::atomic_write(&path, bytes).map_err(io_err(&path))?;
        Ok(digest)
    }

    /// Moves a downloaded file, already verified by the caller against `digest`, into place.
    /// When the blob is already there (same digest, same size), before the move or because
    /// another writer put it there meanwhile, the file is removed instead: blobs are
    /// content-addressed, and replacing one that a reader has open fails on Windows
    /// ("Access denied").
    pub fn commit_blob(&self, verified_file: &Path, digest: &Digest) -> Result<(), LayoutError> {
        let path = self.blob_path(digest);
        let size = fs::metadata(verified_file)
            .map_err(io_err(verified_file))?
            .len();
        let present = || fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == size);
        if present() {
            return fs::remove_file(verified_file).map_err(io_err(verified_file));
        }
        let dir = path.parent().unwrap_or(&self.root).to_owned();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        match fsutil::durable_rename(verified_file, &path) {
            Err(_) if present() => fs::remove_file(verified_file).map_err(io_err(verified_file)),
            other => other.map_err(io_err(&path)),
        }
    }

    /// Reads a blob into memory, refusing more than `max` bytes, and verifies its digest.
    pub fn read_blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>, LayoutError> {
        let path = self.blob_path(digest);
        let meta = fs::metadata(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => LayoutError::MissingBlob(digest.clone()),
            _ => LayoutError::Io {
                path: path.clone(),
                source: e,
            },
        })?;
        if meta.len() > max {
            return Err(LayoutError::TooLarge {
                digest: digest.clone(),
                size: meta.len(),
                max,
            });
        }
        let bytes = read_bounded(&path, max).map_err(io_err(&path))?;
        let actual = Digest::of(digest.algorithm(), &bytes);
        if &actual != digest {
            return Err(LayoutError::CorruptBlob {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Streams a blob through its hash and checks it, without holding it in memory.
    pub fn verify_blob(&self, digest: &Digest) -> Result<u64, LayoutError> {
        let path = self.blob_path(digest);
        let mut f = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => LayoutError::MissingBlob(digest.clone()),
            _ => LayoutError::Io {
                path: path.clone(),
                source: e,
            },
        })?;
        let mut h = digest.algorithm().hasher();
        let n = io::copy(&mut f, &mut h).map_err(io_err(&path))?;
        let actual = h.finish();
        if &actual != digest {
            return Err(LayoutError::CorruptBlob {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(n)
    }

    /// Reads and verifies a manifest blob.
    pub fn read_manifest(&self, descriptor: &Descriptor) -> Result<ManifestBytes, LayoutError> {
        let bytes = self.read_blob(&descriptor.digest, MAX_MANIFEST_BYTES as u64)?;
        let path = self.blob_path(&descriptor.digest);
        ManifestBytes::parse_verified(bytes, Some(&descriptor.media_type), &descriptor.digest)
            .map_err(|source| LayoutError::BadIndex { path, source })
    }

    /// Reads `index.json`, keeping its exact bytes.
    pub fn read_index(&self) -> Result<ManifestBytes, LayoutError> {
        let path = self.root.join("index.json");
        let bytes = read_bounded(&path, MAX_MANIFEST_BYTES as u64).map_err(io_err(&path))?;
        let m =
            ManifestBytes::parse(bytes, Some(crate::media_types::OCI_INDEX)).map_err(|source| {
                LayoutError::BadIndex {
                    path: path.clone(),
                    source,
                }
            })?;
        if m.as_index().is_none() {
            return Err(LayoutError::BadIndex {
                path,
                source: ManifestError::Ambiguous {
                    declared: m.media_type().to_owned(),
                    content: "an image manifest",
                },
            });
        }
        Ok(m)
    }

    /// The parsed index.
    pub fn index(&self) -> Result<ImageIndex, LayoutError> {
        let m = self.read_index()?;
        Ok(m.as_index().cloned().unwrap_or_else(ImageIndex::empty))
    }

    /// Replaces `index.json` atomically.
    pub fn write_index(&self, index: &ImageIndex) -> Result<(), LayoutError> {
        let path = self.root.join("index.json");
        let bytes = ManifestBytes::from_index(index).into_bytes();
        fsutil::atomic_write(&path, &bytes).map_err(io_err(&path))
    }

    /// Finds a top-level manifest: by `org.opencontainers.image.ref.name` when `name` is
    /// given, else the only one.
    pub fn resolve(&self, name: Option<&str>) -> Result<Descriptor, LayoutError> {
        let index = self.index()?;
        match name {
            Some(n) => index
                .manifests
                .iter()
                .find(|d| d.annotation(ANNOTATION_REF_NAME) == Some(n))
                .cloned()
                .ok_or_else(|| LayoutError::NoSuchName(n.to_owned())),
            None => match index.manifests.as_slice() {
                [only] => Ok(only.clone()),
                many => Err(LayoutError::Ambiguous(many.len())),
            },
        }
    }

    /// Adds (or replaces, by name) a top-level entry in `index.json`.
    pub fn set_ref(
        &self,
        mut descriptor: Descriptor,
        name: Option<&str>,
    ) -> Result<(), LayoutError> {
        let mut index = self.index()?;
        if let Some(n) = name {
            descriptor.set_annotation(ANNOTATION_REF_NAME, n);
            index
                .manifests
                .retain(|d| d.annotation(ANNOTATION_REF_NAME) != Some(n));
        } else {
            index.manifests.retain(|d| d.digest != descriptor.digest);
        }
        index.manifests.push(descriptor);
        self.write_index(&index)
    }
}

/// A layout reference written `oci:DIR[:NAME]`, as skopeo writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutRef {
    /// The layout directory.
    pub dir: PathBuf,
    /// The manifest's `org.opencontainers.image.ref.name`, if given.
    pub name: Option<String>,
}

impl LayoutRef {
    /// Parses `oci:DIR[:NAME]`. The name is what follows the last `:` when that is a valid
    /// tag and the part before it is not empty; so `oci:/tmp/x` has no name and
    /// `oci:/tmp/x:latest` is named `latest`.
    pub fn parse(s: &str) -> Option<LayoutRef> {
        let rest = s.strip_prefix("oci:")?;
        if rest.is_empty() {
            return None;
        }
        if let Some((dir, name)) = rest.rsplit_once(':')
            && !dir.is_empty()
            && !name.is_empty()
            && !name.contains('/')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Some(LayoutRef {
                dir: PathBuf::from(dir),
                name: Some(name.to_owned()),
            });
        }
        Some(LayoutRef {
            dir: PathBuf::from(rest),
            name: None,
        })
    }
}

/// Reads a whole file, refusing more than `max` bytes (checked while reading, so a file
/// that grows meanwhile is still bounded).
pub fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut out = Vec::new();
    f.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file is larger than the bound of {max} bytes"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ImageManifest;
    use crate::media_types as mt;

    fn layout() -> (tempfile::TempDir, OciLayout) {
        let dir = tempfile::tempdir().unwrap();
        let l = OciLayout::create(dir.path().join("l")).unwrap();
        (dir, l)
    }

    #[test]
    fn committing_a_blob_that_is_there_keeps_it_and_removes_the_file() {
        let (d, l) = layout();
        let digest = Digest::sha256_of(b"layer");
        for _ in 0..2 {
            let tmp = d.path().join("downloaded");
            std::fs::write(&tmp, b"layer").unwrap();
            l.commit_blob(&tmp, &digest).unwrap();
            assert!(!tmp.exists(), "the committed file is left behind");
            assert_eq!(l.read_blob(&digest, 10).unwrap(), b"layer");
        }
    }

    #[test]
    fn create_open_write_read() {
        let (_d, l) = layout();
        let again = OciLayout::open(l.root()).unwrap();
        assert!(again.index().unwrap().manifests.is_empty());
        let cfg = l.write_blob(b"{}").unwrap();
        let layer = l.write_blob(b"layer").unwrap();
        assert!(l.has_blob(&layer, 5));
        assert!(!l.has_blob(&layer, 6));
        assert_eq!(l.read_blob(&layer, 10).unwrap(), b"layer");
        assert!(matches!(
            l.read_blob(&layer, 4),
            Err(LayoutError::TooLarge { .. })
        ));
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(mt::OCI_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::for_bytes(mt::OCI_CONFIG, b"{}"),
            layers: vec![Descriptor::for_bytes(mt::OCI_LAYER_TAR, b"layer")],
            subject: None,
            annotations: None,
        };
        assert_eq!(m.config.digest, cfg);
        let mb = ManifestBytes::from_image(&m);
        l.write_blob(mb.bytes()).unwrap();
        l.set_ref(mb.descriptor(), Some("latest")).unwrap();
        let d = l.resolve(Some("latest")).unwrap();
        assert_eq!(&d.digest, mb.digest());
        assert_eq!(l.resolve(None).unwrap().digest, d.digest);
        assert!(matches!(
            l.resolve(Some("nope")),
            Err(LayoutError::NoSuchName(_))
        ));
        assert_eq!(l.read_manifest(&d).unwrap().as_image().unwrap(), &m);
        // Re-tagging replaces the entry rather than adding one.
        l.set_ref(mb.descriptor(), Some("latest")).unwrap();
        assert_eq!(l.index().unwrap().manifests.len(), 1);
    }

    #[test]
    fn detects_corruption_and_absence() {
        let (_d, l) = layout();
        let layer = l.write_blob(b"layer").unwrap();
        fs::write(l.blob_path(&layer), b"LAYER").unwrap();
        assert!(matches!(
            l.read_blob(&layer, 100),
            Err(LayoutError::CorruptBlob { .. })
        ));
        assert!(matches!(
            l.verify_blob(&layer),
            Err(LayoutError::CorruptBlob { .. })
        ));
        let absent = Digest::sha256_of(b"absent");
        assert!(matches!(
            l.read_blob(&absent, 100),
            Err(LayoutError::MissingBlob(_))
        ));
        assert!(matches!(
            l.verify_blob(&absent),
            Err(LayoutError::MissingBlob(_))
        ));
    }

    #[test]
    fn layout_refs() {
        let r = LayoutRef::parse("oci:/tmp/x:latest").unwrap();
        assert_eq!(
            (r.dir.to_str().unwrap(), r.name.as_deref()),
            ("/tmp/x", Some("latest"))
        );
        let r = LayoutRef::parse("oci:rel/dir").unwrap();
        assert_eq!((r.dir.to_str().unwrap(), r.name), ("rel/dir", None));
        let r = LayoutRef::parse("oci:/a:b/c").unwrap();
        assert_eq!((r.dir.to_str().unwrap(), r.name), ("/a:b/c", None));
        assert!(LayoutRef::parse("oci:").is_none());
        assert!(LayoutRef::parse("docker://x").is_none());
    }

    #[test]
    fn refuses_non_layouts() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            OciLayout::open(dir.path()),
            Err(LayoutError::NotALayout(_))
        ));
        fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"2.0.0"}"#,
        )
        .unwrap();
        assert!(matches!(
            OciLayout::open(dir.path()),
            Err(LayoutError::NotALayout(_))
        ));
        fs::write(dir.path().join("oci-layout"), OCI_LAYOUT_FILE).unwrap();
        fs::write(
            dir.path().join("index.json"),
            b"{\"schemaVersion\":2,\"layers\":[]}",
        )
        .unwrap();
        let l = OciLayout::open(dir.path()).unwrap();
        assert!(matches!(l.read_index(), Err(LayoutError::BadIndex { .. })));
    }
}
