//! `latch diff`.

use std::path::PathBuf;
use std::process::ExitCode;

use latch::oci::Platform;
use latch_diff::{DiffOptions, Mode, OpenOptions, Source};

use crate::GlobalArgs;
use crate::output::{AnyError, out, outln, print_error, print_json, stdout_error};

/// Compare two images by content: index, each platform's manifest, config, then every
/// file of every layer.
///
/// Semantic mode (the default) compares what a rebuild must reproduce: file types,
/// contents, modes, owners, link targets, xattrs and PAX records, device numbers, and the
/// config without its times. It ignores timestamps, entry order, tar format, compression
/// (gzip, zstd and plain layers with the same content are equal), digests and image
/// names. Strict mode compares all of those too. When the layer split differs, the
/// squashed file systems are compared.
///
/// Images: REGISTRY/REPOSITORY[:TAG][@DIGEST], oci:DIR[:NAME], oci-archive:FILE[:NAME],
/// docker-archive:FILE[:REPO:TAG], store:DIR[:NAME] (Latch's built-in store), or a path
/// (an archive file or a layout directory). Layers are streamed, never extracted;
/// registry images are pulled to a temporary directory first.
///
/// Exit status: 0 equal, 1 different, 2 error.
///
/// Example: latch diff oci:./rebuilt:latest ghcr.io/freedomofpress/dangerzone/v1:latest --ignore 'var/log/**' --report-dir ./report
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The first image (A).
    pub a: String,
    /// The second image (B).
    pub b: String,
    /// Ignore what a rebuild cannot reproduce (the default).
    #[arg(long, conflicts_with = "strict")]
    pub semantic: bool,
    /// Compare timestamps, full modes, entry order, tar format, descriptors and names too.
    #[arg(long)]
    pub strict: bool,
    /// Compare only this platform of multi-platform images: os/arch[/variant].
    #[arg(long)]
    pub platform: Option<String>,
    /// Leave out paths matching this glob (and what is under them), e.g. 'var/log/**',
    /// '**/*.pyc'. Repeatable.
    #[arg(long = "ignore", value_name = "GLOB")]
    pub ignore: Vec<String>,
    /// Compare the squashed file systems even when the layer counts are equal.
    #[arg(long)]
    pub squash: bool,
    /// Write the differing files of both sides under DIR (a/ and b/), for diffoscope.
    /// DIR must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Layers read at once (default: the number of CPUs, at most 4).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub jobs: usize,
    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command. Errors are printed here and give exit status 2, except a failed
/// write to stdout, which `main` handles as for every command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    match compare(global, args).await {
        Ok(code) => Ok(code),
        Err(e) if stdout_error(&e).is_some() => Err(e),
        Err(e) => {
            print_error(&e);
            Ok(ExitCode::from(2))
        }
    }
}

async fn compare(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let a = Source::parse(&args.a)?;
    let b = Source::parse(&args.b)?;
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let client = if a.is_registry() || b.is_registry() {
        Some(super::client(global)?)
    } else {
        None
    };
    let open = OpenOptions {
        client,
        platform: platform.clone(),
        ..OpenOptions::default()
    };
    let (ia, ib) = latch_diff::open_pair(&a, &b, &open).await?;
    let opts = DiffOptions {
        mode: if args.strict {
            Mode::Strict
        } else {
            Mode::Semantic
        },
        platform,
        ignore: args.ignore,
        squash: args.squash,
        jobs: args.jobs,
        report_dir: args.report_dir,
        ..DiffOptions::default()
    };
    let report = tokio::task::spawn_blocking(move || latch_diff::diff(&ia, &ib, &opts)).await??;
    if args.json {
        print_json(&report)?;
    } else {
        if !report.equal {
            out!("{}", report.table())?;
            outln!()?;
        }
        for n in &report.notes {
            outln!("note: {n}")?;
        }
        outln!("{}", report.verdict())?;
    }
    Ok(if report.equal {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
