//! `latch verify`.

use std::process::ExitCode;

use latch::verify::{now_unix, verify_remote};

use super::trust_args::TrustArgs;
use super::verification_output::report;
use crate::GlobalArgs;
use crate::output::AnyError;

/// Verify an image's cosign signatures in the registry, natively: no cosign, no TUF.
///
/// Resolves the reference to a digest (the hash of the manifest bytes received), fetches
/// the `sha256-<hex>.sig` manifest beside it and verifies each signature: trusted key,
/// exact payload bytes, the payload names this digest and this repository (--repository
/// overrides), and with --rekor-key a Rekor SET checked offline against the pinned key.
/// Without a `.sig` signature that verifies, cosign v3 signatures are looked for too: Sigstore
/// bundles referring to the digest (referrers API or `sha256-<hex>` tag index) whose DSSE
/// `sign/v1` statement names it, signed by a trusted key (with --rekor-key, logged).
/// Exit 0 only when enough trusted keys validly signed this digest.
///
/// Example: latch verify ghcr.io/freedomofpress/dangerzone/v1:latest --key dangerzone.pub --rekor-key rekor.pub
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Image reference: REPOSITORY[:TAG][@DIGEST].
    pub reference: String,
    /// The repository the signatures must name (default: the reference's).
    #[arg(long, value_name = "REPO")]
    pub repository: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let reference = super::reference(&args.reference)?;
    let repository = args.repository.clone().unwrap_or_else(|| reference.name());
    let policy = args.trust.spec(Some(&repository))?.build()?;
    let result = verify_remote(&client, &reference, &policy, now_unix())
        .await
        .map(|(v, _)| v);
    // No cosign `.sig`, or none that verifies: look for cosign v3 signatures (bundle
    // referrers) beside them. When `.sig` signatures exist but fail and no bundle
    // verifies either, the `.sig` verdict is what is shown.
    let fallback = match &result {
        Err(latch::Error::NoSignatures { digest, .. }) => Some((digest.clone(), false)),
        Err(latch::Error::NotVerified(latch::trust::VerifyError::ThresholdNotMet { verdict })) => {
            Some((verdict.digest.clone(), true))
        }
        _ => None,
    };
    if let Some((digest, legacy_failed)) = fallback
        && let Some(code) = super::verify_bundles::try_bundles(
            &client,
            &reference,
            &digest,
            &args.trust,
            args.json,
            legacy_failed,
        )
        .await?
    {
        return Ok(code);
    }
    let digest = match &result {
        Ok(v) => v.digest.to_string(),
        Err(_) => reference
            .digest()
            .map(|d| d.to_string())
            .unwrap_or_default(),
    };
    report(result, &reference.to_string(), &digest, args.json)
}
