//! The image the profile follows, fetched (or read from a layout mirror) and decided on,
//! not yet installed: what `upgrade`, `check`, `store-signatures` and `install` start
//! from, and what an opened archive becomes.

use latch_oci::{Descriptor, Digest, ManifestBytes, OciLayout};
use latch_sources::{Decided, Source};

use crate::error::{Error, Result};
use crate::profile;
use crate::updater::Updater;
use crate::verify::accept;

/// An image fetched (or unpacked) and verified, not yet installed.
pub(crate) struct Remote {
    /// The manifest the signatures name.
    pub manifest: ManifestBytes,
    /// The platform manifest chosen from it, when it is an index.
    pub platform_digest: Option<Digest>,
    /// The decision and the candidates it was made over (to store the accepted ones).
    pub decided: Decided,
    /// Where to load it from instead of pulling it (a mirror, an unpacked archive).
    pub layout: Option<(OciLayout, Descriptor)>,
}

impl Remote {
    /// The digest the signatures name.
    pub fn digest(&self) -> &Digest {
        self.manifest.digest()
    }
}

/// An index without the platform wanted, as the registry client reports it.
pub(crate) fn no_such_platform(e: latch_oci::NoSuchPlatform) -> Error {
    Error::Registry(e.into())
}

impl Updater {
    /// The platform manifest of `manifest` for the profile's platform, when it is an
    /// index: the one platform selection of the updater's flows.
    pub(crate) fn platform_of(
        &self,
        manifest: &ManifestBytes,
        image: &str,
    ) -> Result<Option<Digest>> {
        match manifest.as_index() {
            Some(index) => Ok(Some(
                index
                    .require_platform(&self.profile.platform, image)
                    .map_err(no_such_platform)?
                    .digest
                    .clone(),
            )),
            None => Ok(None),
        }
    }

    /// Fetches the image the profile follows and its signatures, and decides on them;
    /// refused unless trusted.
    pub(crate) async fn fetch_remote(&self, now: i64) -> Result<Remote> {
        let image = &self.profile.image;
        match &self.profile.source {
            profile::Source::Registry => {
                let manifest = self.client.get_manifest(image).await?;
                let decided = crate::verify::verify_in_registry(
                    &self.client,
                    image,
                    manifest.digest(),
                    &self.trust,
                    now,
                )
                .await?;
                Ok(Remote {
                    platform_digest: self.platform_of(&manifest, &image.to_string())?,
                    decided,
                    manifest,
                    layout: None,
                })
            }
            profile::Source::Layout(dir) => {
                let layout = OciLayout::open(dir).map_err(Error::layout(dir))?;
                let desc = layout
                    .resolve(Some(image.tag().unwrap_or("latest")))
                    .map_err(Error::layout(dir))?;
                let manifest = layout.read_manifest(&desc).map_err(Error::layout(dir))?;
                let entries = layout.index().map_err(Error::layout(dir))?.manifests;
                self.decide_in_layout(
                    layout,
                    desc,
                    manifest,
                    &entries,
                    now,
                    &dir.display().to_string(),
                )
                .await
            }
        }
    }

    /// The decision over a layout (a mirror, an unpacked archive) holding `manifest`
    /// (named by `desc`), its signatures among `entries`.
    pub(crate) async fn decide_in_layout(
        &self,
        layout: OciLayout,
        desc: Descriptor,
        manifest: ManifestBytes,
        entries: &[Descriptor],
        now: i64,
        what: &str,
    ) -> Result<Remote> {
        let source = Source::Layout {
            layout: &layout,
            entries,
        };
        let decided = latch_sources::decide(&source, &self.trust, manifest.digest(), now).await?;
        let location = format!("{what}: {}.sig", manifest.digest().tag_form());
        let platform_digest = self.platform_of(&manifest, what)?;
        Ok(Remote {
            platform_digest,
            decided: accept(decided, &location)?,
            manifest,
            layout: Some((layout, desc)),
        })
    }
}
