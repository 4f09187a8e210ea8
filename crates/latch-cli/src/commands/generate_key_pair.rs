//! `latch generate-key-pair`.

use std::path::PathBuf;
use std::process::ExitCode;

use latch_sign::pkcs11::{self, Pin, Pkcs11Uri};
use latch_sign::{Password, PrivateKey, write_key_pair, write_public_key};

use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Create a signing key pair: a private key encrypted in cosign's format, and its public
/// key in PEM.
///
/// The private key (PREFIX.key, readable by its owner only) is ECDSA P-256, encrypted with
/// scrypt and NaCl secretbox exactly as `cosign generate-key-pair` writes it, so cosign
/// (`sign --key`) and skopeo (`--sign-by-sigstore-private-key`) can use it too. The
/// password comes from LATCH_PASSWORD or COSIGN_PASSWORD; otherwise it is asked twice on
/// the terminal, without echo. Existing files are never overwritten.
///
/// With --export-public-key, nothing is generated: the public key of a key already on a
/// PKCS#11 token (YubiKey, smart card, HSM, SoftHSM; generated there with `ykman piv keys
/// generate` or `pkcs11-tool --keypairgen`) is read from the token and written to
/// PREFIX.pub, for `latch verify --key`, `cosign verify --key` or a policy.json. The
/// token's PIN (LATCH_PIN, COSIGN_PIN, else the terminal) is needed only if the token
/// shows no public key or certificate before a login.
///
/// Example: latch generate-key-pair --output-key-prefix release
///
/// Example: latch generate-key-pair --export-public-key 'pkcs11:token=latch;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so' --output-key-prefix release
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Write PREFIX.key (encrypted private key) and PREFIX.pub (public key); with
    /// --export-public-key, PREFIX.pub only.
    #[arg(long, value_name = "PREFIX", default_value = "latch")]
    pub output_key_prefix: PathBuf,
    /// Generate nothing: write the public key of this key on a PKCS#11 token (a pkcs11:
    /// URI, as `latch sign --key` takes it) to PREFIX.pub.
    #[arg(long, value_name = "PKCS11_URI")]
    pub export_public_key: Option<String>,
    /// Print JSON: {"private_key", "public_key", "key_id"} ("private_key" is null with
    /// --export-public-key).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(_global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    if let Some(uri) = &args.export_public_key {
        return export(uri, &args);
    }
    let password = Password::for_new_key()?;
    let key = PrivateKey::generate()?;
    let (private, public) = write_key_pair(&key, &password, &args.output_key_prefix)?;
    let key_id = key.public_key().log_id().to_owned();
    if args.json {
        print_json(&serde_json::json!({
            "private_key": private,
            "public_key": public,
            "key_id": key_id,
        }))?;
    } else {
        outln!("Private key written to {}", private.display())?;
        outln!("Public key written to {}", public.display())?;
        outln!("Key id (sha256 of the public key): {key_id}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--export-public-key`: the token's public key to PREFIX.pub.
fn export(uri: &str, args: &Args) -> Result<ExitCode, AnyError> {
    let public = pkcs11::public_key(&Pkcs11Uri::parse(uri)?, &mut |token| {
        Pin::from_env_or_prompt(&format!("Enter PIN for PKCS#11 token {token}: "))
    })?;
    let path = write_public_key(&public, &args.output_key_prefix)?;
    let key_id = public.log_id().to_owned();
    if args.json {
        print_json(&serde_json::json!({
            "private_key": null,
            "public_key": path,
            "key_id": key_id,
        }))?;
    } else {
        outln!("Public key written to {}", path.display())?;
        outln!("Key id (sha256 of the public key): {key_id}")?;
    }
    Ok(ExitCode::SUCCESS)
}
