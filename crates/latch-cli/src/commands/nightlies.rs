//! `latch nightlies`.

use std::process::ExitCode;

use latch_sign::nightly::human_duration;
use latch_sign::{NightlyQuery, nightlies, now_unix, parse_duration};

use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// List a repository's nightly tags, newest first, and pick the candidate to release.
///
/// Nightly tags look like YYYYMMDD-<version>-<n>-g<commit> (e.g.
/// 20241219-0.8.0-77-g06a9117): the build date and `git describe` of the commit. They are
/// ordered by date, then by the describe count; other tags are ignored. --commit picks the
/// newest nightly of a commit (4 to 40 hex digits, matched as a prefix from the start);
/// --max-age refuses a candidate older than that, measured from 00:00 UTC of its date.
/// The candidate's digest is resolved, ready for `latch sign` and `latch promote`.
///
/// Example: latch nightlies ghcr.io/freedomofpress/dangerzone/dangerzone --commit 06a9117 --max-age 2d
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Repository (a tag or digest, if given, is ignored).
    pub reference: String,
    /// Only nightlies of this commit.
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// Refuse a candidate older than this: 2d, 12h, 1d12h, 90m, 1w.
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,
    /// Print JSON: {"repository", "nightlies": [...], "ignored": [...], "candidate"}.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let reference = super::reference(&args.reference)?;
    let query = NightlyQuery {
        commit: args.commit.clone(),
        max_age_secs: args.max_age.as_deref().map(parse_duration).transpose()?,
        now: now_unix(),
    };
    let report = nightlies(&client, &reference, &query).await?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "Nightlies of {} ({}, newest first):",
        report.repository,
        report.nightlies.len()
    )?;
    for n in &report.nightlies {
        outln!(
            "  {:<40} {}  {:<10} +{:<5} {}",
            n.tag,
            n.date,
            n.version,
            n.count,
            n.commit
        )?;
    }
    if !report.ignored.is_empty() {
        outln!("{} other tag(s) ignored.", report.ignored.len())?;
    }
    if let Some(c) = &report.candidate {
        outln!("Candidate: {}", c.nightly.tag)?;
        outln!("  digest: {}", c.digest)?;
        outln!(
            "  age:    {} (since 00:00 UTC of {})",
            human_duration(c.age_secs),
            c.nightly.date
        )?;
        outln!("  sign:   latch sign {} --key KEY", c.reference)?;
    }
    Ok(ExitCode::SUCCESS)
}
