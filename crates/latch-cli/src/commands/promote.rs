//! `latch promote`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PathBufValueParser, TypedValueParser};
use latch::trust::KeySource;
use latch_sign::pkcs11::{self, Pin, Pkcs11Uri, is_pkcs11_uri};
use latch_sign::{now_unix, promote};

use super::trust_args::TrustArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Point a tag (latest) at a digest, after verifying that the trusted signers signed it.
///
/// The manifest is fetched by digest (its bytes must hash to it), and the one trust
/// decision every Latch command makes is taken over its signatures (`.sig` signatures,
/// keyed or keyless, and cosign v3 bundles; k of n distinct trusted signers with
/// --threshold; with --rekor-key the Rekor SET too; the signed docker-reference must name
/// this repository). Only then are the exact manifest bytes put under the tag, so the tag
/// resolves to the verified digest. Nothing is written when verification fails.
///
/// A --key may also be a pkcs11: URI (as `latch sign --key` takes it): the public key is
/// then read from the token (a public key object or certificate; the PIN, from LATCH_PIN,
/// COSIGN_PIN or the terminal, only if the token shows nothing before a login).
///
/// Example: latch promote ghcr.io/org/app@sha256:0123… --tag latest --key release.pub --key second.pub --threshold 2
#[derive(clap::Args)]
#[command(long_about)]
#[command(mut_arg("keys", |a| a
    .value_parser(key_arg())
    .value_name("PEM|URI")
    .help("A trusted public key: PEM SubjectPublicKeyInfo (ECDSA P-256/P-384, Ed25519, RSA ≥ 2048), or a pkcs11: URI whose public key is read from the token. Repeatable. Its legacy `.sig` signatures and its cosign v3 signatures count as one signer.")))]
pub struct Args {
    /// The image: REPOSITORY@sha256:DIGEST.
    pub image: String,
    /// The tag to point at it.
    #[arg(long, default_value = "latest")]
    pub tag: String,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let image = super::reference(&args.image)?;
    let mut spec = args.trust.spec(Some(&image.name()))?;
    for key in &mut spec.keys {
        if let KeySource::File(p) = key
            && let Some(uri) = p.to_str().filter(|u| is_pkcs11_uri(u))
        {
            let public = pkcs11::public_key(&Pkcs11Uri::parse(uri)?, &mut |token| {
                Pin::from_env_or_prompt(&format!("Enter PIN for PKCS#11 token {token}: "))
            })?;
            // `from_der` keys carry the PEM `spki_to_pem` writes: ASCII.
            *key = KeySource::Inline(String::from_utf8_lossy(public.pem()).into_owned());
        }
    }
    let trust = args.trust.load(&spec).await?;
    let report = promote(&client, &image, &args.tag, &trust, now_unix()).await?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    if report.unchanged {
        outln!("{} already points at {}", report.tagged, report.digest)?;
    } else {
        outln!("Tagged {} -> {}", report.tagged, report.digest)?;
        if let Some(p) = &report.previous {
            outln!("  was {p}")?;
        }
    }
    outln!("  verified: {}", super::signed_by(&report.verdict))?;
    Ok(ExitCode::SUCCESS)
}

/// `--key`: a `pkcs11:` URI as it is; a file made absolute, as every other path argument.
fn key_arg() -> impl TypedValueParser<Value = PathBuf> {
    PathBufValueParser::new().try_map(|p| match p.to_str() {
        Some(s) if is_pkcs11_uri(s) => Ok(p),
        _ => latch::profile::absolute(&p),
    })
}
