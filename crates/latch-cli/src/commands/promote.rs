//! `latch promote`.

use std::process::ExitCode;

use latch_sign::{now_unix, promote};

use super::trust_args::TrustArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Point a tag (latest) at a digest, after verifying that the trusted signers signed it.
///
/// The manifest is fetched by digest (its bytes must hash to it), and the one trust
/// decision every Latch command makes is taken over its signatures (`.sig` signatures,
/// keyed or keyless, and cosign v3 bundles; k of n distinct trusted signers with
/// --threshold; with --rekor-key the Rekor SET too; the signed docker-reference must name
/// this repository). Only then are the exact manifest bytes put under the tag, so the tag
/// resolves to the verified digest. Nothing is written when verification fails.
///
/// Example: latch promote ghcr.io/org/app@sha256:0123… --tag latest --key release.pub --key second.pub --threshold 2
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The image: REPOSITORY@sha256:DIGEST.
    pub image: String,
    /// The tag to point at it.
    #[arg(long, default_value = "latest")]
    pub tag: String,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let image = super::reference(&args.image)?;
    let trust = args.trust.spec(Some(&image.name()))?.load()?;
    let report = promote(&client, &image, &args.tag, &trust, now_unix()).await?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    if report.unchanged {
        outln!("{} already points at {}", report.tagged, report.digest)?;
    } else {
        outln!("Tagged {} -> {}", report.tagged, report.digest)?;
        if let Some(p) = &report.previous {
            outln!("  was {p}")?;
        }
    }
    outln!("  verified: {}", super::signed_by(&report.verdict))?;
    Ok(ExitCode::SUCCESS)
}
