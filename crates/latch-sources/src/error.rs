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
    /// What a trust document tag or layout entry names is not a trust document artifact.
    #[error("{location}: {detail}")]
    NotTrustArtifact {
        /// The tag or layout entry.
        location: String,
        /// What is wrong.
        detail: String,
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
