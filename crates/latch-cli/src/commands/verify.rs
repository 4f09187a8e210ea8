//! `latch verify`.

use std::process::ExitCode;

use std::path::PathBuf;

use latch::verify::{now_unix, verify_remote, verify_remote_trusted};

use super::trust_args::TrustArgs;
use super::verification_output::report;
use crate::GlobalArgs;
use crate::output::{AnyError, print_json};

/// Verify an image's cosign signatures in the registry, natively: no cosign, no TUF.
///
/// Resolves the reference to a digest (the hash of the manifest bytes received), fetches
/// the `sha256-<hex>.sig` manifest beside it and verifies each signature: trusted key,
/// exact payload bytes, the payload names this digest and this repository (--repository
/// overrides), and with --rekor-key a Rekor SET checked offline against the pinned key.
/// Without a `.sig` signature that verifies, cosign v3 signatures are looked for too: Sigstore
/// bundles referring to the digest (referrers API or `sha256-<hex>` tag index) whose DSSE
/// `sign/v1` statement names it, signed by a trusted key (with --rekor-key, logged).
/// With --certificate-identity (or -regexp) and --certificate-oidc-issuer, keyless cosign
/// v3 signatures by that identity count too, beside the keys (if any), as `upgrade`
/// counts them: distinct signers towards --threshold, Fulcio chain and Rekor entry checked
/// against the built-in public-good root or --trusted-root, nothing fetched but the image's
/// signatures.
/// Exit 0 only when enough trusted signers validly signed this digest.
///
/// Example: latch verify ghcr.io/freedomofpress/dangerzone/v1:latest --key dangerzone.pub --rekor-key rekor.pub
///
/// Example: latch verify ghcr.io/org/app:latest --certificate-identity https://github.com/org/app/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Image reference: REPOSITORY[:TAG][@DIGEST].
    pub reference: String,
    /// The repository the signatures must name (default: the reference's).
    #[arg(long, value_name = "REPO")]
    pub repository: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// A trusted keyless signer: the certificate identity (SAN), exactly. Its cosign v3
    /// signatures count beside the keys' (one distinct signer towards --threshold).
    #[arg(long, value_name = "ID", requires = "certificate_oidc_issuer")]
    pub certificate_identity: Option<String>,
    /// The keyless signer's identity as a regular expression over the whole SAN (anchored).
    #[arg(
        long,
        value_name = "REGEX",
        requires = "certificate_oidc_issuer",
        conflicts_with = "certificate_identity"
    )]
    pub certificate_identity_regexp: Option<String>,
    /// The keyless signer's OIDC issuer, exactly.
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,
    /// The Sigstore trusted_root.json keyless signatures chain to (default: the
    /// public-good root built in; nothing is fetched).
    #[arg(long, value_name = "FILE", requires = "certificate_oidc_issuer")]
    pub trusted_root: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let reference = super::reference(&args.reference)?;
    let repository = args.repository.clone().unwrap_or_else(|| reference.name());
    if let Some(issuer) = &args.certificate_oidc_issuer {
        return run_with_identity(&client, &reference, &repository, issuer, &args).await;
    }
    if args.trust.keys.is_empty() {
        return Err("no trusted key: give --key PEM, or a keyless identity with --certificate-identity and --certificate-oidc-issuer".into());
    }
    let policy = args.trust.spec(Some(&repository))?.build()?;
    let result = verify_remote(&client, &reference, &policy, now_unix())
        .await
        .map(|(v, _)| v);
    // No cosign `.sig`, or none that verifies: look for cosign v3 signatures (bundle
    // referrers) beside them. When `.sig` signatures exist but fail and no bundle
    // verifies either, the `.sig` verdict is what is shown.
    let fallback = match &result {
        Err(latch::Error::NoSignatures { digest, .. }) => Some((digest.clone(), false)),
        Err(latch::Error::NotVerified(latch::trust::VerifyError::ThresholdNotMet { verdict })) => {
            Some((verdict.digest.clone(), true))
        }
        _ => None,
    };
    if let Some((digest, legacy_failed)) = fallback
        && let Some(code) = super::verify_bundles::try_bundles(
            &client,
            &reference,
            &digest,
            &args.trust,
            args.json,
            legacy_failed,
        )
        .await?
    {
        return Ok(code);
    }
    let digest = match &result {
        Ok(v) => v.digest.to_string(),
        Err(_) => reference
            .digest()
            .map(|d| d.to_string())
            .unwrap_or_default(),
    };
    report(result, &reference.to_string(), &digest, args.json)
}

/// `verify` with a keyless identity: keys and the identity counted together, as the
/// updater counts them (legacy `.sig` first, cosign v3 bundles when those fall short).
async fn run_with_identity(
    client: &latch::registry::Client,
    reference: &latch::oci::Reference,
    repository: &str,
    issuer: &str,
    args: &Args,
) -> Result<ExitCode, AnyError> {
    let san = match (
        &args.certificate_identity,
        &args.certificate_identity_regexp,
    ) {
        (Some(exact), _) => latch::sigstore::SanMatcher::exact(exact.clone()),
        (None, Some(re)) => latch::sigstore::SanMatcher::regex(re)?,
        (None, None) => {
            return Err(
                "--certificate-oidc-issuer needs --certificate-identity or --certificate-identity-regexp"
                    .into(),
            );
        }
    };
    let identity = latch::sigstore::IdentityPolicy::new(issuer.to_owned(), san);
    let root = args
        .trusted_root
        .clone()
        .map(latch::bundle::RootChoice::File)
        .unwrap_or_default();
    let spec = args.trust.spec(Some(repository))?;
    let trust = latch::trusted::Trust::build(&spec, &[identity], &root)?;
    match verify_remote_trusted(client, reference, &trust, now_unix()).await {
        Ok(v) => {
            if args.json {
                print_json(&serde_json::json!({
                    "verified": true,
                    "subject": reference.to_string(),
                    "digest": v.digest,
                    "max_log_index": v.max_log_index(),
                    "verdict": v.verdict,
                    "bundles": v.bundles,
                }))?;
            } else {
                println!(
                    "Verified {}: signed by {}",
                    v.digest,
                    super::signed_by(&v.verdict, &v.bundles)
                );
                for o in &v.verdict.outcomes {
                    println!("  {o}");
                }
                for b in &v.bundles {
                    println!("  {}", super::describe_bundle(b));
                    for (claim, value) in &b.claims {
                        println!("    {claim}: {value}");
                    }
                }
                if let Some(i) = v.max_log_index() {
                    println!("Highest log index: {i}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(
            e @ (latch::Error::SignersNotVerified { .. }
            | latch::Error::NotVerified(_)
            | latch::Error::NoSignatures { .. }),
        ) => {
            if args.json {
                print_json(&serde_json::json!({
                    "verified": false,
                    "subject": reference.to_string(),
                    "error": e.to_string(),
                }))?;
            } else {
                eprintln!("latch: NOT verified {reference}: {e}");
            }
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(Box::new(e)),
    }
}
