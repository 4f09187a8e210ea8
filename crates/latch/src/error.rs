//! The errors an application embedding Latch can match on.

use latch_oci::{Digest, ReferenceError};
use latch_registry::RegistryError;
use latch_trust::{DocumentError, KeyError, PolicyError, VerifyError};

/// Anything a Latch flow can fail with. The variants are the decisions an application
/// makes differently: "not verified" is not "registry unreachable".
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image is not proven: too few trusted keys validly signed it. The verdict inside
    /// says why each signature was refused.
    #[error("not verified: {0}")]
    NotVerified(#[source] VerifyError),
    /// No signature at all was found for the digest.
    #[error("no signatures found for {digest} ({location})")]
    NoSignatures {
        /// The digest.
        digest: Digest,
        /// Where they were looked for.
        location: String,
    },
    /// A signatures document could not be read.
    #[error("{location}: {source}")]
    BadSignatures {
        /// Where it came from.
        location: String,
        /// Why.
        #[source]
        source: DocumentError,
    },
    /// The registry could not be reached, or misbehaved.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A key file is unreadable or unusable.
    #[error("key {path}: {source}")]
    Key {
        /// The key's file (or "inline").
        path: String,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The trust policy is impossible (no key, threshold above the key count…).
    #[error("trust policy: {0}")]
    Policy(#[from] PolicyError),
    /// A malformed image reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Input that is not what it should be, said in words.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: impl AsRef<std::path::Path>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.as_ref().display().to_string();
        move |source| Error::Io { path, source }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
