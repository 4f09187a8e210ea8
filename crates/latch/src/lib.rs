//! Latch keeps an application's sandbox container image current from a registry it does
//! not trust: it finds the newest image, proves trusted keys or identities signed it,
//! refuses anything older than what it has, installs it, and re-checks it before every
//! use.
//!
//! This crate holds the flows (each a function over the adapters) and is what an
//! application embeds; the `latch` command-line tool is a thin client of it. Read it
//! bottom-up: [`error`] (what can go wrong), [`trust`] (what is trusted, read from files,
//! and the ratchets), `stored` (the local signature store as a source), [`verify`]
//! (one-shot verification and the one place a verdict becomes a refusal), [`updater`]
//! (the `Updater` and what its flows share), [`flows`] and [`archive`] (one flow per
//! file). Whether an image is trusted is decided in one place, `latch-decide`
//! ([`decide`]), over candidates fetched by `latch-sources` ([`sources`]) or read from
//! the store.
//!
//! An application builds an [`Updater`] from a [`Profile`] (a TOML file, or the same
//! settings in code), then calls [`Updater::verify_local`] before every use of its
//! sandbox and [`Updater::check`] / [`Updater::upgrade`] when it looks for updates:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use latch::registry::NoProgress;
//! use latch::{Error, Overrides, UpgradeOptions, Updater};
//!
//! let data = tempfile::tempdir()?;
//! // The embedded demo: a signed image in a local mirror, so this runs offline.
//! let profile = latch::demo::profile(Overrides {
//!     data_dir: Some(data.path().to_path_buf()),
//!     ..Overrides::default()
//! })?;
//! let updater = Updater::new(profile)?;
//! let rt = tokio::runtime::Runtime::new()?;
//! rt.block_on(async {
//!     match updater.upgrade(&UpgradeOptions::default(), &NoProgress).await {
//!         Ok(report) => println!("{}: {}", report.status, report.digest),
//!         Err(Error::Rollback { reasons }) => eprintln!("refused a possible rollback: {reasons:?}"),
//!         Err(Error::NotVerified { verdict }) => eprintln!("not trusted: {}", verdict.summary()),
//!         Err(other) => return Err(other),
//!     }
//!     // Before each use of the sandbox:
//!     let local = updater.verify_local(false).await?;
//!     assert!(local.verdict.trusted);
//!     assert_eq!(local.verdict.count(), 1);
//!     Ok::<_, Error>(())
//! })?;
//! # Ok(()) }
//! ```
//!
//! `examples/embed.rs` is a small program an application author can copy.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod archive;
pub mod attestation;
pub mod bundle;
pub mod demo;
pub mod error;
pub mod flows;
pub mod inspect;
pub mod profile;
mod stored;
pub mod trust;
pub mod updater;
pub mod verify;

pub use error::{ArchiveError, Error, Result, Step};
pub use flows::check::CheckReport;
pub use flows::install::InstallReport;
pub use flows::status::StatusReport;
pub use flows::store_signatures::StoreReport;
pub use flows::upgrade::{UpgradeOptions, UpgradeReport};
pub use flows::verify_local::LocalReport;
pub use profile::{Overrides, Profile, ProfileFile, Source};
pub use trust::ratchet::{Freeze, RollbackReason};
pub use updater::Updater;

pub use latch_decide as decide;
pub use latch_oci as oci;
pub use latch_registry as registry;
pub use latch_runtime as runtime;
pub use latch_sigstore as sigstore;
pub use latch_sources as sources;
pub use latch_store as store;
pub use latch_tuf as tuf;
