//! The decision: every candidate checked against the trust, then the distinct trusted
//! signers counted.

use std::collections::BTreeMap;

use latch_oci::Digest;
use latch_sigstore::cosign::COSIGN_SIGN_PREDICATE;
use latch_sigstore::sigstore_verify::types::Bundle;
use latch_sigstore::sigstore_verify::types::bundle::VerificationMaterialContent;
use latch_sigstore::{Artifact, BundleVerification, SignerInfo};
use latch_trust::signature::MAX_SIGNATURES;
use latch_trust::{Rejection, Signature, SimpleSigning};

use crate::candidates::{
    AttestationCandidate, AttestationForm, BundleCandidate, Candidates, SigCandidate,
};
use crate::count::maximum_matching;
use crate::trust::Trust;
use crate::verdict::{
    Accepted, CandidateKind, Counted, LogEntry, Outcome, Refusal, Signer, Verdict,
};

/// Bound on the cosign v3 signatures (bundles) looked at for one digest.
pub const MAX_BUNDLES: usize = 64;

/// Decides whether `digest` is trusted: each candidate is checked (a legacy `.sig`
/// signature by a key against the keys, the payload, the repository and the log as the
/// trust says; a keyless `.sig` signature and a cosign v3 bundle against the roots and the
/// trusted keys and identities), then the distinct trusted signers are counted against the
/// threshold. Never fails: every refusal is in the verdict, and [`Verdict::trusted`] says
/// whether it is enough. `now` (unix seconds) bounds log integration times.
pub fn decide(trust: &Trust, candidates: &Candidates, digest: &Digest, now: i64) -> Verdict {
    let mut outcomes = Vec::new();
    for (index, c) in candidates.sigs.iter().enumerate() {
        let result = if index >= MAX_SIGNATURES {
            Err(Refusal::OverBound {
                max: MAX_SIGNATURES,
            })
        } else {
            check_sig(trust, digest, index, c, now).and_then(|a| not_revoked(trust, a))
        };
        outcomes.push(Outcome {
            kind: CandidateKind::Sig,
            index,
            location: c.location.clone(),
            result,
        });
    }
    for (index, b) in candidates.bundles.iter().enumerate() {
        let result = if index >= MAX_BUNDLES {
            Err(Refusal::OverBound { max: MAX_BUNDLES })
        } else {
            check_bundle(trust, digest, b).and_then(|a| not_revoked(trust, a))
        };
        outcomes.push(Outcome {
            kind: CandidateKind::Bundle,
            index,
            location: b.location.clone(),
            result,
        });
    }
    for (index, u) in candidates.unusable.iter().enumerate() {
        outcomes.push(Outcome {
            kind: CandidateKind::Unusable,
            index,
            location: u.location.clone(),
            result: Err(Refusal::Unusable(u.what.clone())),
        });
    }
    let provenance = trust
        .provenance()
        .map(|p| crate::provenance::check(&p.policies, &p.root, &candidates.attestations, digest));
    verdict(trust, digest, outcomes, provenance)
}

/// The same decision over attestations: each is a signed in-toto statement of
/// `predicate_type` about `digest` (a bundle referrer, or a layer of cosign's `.att`
/// manifest), checked against the trust's keys and identities, its log and its revoked
/// keys exactly as image signatures are, and the distinct trusted signers counted against
/// the threshold (the provenance the trust may require is not part of it). An image
/// signature (`sign/v1`) is an attestation of that type.
pub fn decide_attestations(
    trust: &Trust,
    attestations: &[AttestationCandidate],
    digest: &Digest,
    predicate_type: &str,
) -> Verdict {
    let mut outcomes = Vec::new();
    for (index, a) in attestations.iter().enumerate() {
        let location = a.location.as_str();
        let result = if index >= crate::provenance::MAX_ATTESTATIONS {
            Err(Refusal::OverBound {
                max: crate::provenance::MAX_ATTESTATIONS,
            })
        } else {
            match &a.form {
                AttestationForm::Bundle(bytes) => latch_sigstore::parse_bundle(bytes, location),
                AttestationForm::AttLayer {
                    envelope,
                    annotations,
                } => latch_sigstore::cosign::att_layer_to_bundle(envelope, annotations, location),
                AttestationForm::Unreadable(why) => Err(latch_sigstore::Error::BadBundle {
                    location: location.to_owned(),
                    detail: why.clone(),
                }),
            }
            .map_err(refused_bundle)
            .and_then(|bundle| check_statement(trust, digest, &bundle, location, predicate_type))
            .and_then(|a| not_revoked(trust, a))
        };
        outcomes.push(Outcome {
            kind: CandidateKind::Bundle,
            index,
            location: a.location.clone(),
            result,
        });
    }
    verdict(trust, digest, outcomes, None)
}

/// The verdict over checked `outcomes`: the distinct trusted signers counted against the
/// threshold, and the provenance found when the trust requires it.
fn verdict(
    trust: &Trust,
    digest: &Digest,
    outcomes: Vec<Outcome>,
    provenance: Option<crate::provenance::ProvenanceVerdict>,
) -> Verdict {
    let signers = count(trust, &outcomes);
    let max_log_index = outcomes
        .iter()
        .filter_map(Outcome::accepted)
        .flat_map(|a| a.log_entries.iter().map(|e| e.log_index))
        .max();
    Verdict {
        digest: digest.clone(),
        threshold: trust.threshold(),
        trusted: signers.len() >= trust.threshold()
            && provenance.as_ref().is_none_or(|p| p.satisfied),
        signers,
        outcomes,
        max_log_index,
        provenance,
    }
}

/// The largest set of distinct trusted signers the accepted signatures account for.
fn count(trust: &Trust, outcomes: &[Outcome]) -> Vec<Counted> {
    // One node per distinct signer; its edges are every trusted entry any of its
    // signatures satisfies, remembering the first outcome that satisfied each.
    let mut signers: Vec<(&Signer, Vec<usize>, BTreeMap<usize, usize>)> = Vec::new();
    for (position, outcome) in outcomes.iter().enumerate() {
        let Some(accepted) = outcome.accepted() else {
            continue;
        };
        let node = match signers.iter().position(|(s, _, _)| *s == &accepted.signer) {
            Some(n) => n,
            None => {
                signers.push((&accepted.signer, Vec::new(), BTreeMap::new()));
                signers.len() - 1
            }
        };
        let (_, edges, by) = &mut signers[node];
        for trusted in &accepted.satisfies {
            let Some(entry) = entry_of(trust, trusted) else {
                continue;
            };
            if !edges.contains(&entry) {
                edges.push(entry);
                by.insert(entry, position);
            }
        }
    }
    let edges: Vec<Vec<usize>> = signers.iter().map(|(_, e, _)| e.clone()).collect();
    let mut counted: Vec<Counted> = maximum_matching(&edges, trust.signer_count())
        .into_iter()
        .filter_map(|(entry, node)| {
            let by = *signers.get(node)?.2.get(&entry)?;
            Some(Counted {
                trusted: trust.trusted_signer(entry)?,
                by,
            })
        })
        .collect();
    counted.sort_by_key(|c| c.by);
    counted
}

fn entry_of(trust: &Trust, s: &crate::trust::TrustedSigner) -> Option<usize> {
    match s {
        crate::trust::TrustedSigner::Key { log_id, .. } => trust.key_entry(log_id),
        crate::trust::TrustedSigner::Identity { index, .. } => trust.identity_entry(*index),
    }
}

/// A signature by a revoked key counts only for what a log shows it signed before the
/// key's distrust time; a time the signer merely claims (a payload timestamp) does not.
fn not_revoked(trust: &Trust, a: Accepted) -> Result<Accepted, Refusal> {
    let Signer::Key { log_id, .. } = &a.signer else {
        return Ok(a);
    };
    let Some(distrust_after) = trust.distrust_after(log_id) else {
        return Ok(a);
    };
    let logged = a.log_entries.iter().filter_map(|e| e.integrated_time).min();
    match logged {
        Some(t) if t < distrust_after => Ok(a),
        _ => Err(Refusal::Revoked {
            key: log_id.clone(),
            distrust_after,
            logged,
        }),
    }
}

/// One legacy `.sig` signature.
fn check_sig(
    trust: &Trust,
    digest: &Digest,
    index: usize,
    candidate: &SigCandidate,
    now: i64,
) -> Result<Accepted, Refusal> {
    let sig = candidate
        .signature
        .as_ref()
        .map_err(|e| Refusal::Sig(Rejection::Malformed(e.clone())))?;
    if sig.is_keyless() {
        return check_keyless_sig(trust, digest, sig, &candidate.location);
    }
    let Some(policy) = trust.legacy() else {
        return Err(Refusal::NoKeyTrusted);
    };
    let a = latch_trust::verify_signature(policy, digest, index, sig, now).map_err(Refusal::Sig)?;
    let store_id = policy
        .keys()
        .iter()
        .find(|k| k.log_id() == a.key_log_id)
        .map(|k| k.store_id().to_owned())
        .unwrap_or_else(|| a.key_store_id.clone());
    let mut signed_times = Vec::new();
    if let Some(t) = &a.tlog {
        signed_times.push(t.integrated_time);
    } else if let Some(t) = a.payload.timestamp() {
        signed_times.push(t);
    }
    let signer = Signer::Key {
        log_id: a.key_log_id.clone(),
        store_id: store_id.clone(),
    };
    Ok(Accepted {
        satisfies: vec![crate::trust::TrustedSigner::Key {
            log_id: a.key_log_id.clone(),
            store_id,
        }],
        signer,
        log_entries: a
            .tlog
            .iter()
            .map(|t| LogEntry {
                log_id: t.log_id.clone(),
                log_index: t.log_index,
                integrated_time: Some(t.integrated_time),
            })
            .collect(),
        signed_times,
        docker_reference: Some(a.docker_reference.clone()),
        annotations: payload_annotations(&a.payload),
        claims: Vec::new(),
        bundle: None,
    })
}

/// A keyless legacy `.sig` signature (cosign 2.x: certificate and chain in annotations,
/// a SET): verified by latch-sigstore against the identities' root, then the payload
/// checks every `.sig` signature gets.
fn check_keyless_sig(
    trust: &Trust,
    digest: &Digest,
    sig: &Signature,
    location: &str,
) -> Result<Accepted, Refusal> {
    let Some((signers, root)) = trust.identity_bundles() else {
        return Err(Refusal::NoIdentityTrusted);
    };
    let keyless = |e: latch_sigstore::Error| Refusal::Keyless {
        claim: e.failed_claim().map(str::to_owned),
        message: e.to_string(),
    };
    let certificate = sig.certificate().ok_or_else(|| Refusal::Keyless {
        claim: None,
        message: format!("{location}: the certificate annotation is unreadable"),
    })?;
    let chain = sig.certificate_chain();
    let rekor = sig.bundle().map(|b| latch_sigstore::LegacyRekorEntry {
        signed_entry_timestamp: b.signed_entry_timestamp(),
        body: b.body(),
        integrated_time: b.integrated_time(),
        log_index: b.log_index(),
        log_id_hex: b.log_id(),
    });
    let input = latch_sigstore::LegacySignature {
        payload: sig.payload(),
        signature: sig.signature(),
        certificate: &certificate,
        chain: chain.as_deref(),
        rekor,
    };
    let v =
        latch_sigstore::verify_legacy_keyless(root, &input, location, signers).map_err(keyless)?;
    let payload = latch_trust::check_payload(sig.payload(), digest, trust.repository())
        .map_err(Refusal::Sig)?;
    let mut accepted = accepted_bundle(trust, v);
    accepted.docker_reference = Some(payload.docker_reference().to_owned());
    accepted.annotations = payload_annotations(&payload);
    if let Some(t) = payload.timestamp()
        && accepted.signed_times.is_empty()
    {
        accepted.signed_times.push(t);
    }
    Ok(accepted)
}

/// One cosign v3 signature: a Sigstore bundle with a DSSE `sign/v1` statement naming the
/// digest, by a trusted key (under the pinned Rekor keys) or identity (under its root).
fn check_bundle(
    trust: &Trust,
    digest: &Digest,
    candidate: &BundleCandidate,
) -> Result<Accepted, Refusal> {
    let location = candidate.location.as_str();
    let bundle =
        latch_sigstore::parse_bundle(&candidate.bytes, location).map_err(refused_bundle)?;
    check_statement(trust, digest, &bundle, location, COSIGN_SIGN_PREDICATE)
}

fn refused_bundle(e: latch_sigstore::Error) -> Refusal {
    Refusal::Bundle {
        claim: e.failed_claim().map(str::to_owned),
        message: e.to_string(),
    }
}

/// A bundle whose DSSE statement of `predicate_type` names the digest, signed by a
/// trusted key (under the pinned Rekor keys) or identity (under its root).
fn check_statement(
    trust: &Trust,
    digest: &Digest,
    bundle: &Bundle,
    location: &str,
    predicate_type: &str,
) -> Result<Accepted, Refusal> {
    let raw = digest.sha256_bytes().ok_or(Refusal::NotSha256)?;
    let keyed = matches!(
        bundle.verification_material.content,
        VerificationMaterialContent::PublicKey(_)
    );
    let (signers, root, tlog) = if keyed {
        let (signers, root, tlog) = trust.key_bundles();
        if signers.is_empty() {
            return Err(Refusal::NoKeyTrusted);
        }
        let root = root.map_err(|why| Refusal::Bundle {
            claim: None,
            message: format!("{location}: the pinned Rekor keys: {why}"),
        })?;
        (signers, root, tlog)
    } else {
        let Some((signers, root)) = trust.identity_bundles() else {
            return Err(Refusal::NoIdentityTrusted);
        };
        (signers, root, latch_sigstore::TlogRequirement::Required)
    };
    let v = latch_sigstore::verify_parsed_bundle(
        root,
        bundle,
        location,
        Artifact::Sha256(raw),
        signers,
        tlog,
    )
    .map_err(refused_bundle)?;
    let statement = v.require_statement().map_err(refused_bundle)?;
    latch_sigstore::cosign::check_statement(
        statement,
        predicate_type,
        &digest.to_string(),
        location,
    )
    .map_err(refused_bundle)?;
    Ok(accepted_bundle(trust, v))
}

/// What a verified bundle (or keyless `.sig`) establishes.
fn accepted_bundle(trust: &Trust, v: BundleVerification) -> Accepted {
    let (signer, satisfies) = match &v.signer {
        SignerInfo::Key { name } => {
            // Key signers are named by their log id (see `Trust`).
            let trusted = trust.key_entry(name).and_then(|e| trust.trusted_signer(e));
            let store_id = match &trusted {
                Some(crate::trust::TrustedSigner::Key { store_id, .. }) => store_id.clone(),
                _ => String::new(),
            };
            (
                Signer::Key {
                    log_id: name.clone(),
                    store_id,
                },
                trusted.into_iter().collect(),
            )
        }
        SignerInfo::Certificate { identity, issuer } => (
            Signer::Certificate {
                issuer: issuer.clone(),
                identity: identity.clone(),
            },
            v.matched
                .iter()
                .filter_map(|i| trust.identity_entry(*i))
                .filter_map(|e| trust.trusted_signer(e))
                .collect(),
        ),
    };
    let log_entries: Vec<LogEntry> = v
        .log_entries
        .iter()
        .map(|e| LogEntry {
            log_id: e.log_id.clone(),
            log_index: e.log_index,
            integrated_time: e.integrated_time,
        })
        .collect();
    let mut signed_times = v.signed_times.clone();
    signed_times.extend(log_entries.iter().filter_map(|e| e.integrated_time));
    signed_times.sort_unstable();
    signed_times.dedup();
    Accepted {
        signer,
        satisfies,
        log_entries,
        signed_times,
        docker_reference: None,
        annotations: BTreeMap::new(),
        claims: v.claims.clone(),
        bundle: Some(v),
    }
}

/// The string members of a payload's `optional` section (signed annotations).
fn payload_annotations(payload: &SimpleSigning) -> BTreeMap<String, String> {
    payload
        .optional()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}
