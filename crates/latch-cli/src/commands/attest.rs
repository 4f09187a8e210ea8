//! `latch attest`, and the output `latch sign --bundle` shares with it.

use std::path::PathBuf;
use std::process::ExitCode;

use latch_sign::bundle::MAX_PREDICATE_BYTES;
use latch_sign::{BundleOptions, BundleReport, now_unix, sign_bundle};

use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Sign a statement about an image digest and attach it: an attestation on top.
///
/// Writes an in-toto statement whose subject is the image digest and whose predicate is
/// the JSON object in FILE under the predicate type URI (e.g. the provenance the
/// releasers checked, or a review record), signs it with KEY in a DSSE envelope, and
/// attaches the Sigstore bundle (v0.3) to the image as its own OCI referrer, with the
/// sha256-<hex> tag index for registries without the referrers API (every entry already
/// there is kept; a write lost to another signer is done again). Attestations already
/// there stay: this adds a signature on top. With --tlog-upload the attestation is logged
/// (as `latch sign --bundle --tlog-upload` does); without, the bundle carries no
/// transparency log entry. `latch verify-attestation IMAGE --key PUB --type URI` verifies it, and so does
/// `cosign verify-attestation --new-bundle-format --insecure-ignore-tlog --key PUB --type URI`.
///
/// KEY is a key file or a pkcs11: URI, as `latch sign --key` takes it.
///
/// Example: latch attest ghcr.io/org/app@sha256:0123… --key release.key --type https://example.com/release-review/v1 --predicate review.json
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The image: REPOSITORY@sha256:DIGEST (a tag alone is refused).
    pub image: String,
    /// Private key file, or a pkcs11: URI of a key on a token. Without it, the
    /// attestation is signed keylessly (see `latch sign --help`).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub keyless: super::signing_args::KeylessArgs,
    /// The predicate: a JSON object, at most 4 MiB.
    #[arg(long, value_name = "FILE")]
    pub predicate: PathBuf,
    /// The predicate type: an absolute URI, e.g. https://slsa.dev/provenance/v1.
    #[arg(long = "type", value_name = "URI")]
    pub predicate_type: String,
    /// Attest an index and every manifest it lists.
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub tlog: super::signing_args::TlogArgs,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let image = super::reference(&args.image)?;
    let predicate = latch::oci::layout::read_bounded(&args.predicate, MAX_PREDICATE_BYTES as u64)
        .map_err(|e| {
        format!(
            "cannot read the predicate {}: {e}",
            args.predicate.display()
        )
    })?;
    let mut opts = BundleOptions::attestation(&args.predicate_type, &predicate, now_unix())?;
    opts.recursive = args.recursive;
    let signing = super::signing_args::Signing::resolve(args.key.as_deref(), &args.keyless).await?;
    signing.configure(&mut opts, &args.tlog)?;
    let mut report = sign_bundle(&client, signing.signer(), &image, &opts).await?;
    signing.describe(&mut report);
    print_bundle_report(&report, args.json, "Attested")
}

/// Prints what [`sign_bundle`] did: the JSON report, or a few lines per manifest.
pub fn print_bundle_report(
    report: &BundleReport,
    json: bool,
    verb: &str,
) -> Result<ExitCode, AnyError> {
    if json {
        print_json(report)?;
        return Ok(ExitCode::SUCCESS);
    }
    for s in &report.signed {
        match &s.platform {
            Some(p) => outln!("{verb} {} ({p})", s.digest)?,
            None => outln!("{verb} {}", s.digest)?,
        }
        outln!("  bundle: {}", s.referrer)?;
        outln!("  listed in {} ({} referrers)", s.index, s.referrers)?;
        if let Some(i) = s.log_index {
            outln!("  transparency log index: {i}")?;
        }
    }
    outln!("Predicate type: {}", report.predicate_type)?;
    outln!("Key: {}", report.signer)?;
    if !report.logged {
        outln!(
            "Not logged on a transparency log: verifiers must accept unlogged signatures from this key"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
