//! `latch generate-key-pair`.

use std::path::PathBuf;
use std::process::ExitCode;

use latch_sign::{Password, PrivateKey, write_key_pair};

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
/// Example: latch generate-key-pair --output-key-prefix release
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Write PREFIX.key (encrypted private key) and PREFIX.pub (public key).
    #[arg(long, value_name = "PREFIX", default_value = "latch")]
    pub output_key_prefix: PathBuf,
    /// Print JSON: {"private_key", "public_key", "key_id"}.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(_global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
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
