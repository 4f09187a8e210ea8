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
    /// The referrers tag holds something other than an image index; it is not overwritten.
    #[error("{location} holds {media_type}, not a referrers index; refusing to overwrite it")]
    NotAReferrersIndex {
        /// The tag.
        location: String,
        /// What it holds.
        media_type: String,
    },
    /// The referrers tag index already lists the maximum number of referrers.
    #[error("{location} already lists {max} referrers; refusing to add more")]
    IndexFull {
        /// The tag.
        location: String,
        /// The bound.
        max: usize,
    },
    /// Other writers kept changing a tag this write extends.
    #[error("{location} changed under every one of {attempts} attempts to extend it; try again")]
    Contended {
        /// The tag.
        location: String,
        /// Attempts made.
        attempts: u32,
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
