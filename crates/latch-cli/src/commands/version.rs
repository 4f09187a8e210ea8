//! `latch version`: what this binary is, what it can do, and the trust built into it.

use std::process::ExitCode;

use serde::Serialize;

use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// The version and the commit, as `latch --version` prints them.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LATCH_BUILD_COMMIT"),
    ")"
);

/// Show the version, the commit it was built from, what it can do, and the trust
/// built into it (the demo's keys, the Sigstore public-good root).
///
/// Example: latch version --json
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Version {
    version: &'static str,
    commit: &'static str,
    target: &'static str,
    profile: &'static str,
    features: Vec<&'static str>,
    embedded_trust: EmbeddedTrust,
}

#[derive(Serialize)]
struct EmbeddedTrust {
    /// The log id (sha256 of the DER) of the demo's signing key.
    demo_signing_key: String,
    /// The log id of the demo's Rekor key.
    demo_rekor_key: String,
    /// The Sigstore public-good production root built in.
    sigstore_root: SigstoreRoot,
}

#[derive(Serialize)]
struct SigstoreRoot {
    /// sha256 of the embedded `trusted_root.json`.
    sha256: String,
    tlogs: usize,
    certificate_authorities: usize,
    ctlogs: usize,
    timestamp_authorities: usize,
}

/// What this build does.
const FEATURES: &[&str] = &[
    "keys: cosign .sig (ECDSA P-256/P-384, Ed25519, RSA)",
    "keyless: Fulcio certificates (cosign 2.x .sig, cosign v3 bundles)",
    "sigstore bundles v0.1-v0.3",
    "provenance: SLSA v0.2 (.att) and v1 (referrers)",
    "rekor: SETs and inclusion proofs, pinned keys",
    "runtimes: podman, docker, built-in store",
    "air-gap archives (cosign save layout)",
    "signing: key files, PKCS#11 tokens",
    "fleet: health checks, minimum age, staged rollouts, mirrors",
];

/// Runs the command.
pub async fn run(_global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let key_id = |pem: &str| {
        latch::trust::PublicKey::from_pem(pem.as_bytes())
            .map(|k| k.log_id().to_owned())
            .unwrap_or_else(|e| format!("unreadable: {e}"))
    };
    let root = latch::sigstore::TrustRoot::production()?;
    let [tlogs, cas, ctlogs, tsas] = root.counts();
    let v = Version {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("LATCH_BUILD_COMMIT"),
        target: env!("LATCH_BUILD_TARGET"),
        profile: env!("LATCH_BUILD_PROFILE"),
        features: FEATURES.to_vec(),
        embedded_trust: EmbeddedTrust {
            demo_signing_key: key_id(latch::demo::DEMO_SIGNING_KEY),
            demo_rekor_key: key_id(latch::demo::DEMO_REKOR_KEY),
            sigstore_root: SigstoreRoot {
                sha256: latch::oci::Digest::sha256_of(
                    latch::sigstore::TrustRoot::production_json().as_bytes(),
                )
                .hex()
                .to_owned(),
                tlogs,
                certificate_authorities: cas,
                ctlogs,
                timestamp_authorities: tsas,
            },
        },
    };
    if args.json {
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("latch {LONG_VERSION}")?;
    outln!("target:  {} ({} build)", v.target, v.profile)?;
    for f in &v.features {
        outln!("  {f}")?;
    }
    outln!("embedded trust:")?;
    outln!("  demo signing key:  {}", v.embedded_trust.demo_signing_key)?;
    outln!("  demo Rekor key:    {}", v.embedded_trust.demo_rekor_key)?;
    let r = &v.embedded_trust.sigstore_root;
    outln!(
        "  Sigstore root:     sha256:{} ({} tlogs, {} CAs, {} CT logs, {} TSAs)",
        r.sha256,
        r.tlogs,
        r.certificate_authorities,
        r.ctlogs,
        r.timestamp_authorities
    )?;
    Ok(ExitCode::SUCCESS)
}
