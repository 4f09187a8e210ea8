//! `verify-attestation`: is there SLSA provenance for this image digest, signed by the
//! expected GitHub workflow, that names the expected repository, workflow and ref?
//!
//! The attestations are gathered by `latch-sources` (cosign's `sha256-<hex>.att`
//! manifest, and Sigstore bundle referrers as GitHub's `attest-build-provenance` pushes
//! them) and checked by `latch-decide`'s provenance half, the same code that decides for
//! the updater when a profile requires provenance.

use latch_decide::{Trust, Verdict};
use latch_oci::{Digest, Reference};
use latch_registry::Client;
use latch_sigstore::TrustRoot;
use latch_sigstore::provenance::{Claim, ProvenancePolicy};
use serde::Serialize;

use crate::error::{Error, Result};

/// An attestation that satisfied the policy.
#[derive(Debug, Clone, Serialize)]
pub struct AttestationReport {
    /// The image, as given.
    pub reference: String,
    /// Its digest (the hash of the manifest bytes received).
    pub digest: Digest,
    /// Where the accepted attestation was found.
    pub source: String,
    /// The claims checked, in order: signature, certificate, statement, predicate.
    pub claims: Vec<Claim>,
    /// Other attestations found that did not satisfy the policy: `location: why`.
    pub rejected: Vec<String>,
}

/// Fetches the attestations of `reference` (which must name a digest) and returns the
/// first one that satisfies `policy` under `root`; refuses, naming each attestation and
/// the claim it failed, when none does.
pub async fn verify_attestation(
    client: &Client,
    reference: &Reference,
    policy: &ProvenancePolicy,
    root: &TrustRoot,
) -> Result<AttestationReport> {
    let digest = fetched_digest(client, reference).await?;
    let found = latch_sources::attestations::in_registry(client, reference, &digest)
        .await
        .map_err(Error::from)?;
    let verdict =
        latch_decide::provenance::check(std::slice::from_ref(policy), root, &found, &digest);
    let mut rejected: Vec<String> = verdict
        .refused
        .iter()
        .map(|r| format!("{}: {}", r.location, r.reason))
        .collect();
    match verdict.accepted {
        Some(a) => Ok(AttestationReport {
            reference: reference.to_string(),
            digest,
            source: a.location,
            claims: a.claims,
            rejected,
        }),
        None => {
            if rejected.is_empty() {
                rejected.push(format!(
                    "no attestation found (neither {}:{}.att nor a referrer)",
                    reference.name(),
                    digest.tag_form()
                ));
            }
            Err(Error::NotAttested {
                digest,
                refused: rejected,
            })
        }
    }
}

/// The digest `reference` names, once the registry has shown a manifest with exactly that
/// digest (the hash of the bytes received): attestations are about one digest.
async fn fetched_digest(client: &Client, reference: &Reference) -> Result<Digest> {
    let Some(wanted) = reference.digest() else {
        return Err(Error::Invalid(format!(
            "{reference}: give the image by digest (IMAGE@sha256:<hex>): an attestation is about one digest"
        )));
    };
    let manifest = client.get_manifest(reference).await?;
    let digest = manifest.digest().clone();
    if &digest != wanted {
        return Err(Error::Invalid(format!(
            "{reference}: the registry sent a manifest with digest {digest}"
        )));
    }
    Ok(digest)
}

/// The one decision over the attestations of one predicate type.
#[derive(Debug, Clone, Serialize)]
pub struct AttestationDecision {
    /// The image, as given.
    pub reference: String,
    /// Its digest (the hash of the manifest bytes received).
    pub digest: Digest,
    /// The predicate type looked for.
    pub predicate_type: String,
    /// Every attestation's outcome and the signers counted against the threshold.
    pub verdict: Verdict,
    /// The predicate of the first accepted attestation.
    pub predicate: Option<serde_json::Value>,
}

/// Fetches the attestations of `reference` (which must name a digest) that may be of
/// `predicate_type` (bundle referrers, cosign's `.att` layers) and decides on them with
/// `trust`, as `latch_decide::decide_attestations` does: signed by enough distinct trusted
/// keys or identities, logged as the trust requires, about this digest. Whether that is
/// enough is [`Verdict::trusted`].
pub async fn decide_attestation(
    client: &Client,
    reference: &Reference,
    trust: &Trust,
    predicate_type: &str,
) -> Result<AttestationDecision> {
    let digest = fetched_digest(client, reference).await?;
    let found = latch_sources::attestations::of_types_in_registry(
        client,
        reference,
        &digest,
        &[predicate_type],
    )
    .await
    .map_err(Error::from)?;
    let verdict = latch_decide::decide_attestations(trust, &found, &digest, predicate_type);
    let predicate = verdict
        .accepted()
        .find_map(|(_, a)| a.bundle.as_ref()?.statement.as_ref())
        .map(|s| s.predicate.clone());
    Ok(AttestationDecision {
        reference: reference.to_string(),
        digest,
        predicate_type: predicate_type.to_owned(),
        verdict,
        predicate,
    })
}
