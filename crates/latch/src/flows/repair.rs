//! Finishing what an interrupted upgrade left: the recorded image tagged, the others
//! removed.
//!
//! An upgrade writes its state (which image is installed) before it moves the tag and
//! removes the old images: a crash in between leaves the state naming the new image while
//! the tag an application runs still names the old one. Every flow that installs
//! (`upgrade`, `install`, `load-archive`) first calls [`Updater::finish_interrupted`]
//! under the lock, so the next run repairs it whatever it then finds in the registry.

use latch_store::State;

use crate::error::Result;
use crate::updater::Updater;

impl Updater {
    /// Puts the tag back on the image the state records and removes the repository's
    /// other images, when an interrupted run left them. Returns what was done, as
    /// warnings (empty when there was nothing to finish). Nothing happens when the
    /// runtime no longer holds the recorded image (the next install replaces it), or when
    /// no image is recorded (a store migrated from Dangerzone). The caller holds the lock.
    pub(crate) async fn finish_interrupted(&self, state: &State) -> Result<Vec<String>> {
        let Some(digest) = self.recorded(state) else {
            return Ok(Vec::new());
        };
        let repository = self.repository();
        let images = self.runtime.images(&repository).await?;
        let Some(current) = images.iter().find(|i| i.holds(&digest)) else {
            return Ok(Vec::new());
        };
        let tag = self.profile.image.tag().unwrap_or_default();
        let tagged = current.tags.iter().any(|t| t == tag);
        let others = images.len() > 1 || current.pinned.iter().any(|d| d != &digest);
        let mut done = Vec::new();
        if !tagged {
            self.runtime.tag(current, &self.profile.image).await?;
            done.push(self.warned(format!(
                "finished an interrupted upgrade: {} names the installed {digest} again",
                self.profile.image
            )));
        }
        if others {
            let removed = self.runtime.remove_others(&repository, &digest).await?;
            self.runtime.gc().await?;
            if !removed.is_empty() {
                done.push(self.warned(format!(
                    "finished an interrupted upgrade: removed {} image(s) left beside the installed one ({})",
                    removed.len(),
                    removed
                        .iter()
                        .map(|i| i.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(done)
    }
}
