//! One image in an OCI layout, with everything it needs: its top-level manifest (an index
//! or an image manifest), the platform's image manifest, the config and the layers.
//! Reading and copying blobs always re-hashes them.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use latch_oci::{Descriptor, Digest, Hasher, ImageConfig, ManifestBytes, OciLayout, Platform};

use crate::error::{Result, RuntimeError, io_err};

/// Bound on a config blob read into memory.
pub(crate) const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// An image held in a layout, resolved down to its blobs.
#[derive(Debug, Clone)]
pub(crate) struct Closure {
    /// The top-level manifest as the caller named it (index or image manifest).
    pub top: ManifestBytes,
    /// The image manifest run (the top itself, or the platform's entry of the index).
    pub image: ManifestBytes,
    /// The platform of the image (index entry's, else the config's).
    pub platform: Platform,
    /// Config descriptor.
    pub config: Descriptor,
    /// Layer descriptors, base first.
    pub layers: Vec<Descriptor>,
}

impl Closure {
    /// Whether the top-level manifest is an index.
    pub fn is_index(&self) -> bool {
        self.top.as_index().is_some()
    }

    /// The top-level manifest's descriptor (no annotations, no platform).
    pub fn top_descriptor(&self) -> Descriptor {
        self.top.descriptor()
    }

    /// The image manifest's descriptor, with its platform.
    pub fn image_descriptor(&self) -> Descriptor {
        let mut d = self.image.descriptor();
        d.platform = Some(self.platform.clone());
        d
    }

    /// Config and layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Descriptor> {
        std::iter::once(&self.config).chain(self.layers.iter())
    }
}

/// Resolves `descriptor` (an index or an image manifest in `layout`) to one image. For an
/// index, the first entry for `platform` (default: the host's) whose manifest is present
/// in the layout is chosen.
pub(crate) fn resolve(
    layout: &OciLayout,
    descriptor: &Descriptor,
    platform: Option<&Platform>,
) -> Result<Closure> {
    let top = layout.read_manifest(descriptor)?;
    let (image, entry_platform) = match top.as_index() {
        Some(index) => {
            let wanted = platform.cloned().unwrap_or_else(Platform::host);
            let candidates: Vec<&Descriptor> = index
                .manifests
                .iter()
                .filter(|d| {
                    d.platform.as_ref().is_some_and(|p| p.satisfies(&wanted))
                        && d.annotation("vnd.docker.reference.type") != Some("attestation-manifest")
                })
                .collect();
            let place = layout.root().display().to_string();
            let Some(first) = candidates.first() else {
                return Err(RuntimeError::NoSuchPlatform {
                    digest: top.digest().clone(),
                    platform: wanted.to_string(),
                    place,
                    available: index
                        .platforms()
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            let chosen = candidates
                .iter()
                .find(|d| layout.has_blob(&d.digest, d.size))
                .unwrap_or(first);
            let m = layout.read_manifest(chosen)?;
            if m.as_image().is_none() {
                return Err(RuntimeError::InvalidArgument(format!(
                    "index {} lists {}, itself an index: nested indexes are not supported",
                    top.digest(),
                    chosen.digest
                )));
            }
            (m, chosen.platform.clone())
        }
        None => (top.clone(), None),
    };
    let Some(manifest) = image.as_image() else {
        return Err(RuntimeError::InvalidArgument(format!(
            "{} is not an image manifest",
            image.digest()
        )));
    };
    let config = manifest.config.clone();
    let layers = manifest.layers.clone();
    let platform = match entry_platform {
        Some(p) => p,
        None => {
            let bytes = layout.read_blob(&config.digest, MAX_CONFIG_BYTES)?;
            ImageConfig::parse(&bytes)?.platform()
        }
    };
    Ok(Closure {
        top,
        image,
        platform,
        config,
        layers,
    })
}

/// A reader that hashes and counts what passes through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, digest: &Digest) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: digest.algorithm().hasher(),
            count: 0,
        }
    }

    /// Checks what was read against the descriptor.
    pub fn check(self, place: &Path, desc: &Descriptor) -> Result<()> {
        let actual = self.hasher.finish();
        if self.count != desc.size {
            return Err(RuntimeError::Corrupt {
                place: place.display().to_string(),
                digest: desc.digest.clone(),
                detail: format!("{} bytes, expected {}", self.count, desc.size),
            });
        }
        if actual != desc.digest {
            return Err(RuntimeError::Corrupt {
                place: place.display().to_string(),
                digest: desc.digest.clone(),
                detail: format!("content hashes to {actual}"),
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Opens a blob of `layout` for a verified read of exactly `desc.size` bytes (the caller
/// reads it through, then calls [`HashingReader::check`]).
pub(crate) fn open_blob(
    layout: &OciLayout,
    desc: &Descriptor,
) -> Result<HashingReader<io::Take<File>>> {
    let path = layout.blob_path(&desc.digest);
    let f = File::open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => RuntimeError::Corrupt {
            place: layout.root().display().to_string(),
            digest: desc.digest.clone(),
            detail: "missing".to_owned(),
        },
        _ => RuntimeError::Io {
            path: path.clone(),
            source: e,
        },
    })?;
    // One byte more than declared, so a longer file shows up as a size mismatch.
    Ok(HashingReader::new(f.take(desc.size + 1), &desc.digest))
}

/// Copies a blob from `from` into `to`, verified on the way, moved into place only once
/// it matches. Skipped when `to` already holds a blob of that name and size.
pub(crate) fn copy_blob(from: &OciLayout, to: &OciLayout, desc: &Descriptor) -> Result<bool> {
    if to.has_blob(&desc.digest, desc.size) {
        return Ok(false);
    }
    let partial_dir = to.partial_dir()?;
    let mut tmp = tempfile::NamedTempFile::new_in(&partial_dir).map_err(io_err(&partial_dir))?;
    let mut reader = open_blob(from, desc)?;
    let src = from.blob_path(&desc.digest);
    io::copy(&mut reader, tmp.as_file_mut()).map_err(io_err(&src))?;
    reader.check(from.root(), desc)?;
    tmp.as_file_mut()
        .flush()
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io_err(tmp.path()))?;
    let tmp_path = tmp.into_temp_path();
    to.commit_blob(&tmp_path, &desc.digest)?;
    // Renamed away: nothing left for the guard to delete.
    let _ = tmp_path.keep();
    Ok(true)
}

/// Streams a blob of `layout` through its hash: `Ok(size)` if it matches `desc`.
pub(crate) fn verify_blob(layout: &OciLayout, desc: &Descriptor) -> Result<u64> {
    let mut reader = open_blob(layout, desc)?;
    io::copy(&mut reader, &mut io::sink()).map_err(io_err(layout.blob_path(&desc.digest)))?;
    reader.check(layout.root(), desc)?;
    Ok(desc.size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_oci::media_types as mt;

    #[test]
    fn hashing_reader_checks_size_and_digest() {
        let data = b"hello".to_vec();
        let desc = Descriptor::for_bytes(mt::OCI_LAYER_TAR, &data);
        let mut r = HashingReader::new(data.as_slice(), &desc.digest);
        io::copy(&mut r, &mut io::sink()).unwrap();
        r.check(Path::new("x"), &desc).unwrap();
        let mut short = desc.clone();
        short.size = 4;
        let mut r = HashingReader::new(data.as_slice(), &desc.digest);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert!(matches!(
            r.check(Path::new("x"), &short),
            Err(RuntimeError::Corrupt { .. })
        ));
        let mut r = HashingReader::new(&b"hellO"[..], &desc.digest);
        io::copy(&mut r, &mut io::sink()).unwrap();
        let err = r.check(Path::new("x"), &desc).unwrap_err().to_string();
        assert!(err.contains("hashes to"), "{err}");
    }
}
