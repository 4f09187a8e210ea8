//! `check`: is a newer verified image available? Opt-in, with a cooldown and jitter; one
//! `HEAD` when nothing changed.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use latch_oci::Digest;
use latch_registry::{ManifestHead, RegistryError};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::profile::Source;
use crate::updater::Updater;
use crate::verify::now_unix;

/// What `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// `disabled` (checks are opt-in and off), `cooldown` (checked recently),
    /// `up-to-date`, `update-available`, `not-installed` (an image is available), or
    /// `held` (a newer image is younger than the profile's minimum age).
    pub status: &'static str,
    /// With `held`: the Unix time from which `upgrade` will take it (`None` when no log
    /// time measures its age).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_until: Option<i64>,
    /// With `held`: why (the minimum age, a staged rollout), one sentence each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
    /// The image.
    pub image: String,
    /// The installed digest.
    pub installed: Option<Digest>,
    /// The remote digest, when looked at.
    pub remote: Option<Digest>,
    /// Which source answered (the profile's image, a mirror, `oci:DIR`), when one was
    /// asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Log index of the remote image's signatures, when verified.
    pub log_index: Option<u64>,
    /// Unix time before which an automatic check will not run again.
    pub next_check: Option<u64>,
    /// Whether the registry was asked (false for disabled and cooldown).
    pub contacted_registry: bool,
    /// What deserves attention: a Sigstore trusted root that could not be refreshed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Updater {
    /// Whether update checks are on (the user's choice, else the profile's default).
    pub fn updates_enabled(&self) -> Result<bool> {
        let state = self.store.state()?;
        Ok(state
            .updates_enabled
            .unwrap_or(self.profile.updates_default))
    }

    /// Records the user's choice about update checks.
    pub fn set_updates_enabled(&self, enabled: bool) -> Result<()> {
        let _lock = self.store.lock(true)?;
        let mut state = self.store.state()?;
        state.updates_enabled = Some(enabled);
        Ok(self.store.save_state(&state)?)
    }

    /// Is a newer verified image available? An automatic check (`explicit` false) honours
    /// the opt-in and the cooldown. When nothing changed it costs the registry one `HEAD`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let data = tempfile::tempdir()?;
    /// # let profile = latch::demo::profile(latch::Overrides {
    /// #     data_dir: Some(data.path().to_path_buf()),
    /// #     ..Default::default()
    /// # })?;
    /// let updater = latch::Updater::new(profile)?;
    /// let rt = tokio::runtime::Runtime::new()?;
    /// // Automatic checks are opt-in: off until the user turns them on.
    /// let auto = rt.block_on(updater.check(false))?;
    /// assert_eq!(auto.status, "disabled");
    /// // An explicit check always runs.
    /// let now = rt.block_on(updater.check(true))?;
    /// assert_eq!(now.status, "not-installed");
    /// # Ok(()) }
    /// ```
    pub async fn check(&self, explicit: bool) -> Result<CheckReport> {
        let now = now_unix();
        let now_u = u64::try_from(now).unwrap_or(0);
        let state = self.store.state()?;
        let installed = self.recorded(&state);
        let mut report = CheckReport {
            status: "up-to-date",
            image: self.profile.image.to_string(),
            installed: installed.clone(),
            remote: None,
            source: None,
            log_index: None,
            next_check: state.next_check,
            contacted_registry: false,
            held_until: None,
            held: Vec::new(),
            warnings: Vec::new(),
        };
        if !explicit {
            if !state
                .updates_enabled
                .unwrap_or(self.profile.updates_default)
            {
                report.status = "disabled";
                return Ok(report);
            }
            if state.next_check.is_some_and(|n| now_u < n) {
                report.status = "cooldown";
                return Ok(report);
            }
        }
        report.contacted_registry = matches!(self.profile.source, Source::Registry);
        report.warnings = self.refresh_sigstore_roots(now).await?;
        let mut hold = None;
        // One HEAD at the primary; when it fails and mirrors exist, the full fetch below
        // tries them.
        let remote_digest = match &self.profile.source {
            Source::Registry => match self.remote_digest().await {
                Ok(d) => Some(d),
                Err(e)
                    if !self.profile.mirrors.is_empty() && crate::flows::remote::falls_back(&e) =>
                {
                    None
                }
                Err(e) => return Err(e),
            },
            Source::Layout(_) => None,
        };
        if remote_digest.is_some() && remote_digest == installed {
            // Still `latest`: its newest accepted signature must not be too old either (the
            // state keeps its log time), or the registry may be withholding updates.
            if state.integrated_time.is_some() {
                self.check_freeze(state.integrated_time, now, true)?;
            }
            report.remote = remote_digest;
            report.source = Some(self.primary_name());
        } else {
            let remote = self.fetch_remote(now).await?;
            let verdict = &remote.decided.verdict;
            self.check_rollback(&state, verdict, false, &mut Vec::new())?;
            self.check_freeze(verdict.newest_signed_time(), now, false)?;
            let d = remote.digest().clone();
            report.warnings.extend(remote.warnings.iter().cloned());
            report.source = Some(remote.source.clone());
            report.log_index = verdict.max_log_index;
            report.status = match &installed {
                Some(i) if *i == d => "up-to-date",
                Some(_) => "update-available",
                None => "not-installed",
            };
            if report.status != "up-to-date" {
                let h = self.hold(&state, verdict, now)?;
                if h.held {
                    report.status = "held";
                    report.held_until = h.until;
                    report.held = h.reasons.clone();
                }
                hold = Some(h);
            }
            report.remote = Some(d);
        }
        // Record the check (best effort under the lock: a running upgrade wins).
        if let Ok(_lock) = self.lock(false).await {
            let mut state = self.store.state()?;
            state.last_check = Some(now_u);
            if let Some(h) = &hold {
                h.remember(&mut state);
            }
            let next = now_u + self.profile.cooldown.as_secs() + jitter(self.profile.jitter);
            state.next_check = Some(next);
            report.next_check = Some(next);
            self.store.save_state(&state)?;
        }
        Ok(report)
    }

    /// The digest the registry serves under the profile's tag: one `HEAD`, or the
    /// manifest itself when the registry sends no `Docker-Content-Digest`.
    async fn remote_digest(&self) -> Result<Digest> {
        let image = &self.profile.image;
        match self.client.head_manifest(image).await? {
            Some(ManifestHead {
                digest: Some(d), ..
            }) => Ok(d),
            Some(ManifestHead { digest: None, .. }) => {
                Ok(self.client.get_manifest(image).await?.digest().clone())
            }
            None => Err(Error::Registry(RegistryError::NotFound {
                what: format!("manifest {image}"),
                url: image.to_string(),
            })),
        }
    }
}

/// A random delay in `[0, max)`, from the process's randomly seeded hasher (no crypto
/// needed: only installs must not synchronise).
fn jitter(max: Duration) -> u64 {
    let secs = max.as_secs();
    if secs == 0 {
        return 0;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::try_from(now_unix()).unwrap_or(0));
    h.finish() % secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_secs(3600)) < 3600);
        }
        assert_eq!(jitter(Duration::ZERO), 0);
    }
}
