//! `install`: the best verified image of what is installed, the archive bundled with the
//! application, and the registry.

use latch_registry::Progress;
use serde::Serialize;

use crate::error::Result;
use crate::flows::upgrade::{UpgradeOptions, UpgradeReport};
use crate::profile::Source;
use crate::updater::Updater;
use crate::verify::now_unix;

/// What [`Updater::install`] chose.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    /// `installed` (kept what is there), `bundled` (loaded the archive shipped with the
    /// application) or `remote` (upgraded from the registry).
    pub choice: &'static str,
    /// Log index of what is installed (before).
    pub installed: Option<u64>,
    /// Log index of the bundled archive, verified.
    pub bundled: Option<u64>,
    /// Log index of the remote image, verified (when looked at).
    pub remote: Option<u64>,
    /// Why the remote image was not considered, if it was not.
    pub remote_skipped: Option<String>,
    /// The installation, when one happened.
    pub report: Option<UpgradeReport>,
}

impl Updater {
    /// Installs the best image: what is installed, the archive bundled with the
    /// application (the profile's `[source] archive`, "full" packages), or the newest
    /// image of the registry (only when `online`; a layout mirror is always looked at);
    /// whichever has the highest verified log index, as Dangerzone's installer chooses.
    /// Ties keep what is installed, then prefer the bundled archive (no network needed).
    /// Each candidate goes through the one decision; the chosen one through the ratchets.
    pub async fn install(&self, online: bool, progress: &dyn Progress) -> Result<InstallReport> {
        let now = now_unix();
        let state = self.store.state()?;
        {
            // Finish what an interrupted run left before judging what is installed.
            let _lock = self.lock(false).await?;
            self.finish_interrupted(&state).await?;
        }
        let installed = match self.recorded(&state) {
            Some(_) => match self.verify_local(false).await {
                Ok(local) => Some(local.log_index.unwrap_or(0)),
                Err(_) => None,
            },
            None => None,
        };
        let bundled = match &self.profile.bundled_archive {
            Some(path) => Some(self.archive_log_index(path).await?.unwrap_or(0)),
            None => None,
        };
        // A layout mirror is local: it is looked at even offline.
        let local_source = matches!(self.profile.source, Source::Layout(_));
        // The roots are refreshed once: the upgrade chosen below uses them as they are,
        // and its report carries this refresh's warnings.
        let mut refreshed = None;
        let (remote, remote_skipped) = if !online && !local_source {
            (None, Some("offline".to_owned()))
        } else {
            refreshed = Some(self.refresh_sigstore_roots(now).await?);
            match self.fetch_remote(now).await {
                Ok(r) => (Some(r.decided.verdict.max_log_index.unwrap_or(0)), None),
                Err(e) => (None, Some(e.to_string())),
            }
        };
        let mut report = InstallReport {
            choice: "installed",
            installed,
            bundled,
            remote,
            remote_skipped,
            report: None,
        };
        let floor = installed.map_or(-1i128, i128::from);
        let b = bundled.map_or(-1i128, i128::from);
        let r = remote.map_or(-1i128, i128::from);
        if b > floor && b >= r {
            if let Some(path) = &self.profile.bundled_archive {
                report.choice = "bundled";
                report.report = Some(self.load_archive(path, &UpgradeOptions::default()).await?);
            }
        } else if r > floor {
            report.choice = "remote";
            report.report = Some(
                self.upgrade_refreshed(&UpgradeOptions::default(), progress, refreshed)
                    .await?,
            );
        }
        Ok(report)
    }
}
