//! `latch verify`'s second source: cosign v3 signatures (Sigstore bundle referrers).

use std::process::ExitCode;

use latch::bundle::load_key;
use latch::oci::{Digest, Reference};
use latch::registry::Client;
use latch::sigstore::{TlogRequirement, TrustRoot};
use latch::verify::verify_remote_bundles;

use super::trust_args::TrustArgs;
use crate::output::{AnyError, print_json};

/// Verifies the bundle referrers of `digest` with the trusted keys. `Some(code)` when any
/// bundle was found (verified or not: the outcome is printed), `None` when there is none,
/// or (with `quiet_failure`) when none verifies, so that the caller shows its own verdict.
pub async fn try_bundles(
    client: &Client,
    reference: &Reference,
    digest: &Digest,
    trust: &TrustArgs,
    json: bool,
    quiet_failure: bool,
) -> Result<Option<ExitCode>, AnyError> {
    let signers = trust
        .keys
        .iter()
        .map(|k| load_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rekor = Vec::new();
    for k in &trust.rekor_keys {
        let key = latch::verify::KeySource::File(k.clone()).load()?;
        rekor.push(key.der().to_vec());
    }
    let root = TrustRoot::from_rekor_keys(&rekor)?;
    let tlog = if rekor.is_empty() {
        TlogRequirement::None
    } else {
        TlogRequirement::Required
    };
    let found = verify_remote_bundles(client, reference, digest, &signers, &root, tlog).await?;
    if found.accepted.is_empty() && found.rejected.is_empty() {
        return Ok(None);
    }
    let mut keys: Vec<String> = found
        .accepted
        .iter()
        .filter_map(|v| match &v.signer {
            latch::sigstore::SignerInfo::Key { name } => Some(name.clone()),
            _ => None,
        })
        .collect();
    keys.sort();
    keys.dedup();
    let threshold = trust.threshold.unwrap_or(1);
    let verified = keys.len() >= threshold;
    if !verified && quiet_failure {
        return Ok(None);
    }
    if json {
        print_json(&serde_json::json!({
            "verified": verified,
            "digest": digest,
            "format": "cosign v3 bundles",
            "accepted": found.accepted,
            "rejected": found.rejected,
        }))?;
    } else {
        let out = |line: String| {
            if verified {
                println!("{line}")
            } else {
                eprintln!("{line}")
            }
        };
        out(format!(
            "{} {digest}: {} of {threshold} required key(s) signed it (cosign v3 bundle signatures)",
            if verified {
                "Verified"
            } else {
                "latch: NOT verified"
            },
            keys.len()
        ));
        for v in &found.accepted {
            let log = match v.max_log_index() {
                Some(i) => format!(", log index {i}"),
                None => ", no transparency log".to_owned(),
            };
            out(format!(
                "  accepted {}: {}{log}",
                v.location,
                v.claims
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (location, why) in &found.rejected {
            out(format!("  rejected {location}: {why}"));
        }
    }
    Ok(Some(if verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }))
}
