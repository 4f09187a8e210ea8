//! Why a source could not be read at all (one unreadable signature is not this: it is a
//! refused candidate).

use latch_oci::LayoutError;
use latch_registry::RegistryError;
use latch_trust::DocumentError;

/// A source that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The registry could not be reached, or misbehaved.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// An OCI layout could not be read.
    #[error("{path}: {source}")]
    Layout {
        /// The layout's directory.
        path: String,
        /// Why.
        #[source]
        source: LayoutError,
    },
    /// A signature manifest over the bounds (too many signatures).
    #[error("{location}: {source}")]
    Signatures {
        /// Where.
        location: String,
        /// Why.
        #[source]
        source: DocumentError,
    },
    /// A trust document version is already published: rotating again would replace it.
    #[error("{reference} already exists: trust document version {version} is published")]
    TrustVersionTaken {
        /// The tag.
        reference: String,
        /// The version.
        version: u64,
    },
}
