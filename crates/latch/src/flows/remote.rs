//! The image the profile follows, fetched (or read from a layout mirror) and decided on,
//! not yet installed: what `upgrade`, `check`, `store-signatures` and `install` start
//! from, and what an opened archive becomes.

use latch_oci::{Descriptor, Digest, ManifestBytes, OciLayout, Reference};
use latch_sources::{Decided, Source};

use crate::error::{Error, Result};
use crate::profile::{self, Mirror};
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
    /// A registry mirror to pull it from instead of the profile's image.
    pub pull_from: Option<Reference>,
    /// Which source answered (`registry`, a mirror, `oci:DIR`, an archive).
    pub source: String,
    /// What deserves attention (a carried Sigstore root that was refused).
    pub warnings: Vec<String>,
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
    /// refused unless trusted. When the primary source fails (unreachable, refusing,
    /// stalling, not serving the tag) and the profile has mirrors, every mirror is tried
    /// and the freshest verified image (highest log index) wins, so that no mirror can
    /// hold an installation back; signatures must still name the profile's repository.
    pub(crate) async fn fetch_remote(&self, now: i64) -> Result<Remote> {
        let primary = self.fetch_primary(now).await;
        let primary_err = match primary {
            Ok(r) => return Ok(r),
            Err(e) if self.profile.mirrors.is_empty() || !falls_back(&e) => return Err(e),
            Err(e) => e,
        };
        let mut best: Option<Remote> = None;
        let mut attempts = vec![crate::error::SourceAttempt {
            source: self.primary_name(),
            error: primary_err.to_string(),
        }];
        for m in &self.profile.mirrors {
            match self.fetch_mirror(m, now).await {
                Ok(r) => {
                    let newer = best.as_ref().is_none_or(|b| {
                        r.decided.verdict.max_log_index > b.decided.verdict.max_log_index
                    });
                    if newer {
                        best = Some(r);
                    }
                }
                Err(e) => attempts.push(crate::error::SourceAttempt {
                    source: m.to_string(),
                    error: e.to_string(),
                }),
            }
        }
        best.ok_or(Error::NoSource { attempts })
    }

    /// How the primary source is named in reports.
    pub(crate) fn primary_name(&self) -> String {
        match &self.profile.source {
            profile::Source::Registry => self.profile.image.to_string(),
            profile::Source::Layout(dir) => format!("oci:{}", dir.display()),
        }
    }

    /// A registry mirror, or a layout one.
    async fn fetch_mirror(&self, mirror: &Mirror, now: i64) -> Result<Remote> {
        match mirror {
            Mirror::Registry(r) => {
                let mut remote = self.fetch_registry(r, now).await?;
                remote.pull_from = Some(r.clone());
                Ok(remote)
            }
            Mirror::Layout(dir) => self.fetch_layout(dir, now).await,
        }
    }

    /// The image from `image`'s registry (the profile's, or a mirror holding it under
    /// another name), decided on with the profile's trust.
    async fn fetch_registry(&self, image: &Reference, now: i64) -> Result<Remote> {
        self.follow_rotations(image, now).await?;
        let manifest = self.client.get_manifest(image).await?;
        let decided = crate::verify::verify_in_registry(
            &self.client,
            image,
            manifest.digest(),
            &self.trust(),
            now,
        )
        .await?;
        Ok(Remote {
            platform_digest: self.platform_of(&manifest, &image.to_string())?,
            decided,
            manifest,
            layout: None,
            pull_from: None,
            source: image.to_string(),
            warnings: Vec::new(),
        })
    }

    async fn fetch_primary(&self, now: i64) -> Result<Remote> {
        let image = &self.profile.image;
        match &self.profile.source {
            profile::Source::Registry => self.fetch_registry(image, now).await,
            profile::Source::Layout(dir) => self.fetch_layout(dir, now).await,
        }
    }

    /// The image from an OCI layout (the profile's source, or a mirror).
    async fn fetch_layout(&self, dir: &std::path::Path, now: i64) -> Result<Remote> {
        let image = &self.profile.image;
        let layout = OciLayout::open(dir).map_err(Error::layout(dir))?;
        let desc = layout
            .resolve(Some(image.tag().unwrap_or("latest")))
            .map_err(Error::layout(dir))?;
        let manifest = layout.read_manifest(&desc).map_err(Error::layout(dir))?;
        let entries = layout.index().map_err(Error::layout(dir))?.manifests;
        let what = format!("oci:{}", dir.display());
        self.decide_in_layout(layout, desc, manifest, &entries, now, &what)
            .await
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
        self.follow_rotations_in_layout(&layout, entries, now)?;
        let warnings = self.adopt_sigstore_roots_in_layout(&layout, entries)?;
        let source = Source::Layout {
            layout: &layout,
            entries,
        };
        let decided = latch_sources::decide(&source, &self.trust(), manifest.digest(), now).await?;
        let location = format!("{what}: {}.sig", manifest.digest().tag_form());
        let platform_digest = self.platform_of(&manifest, what)?;
        Ok(Remote {
            platform_digest,
            decided: accept(decided, &location)?,
            manifest,
            layout: Some((layout, desc)),
            pull_from: None,
            source: what.to_owned(),
            warnings,
        })
    }
}

/// Whether a failure of the primary source sends the updater to its mirrors: the
/// registry could not be reached, refused (401, 403, 429, 5xx), stalled, or did not
/// serve the image or its signatures; a layout that cannot be read. Not a refusal of
/// what it did serve (bad signatures, a rollback): that is the answer, not an outage.
pub(crate) fn falls_back(e: &Error) -> bool {
    use latch_registry::RegistryError as R;
    match e {
        Error::Registry(r) => match r {
            R::Unreachable { .. }
            | R::Transfer { .. }
            | R::Stalled { .. }
            | R::Unauthorized { .. }
            | R::NotFound { .. }
            | R::TooLarge { .. } => true,
            R::Status { status, .. } => matches!(status, 401 | 403 | 429) || *status >= 500,
            _ => false,
        },
        Error::Layout { .. } | Error::NoSignatures { .. } => true,
        _ => false,
    }
}
