//! Provenance attestations of an image, where they are published: cosign's
//! `sha256-<hex>.att` manifest (one DSSE envelope per layer, as slsa-github-generator
//! pushes them) and Sigstore bundle referrers with a SLSA predicate type (as GitHub's
//! `attest-build-provenance` pushes them); in a registry, or in a layout (a mirror, an
//! unpacked air-gap archive) that carries them the same way. Nothing is verified here.

use latch_decide::{AttestationCandidate, AttestationForm, Candidates, UnusableKind};
use latch_oci::manifest::ANNOTATION_REF_NAME;
use latch_oci::{Descriptor, Digest, OciLayout, Reference};
use latch_registry::Client;
use latch_sigstore::provenance::{SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02};

use crate::SourceError;
use crate::layout::{KIND_ANNOTATION, KIND_ATTS, bundles_of};
use crate::registry::{MAX_ATT_LAYERS, fetch_att_layers, fetch_bundles};
use latch_sigstore::cosign::DSSE_LAYER_MEDIA_TYPE;

/// The predicate types looked for.
pub const PROVENANCE_TYPES: [&str; 2] = [SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02];

/// The attestations beside `digest` in `repository`'s registry. What was found but
/// cannot be read is a candidate too (refused with its reason), so that a refusal never
/// says "none found" of something that was there.
pub async fn in_registry(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
) -> Result<Vec<AttestationCandidate>, SourceError> {
    of_types_in_registry(client, repository, digest, &PROVENANCE_TYPES).await
}

/// The attestations beside `digest` whose predicate type may be one of `predicate_types`:
/// every layer of the `.att` manifest (whose type is only known once verified), and the
/// bundle referrers that say they have one of those types.
pub async fn of_types_in_registry(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
    predicate_types: &[&str],
) -> Result<Vec<AttestationCandidate>, SourceError> {
    let mut out = Vec::new();
    let (layers, unusable) = fetch_att_layers(client, repository, digest).await?;
    for l in layers {
        out.push(AttestationCandidate {
            location: l.location,
            manifest_digest: None,
            form: AttestationForm::AttLayer {
                envelope: l.envelope,
                annotations: l.annotations,
            },
        });
    }
    for u in unusable {
        out.push(unreadable(u.location, &u.what));
    }
    let referrers = fetch_bundles(client, repository, digest, predicate_types).await?;
    from_bundles(referrers, &mut out);
    Ok(out)
}

/// The attestations of `digest` among a layout's `entries`: the `.att` manifest (named
/// `sha256-<hex>.att`, or of kind [`KIND_ATTS`]) and SLSA bundle referrers.
pub fn in_layout(
    layout: &OciLayout,
    entries: &[Descriptor],
    digest: &Digest,
) -> Vec<AttestationCandidate> {
    let mut out = Vec::new();
    let att_name = format!("{}.att", digest.tag_form());
    for d in entries {
        let named = d.annotation(ANNOTATION_REF_NAME) == Some(att_name.as_str());
        let saved = d.annotation(KIND_ANNOTATION) == Some(KIND_ATTS);
        if !named && !saved {
            continue;
        }
        let location = format!("{}@{}", layout.root().display(), d.digest);
        let image = match layout.read_manifest(d) {
            Ok(m) => match m.as_image() {
                Some(image) => image.clone(),
                None => {
                    out.push(unreadable_text(location, "an index, not an .att manifest"));
                    continue;
                }
            },
            Err(e) => {
                out.push(unreadable_text(location, &e.to_string()));
                continue;
            }
        };
        for (i, layer) in image.layers.iter().take(MAX_ATT_LAYERS).enumerate() {
            let at = format!("{location} layer {i}");
            if layer.media_type != DSSE_LAYER_MEDIA_TYPE {
                out.push(unreadable_text(
                    at,
                    &format!(
                        "a layer of type {}",
                        latch_oci::text::clip(&layer.media_type, 200)
                    ),
                ));
                continue;
            }
            match layout.read_blob(&layer.digest, latch_sigstore::MAX_BUNDLE_BYTES as u64) {
                Ok(envelope) => out.push(AttestationCandidate {
                    location: at,
                    manifest_digest: None,
                    form: AttestationForm::AttLayer {
                        envelope,
                        annotations: layer.annotations.clone().unwrap_or_default(),
                    },
                }),
                Err(e) => out.push(unreadable_text(at, &e.to_string())),
            }
        }
    }
    from_bundles(
        bundles_of(layout, entries, digest, &PROVENANCE_TYPES),
        &mut out,
    );
    out
}

/// Bundle candidates as attestations; unusable finds that are attestations of another
/// kind or image signatures are not this requirement's business.
fn from_bundles(found: Candidates, out: &mut Vec<AttestationCandidate>) {
    for b in found.bundles {
        out.push(AttestationCandidate {
            location: b.location,
            manifest_digest: b.manifest_digest,
            form: AttestationForm::Bundle(b.bytes),
        });
    }
    for u in found.unusable {
        if matches!(
            u.what,
            UnusableKind::Unreadable { .. } | UnusableKind::OtherSubject { .. }
        ) {
            out.push(unreadable(u.location, &u.what));
        }
    }
}

fn unreadable(location: String, what: &UnusableKind) -> AttestationCandidate {
    unreadable_text(location, &what.to_string())
}

fn unreadable_text(location: String, detail: &str) -> AttestationCandidate {
    AttestationCandidate {
        location,
        manifest_digest: None,
        form: AttestationForm::Unreadable(detail.to_owned()),
    }
}
