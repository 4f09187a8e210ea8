//! `latch sign`.

use std::path::PathBuf;
use std::process::ExitCode;

use latch_sign::sign::parse_annotation;
use latch_sign::{Password, PrivateKey, PublicKey, SignOptions, TlogUploader, now_unix, sign};

use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Sign an image by digest: add a cosign signature to its sha256-<hex>.sig manifest.
///
/// The payload is cosign's simple-signing JSON (docker-reference is the repository, no
/// tag; each -a annotation goes into "optional", where it is signed too, e.g. a version
/// for rollback protection without a log). It is signed with KEY and added as a layer to
/// the signatures already there; if another signer writes at the same moment, the manifest
/// is read again and the append retried. skopeo and podman (policy.json sigstoreSigned)
/// and `cosign verify` accept the result. Attestations (.att) are not touched. Signing the
/// same payload with the same key again adds nothing.
///
/// KEY is cosign's encrypted private key (as `cosign generate-key-pair`, `skopeo
/// generate-sigstore-key` or `latch generate-key-pair` write it; the password comes from
/// LATCH_PASSWORD or COSIGN_PASSWORD, else it is asked on the terminal), or an unencrypted
/// PKCS#8 PEM key. With --tlog-upload each signature is logged on a Rekor v1-compatible
/// transparency log and the returned SET is stored with it.
///
/// Example: latch sign ghcr.io/org/app@sha256:0123… --key release.key -a version=20241219-0.8.0-77-g06a9117 --recursive
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The image: REPOSITORY@sha256:DIGEST (a tag alone is refused).
    pub image: String,
    /// Private key file.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Annotation added to the payload's "optional" map. Repeatable.
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Sign an index and every manifest it lists.
    #[arg(long)]
    pub recursive: bool,
    /// Log each signature on this Rekor v1-compatible server (e.g. https://rekor.sigstore.dev).
    #[arg(long, value_name = "URL")]
    pub tlog_upload: Option<String>,
    /// The log's public key (PEM): the SET received is verified with it before anything
    /// is stored.
    #[arg(long = "rekor-key", value_name = "PEM", requires = "tlog_upload")]
    pub rekor_key: Option<PathBuf>,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let image = super::reference(&args.image)?;
    let mut opts = SignOptions {
        recursive: args.recursive,
        now: now_unix(),
        ..SignOptions::default()
    };
    for a in &args.annotations {
        let (k, v) = parse_annotation(a)?;
        opts.annotations.insert(k, v);
    }
    if let Some(url) = &args.tlog_upload {
        let mut up = TlogUploader::new(url)?;
        if let Some(path) = &args.rekor_key {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the Rekor key {}: {e}", path.display()))?;
            let key = PublicKey::from_pem(&pem)
                .map_err(|e| format!("Rekor key {}: {e}", path.display()))?;
            up = up.with_log_key(key);
        }
        opts.tlog = Some(up);
    }
    let prompt = format!("Enter password for private key {}: ", args.key.display());
    let key = PrivateKey::load(&args.key, &mut || Password::for_existing_key(&prompt))?;
    let report = sign(&client, &key, &image, &opts).await?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    for s in &report.signed {
        let what = match &s.platform {
            Some(p) => format!("{} ({p})", s.digest),
            None => s.digest.to_string(),
        };
        if s.already_signed {
            outln!("Already signed by this key: {what}")?;
        } else {
            outln!("Signed {what}")?;
        }
        outln!(
            "  signatures: {} at {}",
            s.signatures,
            s.signature_reference
        )?;
        if let Some(i) = s.log_index {
            outln!("  transparency log index: {i}")?;
        }
    }
    outln!("Key: {}", report.signer)?;
    Ok(ExitCode::SUCCESS)
}
