//! Finding an image's signatures: the cosign `sha256-<hex>.sig` manifest in the registry.

use latch_oci::{Descriptor, Digest, Reference};
use latch_registry::{Client, RegistryError};
use latch_trust::{Candidate, signatures_from_manifest};

use crate::error::{Error, Result};

/// Bound on one signature payload blob (a simple-signing payload is a few hundred bytes).
pub const MAX_PAYLOAD_BYTES: u64 = 1024 * 1024;

/// The `.sig` tag of `digest` in `repository` (cosign's tag scheme).
pub fn sig_reference(repository: &Reference, digest: &Digest) -> Result<Reference> {
    Ok(repository.with_tag(&format!("{}.sig", digest.tag_form()))?)
}

/// Fetches the signatures of `digest` from the `.sig` manifest next to it. An absent
/// manifest gives no signatures (an empty list), not an error; the caller decides. Each
/// layer's payload is fetched bounded and verified against its digest; a layer that cannot
/// be fetched becomes a rejected entry, not a failure of the whole list.
pub async fn fetch_signatures(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
) -> Result<Vec<Candidate>> {
    let sig_ref = sig_reference(repository, digest)?;
    let manifest = match client.get_manifest(&sig_ref).await {
        Ok(m) => m,
        Err(RegistryError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let image = manifest.as_image().ok_or_else(|| {
        Error::Invalid(format!(
            "{sig_ref} is an index, not a cosign signature manifest"
        ))
    })?;
    let location = sig_ref.to_string();
    // Refuse an oversized list before fetching anything.
    signatures_from_manifest(image, &[]).map_err(|source| Error::BadSignatures {
        location: location.clone(),
        source,
    })?;
    let mut blobs: Vec<(Descriptor, Vec<u8>)> = Vec::new();
    for layer in &image.layers {
        if blobs.iter().any(|(d, _)| d.digest == layer.digest) {
            continue;
        }
        match client
            .get_blob_bytes(&sig_ref, layer, MAX_PAYLOAD_BYTES)
            .await
        {
            Ok(bytes) => blobs.push((layer.clone(), bytes)),
            // A layer too large, absent or corrupt is that signature's problem only.
            Err(RegistryError::TooLarge { .. })
            | Err(RegistryError::NotFound { .. })
            | Err(RegistryError::DigestMismatch { .. })
            | Err(RegistryError::SizeMismatch { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    signatures_from_manifest(image, &blobs)
        .map_err(|source| Error::BadSignatures { location, source })
}

/// Bound on the referrers examined for one image.
pub const MAX_REFERRERS: usize = 64;

/// A Sigstore bundle found as an OCI referrer of an image (cosign v3 signatures, GitHub
/// attestations; FORMATS.md 5.6, 5.7). Its bytes match the digest the referrer manifest
/// names; nothing in it is verified yet.
#[derive(Debug, Clone)]
pub struct FetchedBundle {
    /// `<repository>@<referrer manifest digest>`, for messages.
    pub location: String,
    /// The referrer manifest's digest.
    pub manifest_digest: Digest,
    /// The `dev.sigstore.bundle.predicateType` annotation, if any (unverified: only
    /// used to choose what to fetch).
    pub predicate_type: Option<String>,
    /// The bundle document.
    pub bytes: Vec<u8>,
}

/// The bundles found beside an image, and the referrers passed over (with why).
#[derive(Debug, Clone, Default)]
pub struct Referrers {
    /// Bundles fetched.
    pub bundles: Vec<FetchedBundle>,
    /// Referrers that were bundles by their descriptor but could not be used: `location:
    /// why`.
    pub skipped: Vec<String>,
}

/// Finds the Sigstore bundles that refer to `digest`: the referrers API, or the
/// `sha256-<hex>` tag index on registries without it (`Client::referrers`). Referrers
/// whose artifact type is not a bundle are ignored; with `predicate_types`, so are those
/// whose predicate-type annotation names another type. Each referrer manifest must have
/// `digest` as its subject; its first bundle layer is fetched bounded and checked against
/// its digest. A referrer that fails this is listed in `skipped`, not fatal.
pub async fn fetch_bundles(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
    predicate_types: Option<&[&str]>,
) -> Result<Referrers> {
    use latch_sigstore::cosign::{BUNDLE_PREDICATE_TYPE_ANNOTATION, is_bundle_media_type};
    let descriptors = client.referrers(repository, digest, None).await?;
    let mut out = Referrers::default();
    let type_wanted = |t: Option<&str>| match (predicate_types, t) {
        (Some(types), Some(t)) => types.contains(&t),
        _ => true,
    };
    // cosign 2.5 (go-containerregistry) writes the tag-fallback descriptor with the
    // config's media type (`application/vnd.oci.empty.v1+json`) as its artifactType and
    // without annotations, although the manifest itself says the bundle type: such
    // descriptors are fetched and judged by the manifest.
    let wanted = descriptors.into_iter().filter(|d| {
        let maybe_bundle = match d.artifact_type.as_deref() {
            None => true,
            Some(t) => is_bundle_media_type(t) || t == latch_oci::media_types::OCI_EMPTY,
        };
        maybe_bundle && type_wanted(d.annotation(BUNDLE_PREDICATE_TYPE_ANNOTATION))
    });
    for desc in wanted.take(MAX_REFERRERS) {
        let at = repository
            .repository_only()
            .with_digest(desc.digest.clone());
        let location = at.to_string();
        let manifest = match client.get_manifest(&at).await {
            Ok(m) => m,
            Err(
                e @ (RegistryError::NotFound { .. }
                | RegistryError::TooLarge { .. }
                | RegistryError::DigestMismatch { .. }
                | RegistryError::BadResponse { .. }),
            ) => {
                out.skipped.push(format!("{location}: {e}"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let Some(image) = manifest.as_image() else {
            out.skipped
                .push(format!("{location}: an index, not an artifact manifest"));
            continue;
        };
        if image.subject.as_ref().map(|s| &s.digest) != Some(digest) {
            out.skipped
                .push(format!("{location}: its subject is not {digest}"));
            continue;
        }
        if !image
            .artifact_type
            .as_deref()
            .is_some_and(is_bundle_media_type)
        {
            // Another kind of referrer (an SBOM, a signature of another format): not ours.
            continue;
        }
        let predicate_type = image
            .annotations
            .as_ref()
            .and_then(|a| a.get(BUNDLE_PREDICATE_TYPE_ANNOTATION))
            .cloned()
            .or_else(|| {
                desc.annotation(BUNDLE_PREDICATE_TYPE_ANNOTATION)
                    .map(str::to_owned)
            });
        if !type_wanted(predicate_type.as_deref()) {
            continue;
        }
        let Some(layer) = image
            .layers
            .iter()
            .find(|l| is_bundle_media_type(&l.media_type))
        else {
            out.skipped.push(format!("{location}: no bundle layer"));
            continue;
        };
        match client
            .get_blob_bytes(&at, layer, latch_sigstore::MAX_BUNDLE_BYTES as u64)
            .await
        {
            Ok(bytes) => out.bundles.push(FetchedBundle {
                location,
                manifest_digest: desc.digest.clone(),
                predicate_type,
                bytes,
            }),
            Err(
                e @ (RegistryError::TooLarge { .. }
                | RegistryError::NotFound { .. }
                | RegistryError::DigestMismatch { .. }
                | RegistryError::SizeMismatch { .. }),
            ) => {
                out.skipped.push(format!("{location}: {e}"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The cosign v3 signatures of `digest` that verify: each bundle of `referrers` is
/// verified over the digest (a DSSE `sign/v1` statement naming it) by one of `signers`,
/// with the transparency log as `tlog` requires. Pure; returns every outcome.
pub fn verify_bundle_signatures(
    root: &latch_sigstore::TrustRoot,
    digest: &Digest,
    referrers: &Referrers,
    signers: &[latch_sigstore::Signer],
    tlog: latch_sigstore::TlogRequirement,
) -> BundleSignatures {
    let mut out = BundleSignatures::default();
    let Ok(raw) = digest_bytes(digest) else {
        out.rejected.push((
            digest.to_string(),
            "cosign v3 signatures name sha256 digests only".into(),
        ));
        return out;
    };
    for b in &referrers.bundles {
        match verify_image_bundle(root, raw, b, signers, tlog) {
            Ok(v) => out.accepted.push(v),
            Err(e) => out.rejected.push((b.location.clone(), e.to_string())),
        }
    }
    out
}

/// Verifies one bundle as a cosign v3 signature of the image whose sha256 is `digest`:
/// the bundle verifies for one of `signers` under `root` and `tlog`, holds a DSSE
/// envelope, and its statement is a `sign/v1` statement with the digest as a subject.
pub fn verify_image_bundle(
    root: &latch_sigstore::TrustRoot,
    digest: [u8; 32],
    bundle: &FetchedBundle,
    signers: &[latch_sigstore::Signer],
    tlog: latch_sigstore::TlogRequirement,
) -> std::result::Result<latch_sigstore::BundleVerification, latch_sigstore::Error> {
    let v = latch_sigstore::verify_bundle(
        root,
        &bundle.bytes,
        &bundle.location,
        latch_sigstore::Artifact::Sha256(digest),
        signers,
        tlog,
    )?;
    let statement = v.require_statement()?;
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    latch_sigstore::cosign::check_image_signature(
        statement,
        &format!("sha256:{hex}"),
        &bundle.location,
    )?;
    Ok(v)
}

/// What [`verify_bundle_signatures`] found.
#[derive(Debug, Clone, Default)]
pub struct BundleSignatures {
    /// The bundles that verified.
    pub accepted: Vec<latch_sigstore::BundleVerification>,
    /// The others: `(location, why)`.
    pub rejected: Vec<(String, String)>,
}

/// The 32 bytes of a sha256 digest.
pub(crate) fn digest_bytes(digest: &Digest) -> std::result::Result<[u8; 32], ()> {
    if digest.algorithm() != latch_oci::Algorithm::Sha256 {
        return Err(());
    }
    let hex = digest.hex();
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or(())?, 16).map_err(|_| ())?;
    }
    Ok(out)
}

/// Attaches a Sigstore bundle to the image `subject` as an OCI referrer, as cosign v3 and
/// GitHub's `attest-build-provenance` do (FORMATS.md 5.6, 5.7): an artifact manifest
/// (`artifactType` = the bundle media type, empty config, one layer, `subject`,
/// annotations `dev.sigstore.bundle.content`/`.predicateType`/`created`), then the
/// `sha256-<hex>` tag index updated with its descriptor (always: `Client::put_manifest`
/// does not report `OCI-Subject`, so a registry with the referrers API gets the tag too,
/// which is harmless). The index is read, extended and written back without a lock:
/// concurrent writers may lose an entry (as with cosign).
/// Returns the artifact manifest's digest.
pub async fn attach_bundle(
    client: &Client,
    repository: &Reference,
    subject: &Descriptor,
    bundle: &[u8],
    predicate_type: &str,
    created: &str,
) -> Result<Digest> {
    use latch_oci::{ImageIndex, ImageManifest, ManifestBytes, media_types as mt};
    use latch_sigstore::cosign::{
        BUNDLE_CONTENT_ANNOTATION, BUNDLE_PREDICATE_TYPE_ANNOTATION, BUNDLE_V03_MEDIA_TYPE,
    };
    let repo = repository.repository_only();
    let config = client
        .push_blob_bytes(&repo, mt::OCI_EMPTY, bytes::Bytes::from_static(b"{}"))
        .await?;
    let layer = client
        .push_blob_bytes(
            &repo,
            BUNDLE_V03_MEDIA_TYPE,
            bytes::Bytes::copy_from_slice(bundle),
        )
        .await?;
    let annotations = std::collections::BTreeMap::from([
        (
            "org.opencontainers.image.created".to_owned(),
            created.to_owned(),
        ),
        (
            BUNDLE_CONTENT_ANNOTATION.to_owned(),
            "dsse-envelope".to_owned(),
        ),
        (
            BUNDLE_PREDICATE_TYPE_ANNOTATION.to_owned(),
            predicate_type.to_owned(),
        ),
    ]);
    let manifest = ManifestBytes::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(mt::OCI_MANIFEST.to_owned()),
        artifact_type: Some(BUNDLE_V03_MEDIA_TYPE.to_owned()),
        config,
        layers: vec![layer],
        subject: Some(Descriptor {
            annotations: None,
            platform: None,
            ..subject.clone()
        }),
        annotations: Some(annotations.clone()),
    });
    let digest = client
        .put_manifest(&repo, &manifest.digest().to_string(), &manifest)
        .await?;
    let tag = subject.digest.tag_form();
    let tag_ref = repo.with_tag(&tag)?;
    let mut index = match client.get_manifest(&tag_ref).await {
        Ok(m) => m.as_index().cloned().ok_or_else(|| {
            Error::Invalid(format!("{tag_ref} exists and is not a referrers index"))
        })?,
        Err(RegistryError::NotFound { .. }) => ImageIndex::empty(),
        Err(e) => return Err(e.into()),
    };
    let mut desc = manifest.descriptor();
    desc.artifact_type = Some(BUNDLE_V03_MEDIA_TYPE.to_owned());
    desc.annotations = Some(annotations);
    index.manifests.retain(|d| d.digest != desc.digest);
    index.manifests.push(desc);
    client
        .put_manifest(&repo, &tag, &ManifestBytes::from_index(&index))
        .await?;
    Ok(digest)
}
