//! A registry client for Latch that trusts nothing it receives.
//!
//! - Authentication follows the registry's `WWW-Authenticate` challenge (bearer token
//!   from the realm it names, or basic), with credentials found as docker and podman find
//!   them, and tokens reused per scope.
//! - Plain HTTP only for loopback hosts and hosts the caller names.
//! - Manifests are bounded and verified against the digest asked for, and against
//!   `Docker-Content-Digest` when fetched by tag.
//! - Blobs stream to disk while hashed, resume with `Range` after a dropped connection,
//!   and count as present only once verified.
//!
//! It knows nothing of signatures: that is `latch-trust`'s job.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod client;
pub mod copy;
pub mod credentials;
pub mod error;
pub mod progress;

pub use client::{Access, Client, ClientOptions, ManifestHead};
pub use copy::{PullOptions, PullReport, pull_to_layout, push_from_layout};
pub use credentials::{CredentialSource, Credentials};
pub use error::{RegistryError, Result, Stall};
pub use progress::{NoProgress, Progress, Totals};
