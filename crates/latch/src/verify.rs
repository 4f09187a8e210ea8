//! Verifying signatures: from a file of `cosign download signature` output, or from the
//! registry next to the image.

use std::path::{Path, PathBuf};

use latch_oci::{Digest, Reference};
use latch_registry::Client;
use latch_trust::{Candidate, Policy, PublicKey, TlogMode, Verdict, parse_cosign_download};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::signatures::{fetch_signatures, sig_reference};

/// Bound on a key file.
const MAX_KEY_FILE: u64 = 64 * 1024;
/// Bound on a signatures file.
const MAX_SIGNATURES_FILE: u64 = 16 * 1024 * 1024;

/// Where a trusted key comes from: a file, or PEM text (a profile may inline it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A PEM file. Its exact bytes name its signature-store folder.
    File(PathBuf),
    /// PEM text.
    Inline(String),
}

impl KeySource {
    /// Reads and parses the key.
    pub fn load(&self) -> Result<PublicKey> {
        match self {
            KeySource::File(p) => {
                let bytes =
                    latch_oci::layout::read_bounded(p, MAX_KEY_FILE).map_err(Error::io(p))?;
                PublicKey::from_pem(&bytes).map_err(|source| Error::Key {
                    path: p.display().to_string(),
                    source,
                })
            }
            KeySource::Inline(pem) => {
                PublicKey::from_pem(pem.as_bytes()).map_err(|source| Error::Key {
                    path: "inline PEM".into(),
                    source,
                })
            }
        }
    }
}

/// What a policy is made of, before the keys are read.
#[derive(Debug, Clone, Default)]
pub struct PolicySpec {
    /// Trusted signing keys.
    pub keys: Vec<KeySource>,
    /// Distinct keys that must have signed (default 1).
    pub threshold: Option<usize>,
    /// Pinned Rekor keys.
    pub rekor_keys: Vec<KeySource>,
    /// Transparency-log mode; default: required when a Rekor key is pinned, else ignored
    /// (as skopeo and podman accept signatures without a log entry).
    pub tlog: Option<TlogMode>,
    /// The repository the signatures must name.
    pub repository: Option<Reference>,
}

impl PolicySpec {
    /// Reads the keys and builds the policy.
    pub fn build(&self) -> Result<Policy> {
        let mut b = Policy::builder();
        for k in &self.keys {
            b = b.key(k.load()?);
        }
        for k in &self.rekor_keys {
            b = b.rekor_key(k.load()?);
        }
        let tlog = self.tlog.unwrap_or(if self.rekor_keys.is_empty() {
            TlogMode::Ignored
        } else {
            TlogMode::Required
        });
        b = b.tlog(tlog).threshold(self.threshold.unwrap_or(1));
        if let Some(r) = &self.repository {
            b = b.repository(r.clone());
        }
        Ok(b.build()?)
    }
}

/// The current time in unix seconds (flows read the clock; the trust layer never does).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A successful verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// What was verified (a file path or a registry location).
    pub source: String,
    /// The digest.
    pub digest: Digest,
    /// Every legacy signature's outcome.
    pub verdict: Verdict,
    /// Cosign v3 signatures (Sigstore bundles) that verified, when they were needed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<latch_sigstore::BundleVerification>,
}

impl Verification {
    /// Every verified transparency-log entry, legacy and bundle.
    pub fn log_entries(&self) -> Vec<LoggedEntry> {
        let mut out: Vec<LoggedEntry> = self
            .verdict
            .accepted()
            .filter_map(|a| a.tlog.as_ref())
            .map(|t| LoggedEntry {
                log_id: t.log_id.clone(),
                log_index: t.log_index,
                integrated_time: Some(t.integrated_time),
            })
            .collect();
        for b in &self.bundles {
            out.extend(b.log_entries.iter().map(|e| LoggedEntry {
                log_id: e.log_id.clone(),
                log_index: e.log_index,
                integrated_time: e.integrated_time,
            }));
        }
        out
    }

    /// The highest log index over every accepted signature.
    pub fn max_log_index(&self) -> Option<u64> {
        self.log_entries().iter().map(|e| e.log_index).max()
    }

    /// The newest authenticated signing time: log integration times, RFC 3161
    /// timestamps, and (legacy, without a log) the payload's signed timestamp.
    pub fn newest_signed_time(&self) -> Option<i64> {
        let legacy = self.verdict.accepted().filter_map(|a| {
            a.tlog
                .as_ref()
                .map(|t| t.integrated_time)
                .or(a.payload.timestamp())
        });
        let bundles = self.bundles.iter().flat_map(|b| {
            b.signed_times
                .iter()
                .copied()
                .chain(b.log_entries.iter().filter_map(|e| e.integrated_time))
        });
        legacy.chain(bundles).max()
    }
}

/// One transparency-log entry behind an accepted signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEntry {
    /// The log (hex SHA-256 of its key).
    pub log_id: String,
    /// Index in that log.
    pub log_index: u64,
    /// When the log integrated it, where the log says (Rekor v2 entries do not).
    pub integrated_time: Option<i64>,
}

/// Verifies a file of `cosign download signature` output (a JSON list, or one object per
/// line) for `digest`.
pub fn verify_file(
    path: &Path,
    digest: &Digest,
    policy: &Policy,
    now: i64,
) -> Result<Verification> {
    let bytes =
        latch_oci::layout::read_bounded(path, MAX_SIGNATURES_FILE).map_err(Error::io(path))?;
    let candidates = parse_cosign_download(&bytes).map_err(|source| Error::BadSignatures {
        location: path.display().to_string(),
        source,
    })?;
    verify_candidates(path.display().to_string(), digest, &candidates, policy, now)
}

/// Verifies candidates already read.
pub fn verify_candidates(
    source: String,
    digest: &Digest,
    candidates: &[Candidate],
    policy: &Policy,
    now: i64,
) -> Result<Verification> {
    if candidates.is_empty() {
        return Err(Error::NoSignatures {
            digest: digest.clone(),
            location: source,
        });
    }
    let verdict =
        latch_trust::verify(policy, digest, candidates, now).map_err(Error::NotVerified)?;
    Ok(Verification {
        source,
        digest: digest.clone(),
        verdict,
        bundles: Vec::new(),
    })
}

/// Resolves `reference` to a digest (the hash of the manifest bytes; a digest in the
/// reference is checked against the bytes), fetches the signatures beside it and verifies
/// them. Returns the verification and the candidates (what a store would keep).
pub async fn verify_remote(
    client: &Client,
    reference: &Reference,
    policy: &Policy,
    now: i64,
) -> Result<(Verification, Vec<Candidate>)> {
    let manifest = client.get_manifest(reference).await?;
    let digest = manifest.digest().clone();
    let candidates = fetch_signatures(client, reference, &digest).await?;
    let location = sig_reference(reference, &digest)?.to_string();
    let v = verify_candidates(location, &digest, &candidates, policy, now)?;
    Ok((v, candidates))
}

/// Verifies `reference` as the updater does: its legacy `.sig` signatures and, when they
/// are short of the threshold, its cosign v3 signatures (bundle referrers), all counted
/// by `trust` (keys and keyless identities together).
pub async fn verify_remote_trusted(
    client: &Client,
    reference: &Reference,
    trust: &crate::trusted::Trust,
    now: i64,
) -> Result<Verification> {
    let manifest = client.get_manifest(reference).await?;
    let digest = manifest.digest().clone();
    let candidates = fetch_signatures(client, reference, &digest).await?;
    let location = sig_reference(reference, &digest)?.to_string();
    verify_signed_remote(
        client,
        reference,
        &digest,
        &candidates,
        location,
        trust,
        now,
    )
    .await
    .map(|(v, _)| v)
}

/// The decision over `digest`'s legacy signatures `candidates` (already fetched) and,
/// only when they are short of the threshold, its cosign v3 signatures fetched from
/// beside `repository` (so an image signed as Dangerzone's is costs no extra request).
/// Returns the bundles examined too, for storing or carrying the accepted ones.
pub async fn verify_signed_remote(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
    candidates: &[Candidate],
    location: String,
    trust: &crate::trusted::Trust,
    now: i64,
) -> Result<(Verification, crate::signatures::Referrers)> {
    let (verdict, enough) = trust.legacy_verdict(digest, candidates, now)?;
    let referrers = if enough {
        crate::signatures::Referrers::default()
    } else {
        crate::signatures::fetch_bundles(
            client,
            repository,
            digest,
            Some(&[latch_sigstore::cosign::COSIGN_SIGN_PREDICATE]),
        )
        .await?
    };
    trust.decide_referrers(location, digest, verdict, referrers)
}

/// Cosign v3 signatures of `digest` (Sigstore bundles with a `sign/v1` statement, stored
/// as OCI referrers beside `repository`) that `signers` made, under `root` and `tlog`.
/// For keys, `root` is usually [`latch_sigstore::TrustRoot::from_rekor_keys`] of the pinned
/// Rekor keys (with [`latch_sigstore::TlogRequirement::Required`]), or of none (with
/// `None`); for identities, the public-good root or a custom one.
pub async fn verify_remote_bundles(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
    signers: &[latch_sigstore::Signer],
    root: &latch_sigstore::TrustRoot,
    tlog: latch_sigstore::TlogRequirement,
) -> Result<crate::signatures::BundleSignatures> {
    let referrers = crate::signatures::fetch_bundles(
        client,
        repository,
        digest,
        Some(&[latch_sigstore::cosign::COSIGN_SIGN_PREDICATE]),
    )
    .await?;
    let mut out =
        crate::signatures::verify_bundle_signatures(root, digest, &referrers, signers, tlog);
    out.rejected.extend(
        referrers
            .skipped
            .into_iter()
            .map(|s| (repository.name(), s)),
    );
    Ok(out)
}
