//! `latch verify-bundle`: the sigstore-conformance client protocol.

use std::path::PathBuf;
use std::process::ExitCode;

use latch::bundle::{ArtifactInput, RootChoice, SignerSpec, verify_bundle_file};
use latch::sigstore::SignerInfo;

use super::tuf_args::TufArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Verify a Sigstore bundle (v0.1 to v0.3) against a file or a digest, offline.
///
/// Checks the signature (message signature or DSSE envelope), the Fulcio certificate
/// chain to the trusted root as of the signing time and its SCT, the Rekor inclusion
/// proof with its signed checkpoint (Rekor v1 and v2), SETs and RFC 3161 timestamps where
/// present, that the log entries describe this bundle, that the artifact is the one
/// signed (for DSSE: one of the statement's subjects), and who signed: the exact
/// certificate identity and OIDC issuer, or the key. Nothing is fetched: the public-good
/// root is built in (--refresh-trusted-root keeps it current over TUF instead). Exit 0
/// only if everything holds.
///
/// FILE_OR_DIGEST is `sha256:<hex>` for a digest, anything else a path. The arguments are
/// exactly the sigstore-conformance client protocol's, so the suite can run `latch`.
///
/// Example: latch verify-bundle --bundle a.txt.sigstore.json --certificate-identity https://github.com/o/r/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com a.txt
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Use the public-good staging root instead of production.
    #[arg(long, conflicts_with = "trusted_root")]
    pub staging: bool,
    /// The bundle file.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// The certificate's identity (SAN), exactly.
    #[arg(
        long,
        value_name = "ID",
        requires = "certificate_oidc_issuer",
        required_unless_present_any = ["key", "certificate_identity_regexp"],
        conflicts_with = "key"
    )]
    pub certificate_identity: Option<String>,
    /// The certificate's identity as a regular expression over the whole SAN (anchored).
    #[arg(
        long,
        value_name = "REGEX",
        requires = "certificate_oidc_issuer",
        conflicts_with_all = ["key", "certificate_identity"]
    )]
    pub certificate_identity_regexp: Option<String>,
    /// The certificate's OIDC issuer, exactly.
    #[arg(long, value_name = "URL", conflicts_with = "key")]
    pub certificate_oidc_issuer: Option<String>,
    /// Verify with this public key (PEM) instead of an identity.
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
    /// A trusted_root.json to use instead of the built-in public-good root.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Keeping the root current over TUF instead.
    #[command(flatten)]
    pub tuf: TufArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The artifact: a path, or `sha256:<hex>`.
    #[arg(value_name = "FILE_OR_DIGEST")]
    pub artifact: String,
}

/// Runs the command.
pub async fn run(_global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let signer = match (&args.key, &args.certificate_oidc_issuer) {
        (Some(k), _) => SignerSpec::Key(k.clone()),
        (None, Some(issuer)) => SignerSpec::Identity {
            identity: args
                .certificate_identity
                .clone()
                .or(args.certificate_identity_regexp.clone())
                .unwrap_or_default(),
            regex: args.certificate_identity_regexp.is_some(),
            issuer: issuer.clone(),
        },
        (None, None) => {
            return Err(
                "give --key PATH, or --certificate-identity and --certificate-oidc-issuer".into(),
            );
        }
    };
    let root = match (&args.trusted_root, args.staging) {
        (Some(p), _) => RootChoice::File(p.clone()),
        (None, true) => RootChoice::Staging,
        (None, false) => RootChoice::Production,
    };
    let artifact = ArtifactInput::parse(&args.artifact)?;
    if args.staging && args.tuf.wanted() {
        return Err("--staging is the staging root built in; it is not kept current over TUF: drop --refresh-trusted-root or --tuf-url".into());
    }
    let root = args.tuf.load_root(&args.tuf.root(root)?).await?;
    let v = verify_bundle_file(&args.bundle, &artifact, &signer, &root)?;
    if args.json {
        print_json(&v)?;
    } else {
        let who = match &v.signer {
            SignerInfo::Key { name } => format!("key {name}"),
            SignerInfo::Certificate { identity, issuer } => format!(
                "{} ({})",
                identity.as_deref().unwrap_or("no identity"),
                issuer.as_deref().unwrap_or("no issuer")
            ),
        };
        outln!("Verified {}: signed by {who}", args.artifact)?;
        for (claim, value) in &v.claims {
            outln!("  {claim}: {value}")?;
        }
        for e in &v.log_entries {
            outln!(
                "  log entry: index {} ({}) in log {}",
                e.log_index,
                e.kind,
                e.log_id
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
