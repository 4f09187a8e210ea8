//! What an updater trusts, taken together: keys (which sign legacy cosign `.sig`
//! signatures and cosign v3 bundles alike) and keyless identities (Fulcio certificates in
//! cosign v3 bundles), and the one decision over both kinds of signature.
//!
//! The legacy verdict comes first and, when it alone meets the threshold, is the whole
//! answer: an image signed the way Dangerzone's is costs no extra request. Otherwise the
//! cosign v3 bundles of the digest are verified too, and every distinct signer counts
//! towards the threshold: a key's legacy signature and the same key's bundle count once.

use std::collections::BTreeSet;

use latch_oci::Digest;
use latch_sigstore::{BundleVerification, Signer, SignerInfo, TlogRequirement, TrustRoot};
use latch_trust::{Candidate, Policy, PolicyError, TlogMode, Verdict, VerifyError};

use crate::bundle::RootChoice;
use crate::error::{Error, Result};
use crate::signatures::{FetchedBundle, Referrers, digest_bytes, verify_image_bundle};
use crate::verify::{PolicySpec, Verification};

/// Keys and identities, loaded.
#[derive(Debug)]
pub struct Trust {
    /// The legacy policy, when there are keys.
    legacy: Option<Policy>,
    /// Distinct signers (keys or identities) required.
    threshold: usize,
    /// The keys, as bundle signers named by their store id.
    key_signers: Vec<Signer>,
    /// The pinned Rekor keys, as a trusted root for key-signed bundles.
    key_root: TrustRoot,
    /// What a key-signed bundle must show of the log.
    key_tlog: TlogRequirement,
    /// The identities.
    identities: Vec<Signer>,
    /// The root keyless bundles chain to (public-good, or the profile's), when there are
    /// identities.
    identity_root: Option<TrustRoot>,
}

impl Trust {
    /// Reads the keys of `spec`, the identities' root, and checks the threshold against
    /// keys and identities together.
    pub fn build(
        spec: &PolicySpec,
        identities: &[latch_sigstore::IdentityPolicy],
        root: &RootChoice,
    ) -> Result<Trust> {
        let total = spec.keys.len() + identities.len();
        let threshold = spec.threshold.unwrap_or(1);
        if threshold == 0 || threshold > total {
            return Err(Error::Policy(PolicyError::BadThreshold {
                threshold,
                keys: total,
            }));
        }
        let legacy = if spec.keys.is_empty() {
            None
        } else {
            // Identities may make up the rest of the threshold: the legacy policy asks at
            // most every key, and the decision below counts against the real threshold.
            let mut keys_only = spec.clone();
            keys_only.threshold = Some(threshold.min(spec.keys.len()));
            Some(keys_only.build()?)
        };
        // The keys as the legacy policy read them, not read again.
        let (key_signers, rekor) = match &legacy {
            Some(p) => (
                p.keys()
                    .iter()
                    .map(|k| Signer::key_from_der(k.der(), k.store_id()))
                    .collect(),
                p.rekor_keys().iter().map(|k| k.der().to_vec()).collect(),
            ),
            None => (
                Vec::new(),
                spec.rekor_keys
                    .iter()
                    .map(|k| Ok(k.load()?.der().to_vec()))
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        let key_root = TrustRoot::from_rekor_keys(&rekor)?;
        let tlog = spec.tlog.unwrap_or(if spec.rekor_keys.is_empty() {
            TlogMode::Ignored
        } else {
            TlogMode::Required
        });
        let key_tlog = match tlog {
            TlogMode::Required => TlogRequirement::Required,
            // Entries present are still checked against the bundle.
            TlogMode::Optional | TlogMode::Ignored => TlogRequirement::None,
        };
        let identity_root = if identities.is_empty() {
            None
        } else {
            Some(root.load()?)
        };
        Ok(Trust {
            legacy,
            threshold,
            key_signers,
            key_root,
            key_tlog,
            identities: identities.iter().cloned().map(Signer::Identity).collect(),
            identity_root,
        })
    }

    /// The legacy policy, when keys are trusted.
    pub fn legacy(&self) -> Option<&Policy> {
        self.legacy.as_ref()
    }

    /// Distinct signers required.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The verdict over legacy signatures, and whether it alone meets the threshold.
    /// A verdict is returned even when too few keys signed: bundles may make up the rest.
    pub fn legacy_verdict(
        &self,
        digest: &Digest,
        candidates: &[Candidate],
        now: i64,
    ) -> Result<(Verdict, bool)> {
        let Some(policy) = &self.legacy else {
            return Ok((
                Verdict {
                    digest: digest.clone(),
                    threshold: self.threshold,
                    outcomes: Vec::new(),
                    keys: Vec::new(),
                    max_log_index: None,
                },
                false,
            ));
        };
        match latch_trust::verify(policy, digest, candidates, now) {
            Ok(v) => {
                let enough = v.keys_satisfied() >= self.threshold;
                Ok((v, enough))
            }
            Err(VerifyError::ThresholdNotMet { verdict }) => Ok((*verdict, false)),
            Err(e) => Err(Error::NotVerified(e)),
        }
    }

    /// Verifies one bundle as a cosign v3 signature of `digest`: by a trusted key (under
    /// the pinned Rekor keys) or a trusted identity (under the identities' root).
    pub fn verify_bundle(
        &self,
        digest: &Digest,
        bundle: &FetchedBundle,
    ) -> std::result::Result<BundleVerification, String> {
        let Ok(raw) = digest_bytes(digest) else {
            return Err("cosign v3 signatures name sha256 digests only".into());
        };
        let attempt = |root: &TrustRoot, signers: &[Signer], tlog| {
            verify_image_bundle(root, raw, bundle, signers, tlog).map_err(|e| e.to_string())
        };
        let mut why = Vec::new();
        if !self.key_signers.is_empty() {
            match attempt(&self.key_root, &self.key_signers, self.key_tlog) {
                Ok(v) => return Ok(v),
                Err(e) => why.push(e),
            }
        }
        if let Some(root) = &self.identity_root {
            match attempt(root, &self.identities, TlogRequirement::Required) {
                Ok(v) => return Ok(v),
                Err(e) => why.push(e),
            }
        }
        why.dedup();
        Err(why.join("; "))
    }

    /// The decision: `verdict` (legacy, from [`Trust::legacy_verdict`]) and `bundles`
    /// together must show `threshold` distinct trusted signers. `skipped` are referrers
    /// that could not even be read (they are reported if the decision fails).
    pub fn decide(
        &self,
        source: String,
        digest: &Digest,
        verdict: Verdict,
        bundles: &[FetchedBundle],
        skipped: &[String],
    ) -> Result<Verification> {
        let mut accepted = Vec::new();
        let mut refused: Vec<String> = skipped.to_vec();
        for b in bundles {
            match self.verify_bundle(digest, b) {
                Ok(v) => accepted.push(v),
                Err(e) => refused.push(e),
            }
        }
        let signers = distinct_signers(&verdict, &accepted);
        if signers.len() >= self.threshold {
            return Ok(Verification {
                source,
                digest: digest.clone(),
                verdict,
                bundles: accepted,
            });
        }
        if verdict.outcomes.is_empty() && bundles.is_empty() && skipped.is_empty() {
            return Err(Error::NoSignatures {
                digest: digest.clone(),
                location: source,
            });
        }
        if bundles.is_empty()
            && skipped.is_empty()
            && self.legacy.is_some()
            && verdict.keys_satisfied() < verdict.threshold
        {
            // Only legacy signatures, too few even for the keys: the legacy error, with
            // its verdict.
            return Err(Error::NotVerified(VerifyError::ThresholdNotMet {
                verdict: Box::new(verdict),
            }));
        }
        let mut detail = vec![format!(
            "{} of the {} required trusted signer(s) validly signed {digest}",
            signers.len(),
            self.threshold
        )];
        detail.extend(
            verdict
                .rejected()
                .map(|(i, why)| format!("signature {i}: {why}")),
        );
        detail.extend(refused);
        Err(Error::SignersNotVerified {
            digest: digest.clone(),
            detail: detail.join("; "),
        })
    }

    /// [`Trust::decide`] over referrers as fetched; returns them too, so that the
    /// accepted ones can be stored or carried.
    pub fn decide_referrers(
        &self,
        source: String,
        digest: &Digest,
        verdict: Verdict,
        referrers: Referrers,
    ) -> Result<(Verification, Referrers)> {
        let verification = self.decide(
            source,
            digest,
            verdict,
            &referrers.bundles,
            &referrers.skipped,
        )?;
        Ok((verification, referrers))
    }
}

/// The distinct trusted signers behind a decision: legacy keys (store ids) and the
/// signers of accepted bundles (a key by its store id, a certificate by issuer and SAN).
pub fn distinct_signers(verdict: &Verdict, bundles: &[BundleVerification]) -> Vec<String> {
    let set: BTreeSet<String> = verdict
        .accepted()
        .map(|a| a.key_store_id.clone())
        .chain(bundles.iter().map(|b| signer_name(&b.signer)))
        .collect();
    set.into_iter().collect()
}

/// How a bundle's signer counts towards the threshold: a key by its store id (as its
/// legacy signatures do), a certificate by issuer and identity.
fn signer_name(s: &SignerInfo) -> String {
    match s {
        SignerInfo::Key { name } => name.clone(),
        SignerInfo::Certificate { identity, issuer } => format!(
            "{} {}",
            issuer.as_deref().unwrap_or("?"),
            identity.as_deref().unwrap_or("?")
        ),
    }
}

/// Stored bundles: a JSON array of bundle documents, as `store_bundles` writes them.
pub fn encode_bundles(bundles: &[&[u8]]) -> Vec<u8> {
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

/// Reads a stored bundles file back into bundles named `location#i`.
pub fn decode_bundles(bytes: &[u8], location: &str) -> Result<Vec<FetchedBundle>> {
    let values: Vec<serde_json::Value> =
        serde_json::from_slice(bytes).map_err(|e| Error::StoreCorrupt {
            detail: format!("{location}: not a JSON array of bundles: {e}"),
        })?;
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let bytes = serde_json::to_vec(&v).map_err(|e| Error::StoreCorrupt {
                detail: format!("{location}#{i}: {e}"),
            })?;
            Ok(FetchedBundle {
                location: format!("{location}#{i}"),
                manifest_digest: Digest::sha256_of(&bytes),
                predicate_type: None,
                bytes,
            })
        })
        .collect()
}
