//! Blobs as byte ranges of files (a layout's blob, or a member of an archive), read as
//! streams through a hash, decompressed by what their first bytes say.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use latch_oci::media_types::Compression;
use latch_oci::{Digest, Hasher};

use crate::error::{DiffError, io_err};

/// Read buffer for layer streams.
pub(crate) const BUFFER: usize = 256 * 1024;

/// A blob: `len` bytes at `offset` of `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The file.
    pub path: PathBuf,
    /// Where the blob starts.
    pub offset: u64,
    /// Its length.
    pub len: u64,
}

impl Region {
    /// A whole file.
    pub fn file(path: &Path) -> Result<Region, DiffError> {
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        Ok(Region {
            path: path.to_owned(),
            offset: 0,
            len: meta.len(),
        })
    }

    /// Opens the range for reading.
    pub fn open(&self) -> Result<io::Take<File>, DiffError> {
        let mut f = File::open(&self.path).map_err(io_err(&self.path))?;
        f.seek(SeekFrom::Start(self.offset))
            .map_err(io_err(&self.path))?;
        Ok(f.take(self.len))
    }

    /// Reads a small blob whole (bounded) and checks it against `digest`.
    pub fn read_verified(
        &self,
        digest: Option<&Digest>,
        max: u64,
        image: &str,
    ) -> Result<Vec<u8>, DiffError> {
        if self.len > max {
            return Err(DiffError::Limit {
                image: image.to_owned(),
                what: format!("blob {} ({} bytes)", self.path.display(), self.len),
                max,
            });
        }
        let mut out = Vec::with_capacity(self.len as usize);
        self.open()?
            .read_to_end(&mut out)
            .map_err(io_err(&self.path))?;
        if out.len() as u64 != self.len {
            return Err(DiffError::Io {
                path: self.path.clone(),
                source: io::Error::new(io::ErrorKind::UnexpectedEof, "file shorter than expected"),
            });
        }
        if let Some(d) = digest {
            let actual = Digest::of(d.algorithm(), &out);
            if &actual != d {
                return Err(DiffError::DigestMismatch {
                    image: image.to_owned(),
                    expected: d.clone(),
                    actual,
                });
            }
        }
        Ok(out)
    }
}

/// What a [`Tap`] saw.
pub(crate) struct TapState {
    hasher: Option<Hasher>,
    pub count: u64,
    limit: u64,
}

/// A reader that hashes and counts what passes, refusing to pass more than a bound. Its
/// state is shared so that it can be read once the reader chain is dropped.
pub(crate) struct Tap<R> {
    inner: R,
    state: Arc<Mutex<TapState>>,
}

/// The shared state of a [`Tap`].
pub(crate) type TapHandle = Arc<Mutex<TapState>>;

impl<R: Read> Tap<R> {
    pub fn new(inner: R, hasher: Option<Hasher>, limit: u64) -> (Tap<R>, TapHandle) {
        let state = Arc::new(Mutex::new(TapState {
            hasher,
            count: 0,
            limit,
        }));
        (
            Tap {
                inner,
                state: state.clone(),
            },
            state,
        )
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.count += n as u64;
        if s.count > s.limit {
            return Err(io::Error::other(LimitExceeded(s.limit)));
        }
        if let Some(h) = s.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// The error a [`Tap`] returns past its bound.
#[derive(Debug)]
pub(crate) struct LimitExceeded(pub u64);

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stream exceeds the bound of {} bytes", self.0)
    }
}

impl std::error::Error for LimitExceeded {}

/// Takes the digest and count out of a tap.
pub(crate) fn finish(handle: &TapHandle) -> (Option<Digest>, u64) {
    let mut s = handle.lock().unwrap_or_else(PoisonError::into_inner);
    (s.hasher.take().map(Hasher::finish), s.count)
}

/// Bytes a tap has seen.
pub(crate) fn count(handle: &TapHandle) -> u64 {
    handle.lock().unwrap_or_else(PoisonError::into_inner).count
}

/// Compression from a stream's first bytes.
pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Largest zstd window accepted (2^27 = 128 MiB, zstd's own default bound).
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// An opened layer: the decompressed stream, and the taps on the compressed and
/// uncompressed bytes.
pub(crate) struct LayerStream {
    pub reader: Box<dyn Read>,
    pub compression: Compression,
    /// Over the blob as stored.
    pub blob_tap: TapHandle,
    /// Over the uncompressed stream (`None` when uncompressed: the blob tap is it).
    pub diff_tap: Option<TapHandle>,
}

/// Opens a layer blob: hashed as stored (with `algorithm`), decompressed by sniffing,
/// the uncompressed stream hashed with sha256 and bounded by `max_uncompressed`.
pub(crate) fn open_layer(
    region: &Region,
    algorithm: latch_oci::Algorithm,
    max_uncompressed: u64,
) -> Result<LayerStream, DiffError> {
    let file = region.open()?;
    let (tap, blob_tap) = Tap::new(file, Some(algorithm.hasher()), region.len);
    let mut buffered = BufReader::with_capacity(BUFFER, tap);
    let head = buffered.fill_buf().map_err(io_err(&region.path))?;
    let compression = sniff(head);
    let (reader, diff_tap): (Box<dyn Read>, Option<TapHandle>) = match compression {
        Compression::None => {
            // The blob tap hashes these very bytes; bound them here.
            let limited = LimitRead {
                inner: buffered,
                left: max_uncompressed,
                limit: max_uncompressed,
            };
            (Box::new(limited), None)
        }
        Compression::Gzip => {
            let dec = flate2::read::MultiGzDecoder::new(buffered);
            let (tap, h) = Tap::new(
                dec,
                Some(latch_oci::Algorithm::Sha256.hasher()),
                max_uncompressed,
            );
            (Box::new(BufReader::with_capacity(BUFFER, tap)), Some(h))
        }
        Compression::Zstd => {
            let mut dec =
                zstd::stream::read::Decoder::with_buffer(buffered).map_err(io_err(&region.path))?;
            dec.window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(io_err(&region.path))?;
            let (tap, h) = Tap::new(
                dec,
                Some(latch_oci::Algorithm::Sha256.hasher()),
                max_uncompressed,
            );
            (Box::new(BufReader::with_capacity(BUFFER, tap)), Some(h))
        }
    };
    Ok(LayerStream {
        reader,
        compression,
        blob_tap,
        diff_tap,
    })
}

/// A bound on an uncompressed stream.
struct LimitRead<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for LimitRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::other(LimitExceeded(self.limit)));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Hashes the rest of a region from `consumed` on (what a decompressor left unread), so
/// the blob's digest covers all of it.
pub(crate) fn hash_rest(
    region: &Region,
    consumed: u64,
    handle: &TapHandle,
) -> Result<(), DiffError> {
    if consumed >= region.len {
        return Ok(());
    }
    let rest = Region {
        path: region.path.clone(),
        offset: region.offset + consumed,
        len: region.len - consumed,
    };
    let mut f = rest.open()?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io_err(&region.path))?;
        if n == 0 {
            break;
        }
        let mut s = handle.lock().unwrap_or_else(PoisonError::into_inner);
        s.count += n as u64;
        if let Some(h) = s.hasher.as_mut() {
            h.update(&buf[..n]);
        }
    }
    Ok(())
}

/// Whether an I/O error is a tap's bound.
pub(crate) fn limit_of(e: &io::Error) -> Option<u64> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<LimitExceeded>())
        .map(|l| l.0)
}
