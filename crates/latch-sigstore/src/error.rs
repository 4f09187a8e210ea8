//! Errors that name what was refused and where.

/// Why a bundle, a trust root or a policy was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A trusted root that cannot be used.
    #[error("trusted root {origin}: {detail}")]
    TrustRoot {
        /// Where it came from (a path, `production`, `staging`, `pinned Rekor keys`).
        origin: String,
        /// What is wrong.
        detail: String,
    },
    /// A document that is not a Sigstore bundle (or an unsupported version of one).
    #[error("{location}: not a usable Sigstore bundle: {detail}")]
    BadBundle {
        /// Where the bundle came from.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// The bundle does not verify: signature, certificate chain, SCT, transparency log,
    /// timestamps or artifact binding (the inner error says which).
    #[error("{location}: {source}")]
    Verification {
        /// Where the bundle came from.
        location: String,
        /// What sigstore-verify refused.
        #[source]
        source: sigstore_verify::Error,
    },
    /// The bundle verifies, but its signer is not one the policy trusts.
    #[error("{location}: signer not trusted: {detail}")]
    UntrustedSigner {
        /// Where the bundle came from.
        location: String,
        /// Each acceptable signer and why it did not match.
        detail: String,
    },
    /// A claim (of the certificate, of the statement or of its predicate) did not match.
    #[error("{location}: claim {claim} failed: expected {expected}, found {found}")]
    Claim {
        /// Where the bundle came from.
        location: String,
        /// The claim, as printed in reports (`certificate source repository`,
        /// `predicate.buildDefinition.externalParameters.workflow.ref`, `subject`, …).
        claim: String,
        /// What the policy asked for.
        expected: String,
        /// What was there (`none` when absent).
        found: String,
    },
    /// The bundle lists the same transparency-log entry (same log, same index) more than
    /// once: one logged signature would count as several.
    #[error("{location}: log entry {log_index} of log {log_id} is listed twice")]
    DuplicateLogEntry {
        /// Where the bundle came from.
        location: String,
        /// The log's ID (hex).
        log_id: String,
        /// The entry's index in that log.
        log_index: u64,
    },
    /// A transparency-log entry that does not record this bundle's signing: its hash
    /// algorithm, the artifact's hash, the signature or the signer differ.
    #[error(
        "{location}: log entry {log_index} does not match the bundle: {field}: expected \
         {expected}, found {found}"
    )]
    LogEntryMismatch {
        /// Where the bundle came from.
        location: String,
        /// The entry's index in its log.
        log_index: u64,
        /// What differs: `hash algorithm`, `artifact hash`, `signature`, `verifier`,
        /// `key details`.
        field: String,
        /// What the bundle (and its signer) calls for.
        expected: String,
        /// What the entry says.
        found: String,
    },
    /// A key that cannot be used.
    #[error("key {location}: {detail}")]
    Key {
        /// The key's file or origin.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// A policy that cannot be built (an invalid regular expression, no signer…).
    #[error("policy: {0}")]
    Policy(String),
    /// A cosign registry document (a `.att` layer, a referrer manifest) that is malformed.
    #[error("{location}: {detail}")]
    Cosign {
        /// Where it came from.
        location: String,
        /// What is wrong.
        detail: String,
    },
}

impl Error {
    pub(crate) fn claim(
        location: &str,
        claim: &str,
        expected: impl Into<String>,
        found: Option<&str>,
    ) -> Error {
        Error::Claim {
            location: location.to_owned(),
            claim: claim.to_owned(),
            expected: expected.into(),
            found: found.unwrap_or("none").to_owned(),
        }
    }

    /// The name of the claim that failed, when a claim did.
    pub fn failed_claim(&self) -> Option<&str> {
        match self {
            Error::Claim { claim, .. } => Some(claim),
            _ => None,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
