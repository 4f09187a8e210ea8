//! `latch store-signatures`.

use std::process::ExitCode;

use super::profile_args::ProfileArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Fetch, verify and store the remote image's signatures, without pulling the image.
///
/// The signatures land in the signature store (Dangerzone's layout:
/// <data>/signatures/<sha256 of the key file>/<digest>.json), atomically.
///
/// Example: latch store-signatures --profile dangerzone.toml
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let updater = args.profile.updater(global)?;
    let report = updater.store_signatures().await?;
    crate::output::warn_all(&report.warnings);
    if args.json {
        print_json(&report)?;
    } else {
        outln!("Stored verified signatures of {}:", report.digest)?;
        for f in &report.files {
            outln!("  {}", f.display())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
