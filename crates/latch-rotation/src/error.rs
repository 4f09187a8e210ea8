//! Why a chain of trust documents is refused.

/// Why a link (or the chain) is refused. Each names the version concerned where it is
/// known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The envelope or the document cannot be read, or says something incoherent.
    #[error("trust document{}: {problem}", version_suffix(*.version))]
    Malformed {
        /// The document's version, when it could be read.
        version: Option<u64>,
        /// What is wrong.
        problem: Problem,
    },
    /// The document is for another repository.
    #[error("trust document version {version} is for {found}, not {expected}")]
    WrongRepository {
        /// Its version.
        version: u64,
        /// The repository the trust is for.
        expected: String,
        /// The repository the document names.
        found: String,
    },
    /// No key of the version before signed it.
    #[error(
        "trust document version {version} is not signed by any key of version {previous} \
         (unknown keys only)"
    )]
    UnknownSigners {
        /// Its version.
        version: u64,
        /// The version whose keys must sign it.
        previous: u64,
    },
    /// Fewer keys of the version before signed it than that version's threshold.
    #[error(
        "trust document version {version} is signed by {signed} key(s) of version {previous}, \
         which requires {threshold}"
    )]
    BelowThreshold {
        /// Its version.
        version: u64,
        /// The version whose keys must sign it.
        previous: u64,
        /// Distinct keys of that version that signed.
        signed: usize,
        /// That version's threshold.
        threshold: usize,
    },
    /// Versions are missing between the one held and the ones offered.
    #[error(
        "trust documents skip from version {held} to {next}: version {} is missing",
        held + 1
    )]
    Gap {
        /// The newest version held or followed.
        held: u64,
        /// The lowest version offered above it.
        next: u64,
    },
    /// Two different documents for the same version both verify: the keys signed two
    /// futures.
    #[error("two different trust documents of version {version} are both validly signed")]
    Fork {
        /// The version.
        version: u64,
    },
    /// The newest version followed has expired (a freeze: someone may be withholding
    /// newer versions).
    #[error("trust document version {version} expired at {expires} (now {now})")]
    Expired {
        /// Its version.
        version: u64,
        /// When it expired (Unix seconds).
        expires: i64,
        /// The time of the decision.
        now: i64,
    },
    /// A newer version trusts again a key an earlier one revoked.
    #[error("trust document version {version} trusts key {key}, revoked by an earlier version")]
    Unrevoked {
        /// Its version.
        version: u64,
        /// The key's log id.
        key: String,
    },
}

fn version_suffix(v: Option<u64>) -> String {
    v.map(|v| format!(" version {v}")).unwrap_or_default()
}

/// What is wrong with a malformed envelope or document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// Over the size bound.
    #[error("{size} bytes, over the bound of {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// Not the JSON expected.
    #[error("not valid JSON for it: {0}")]
    Json(String),
    /// A `type` or `payloadType` other than Latch's.
    #[error("unexpected type {0:?}")]
    Type(String),
    /// A field that is not base64.
    #[error("{0} is not base64")]
    Base64(&'static str),
    /// Too many signatures.
    #[error(
        "{count} signatures, over the bound of {}",
        crate::envelope::MAX_SIGNATURES
    )]
    TooManySignatures {
        /// How many.
        count: usize,
    },
    /// Too many keys.
    #[error("{count} keys, over the bound of {}", crate::document::MAX_KEYS)]
    TooManyKeys {
        /// How many.
        count: usize,
    },
    /// No trusted key.
    #[error("no trusted key")]
    NoKeys,
    /// A key that cannot be read.
    #[error("a key cannot be read: {0}")]
    Key(String),
    /// The same key twice.
    #[error("key {0} is listed twice")]
    DuplicateKey(String),
    /// A key both trusted and revoked.
    #[error("key {0} is both trusted and revoked")]
    TrustedAndRevoked(String),
    /// A threshold of 0 or above the number of keys.
    #[error("threshold {threshold} is impossible with {keys} key(s)")]
    Threshold {
        /// The threshold.
        threshold: usize,
        /// The keys.
        keys: usize,
    },
}
