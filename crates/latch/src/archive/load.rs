//! `load-archive`: an air-gap archive, unpacked, checked and decided on before anything
//! reaches the runtime, then installed as `upgrade` installs.

use std::path::{Path, PathBuf};

use latch_registry::NoProgress;

use super::Staging;
use super::unpack::{check_structure, layout_err, unpack};
use crate::error::Result;
use crate::flows::remote::Remote;
use crate::flows::upgrade::{UpgradeOptions, UpgradeReport};
use crate::updater::Updater;
use crate::verify::now_unix;

impl Updater {
    fn staging_dir(&self, what: &str) -> PathBuf {
        self.store
            .root()
            .join("latch")
            .join(format!("{what}-{}", std::process::id()))
    }

    /// Unpacks and verifies an archive without loading it: the image it carries, decided
    /// on over the signatures `dangerzone.json` lists, ready to install.
    async fn open_archive(&self, path: &Path, staging: &Path, now: i64) -> Result<Remote> {
        let u = unpack(path, staging)?;
        let subject = check_structure(path, &u)?;
        let manifest = u
            .layout
            .read_manifest(&subject)
            .map_err(|e| layout_err(path, format!("image manifest {}: {e}", subject.digest)))?;
        let what = format!("{} (dangerzone.json)", path.display());
        self.decide_in_layout(
            u.layout,
            subject,
            manifest,
            &u.full_index.manifests,
            now,
            &what,
        )
        .await
    }

    /// The highest verified log index of an archive's image, without loading it (to
    /// choose between installed, bundled and remote images).
    pub async fn archive_log_index(&self, path: &Path) -> Result<Option<u64>> {
        let staging = Staging(self.staging_dir("inspect"));
        let remote = self.open_archive(path, &staging.0, now_unix()).await?;
        Ok(remote.decided.verdict.max_log_index)
    }

    /// Loads an air-gap archive: unpacked as a stream, checked, verified and
    /// rollback-checked before anything reaches the runtime; then installed as `upgrade`
    /// installs (signatures and state written atomically, tagged, older images removed).
    /// `opts.force` bypasses only the rollback check.
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
    /// // Not an archive: refused before anything reaches the runtime.
    /// let bogus = data.path().join("bogus.tar");
    /// std::fs::write(&bogus, b"not a tar")?;
    /// let err = rt.block_on(updater.load_archive(&bogus, &Default::default())).unwrap_err();
    /// assert!(matches!(err, latch::Error::Archive(_)));
    /// # Ok(()) }
    /// ```
    pub async fn load_archive(&self, path: &Path, opts: &UpgradeOptions) -> Result<UpgradeReport> {
        let _lock = self.lock(opts.wait).await?;
        let now = now_unix();
        let state = self.store.state()?;
        let repaired = self.finish_interrupted(&state).await?;
        let staging = Staging(self.staging_dir("archive"));
        let remote = self.open_archive(path, &staging.0, now).await?;
        // No freeze check and no minimum age: an archive is chosen by the person carrying
        // it, and may be old or new.
        let opts = UpgradeOptions {
            now: true,
            ..opts.clone()
        };
        let mut report = self
            .install_remote(state, remote, now, &opts, &NoProgress, false)
            .await?;
        report.warnings.splice(0..0, repaired);
        Ok(report)
    }
}
