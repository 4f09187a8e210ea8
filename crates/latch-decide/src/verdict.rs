//! The verdict: every candidate's outcome, and the distinct trusted signers counted.

use std::collections::BTreeMap;

use latch_oci::Digest;
use latch_sigstore::BundleVerification;
use latch_trust::Rejection;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::candidates::UnusableKind;
use crate::trust::TrustedSigner;

/// What kind of candidate an outcome is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CandidateKind {
    /// A legacy cosign `.sig` signature (keyed or keyless).
    Sig,
    /// A cosign v3 signature (a Sigstore bundle).
    Bundle,
    /// Something found that could not be used.
    Unusable,
}

/// Who made an accepted signature, as established.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Signer {
    /// A trusted key.
    Key {
        /// Hex sha256 of its canonical DER.
        log_id: String,
        /// Hex sha256 of its PEM file as given (its signature-store folder).
        store_id: String,
    },
    /// A Fulcio certificate (keyless).
    Certificate {
        /// The OIDC issuer.
        issuer: Option<String>,
        /// The SAN.
        identity: Option<String>,
    },
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Key { log_id, .. } => write!(f, "key {}", log_id.get(..12).unwrap_or(log_id)),
            Signer::Certificate { issuer, identity } => write!(
                f,
                "{} from {}",
                identity.as_deref().unwrap_or("?"),
                issuer.as_deref().unwrap_or("?")
            ),
        }
    }
}

/// One verified transparency-log entry behind an accepted signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// The log (hex SHA-256 of its key).
    pub log_id: String,
    /// Index in that log.
    pub log_index: u64,
    /// When the log integrated it, where the log says (Rekor v2 entries do not).
    pub integrated_time: Option<i64>,
}

/// A candidate that verified: a trusted signer signed this digest.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    /// Who signed.
    pub signer: Signer,
    /// The trusted signers this signature satisfies (a key: that key; a certificate:
    /// every identity whose whole policy it matches).
    pub satisfies: Vec<TrustedSigner>,
    /// The verified log entries.
    pub log_entries: Vec<LogEntry>,
    /// Authenticated signing times, unix seconds: log integration times, RFC 3161
    /// timestamps, and a legacy payload's signed `timestamp`.
    pub signed_times: Vec<i64>,
    /// The `docker-reference` a legacy payload names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_reference: Option<String>,
    /// Signed annotations: a legacy payload's `optional` strings, a cosign v3 statement's
    /// subject annotations for this digest.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The claims checked, as `(claim, value)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<(String, String)>,
    /// For a bundle (and a keyless `.sig`, verified as one): everything established.
    #[serde(skip)]
    pub bundle: Option<BundleVerification>,
}

/// Why a candidate was refused: the check that failed, with its data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// A legacy signature signed by a key: the first check it failed.
    Sig(Rejection),
    /// A legacy signature made with a Fulcio certificate (keyless) that did not verify, or
    /// whose certificate is not a trusted identity.
    Keyless {
        /// The claim that failed, when a claim did.
        claim: Option<String>,
        /// What failed.
        message: String,
    },
    /// A cosign v3 signature (bundle) that did not verify, was not a `sign/v1` statement
    /// of this digest, or whose signer is not trusted.
    Bundle {
        /// The claim that failed, when a claim did.
        claim: Option<String>,
        /// What failed.
        message: String,
    },
    /// Made with a Fulcio certificate (keyless), but no identity is trusted.
    NoIdentityTrusted,
    /// Made with a key, but only identities are trusted.
    NoKeyTrusted,
    /// Cosign v3 signatures name sha256 digests only.
    NotSha256,
    /// Over the bound of candidates of its kind looked at.
    OverBound {
        /// The bound.
        max: usize,
    },
    /// Found, but not a usable signature.
    Unusable(UnusableKind),
    /// By a revoked key, and not logged before its distrust time.
    Revoked {
        /// The key's log id.
        key: String,
        /// Its distrust time (Unix seconds).
        distrust_after: i64,
        /// When the log integrated the signature, if a log shows it.
        logged: Option<i64>,
    },
}

impl Refusal {
    /// A stable short name of the failed check: the legacy rejection's (`signature`,
    /// `digest`, `repository`, `tlog.missing`, `rekor.*`, …), `keyless`, `bundle`,
    /// `no-identity`, `no-key`, `not-sha256`, `over-bound`, or `unusable`.
    pub fn check(&self) -> &'static str {
        match self {
            Refusal::Sig(r) => r.check(),
            Refusal::Keyless { .. } => "keyless",
            Refusal::Bundle { .. } => "bundle",
            Refusal::NoIdentityTrusted => "no-identity",
            Refusal::NoKeyTrusted => "no-key",
            Refusal::NotSha256 => "not-sha256",
            Refusal::OverBound { .. } => "over-bound",
            Refusal::Unusable(_) => "unusable",
            Refusal::Revoked { .. } => "revoked",
        }
    }

    /// The claim that failed, when one did.
    pub fn claim(&self) -> Option<&str> {
        match self {
            Refusal::Keyless { claim, .. } | Refusal::Bundle { claim, .. } => claim.as_deref(),
            _ => None,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Sig(r) => write!(f, "{r}"),
            Refusal::Keyless { message, .. } | Refusal::Bundle { message, .. } => {
                f.write_str(message)
            }
            Refusal::NoIdentityTrusted => f.write_str(
                "signed keyless (a Fulcio certificate), but no keyless identity is trusted",
            ),
            Refusal::NoKeyTrusted => {
                f.write_str("signed with a key, but only keyless identities are trusted")
            }
            Refusal::NotSha256 => f.write_str("cosign v3 signatures name sha256 digests only"),
            Refusal::OverBound { max } => {
                write!(f, "not looked at: over the bound of {max} of its kind")
            }
            Refusal::Unusable(u) => write!(f, "{u}"),
            Refusal::Revoked {
                key,
                distrust_after,
                logged,
            } => {
                let key = key.get(..12).unwrap_or(key);
                match logged {
                    Some(t) => write!(
                        f,
                        "key {key} is revoked: distrusted from {distrust_after}, logged at {t}"
                    ),
                    None => write!(
                        f,
                        "key {key} is revoked (distrusted from {distrust_after}) and no log \
                         shows when it signed"
                    ),
                }
            }
        }
    }
}

/// What happened to one candidate.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Legacy signature, bundle, or unusable find.
    pub kind: CandidateKind,
    /// Its position among the candidates of its kind.
    pub index: usize,
    /// Where it came from.
    pub location: String,
    /// Accepted, or why not.
    pub result: Result<Accepted, Refusal>,
}

impl Outcome {
    /// The accepted signature, if it was.
    pub fn accepted(&self) -> Option<&Accepted> {
        self.result.as_ref().ok()
    }

    /// The newest time a third party witnessed this signature, if accepted: a verified
    /// log entry's integrated time, or a bundle's RFC 3161 timestamp; never a time the
    /// signer wrote into its own payload (a stolen key could write any).
    pub fn newest_witnessed_time(&self) -> Option<i64> {
        let a = self.accepted()?;
        let logged = a.log_entries.iter().filter_map(|e| e.integrated_time);
        let stamped = (self.kind == CandidateKind::Bundle)
            .then(|| a.signed_times.iter().copied())
            .into_iter()
            .flatten();
        logged.chain(stamped).max()
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", &self.kind)?;
        m.serialize_entry("index", &self.index)?;
        m.serialize_entry("location", &self.location)?;
        match &self.result {
            Ok(a) => {
                m.serialize_entry("accepted", &true)?;
                m.serialize_entry("signer", &a.signer)?;
                m.serialize_entry("satisfies", &a.satisfies)?;
                m.serialize_entry("log_entries", &a.log_entries)?;
                m.serialize_entry("signed_times", &a.signed_times)?;
                if let Some(r) = &a.docker_reference {
                    m.serialize_entry("docker_reference", r)?;
                }
                if !a.annotations.is_empty() {
                    m.serialize_entry("annotations", &a.annotations)?;
                }
                if !a.claims.is_empty() {
                    m.serialize_entry("claims", &a.claims)?;
                }
            }
            Err(r) => {
                m.serialize_entry("accepted", &false)?;
                m.serialize_entry("check", r.check())?;
                if let Some(c) = r.claim() {
                    m.serialize_entry("claim", c)?;
                }
                m.serialize_entry("reason", &r.to_string())?;
            }
        }
        m.end()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            CandidateKind::Sig => "signature",
            CandidateKind::Bundle => "cosign v3 signature",
            CandidateKind::Unusable => "found",
        };
        write!(f, "{what} {} ({}): ", self.index, self.location)?;
        match &self.result {
            Ok(a) => {
                write!(f, "accepted, by {}", a.signer)?;
                if let Some(e) = a.log_entries.iter().max_by_key(|e| e.log_index) {
                    write!(f, ", log index {}", e.log_index)?;
                    if let Some(t) = e.integrated_time {
                        write!(f, " at {t}")?;
                    }
                }
                Ok(())
            }
            Err(r) => write!(f, "refused ({}): {r}", r.check()),
        }
    }
}

/// One distinct trusted signer counted towards the threshold, and the outcome that
/// credited it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counted {
    /// The trusted key or identity.
    pub trusted: TrustedSigner,
    /// Position in [`Verdict::outcomes`] of a signature that satisfies it.
    pub by: usize,
}

/// The result of [`crate::decide`]: every candidate's outcome and the distinct trusted
/// signers counted.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The digest decided on.
    pub digest: Digest,
    /// Distinct trusted signers required.
    pub threshold: usize,
    /// Whether at least `threshold` distinct trusted signers validly signed.
    pub trusted: bool,
    /// The distinct trusted signers counted.
    pub signers: Vec<Counted>,
    /// One outcome per candidate: legacy signatures, then bundles, then unusable finds.
    pub outcomes: Vec<Outcome>,
    /// The highest verified log index over every accepted signature.
    pub max_log_index: Option<u64>,
    /// When the trust requires provenance: what was found (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::provenance::ProvenanceVerdict>,
}

impl Verdict {
    /// How many distinct trusted signers were counted.
    pub fn count(&self) -> usize {
        self.signers.len()
    }

    /// Whether enough distinct trusted signers signed (the first half of
    /// [`Verdict::trusted`]; the second is the provenance, when required).
    pub fn signed(&self) -> bool {
        self.signers.len() >= self.threshold
    }

    /// Whether the provenance required (if any) was found: the second half.
    pub fn provenance_satisfied(&self) -> bool {
        self.provenance.as_ref().is_none_or(|p| p.satisfied)
    }

    /// The accepted signatures, with their outcomes.
    pub fn accepted(&self) -> impl Iterator<Item = (&Outcome, &Accepted)> {
        self.outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().ok().map(|a| (o, a)))
    }

    /// The refused candidates, with why.
    pub fn refused(&self) -> impl Iterator<Item = (&Outcome, &Refusal)> {
        self.outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().err().map(|r| (o, r)))
    }

    /// Whether every candidate was accepted (what Dangerzone's store demands of a file).
    pub fn all_accepted(&self) -> bool {
        self.refused().next().is_none()
    }

    /// Positions (among legacy signatures) of the accepted `.sig` signatures.
    pub fn accepted_sigs(&self) -> impl Iterator<Item = usize> + '_ {
        self.accepted()
            .filter(|(o, _)| o.kind == CandidateKind::Sig)
            .map(|(o, _)| o.index)
    }

    /// Positions (among bundles) of the accepted cosign v3 signatures.
    pub fn accepted_bundles(&self) -> impl Iterator<Item = usize> + '_ {
        self.accepted()
            .filter(|(o, _)| o.kind == CandidateKind::Bundle)
            .map(|(o, _)| o.index)
    }

    /// Every verified log entry behind an accepted signature.
    pub fn log_entries(&self) -> Vec<LogEntry> {
        self.accepted()
            .flat_map(|(_, a)| a.log_entries.iter().cloned())
            .collect()
    }

    /// The newest authenticated signing time of any accepted signature.
    pub fn newest_signed_time(&self) -> Option<i64> {
        self.accepted()
            .flat_map(|(_, a)| a.signed_times.iter().copied())
            .max()
    }

    /// The newest time a third party witnessed an accepted signature: a verified log
    /// entry's integrated time, or a bundle's RFC 3161 timestamp; never a time the
    /// signer wrote into its own payload (a stolen key could write any). What a minimum
    /// age or a rollout schedule is measured from.
    pub fn newest_witnessed_time(&self) -> Option<i64> {
        self.outcomes
            .iter()
            .filter_map(Outcome::newest_witnessed_time)
            .max()
    }

    /// The values of the signed annotation `key` over the accepted signatures.
    pub fn signed_annotations<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> {
        self.accepted()
            .filter_map(move |(_, a)| a.annotations.get(key).map(String::as_str))
    }

    /// One line for people: how many signed, and the first refusals.
    pub fn summary(&self) -> String {
        const SHOWN: usize = 10;
        let mut msg = format!(
            "{} of the {} required trusted signer(s) validly signed {}",
            self.count(),
            self.threshold,
            self.digest
        );
        if self.outcomes.is_empty() {
            msg.push_str(": no signatures found");
        }
        for o in self.outcomes.iter().take(SHOWN) {
            msg.push_str("; ");
            msg.push_str(&o.to_string());
        }
        if self.outcomes.len() > SHOWN {
            msg.push_str(&format!("; and {} more", self.outcomes.len() - SHOWN));
        }
        if let Some(p) = &self.provenance {
            msg.push_str("; ");
            msg.push_str(&p.summary());
        }
        msg
    }
}
