//! `latch install`.

use std::process::ExitCode;

use super::profile_args::ProfileArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln};
use crate::progress::Events;

/// Install the best verified image: the one installed, the archive bundled with the
/// application, or (with --online) the newest in the registry.
///
/// The choice follows the highest verified log index, as Dangerzone's installer chooses:
/// on first run, or when the application ships a newer archive than what is installed,
/// the bundled archive is loaded (verified as `load-archive` verifies); with --online a
/// newer registry image wins. Run it when the application starts.
///
/// Example: latch install --profile dangerzone.toml --bundled-archive /usr/share/dangerzone/container.tar
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Also consider the registry's newest image.
    #[arg(long)]
    pub online: bool,
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
    events.conclude(install(global, args, &events).await)
}

async fn install(global: &GlobalArgs, args: Args, events: &Events) -> Result<ExitCode, AnyError> {
    let updater = args.profile.updater(global)?;
    let bar = events.reporter(Some("installing"), args.json);
    let report = bar
        .during("installing", updater.install(args.online, &bar))
        .await;
    bar.finish();
    let report = report??;
    if args.json {
        events.print_report(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let show = |v: Option<u64>| v.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
    outln!(
        "Log indexes: installed {}, bundled {}, remote {}{}",
        show(report.installed),
        show(report.bundled),
        show(report.remote),
        report
            .remote_skipped
            .as_ref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    )?;
    match (report.choice, &report.report) {
        ("installed", _) => outln!("Kept the installed image.")?,
        (choice, Some(r)) => outln!("Installed {} from the {choice} image.", r.digest)?,
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}
