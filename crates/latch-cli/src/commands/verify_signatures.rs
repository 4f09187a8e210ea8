//! `latch verify-signatures`.

use std::path::PathBuf;
use std::process::ExitCode;

use latch::oci::Digest;
use latch::verify::{decide_file, now_unix};

use super::trust_args::TrustArgs;
use super::verification_output::report;
use crate::GlobalArgs;
use crate::output::AnyError;

/// Verify a file of `cosign download signature` output for an image digest, offline.
///
/// The file is a JSON list (Dangerzone's store format) or one JSON object per line. It is
/// decided on exactly as `latch verify` decides: each signature is checked over its exact
/// payload bytes with the trusted keys (or, for a keyless signature, its certificate
/// against the trusted identities and root); the payload must name the digest (and
/// --repository, if given); with --rekor-key its Rekor SET and entry must verify too.
/// Signatures by other keys, for other digests, or malformed ones are reported and
/// skipped. Exit 0 only when enough distinct trusted signers signed.
///
/// Example: latch verify-signatures --key test.pub.key --rekor-key rekor.pub --digest sha256:19e8…8a67 signatures.json
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The signatures file.
    pub file: PathBuf,
    /// The image digest the signatures must name.
    #[arg(long, value_name = "sha256:HEX")]
    pub digest: String,
    /// The repository the signatures must name (docker-reference).
    #[arg(long, value_name = "REPO")]
    pub repository: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(_global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let digest = Digest::parse(&args.digest)?;
    let trust = args
        .trust
        .load(&args.trust.spec(args.repository.as_deref())?)
        .await?;
    let decided = decide_file(&args.file, &digest, &trust, now_unix())?;
    report(&decided, &args.file.display().to_string(), args.json)
}
