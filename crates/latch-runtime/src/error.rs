//! Errors of the runtimes. Each names what was run or read, and what came back.

use std::path::PathBuf;

use latch_oci::{Digest, LayoutError, ManifestError};
use latch_registry::RegistryError;

/// Why a runtime operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A runtime spec that is not `podman`, `docker` or `store:DIR`.
    #[error("unknown runtime {0:?} (expected podman, docker or store:DIR)")]
    UnknownRuntime(String),
    /// The program could not be found.
    #[error(
        "{program} not found on PATH (install it, or choose another runtime: podman, docker or store:DIR)"
    )]
    NotFound {
        /// The program as it was asked for (`podman`, `/usr/bin/docker`).
        program: String,
    },
    /// The program exists but could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Docker daemon (or a podman service) did not answer.
    #[error(
        "`{command}`: the container engine is not reachable (is the daemon running? DOCKER_HOST?): {stderr}"
    )]
    DaemonUnreachable {
        /// The command line.
        command: String,
        /// The end of what it printed on stderr.
        stderr: String,
    },
    /// The command exited with an error.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line (references and paths only: Latch never passes a secret on a
        /// command line).
        command: String,
        /// Its exit status.
        status: String,
        /// The end of what it printed on stderr, bounded.
        stderr: String,
    },
    /// The command printed something Latch cannot read.
    #[error("`{command}` printed unexpected output: {detail}")]
    BadOutput {
        /// The command line.
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// The command printed more than the bound on its output.
    #[error("`{command}` printed more than {max} bytes; stopped it")]
    TooMuchOutput {
        /// The command line.
        command: String,
        /// The bound.
        max: usize,
    },
    /// Several images are installed under a repository that must hold one.
    #[error(
        "{repository} holds {count} images ({ids}); expected exactly one (remove the others, e.g. with `latch upgrade`)"
    )]
    SeveralImages {
        /// The repository.
        repository: String,
        /// How many images.
        count: usize,
        /// Their ids, comma-separated.
        ids: String,
    },
    /// The one image under a repository is named by several digests.
    #[error(
        "the image under {repository} is named by several digests ({digests}); expected exactly one"
    )]
    SeveralDigests {
        /// The repository.
        repository: String,
        /// The digests, comma-separated.
        digests: String,
    },
    /// The image under a repository has no digest at all (a docker-archive load: Docker
    /// before 25 records none).
    #[error(
        "the image under {repository} (id {id}) has no digest: it was loaded from a docker-archive, which loses it; match it by image id (config digest) instead"
    )]
    NoDigest {
        /// The repository.
        repository: String,
        /// The image id.
        id: String,
    },
    /// The runtime does not report the image just pulled or loaded under the digest
    /// asked for.
    #[error(
        "after {action}, {runtime} does not report {expected} under {repository} (it reports: {reported})"
    )]
    NotReported {
        /// The runtime.
        runtime: &'static str,
        /// `pull` or `load`.
        action: &'static str,
        /// The repository.
        repository: String,
        /// The digest (or image id) expected.
        expected: String,
        /// What it reports instead.
        reported: String,
    },
    /// The image id the runtime computed is not the config the verified manifest names.
    #[error(
        "{runtime} loaded image id {actual}, but the verified manifest names config {expected}"
    )]
    WrongImageId {
        /// The runtime.
        runtime: &'static str,
        /// Config digest named by the manifest.
        expected: Digest,
        /// Id reported.
        actual: String,
    },
    /// An argument the operation cannot work with.
    #[error("{0}")]
    InvalidArgument(String),
    /// No image in the store (or layout) for that digest.
    #[error("{what} is not in {place}")]
    NotInstalled {
        /// The digest or name looked for.
        what: String,
        /// Where it was looked for.
        place: String,
    },
    /// An index has no image for the wanted platform.
    #[error("index {digest} has no image for {platform} in {place} (it lists: {available})")]
    NoSuchPlatform {
        /// The index.
        digest: Digest,
        /// The platform wanted.
        platform: String,
        /// Where.
        place: String,
        /// Platforms listed.
        available: String,
    },
    /// A blob in the store or a layout is not what its name says.
    #[error("{place}: blob {digest}: {detail}")]
    Corrupt {
        /// The store or layout.
        place: String,
        /// The blob.
        digest: Digest,
        /// What is wrong (hash, size, absence).
        detail: String,
    },
    /// The built-in store's `index.json` holds something Latch cannot read.
    #[error("{path}: {detail}")]
    BadStore {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// OCI layout error.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A manifest that cannot be read.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The registry client failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A blocking task panicked or was cancelled.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// Result alias.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let path = path.into();
    move |source| RuntimeError::Io { path, source }
}
