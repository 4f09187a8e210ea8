//! Test fixtures that let Latch's integration tests talk to real parts.
//!
//! Dev-only: other crates use it from `[dev-dependencies]`. Everything starts and stops
//! synchronously, so plain `#[test]` and `#[tokio::test]` tests can both use it; what runs
//! asynchronously (the proxy, the token server) does so on its own thread with its own
//! tokio runtime. Every fixture stops when dropped.
//!
//! - [`Registry`]: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with a free
//!   port, a temporary storage directory and a config written here; open, with basic auth
//!   (htpasswd), or with bearer tokens from a real token server ([`TokenAuth`]). Tests
//!   under Wine get theirs from `latch-registry-broker` on the Linux side ([`BROKER_ENV`]).
//! - [`Proxy`]: an HTTP/1.1 proxy in front of a registry that injects the faults a test
//!   selects ([`Fault`], [`FaultRule`]) and logs every request ([`LogEntry`]).
//! - [`ImageBuilder`] and [`IndexBuilder`]: OCI images in an OCI layout, built without a
//!   container engine; [`BuiltImage::push`] pushes them with `skopeo copy`.
//! - [`RekorServer`]: a Rekor v1-compatible transparency log (hashedrekord entries, real
//!   response shape, SETs signed with a test key).
//! - [`Skopeo`]: Debian's skopeo 1.9 or the peer skopeo 1.18.
//! - [`cosign`]: cosign legacy signatures made with test keys, with Rekor SETs from a
//!   test log key at chosen log indexes and times.
//! - [`fulcio::FulcioServer`]: a Fulcio-like CA over HTTP (certificates for signing
//!   requests, from identity tokens it minted) and GitHub Actions' token endpoint.
//! - [`sigstore::TestSigstore`]: a test Fulcio CA, CT log and Rekor log with their
//!   `trusted_root.json`, minting GitHub-like certificates and full Sigstore bundles.
//! - [`tuf::TufServer`]: a TUF repository shaped like Sigstore's, served over HTTP, that a
//!   test rotates, republishes, or makes serve expired and forged metadata.
//! - [`Peers`]: cosign, oras and a sigstore-capable skopeo, unpacked by
//!   `../shared/tools/peer-tools.sh`.
//! - [`shared_dir`], [`testdata_dir`], [`require_testdata`]: the shared test vectors.
//!
//! Library code here panics with a clear message rather than returning errors: a fixture
//! that cannot be set up is a failed test.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cmd;
pub mod cosign;
mod der;
mod engines;
pub mod fulcio;
mod image;
pub mod merkle;
mod paths;
mod peers;
mod proxy;
mod registry;
mod rekor;
mod server;
pub mod sigstore;
mod skopeo;
mod token;
pub mod tuf;

pub use cmd::{run, try_run};
pub use engines::{Dockerd, PodmanStorage, is_root, need, runs};
pub use image::{BuiltImage, BuiltIndex, BuiltLayer, ImageBuilder, IndexBuilder, RandomReader};
pub use paths::{
    require_shared_file, require_testdata, shared_dir, target_dir, testdata_dir, workspace_dir,
};
pub use peers::Peers;
pub use proxy::{DigestHeader, Fault, FaultRule, LogEntry, PathKind, Proxy};
#[cfg(unix)]
pub use registry::serve_broker;
pub use registry::{BROKER_ENV, Registry, RegistryBuilder};
pub use rekor::RekorServer;
pub use skopeo::{Skopeo, push_with_skopeo};
pub use token::{TokenAuth, TokenRequest, TokenServer};

/// Unix seconds now: the one clock of the test services (tokens, certificates, log
/// entries, TUF expiries).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
