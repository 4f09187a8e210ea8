//! `latch upgrade`.

use std::process::ExitCode;

use latch::UpgradeOptions;

use super::profile_args::ProfileArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln};
use crate::progress::Events;

/// Upgrade to the newest image that the trusted signers signed, refusing anything older.
///
/// Resolves the profile's tag to a digest, fetches the signatures and makes the one trust
/// decision (trusted keys and keyless identities, distinct signers against the threshold,
/// this digest, this repository, Rekor where required), refuses a possible rollback (a
/// lower log index, an older log time or signed version, or nothing that proves the image
/// is not older than the installed one) and a possible freeze (newest signature older than
/// the maximum age), pulls by digest, checks the runtime now holds exactly that
/// digest, stores the signatures and state atomically, tags the image and removes older
/// ones. Says so when already up to date. An upgrade killed at any point leaves the old
/// image installed and verifiable.
///
/// Example: latch upgrade --profile dangerzone.toml
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Accept an image that may be older than the installed one (bypasses only the
    /// rollback check, and says so loudly).
    #[arg(long)]
    pub force: bool,
    /// Wait for another running upgrade instead of failing at once.
    #[arg(long)]
    pub wait: bool,
    /// Install now, even an image younger than the profile's minimum age.
    #[arg(long)]
    pub now: bool,
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
    events.conclude(upgrade(global, args, &events).await)
}

async fn upgrade(global: &GlobalArgs, args: Args, events: &Events) -> Result<ExitCode, AnyError> {
    let updater = args.profile.updater(global)?;
    let opts = UpgradeOptions {
        force: args.force,
        wait: args.wait,
        interrupt_after: None,
        health_check: None,
        retry_failed: args.retry_failed,
        now: args.now,
    };
    let bar = events.reporter(
        Some(&format!("upgrading {}", updater.profile().image)),
        args.json,
    );
    let result = bar.during("upgrading", updater.upgrade(&opts, &bar)).await;
    bar.finish();
    let report = result??;
    crate::output::warn_all(&report.warnings);
    if args.json {
        events.print_report(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    match report.status {
        "up-to-date" => outln!("{} is up to date ({})", report.image, report.digest)?,
        "held" => outln!(
            "{} stays as it is: the newest image ({}) is held by the minimum age {}",
            report.image,
            report.digest,
            match report.held_until {
                Some(t) => format!("until {t} (Unix time); --now takes it anyway"),
                None => "(no log time measures its age); --now takes it anyway".to_owned(),
            }
        )?,
        "failed-before" => outln!(
            "{} stays as it is: the newest image ({}) failed its health check before",
            report.image,
            report.digest
        )?,
        _ => {
            outln!("Upgraded {} to {}", report.image, report.digest)?;
            if let Some(p) = &report.platform_digest {
                outln!("  platform image: {p}")?;
            }
            if let Some(prev) = &report.previous {
                outln!("  previous:       {prev}")?;
            }
            if !report.removed.is_empty() {
                outln!("  removed {} older image(s)", report.removed.len())?;
            }
        }
    }
    outln!(
        "  signed by {}{}",
        super::signed_by(&report.verdict),
        report
            .log_index
            .map(|i| format!(", log index {i}"))
            .unwrap_or_default()
    )?;
    Ok(ExitCode::SUCCESS)
}
