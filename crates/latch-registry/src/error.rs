//! Errors of the registry client. Each says what was asked of whom, and what came back.

use std::path::PathBuf;

use latch_oci::{Digest, LayoutError, ManifestError};

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached (DNS, refused connection, TLS, timeout…).
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        /// The URL asked for.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The connection broke while a response was being read.
    #[error("transfer from {url} failed: {source}")]
    Transfer {
        /// The URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with an error status.
    #[error("{method} {url}: HTTP {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status {
        /// Request method.
        method: String,
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's error code and message, when it sent any.
        detail: Option<String>,
    },
    /// The manifest, blob or repository does not exist.
    #[error("not found: {what} ({url})")]
    NotFound {
        /// What was looked for.
        what: String,
        /// The URL.
        url: String,
    },
    /// Authentication failed or was refused.
    #[error("authentication to {registry} failed: {detail}")]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// What went wrong.
        detail: String,
    },
    /// A transfer made too little progress and was abandoned (a registry, or something
    /// between it and Latch, that stalls or dribbles).
    #[error("{url}: {stall}; abandoned")]
    Stalled {
        /// The URL (its host is the registry that stalled).
        url: String,
        /// What stalled, and the bound it missed.
        stall: Stall,
    },
    /// A response was larger than the bound.
    #[error("{url}: response is larger than the bound of {max} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The bound.
        max: u64,
    },
    /// Bytes received do not hash to the digest asked for.
    #[error("{url}: content hashes to {actual}, expected {expected}")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// Expected digest.
        expected: Digest,
        /// Digest of what was received.
        actual: Digest,
    },
    /// The registry's `Docker-Content-Digest` header contradicts the bytes it sent.
    #[error("{url}: Docker-Content-Digest says {header} but the bytes hash to {actual}")]
    HeaderMismatch {
        /// The URL.
        url: String,
        /// Header value.
        header: String,
        /// Digest of the bytes.
        actual: Digest,
    },
    /// A blob of the wrong size.
    #[error("blob {digest}: expected {expected} bytes, received {received}")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// Size from the descriptor.
        expected: u64,
        /// Size received.
        received: u64,
    },
    /// Manifest bytes that are not an acceptable manifest.
    #[error("{url}: {source}")]
    Manifest {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: ManifestError,
    },
    /// A JSON document (token, tag list, error body) of the wrong shape.
    #[error("{url}: unexpected response: {detail}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// Pagination or a redirect pointed at another host.
    #[error("{url}: refusing to follow a link to another host: {link}")]
    ForeignLink {
        /// The URL whose response carried the link.
        url: String,
        /// The link.
        link: String,
    },
    /// Local file system error.
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
    /// A credentials file or helper failed.
    #[error("credentials: {0}")]
    Credentials(String),
    /// No entry in an index for the wanted platform.
    #[error("{reference} has no image for platform {platform} (it has: {available})")]
    NoSuchPlatform {
        /// The image.
        reference: String,
        /// Wanted platform.
        platform: String,
        /// Platforms present.
        available: String,
    },
    /// The client could not be configured.
    #[error("cannot configure the HTTP client: {0}")]
    Config(String),
}

impl RegistryError {
    /// Whether no connection could be made at all (refused, no route, no DNS answer,
    /// connect timeout), as opposed to one that failed once made.
    pub fn is_connect_failure(&self) -> bool {
        matches!(self, RegistryError::Unreachable { source, .. } if source.is_connect())
    }

    /// Whether retrying the same request may succeed (5xx, 429, dropped connections).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Unreachable { source, .. } | RegistryError::Transfer { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
            RegistryError::Status { status, .. } => *status >= 500 || *status == 429,
            // A blob below the speed floor is resumed (within the same retry bound); a
            // document or response that missed its deadline is not asked again.
            RegistryError::Stalled { stall, .. } => matches!(stall, Stall::Blob { .. }),
            _ => false,
        }
    }
}

/// Result alias.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

impl From<latch_oci::NoSuchPlatform> for RegistryError {
    fn from(e: latch_oci::NoSuchPlatform) -> RegistryError {
        RegistryError::NoSuchPlatform {
            reference: e.image,
            platform: e.platform,
            available: e.available.join(", "),
        }
    }
}

/// What stalled, and the bound it missed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stall {
    /// The response's status and headers did not arrive within the deadline.
    Headers {
        /// The deadline, in seconds.
        deadline_secs: u64,
    },
    /// A small document (token, manifest, tag list, signature, referrers) did not arrive
    /// whole within the deadline.
    Document {
        /// The deadline, in seconds.
        deadline_secs: u64,
        /// Bytes received by then.
        received: u64,
    },
    /// A blob moved slower than the floor over a whole window.
    Blob {
        /// The blob.
        digest: latch_oci::Digest,
        /// Bytes received in the window.
        received: u64,
        /// The window, in seconds.
        window_secs: u64,
        /// The floor, in bytes per second.
        floor: u64,
    },
}

impl std::fmt::Display for Stall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stall::Headers { deadline_secs } => {
                write!(f, "no response within {deadline_secs} s")
            }
            Stall::Document {
                deadline_secs,
                received,
            } => write!(
                f,
                "the response did not arrive whole within {deadline_secs} s ({received} bytes by then)"
            ),
            Stall::Blob {
                digest,
                received,
                window_secs,
                floor,
            } => write!(
                f,
                "blob {digest} stalled: {received} bytes in {window_secs} s, below the floor of {floor} bytes/s"
            ),
        }
    }
}
