//! `verify-attestation`: is there SLSA provenance for this image digest, signed by the
//! expected GitHub workflow, that names the expected repository, workflow and ref?
//!
//! Attestations are looked for in both places they are published: cosign's
//! `sha256-<hex>.att` manifest (a DSSE envelope per layer, as slsa-github-generator
//! pushes them, with a Rekor SET) and OCI referrers (Sigstore bundles, as GitHub's
//! `attest-build-provenance` pushes them, with an inclusion proof).

use latch_oci::{Digest, Reference};
use latch_registry::Client;
use latch_sigstore::provenance::{
    Claim, ProvenancePolicy, SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02,
};
use latch_sigstore::{Artifact, BundleVerification, Signer, TlogRequirement, TrustRoot};
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

/// One attestation found, before verification.
struct Found {
    location: String,
    bundle: latch_sigstore::sigstore_verify::types::Bundle,
    tlog: TlogRequirement,
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
    let Some(wanted) = reference.digest() else {
        return Err(Error::Invalid(format!(
            "{reference}: give the image by digest (IMAGE@sha256:<hex>): provenance is about one digest"
        )));
    };
    // The digest of the bytes received is checked against the one asked for.
    let manifest = client.get_manifest(reference).await?;
    let digest = manifest.digest().clone();
    if &digest != wanted {
        return Err(Error::Invalid(format!(
            "{reference}: the registry sent a manifest with digest {digest}"
        )));
    }
    let raw = digest.sha256_bytes().ok_or_else(|| {
        Error::Invalid(format!("{digest}: attestations name sha256 digests only"))
    })?;
    let mut rejected = Vec::new();
    let mut found = att_attestations(client, reference, &digest, &mut rejected).await?;
    let referrers = latch_sources::registry::fetch_bundles(
        client,
        reference,
        &digest,
        &[SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02],
    )
    .await?;
    // Referrers of other kinds (image signatures, SBOMs) are not attestations.
    rejected.extend(
        referrers
            .unusable
            .into_iter()
            .filter(|u| {
                !matches!(
                    u.what,
                    latch_decide::UnusableKind::NotASignature { .. }
                        | latch_decide::UnusableKind::UnsupportedArtifact { .. }
                )
            })
            .map(|u| format!("{}: {}", u.location, u.what)),
    );
    for b in referrers.bundles {
        match latch_sigstore::parse_bundle(&b.bytes, &b.location) {
            Ok(bundle) => found.push(Found {
                location: b.location,
                bundle,
                tlog: TlogRequirement::Required,
            }),
            Err(e) => rejected.push(e.to_string()),
        }
    }
    let signers = [Signer::Identity(policy.identity()?)];
    let image_digest = digest.to_string();
    let mut failures = Vec::new();
    for f in &found {
        let outcome = latch_sigstore::verify_parsed_bundle(
            root,
            &f.bundle,
            &f.location,
            Artifact::Sha256(raw),
            &signers,
            f.tlog,
        )
        .and_then(|v| {
            let statement = v.require_statement()?;
            let predicate = policy.check_statement(statement, &image_digest, &f.location)?;
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
                rejected.extend(failures);
                return Ok(AttestationReport {
                    reference: reference.to_string(),
                    digest,
                    source: f.location.clone(),
                    claims,
                    rejected,
                });
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    rejected.extend(failures);
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

fn signature_claim(v: &BundleVerification, root: &TrustRoot) -> Claim {
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

/// The layers of the `.att` manifest as v0.1 bundles (legacy entries carry a SET, no
/// proof). An absent manifest gives none.
async fn att_attestations(
    client: &Client,
    reference: &Reference,
    digest: &Digest,
    rejected: &mut Vec<String>,
) -> Result<Vec<Found>> {
    let (layers, unusable) =
        latch_sources::registry::fetch_att_layers(client, reference, digest).await?;
    rejected.extend(
        unusable
            .into_iter()
            .map(|u| format!("{}: {}", u.location, u.what)),
    );
    let mut out = Vec::new();
    for layer in layers {
        match latch_sigstore::cosign::att_layer_to_bundle(
            &layer.envelope,
            &layer.annotations,
            &layer.location,
        ) {
            Ok(bundle) => out.push(Found {
                location: layer.location,
                bundle,
                tlog: TlogRequirement::Required,
            }),
            Err(e) => rejected.push(e.to_string()),
        }
    }
    Ok(out)
}
