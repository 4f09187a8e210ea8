//! `latch pull`.

use std::process::ExitCode;

use latch::oci::{LayoutRef, OciLayout, Platform};
use latch::registry::{PullOptions, pull_to_layout};

use crate::GlobalArgs;
use crate::output::{AnyError, human_size, outln};
use crate::progress::Events;

/// Copy an image from a registry into an OCI image layout, verifying every manifest and
/// blob against its digest before it counts as present.
///
/// Layers are fetched in parallel, streamed to disk while hashed, and resumed after a
/// dropped connection. Without --platform an index is copied whole (its digest is what is
/// usually signed); with it, only that platform's image.
///
/// Example: latch pull ghcr.io/freedomofpress/dangerzone/v1:latest --to oci:./dz:latest --platform linux/amd64
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Image reference to pull.
    pub reference: String,
    /// Destination: oci:DIR[:NAME]. The layout is created if absent.
    #[arg(long, value_name = "oci:DIR[:NAME]")]
    pub to: String,
    /// Only this platform from a multi-platform image: os/arch[/variant].
    #[arg(long)]
    pub platform: Option<String>,
    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
    /// With --json: print progress as events, one JSON object a line, the report last.
    #[arg(long, requires = "json")]
    pub events: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let events = Events::new(args.events);
    events.conclude(pull(global, args, &events).await)
}

async fn pull(global: &GlobalArgs, args: Args, events: &Events) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let reference = super::reference(&args.reference)?;
    let dest = LayoutRef::parse(&args.to)
        .ok_or_else(|| format!("--to {:?}: expected oci:DIR[:NAME]", args.to))?;
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let layout = OciLayout::create(&dest.dir)?;
    let bar = events.reporter(Some(&format!("pulling {}", reference)), args.json);
    let opts = PullOptions {
        platform,
        name: dest.name.clone(),
    };
    let report = bar
        .during(
            "pulling",
            pull_to_layout(&client, &reference, &layout, &opts, &bar),
        )
        .await;
    bar.finish();
    let report = report??;
    if args.json {
        events.print_report(&report)?;
    } else {
        outln!(
            "Pulled {} to {} ({} blobs, {} downloaded, {} already present)",
            report.digest,
            dest.dir.display(),
            report.blobs_downloaded + report.blobs_present,
            human_size(report.bytes_downloaded),
            report.blobs_present
        )?;
        if let Some(i) = &report.index_digest {
            outln!("Selected from index {i}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
