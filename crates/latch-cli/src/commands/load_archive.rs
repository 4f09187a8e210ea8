//! `latch load-archive`.

use std::path::PathBuf;
use std::process::ExitCode;

use latch::UpgradeOptions;

use super::profile_args::ProfileArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln};
use crate::progress::Events;

/// Load an air-gap archive, verifying everything before anything reaches the runtime.
///
/// The tar is read as a stream and refused on absolute paths, `..`, links, devices,
/// duplicate or oversized entries; every blob must hash to its name; `index.json` must be
/// the image-only cut of `dangerzone.json`; the signatures must verify for the image's
/// digest and not be older than what is installed (--force bypasses only that). Only then
/// is the image loaded into the runtime, its digest checked, the signatures stored and the
/// image tagged. Archives made by Dangerzone's own tooling load as well.
///
/// Example: latch load-archive --profile dangerzone.toml dz-arm64.tar
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The archive.
    pub file: PathBuf,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Accept an image older than the installed one (bypasses only the rollback check).
    #[arg(long)]
    pub force: bool,
    /// Try again an image that failed its health check before (by default it is
    /// skipped until a newer one is signed).
    #[arg(long)]
    pub retry_failed: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// With --json: print progress as events, one JSON object a line, the report last.
    #[arg(long, requires = "json")]
    pub events: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let events = Events::new(args.events);
    events.conclude(load(global, args, &events).await)
}

async fn load(global: &GlobalArgs, args: Args, events: &Events) -> Result<ExitCode, AnyError> {
    let updater = args.profile.updater(global)?;
    let opts = UpgradeOptions {
        force: args.force,
        wait: true,
        interrupt_after: None,
        health_check: None,
        retry_failed: args.retry_failed,
        now: false,
    };
    // The library reports no progress of a load: steps only.
    let report = events
        .reporter(None, args.json)
        .during("loading", updater.load_archive(&args.file, &opts))
        .await??;
    crate::output::warn_all(&report.warnings);
    if args.json {
        events.print_report(&report)?;
    } else if report.status == "up-to-date" {
        outln!("{} is already installed ({})", report.image, report.digest)?;
    } else {
        outln!(
            "Loaded {} as {} ({} of {} required trusted signer(s){})",
            report.digest,
            report.image,
            report.verdict.count(),
            report.verdict.threshold,
            report
                .log_index
                .map(|i| format!(", log index {i}"))
                .unwrap_or_default()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
