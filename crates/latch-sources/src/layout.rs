//! Signatures in an OCI image layout: a mirror (a USB stick, a directory) whose
//! `index.json` names the `.sig` manifest as a registry tag would (`sha256-<hex>.sig`),
//! or a `cosign save` layout (an unpacked air-gap archive) whose entries carry a `kind`
//! annotation; cosign v3 signatures are the bundle referrer manifests listed among the
//! entries, as a registry would list referrers.

use latch_decide::{BundleCandidate, Candidates, Unusable, UnusableKind};
use latch_oci::manifest::ANNOTATION_REF_NAME;
use latch_oci::{Descriptor, Digest, OciLayout};
use latch_sigstore::cosign::{COSIGN_SIGN_PREDICATE, is_bundle_media_type};

use crate::registry::{referrer_bundle_layer, sigs_of};
use crate::{MAX_PAYLOAD_BYTES, MAX_REFERRERS, SourceError};

/// The annotation `cosign save` puts on index entries to say what they are.
pub const KIND_ANNOTATION: &str = "kind";
/// `kind` of the signed image manifest in a `cosign save` layout.
pub const KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
/// `kind` of a signed index.
pub const KIND_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
/// `kind` of the `.sig` manifest.
pub const KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";
/// `kind` of the `.att` manifest.
pub const KIND_ATTS: &str = "dev.cosignproject.cosign/atts";
/// `kind` Latch gives a cosign v3 signature (a Sigstore bundle referrer manifest) it
/// carries; its descriptor also keeps the bundle `artifactType`, as a registry lists it.
pub const KIND_BUNDLE: &str = "dev.sigstore.bundle";
/// `kind` of a key rotation trust document (docs/trust-rotation.md), carried so that an
/// installation can follow the releasers' key rotations without the registry.
pub const KIND_TRUST: &str = "dev.latch.trust";

fn layout_error(layout: &OciLayout) -> impl Fn(latch_oci::LayoutError) -> SourceError + '_ {
    move |source| SourceError::Layout {
        path: layout.root().display().to_string(),
        source,
    }
}

/// The legacy signatures of `digest` among `entries`: the manifest named
/// `sha256-<hex>.sig`, and every entry of kind [`KIND_SIGS`] (the decision refuses
/// signatures of another digest).
pub fn sigs(
    layout: &OciLayout,
    entries: &[Descriptor],
    digest: &Digest,
) -> Result<Candidates, SourceError> {
    let sig_name = format!("{}.sig", digest.tag_form());
    let mut out = Candidates::default();
    for d in entries {
        let named = d.annotation(ANNOTATION_REF_NAME) == Some(sig_name.as_str());
        let saved = d.annotation(KIND_ANNOTATION) == Some(KIND_SIGS);
        if !named && !saved {
            continue;
        }
        let location = format!("{}@{}", layout.root().display(), d.digest);
        let m = layout.read_manifest(d).map_err(layout_error(layout))?;
        let Some(image) = m.as_image() else {
            out.unusable.push(Unusable {
                location,
                what: UnusableKind::UnsupportedArtifact {
                    artifact_type: format!(
                        "{} (an index, not a signature manifest)",
                        m.media_type()
                    ),
                },
            });
            continue;
        };
        let mut blobs = Vec::new();
        for l in &image.layers {
            // A payload that cannot be read leaves its candidate saying so.
            if let Ok(b) = layout.read_blob(&l.digest, MAX_PAYLOAD_BYTES) {
                blobs.push((l.clone(), b));
            }
        }
        out.extend(sigs_of(image, &blobs, &location)?);
    }
    Ok(out)
}

/// The cosign v3 signatures of `digest`: artifact manifests of a bundle type listed among
/// `entries` whose subject is `digest` (at most [`MAX_REFERRERS`]); one that cannot be
/// read, or that is an attestation, is listed as unusable.
pub fn bundles(layout: &OciLayout, entries: &[Descriptor], digest: &Digest) -> Candidates {
    bundles_of(layout, entries, digest, &[COSIGN_SIGN_PREDICATE])
}

/// The bundle referrers of `digest` among `entries` whose predicate type is one of
/// `predicate_types` (image signatures, or provenance attestations).
pub(crate) fn bundles_of(
    layout: &OciLayout,
    entries: &[Descriptor],
    digest: &Digest,
    predicate_types: &[&str],
) -> Candidates {
    let mut out = Candidates::default();
    let listed = entries.iter().filter(|d| {
        d.media_type == latch_oci::media_types::OCI_MANIFEST
            && d.artifact_type.as_deref().is_some_and(is_bundle_media_type)
    });
    for d in listed.take(MAX_REFERRERS) {
        let location = format!("{}@{}", layout.root().display(), d.digest);
        let manifest = match layout.read_manifest(d) {
            Ok(m) => m,
            Err(e) => {
                out.unusable.push(Unusable {
                    location,
                    what: UnusableKind::Unreadable {
                        detail: e.to_string(),
                    },
                });
                continue;
            }
        };
        let layer = match referrer_bundle_layer(&manifest, digest, predicate_types, &location) {
            Ok(layer) => layer,
            // A referrer of another image in a mirror is not this image's business.
            Err(Unusable {
                what: UnusableKind::OtherSubject { .. },
                ..
            }) => continue,
            Err(u) => {
                out.unusable.push(u);
                continue;
            }
        };
        match layout.read_blob(&layer.digest, latch_sigstore::MAX_BUNDLE_BYTES as u64) {
            Ok(bytes) => out.bundles.push(BundleCandidate {
                location,
                manifest_digest: Some(d.digest.clone()),
                bytes,
            }),
            Err(e) => out.unusable.push(Unusable {
                location,
                what: UnusableKind::Unreadable {
                    detail: e.to_string(),
                },
            }),
        }
    }
    out
}
