//! The local signature store as a source of candidates, and the writing of accepted ones.
//!
//! Legacy signatures by a key live in Dangerzone's layout (`signatures/<store id of the
//! key>/<hex>.json`, a `cosign download signature` list, every entry of which verifies);
//! keyless legacy signatures (which belong to no key) in `signatures/keyless/<hex>.json`
//! in the same form, certificate and chain included; accepted cosign v3 bundles in
//! `signatures/bundles/<hex>.json` (a JSON array of bundle documents); the provenance
//! attestation accepted, when a profile requires one, in
//! `signatures/attestations/<hex>.json` (a JSON array of `{"bundle": <bundle>}` or
//! `{"att": {"envelope": <base64 of the exact DSSE envelope>, "annotations": {...}}}`).

use std::path::PathBuf;

use base64::Engine as _;
use latch_decide::{
    AttestationCandidate, AttestationForm, BundleCandidate, Candidates, SigCandidate, Signer,
    Trust, Verdict,
};
use latch_oci::Digest;
use latch_store::Store;
use latch_trust::{Signature, parse_cosign_download, to_cosign_download_list};

use crate::error::{Error, Result};

/// Everything stored for `digest`: each trusted key's signatures, the keyless ones, the
/// bundles. A file that cannot be read as what it should be is a corrupt store (left in
/// place, never trusted).
pub(crate) fn stored_candidates(
    store: &Store,
    trust: &Trust,
    digest: &Digest,
) -> Result<Candidates> {
    let mut out = Candidates::default();
    for key in trust.keys() {
        if let Some(bytes) = store.read_signatures(key.store_id(), digest)? {
            let path = store.signatures_path(key.store_id(), digest)?;
            out.extend(sig_file(&bytes, path)?);
        }
    }
    if let Some(bytes) = store.read_keyless(digest)? {
        out.extend(sig_file(&bytes, store.keyless_path(digest))?);
    }
    if let Some(bytes) = store.read_bundles(digest)? {
        out.bundles = decode_bundles(&bytes, store.bundles_path(digest))?;
    }
    if trust.provenance().is_some()
        && let Some(bytes) = store.read_attestations(digest)?
    {
        out.attestations = decode_attestations(&bytes, store.attestations_path(digest))?;
    }
    Ok(out)
}

fn sig_file(bytes: &[u8], path: PathBuf) -> Result<Candidates> {
    let parsed = parse_cosign_download(bytes).map_err(|source| Error::StoreCorrupt {
        detail: source.to_string(),
        path: path.clone(),
    })?;
    Ok(Candidates::from_sigs(&path.display().to_string(), parsed))
}

/// Stores what `verdict` accepted among `candidates`: each key's legacy signatures under
/// its folder, keyless legacy signatures, bundles. Returns the files written.
pub(crate) fn store_accepted(
    store: &Store,
    digest: &Digest,
    verdict: &Verdict,
    candidates: &Candidates,
) -> Result<Vec<PathBuf>> {
    let mut by_key: Vec<(String, Vec<Signature>)> = Vec::new();
    let mut keyless: Vec<Signature> = Vec::new();
    let mut bundles: Vec<&[u8]> = Vec::new();
    for (outcome, accepted) in verdict.accepted() {
        match outcome.kind {
            latch_decide::CandidateKind::Sig => {
                let Some(SigCandidate {
                    signature: Ok(sig), ..
                }) = candidates.sigs.get(outcome.index)
                else {
                    continue;
                };
                match &accepted.signer {
                    Signer::Key { store_id, .. } => {
                        match by_key.iter_mut().find(|(id, _)| id == store_id) {
                            Some((_, list)) => list.push(sig.clone()),
                            None => by_key.push((store_id.clone(), vec![sig.clone()])),
                        }
                    }
                    Signer::Certificate { .. } => keyless.push(sig.clone()),
                    // A kind of signer this version does not store.
                    _ => {}
                }
            }
            latch_decide::CandidateKind::Bundle => {
                if let Some(b) = candidates.bundles.get(outcome.index) {
                    bundles.push(&b.bytes);
                }
            }
            _ => {}
        }
    }
    let mut files = Vec::new();
    for (store_id, sigs) in by_key {
        let text = to_cosign_download_list(&sigs);
        files.push(store.write_signatures(&store_id, digest, text.as_bytes())?);
    }
    if !keyless.is_empty() {
        let text = to_cosign_download_list(&keyless);
        files.push(store.write_keyless(digest, text.as_bytes())?);
    }
    if !bundles.is_empty() {
        files.push(store.write_bundles(digest, &encode_bundles(&bundles))?);
    }
    let accepted_attestation = verdict
        .provenance
        .as_ref()
        .and_then(|p| p.accepted.as_ref())
        .and_then(|a| {
            candidates
                .attestations
                .iter()
                .find(|c| c.location == a.location)
        });
    if let Some(a) = accepted_attestation {
        files.push(store.write_attestations(digest, &encode_attestations(&[a])?)?);
    }
    Ok(files)
}

/// Stored attestations: a JSON array, each `{"bundle": …}` or `{"att": {"envelope":
/// base64, "annotations": {…}}}` (the envelope's exact bytes kept).
pub(crate) fn encode_attestations(found: &[&AttestationCandidate]) -> Result<Vec<u8>> {
    let mut items = Vec::new();
    for a in found {
        let item = match &a.form {
            AttestationForm::Bundle(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
                    Error::Invalid(format!("{}: not a JSON bundle: {e}", a.location))
                })?;
                serde_json::json!({ "bundle": v })
            }
            AttestationForm::AttLayer {
                envelope,
                annotations,
            } => serde_json::json!({ "att": {
                "envelope": base64::engine::general_purpose::STANDARD.encode(envelope),
                "annotations": annotations,
            }}),
            AttestationForm::Unreadable(_) => continue,
        };
        items.push(item);
    }
    serde_json::to_vec_pretty(&items).map_err(|e| Error::Invalid(e.to_string()))
}

/// Reads a stored attestations file back into candidates named `<path>#<i>`.
pub(crate) fn decode_attestations(
    bytes: &[u8],
    path: PathBuf,
) -> Result<Vec<AttestationCandidate>> {
    let corrupt = |detail: String| Error::StoreCorrupt {
        path: path.clone(),
        detail,
    };
    let values: Vec<serde_json::Value> = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(format!("not a JSON array of attestations: {e}")))?;
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let location = format!("{}#{i}", path.display());
            let form = if let Some(b) = v.get("bundle") {
                AttestationForm::Bundle(
                    serde_json::to_vec(b).map_err(|e| corrupt(format!("attestation {i}: {e}")))?,
                )
            } else if let Some(att) = v.get("att") {
                let envelope = att
                    .get("envelope")
                    .and_then(|e| e.as_str())
                    .and_then(|e| base64::engine::general_purpose::STANDARD.decode(e).ok())
                    .ok_or_else(|| corrupt(format!("attestation {i}: no base64 envelope")))?;
                let annotations =
                    serde_json::from_value(att.get("annotations").cloned().unwrap_or_default())
                        .map_err(|e| corrupt(format!("attestation {i}: annotations: {e}")))?;
                AttestationForm::AttLayer {
                    envelope,
                    annotations,
                }
            } else {
                return Err(corrupt(format!(
                    "attestation {i}: neither a bundle nor an .att layer"
                )));
            };
            Ok(AttestationCandidate {
                location,
                manifest_digest: None,
                form,
            })
        })
        .collect()
}

/// Stored bundles: a JSON array of bundle documents.
pub(crate) fn encode_bundles(bundles: &[&[u8]]) -> Vec<u8> {
    let mut out = b"[".to_vec();
    for (i, b) in bundles.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        out.extend_from_slice(b);
    }
    out.extend_from_slice(b"]\n");
    out
}

/// Reads a stored bundles file back into candidates named `<path>#<i>`.
pub(crate) fn decode_bundles(bytes: &[u8], path: PathBuf) -> Result<Vec<BundleCandidate>> {
    let corrupt = |detail: String| Error::StoreCorrupt {
        path: path.clone(),
        detail,
    };
    let values: Vec<serde_json::Value> = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(format!("not a JSON array of bundles: {e}")))?;
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let bytes = serde_json::to_vec(&v).map_err(|e| corrupt(format!("bundle {i}: {e}")))?;
            Ok(BundleCandidate {
                location: format!("{}#{i}", path.display()),
                manifest_digest: None,
                bytes,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_round_trip_and_corruption_is_named() {
        let encoded = encode_bundles(&[br#"{"a":1}"#, br#"{"b":2}"#]);
        let back = decode_bundles(&encoded, PathBuf::from("/s/b.json")).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].location, "/s/b.json#1");
        assert_eq!(back[0].bytes, br#"{"a":1}"#);
        let err = decode_bundles(b"{", PathBuf::from("/s/b.json")).unwrap_err();
        assert!(
            matches!(err, Error::StoreCorrupt { ref path, .. } if path == std::path::Path::new("/s/b.json"))
        );
    }
}
