//! `latch demo`.

use std::path::PathBuf;
use std::process::ExitCode;

use latch::registry::NoProgress;
use latch::{Overrides, Updater, UpgradeOptions};

use super::profile_args::path_arg;
use crate::GlobalArgs;
use crate::output::{AnyError, outln, print_json};

/// Run the main job end to end on the embedded demo, offline: upgrade, then verify-local.
///
/// The demo is a small multi-platform image in an OCI layout inside this binary (a
/// mirror, as on a USB stick), signed with a DEMO-ONLY key and logged in a DEMO-ONLY
/// transparency log (their private halves are public: they prove nothing about any real
/// image). Latch verifies the signature and the log entry offline, installs the image into
/// its built-in store, then verifies it again as an application would before each use.
/// Without --data-dir it works in a fresh temporary directory and leaves nothing behind.
///
/// Example: latch demo
#[derive(clap::Args)]
#[command(long_about)]
pub struct Args {
    /// Keep the demo's state (signatures, store, the mirror) in this directory.
    #[arg(long, value_name = "DIR", value_parser = path_arg())]
    pub data_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(_global: &GlobalArgs, args: Args) -> Result<ExitCode, AnyError> {
    let tmp;
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => {
            tmp = TempDir::new()?;
            tmp.0.clone()
        }
    };
    let profile = latch::demo::profile(Overrides {
        data_dir: Some(data_dir.clone()),
        ..Overrides::default()
    })?;
    let updater = Updater::new(profile)?.on_warning(crate::output::warn);
    if !args.json {
        outln!("Latch demo (offline; data in {})", data_dir.display())?;
        outln!("  image:   {}", updater.profile().image)?;
        outln!("  source:  the embedded mirror (an OCI layout)")?;
        outln!("  trust:   1 DEMO-ONLY key, transparency log required (DEMO-ONLY log key)")?;
        outln!("  runtime: {}", updater.profile().runtime)?;
        outln!()?;
        outln!("1. latch upgrade")?;
    }
    let up = updater
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await?;
    if !args.json {
        outln!("   verified and installed {}", up.digest)?;
        if let Some(p) = &up.platform_digest {
            outln!("   platform image {p}")?;
        }
        outln!(
            "   signed by {} of {} required trusted signer(s), log index {}",
            up.verdict.count(),
            up.verdict.threshold,
            up.log_index
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into())
        )?;
        outln!("2. latch verify-local --deep")?;
    }
    let local = updater.verify_local(true).await?;
    if !args.json {
        outln!(
            "   every blob re-hashed; stored signatures verified for {}",
            local.digest
        )?;
        outln!("3. latch upgrade (again)")?;
    }
    let again = updater
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await?;
    if args.json {
        print_json(&serde_json::json!({
            "upgrade": up, "verify_local": local, "upgrade_again": again,
        }))?;
    } else {
        outln!("   {}", again.status)?;
        outln!()?;
        outln!("Demo complete: the image is installed and verified.")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A temporary directory removed on drop (no tempfile dependency in the binary).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let base = std::env::temp_dir();
        for n in 0..1000u32 {
            let p = base.join(format!("latch-demo-{}-{n}", std::process::id()));
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("cannot create a temporary directory"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
