//! `latch inspect`.

use std::process::ExitCode;

use crate::GlobalArgs;
use crate::output::{AnyError, human_size, outln, print_json};

/// Show an image's digest, media type, size and platforms (or layers).
///
/// The manifest is fetched and its digest computed over the bytes received (and checked
/// against the registry's Docker-Content-Digest).
///
/// Example: latch inspect ghcr.io/freedomofpress/dangerzone/v1:latest
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Image reference: [REGISTRY/]REPOSITORY[:TAG][@DIGEST].
    pub reference: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let reference = super::reference(&args.reference)?;
    let r = latch::inspect::inspect(&client, &reference).await?;
    if args.json {
        print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("Reference:  {}", r.reference)?;
    outln!("Digest:     {}", r.digest)?;
    outln!("Media type: {}", r.media_type)?;
    outln!("Size:       {} bytes", r.size)?;
    if let Some(p) = &r.platform {
        outln!("Platform:   {p}")?;
    }
    if let Some(c) = &r.config {
        outln!("Config:     {c}")?;
    }
    if !r.platforms.is_empty() {
        outln!("Platforms:")?;
        for p in &r.platforms {
            outln!("  {:<16} {}", p.platform, p.digest)?;
        }
    }
    if !r.layers.is_empty() {
        outln!("Layers:")?;
        for l in &r.layers {
            outln!("  {} {:>10}", l.digest, human_size(l.size))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
