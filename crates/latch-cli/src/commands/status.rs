//! `latch status`.

use std::process::ExitCode;

use super::profile_args::ProfileArgs;
use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Show what is installed, the rollback floor, the last check and the profile in force.
///
/// The trust in force too: the keys and where they come from (the profile, or the key
/// rotation version followed), revoked keys, and each Sigstore trusted root kept current
/// over TUF (its TUF root version, when its metadata expires, and a warning when it is
/// stale or was never read).
///
/// Example: latch status --profile dangerzone.toml
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let updater = args.profile.updater(global)?;
    let s = updater.status().await?;
    if args.json {
        print_json(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("Profile:        {}", s.profile)?;
    outln!("Image:          {}", s.image)?;
    outln!("Source:         {}", s.source)?;
    outln!("Runtime:        {}", s.runtime)?;
    outln!("Data directory: {}", s.data_dir.display())?;
    outln!(
        "Trusted keys:   {} from the {} (threshold {}), transparency log {}",
        s.keys.len(),
        s.keys_from,
        s.threshold,
        s.tlog
    )?;
    if let Some(t) = &s.trust {
        let expires = t
            .expires
            .map(|e| format!(", expires {e}"))
            .unwrap_or_default();
        let source = if t.version == 1 {
            "the profile's keys".to_owned()
        } else {
            format!("trust document version {}", t.version)
        };
        outln!("Keys in force:  {source}{expires}")?;
        for k in &t.keys {
            outln!("  key:          {k}")?;
        }
        for r in &t.revoked {
            outln!(
                "  revoked:      {} (distrusted from {})",
                r.key,
                r.distrust_after
            )?;
        }
    }
    for i in &s.identities {
        outln!("Trusted identity: {i}")?;
    }
    for p in &s.provenance {
        outln!("Provenance required: SLSA from {p}")?;
    }
    for r in &s.sigstore_roots {
        match &r.held {
            Some(i) => outln!(
                "Sigstore root:  {} (TUF root version {}, metadata valid until {}, verified {})",
                r.tuf_url,
                i.root_version,
                latch::oci::time::rfc3339(i.expires()),
                latch::oci::time::rfc3339(i.verified_at)
            )?,
            None => outln!("Sigstore root:  {} (not read yet)", r.tuf_url)?,
        }
        if let Some(w) = &r.warning {
            outln!("  warning:      {w}")?;
        }
    }
    if let Some(h) = &s.health_check {
        outln!("Health check:   {}", h.join(" "))?;
    }
    if let Some(f) = &s.failed {
        outln!(
            "Failed health check: {} (not tried again until a newer image is signed): {}",
            f.digest,
            f.reason
        )?;
    }
    match &s.installed {
        Some(i) => {
            outln!("Installed:      {}", i.signed_digest)?;
            if let Some(p) = &i.platform_digest {
                outln!("  platform:     {p}")?;
            }
            if let Some(l) = i.log_index {
                outln!("  log index:    {l}")?;
            }
        }
        None => outln!("Installed:      nothing recorded")?,
    }
    if !s.runtime_digests.is_empty() {
        let d: Vec<String> = s.runtime_digests.iter().map(|d| d.to_string()).collect();
        outln!("Runtime holds:  {}", d.join(", "))?;
    }
    outln!(
        "Rollback floor: {}",
        s.rollback_floor
            .map(|f| f.to_string())
            .unwrap_or_else(|| "none".into())
    )?;
    outln!(
        "Update checks:  {}{}",
        if s.updates_enabled { "on" } else { "off" },
        s.last_check
            .map(|t| format!(", last at {t}"))
            .unwrap_or_default()
    )?;
    Ok(ExitCode::SUCCESS)
}
