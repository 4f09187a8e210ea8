//! The Sigstore trusted roots kept current over TUF, in the updater: refreshed before
//! `check`, `upgrade`, `store-signatures`, `install --online` and `prepare-archive`
//! decide, read from the data directory (verified again) whenever the trust is built, and
//! shown by `status`. A repository that cannot be read, or serves what TUF refuses, leaves
//! the root held in force: a warning, never a failure of what is already trusted.

use std::sync::Arc;

use latch_tuf::{Info, TufCache, TufRepository};
use serde::Serialize;

use crate::error::Result;
use crate::trust::rotation::InForce;
use crate::trust::tuf_artifact;
use crate::updater::Updater;

/// A TUF-kept trusted root, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SigstoreRoot {
    /// The TUF repository.
    pub tuf_url: String,
    /// What is held: the TUF metadata's versions and expiries (`None`: the repository
    /// was never read, or what is kept no longer verifies; the starting root is used).
    pub held: Option<Info>,
    /// Why the held state is not what is used, or is stale; `None` when all is well.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl SigstoreRoot {
    /// What is held for `repo`, and what is wrong with it at `now`.
    pub(crate) fn read(cache: &TufCache, repo: &TufRepository, now: i64) -> SigstoreRoot {
        let (held, warning) = match cache.held(repo) {
            Ok(Some(v)) if v.info.is_stale(now) => {
                let warning = format!(
                    "the Sigstore trusted root from {} is stale: its TUF metadata expired at {}; it still verifies what it vouched for, and `check` online refreshes it",
                    repo.url(),
                    latch_oci::time::rfc3339(v.info.expires())
                );
                (Some(v.info), Some(warning))
            }
            Ok(Some(v)) => (Some(v.info), None),
            Ok(None) => (
                None,
                Some(format!(
                    "the TUF repository {} has not been read yet: the starting root is used",
                    repo.url()
                )),
            ),
            Err(e) => (
                None,
                Some(format!(
                    "the Sigstore trusted root kept from {} is not used: {e}",
                    repo.url()
                )),
            ),
        };
        SigstoreRoot {
            tuf_url: repo.url().to_owned(),
            held,
            warning,
        }
    }
}

/// Refreshes each of `repos` in `cache` at `now` (Unix seconds). A repository that
/// cannot be read, or serves what TUF refuses, leaves the root held in force: one warning
/// each, saying why and which root stays. Returns whether a root held changed, and the
/// warnings. The updater's flows and the verifying commands alike refresh through here.
pub async fn keep_current(
    cache: &TufCache,
    repos: &[&TufRepository],
    now: i64,
) -> (bool, Vec<String>) {
    let mut warnings = Vec::new();
    let mut changed = false;
    for repo in repos {
        let before = cache.held(repo).ok().flatten().map(|v| v.info);
        match cache.refresh(repo, now).await {
            Ok(v) => {
                let same = before
                    .as_ref()
                    .is_some_and(|b| b.trusted_root_sha256 == v.info.trusted_root_sha256);
                changed |= !same;
            }
            Err(e) => {
                let using = match &before {
                    Some(info) => format!(
                        "the one verified at {} (TUF root version {})",
                        latch_oci::time::rfc3339(info.verified_at),
                        info.root_version
                    ),
                    None => "the starting root".to_owned(),
                };
                warnings.push(format!(
                    "the Sigstore trusted root was not refreshed ({e}); using {using}"
                ));
            }
        }
    }
    (changed, warnings)
}

impl Updater {
    /// Where TUF-kept roots are kept (the data directory's `latch/sigstore-tuf`).
    pub(crate) fn tuf_cache(&self) -> TufCache {
        TufCache::new(self.store.sigstore_tuf_dir())
    }

    /// The TUF-kept roots the trust reads, as `status` shows them.
    pub(crate) fn sigstore_roots(&self, now: i64) -> Vec<SigstoreRoot> {
        let cache = self.tuf_cache();
        self.profile
            .trust
            .tuf_repositories()
            .into_iter()
            .map(|repo| SigstoreRoot::read(&cache, repo, now))
            .collect()
    }

    /// Refreshes every TUF repository the trust reads its root from, when the profile
    /// reads a registry (a layout source is an offline one: what is held is used); when a
    /// root changed, the trust in force is rebuilt before anything is decided. Returns
    /// the warnings for repositories that could not be refreshed.
    pub(crate) async fn refresh_sigstore_roots(&self, now: i64) -> Result<Vec<String>> {
        let repos = self.profile.trust.tuf_repositories();
        let online = matches!(self.profile.source, crate::profile::Source::Registry);
        if repos.is_empty() || !online {
            return Ok(Vec::new());
        }
        let cache = self.tuf_cache();
        let (changed, warnings) = keep_current(&cache, &repos, now).await;
        if changed {
            self.rebuild_trust(&cache)?;
        }
        Ok(warnings.into_iter().map(|w| self.warned(w)).collect())
    }

    /// Writes the TUF state held for each repository the trust reads into `layout` (an
    /// archive being prepared); returns their index entries.
    pub(crate) fn carry_sigstore_roots(
        &self,
        layout: &latch_oci::OciLayout,
    ) -> Result<Vec<latch_oci::Descriptor>> {
        let cache = self.tuf_cache();
        let mut entries = Vec::new();
        for repo in self.profile.trust.tuf_repositories() {
            if let Ok(Some((files, v))) = cache.held_files(repo) {
                entries.push(
                    tuf_artifact::write(
                        layout,
                        repo.url(),
                        repo.initial_version(),
                        &files,
                        v.info.verified_at,
                    )
                    .map_err(crate::Error::layout(layout.root()))?,
                );
            }
        }
        Ok(entries)
    }

    /// Adopts the TUF states a layout carries (an archive, a layout mirror) for the
    /// repositories the trust reads, each verified from the profile's initial TUF root at
    /// the time it says and adopted only when nothing in it is older than what is held;
    /// the trust is rebuilt when one is. A state that is refused leaves the one held in
    /// force: a warning.
    pub(crate) fn adopt_sigstore_roots_in_layout(
        &self,
        layout: &latch_oci::OciLayout,
        entries: &[latch_oci::Descriptor],
    ) -> Result<Vec<String>> {
        let repos = self.profile.trust.tuf_repositories();
        if repos.is_empty() {
            return Ok(Vec::new());
        }
        let carried = match tuf_artifact::read_all(layout, entries) {
            Ok(c) => c,
            Err(e) => {
                return Ok(vec![self.warned(format!(
                    "the Sigstore trusted root carried is not used: {e}"
                ))]);
            }
        };
        let cache = self.tuf_cache();
        let mut warnings = Vec::new();
        let mut changed = false;
        for c in &carried {
            let Some(repo) = repos.iter().find(|r| r.url() == c.url) else {
                continue;
            };
            match cache.adopt(repo, &c.files_after(repo.initial_version()), c.verified_at) {
                Ok(adopted) => changed |= adopted.is_some(),
                Err(e) => warnings.push(self.warned(format!(
                    "the Sigstore trusted root carried for {} was refused ({e}); the one held stays in force",
                    c.url
                ))),
            }
        }
        if changed {
            self.rebuild_trust(&cache)?;
        }
        Ok(warnings)
    }

    /// Rebuilds the trust in force with the roots `cache` holds now.
    fn rebuild_trust(&self, cache: &TufCache) -> Result<()> {
        let held = self.in_force();
        let trust = self
            .profile
            .trust
            .load_with(held.succession.as_ref(), Some(cache))?;
        self.set_in_force(InForce {
            succession: held.succession,
            trust: Arc::new(trust),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `status` says of a held state: nothing when fresh, stale past its expiry
    /// (still held), not used when a kept file was changed.
    #[test]
    fn status_says_when_a_root_is_stale_or_not_used() {
        let server = latch_testkit::tuf::TufServer::start(b"{}");
        let repo = TufRepository::new(&server.url(), server.initial_root(), "test").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = TufCache::new(dir.path());
        let never = SigstoreRoot::read(&cache, &repo, 0);
        assert!(never.held.is_none() && never.warning.unwrap().contains("not been read"));

        let now = crate::verify::now_unix();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let v = rt.block_on(cache.refresh(&repo, now)).unwrap();
        let fresh = SigstoreRoot::read(&cache, &repo, now);
        assert_eq!((fresh.held, fresh.warning), (Some(v.info.clone()), None));
        let later = SigstoreRoot::read(&cache, &repo, v.info.expires() + 1);
        assert_eq!(later.held, Some(v.info));
        assert!(later.warning.unwrap().contains("is stale"));

        let kept = std::fs::read_dir(dir.path().join(repo.folder()))
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("g-"))
            .unwrap()
            .path();
        std::fs::write(kept.join("targets/trusted_root.json"), b"{\"x\": 1}").unwrap();
        let tampered = SigstoreRoot::read(&cache, &repo, now);
        assert!(tampered.held.is_none());
        assert!(tampered.warning.unwrap().contains("is not used"));
    }
}
