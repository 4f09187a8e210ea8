//! Keeping the Sigstore trusted root current over TUF in the verifying commands (`verify`,
//! `verify-signatures`, `verify-attestation`, `verify-bundle`, `promote`), as `check` does
//! for a profile. Off unless asked: without these flags the root built in is used and
//! nothing is fetched.

use std::path::PathBuf;

use latch::sigstore::TrustRoot;
use latch::trust::RootChoice;
use latch::tuf::{TufCache, TufRepository};

use super::profile_args::path_arg;
use crate::output::{self, AnyError};

/// Which TUF repository keeps the root current, and where its verified state is kept.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TufArgs {
    /// Refresh the Sigstore trusted root over Sigstore's public-good TUF repository
    /// before verifying, as `latch check` does for a profile (the root built in until the
    /// repository is first read). A repository that cannot be read, or serves metadata
    /// TUF refuses, leaves the root held in force, with a warning.
    #[arg(long, conflicts_with = "trusted_root")]
    pub refresh_trusted_root: bool,
    /// Keep the root current over this TUF repository instead (a private Sigstore), from
    /// the initial TUF root --tuf-root; implies --refresh-trusted-root. Until it is first
    /// read, nothing is trusted that needs the root.
    #[arg(
        long,
        value_name = "URL",
        requires = "tuf_root",
        conflicts_with = "trusted_root"
    )]
    pub tuf_url: Option<String>,
    /// The initial TUF root of --tuf-url: the repository's `1.root.json`, obtained out of
    /// band.
    #[arg(long, value_name = "FILE", requires = "tuf_url", value_parser = path_arg())]
    pub tuf_root: Option<PathBuf>,
    /// Where the verified TUF state is kept between runs (default: `latch/sigstore-tuf`
    /// under $LATCH_DATA_DIR, else under the local data directory's `latch/verify`).
    #[arg(long, value_name = "DIR", value_parser = path_arg())]
    pub tuf_cache: Option<PathBuf>,
}

impl TufArgs {
    /// Whether a TUF repository is to be read.
    pub fn wanted(&self) -> bool {
        self.refresh_trusted_root || self.tuf_url.is_some()
    }

    /// The root to verify with: the one these flags keep current, else `otherwise`.
    pub fn root(&self, otherwise: RootChoice) -> Result<RootChoice, AnyError> {
        if let (Some(url), Some(initial)) = (&self.tuf_url, &self.tuf_root) {
            return Ok(RootChoice::tuf_from_file(url, initial, None)?);
        }
        Ok(if self.refresh_trusted_root {
            RootChoice::public_good_tuf()
        } else {
            otherwise
        })
    }

    /// Loads `root`, after refreshing it when it is kept current over TUF.
    pub async fn load_root(&self, root: &RootChoice) -> Result<TrustRoot, AnyError> {
        let repos: Vec<&TufRepository> = root.tuf_repository().into_iter().collect();
        let cache = self.refresh(&repos).await?;
        Ok(root.load_from(cache.as_ref())?)
    }

    /// Refreshes `repos` (each warning on stderr, the root held staying in force) and
    /// returns the state to read the roots from; `None` when there is nothing to refresh.
    pub async fn refresh(&self, repos: &[&TufRepository]) -> Result<Option<TufCache>, AnyError> {
        if repos.is_empty() {
            return Ok(None);
        }
        let dir = match &self.tuf_cache {
            Some(dir) => dir.clone(),
            None => latch::store::default_data_dir("latch/verify")
                .map(|d| latch::store::Store::new(d).sigstore_tuf_dir())
                .ok_or("no place to keep the TUF state: give --tuf-cache DIR, or set LATCH_DATA_DIR or HOME")?,
        };
        let cache = TufCache::new(dir);
        let (_, warnings) =
            latch::trust::sigstore_root::keep_current(&cache, repos, latch::verify::now_unix())
                .await;
        output::warn_all(&warnings);
        Ok(Some(cache))
    }
}
