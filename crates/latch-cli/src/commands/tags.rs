//! `latch tags`.

use std::process::ExitCode;

use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// List a repository's tags, sorted, following pagination on the same registry only.
///
/// Example: latch tags ghcr.io/freedomofpress/dangerzone/v1
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Repository (a tag or digest, if given, is ignored).
    pub reference: String,
    /// Print JSON: {"repository": …, "tags": [...]}.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let reference = super::reference(&args.reference)?;
    let tags = latch::inspect::tags(&client, &reference).await?;
    if args.json {
        print_json(&serde_json::json!({ "repository": reference.name(), "tags": tags }))?;
    } else {
        for t in tags {
            outln!("{t}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
