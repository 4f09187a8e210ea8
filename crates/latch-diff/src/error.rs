//! Errors: what was wrong, and where.

use std::io;
use std::path::PathBuf;

use latch_oci::Digest;

pub use latch_tar::TarError;

/// Why a diff or a normalisation failed.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// An image source argument that cannot be understood.
    #[error("image source {source_arg:?}: {detail}")]
    BadSource {
        /// The argument.
        source_arg: String,
        /// What is wrong.
        detail: String,
    },
    /// A file system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// An OCI layout error.
    #[error(transparent)]
    Layout(#[from] latch_oci::LayoutError),
    /// A manifest or config that does not parse.
    #[error("{what}: {source}")]
    Manifest {
        /// Which document.
        what: String,
        /// The error.
        source: latch_oci::ManifestError,
    },
    /// JSON of the wrong shape.
    #[error("{what}: {detail}")]
    BadJson {
        /// Which document.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// A registry error.
    #[error(transparent)]
    Registry(#[from] latch_registry::RegistryError),
    /// A built-in store error.
    #[error(transparent)]
    Runtime(#[from] latch_runtime::RuntimeError),
    /// An archive (oci-archive or docker-archive) that is malformed.
    #[error("archive {path}: {detail}")]
    BadArchive {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A layer whose tar stream cannot be read.
    #[error("{image}: layer {layer} ({}): {source}", .digest.as_ref().map(ToString::to_string).unwrap_or_else(|| "no digest".to_owned()))]
    Layer {
        /// Which image (A or B, and its source).
        image: String,
        /// Layer number, from 1.
        layer: usize,
        /// The layer's digest (or its diff_id; `None` when neither is known).
        digest: Option<Digest>,
        /// The error.
        source: TarError,
    },
    /// A layer entry that breaks a rule (path traversal, a bound).
    #[error("{image}: layer {layer}: entry {path:?}: {detail}")]
    BadEntry {
        /// Which image.
        image: String,
        /// Layer number, from 1.
        layer: usize,
        /// The entry's path as written (escaped).
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A blob whose bytes do not hash to its digest.
    #[error("{image}: blob {expected} hashes to {actual}: the image is corrupt")]
    DigestMismatch {
        /// Which image.
        image: String,
        /// Its name.
        expected: Digest,
        /// What its bytes hash to.
        actual: Digest,
    },
    /// A layer whose uncompressed content does not match the config's `diff_id`.
    #[error(
        "{image}: layer {layer}: uncompressed content hashes to {actual}, but the config's diff_id is {expected}"
    )]
    DiffIdMismatch {
        /// Which image.
        image: String,
        /// Layer number, from 1.
        layer: usize,
        /// The config's diff_id.
        expected: Digest,
        /// The content's digest.
        actual: Digest,
    },
    /// A bound was exceeded.
    #[error("{image}: {what} exceeds the bound of {max}")]
    Limit {
        /// Which image.
        image: String,
        /// What.
        what: String,
        /// The bound.
        max: u64,
    },
    /// The two images cannot be compared as asked.
    #[error("{0}")]
    Incomparable(String),
    /// A platform that is not there.
    #[error("{image}: no image for platform {platform} (available: {available})")]
    NoSuchPlatform {
        /// Which image.
        image: String,
        /// The platform asked for.
        platform: String,
        /// What there is.
        available: String,
    },
    /// A `--ignore` pattern that is not a valid glob.
    #[error("--ignore {pattern:?}: {detail}")]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        detail: String,
    },
    /// The report directory cannot be used.
    #[error("report directory {path}: {detail}")]
    ReportDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A normalisation argument or input that cannot be handled.
    #[error("normalize: {0}")]
    Normalize(String),
    /// A worker thread panicked (a bug).
    #[error("internal error: a worker thread panicked")]
    WorkerPanicked,
}

/// Shorthand.
pub type Result<T, E = DiffError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> DiffError {
    let path = path.into();
    move |source| DiffError::Io { path, source }
}
