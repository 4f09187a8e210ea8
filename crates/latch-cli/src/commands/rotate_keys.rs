//! `latch rotate-keys`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use latch::trust::PublicKey;
use latch_rotation::Succession;
use latch_sign::{RotateOptions, Signer, now_unix, rotate_keys};

use super::profile_args::path_arg;
use super::sign::signer;
use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Rotate the release keys: publish the next version of the repository's trust document.
///
/// Installations that follow rotations (the default of a profile) trust, from their next
/// check, the keys of the newest version they can follow link by link from the keys the
/// application ships (version 1): version N+1 counts only when a threshold of version N's
/// keys signed it. Revoked keys stop counting for what is logged after their distrust
/// time; images they signed and had logged before it stay valid. The chain already
/// published is read and followed first, and the new version is followed locally, as an
/// installation will, before it is written under the tag latch-trust-vN beside the image
/// (docs/trust-rotation.md); a second rotation to the same version is refused.
///
/// Each --key signs with a key in force (a key file or a pkcs11: URI, as for `latch
/// sign`). Each --new-key is a public key (PEM) the new version trusts, or a private key
/// (file or pkcs11: URI), which then also cosigns the new version, proving it is held
/// (recommended). --app-key names the keys the application ships (version 1), with
/// --app-threshold.
///
/// Example: latch rotate-keys ghcr.io/org/app --app-key v1.pub --key v1.key --new-key v2.key --revoke v1.pub --expires 365d
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// The repository the image is published in (no tag or digest).
    pub repository: String,
    /// A key in force that signs the new version (key file or pkcs11: URI). Repeatable.
    #[arg(long = "key", value_name = "KEY", required = true)]
    pub keys: Vec<PathBuf>,
    /// A key the new version trusts: public PEM, or a private key (file or pkcs11: URI)
    /// that also cosigns it. Repeatable.
    #[arg(long = "new-key", value_name = "KEY", required = true)]
    pub new_keys: Vec<PathBuf>,
    /// How many of the new keys must sign an image and the next version (default 1).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub threshold: usize,
    /// A key revoked (public PEM), optionally with its distrust time in Unix seconds
    /// (default: now): KEY.pub or KEY.pub@1764547200. Repeatable.
    #[arg(long = "revoke", value_name = "PEM[@TIME]")]
    pub revoke: Vec<String>,
    /// How long the new version is valid (e.g. 365d, 26w); installations refuse to adopt
    /// an expired newest version.
    #[arg(long, value_name = "DURATION", default_value = "365d")]
    pub expires: String,
    /// A key the application ships (version 1 of its trust), public PEM. Repeatable.
    #[arg(long = "app-key", value_name = "PEM", required = true, value_parser = path_arg())]
    pub app_keys: Vec<PathBuf>,
    /// The application's threshold over its keys (default 1).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub app_threshold: usize,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

fn read_public(path: &Path) -> Result<PublicKey, AnyError> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(PublicKey::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?)
}

/// A --new-key: a public key file, or a private key that also cosigns.
fn new_key(path: &Path) -> Result<(PublicKey, Option<Box<dyn Signer>>), AnyError> {
    let public = std::fs::read(path)
        .ok()
        .filter(|b| b.windows(17).any(|w| w == b"BEGIN PUBLIC KEY-"));
    if let Some(pem) = public {
        let key = PublicKey::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok((key, None));
    }
    let s = signer(path)?;
    Ok((s.public_key().clone(), Some(s)))
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let client = super::client(global)?;
    let repository = super::reference(&args.repository)?;
    if repository.tag().is_some() || repository.digest().is_some() {
        return Err(format!(
            "{}: give the repository alone (no tag or digest)",
            args.repository
        )
        .into());
    }
    let now = now_unix();
    let app_keys = args
        .app_keys
        .iter()
        .map(|p| read_public(p))
        .collect::<Result<Vec<_>, _>>()?;
    let anchor = Succession::anchor(&repository.name(), app_keys, args.app_threshold);
    let mut new_keys = Vec::new();
    let mut cosigners = Vec::new();
    for p in &args.new_keys {
        let (key, cosigner) = new_key(p)?;
        new_keys.push(key);
        cosigners.extend(cosigner);
    }
    let mut revoke = Vec::new();
    for r in &args.revoke {
        let (path, time) = match r.rsplit_once('@') {
            Some((p, t)) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                let t: i64 = t
                    .parse()
                    .map_err(|_| format!("--revoke {r}: the time is out of range"))?;
                (p, Some(t))
            }
            _ => (r.as_str(), None),
        };
        revoke.push((read_public(Path::new(path))?, time));
    }
    let signers = args
        .keys
        .iter()
        .map(|p| signer(p))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = RotateOptions {
        anchor,
        new_keys,
        threshold: args.threshold,
        revoke,
        valid_for: latch_sign::nightly::parse_duration(&args.expires)?,
        now,
    };
    let signer_refs: Vec<&dyn Signer> = signers.iter().map(|s| s.as_ref()).collect();
    let cosigner_refs: Vec<&dyn Signer> = cosigners.iter().map(|s| s.as_ref()).collect();
    let report = rotate_keys(&client, &repository, &opts, &signer_refs, &cosigner_refs).await?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "Published trust version {} (was {}) at {}",
        report.version,
        report.previous_version,
        report.reference
    )?;
    outln!(
        "  keys: {} (threshold {})",
        report.keys.join(", "),
        report.threshold
    )?;
    for r in &report.revoked {
        outln!(
            "  revoked: {} (distrusted from {})",
            r.key,
            r.distrust_after
        )?;
    }
    outln!("  signed by: {}", report.signed_by.join(", "))?;
    if !report.cosigned_by.is_empty() {
        outln!("  cosigned by: {}", report.cosigned_by.join(", "))?;
    }
    outln!("  expires: {}", report.expires)?;
    Ok(ExitCode::SUCCESS)
}
