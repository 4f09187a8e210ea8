//! `latch verify-attestation`: SLSA provenance of an image digest from a GitHub workflow,
//! or an attestation of any type signed by trusted keys, checked offline.

use std::process::ExitCode;

use super::trust_args::TrustArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, errln, outln, print_json};
use latch::attestation::{decide_attestation, verify_attestation};
use latch::sigstore::provenance::ProvenancePolicy;

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
/// With --type it verifies instead an attestation of that predicate type signed by trusted
/// keys (--key) or keyless identities (--certificate-identity, --certificate-oidc-issuer,
/// under --trusted-root), as `latch attest` writes them (a bundle referrer) or cosign's
/// `attest` (a .att layer): the one trust decision every Latch command makes, over
/// attestations: k of n distinct trusted signers with --threshold, a Rekor entry when
/// --rekor-key is given (always, for keyless ones), the statement's subject this digest.
/// Prints the verdict and the accepted predicate; exit 0 only if enough trusted signers
/// attested.
///
/// Example: latch verify-attestation ghcr.io/freedomofpress/dangerzone/v1@sha256:… --repository freedomofpress/dangerzone-image --workflow .github/workflows/release.yml
///
/// Example: latch verify-attestation ghcr.io/org/app@sha256:… --key release.pub --type https://example.com/release-review/v1
#[derive(clap::Args)]
#[command(long_about)]
#[command(
    mut_arg("keys", |a| a.requires("predicate_type")),
    mut_arg("threshold", |a| a.requires("predicate_type")),
    mut_arg("rekor_keys", |a| a.requires("predicate_type")),
    mut_arg("tlog", |a| a.requires("predicate_type")),
    mut_arg("certificate_identity", |a| a.requires("predicate_type")),
    mut_arg("certificate_identity_regexp", |a| a.requires("predicate_type")),
    mut_arg("certificate_oidc_issuer", |a| a.requires("predicate_type")),
    mut_arg("trusted_root", |a| a.help(
        "A trusted_root.json to use instead of the built-in public-good root: the root of the \
         provenance's workflow certificate, and with --type of keyless signers and of the logs \
         that vouch for key signatures when --tlog required is given without --rekor-key"
    ))
)]
pub struct Args {
    /// The image: REPOSITORY@sha256:<hex>.
    #[arg(value_name = "IMAGE@DIGEST")]
    pub image: String,
    /// The GitHub repository that must have built it: OWNER/REPO.
    #[arg(
        long,
        value_name = "OWNER/REPO",
        required_unless_present = "predicate_type"
    )]
    pub repository: Option<String>,
    /// The workflow file that must have run, e.g. .github/workflows/release.yml.
    #[arg(long, value_name = "PATH", required_unless_present = "predicate_type")]
    pub workflow: Option<String>,
    /// Verify instead an attestation of this predicate type (a URI), signed by the trusted
    /// --key or keyless identity.
    #[arg(
        long = "type",
        value_name = "URI",
        conflicts_with_all = ["repository", "workflow", "git_ref", "builder_id"]
    )]
    pub predicate_type: Option<String>,
    /// With --type: who must have signed (the options `latch verify` takes).
    #[command(flatten)]
    pub trust: TrustArgs,
    /// The ref the build must have run on, e.g. refs/heads/main or refs/tags/v1.2.3.
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// A regular expression over the whole builder ID (default: slsa-github-generator's
    /// container workflow at a release tag for v0.2, GitHub's runners for v1).
    #[arg(long, value_name = "REGEX")]
    pub builder_id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let reference = super::reference(&args.image)?;
    if let Some(predicate_type) = &args.predicate_type {
        return keyed(&client, &reference, &args, predicate_type).await;
    }
    let (Some(repository), Some(workflow)) = (&args.repository, &args.workflow) else {
        return Err("give --repository and --workflow (provenance), or --key and --type".into());
    };
    let policy = ProvenancePolicy::new(
        repository,
        workflow,
        args.git_ref.as_deref(),
        args.builder_id.as_deref(),
    )?;
    let root = args.trust.tuf.load_root(&args.trust.root()?).await?;
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

/// `--key … --type URI`: the one decision over the attestations of that type.
async fn keyed(
    client: &latch::registry::Client,
    reference: &latch::oci::Reference,
    args: &Args,
    predicate_type: &str,
) -> Result<ExitCode, AnyError> {
    // Attestations name a digest, not a repository: no `docker-reference` to match.
    let trust = args.trust.load(&args.trust.spec(None)?).await?;
    let decision = decide_attestation(client, reference, &trust, predicate_type).await?;
    let v = &decision.verdict;
    if args.json {
        print_json(&serde_json::json!({
            "verified": v.trusted,
            "subject": decision.reference,
            "digest": decision.digest,
            "predicate_type": decision.predicate_type,
            "predicate": decision.predicate,
            "verdict": v,
        }))?;
    } else {
        super::verification_output::lines(v, "attestations")?;
        if v.trusted {
            outln!("Predicate type: {}", decision.predicate_type)?;
            if let Some(p) = &decision.predicate {
                outln!("Predicate: {p}")?;
            }
        }
    }
    Ok(if v.trusted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
