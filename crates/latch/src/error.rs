//! The errors an application embedding Latch can match on. At the bottom of the crate:
//! this module imports no flow, only the pure ratchet reasons it carries.

use std::path::PathBuf;

use latch_decide::{TrustError, Verdict};
use latch_oci::{Digest, LayoutError, ReferenceError};
use latch_registry::RegistryError;
use latch_trust::{DocumentError, KeyError};
use serde::Serialize;

use crate::trust::ratchet::{Freeze, RollbackReason};

/// Anything a Latch flow can fail with. The variants are the decisions an application
/// makes differently: "not verified" is not "registry unreachable".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The image is not proven: fewer distinct trusted signers than the threshold
    /// validly signed it. The verdict says why each signature found was refused.
    #[error("not verified: {}", .verdict.summary())]
    NotVerified {
        /// Every candidate's outcome and the signers counted.
        verdict: Box<Verdict>,
    },
    /// The signatures are enough, but the SLSA provenance the trust requires on top was
    /// not found: no attestation for this digest from the expected workflow (the
    /// verdict's `provenance` says what was looked at and why each fell short).
    #[error("signed, but not built where required: {}", .verdict.provenance.as_ref().map(|p| p.summary()).unwrap_or_default())]
    NoProvenance {
        /// Every candidate's outcome, the signers counted, and the provenance found.
        verdict: Box<Verdict>,
    },
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
    /// An OCI layout (a mirror, a staging directory) could not be read or written.
    #[error("{path}: {source}")]
    Layout {
        /// The layout's directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: LayoutError,
    },
    /// A key file is unreadable or unusable.
    #[error("key {path}: {source}")]
    Key {
        /// The key's file (or "inline PEM").
        path: String,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// The trust is impossible (nothing trusted, a threshold above the signers, a key
    /// given twice, a log required without a Rekor key…).
    #[error("trust policy: {0}")]
    Trust(#[from] TrustError),
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
    /// The image may be older than one already accepted: a ratchet refused it (log
    /// index, log time, signed version, the floor), or nothing in its signatures proves
    /// it is not older. `--force` accepts it anyway.
    #[error("{}", rollback_message(.reasons))]
    Rollback {
        /// Each ratchet that refused, with the accepted and offered values.
        reasons: Vec<RollbackReason>,
    },
    /// The newest signature is older than the profile allows: the registry may be
    /// withholding updates.
    #[error("possible freeze attack: {0}")]
    FreezeSuspected(Freeze),
    /// Another Latch process holds the store.
    #[error("another Latch process is updating {}; try again when it has finished", .0.display())]
    Locked(PathBuf),
    /// A file of the store is corrupt; it is left in place, never trusted.
    #[error("store corrupt: {} is corrupt: {detail} (left in place; remove or repair it)", .path.display())]
    StoreCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The store could not be read or written.
    #[error(transparent)]
    Store(latch_store::StoreError),
    /// The container runtime failed.
    #[error(transparent)]
    Runtime(#[from] latch_runtime::RuntimeError),
    /// The runtime does not hold the digest it was asked to install.
    #[error("{runtime} does not report {expected} after installing it (it reports: {})", .found.join(", "))]
    RuntimeMismatch {
        /// The runtime.
        runtime: String,
        /// The digest installed.
        expected: Digest,
        /// What it reports.
        found: Vec<String>,
    },
    /// Nothing is installed.
    #[error("{image} is not installed in {runtime}; run `latch upgrade`")]
    NotInstalled {
        /// The image.
        image: String,
        /// The runtime.
        runtime: String,
    },
    /// The tag the application runs does not name the image Latch verified (someone
    /// retagged it, or an upgrade was interrupted between saving its state and tagging:
    /// `latch upgrade` finishes that).
    #[error(
        "{tag} in {runtime} names {}, not the verified image {expected}; \
         run `latch upgrade` to put the tag back on the verified image",
        .found.as_deref().unwrap_or("no image")
    )]
    TagMismatch {
        /// The tag (`registry/repository:tag`).
        tag: String,
        /// The runtime.
        runtime: String,
        /// The digest Latch verified and recorded.
        expected: Digest,
        /// What the tag names instead: the image id and the digests the runtime
        /// associates with it; `None` when the tag names nothing.
        found: Option<String>,
    },
    /// The new image failed its health check: it was removed and recorded as failed;
    /// the old one is still installed.
    #[error(
        "{digest} failed its health check and was removed; the previous image stays installed: {reason}"
    )]
    HealthCheckFailed {
        /// The digest that failed.
        digest: Digest,
        /// Why.
        reason: String,
    },
    /// Neither the primary source nor any mirror gave a verified image: each one and why.
    #[error("no source gave a verified image: {}", .attempts.iter().map(|a| format!("{}: {}", a.source, a.error)).collect::<Vec<_>>().join("; "))]
    NoSource {
        /// Each source tried, in order, with its failure.
        attempts: Vec<SourceAttempt>,
    },
    /// An upgrade stopped after a step (crash-safety tests).
    #[error("upgrade interrupted after step {0:?}")]
    Interrupted(Step),
    /// An air-gap archive was refused before anything was loaded.
    #[error(transparent)]
    Archive(Box<ArchiveError>),
    /// A Sigstore bundle, trusted root or identity policy was refused (the error names
    /// the bundle and the claim that failed).
    #[error(transparent)]
    Sigstore(#[from] latch_sigstore::Error),
    /// No attestation of the digest satisfies the provenance policy.
    #[error("no attestation of {digest} satisfies the policy: {}", .refused.join("; "))]
    NotAttested {
        /// The image digest.
        digest: Digest,
        /// Each attestation found and why it was refused (or that none was found).
        refused: Vec<String>,
    },
    /// A profile that cannot be used.
    #[error("profile: {0}")]
    Profile(String),
    /// Input that is not what it should be, said in words.
    #[error("{0}")]
    Invalid(String),
    /// The trust documents beside the image (key rotation), or the chain kept in the data
    /// directory, cannot be followed from the profile's keys: nothing was adopted.
    #[error("key rotation: {0}")]
    TrustChain(#[from] latch_rotation::ChainError),
    /// A TUF repository or its initial root cannot be used.
    #[error(transparent)]
    Tuf(#[from] latch_tuf::TufError),
}

fn rollback_message(reasons: &[RollbackReason]) -> String {
    let proven = reasons.iter().any(RollbackReason::proves_older);
    let list = reasons
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    if proven {
        format!("rollback refused: the image is older than the one already accepted: {list}")
    } else {
        format!(
            "rollback refused: nothing proves the image is not older than what was accepted: {list}"
        )
    }
}

impl Error {
    /// A stable short name of the error, for scripts and bindings (`--json` output's
    /// `error.kind`): `not-verified`, `no-signatures`, `rollback`, `freeze-suspected`,
    /// `registry`, `runtime`, `store-corrupt`, `store`, `locked`, `not-installed`,
    /// `archive`, `sigstore`, `not-attested`, `profile`, `key`, `policy`, `reference`,
    /// `bad-signatures`, `io`, `layout`, `interrupted`, `invalid`, `trust-chain`,
    /// `tuf`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotVerified { .. } => "not-verified",
            Error::NoProvenance { .. } => "no-provenance",
            Error::NoSignatures { .. } => "no-signatures",
            Error::BadSignatures { .. } => "bad-signatures",
            Error::Registry(_) => "registry",
            Error::Layout { .. } => "layout",
            Error::Key { .. } => "key",
            Error::Trust(_) => "policy",
            Error::Reference(_) => "reference",
            Error::Io { .. } => "io",
            Error::Rollback { .. } => "rollback",
            Error::FreezeSuspected(_) => "freeze-suspected",
            Error::Locked(_) => "locked",
            Error::StoreCorrupt { .. } => "store-corrupt",
            Error::Store(_) => "store",
            Error::Runtime(_) | Error::RuntimeMismatch { .. } => "runtime",
            Error::NotInstalled { .. } => "not-installed",
            Error::TagMismatch { .. } => "tag-mismatch",
            Error::HealthCheckFailed { .. } => "health-check-failed",
            Error::NoSource { .. } => "no-source",
            Error::Interrupted(_) => "interrupted",
            Error::Archive(_) => "archive",
            Error::Sigstore(_) => "sigstore",
            Error::NotAttested { .. } => "not-attested",
            Error::Profile(_) => "profile",
            Error::Invalid(_) => "invalid",
            Error::TrustChain(_) => "trust-chain",
            Error::Tuf(_) => "tuf",
        }
    }

    /// The verdict behind a refusal, when signatures were looked at.
    pub fn verdict(&self) -> Option<&Verdict> {
        match self {
            Error::NotVerified { verdict } | Error::NoProvenance { verdict } => Some(verdict),
            _ => None,
        }
    }

    /// The data of the error for a JSON error document or a binding: the ratchet
    /// reasons of a rollback, the figures of a freeze, the verdict of a refusal.
    pub fn details(&self) -> Option<serde_json::Value> {
        match self {
            Error::NotVerified { verdict } | Error::NoProvenance { verdict } => {
                serde_json::to_value(verdict).ok()
            }
            Error::Rollback { reasons } => {
                serde_json::to_value(serde_json::json!({ "reasons": reasons })).ok()
            }
            Error::FreezeSuspected(f) => serde_json::to_value(f).ok(),
            Error::NoSource { attempts } => serde_json::to_value(serde_json::json!({
                "attempts": attempts,
            }))
            .ok(),
            Error::HealthCheckFailed { digest, reason } => Some(serde_json::json!({
                "digest": digest.to_string(), "reason": reason,
            })),
            Error::TagMismatch {
                tag,
                expected,
                found,
                ..
            } => Some(serde_json::json!({
                "tag": tag, "expected": expected.to_string(), "found": found,
            })),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.as_ref().display().to_string();
        move |source| Error::Io { path, source }
    }

    pub(crate) fn layout(path: impl AsRef<std::path::Path>) -> impl FnOnce(LayoutError) -> Error {
        let path = path.as_ref().to_path_buf();
        move |source| Error::Layout { path, source }
    }
}

impl From<latch_sources::SourceError> for Error {
    fn from(e: latch_sources::SourceError) -> Error {
        match e {
            latch_sources::SourceError::Registry(r) => Error::Registry(r),
            latch_sources::SourceError::Layout { path, source } => Error::Layout {
                path: path.into(),
                source,
            },
            latch_sources::SourceError::Signatures { location, source } => {
                Error::BadSignatures { location, source }
            }
            other => Error::Invalid(other.to_string()),
        }
    }
}

impl From<latch_store::StoreError> for Error {
    fn from(e: latch_store::StoreError) -> Error {
        match e {
            latch_store::StoreError::Locked(dir) => Error::Locked(dir),
            latch_store::StoreError::Corrupt { path, detail } => {
                Error::StoreCorrupt { path, detail }
            }
            other => Error::Store(other),
        }
    }
}

impl From<ArchiveError> for Error {
    fn from(e: ArchiveError) -> Error {
        Error::Archive(Box::new(e))
    }
}

/// Steps of an upgrade, for tests that interrupt it (as a kill would) after each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Step {
    /// The remote image and its signatures are fetched and verified.
    Verified,
    /// The runtime holds the new image.
    Installed,
    /// The signatures are stored.
    SignaturesStored,
    /// `last_log_index` and the state name the new image.
    StateSaved,
    /// The image is tagged.
    Tagged,
    /// Older images are removed.
    Cleaned,
}

/// One source tried for the followed image, and why it gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceAttempt {
    /// The source: the profile's image, a mirror, `oci:DIR`.
    pub source: String,
    /// Why it failed.
    pub error: String,
}

/// Why an archive was refused, before anything was loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// The tar itself is broken (truncated, bad header, an extended header over its
    /// bound).
    #[error("{path}: not a readable tar archive: {source}")]
    Tar {
        /// The archive.
        path: PathBuf,
        /// Why.
        #[source]
        source: latch_tar::TarError,
    },
    /// Reading the archive failed.
    #[error("{path}: {source}")]
    Read {
        /// The archive.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An entry an image layout never has, or one that could escape the directory.
    #[error("{archive}: entry {entry:?} refused: {reason}")]
    Entry {
        /// The archive.
        archive: PathBuf,
        /// The entry's name.
        entry: String,
        /// Why.
        reason: String,
    },
    /// The layout inside is not what an archive must be.
    #[error("{archive}: {reason}")]
    Layout {
        /// The archive.
        archive: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
