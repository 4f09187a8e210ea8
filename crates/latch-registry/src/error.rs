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
