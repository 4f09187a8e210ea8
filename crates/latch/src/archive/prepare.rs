//! `prepare-archive`: the image the profile follows, for one platform, verified exactly
//! as `upgrade` verifies it, with all its proof, as a `cosign save` layout in a tar.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use latch_decide::{CandidateKind, Verdict};
use latch_oci::manifest::ANNOTATION_REF_NAME;
use latch_oci::{Digest, ImageIndex, ManifestBytes, OciLayout, Platform};
use latch_registry::{NoProgress, Progress, PullOptions, RegistryError, pull_to_layout};
use latch_sources::Decided;
use serde::Serialize;

use super::unpack::image_only;
use super::write::write_tar;
use super::{KIND_ATTS, KIND_BUNDLE, KIND_IMAGE, KIND_INDEX, KIND_SIGS, Staging};
use crate::error::{Error, Result};
use crate::flows::remote::no_such_platform;
use crate::profile::Source as ProfileSource;
use crate::updater::Updater;
use crate::verify::{now_unix, verify_in_registry};

/// What `prepare-archive` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PrepareReport {
    /// The archive.
    pub output: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// sha256 of the archive file (to compare copies).
    pub archive_digest: Digest,
    /// The digest the signatures name (the platform manifest, or the index when only it
    /// is signed).
    pub digest: Digest,
    /// `image` or `imageIndex`.
    pub kind: &'static str,
    /// The platform carried.
    pub platform: String,
    /// Highest log index of the accepted signatures.
    pub log_index: Option<u64>,
    /// Signatures carried (the `.sig` manifest's layers as published, and the cosign v3
    /// signatures that were needed).
    pub signatures: usize,
    /// Whether attestations (`.att`) were carried.
    pub attestations: bool,
    /// The decision over the signatures carried.
    pub verdict: Verdict,
    /// What deserves attention: a Sigstore trusted root that could not be refreshed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Updater {
    /// Prepares an air-gap archive of the image the profile follows, for `platform`
    /// (default: the profile's), verified exactly as `upgrade` verifies. The archive is
    /// written to a temporary file and renamed into place only when complete.
    pub async fn prepare_archive(
        &self,
        platform: Option<&Platform>,
        output: &Path,
        force: bool,
        progress: &dyn Progress,
    ) -> Result<PrepareReport> {
        if !matches!(self.profile.source, ProfileSource::Registry) {
            return Err(Error::Invalid(
                "prepare-archive reads from a registry; this profile's source is a layout".into(),
            ));
        }
        let now = now_unix();
        let image = self.profile.image.clone();
        let platform = platform
            .cloned()
            .unwrap_or_else(|| self.profile.platform.clone());
        let client = &self.client;
        let mut warnings = self.refresh_sigstore_roots(now).await?;
        self.follow_rotations(&image, now).await?;
        let top = client.get_manifest(&image).await?;
        // Prefer the platform manifest's own signatures (Dangerzone's CI signs with
        // --recursive); else the index's, carrying the index and that one platform.
        let (subject, kind, decided): (ManifestBytes, &str, Decided) = match top.as_index() {
            Some(index) => {
                let desc = index
                    .require_platform(&platform, &image.to_string())
                    .map_err(no_such_platform)?;
                let platform_manifest = client
                    .get_manifest(&image.with_digest(desc.digest.clone()))
                    .await?;
                match verify_in_registry(client, &image, &desc.digest, &self.trust(), now).await {
                    Ok(d) => (platform_manifest, KIND_IMAGE, d),
                    Err(_) => {
                        let d =
                            verify_in_registry(client, &image, top.digest(), &self.trust(), now)
                                .await?;
                        (top.clone(), KIND_INDEX, d)
                    }
                }
            }
            None => {
                let d =
                    verify_in_registry(client, &image, top.digest(), &self.trust(), now).await?;
                (top.clone(), KIND_IMAGE, d)
            }
        };
        let state = self.store.state()?;
        // A rollback forced (`--force`) is said in the report, as `upgrade` says it.
        self.check_rollback(&state, &decided.verdict, force, &mut warnings)?;

        // Build the cosign-save layout in a staging directory beside the output.
        let parent = output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let staging = Staging(parent.join(format!(".latch-archive-{}", std::process::id())));
        let _ = fs::remove_dir_all(&staging.0);
        let layout = OciLayout::create(&staging.0).map_err(Error::layout(&staging.0))?;
        let pull_platform = (kind == KIND_INDEX).then(|| platform.clone());
        pull_to_layout(
            client,
            &image.with_digest(subject.digest().clone()),
            &layout,
            &PullOptions {
                platform: pull_platform,
                name: None,
            },
            progress,
        )
        .await?;
        if kind == KIND_INDEX {
            layout
                .write_blob(subject.bytes())
                .map_err(Error::layout(&staging.0))?;
        }
        let mut entries = Vec::new();
        let mut image_entry = subject.descriptor();
        image_entry.set_annotation(super::KIND_ANNOTATION, kind);
        image_entry.set_annotation(ANNOTATION_REF_NAME, &image.to_string());
        entries.push(image_entry);
        let mut signature_count = 0;
        let mut attestations = false;
        for (attached, entry_kind) in [
            (
                latch_sources::registry::sig_reference(&image, subject.digest()),
                KIND_SIGS,
            ),
            (
                latch_sources::registry::att_reference(&image, subject.digest()),
                KIND_ATTS,
            ),
        ] {
            match client.get_manifest(&attached).await {
                Ok(m) => {
                    pull_to_layout(
                        client,
                        &attached,
                        &layout,
                        &PullOptions::default(),
                        &NoProgress,
                    )
                    .await?;
                    if entry_kind == KIND_SIGS {
                        signature_count = m.as_image().map_or(0, |i| i.layers.len());
                    } else {
                        attestations = true;
                    }
                    let mut d = m.descriptor();
                    d.set_annotation(super::KIND_ANNOTATION, entry_kind);
                    entries.push(d);
                }
                Err(RegistryError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The key rotation versions followed, so that an installation that knows only
        // older keys can follow them offline (docs/trust-rotation.md).
        for envelope in self.in_force().succession.iter().flat_map(|s| s.chain()) {
            entries.push(
                latch_sources::trust_chain::write_trust_artifact(&layout, envelope)
                    .map_err(Error::layout(&staging.0))?,
            );
        }
        // The Sigstore trusted roots the decision read, with the TUF metadata that vouches
        // for them, so that an installation that never reaches the TUF repository can
        // adopt them (verified from its own initial TUF root).
        entries.extend(self.carry_sigstore_roots(&layout)?);
        // The cosign v3 signatures that were accepted, as the referrer manifests the
        // registry holds (bytes unchanged, so their digests still name them).
        let accepted_referrers = decided
            .verdict
            .accepted()
            .filter(|(o, _)| o.kind == CandidateKind::Bundle)
            .filter_map(|(o, _)| decided.candidates.bundles.get(o.index))
            .filter_map(|b| b.manifest_digest.clone());
        for manifest_digest in accepted_referrers {
            let at = image.repository_only().with_digest(manifest_digest);
            let m = client.get_manifest(&at).await?;
            pull_to_layout(client, &at, &layout, &PullOptions::default(), &NoProgress).await?;
            let mut d = m.descriptor();
            d.artifact_type = Some(latch_sigstore::cosign::BUNDLE_V03_MEDIA_TYPE.to_owned());
            d.set_annotation(super::KIND_ANNOTATION, KIND_BUNDLE);
            entries.push(d);
            signature_count += 1;
        }
        // The provenance attestation accepted, when it is a referrer (an `.att` manifest
        // is carried above).
        let accepted_attestation = decided
            .verdict
            .provenance
            .as_ref()
            .and_then(|p| p.accepted.as_ref())
            .and_then(|a| {
                decided
                    .candidates
                    .attestations
                    .iter()
                    .find(|c| c.location == a.location)
            })
            .and_then(|c| c.manifest_digest.clone());
        if let Some(manifest_digest) = accepted_attestation {
            let at = image.repository_only().with_digest(manifest_digest);
            let m = client.get_manifest(&at).await?;
            pull_to_layout(client, &at, &layout, &PullOptions::default(), &NoProgress).await?;
            let mut d = m.descriptor();
            d.artifact_type = Some(latch_sigstore::cosign::BUNDLE_V03_MEDIA_TYPE.to_owned());
            d.set_annotation(super::KIND_ANNOTATION, KIND_BUNDLE);
            entries.push(d);
            attestations = true;
        }
        let mut full = ImageIndex::empty();
        full.manifests = entries;
        let full_bytes = ManifestBytes::from_index(&full).into_bytes();
        let cut_bytes = ManifestBytes::from_index(&image_only(&full)).into_bytes();
        let tmp = parent.join(format!(
            ".{}.partial-{}",
            output
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("archive.tar"),
            std::process::id()
        ));
        let size = match write_tar(&tmp, &layout, &full_bytes, &cut_bytes) {
            Ok(s) => s,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        latch_oci::fsutil::durable_rename(&tmp, output).map_err(Error::io(output))?;
        let archive_digest = {
            let mut f = File::open(output).map_err(Error::io(output))?;
            let mut h = latch_oci::Algorithm::Sha256.hasher();
            io::copy(&mut f, &mut h).map_err(Error::io(output))?;
            h.finish()
        };
        Ok(PrepareReport {
            output: output.to_owned(),
            size,
            archive_digest,
            digest: subject.digest().clone(),
            kind: if kind == KIND_INDEX {
                "imageIndex"
            } else {
                "image"
            },
            platform: platform.to_string(),
            log_index: decided.verdict.max_log_index,
            signatures: signature_count,
            attestations,
            verdict: decided.verdict,
            warnings,
        })
    }
}
