//! The verifier of legacy `.sig` signatures: a policy, the digest about to be used, the
//! signatures found, and the time in; every signature's outcome out.
//!
//! Each signature is checked in this order, and the first failing check is its
//! [`Rejection`]: well-formed entry; signature over the exact payload bytes by a trusted
//! key; payload parsed strictly; payload digest equal to the digest; `docker-reference`
//! naming the expected repository; Rekor bundle (per [`TlogMode`]). A rejected signature
//! is reported and skipped, never fatal. Whether enough distinct signers signed is decided
//! above this crate (`latch-decide`), over every kind of signature together.

use std::fmt;

use latch_oci::{Digest, Reference, ReferenceError};
use serde::ser::{SerializeStruct, Serializer};

use crate::payload::{PayloadError, SimpleSigning, clip};
use crate::policy::{Policy, TlogMode};
use crate::rekor::{LogEntry, RekorError};
use crate::signature::{Candidate, MAX_SIGNATURES, Signature, SignatureParseError};

/// Why one signature was not accepted: the check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The entry is not a well-formed signature.
    #[error("malformed: {0}")]
    Malformed(SignatureParseError),
    /// No trusted key verifies the signature over the payload bytes (another key, or
    /// altered bytes).
    #[error("the signature over the payload does not verify with any trusted key")]
    SignatureNotVerified,
    /// The signed payload is not a valid simple-signing payload.
    #[error("signed payload refused: {0}")]
    Payload(PayloadError),
    /// The payload signs another digest.
    #[error("the payload signs {found}, not {expected}")]
    DigestMismatch {
        /// The digest being verified.
        expected: Digest,
        /// The digest in the payload.
        found: Digest,
    },
    /// `docker-reference` is not an image reference.
    #[error("the payload docker-reference {reference:?} is not a valid reference: {source}")]
    BadDockerReference {
        /// The value.
        reference: String,
        /// Why.
        source: ReferenceError,
    },
    /// `docker-reference` names another repository.
    #[error("the payload names repository {found}, expected {expected}")]
    RepositoryMismatch {
        /// The policy's repository.
        expected: String,
        /// The repository in the payload.
        found: String,
    },
    /// No Rekor bundle, and the policy requires one.
    #[error("no Rekor bundle, and the policy requires a transparency log entry")]
    MissingTlogEntry,
    /// The Rekor bundle does not vouch for this signature.
    #[error("Rekor bundle refused: {0}")]
    Rekor(RekorError),
}

impl Rejection {
    /// A stable short name of the failed check: `malformed`, `signature`, `payload`,
    /// `digest`, `repository`, `tlog.missing`, or `rekor.*` (see [`RekorError::check`]).
    pub fn check(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::SignatureNotVerified => "signature",
            Rejection::Payload(_) => "payload",
            Rejection::DigestMismatch { .. } => "digest",
            Rejection::BadDockerReference { .. } | Rejection::RepositoryMismatch { .. } => {
                "repository"
            }
            Rejection::MissingTlogEntry => "tlog.missing",
            Rejection::Rekor(e) => e.check(),
        }
    }
}

/// A signature that passed every check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    /// Position of the signature in the list given to [`verify`].
    pub index: usize,
    /// Store id of the key that signed (sha256 of its PEM file).
    pub key_store_id: String,
    /// Log id of the key that signed (sha256 of its DER).
    pub key_log_id: String,
    /// The signed `docker-reference`.
    pub docker_reference: String,
    /// The verified log entry, when the bundle was checked.
    pub tlog: Option<LogEntry>,
    /// The signed payload (its `optional` map carries signed annotations).
    #[serde(skip)]
    pub payload: SimpleSigning,
}

/// What happened to one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted.
    Accepted(Accepted),
    /// Rejected, with the failed check.
    Rejected {
        /// Position of the signature in the list given to [`verify`].
        index: usize,
        /// Why.
        reason: Rejection,
    },
}

impl Outcome {
    /// Position of the signature in the list given to [`verify`].
    pub fn index(&self) -> usize {
        match self {
            Outcome::Accepted(a) => a.index,
            Outcome::Rejected { index, .. } => *index,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Accepted(a) => {
                write!(f, "signature {}: accepted, key {}", a.index, a.key_log_id)?;
                if let Some(t) = &a.tlog {
                    write!(
                        f,
                        ", log index {} at {} (log {})",
                        t.log_index, t.integrated_time, t.log_id
                    )?;
                }
                Ok(())
            }
            Outcome::Rejected { index, reason } => {
                write!(
                    f,
                    "signature {index}: refused ({}): {reason}",
                    reason.check()
                )
            }
        }
    }
}

impl serde::Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Outcome::Accepted(a) => {
                let mut st = s.serialize_struct("Outcome", 6)?;
                st.serialize_field("index", &a.index)?;
                st.serialize_field("accepted", &true)?;
                st.serialize_field("key_store_id", &a.key_store_id)?;
                st.serialize_field("key_log_id", &a.key_log_id)?;
                st.serialize_field("docker_reference", &a.docker_reference)?;
                st.serialize_field("tlog", &a.tlog)?;
                st.end()
            }
            Outcome::Rejected { index, reason } => {
                let mut st = s.serialize_struct("Outcome", 4)?;
                st.serialize_field("index", index)?;
                st.serialize_field("accepted", &false)?;
                st.serialize_field("check", reason.check())?;
                st.serialize_field("reason", &reason.to_string())?;
                st.end()
            }
        }
    }
}

/// Every signature's outcome, from [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checked {
    /// The digest verified.
    pub digest: Digest,
    /// One outcome per signature given, in order.
    pub outcomes: Vec<Outcome>,
    /// The highest log index over accepted signatures with a verified bundle.
    pub max_log_index: Option<u64>,
}

impl Checked {
    /// The accepted signatures.
    pub fn accepted(&self) -> impl Iterator<Item = &Accepted> {
        self.outcomes.iter().filter_map(|o| match o {
            Outcome::Accepted(a) => Some(a),
            Outcome::Rejected { .. } => None,
        })
    }

    /// The rejected signatures, with their reasons.
    pub fn rejected(&self) -> impl Iterator<Item = (usize, &Rejection)> {
        self.outcomes.iter().filter_map(|o| match o {
            Outcome::Rejected { index, reason } => Some((*index, reason)),
            Outcome::Accepted(_) => None,
        })
    }

    /// How many signatures the key with this `log_id` made that were accepted.
    pub fn accepted_by(&self, log_id: &str) -> usize {
        self.accepted().filter(|a| a.key_log_id == log_id).count()
    }

    /// Whether every signature given was accepted (what Dangerzone's store demands).
    pub fn all_accepted(&self) -> bool {
        self.rejected().next().is_none()
    }
}

/// Why signatures could not be checked at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// More than [`MAX_SIGNATURES`] signatures given.
    #[error("{count} signatures given, over the bound of {max}")]
    TooManySignatures {
        /// Count given.
        count: usize,
        /// The bound.
        max: usize,
    },
}

/// Checks every one of `signatures` (as parsed, junk included) for `digest` under
/// `policy`, at `now` (unix seconds, for the Rekor `integratedTime` check).
pub fn verify(
    policy: &Policy,
    digest: &Digest,
    signatures: &[Candidate],
    now: i64,
) -> Result<Checked, VerifyError> {
    if signatures.len() > MAX_SIGNATURES {
        return Err(VerifyError::TooManySignatures {
            count: signatures.len(),
            max: MAX_SIGNATURES,
        });
    }
    let mut outcomes = Vec::with_capacity(signatures.len());
    let mut max_log_index: Option<u64> = None;
    for (index, candidate) in signatures.iter().enumerate() {
        let result = match candidate {
            Ok(sig) => verify_signature(policy, digest, index, sig, now),
            Err(e) => Err(Rejection::Malformed(e.clone())),
        };
        match result {
            Ok(accepted) => {
                if let Some(t) = &accepted.tlog {
                    max_log_index = Some(max_log_index.map_or(t.log_index, |m| m.max(t.log_index)));
                }
                outcomes.push(Outcome::Accepted(accepted));
            }
            Err(reason) => outcomes.push(Outcome::Rejected { index, reason }),
        }
    }
    Ok(Checked {
        digest: digest.clone(),
        outcomes,
        max_log_index,
    })
}

/// The checks of a signed simple-signing payload, once its signature has verified
/// (whatever verified it: a trusted key here, a Fulcio certificate for keyless
/// signatures): parsed strictly, naming `digest`, and naming `repository` when one is
/// required.
pub fn check_payload(
    payload: &[u8],
    digest: &Digest,
    repository: Option<&Reference>,
) -> Result<SimpleSigning, Rejection> {
    let payload = SimpleSigning::parse(payload).map_err(Rejection::Payload)?;
    if payload.manifest_digest() != digest {
        return Err(Rejection::DigestMismatch {
            expected: digest.clone(),
            found: payload.manifest_digest().clone(),
        });
    }
    if let Some(expected) = repository {
        let named = Reference::parse(payload.docker_reference()).map_err(|source| {
            Rejection::BadDockerReference {
                reference: clip(payload.docker_reference()),
                source,
            }
        })?;
        if !named.same_repository(expected) {
            return Err(Rejection::RepositoryMismatch {
                expected: expected.name(),
                found: named.name(),
            });
        }
    }
    Ok(payload)
}

/// Checks one signature (see the module documentation for the order of the checks).
/// The entry, if its log key's window (when the policy gives one) contains its time.
fn within_window(policy: &Policy, entry: LogEntry) -> Result<LogEntry, Rejection> {
    match policy.log_key_window(&entry.log_id) {
        Some(w)
            if w.valid_from.is_some_and(|s| entry.integrated_time < s)
                || w.valid_until.is_some_and(|e| entry.integrated_time > e) =>
        {
            Err(Rejection::Rekor(RekorError::LogKeyNotValid {
                log_id: entry.log_id,
                integrated_time: entry.integrated_time,
                valid_from: w.valid_from,
                valid_until: w.valid_until,
            }))
        }
        _ => Ok(entry),
    }
}

/// `index` is only echoed in the result.
pub fn verify_signature(
    policy: &Policy,
    digest: &Digest,
    index: usize,
    signature: &Signature,
    now: i64,
) -> Result<Accepted, Rejection> {
    let key = policy
        .keys()
        .iter()
        .find(|k| k.verify(signature.payload(), signature.signature()).is_ok())
        .ok_or(Rejection::SignatureNotVerified)?;
    let payload = check_payload(signature.payload(), digest, policy.repository())?;
    let tlog = match (policy.tlog(), signature.bundle()) {
        (TlogMode::Ignored, _) | (TlogMode::Optional, None) => None,
        (TlogMode::Required, None) => return Err(Rejection::MissingTlogEntry),
        (TlogMode::Required | TlogMode::Optional, Some(bundle)) => Some(
            bundle
                .verify(
                    signature.payload(),
                    signature.signature(),
                    key,
                    policy.rekor_keys(),
                    now,
                    policy.clock_skew_secs(),
                )
                .map_err(Rejection::Rekor)
                .and_then(|entry| within_window(policy, entry))?,
        ),
    };
    Ok(Accepted {
        index,
        key_store_id: key.store_id().to_owned(),
        key_log_id: key.log_id().to_owned(),
        docker_reference: payload.docker_reference().to_owned(),
        tlog,
        payload,
    })
}
