//! Latch keeps an application's sandbox container image current from a registry it does
//! not trust: it finds the newest image, proves a trusted key signed it, refuses anything
//! older than what it has, installs it, and re-checks it before every use.
//!
//! This crate holds the flows (each a function over the adapters) and is what an
//! application embeds; the `latch` command-line tool is a thin client of it.
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
