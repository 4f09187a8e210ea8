//! `verify-local`: before every use, the installed image is the one Latch verified, and
//! its stored signatures still make the same decision, offline.

use std::path::PathBuf;

use latch_decide::Verdict;
use latch_oci::Digest;
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
    /// The runtime's immutable id of the image verified (podman: the config digest's
    /// hex; docker and the built-in store: `sha256:<hex>` of the config). Running the
    /// image by this id (`podman run <id>`) runs exactly what was verified, whatever
    /// happens to the tag afterwards.
    pub image_id: String,
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
        let (digest, image_id) = match self.recorded(&state) {
            Some(digest) => {
                let id = self.check_runtime_runs(&digest, deep).await?;
                (digest, id)
            }
            None => self.migrated_image(deep).await?,
        };
        let candidates = stored_candidates(&self.store, &self.trust(), &digest)?;
        let verdict = latch_decide::decide(&self.trust(), &candidates, &digest, now);
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
            image_id,
            runtime: self.runtime.spec(),
            deep,
            log_index: verdict.max_log_index,
            verdict,
        })
    }

    /// The runtime holds `digest` and the tag Latch manages (the profile's image) names
    /// it: what the application runs by that tag is what was verified. One question to
    /// the runtime, about that tag only (a second one only to word a failure). The
    /// built-in store re-hashes what it holds: manifests and config always, every layer
    /// when `deep`. Returns the runtime's image id.
    async fn check_runtime_runs(&self, digest: &Digest, deep: bool) -> Result<String> {
        let repository = self.repository();
        let not_installed = || Error::NotInstalled {
            image: format!("{}@{digest}", repository.name()),
            runtime: self.runtime.spec(),
        };
        if let Runtime::Store(store) = &self.runtime {
            let check = if deep {
                store.verify(digest).await
            } else {
                store.verify_sizes(digest).await
            };
            check.map(drop).map_err(|e| match e {
                latch_runtime::RuntimeError::NotInstalled { .. } => not_installed(),
                other => Error::Runtime(other),
            })?;
        }
        let tagged = self.runtime.tagged(&self.profile.image).await?;
        if let Some(image) = &tagged
            && image.holds(digest)
        {
            return Ok(image.id.clone());
        }
        if tagged.is_none() && !self.runtime_holds(&repository, digest).await? {
            return Err(not_installed());
        }
        Err(Error::TagMismatch {
            tag: self.profile.image.to_string(),
            runtime: self.runtime.spec(),
            expected: digest.clone(),
            found: tagged.map(|i| describe(&i)),
        })
    }

    /// A store migrated from Dangerzone (no digest recorded): the one image under the
    /// repository, as Dangerzone reads it.
    async fn migrated_image(&self, deep: bool) -> Result<(Digest, String)> {
        let repository = self.repository();
        let Some(image) = self.runtime.installed(&repository).await? else {
            return Err(Error::NotInstalled {
                image: self.profile.image.to_string(),
                runtime: self.runtime.spec(),
            });
        };
        let digest = image.digest()?;
        if let Runtime::Store(store) = &self.runtime {
            if deep {
                store.verify(&digest).await?;
            } else {
                store.verify_sizes(&digest).await?;
            }
        }
        Ok((digest, image.id))
    }
}

/// `image <id> (digests …)`, as a tag mismatch names what it found.
fn describe(image: &latch_runtime::InstalledImage) -> String {
    let digests: Vec<String> = image
        .digests
        .iter()
        .chain(image.pinned.iter().filter(|d| !image.digests.contains(d)))
        .map(|d| d.to_string())
        .collect();
    if digests.is_empty() {
        format!("image {}", image.id)
    } else {
        format!("image {} ({})", image.id, digests.join(", "))
    }
}

fn signature_store(dir: &std::path::Path) -> String {
    format!("the signature store in {}", PathBuf::from(dir).display())
}
