//! `latch sign`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use latch_sign::pkcs11::is_pkcs11_uri;
use latch_sign::sign::parse_annotation;
use latch_sign::{
    BundleOptions, Password, Pin, Pkcs11Signer, PrivateKey, SignOptions, Signer, now_unix, sign,
    sign_bundle,
};

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
/// PKCS#8 PEM key, or a key on a PKCS#11 token (YubiKey, smart card, HSM, SoftHSM) named
/// by an RFC 7512 URI as cosign takes it:
/// 'pkcs11:token=LABEL;object=KEY-LABEL?module-path=/path/to/module.so' (also slot-id=,
/// serial=, id= with percent-encoded bytes). The token's PIN comes from LATCH_PIN or
/// COSIGN_PIN, else it is asked on the terminal; it is tried once (a wrong PIN is not
/// retried, so the token is not locked). The key must be ECDSA P-256 (or P-384); it
/// signs on the token and never leaves it. With --tlog-upload each signature is logged on
/// a Rekor v1-compatible transparency log and the returned SET is stored with it.
///
/// With --bundle the signature is written as cosign v3 writes it instead: an in-toto
/// statement (predicate type https://sigstore.dev/cosign/sign/v1, subject the digest) in
/// a DSSE envelope, in a Sigstore bundle v0.3 attached as the image's own OCI referrer,
/// listed in the sha256-<hex> tag index for registries without the referrers API (ghcr.io
/// has none). Each bundle is its own artifact, so concurrent signers never overwrite one
/// another's; the shared index is read back after each write and written again when
/// another signer's write lost the entry. With --tlog-upload the envelope is logged as a
/// dsse entry and the bundle carries it (SET, inclusion proof, checkpoint), verified with
/// --rekor-key (or the key the log publishes) before anything is attached; `cosign verify
/// --key PUB` and Latch accept it. Without a log, verifiers must accept unlogged
/// signatures (`cosign verify --insecure-ignore-tlog`; Latch with no Rekor key pinned).
///
/// Example: latch sign ghcr.io/org/app@sha256:0123… --key release.key -a version=20241219-0.8.0-77-g06a9117 --recursive
///
/// Without --key the signature is keyless, as CI signs: an OIDC identity token
/// (--identity-token or SIGSTORE_ID_TOKEN; in GitHub Actions with `permissions: id-token:
/// write`, the workflow's own), an ephemeral P-256 key that never touches the disk, a
/// certificate signing request proving possession of it, and the short-lived certificate a
/// Fulcio-compatible CA (--fulcio-url, the public-good one by default) issues for the
/// token's identity. The bundle carries the certificate and is logged (--tlog-upload, the
/// public-good Rekor by default). Verify it by identity: latch verify IMAGE
/// --certificate-identity https://github.com/ORG/REPO/.github/workflows/release.yml@refs/heads/main
/// --certificate-oidc-issuer https://token.actions.githubusercontent.com
///
/// Example: latch sign ghcr.io/org/app@sha256:0123… --bundle    # in GitHub Actions, keyless
///
/// Example: LATCH_PIN=… latch sign ghcr.io/org/app@sha256:0123… --key 'pkcs11:token=YubiKey%20PIV%20%2312345678;id=%01?module-path=/usr/lib/x86_64-linux-gnu/libykcs11.so'
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The image: REPOSITORY@sha256:DIGEST (a tag alone is refused).
    pub image: String,
    /// Private key file, or a pkcs11: URI of a key on a token. Without it, the signature
    /// is keyless (a cosign v3 bundle; see --identity-token).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub keyless: super::signing_args::KeylessArgs,
    /// Annotation added to the payload's "optional" map. Repeatable.
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// A staged rollout schedule signed into the payload (optional
    /// "dev.latch.rollout"): the share of installations that may take the image, from a
    /// time after the signature's log time, e.g. 10%@0h,50%@24h,100%@72h. 0% pauses;
    /// signing the digest again with a new schedule changes it. Without one, every
    /// installation takes the image at once.
    #[arg(long, value_name = "SCHEDULE")]
    pub rollout: Option<String>,
    /// Sign an index and every manifest it lists.
    #[arg(long)]
    pub recursive: bool,
    #[command(flatten)]
    pub tlog: super::signing_args::TlogArgs,
    /// Write a cosign v3 signature (a Sigstore bundle attached as an OCI referrer)
    /// instead of a layer of the .sig manifest.
    #[arg(long, conflicts_with_all = ["annotations", "rollout"])]
    pub bundle: bool,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let image = super::reference(&args.image)?;
    if args.bundle || args.key.is_none() {
        let signing =
            super::signing_args::Signing::resolve(args.key.as_deref(), &args.keyless).await?;
        let mut opts = BundleOptions::signature(now_unix());
        opts.recursive = args.recursive;
        signing.configure(&mut opts, &args.tlog)?;
        let mut report = sign_bundle(&client, signing.signer(), &image, &opts).await?;
        signing.describe(&mut report);
        return super::attest::print_bundle_report(&report, args.json, "Signed");
    }
    let mut opts = SignOptions {
        recursive: args.recursive,
        now: now_unix(),
        ..SignOptions::default()
    };
    for a in &args.annotations {
        let (k, v) = parse_annotation(a)?;
        opts.annotations.insert(k, v);
    }
    if let Some(r) = &args.rollout {
        // Checked here, so that no installation ever meets a schedule it cannot read.
        let schedule = latch::trust::rollout::Schedule::parse(r)?;
        opts.annotations.insert(
            latch::trust::rollout::ROLLOUT_ANNOTATION.to_owned(),
            schedule.to_string(),
        );
    }
    opts.tlog = args.tlog.uploader(None)?;
    let key = match &args.key {
        Some(k) => signer(k)?,
        None => return Err("internal: a keyless signature is a bundle".into()),
    };
    let report = sign(&client, key.as_ref(), &image, &opts).await?;
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

/// The key `--key` names: a `pkcs11:` URI (the PIN from LATCH_PIN, COSIGN_PIN or the
/// terminal), else a key file (its password from LATCH_PASSWORD, COSIGN_PASSWORD or the
/// terminal).
pub fn signer(key: &Path) -> Result<Box<dyn Signer>, AnyError> {
    if let Some(uri) = key.to_str().filter(|k| is_pkcs11_uri(k)) {
        let signer = Pkcs11Signer::open_uri(uri, &mut |token| {
            Pin::from_env_or_prompt(&format!("Enter PIN for PKCS#11 token {token}: "))
        })?;
        return Ok(Box::new(signer));
    }
    let prompt = format!("Enter password for private key {}: ", key.display());
    Ok(Box::new(PrivateKey::load(key, &mut || {
        Password::for_existing_key(&prompt)
    })?))
}
