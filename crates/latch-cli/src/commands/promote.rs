//! `latch promote`.

use std::path::PathBuf;
use std::process::ExitCode;

use latch::sign::{Policy, PublicKey, TlogMode, now_unix, promote};

use crate::GlobalArgs;
use crate::output::{AnyError, print_json};

/// Point a tag (latest) at a digest, after verifying that the trusted keys signed it.
///
/// The manifest is fetched by digest (its bytes must hash to it), its cosign signatures
/// are verified against the keys (k of n with --threshold; with --rekor-key the Rekor SET
/// too; the signed docker-reference must name this repository), and only then are the
/// exact manifest bytes put under the tag, so the tag resolves to the verified digest.
/// Nothing is written when verification fails.
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
    /// A trusted public key (PEM). Repeatable.
    #[arg(long = "key", value_name = "PEM", required = true)]
    pub keys: Vec<PathBuf>,
    /// How many distinct keys must have signed (default 1).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub threshold: usize,
    /// A pinned Rekor public key: each signature must then carry a valid SET. Repeatable.
    #[arg(long = "rekor-key", value_name = "PEM")]
    pub rekor_keys: Vec<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

fn read_key(path: &PathBuf) -> Result<PublicKey, AnyError> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read the key {}: {e}", path.display()))?;
    Ok(PublicKey::from_pem(&pem).map_err(|e| format!("key {}: {e}", path.display()))?)
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let image = super::reference(&args.image)?;
    let mut builder = Policy::builder()
        .threshold(args.threshold)
        .repository(image.clone())
        .tlog(if args.rekor_keys.is_empty() {
            TlogMode::Ignored
        } else {
            TlogMode::Required
        });
    for k in &args.keys {
        builder = builder.key(read_key(k)?);
    }
    for k in &args.rekor_keys {
        builder = builder.rekor_key(read_key(k)?);
    }
    let policy = builder.build()?;
    let report = promote(&client, &image, &args.tag, &policy, now_unix()).await?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    if report.unchanged {
        println!("{} already points at {}", report.tagged, report.digest);
    } else {
        println!("Tagged {} -> {}", report.tagged, report.digest);
        if let Some(p) = &report.previous {
            println!("  was {p}");
        }
    }
    println!(
        "  verified: {} of {} required key(s) signed it",
        report.verdict.keys_satisfied(),
        report.verdict.threshold
    );
    Ok(ExitCode::SUCCESS)
}
