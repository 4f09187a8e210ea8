//! `latch verify`.

use std::process::ExitCode;

use latch::verify::{decide_remote, now_unix};

use super::trust_args::TrustArgs;
use super::verification_output::report;
use crate::GlobalArgs;
use crate::output::AnyError;

/// Verify an image's signatures in the registry, natively: no cosign, no TUF.
///
/// Resolves the reference to a digest (the hash of the manifest bytes received) and makes
/// the one trust decision every Latch command makes: the `sha256-<hex>.sig` signatures
/// (keyed: trusted key, exact payload bytes, this digest, this repository — --repository
/// overrides — and with --rekor-key a Rekor SET checked offline against the pinned key;
/// keyless, cosign 2.x: the Fulcio certificate, its chain to the trusted root, its SET, and
/// the identity) and, when those are short of --threshold, cosign v3 signatures (Sigstore
/// bundles referring to the digest, through the referrers API or the `sha256-<hex>` tag
/// index, whose DSSE `sign/v1` statement names it). Distinct trusted signers count: a key
/// once whatever it signed, a keyless identity once however many certificates it used.
/// Keyless signers are checked against the built-in public-good root or --trusted-root;
/// nothing is fetched but the image's signatures. Exit 0 only when enough trusted signers
/// validly signed this digest.
///
/// Example: latch verify ghcr.io/freedomofpress/dangerzone/v1:latest --key dangerzone.pub --rekor-key rekor.pub
///
/// Example: latch verify ghcr.io/org/app:latest --certificate-identity https://github.com/org/app/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com
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
    let trust = args
        .trust
        .load(&args.trust.spec(Some(&repository))?)
        .await?;
    let decided = decide_remote(&client, &reference, &trust, now_unix()).await?;
    report(&decided, &reference.to_string(), args.json)
}
