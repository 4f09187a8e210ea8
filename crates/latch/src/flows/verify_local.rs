//! `verify-local`: before every use, the installed image is the one Latch verified, and
//! its stored signatures still make the same decision, offline.

use std::path::PathBuf;

use latch_decide::Verdict;
use latch_oci::{Digest, Reference};
use latch_runtime::Runtime;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::stored::stored_candidates;
use crate::trust::ratchet::RollbackReason;
use crate::updater::Updater;
use crate::verify::now_unix;

/// The outcome of `verify-local`.
#[derive(Debug, Clone, Serialize)]
pub struct LocalReport {
    /// The image.
    pub image: String,
    /// The digest verified.
    pub digest: Digest,
    /// The runtime.
    pub runtime: String,
    /// Whether every blob was re-hashed (built-in store, `deep`).
    pub deep: bool,
    /// Highest log index of the stored signatures.
    pub log_index: Option<u64>,
    /// The decision over the stored signatures.
    pub verdict: Verdict,
}

impl Updater {
    /// Verifies the installed image before use: the runtime holds the digest Latch
    /// installed (or, for a store migrated from Dangerzone, the one digest under the
    /// repository), its stored signatures make the same decision offline, and it is not
    /// below the rollback floor. With `deep` (built-in store), every blob is re-hashed.
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
    /// // Nothing installed yet: a typed error the application can act on.
    /// let err = rt.block_on(updater.verify_local(false)).unwrap_err();
    /// assert!(matches!(err, latch::Error::NotInstalled { .. }));
    /// rt.block_on(updater.upgrade(&Default::default(), &latch::registry::NoProgress))?;
    /// let local = rt.block_on(updater.verify_local(true))?;
    /// println!("verified {}", local.digest);
    /// # Ok(()) }
    /// ```
    pub async fn verify_local(&self, deep: bool) -> Result<LocalReport> {
        let now = now_unix();
        let state = self.store.state()?;
        let repository = self.repository();
        let digest = match self.recorded(&state) {
            Some(d) => d,
            None => match self.runtime.installed_digest(&repository).await? {
                Some(d) => d,
                None => {
                    return Err(Error::NotInstalled {
                        image: self.profile.image.to_string(),
                        runtime: self.runtime.spec(),
                    });
                }
            },
        };
        self.check_runtime_holds(&repository, &digest, deep).await?;
        let candidates = stored_candidates(&self.store, &self.trust, &digest)?;
        let verdict = latch_decide::decide(&self.trust, &candidates, &digest, now);
        let location = signature_store(&self.store.root().join("signatures"));
        let decided = crate::verify::accept(
            latch_sources::Decided {
                verdict,
                candidates,
            },
            &location,
        )?;
        let verdict = decided.verdict;
        if let (Some(floor), Some(offered)) = (self.rollback_floor()?, verdict.max_log_index)
            && offered < floor
        {
            return Err(Error::Rollback {
                reasons: vec![RollbackReason::BelowFloor { floor, offered }],
            });
        }
        Ok(LocalReport {
            image: self.profile.image.to_string(),
            digest,
            runtime: self.runtime.spec(),
            deep,
            log_index: verdict.max_log_index,
            verdict,
        })
    }

    async fn check_runtime_holds(
        &self,
        repository: &Reference,
        digest: &Digest,
        deep: bool,
    ) -> Result<()> {
        let not_installed = || Error::NotInstalled {
            image: format!("{}@{digest}", repository.name()),
            runtime: self.runtime.spec(),
        };
        if let Runtime::Store(store) = &self.runtime {
            // The built-in store re-hashes what it holds: manifests and config always,
            // every layer when `deep`.
            let check = if deep {
                store.verify(digest).await
            } else {
                store.verify_sizes(digest).await
            };
            return check.map(drop).map_err(|e| match e {
                latch_runtime::RuntimeError::NotInstalled { .. } => not_installed(),
                other => Error::Runtime(other),
            });
        }
        if self.runtime_holds(repository, digest).await? {
            Ok(())
        } else {
            Err(not_installed())
        }
    }
}

fn signature_store(dir: &std::path::Path) -> String {
    format!("the signature store in {}", PathBuf::from(dir).display())
}
