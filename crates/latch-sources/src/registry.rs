//! Signatures beside an image in its registry: the cosign `.sig` manifest (one layer per
//! signature), the `.att` manifest (one DSSE envelope per layer), and Sigstore bundles
//! found as OCI referrers (the referrers API, or the `sha256-<hex>` tag index on
//! registries without it: FORMATS.md 5.6, 5.7). Fetch only, bounded, every blob checked
//! against its digest; a find that cannot be used is reported as what it is.

use std::collections::BTreeMap;

use latch_decide::{BundleCandidate, Candidates, Unusable, UnusableKind};
use latch_oci::{Descriptor, Digest, ImageManifest, ManifestBytes, Reference};
use latch_registry::{Client, RegistryError};
use latch_sigstore::cosign::{
    BUNDLE_PREDICATE_TYPE_ANNOTATION, COSIGN_SIGN_PREDICATE, DSSE_LAYER_MEDIA_TYPE,
    is_bundle_media_type,
};
use latch_trust::{SignatureParseError, signatures_from_manifest};

use crate::{MAX_PAYLOAD_BYTES, MAX_REFERRERS, SourceError};

/// Bound on the `.att` layers examined.
pub const MAX_ATT_LAYERS: usize = 64;

/// The `.sig` tag of `digest` in `repository` (cosign's tag scheme): `sha256-<hex>.sig`.
pub fn sig_reference(repository: &Reference, digest: &Digest) -> Reference {
    attached(repository, digest, "sig")
}

/// The `.att` tag of `digest` in `repository`: `sha256-<hex>.att`.
pub fn att_reference(repository: &Reference, digest: &Digest) -> Reference {
    attached(repository, digest, "att")
}

fn attached(repository: &Reference, digest: &Digest, suffix: &str) -> Reference {
    // A digest's tag form is always a valid tag (`sha256-` + hex + `.sig`, 75 characters).
    repository
        .repository_only()
        .with_tag(&format!("{}.{suffix}", digest.tag_form()))
        .unwrap_or_else(|_| repository.with_digest(digest.clone()))
}

/// The manifest at `reference`, or `None` when the registry has none.
pub async fn get_optional_manifest(
    client: &Client,
    reference: &Reference,
) -> Result<Option<ManifestBytes>, RegistryError> {
    match client.get_manifest(reference).await {
        Ok(m) => Ok(Some(m)),
        Err(RegistryError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a blob fetch failed because of that blob (absent, too large, corrupt), which
/// makes that one find unusable, rather than because the registry is unreachable.
fn blob_problem(e: &RegistryError) -> bool {
    matches!(
        e,
        RegistryError::TooLarge { .. }
            | RegistryError::NotFound { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::SizeMismatch { .. }
            | RegistryError::BadResponse { .. }
    )
}

/// The legacy signatures of `digest`, from the `.sig` manifest beside it. No manifest
/// gives no candidates; a `.sig` tag holding an index is reported as unusable; a layer
/// whose payload cannot be fetched becomes a refused candidate, not a failure of the list.
pub async fn fetch_sigs(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
) -> Result<Candidates, SourceError> {
    let sig_ref = sig_reference(repository, digest);
    let location = sig_ref.to_string();
    let Some(manifest) = get_optional_manifest(client, &sig_ref).await? else {
        return Ok(Candidates::default());
    };
    let Some(image) = manifest.as_image() else {
        return Ok(unusable(
            &location,
            UnusableKind::UnsupportedArtifact {
                artifact_type: format!(
                    "{} (an index, not a signature manifest)",
                    manifest.media_type()
                ),
            },
        ));
    };
    let (blobs, failed) = fetch_payloads(client, &sig_ref, image).await?;
    let mut found = sigs_of(image, &blobs, &location)?;
    // A payload that could not be fetched is refused for what was wrong with it.
    for c in &mut found.sigs {
        if let Err(SignatureParseError::MissingBlob { digest }) = &c.signature
            && let Some((_, reason)) = failed.iter().find(|(d, _)| d == digest)
        {
            c.signature = Err(SignatureParseError::BlobUnavailable {
                digest: digest.clone(),
                reason: reason.clone(),
            });
        }
    }
    Ok(found)
}

/// Each layer's payload, bounded and checked against its digest; layers that cannot be
/// fetched are left out, with why (their candidates then say so).
#[allow(clippy::type_complexity)]
async fn fetch_payloads(
    client: &Client,
    at: &Reference,
    image: &ImageManifest,
) -> Result<(Vec<(Descriptor, Vec<u8>)>, Vec<(Digest, String)>), SourceError> {
    // Refuse an oversized list before fetching anything.
    signatures_from_manifest(image, &[]).map_err(|source| SourceError::Signatures {
        location: at.to_string(),
        source,
    })?;
    let mut blobs: Vec<(Descriptor, Vec<u8>)> = Vec::new();
    let mut failed: Vec<(Digest, String)> = Vec::new();
    for layer in &image.layers {
        if blobs.iter().any(|(d, _)| d.digest == layer.digest)
            || failed.iter().any(|(d, _)| *d == layer.digest)
        {
            continue;
        }
        match client.get_blob_bytes(at, layer, MAX_PAYLOAD_BYTES).await {
            Ok(bytes) => blobs.push((layer.clone(), bytes)),
            Err(e) if blob_problem(&e) => failed.push((
                layer.digest.clone(),
                latch_oci::text::clip(&e.to_string(), 400),
            )),
            Err(e) => return Err(e.into()),
        }
    }
    Ok((blobs, failed))
}

/// The candidates of a `.sig` manifest whose payloads are `blobs` (shared with layouts).
pub(crate) fn sigs_of(
    image: &ImageManifest,
    blobs: &[(Descriptor, Vec<u8>)],
    location: &str,
) -> Result<Candidates, SourceError> {
    let sigs =
        signatures_from_manifest(image, blobs).map_err(|source| SourceError::Signatures {
            location: location.to_owned(),
            source,
        })?;
    Ok(Candidates::from_sigs(location, sigs))
}

fn unusable(location: &str, what: UnusableKind) -> Candidates {
    Candidates {
        unusable: vec![Unusable {
            location: location.to_owned(),
            what,
        }],
        ..Candidates::default()
    }
}

/// The cosign v3 signatures of `digest`: bundle referrers whose predicate type is
/// cosign's `sign/v1`. Attestations and other artifacts found among the referrers are
/// listed as unusable, so that an image carrying only those is refused for what it
/// carries.
pub async fn fetch_signature_bundles(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
) -> Result<Candidates, SourceError> {
    fetch_bundles(client, repository, digest, &[COSIGN_SIGN_PREDICATE]).await
}

/// The Sigstore bundles that refer to `digest` with one of `predicate_types` (by the
/// referrer's predicate-type annotation, which is unverified and only chooses what to
/// fetch; the statement inside is what counts). Each referrer manifest must have `digest`
/// as its subject; its first bundle layer is fetched bounded and checked against its
/// digest. At most [`MAX_REFERRERS`] referrers are examined.
pub async fn fetch_bundles(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
    predicate_types: &[&str],
) -> Result<Candidates, SourceError> {
    let descriptors = client.referrers(repository, digest, None).await?;
    let mut out = Candidates::default();
    for desc in descriptors.into_iter().take(MAX_REFERRERS) {
        let at = repository
            .repository_only()
            .with_digest(desc.digest.clone());
        let location = at.to_string();
        // cosign 2.5 (go-containerregistry) writes the tag-fallback descriptor with the
        // config's media type (`application/vnd.oci.empty.v1+json`) as its artifactType
        // and without annotations, although the manifest itself says the bundle type:
        // such descriptors are fetched and judged by the manifest.
        let listed = desc.artifact_type.as_deref();
        if let Some(t) = listed
            && !is_bundle_media_type(t)
            && t != latch_oci::media_types::OCI_EMPTY
        {
            out.unusable.push(Unusable {
                location,
                what: UnusableKind::UnsupportedArtifact {
                    artifact_type: latch_oci::text::clip(t, 200),
                },
            });
            continue;
        }
        if let Some(pt) = desc.annotation(BUNDLE_PREDICATE_TYPE_ANNOTATION)
            && !predicate_types.contains(&pt)
        {
            out.unusable.push(Unusable {
                location,
                what: UnusableKind::NotASignature {
                    predicate_type: latch_oci::text::clip(pt, 200),
                },
            });
            continue;
        }
        let manifest = match client.get_manifest(&at).await {
            Ok(m) => m,
            Err(e) if blob_problem(&e) => {
                out.unusable.push(unreadable(&location, &e));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let layer = match referrer_bundle_layer(&manifest, digest, predicate_types, &location) {
            Ok(layer) => layer,
            Err(u) => {
                out.unusable.push(u);
                continue;
            }
        };
        match client
            .get_blob_bytes(&at, layer, latch_sigstore::MAX_BUNDLE_BYTES as u64)
            .await
        {
            Ok(bytes) => out.bundles.push(BundleCandidate {
                location,
                manifest_digest: Some(desc.digest.clone()),
                bytes,
            }),
            Err(e) if blob_problem(&e) => out.unusable.push(unreadable(&location, &e)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn unreadable(location: &str, e: &dyn std::fmt::Display) -> Unusable {
    Unusable {
        location: location.to_owned(),
        what: UnusableKind::Unreadable {
            detail: latch_oci::text::clip(&e.to_string(), 400),
        },
    }
}

/// The bundle layer of a referrer manifest, checked: an artifact manifest of a bundle
/// type, about `digest`, with one of `predicate_types` when it names one, holding a
/// bundle layer. Shared with layouts.
pub(crate) fn referrer_bundle_layer<'m>(
    manifest: &'m ManifestBytes,
    digest: &Digest,
    predicate_types: &[&str],
    location: &str,
) -> Result<&'m Descriptor, Unusable> {
    let un = |what| Unusable {
        location: location.to_owned(),
        what,
    };
    let Some(image) = manifest.as_image() else {
        return Err(un(UnusableKind::Unreadable {
            detail: "an index, not an artifact manifest".into(),
        }));
    };
    match image.subject.as_ref().map(|s| &s.digest) {
        Some(s) if s == digest => {}
        other => {
            return Err(un(UnusableKind::OtherSubject {
                subject: other.map_or("nothing".to_owned(), |d| d.to_string()),
            }));
        }
    }
    let artifact_type = image.artifact_type.as_deref().unwrap_or("none");
    if !is_bundle_media_type(artifact_type) {
        return Err(un(UnusableKind::UnsupportedArtifact {
            artifact_type: latch_oci::text::clip(artifact_type, 200),
        }));
    }
    let predicate_type = image
        .annotations
        .as_ref()
        .and_then(|a| a.get(BUNDLE_PREDICATE_TYPE_ANNOTATION));
    if let Some(pt) = predicate_type
        && !predicate_types.contains(&pt.as_str())
    {
        return Err(un(UnusableKind::NotASignature {
            predicate_type: latch_oci::text::clip(pt, 200),
        }));
    }
    image
        .layers
        .iter()
        .find(|l| is_bundle_media_type(&l.media_type))
        .ok_or_else(|| {
            un(UnusableKind::Unreadable {
                detail: "no bundle layer".into(),
            })
        })
}

/// One `.att` layer: its location, the DSSE envelope, and the layer's annotations.
#[derive(Debug, Clone)]
pub struct AttLayer {
    /// `<repository>:sha256-<hex>.att layer <i>`.
    pub location: String,
    /// The DSSE envelope (the layer blob).
    pub envelope: Vec<u8>,
    /// The layer's annotations (certificate, Rekor bundle…).
    pub annotations: BTreeMap<String, String>,
}

/// The layers of the `.att` manifest of `digest` (at most [`MAX_ATT_LAYERS`]), and what
/// was found there that is not usable. An absent manifest gives none.
pub async fn fetch_att_layers(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
) -> Result<(Vec<AttLayer>, Vec<Unusable>), SourceError> {
    let att = att_reference(repository, digest);
    let Some(manifest) = get_optional_manifest(client, &att).await? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut unusable_found = Vec::new();
    let Some(image) = manifest.as_image() else {
        unusable_found.push(Unusable {
            location: att.to_string(),
            what: UnusableKind::Unreadable {
                detail: "an index, not a cosign attestation manifest".into(),
            },
        });
        return Ok((Vec::new(), unusable_found));
    };
    let mut out = Vec::new();
    for (i, layer) in image.layers.iter().take(MAX_ATT_LAYERS).enumerate() {
        let location = format!("{att} layer {i}");
        if layer.media_type != DSSE_LAYER_MEDIA_TYPE {
            unusable_found.push(Unusable {
                location,
                what: UnusableKind::UnsupportedArtifact {
                    artifact_type: latch_oci::text::clip(&layer.media_type, 200),
                },
            });
            continue;
        }
        match client
            .get_blob_bytes(&att, layer, latch_sigstore::MAX_BUNDLE_BYTES as u64)
            .await
        {
            Ok(envelope) => out.push(AttLayer {
                location,
                envelope,
                annotations: layer.annotations.clone().unwrap_or_default(),
            }),
            Err(e) if blob_problem(&e) => unusable_found.push(unreadable(&location, &e)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok((out, unusable_found))
}
