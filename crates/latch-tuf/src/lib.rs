//! The Sigstore trusted root kept current over TUF (The Update Framework).
//!
//! Sigstore publishes its `trusted_root.json` (certificate authorities, transparency logs
//! and their key validity windows, timestamp authorities) as a target of a TUF repository,
//! and rotates what it holds several times a year. An application ships the repository's
//! initial TUF root; [`TufCache::refresh`] (run by `check` and `upgrade` when online)
//! follows the repository from it with sigstore-tuf's client: root rotations (each new
//! root signed by the threshold of the one before), then timestamp, snapshot and targets,
//! none older than what is held, none expired, each signed by the newest root's roles.
//! What verifies is kept in the data directory as a new generation, switched to
//! atomically ([`cache`]); [`TufCache::held`] verifies it again ([`verify::verify`],
//! pure) from the initial root before every use, offline, at the time it was fetched: a
//! stale state ([`Info::is_stale`]) still verifies what it vouched for, and is reported.
//!
//! I/O lives in [`cache`] (files, HTTP); [`verify`] is bytes, a root and a time in, a
//! verdict out.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cache;
mod error;
mod repository;
pub mod verify;

pub use cache::TufCache;
pub use error::TufError;
pub use repository::TufRepository;
pub use verify::{Files, Info, TRUSTED_ROOT_TARGET, Verified};
