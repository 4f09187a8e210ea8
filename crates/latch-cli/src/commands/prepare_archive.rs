//! `latch prepare-archive`.

use std::path::PathBuf;
use std::process::ExitCode;

use latch::oci::Platform;

use super::profile_args::ProfileArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, human_size, outln};
use crate::progress::Events;

/// Prepare an air-gap archive: the image for one architecture and all the proof it needs,
/// in one tar to carry on a USB stick.
///
/// Resolves the platform image, downloads it with its `.sig` (and `.att` where present)
/// into a `cosign save`-compatible OCI layout, verifies it exactly as `upgrade` would,
/// writes `dangerzone.json` (the full index) and an `index.json` cut down to the image (so
/// `podman load -i` accepts the tar as it is), and tars it with entries named `./…`. The
/// same inputs give the same bytes. Load it with `latch load-archive` on the other side.
///
/// Example: latch prepare-archive --profile dangerzone.toml --arch arm64 -o dz-arm64.tar
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Architecture of the image to carry (amd64, arm64…; default: the profile's platform).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Where to write the archive (default: <image name>-<arch>.tar).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Prepare it even if it is older than the image installed here.
    #[arg(long)]
    pub force: bool,
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
    events.conclude(prepare(global, args, &events).await)
}

async fn prepare(global: &GlobalArgs, args: Args, events: &Events) -> Result<ExitCode, AnyError> {
    let updater = args.profile.updater(global)?;
    let platform = match &args.arch {
        Some(a) => Platform::parse(a)?,
        None => updater.profile().platform.clone(),
    };
    let output = args.output.clone().unwrap_or_else(|| {
        let name = updater
            .profile()
            .image
            .repository()
            .rsplit('/')
            .next()
            .unwrap_or("image")
            .to_owned();
        PathBuf::from(format!("{name}-{}.tar", platform.architecture))
    });
    let bar = events.reporter(Some("downloading"), args.json);
    let report = bar
        .during(
            "preparing",
            updater.prepare_archive(Some(&platform), &output, args.force, &bar),
        )
        .await;
    bar.finish();
    let report = report??;
    crate::output::warn_all(&report.warnings);
    if args.json {
        events.print_report(&report)?;
    } else {
        outln!(
            "Wrote {} ({}, sha256 {})",
            report.output.display(),
            human_size(report.size),
            report.archive_digest.hex()
        )?;
        outln!(
            "  {} {} for {}, {} signature(s){}{}",
            report.kind,
            report.digest,
            report.platform,
            report.signatures,
            report
                .log_index
                .map(|i| format!(", log index {i}"))
                .unwrap_or_default(),
            if report.attestations {
                ", with attestations"
            } else {
                ""
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
