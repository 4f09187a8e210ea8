//! Compare two container images by what they hold, and normalise an image's timestamps.
//!
//! Nobody should have to trust the CI that built an image: a maintainer rebuilds it and
//! compares. This crate does the comparing, with no container engine:
//!
//! - [`Source`] names an image: a registry reference, an OCI layout (`oci:DIR[:NAME]`),
//!   an oci-archive or docker-archive tar (`podman save`, `docker save`), or Latch's
//!   built-in store (`store:DIR[:NAME]`). [`open`] (or [`open_pair`]) makes an [`Image`]
//!   of it, verifying every manifest and config against its digest.
//! - [`diff`] compares two images: index, then each platform's manifest, then config,
//!   then the layers by their uncompressed content, tar entry by tar entry. In
//!   [`Mode::Semantic`] times, image names, compression, digests and redundant mode bits
//!   do not count; in [`Mode::Strict`] they do. When the layer split differs, the
//!   squashed file systems are compared. Layers are decompressed and hashed as streams,
//!   several at once, never extracted; memory is bounded by [`Limits`]. A layer whose
//!   blob has the same digest on both sides is not read (same digest, same bytes).
//! - [`normalize()`] rewrites every timestamp of an image to a `SOURCE_DATE_EPOCH` and
//!   recompresses deterministically, so two builds that differ only in time get the same
//!   digest: a proof, not only a diff.
//!
//! ```no_run
//! # async fn example() -> Result<(), latch_diff::DiffError> {
//! use latch_diff::{DiffOptions, OpenOptions, Source, open_pair, diff};
//! let a = Source::parse("oci:./rebuilt:latest")?;
//! let b = Source::parse("docker-archive:./published.tar")?;
//! let (a, b) = open_pair(&a, &b, &OpenOptions::default()).await?;
//! let report = diff(&a, &b, &DiffOptions::default())?;
//! println!("{}", report.verdict());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod archive;
mod blob;
mod compare;
pub mod error;
mod extract;
mod fs;
mod json;
pub mod normalize;
mod pool;
pub mod report;
pub mod source;
/// The bounded tar reader (and writing helpers) this crate reads layers with: the
/// `latch-tar` crate, re-exported.
pub use latch_tar as tar;

pub use compare::diff;
pub use error::{DiffError, Result, TarError};
pub use normalize::{NormalizeOptions, NormalizeReport, OutputCompression, normalize};
pub use report::{DiffReport, Difference, Kind, Stats};
pub use source::{Image, OpenOptions, Source, open, open_pair};

use std::path::PathBuf;

use latch_oci::Platform;

/// What counts as a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// What a reproducible build must reproduce: file types, contents, modes (masked
    /// to `0o7777`), owners, link targets, xattrs and other PAX records, device numbers;
    /// config and annotations without creation times, history times and image names.
    /// Ignored: timestamps, entry order, tar header format, compression, blob digests
    /// and sizes, manifest media types (OCI or Docker).
    #[default]
    Semantic,
    /// Everything `Semantic` compares, plus timestamps (mtime, atime, ctime, config and
    /// history `created`, created annotations), full modes, entry order, tar format,
    /// names as written, descriptors (media types, digests, sizes) and image names.
    Strict,
}

impl Mode {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Semantic => "semantic",
            Mode::Strict => "strict",
        }
    }
}

/// Bounds on what an image may make Latch hold or do. The defaults fit any real image;
/// an image over a bound is refused with [`DiffError::Limit`] (or a [`TarError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Tar entries kept per image, all layers together (each costs a few hundred bytes).
    pub max_entries: usize,
    /// Size of one tar entry's data, as declared.
    pub max_entry_bytes: u64,
    /// Uncompressed bytes of one layer (a decompression bomb stops here).
    pub max_layer_bytes: u64,
    /// Bytes of extension headers (PAX, GNU long names) before one entry, each header
    /// block counted with its data (and of global PAX headers in all).
    pub max_pax_bytes: usize,
    /// Bytes of a path or link target.
    pub max_path_bytes: usize,
    /// Bytes of a config blob.
    pub max_config_bytes: u64,
    /// Members of an oci-archive or docker-archive.
    pub max_archive_members: usize,
    /// Layers in one image.
    pub max_layers: usize,
    /// Bytes `--report-dir` may write in all.
    pub max_report_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_entry_bytes: 64 << 30,
            max_layer_bytes: 256 << 30,
            max_pax_bytes: 1 << 20,
            max_path_bytes: 4096,
            max_config_bytes: 8 << 20,
            max_archive_members: 100_000,
            max_layers: latch_oci::manifest::MAX_ENTRIES,
            max_report_bytes: 4 << 30,
        }
    }
}

impl Limits {
    /// The tar reader's bounds: extension headers and paths. Entry counts and sizes are
    /// checked here, per image, with [`DiffError::Limit`].
    pub(crate) fn tar(&self) -> latch_tar::Limits {
        latch_tar::Limits {
            max_extension_bytes: self.max_pax_bytes,
            max_path_bytes: self.max_path_bytes,
            max_entries: u64::MAX,
            max_entry_bytes: u64::MAX,
        }
    }
}

/// How to compare.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Semantic (default) or strict.
    pub mode: Mode,
    /// Compare only this platform of multi-platform images.
    pub platform: Option<Platform>,
    /// Paths to leave out, as globs (`var/log/**`, `**/*.pyc`); a path is left out when
    /// it or one of its parent directories matches. A leading `/` is optional.
    pub ignore: Vec<String>,
    /// Compare the squashed file systems even when the layer counts are equal.
    pub squash: bool,
    /// Layers decompressed at once (0: the number of CPUs, at most 4).
    pub jobs: usize,
    /// Bounds.
    pub limits: Limits,
    /// Write the differing files of both sides under this directory (which must not exist
    /// or be empty), as `a/…` and `b/…`, for diffoscope.
    pub report_dir: Option<PathBuf>,
    /// Differences listed in the report; the rest are only counted.
    pub max_differences: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            mode: Mode::Semantic,
            platform: None,
            ignore: Vec::new(),
            squash: false,
            jobs: 0,
            limits: Limits::default(),
            report_dir: None,
            max_differences: 10_000,
        }
    }
}

impl DiffOptions {
    pub(crate) fn threads(&self) -> usize {
        if self.jobs > 0 {
            return self.jobs;
        }
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(4)
    }
}
