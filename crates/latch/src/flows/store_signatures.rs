//! `store-signatures`: fetch, decide and store the remote image's signatures without
//! pulling it.

use std::path::PathBuf;

use latch_oci::Digest;
use serde::Serialize;

use crate::error::Result;
use crate::stored::store_accepted;
use crate::updater::Updater;
use crate::verify::now_unix;

/// What `store-signatures` did.
#[derive(Debug, Clone, Serialize)]
pub struct StoreReport {
    /// The digest.
    pub digest: Digest,
    /// Files written (one per key with accepted signatures; keyless signatures and
    /// bundles in their own files).
    pub files: Vec<PathBuf>,
    /// Highest log index.
    pub log_index: Option<u64>,
    /// What deserves attention: a Sigstore trusted root that could not be refreshed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Updater {
    /// Fetches, verifies and stores the remote image's signatures without pulling it.
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
    /// let stored = rt.block_on(updater.store_signatures())?;
    /// assert_eq!(stored.files.len(), 1);
    /// # Ok(()) }
    /// ```
    pub async fn store_signatures(&self) -> Result<StoreReport> {
        let _lock = self.lock(true).await?;
        let now = now_unix();
        let warnings = self.refresh_sigstore_roots(now).await?;
        let remote = self.fetch_remote(now).await?;
        let digest = remote.digest().clone();
        let files = store_accepted(
            &self.store,
            &digest,
            &remote.decided.verdict,
            &remote.decided.candidates,
        )?;
        Ok(StoreReport {
            digest,
            files,
            log_index: remote.decided.verdict.max_log_index,
            warnings,
        })
    }
}
