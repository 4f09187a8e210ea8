//! Latch keeps an application's sandbox container image current from a registry it does
//! not trust: it finds the newest image, proves a trusted key signed it, refuses anything
//! older than what it has, installs it, and re-checks it before every use.
//!
//! This crate holds the flows (each a function over the adapters) and is what an
//! application embeds; the `latch` command-line tool is a thin client of it.
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
//!         Err(Error::Rollback { detail }) => eprintln!("refused an older image: {detail}"),
//!         Err(Error::NotVerified(why)) => eprintln!("not signed by a trusted key: {why}"),
//!         Err(other) => return Err(other),
//!     }
//!     // Before each use of the sandbox:
//!     let local = updater.verify_local(false).await?;
//!     assert_eq!(local.verdict.keys_satisfied(), 1);
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
pub mod duration;
pub mod error;
pub mod inspect;
pub mod profile;
pub mod signatures;
pub mod trusted;
pub mod updater;
pub mod verify;

pub use error::{Error, Result};
pub use profile::{Overrides, Profile, ProfileFile, Source};
pub use updater::{
    CheckReport, LocalReport, StatusReport, Step, StoreReport, Updater, UpgradeOptions,
    UpgradeReport,
};

pub use latch_oci as oci;
pub use latch_registry as registry;
pub use latch_runtime as runtime;
pub use latch_sign as sign;
pub use latch_sigstore as sigstore;
pub use latch_store as store;
pub use latch_trust as trust;
