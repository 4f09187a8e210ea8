//! `upgrade`: install the newest image the trust accepts.
//!
//! ```text
//! lock → finish what an interrupted run left → resolve the tag → .sig signatures (and, when short, cosign v3 bundles) → the one
//! decision → rollback and freeze ratchets → runtime pulls by digest → runtime holds it? →
//! accepted signatures stored → ratchets, last_log_index and state written → tag → old
//! images removed
//! ```
//!
//! Nothing already installed is touched until the new image is verified and in the
//! runtime; the state that says which image is installed is written atomically, then the
//! tag is moved. An upgrade interrupted before the state is written leaves the old image
//! installed and passing [`Updater::verify_local`]; after it, the new one, once tagged.
//! Interrupted between the two, `verify_local` refuses with [`Error::TagMismatch`] (the
//! tag still names the old image) until the next `upgrade`, `install` or `load-archive`,
//! which first finishes what was left (see [`crate::flows::repair`]).

use latch_decide::Verdict;
use latch_oci::Digest;
use latch_registry::Progress;
use latch_runtime::{InstalledImage, Runtime};
use latch_store::{Installed, State};
use serde::Serialize;

use crate::error::{Error, Result, Step};
use crate::flows::health::{HealthCheck, HealthTarget};
use crate::flows::remote::Remote;
use crate::stored::store_accepted;
use crate::trust::ratchet::{self, Accepted, Evidence};
use crate::updater::Updater;
use crate::verify::now_unix;

/// How an upgrade behaves.
#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    /// Accept an image that may be older than the installed one (rollback check
    /// skipped, loudly).
    pub force: bool,
    /// Wait for another Latch process to finish instead of failing with
    /// [`Error::Locked`].
    pub wait: bool,
    /// Stop after this step, as if killed (tests of crash safety).
    #[doc(hidden)]
    pub interrupt_after: Option<Step>,
    /// The health check a new image must pass (default: the profile's, if any).
    pub health_check: Option<HealthCheck>,
    /// Try again an image that failed its health check before (by default it is skipped
    /// until a newer one is signed).
    pub retry_failed: bool,
    /// Install now, even an image younger than the profile's minimum age.
    pub now: bool,
}

/// The outcome of an upgrade.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeReport {
    /// `upgraded`, `up-to-date`, `held` (younger than the profile's minimum age: see
    /// `held_until`), or `failed-before` (the newest image failed its health check
    /// before: skipped until a newer one is signed, or `retry_failed`).
    pub status: &'static str,
    /// With `held`: the Unix time from which it will be installed (`None` when no log
    /// time measures its age).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_until: Option<i64>,
    /// The image.
    pub image: String,
    /// Which source gave it: the profile's image, a mirror, `oci:DIR`, an archive.
    pub source: String,
    /// The digest the signatures name (often an index).
    pub digest: Digest,
    /// The platform manifest installed, when the digest is an index.
    pub platform_digest: Option<Digest>,
    /// The digest installed before, if any.
    pub previous: Option<Digest>,
    /// Highest log index of the accepted signatures.
    pub log_index: Option<u64>,
    /// Whether the rollback check was bypassed.
    pub forced: bool,
    /// What deserves the user's attention (a forced rollback, refused signatures).
    pub warnings: Vec<String>,
    /// Images removed after the upgrade.
    pub removed: Vec<String>,
    /// The decision: every signature's outcome and the signers counted.
    pub verdict: Verdict,
}

impl Updater {
    /// Upgrades to the newest verified image, or says it is already installed.
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
    /// let report = rt.block_on(updater.upgrade(&Default::default(), &latch::registry::NoProgress))?;
    /// assert_eq!(report.status, "upgraded");
    /// let again = rt.block_on(updater.upgrade(&Default::default(), &latch::registry::NoProgress))?;
    /// assert_eq!(again.status, "up-to-date");
    /// # Ok(()) }
    /// ```
    pub async fn upgrade(
        &self,
        opts: &UpgradeOptions,
        progress: &dyn Progress,
    ) -> Result<UpgradeReport> {
        self.upgrade_refreshed(opts, progress, None).await
    }

    /// [`Updater::upgrade`], with the Sigstore roots already refreshed by the caller
    /// (`refreshed`: that refresh's warnings, for the report) or refreshed here (`None`).
    pub(crate) async fn upgrade_refreshed(
        &self,
        opts: &UpgradeOptions,
        progress: &dyn Progress,
        refreshed: Option<Vec<String>>,
    ) -> Result<UpgradeReport> {
        let _lock = self.lock(opts.wait).await?;
        let now = now_unix();
        let state = self.store.state()?;
        let mut repaired = self.finish_interrupted(&state).await?;
        repaired.extend(match refreshed {
            Some(warnings) => warnings,
            None => self.refresh_sigstore_roots(now).await?,
        });
        let remote = self.fetch_remote(now).await?;
        let mut report = self
            .install_remote(state, remote, now, opts, progress, true)
            .await?;
        report.warnings.splice(0..0, repaired);
        Ok(report)
    }

    /// The rollback ratchets over `remote` against what `state` accepted: refused, or
    /// (with `force`) a loud warning pushed to `warnings`. Returns the evidence, to move
    /// the ratchets forward once installed, and whether `force` let an older image in.
    pub(crate) fn check_rollback(
        &self,
        state: &State,
        verdict: &Verdict,
        force: bool,
        warnings: &mut Vec<String>,
    ) -> Result<(Evidence, bool)> {
        let version_key = self.profile.version_annotation.as_deref();
        let evidence = Evidence::of(verdict, version_key);
        // The image already accepted (by its index or its platform manifest) cannot be
        // older than itself.
        let reinstall = state.installed.as_ref().is_some_and(|i| {
            i.repository == self.repository().name()
                && (i.signed_digest == verdict.digest
                    || i.platform_digest.as_ref() == Some(&verdict.digest))
        });
        let accepted = Accepted {
            state,
            floor: self.rollback_floor()?,
            version_key,
        };
        let reasons = ratchet::check_rollback(accepted, &evidence, reinstall);
        if reasons.is_empty() {
            return Ok((evidence, false));
        }
        if !force {
            return Err(Error::Rollback { reasons });
        }
        warnings.push(self.warned(format!(
            "ROLLBACK FORCED: accepting an image that may be older than the one accepted: {}",
            reasons
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )));
        Ok((evidence, true))
    }

    /// The freeze ratchet: the newest signing time `newest` (of what the registry serves,
    /// or, `still_installed`, of the installed image it still serves) within the
    /// profile's maximum age at `now`.
    pub(crate) fn check_freeze(
        &self,
        newest: Option<i64>,
        now: i64,
        still_installed: bool,
    ) -> Result<()> {
        ratchet::check_freeze(
            &self.profile.image.to_string(),
            self.profile.max_signature_age,
            newest,
            now,
            still_installed,
        )
        .map_err(Error::FreezeSuspected)
    }

    /// Everything after a remote image is fetched and verified: the rollback (and, for a
    /// registry, freeze) checks, installation, and the writes that make it the installed
    /// image. The caller holds the lock.
    pub(crate) async fn install_remote(
        &self,
        state: State,
        remote: Remote,
        now: i64,
        opts: &UpgradeOptions,
        progress: &dyn Progress,
        freeze_check: bool,
    ) -> Result<UpgradeReport> {
        let digest = remote.digest().clone();
        let verdict = &remote.decided.verdict;
        let mut warnings = remote.warnings.clone();
        let refused = verdict.refused().count();
        if refused > 0 {
            warnings.push(self.warned(format!(
                "{refused} signature(s) were refused and skipped (see the verdict)"
            )));
        }
        let (evidence, forced) = self.check_rollback(&state, verdict, opts.force, &mut warnings)?;
        if freeze_check {
            self.check_freeze(verdict.newest_signed_time(), now, false)?;
        }
        interrupt(opts, Step::Verified)?;
        let repository = self.repository();
        let previous = self.recorded(&state);
        let mut report = UpgradeReport {
            status: "upgraded",
            image: self.profile.image.to_string(),
            source: remote.source.clone(),
            digest: digest.clone(),
            platform_digest: remote.platform_digest.clone(),
            previous: previous.clone(),
            log_index: verdict.max_log_index,
            forced,
            warnings,
            removed: Vec::new(),
            verdict: verdict.clone(),
            held_until: None,
        };
        if previous.as_ref() == Some(&digest) && self.runtime_holds(&repository, &digest).await? {
            report.status = "up-to-date";
            return Ok(report);
        }
        if let Some(f) = state.failed.as_ref().filter(|f| f.digest == digest)
            && !opts.retry_failed
        {
            report.status = "failed-before";
            report.warnings.push(self.warned(format!(
                "{digest} failed its health check before ({}); not tried again until a newer image is signed (retry with --retry-failed)",
                f.reason
            )));
            return Ok(report);
        }
        if !opts.now {
            let hold = self.hold(&state, verdict, now)?;
            if hold.first_seen.is_some() {
                let mut state = state.clone();
                hold.remember(&mut state);
                self.store.save_state(&state)?;
            }
            if hold.held {
                report.status = "held";
                report.held_until = hold.until;
                report
                    .warnings
                    .extend(hold.reasons.into_iter().map(|r| self.warned(r)));
                return Ok(report);
            }
        }
        // Install. The runtime must then hold exactly this digest.
        let installed = match &remote.layout {
            None => {
                let from = remote.pull_from.as_ref().unwrap_or(&self.profile.image);
                self.runtime
                    .pull(
                        &from.with_digest(digest.clone()),
                        &self.client,
                        Some(&self.profile.platform),
                        progress,
                    )
                    .await?
            }
            Some((layout, desc)) => {
                self.runtime
                    .load_oci_layout(
                        layout,
                        desc,
                        &self.profile.image,
                        Some(&self.profile.platform),
                    )
                    .await?
            }
        };
        check_holds(
            &installed,
            &digest,
            remote.platform_digest.as_ref(),
            &self.runtime,
        )?;
        interrupt(opts, Step::Installed)?;
        let check = opts
            .health_check
            .as_ref()
            .or(self.profile.health_check.as_ref());
        if let Some(check) = check {
            self.health_check(check, &state, &installed, &digest, now)
                .await?;
        }
        store_accepted(&self.store, &digest, verdict, &remote.decided.candidates)?;
        interrupt(opts, Step::SignaturesStored)?;
        let mut state = state;
        ratchet::advance(&mut state, &evidence, opts.force);
        if state.failed.as_ref().is_some_and(|f| f.digest == digest) {
            state.failed = None;
        }
        state.installed = Some(Installed {
            repository: repository.name(),
            signed_digest: digest.clone(),
            platform_digest: remote.platform_digest.clone(),
            log_index: report.log_index,
            installed_at: u64::try_from(now).unwrap_or(0),
        });
        if let Some(i) = report.log_index {
            self.store.set_last_log_index(i)?;
        }
        self.store.save_state(&state)?;
        interrupt(opts, Step::StateSaved)?;
        self.runtime.tag(&installed, &self.profile.image).await?;
        if let Some(mirror) = &remote.pull_from {
            // Pulled under the mirror's name: only the profile's names stay.
            let mirror_repo = mirror.repository_only();
            if mirror_repo.name() != repository.name() {
                for image in self.runtime.images(&mirror_repo).await? {
                    if image.holds(&digest) {
                        self.runtime.remove(&image).await?;
                    }
                }
            }
        }
        interrupt(opts, Step::Tagged)?;
        let removed = self.runtime.remove_others(&repository, &digest).await?;
        report.removed = removed.iter().map(|i| i.id.clone()).collect();
        self.runtime.gc().await?;
        interrupt(opts, Step::Cleaned)?;
        Ok(report)
    }

    /// Runs the health check on the new image, installed beside the old one. On failure
    /// the new image is removed (unless the old one is the same image under another
    /// digest), the digest is recorded as failed in the state (nothing else of it
    /// changes: the ratchets and the installed image stay), and the failure is returned.
    async fn health_check(
        &self,
        check: &HealthCheck,
        state: &State,
        installed: &InstalledImage,
        digest: &Digest,
        now: i64,
    ) -> Result<()> {
        let image = match &self.runtime {
            Runtime::Store(_) => format!("{}@{digest}", self.repository().name()),
            Runtime::Podman(_) | Runtime::Docker(_) => installed.id.clone(),
        };
        let target = HealthTarget {
            image,
            digest: digest.clone(),
            runtime: self.runtime.spec(),
        };
        let Err(reason) = check.run(&target).await else {
            return Ok(());
        };
        let repository = self.repository();
        let old_id = match self.recorded(state) {
            Some(old) => self
                .runtime
                .images(&repository)
                .await?
                .into_iter()
                .find(|i| i.holds(&old))
                .map(|i| i.id),
            None => None,
        };
        if old_id.as_deref() != Some(installed.id.as_str()) {
            self.runtime.remove(installed).await?;
            self.runtime.gc().await?;
        }
        let mut state = state.clone();
        state.failed = Some(latch_store::Failed {
            digest: digest.clone(),
            reason: reason.clone(),
            at: u64::try_from(now).unwrap_or(0),
        });
        self.store.save_state(&state)?;
        Err(Error::HealthCheckFailed {
            digest: digest.clone(),
            reason,
        })
    }

    /// Whether the runtime holds `digest` under `repository`.
    pub(crate) async fn runtime_holds(
        &self,
        repository: &latch_oci::Reference,
        digest: &Digest,
    ) -> Result<bool> {
        Ok(self
            .runtime
            .images(repository)
            .await?
            .iter()
            .any(|i| i.holds(digest)))
    }
}

/// Stops a flow after `step`, as a kill would (crash-safety tests).
fn interrupt(opts: &UpgradeOptions, step: Step) -> Result<()> {
    if opts.interrupt_after == Some(step) {
        return Err(Error::Interrupted(step));
    }
    Ok(())
}

/// The runtime must hold the digest installed (or its platform manifest).
fn check_holds(
    installed: &InstalledImage,
    digest: &Digest,
    platform: Option<&Digest>,
    runtime: &Runtime,
) -> Result<()> {
    if installed.holds(digest) || platform.is_some_and(|p| installed.holds(p)) {
        return Ok(());
    }
    Err(Error::RuntimeMismatch {
        runtime: runtime.spec(),
        expected: digest.clone(),
        found: installed
            .digests
            .iter()
            .chain(installed.pinned.iter())
            .map(|d| d.to_string())
            .collect(),
    })
}
