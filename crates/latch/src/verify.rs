//! One-shot verification, through the one decision: an image in a registry (`latch
//! verify`, `promote`), a file of `cosign download signature` output (`latch
//! verify-signatures`). And [`accept`], the one place a verdict becomes a refusal.

use std::path::Path;

use latch_decide::{Candidates, Trust, Verdict};
use latch_oci::{Digest, Reference};
use latch_registry::Client;
use latch_sources::{Decided, Source};
use latch_trust::parse_cosign_download;

use crate::error::{Error, Result};

/// Bound on a signatures file.
const MAX_SIGNATURES_FILE: u64 = 16 * 1024 * 1024;

/// The current time in unix seconds (flows read the clock; the trust layers never do).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The decision as an answer: the decided candidates when enough distinct trusted signers
/// signed (and the provenance the trust requires was found); otherwise
/// [`Error::NoProvenance`] when only the provenance is missing, [`Error::NoSignatures`]
/// when nothing at all was found at `location`, else [`Error::NotVerified`] with the
/// verdict (every refusal, unusable finds named as what they are, and the provenance).
pub fn accept(decided: Decided, location: &str) -> Result<Decided> {
    if decided.verdict.trusted {
        return Ok(decided);
    }
    if decided.verdict.signed() {
        // Signed well enough; the provenance required on top is what is missing.
        return Err(Error::NoProvenance {
            verdict: Box::new(decided.verdict),
        });
    }
    if decided.candidates.is_empty() {
        return Err(Error::NoSignatures {
            digest: decided.verdict.digest,
            location: location.to_owned(),
        });
    }
    Err(Error::NotVerified {
        verdict: Box::new(decided.verdict),
    })
}

/// Resolves `reference` to a digest (the hash of the manifest bytes received; a digest in
/// the reference is checked against them) and decides on the signatures beside it: the
/// `.sig` signatures and, when they fall short, cosign v3 bundles. The verdict is returned
/// whatever it says (see [`verify_remote`] for a refusal when it is not enough).
pub async fn decide_remote(
    client: &Client,
    reference: &Reference,
    trust: &Trust,
    now: i64,
) -> Result<Decided> {
    let manifest = client.get_manifest(reference).await?;
    let source = Source::Registry {
        client,
        repository: reference,
    };
    Ok(latch_sources::decide(&source, trust, manifest.digest(), now).await?)
}

/// [`decide_remote`], refused unless enough trusted signers signed.
pub async fn verify_remote(
    client: &Client,
    reference: &Reference,
    trust: &Trust,
    now: i64,
) -> Result<Verdict> {
    let manifest = client.get_manifest(reference).await?;
    Ok(
        verify_in_registry(client, reference, manifest.digest(), trust, now)
            .await?
            .verdict,
    )
}

/// The decision on `digest` over the signatures beside it in `repository`'s registry,
/// refused ([`accept`]) unless enough trusted signers signed.
pub async fn verify_in_registry(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
    trust: &Trust,
    now: i64,
) -> Result<Decided> {
    let source = Source::Registry { client, repository };
    let decided = latch_sources::decide(&source, trust, digest, now).await?;
    let location = latch_sources::registry::sig_reference(repository, digest);
    accept(decided, &location.to_string())
}

/// Decides on a file of `cosign download signature` output (a JSON list, or one object
/// per line) for `digest`, offline.
pub fn decide_file(path: &Path, digest: &Digest, trust: &Trust, now: i64) -> Result<Decided> {
    let bytes =
        latch_oci::layout::read_bounded(path, MAX_SIGNATURES_FILE).map_err(Error::io(path))?;
    let location = path.display().to_string();
    let sigs = parse_cosign_download(&bytes).map_err(|source| Error::BadSignatures {
        location: location.clone(),
        source,
    })?;
    let candidates = Candidates::from_sigs(&location, sigs);
    let verdict = latch_decide::decide(trust, &candidates, digest, now);
    Ok(Decided {
        verdict,
        candidates,
    })
}
