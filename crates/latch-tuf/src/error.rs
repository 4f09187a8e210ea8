//! What can go wrong keeping the trusted root current.

use std::path::PathBuf;

/// Why a TUF repository's trusted root could not be refreshed, or what is held could not
/// be verified again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TufError {
    /// The repository URL is not an http(s) URL with a host and without credentials.
    #[error("TUF repository URL {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The initial root (the profile's, or the public-good one built in) is not a TUF
    /// root signed by its own threshold of keys.
    #[error("initial TUF root {origin}: {source}")]
    InitialRoot {
        /// Where it came from.
        origin: String,
        /// What the TUF client said.
        #[source]
        source: sigstore_tuf::Error,
    },
    /// The repository could not be read, or what it served was refused (a forged or
    /// expired file, a rollback, a wrong hash): nothing was adopted.
    #[error("TUF repository {url}: {}", chain(source))]
    Refresh {
        /// The repository.
        url: String,
        /// What the TUF client said.
        #[source]
        source: sigstore_tuf::Error,
    },
    /// A kept (or carried) metadata file does not verify from the initial root.
    #[error("TUF metadata {file}: {}", chain(source))]
    Metadata {
        /// `timestamp.json`, `3.root.json`…
        file: String,
        /// What the TUF client said.
        #[source]
        source: sigstore_tuf::Error,
    },
    /// A file the verified state needs is missing.
    #[error("TUF state in {dir}: {file} is missing")]
    Missing {
        /// The generation (or archive) folder.
        dir: PathBuf,
        /// The file.
        file: String,
    },
    /// The targets metadata does not list `trusted_root.json`.
    #[error("the TUF targets metadata (version {targets_version}) lists no {target}")]
    NoTarget {
        /// The targets version.
        targets_version: u64,
        /// The target looked for.
        target: &'static str,
    },
    /// `trusted_root.json` is not the one the targets metadata names.
    #[error("{target} does not match the TUF targets metadata: {detail}")]
    TargetMismatch {
        /// The target.
        target: &'static str,
        /// Length or hash, expected and found.
        detail: String,
    },
    /// Reading or writing the data directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl TufError {
    /// Whether the repository could not be reached at all (no network, refused, a
    /// timeout), rather than serving something refused.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            TufError::Refresh {
                source: sigstore_tuf::Error::Transport { .. } | sigstore_tuf::Error::Io { .. },
                ..
            }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TufError {
        let path = path.into();
        move |source| TufError::Io { path, source }
    }
}

/// An error and its causes on one line (the TUF client's `Display` leaves the cause out:
/// the HTTP error behind a transport failure).
fn chain(e: &sigstore_tuf::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
