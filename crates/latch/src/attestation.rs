//! `verify-attestation`: is there SLSA provenance for this image digest, signed by the
//! expected GitHub workflow, that names the expected repository, workflow and ref?
//!
//! Attestations are looked for in both places they are published: cosign's
//! `sha256-<hex>.att` manifest (a DSSE envelope per layer, as slsa-github-generator
//! pushes them, with a Rekor SET) and OCI referrers (Sigstore bundles, as GitHub's
//! `attest-build-provenance` pushes them, with an inclusion proof).

use latch_oci::{Digest, Reference};
use latch_registry::{Client, RegistryError};
use latch_sigstore::provenance::{
    Claim, ProvenancePolicy, SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02,
};
use latch_sigstore::{Artifact, BundleVerification, Signer, TlogRequirement, TrustRoot};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::signatures::{digest_bytes, fetch_bundles};

/// Bound on the `.att` layers examined.
const MAX_ATT_LAYERS: usize = 64;

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
    let raw = digest_bytes(&digest)
        .map_err(|()| Error::Invalid(format!("{digest}: attestations name sha256 digests only")))?;
    let mut rejected = Vec::new();
    let mut found = att_attestations(client, reference, &digest, &mut rejected).await?;
    let referrers = fetch_bundles(
        client,
        reference,
        &digest,
        Some(&[SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02]),
    )
    .await?;
    rejected.extend(referrers.skipped);
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
    let detail = if rejected.is_empty() {
        format!(
            "no attestation found (neither {}:{}.att nor a referrer)",
            reference.name(),
            digest.tag_form()
        )
    } else {
        rejected.join("; ")
    };
    Err(Error::NotAttested { digest, detail })
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
    let att = reference
        .repository_only()
        .with_tag(&format!("{}.att", digest.tag_form()))?;
    let manifest = match client.get_manifest(&att).await {
        Ok(m) => m,
        Err(RegistryError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let Some(image) = manifest.as_image() else {
        rejected.push(format!(
            "{att}: an index, not a cosign attestation manifest"
        ));
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, layer) in image.layers.iter().take(MAX_ATT_LAYERS).enumerate() {
        let location = format!("{att} layer {i}");
        if layer.media_type != latch_sigstore::cosign::DSSE_LAYER_MEDIA_TYPE {
            rejected.push(format!("{location}: media type {}", layer.media_type));
            continue;
        }
        let blob = match client
            .get_blob_bytes(&att, layer, latch_sigstore::MAX_BUNDLE_BYTES as u64)
            .await
        {
            Ok(b) => b,
            Err(
                e @ (RegistryError::TooLarge { .. }
                | RegistryError::NotFound { .. }
                | RegistryError::DigestMismatch { .. }
                | RegistryError::SizeMismatch { .. }),
            ) => {
                rejected.push(format!("{location}: {e}"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let annotations = layer.annotations.clone().unwrap_or_default();
        match latch_sigstore::cosign::att_layer_to_bundle(&blob, &annotations, &location) {
            Ok(bundle) => out.push(Found {
                location,
                bundle,
                tlog: TlogRequirement::Required,
            }),
            Err(e) => rejected.push(e.to_string()),
        }
    }
    Ok(out)
}
