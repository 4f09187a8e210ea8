//! `latch check`.

use std::process::ExitCode;

use super::profile_args::ProfileArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Is a newer verified image available?
///
/// Run by hand, it always asks the registry. With --auto (what an application runs on a
/// schedule) it honours the user's opt-in (off until turned on with --enable) and the
/// cooldown between checks. When nothing changed it costs the registry one HEAD request;
/// signatures are fetched and verified only when the digest changed.
///
/// Example: latch check --profile dangerzone.toml --auto
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// An automatic check: honour the opt-in and the cooldown.
    #[arg(long)]
    pub auto: bool,
    /// Turn automatic update checks on (and check).
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Turn automatic update checks off.
    #[arg(long)]
    pub disable: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let updater = args.profile.updater(global)?;
    if args.disable {
        updater.set_updates_enabled(false)?;
        if args.json {
            print_json(&serde_json::json!({"updates_enabled": false}))?;
        } else {
            outln!("Automatic update checks are off.")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.enable {
        updater.set_updates_enabled(true)?;
        if !args.json {
            outln!("Automatic update checks are on.")?;
        }
    }
    let report = updater.check(!args.auto).await?;
    crate::output::warn_all(&report.warnings);
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    match report.status {
        "disabled" => outln!("Automatic update checks are off (turn them on with --enable).")?,
        "cooldown" => outln!(
            "Checked recently; next automatic check after {}.",
            report.next_check.map(|t| t.to_string()).unwrap_or_default()
        )?,
        "held" => outln!(
            "A newer verified image ({}) is held by the minimum age {}",
            report
                .remote
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default(),
            match report.held_until {
                Some(t) => format!("until {t} (Unix time)"),
                None => "(no log time measures its age)".to_owned(),
            }
        )?,
        "update-available" | "not-installed" => outln!(
            "A newer verified image is available: {}{} (run `latch upgrade`)",
            report
                .remote
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default(),
            report
                .log_index
                .map(|i| format!(", log index {i}"))
                .unwrap_or_default()
        )?,
        _ => outln!(
            "{} is up to date ({})",
            report.image,
            report
                .installed
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default()
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
