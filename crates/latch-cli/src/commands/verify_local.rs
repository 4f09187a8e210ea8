//! `latch verify-local`.

use std::process::ExitCode;

use super::profile_args::ProfileArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Verify the installed image before using it: the tag the application runs names the
/// digest Latch installed, and its stored signatures still make the same trust decision,
/// offline.
///
/// Run it before every use of the sandbox, and run the image by the id it prints (`podman
/// run <id>`) to run exactly what was verified. With the built-in store it also re-hashes the
/// manifests and config (and every layer with --deep). Exit 0 only when verified.
///
/// Example: latch verify-local --profile dangerzone.toml && podman run …
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Re-hash every layer (built-in store).
    #[arg(long)]
    pub deep: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let updater = args.profile.updater(global)?;
    let report = updater.verify_local(args.deep).await?;
    if args.json {
        print_json(&report)?;
    } else {
        outln!(
            "Verified {}@{} (image {}) in {}: signed by {}{}",
            latch::oci::Reference::parse(&report.image)
                .map(|r| r.name())
                .unwrap_or_else(|_| report.image.clone()),
            report.digest,
            report.image_id,
            report.runtime,
            super::signed_by(&report.verdict),
            report
                .log_index
                .map(|i| format!(", log index {i}"))
                .unwrap_or_default()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
