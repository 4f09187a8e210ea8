//! What an application embeds: check for updates when the user allows it, upgrade, and
//! verify the sandbox image before every use. Copy it and replace the profile.
//!
//! cargo run -p latch --example embed -- [PROFILE.toml | demo]

use std::process::ExitCode;

use latch::registry::Totals;
use latch::{Error, Overrides, Profile, Updater, UpgradeOptions};

#[tokio::main]
async fn main() -> ExitCode {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "demo".into());
    match run(&arg).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error ({}): {e}", e.kind());
            ExitCode::FAILURE
        }
    }
}

async fn run(profile_arg: &str) -> Result<(), Error> {
    let profile = if profile_arg == "demo" {
        let data = std::env::temp_dir().join(format!("latch-embed-{}", std::process::id()));
        latch::demo::profile(Overrides {
            data_dir: Some(data),
            ..Overrides::default()
        })?
    } else {
        Profile::from_file(std::path::Path::new(profile_arg), Overrides::default())?
    };
    let updater = Updater::new(profile)?;

    // 1. At start-up: make sure a verified image is installed (the bundled one, or the
    //    newest remote one when checks are allowed).
    let online = updater.updates_enabled()?;
    let installed = updater.install(online, &Totals::default()).await?;
    println!(
        "installed: {} (log indexes: installed {:?}, bundled {:?}, remote {:?})",
        installed.choice, installed.installed, installed.bundled, installed.remote
    );

    // 2. Periodically, if the user opted in: a check costs the registry one request when
    //    nothing changed; upgrade when something did.
    if online {
        let check = updater.check(false).await?;
        if check.status == "update-available" {
            let progress = Totals::default();
            match updater.upgrade(&UpgradeOptions::default(), &progress).await {
                Ok(r) => println!("upgraded to {}", r.digest),
                // What to tell the user differs by error: match on the variant.
                Err(e @ Error::Rollback { .. }) => {
                    eprintln!("the registry offered an image that may be older: {e}")
                }
                Err(Error::FreezeSuspected(freeze)) => {
                    eprintln!("updates may be withheld: {freeze}")
                }
                Err(Error::Registry(e)) => eprintln!("registry unreachable, trying later: {e}"),
                Err(e) => return Err(e),
            }
        }
    }

    // 3. Before every use of the sandbox: the installed image, proven again.
    let local = updater.verify_local(false).await?;
    println!("ready: {} verified in {}", local.digest, local.runtime);
    if profile_arg == "demo" {
        let _ = std::fs::remove_dir_all(updater.profile().data_dir.clone());
    }
    Ok(())
}
