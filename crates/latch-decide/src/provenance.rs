//! The second half of the decision when the trust requires it: a SLSA provenance
//! attestation for exactly the digest the signatures name, signed by the expected
//! workflow. Pure, like the rest: attestations in, a [`ProvenanceVerdict`] out.

use latch_oci::Digest;
use latch_sigstore::provenance::{Claim, ProvenancePolicy};
use latch_sigstore::sigstore_verify::types::Bundle;
use latch_sigstore::{Artifact, BundleVerification, Signer, TlogRequirement, TrustRoot};
use serde::Serialize;

use crate::candidates::{AttestationCandidate, AttestationForm};

/// Bound on the attestations looked at for one digest.
pub const MAX_ATTESTATIONS: usize = 32;

/// What the provenance half of the decision found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvenanceVerdict {
    /// Whether an attestation satisfied the requirement.
    pub satisfied: bool,
    /// The requirement, as a person reads it (one line per allowed policy).
    pub required: Vec<String>,
    /// The attestation that satisfied it, and every claim checked.
    pub accepted: Option<AcceptedAttestation>,
    /// Every other attestation looked at, and why it did not satisfy it.
    pub refused: Vec<RefusedAttestation>,
}

impl ProvenanceVerdict {
    /// One line: the provenance found, or what was required and why each attestation
    /// looked at fell short.
    pub fn summary(&self) -> String {
        if let Some(a) = &self.accepted {
            return format!("provenance: satisfied by {}", a.location);
        }
        let mut msg = format!(
            "provenance: no SLSA provenance attestation from {}",
            self.required.join(" or ")
        );
        if self.refused.is_empty() {
            msg.push_str(" (none found)");
        }
        for r in self.refused.iter().take(5) {
            msg.push_str(&format!("; {}: {}", r.location, r.reason));
        }
        if self.refused.len() > 5 {
            msg.push_str(&format!("; and {} more", self.refused.len() - 5));
        }
        msg
    }
}

/// The attestation that satisfied the requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptedAttestation {
    /// Where it was found.
    pub location: String,
    /// The claims checked, in order: signature, certificate, statement, predicate.
    pub claims: Vec<Claim>,
    /// The highest verified log index of its signature.
    pub log_index: Option<u64>,
}

/// An attestation that did not satisfy the requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedAttestation {
    /// Where it was found.
    pub location: String,
    /// Why (the claim that failed, or why it could not be read).
    pub reason: String,
}

/// Describes one policy: `repository owner/repo, workflow PATH, ref R`.
pub fn describe(policy: &ProvenancePolicy) -> String {
    format!(
        "repository {}, workflow {}, ref {}",
        policy.repository,
        policy.workflow,
        policy.ref_rule()
    )
}

/// Checks `attestations` against the requirement for `digest`: the first that satisfies
/// one of `policies` under `root` is accepted; each other is refused with its reason.
pub fn check(
    policies: &[ProvenancePolicy],
    root: &TrustRoot,
    attestations: &[AttestationCandidate],
    digest: &Digest,
) -> ProvenanceVerdict {
    let mut verdict = ProvenanceVerdict {
        satisfied: false,
        required: policies.iter().map(describe).collect(),
        accepted: None,
        refused: Vec::new(),
    };
    for (i, a) in attestations.iter().enumerate() {
        if i >= MAX_ATTESTATIONS {
            verdict.refused.push(RefusedAttestation {
                location: a.location.clone(),
                reason: format!("over the bound of {MAX_ATTESTATIONS} attestations"),
            });
            continue;
        }
        if verdict.accepted.is_some() {
            continue;
        }
        match check_one(policies, root, a, digest) {
            Ok(accepted) => verdict.accepted = Some(accepted),
            Err(reason) => verdict.refused.push(RefusedAttestation {
                location: a.location.clone(),
                reason,
            }),
        }
    }
    verdict.satisfied = verdict.accepted.is_some();
    verdict
}

/// One attestation: parsed, its signature verified under the root by the workflow
/// identity of some policy, its statement naming `digest` and its predicate the
/// repository, workflow, ref and builder.
pub fn check_one(
    policies: &[ProvenancePolicy],
    root: &TrustRoot,
    candidate: &AttestationCandidate,
    digest: &Digest,
) -> Result<AcceptedAttestation, String> {
    let location = &candidate.location;
    let bundle: Bundle = match &candidate.form {
        AttestationForm::Bundle(bytes) => latch_sigstore::parse_bundle(bytes, location),
        AttestationForm::AttLayer {
            envelope,
            annotations,
        } => latch_sigstore::cosign::att_layer_to_bundle(envelope, annotations, location),
        AttestationForm::Unreadable(why) => return Err(format!("unreadable: {why}")),
    }
    .map_err(|e| e.to_string())?;
    let raw = digest
        .sha256_bytes()
        .ok_or_else(|| format!("{digest}: attestations name sha256 digests only"))?;
    let image_digest = digest.to_string();
    let mut reasons = Vec::new();
    for policy in policies {
        let outcome = policy
            .identity()
            .and_then(|identity| {
                latch_sigstore::verify_parsed_bundle(
                    root,
                    &bundle,
                    location,
                    Artifact::Sha256(raw),
                    &[Signer::Identity(identity)],
                    TlogRequirement::Required,
                )
            })
            .and_then(|v| {
                let statement = v.require_statement()?;
                let predicate = policy.check_statement(statement, &image_digest, location)?;
                Ok((v.clone(), predicate))
            });
        match outcome {
            Ok((v, predicate)) => {
                let mut claims = vec![signature_claim(&v, root)];
                claims.extend(v.claims.iter().map(|(name, value)| Claim {
                    name: name.clone(),
                    value: value.clone(),
                }));
                claims.extend(predicate);
                return Ok(AcceptedAttestation {
                    location: location.clone(),
                    claims,
                    log_index: v.max_log_index(),
                });
            }
            Err(e) => reasons.push(e.to_string()),
        }
    }
    reasons.dedup();
    Err(reasons.join("; "))
}

/// The `signature` claim: how the attestation's signature was verified.
pub fn signature_claim(v: &BundleVerification, root: &TrustRoot) -> Claim {
    let mut how = vec![format!(
        "certificate chain to trusted root {}",
        root.origin()
    )];
    if v.inclusion_proof_verified {
        how.push("Rekor inclusion proof and signed checkpoint".into());
    } else if !v.log_entries.is_empty() {
        how.push("Rekor inclusion promise (SET)".into());
    }
    if let Some(i) = v.max_log_index() {
        how.push(format!("log index {i}"));
    }
    Claim {
        name: "signature".into(),
        value: format!("verified ({})", how.join(", ")),
    }
}
