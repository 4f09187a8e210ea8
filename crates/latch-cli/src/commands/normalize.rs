//! `latch normalize`.

use std::process::ExitCode;

use latch::oci::{LayoutRef, Platform};
use latch_diff::normalize::{NormalizeOptions, OutputCompression};
use latch_diff::{OpenOptions, Source};

use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Rewrite every timestamp of an image to SOURCE_DATE_EPOCH and recompress it
/// deterministically, so that two builds that differ only in time get the same digest.
///
/// Tar entry mtimes become the epoch (PAX atime, ctime and mtime records are dropped),
/// the config's `created` and history times and `org.opencontainers.image.created`
/// annotations become the epoch in RFC 3339, diff_ids are recomputed, and layers are
/// recompressed (gzip with a zero header time and a fixed level, or zstd at a fixed
/// level). Everything else is kept byte for byte. The result is written to an OCI layout;
/// both digests are printed: normalise the other build the same way and compare.
///
/// SRC is any image `latch diff` reads (registry reference, oci:DIR[:NAME],
/// oci-archive:FILE, docker-archive:FILE, store:DIR[:NAME], a path).
///
/// Example: latch normalize docker-archive:./build.tar oci:./normalized:latest --source-date-epoch 1700000000
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The image to normalise.
    pub source: String,
    /// Destination: oci:DIR[:NAME] or DIR (created if absent).
    pub destination: String,
    /// Seconds since 1970-01-01 UTC to set every timestamp to.
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "N")]
    pub source_date_epoch: u64,
    /// Layer compression: keep (each layer as it came), gzip, zstd or none.
    #[arg(long, value_name = "KIND", default_value = "keep", value_parser = ["keep", "gzip", "zstd", "none"])]
    pub compression: String,
    /// Only this platform of a multi-platform image: os/arch[/variant].
    #[arg(long)]
    pub platform: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let source = Source::parse(&args.source)?;
    let (dir, name) = match LayoutRef::parse(&args.destination) {
        Some(r) => (r.dir, r.name),
        None => (args.destination.clone().into(), None),
    };
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let client = if source.is_registry() {
        Some(super::client(global)?)
    } else {
        None
    };
    let open = OpenOptions {
        client,
        platform: platform.clone(),
        ..OpenOptions::default()
    };
    let image = latch_diff::open(&source, &open).await?;
    let opts = NormalizeOptions {
        epoch: args.source_date_epoch,
        compression: match args.compression.as_str() {
            "gzip" => OutputCompression::Gzip,
            "zstd" => OutputCompression::Zstd,
            "none" => OutputCompression::None,
            _ => OutputCompression::Keep,
        },
        platform,
        name,
        ..NormalizeOptions::default()
    };
    let report =
        tokio::task::spawn_blocking(move || latch_diff::normalize(&image, &dir, &opts)).await??;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let source_digest = report
        .source_digest
        .as_ref()
        .map(|d| d.to_string())
        .unwrap_or_else(|| "-".to_owned());
    outln!("Source: {source_digest}  {}", report.source)?;
    outln!("Result: {}  {}", report.digest, args.destination)?;
    for i in &report.images {
        if report.images.len() > 1 {
            outln!("  {:<16} {}", i.platform, i.digest)?;
        }
    }
    outln!("Timestamps set to {} ({})", report.created, report.epoch)?;
    Ok(ExitCode::SUCCESS)
}
