//! Air-gapped updates: an archive that carries an image and all the proof it needs.
//!
//! The format is Dangerzone's: a tar of a `cosign save` OCI layout, entries named `./…`,
//! where `dangerzone.json` is the layout's full index (the image, its `.sig` and `.att`
//! manifests, any cosign v3 signature referrers and the key rotation trust documents
//! followed, each annotated with `kind`) and
//! `index.json` is cut down to the image alone so that `podman load` and `docker load`
//! accept the tar as it is.
//!
//! Loading ([`load`]) reads the tar as a stream with the bounded reader ([`unpack`]) and
//! refuses anything an image layout does not need (absolute paths, `..`, links, devices,
//! duplicates, oversized entries or extended headers), verifies every blob against its
//! name, checks `index.json` against `dangerzone.json`, and makes the one decision over
//! the signatures it carries and the rollback ratchet **before** anything reaches the
//! runtime. Preparing ([`prepare`]) verifies exactly as `upgrade` does and writes the tar
//! deterministically ([`write`]).

pub mod load;
pub mod prepare;
pub mod unpack;
pub(crate) mod write;

use std::fs;
use std::path::PathBuf;

pub use latch_sources::layout::{
    KIND_ANNOTATION, KIND_ATTS, KIND_BUNDLE, KIND_IMAGE, KIND_INDEX, KIND_SIGS,
};
pub use prepare::PrepareReport;
pub use unpack::{Unpacked, unpack};

pub use crate::error::ArchiveError;

/// Bound on `index.json`, `dangerzone.json` and `oci-layout`.
pub const MAX_JSON: u64 = 4 * 1024 * 1024;
/// Bound on one blob of an archive.
pub const MAX_BLOB: u64 = 16 * 1024 * 1024 * 1024;
/// Bound on all the bytes of an archive.
pub const MAX_TOTAL: u64 = 64 * 1024 * 1024 * 1024;
/// Bound on entries in an archive.
pub const MAX_ENTRIES: usize = 100_000;

/// A staging directory, removed when dropped.
pub(crate) struct Staging(pub PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
