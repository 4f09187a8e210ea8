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
    /// Too few trusted signers validly signed the digest, counting cosign v3 bundle
    /// signatures (keys or keyless identities) beside legacy ones. Says why each was
    /// refused.
    #[error("not verified: {detail}")]
    SignersNotVerified {
        /// The digest.
        digest: Digest,
        /// How many signed, and each refusal.
        detail: String,
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
    /// The image is older than one already accepted (log index, log time or signed
    /// version). `--force` accepts it anyway.
    #[error("rollback refused: the image is older than the one already accepted: {detail}")]
    Rollback {
        /// Which ratchet it failed, with the numbers.
        detail: String,
    },
    /// The newest signature is older than the profile allows: the registry may be
    /// withholding updates.
    #[error("possible freeze attack: {detail}")]
    FreezeSuspected {
        /// What was seen.
        detail: String,
    },
    /// Another Latch process holds the store.
    #[error("another Latch process is updating {}; try again when it has finished", .0.display())]
    Locked(std::path::PathBuf),
    /// A file of the store is corrupt; it is left in place, never trusted.
    #[error("store corrupt: {detail}")]
    StoreCorrupt {
        /// Which file and what is wrong.
        detail: String,
    },
    /// The store could not be read or written.
    #[error(transparent)]
    Store(latch_store::StoreError),
    /// The container runtime failed.
    #[error(transparent)]
    Runtime(#[from] latch_runtime::RuntimeError),
    /// The runtime does not hold the digest it was asked to install.
    #[error("{runtime} does not report {expected} after installing it (it reports: {found})")]
    RuntimeMismatch {
        /// The runtime.
        runtime: String,
        /// The digest installed.
        expected: Digest,
        /// What it reports.
        found: String,
    },
    /// Nothing is installed.
    #[error("{image} is not installed in {runtime}; run `latch upgrade`")]
    NotInstalled {
        /// The image.
        image: String,
        /// The runtime.
        runtime: String,
    },
    /// An upgrade stopped after a step (crash-safety tests).
    #[error("upgrade interrupted after step {0:?}")]
    Interrupted(crate::updater::Step),
    /// An air-gap archive was refused before anything was loaded.
    #[error(transparent)]
    Archive(Box<crate::archive::ArchiveError>),
    /// A Sigstore bundle, trusted root or identity policy was refused (the error names
    /// the bundle and the claim that failed).
    #[error(transparent)]
    Sigstore(#[from] latch_sigstore::Error),
    /// No attestation of the digest satisfies the provenance policy.
    #[error("no attestation of {digest} satisfies the policy: {detail}")]
    NotAttested {
        /// The image digest.
        digest: Digest,
        /// Each attestation found and why it was refused (or that none was found).
        detail: String,
    },
    /// A profile that cannot be used.
    #[error("profile: {0}")]
    Profile(String),
    /// Input that is not what it should be, said in words.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// A stable short name of the error, for scripts and bindings (`--json` output's
    /// `error.kind`): `not-verified`, `no-signatures`, `rollback`, `freeze-suspected`,
    /// `registry`, `runtime`, `store-corrupt`, `store`, `locked`, `not-installed`,
    /// `archive`, `sigstore`, `not-attested`, `profile`, `key`, `policy`, `reference`,
    /// `bad-signatures`, `io`, `interrupted`, `invalid`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotVerified(_) | Error::SignersNotVerified { .. } => "not-verified",
            Error::NoSignatures { .. } => "no-signatures",
            Error::BadSignatures { .. } => "bad-signatures",
            Error::Registry(_) => "registry",
            Error::Key { .. } => "key",
            Error::Policy(_) => "policy",
            Error::Reference(_) => "reference",
            Error::Io { .. } => "io",
            Error::Rollback { .. } => "rollback",
            Error::FreezeSuspected { .. } => "freeze-suspected",
            Error::Locked(_) => "locked",
            Error::StoreCorrupt { .. } => "store-corrupt",
            Error::Store(_) => "store",
            Error::Runtime(_) | Error::RuntimeMismatch { .. } => "runtime",
            Error::NotInstalled { .. } => "not-installed",
            Error::Interrupted(_) => "interrupted",
            Error::Archive(_) => "archive",
            Error::Sigstore(_) => "sigstore",
            Error::NotAttested { .. } => "not-attested",
            Error::Profile(_) => "profile",
            Error::Invalid(_) => "invalid",
        }
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.as_ref().display().to_string();
        move |source| Error::Io { path, source }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
