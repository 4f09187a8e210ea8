//! `latch verify-attestation`: SLSA provenance of an image digest, checked offline.

use std::path::PathBuf;
use std::process::ExitCode;

use latch::attestation::verify_attestation;
use latch::bundle::RootChoice;
use latch::sigstore::provenance::ProvenancePolicy;

use crate::GlobalArgs;
use crate::output::{AnyError, errln, outln, print_json};

/// Verify that an image digest has SLSA provenance from the expected GitHub repository,
/// workflow and ref.
///
/// Looks for attestations in cosign's `sha256-<hex>.att` manifest (slsa-github-generator)
/// and in OCI referrers (GitHub's attest-build-provenance), then for each: verifies the
/// signature and the Fulcio certificate (chain, SCT, Rekor), that the certificate is
/// GitHub Actions' for this repository and workflow (and ref), that the statement's
/// subject is this digest, and the SLSA predicate: v0.2 (builder.id,
/// invocation.configSource uri/entryPoint/digest) or v1 (buildDefinition workflow
/// repository/path/ref, runDetails.builder.id). Repositories match whole:
/// `owner/repo` never accepts `owner/repo-image`. Prints each claim checked. Exit 0 only
/// if one attestation satisfies everything.
///
/// Example: latch verify-attestation ghcr.io/freedomofpress/dangerzone/v1@sha256:… --repository freedomofpress/dangerzone-image --workflow .github/workflows/release.yml
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The image: REPOSITORY@sha256:<hex>.
    #[arg(value_name = "IMAGE@DIGEST")]
    pub image: String,
    /// The GitHub repository that must have built it: OWNER/REPO.
    #[arg(long, value_name = "OWNER/REPO")]
    pub repository: String,
    /// The workflow file that must have run, e.g. .github/workflows/release.yml.
    #[arg(long, value_name = "PATH")]
    pub workflow: String,
    /// The ref the build must have run on, e.g. refs/heads/main or refs/tags/v1.2.3.
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// A regular expression over the whole builder ID (default: slsa-github-generator's
    /// container workflow at a release tag for v0.2, GitHub's runners for v1).
    #[arg(long, value_name = "REGEX")]
    pub builder_id: Option<String>,
    /// A trusted_root.json to use instead of the built-in public-good root.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let reference = super::reference(&args.image)?;
    let policy = ProvenancePolicy::new(
        &args.repository,
        &args.workflow,
        args.git_ref.as_deref(),
        args.builder_id.as_deref(),
    )?;
    let root = match &args.trusted_root {
        Some(p) => RootChoice::File(p.clone()),
        None => RootChoice::Production,
    }
    .load()?;
    let report = verify_attestation(&client, &reference, &policy, &root).await?;
    if args.json {
        print_json(&report)?;
    } else {
        outln!("Verified SLSA provenance of {}", report.digest)?;
        outln!("source: {}", report.source)?;
        for c in &report.claims {
            outln!("{c}")?;
        }
        for r in &report.rejected {
            errln!("note: also found, not accepted: {r}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
