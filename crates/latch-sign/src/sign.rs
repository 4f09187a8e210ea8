//! Signing an image: the simple-signing payload, the signature, optionally a Rekor entry,
//! and a new layer appended to the `sha256-<hex>.sig` manifest.
//!
//! The registry API has no compare-and-swap on a tag, so appending is optimistic
//! (`latch_sources::contention`): read the `.sig` manifest, build the new one with every
//! existing layer kept, check that the tag still has the digest read, `PUT`, wait a
//! moment, read it back, and start again if the new layer is not there (another signer
//! wrote in between). The loop is bounded.
//!
//! `.att` manifests and every other tag are never written.

use std::collections::BTreeMap;

use bytes::Bytes;
use latch_oci::media_types as mt;
use latch_oci::{Descriptor, Digest, ImageManifest, Manifest, ManifestBytes, Reference};
use latch_registry::{Client, RegistryError};
use latch_trust::signature::{ANNOTATION_BUNDLE, ANNOTATION_SIGNATURE, MAX_SIGNATURES};
use latch_trust::{Signature, SimpleSigning};
use serde::Serialize;

use crate::signer::{Signer, SignerError};
use crate::sigstore::cosign_config;
use crate::tlog::{TlogError, TlogUploader};
use latch_sources::contention::{Contention, tag_digest};
use latch_sources::registry::{get_optional_manifest, sig_reference};

/// Bound on nested indexes followed by a recursive signature.
const MAX_DEPTH: usize = 4;
/// Bound on manifests signed by one recursive signature.
const MAX_MANIFESTS: usize = 256;

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The image was named by tag only: a signature is for a digest.
    #[error(
        "{reference} names no digest; sign IMAGE@sha256:… (find the digest with `latch inspect`)"
    )]
    NoDigest {
        /// The reference given.
        reference: String,
    },
    /// A `-a key=value` annotation that cannot be used.
    #[error("annotation {key:?}: {reason}")]
    BadAnnotation {
        /// The key.
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// The annotations make the payload larger than the 1 MiB bound on payloads.
    #[error(
        "the payload would be {size} bytes, over the 1 MiB bound; use fewer or shorter annotations"
    )]
    PayloadTooLarge {
        /// Its size.
        size: usize,
    },
    /// A registry request failed.
    #[error("{doing} {location}: {source}")]
    Registry {
        /// What was being done.
        doing: &'static str,
        /// The reference concerned.
        location: String,
        /// The client's error.
        #[source]
        source: Box<RegistryError>,
    },
    /// The `.sig` tag holds something other than an image manifest; it is not overwritten.
    #[error(
        "{location} holds {media_type}, not a cosign signature manifest; refusing to overwrite it"
    )]
    NotASignatureManifest {
        /// The `.sig` reference.
        location: String,
        /// What it holds.
        media_type: String,
    },
    /// The `.sig` manifest already has the maximum number of signatures.
    #[error("{location} already holds {count} signatures (the bound is {max})")]
    TooManySignatures {
        /// The `.sig` reference.
        location: String,
        /// Layers present.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// Too many manifests under a recursive signature.
    #[error("{reference}: more than {max} manifests (or indexes nested deeper than {depth})")]
    TooManyManifests {
        /// The image.
        reference: String,
        /// The bound on manifests.
        max: usize,
        /// The bound on depth.
        depth: usize,
    },
    /// The signer failed.
    #[error("signing with {signer}: {source}")]
    Signer {
        /// The signer's description.
        signer: String,
        /// Its error.
        #[source]
        source: SignerError,
    },
    /// The signer produced a signature its own public key does not verify.
    #[error(
        "the signature made by {signer} does not verify with its public key; nothing was published"
    )]
    SelfCheckFailed {
        /// The signer's description.
        signer: String,
    },
    /// An attestation's predicate or predicate type that cannot be used.
    #[error("{reason}")]
    BadPredicate {
        /// What is wrong.
        reason: String,
    },
    /// Attaching a bundle to the image failed (at most unreferenced blobs were written).
    #[error("attaching the bundle to {image}: {source}")]
    Attach {
        /// The image.
        image: String,
        /// Why.
        #[source]
        source: Box<latch_sources::SourceError>,
    },
    /// A bundle with a log entry did not verify as verifiers will check it (nothing was
    /// attached).
    #[error("the logged bundle does not verify: {detail}; nothing was attached")]
    LogCheckFailed {
        /// Why.
        detail: String,
    },
    /// The transparency log upload failed.
    #[error(transparent)]
    Tlog(#[from] TlogError),
    /// Other signers kept writing the `.sig` manifest.
    #[error(
        "{location} changed under every one of {attempts} attempts to add the signature; try again"
    )]
    Contended {
        /// The `.sig` reference.
        location: String,
        /// Attempts made.
        attempts: u32,
    },
}

/// How to sign.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// `optional` annotations of the payload (`-a key=value`), as strings.
    pub annotations: BTreeMap<String, String>,
    /// Sign an index and every manifest under it.
    pub recursive: bool,
    /// Log every signature here and attach the bundle.
    pub tlog: Option<TlogUploader>,
    /// How an append contended by other signers is retried ([`SignError::Contended`]).
    pub contention: Contention,
    /// Unix seconds, for checking a pinned log's `integratedTime`.
    pub now: i64,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            annotations: BTreeMap::new(),
            recursive: false,
            tlog: None,
            contention: Contention::default(),
            now: now_unix(),
        }
    }
}

/// The current time in unix seconds (0 if the clock is before 1970).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One manifest signed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SignedManifest {
    /// The manifest's digest (what the payload names).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its platform, for an entry of an index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The `docker-reference` signed.
    pub docker_reference: String,
    /// The `.sig` reference.
    pub signature_reference: String,
    /// Digest of the `.sig` manifest after the append.
    pub signature_manifest: Digest,
    /// Signatures in the `.sig` manifest after the append.
    pub signatures: usize,
    /// The key had already signed this exact payload: nothing was added.
    pub already_signed: bool,
    /// Attempts the append took.
    pub attempts: u32,
    /// Rekor log index, when logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<i64>,
}

/// What [`sign`] did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SignReport {
    /// The image (repository@digest).
    pub reference: String,
    /// The signer (algorithm and key id).
    pub signer: String,
    /// sha256 of the signer's public key DER.
    pub key_id: String,
    /// Each manifest signed, the one named first.
    pub signed: Vec<SignedManifest>,
}

/// Checks `-a` annotations: non-empty keys, and not `timestamp` (containers/image requires
/// `optional.timestamp` to be an integer; a string there makes skopeo and podman refuse
/// the signature).
pub fn check_annotations(annotations: &BTreeMap<String, String>) -> Result<(), SignError> {
    for key in annotations.keys() {
        if key.is_empty() {
            return Err(SignError::BadAnnotation {
                key: key.clone(),
                reason: "empty key",
            });
        }
        if key == "timestamp" {
            return Err(SignError::BadAnnotation {
                key: key.clone(),
                reason: "reserved: containers/image requires optional.timestamp to be an integer",
            });
        }
    }
    Ok(())
}

/// Parses `key=value` (as cosign's `-a`).
pub fn parse_annotation(s: &str) -> Result<(String, String), SignError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(SignError::BadAnnotation {
            key: s.chars().take(64).collect(),
            reason: "expected key=value",
        }),
    }
}

/// Signs `image` (which must name a digest) with `signer`: the manifest is fetched by
/// digest first (so a typo is not signed), then each manifest to sign gets a payload
/// naming the repository (cosign's `docker-reference`, no tag), a signature checked
/// against the signer's public key, an optional Rekor entry, and a layer appended to its
/// `.sig` manifest. Signing the same payload with the same key again adds nothing.
pub async fn sign(
    client: &Client,
    signer: &dyn Signer,
    image: &Reference,
    opts: &SignOptions,
) -> Result<SignReport, SignError> {
    let digest = image.digest().cloned().ok_or_else(|| SignError::NoDigest {
        reference: image.to_string(),
    })?;
    check_annotations(&opts.annotations)?;
    let repository = image.with_digest(digest.clone());
    let targets = collect_targets(client, &repository, &digest, opts.recursive).await?;
    let mut signed = Vec::with_capacity(targets.len());
    for target in targets {
        let mut one =
            sign_one(client, signer, &repository, &target.descriptor.digest, opts).await?;
        one.media_type = target.descriptor.media_type;
        one.platform = target.platform;
        signed.push(one);
    }
    Ok(SignReport {
        reference: repository.to_string(),
        signer: signer.describe(),
        key_id: signer.public_key().log_id().to_owned(),
        signed,
    })
}

/// A manifest to sign: its descriptor (media type, digest, size) and, for an entry of an
/// index, its platform.
pub(crate) struct Target {
    pub descriptor: Descriptor,
    pub platform: Option<String>,
}

/// The manifest `digest` names (fetched, so that a typo is not signed) and, when
/// `recursive`, every manifest under it, bounded.
pub(crate) async fn collect_targets(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
    recursive: bool,
) -> Result<Vec<Target>, SignError> {
    let fetch = |d: Digest| async move {
        let r = repository.with_digest(d);
        client
            .get_manifest(&r)
            .await
            .map_err(|source| SignError::Registry {
                doing: "fetching the manifest",
                location: r.to_string(),
                source: Box::new(source),
            })
    };
    let top = fetch(digest.clone()).await?;
    let mut out: Vec<Target> = vec![Target {
        descriptor: top.descriptor(),
        platform: None,
    }];
    if !recursive {
        return Ok(out);
    }
    let mut frontier: Vec<ManifestBytes> = vec![top];
    for _depth in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for m in &frontier {
            let Manifest::Index(index) = m.manifest() else {
                continue;
            };
            for d in &index.manifests {
                if out.iter().any(|seen| seen.descriptor.digest == d.digest) {
                    continue;
                }
                if out.len() >= MAX_MANIFESTS {
                    return Err(SignError::TooManyManifests {
                        reference: repository.to_string(),
                        max: MAX_MANIFESTS,
                        depth: MAX_DEPTH,
                    });
                }
                // Fetched by digest: the entry exists and its bytes are what the index names.
                let child = fetch(d.digest.clone()).await?;
                out.push(Target {
                    descriptor: child.descriptor(),
                    platform: d.platform.as_ref().map(|p| p.to_string()),
                });
                if child.as_index().is_some() {
                    next.push(child);
                }
            }
        }
        if next.is_empty() {
            return Ok(out);
        }
        frontier = next;
    }
    if frontier.iter().any(|m| m.as_index().is_some()) {
        return Err(SignError::TooManyManifests {
            reference: repository.to_string(),
            max: MAX_MANIFESTS,
            depth: MAX_DEPTH,
        });
    }
    Ok(out)
}

async fn sign_one(
    client: &Client,
    signer: &dyn Signer,
    repository: &Reference,
    digest: &Digest,
    opts: &SignOptions,
) -> Result<SignedManifest, SignError> {
    let docker_reference = repository.cosign_name();
    let mut payload = SimpleSigning::new(docker_reference.clone(), digest.clone());
    for (k, v) in &opts.annotations {
        payload = payload.with_annotation(k, v);
    }
    let payload = payload.to_bytes();
    let sig_ref = sig_reference(repository, digest);
    let location = sig_ref.to_string();
    let registry = |doing: &'static str| {
        let location = location.clone();
        move |source| SignError::Registry {
            doing,
            location,
            source: Box::new(source),
        }
    };

    // Already signed by this key with this exact payload (and logged, if asked)?
    let current = get_optional_manifest(client, &sig_ref)
        .await
        .map_err(registry("reading"))?;
    if let Some(m) = &current {
        let image = signature_image(m, &location)?;
        let payload_digest = Digest::sha256_of(&payload);
        let done = image.layers.iter().any(|l| {
            l.digest == payload_digest
                && (opts.tlog.is_none() || l.annotation(ANNOTATION_BUNDLE).is_some())
                && l.annotation(ANNOTATION_SIGNATURE)
                    .and_then(|s| {
                        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, s).ok()
                    })
                    .is_some_and(|s| signer.public_key().verify(&payload, &s).is_ok())
        });
        if done {
            return Ok(SignedManifest {
                digest: digest.clone(),
                media_type: String::new(),
                platform: None,
                docker_reference,
                signature_reference: location,
                signature_manifest: m.digest().clone(),
                signatures: image.layers.len(),
                already_signed: true,
                attempts: 0,
                log_index: None,
            });
        }
    }

    let raw = sign_checked(signer, &payload)?;
    let mut signature =
        Signature::new(payload.clone(), raw.clone()).map_err(|_| SignError::PayloadTooLarge {
            size: payload.len(),
        })?;
    let mut log_index = None;
    if let Some(tlog) = &opts.tlog {
        let bundle = tlog
            .upload(&payload, &raw, signer.public_key(), opts.now)
            .await?;
        log_index = Some(bundle.log_index());
        signature = signature.with_bundle(bundle);
    }
    let (layer, blob) = signature.to_layer();
    let (signature_manifest, signatures, attempts) = append_layer(
        client,
        &sig_ref,
        &location,
        &layer,
        &Bytes::from(blob),
        opts,
    )
    .await?;
    Ok(SignedManifest {
        digest: digest.clone(),
        media_type: String::new(),
        platform: None,
        docker_reference,
        signature_reference: location,
        signature_manifest,
        signatures,
        already_signed: false,
        attempts,
        log_index,
    })
}

/// Signs `message` with `signer` and checks the signature with its public key, so that
/// nothing a device got wrong is ever published.
pub(crate) fn sign_checked(signer: &dyn Signer, message: &[u8]) -> Result<Vec<u8>, SignError> {
    let signature = signer.sign(message).map_err(|source| SignError::Signer {
        signer: signer.describe(),
        source,
    })?;
    if signer.public_key().verify(message, &signature).is_err() {
        return Err(SignError::SelfCheckFailed {
            signer: signer.describe(),
        });
    }
    Ok(signature)
}

fn signature_image<'a>(
    m: &'a ManifestBytes,
    location: &str,
) -> Result<&'a ImageManifest, SignError> {
    m.as_image()
        .ok_or_else(|| SignError::NotASignatureManifest {
            location: location.to_owned(),
            media_type: m.media_type().to_owned(),
        })
}

fn same_layer(a: &Descriptor, b: &Descriptor) -> bool {
    a.digest == b.digest && a.annotation(ANNOTATION_SIGNATURE) == b.annotation(ANNOTATION_SIGNATURE)
}

/// Whether the registry refused a manifest because a blob it names is not (yet) visible:
/// distribution 2.8 does so transiently while another client commits the same blob (two
/// signers of one payload upload the same payload blob).
fn blob_unknown(e: &RegistryError) -> bool {
    matches!(e, RegistryError::Status { status: 400, detail: Some(d), .. } if d.contains("BLOB_UNKNOWN"))
}

/// Appends `layer` (whose blob is `payload`) to the `.sig` manifest at `sig_ref`, keeping
/// every layer there, until a read-back shows it. Returns the manifest digest read back,
/// its layer count and the attempts taken.
async fn append_layer(
    client: &Client,
    sig_ref: &Reference,
    location: &str,
    layer: &Descriptor,
    payload: &Bytes,
    opts: &SignOptions,
) -> Result<(Digest, usize, u32), SignError> {
    let registry = |doing: &'static str| {
        let location = location.to_owned();
        move |source| SignError::Registry {
            doing,
            location,
            source: Box::new(source),
        }
    };
    let tag = sig_ref.tag().map(str::to_owned).unwrap_or_default();
    let contention = opts.contention;
    for attempt in 1..=contention.attempts() {
        contention.pause(attempt).await;
        // Every attempt: the registry may not have kept a blob another client was
        // committing at the same moment.
        client
            .push_blob_bytes(sig_ref, mt::COSIGN_SIMPLE_SIGNING, payload.clone())
            .await
            .map_err(registry("uploading the payload to"))?;
        let current = get_optional_manifest(client, sig_ref)
            .await
            .map_err(registry("reading"))?;
        let (base, read_digest) = match &current {
            Some(m) => (
                Some(signature_image(m, location)?),
                Some(m.digest().clone()),
            ),
            None => (None, None),
        };
        let mut layers: Vec<Descriptor> = base.map(|b| b.layers.clone()).unwrap_or_default();
        if let Some(m) = &current
            && layers.iter().any(|l| same_layer(l, layer))
        {
            // Our layer is there already (a previous attempt landed after all).
            return Ok((m.digest().clone(), layers.len(), attempt));
        }
        if layers.len() >= MAX_SIGNATURES {
            return Err(SignError::TooManySignatures {
                location: location.to_owned(),
                count: layers.len(),
                max: MAX_SIGNATURES,
            });
        }
        layers.push(layer.clone());
        let config = cosign_config(&layers);
        let config_desc = client
            .push_blob_bytes(sig_ref, mt::OCI_CONFIG, Bytes::from(config))
            .await
            .map_err(registry("uploading the config to"))?;
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(mt::OCI_MANIFEST.to_owned()),
            artifact_type: base.and_then(|b| b.artifact_type.clone()),
            config: config_desc,
            layers,
            subject: base.and_then(|b| b.subject.clone()),
            annotations: base.and_then(|b| b.annotations.clone()),
        };
        let bytes = ManifestBytes::from_image(&manifest);

        // The compare half of compare-and-swap: is the tag still what was read?
        let now = tag_digest(client, sig_ref)
            .await
            .map_err(registry("checking"))?;
        if now != read_digest {
            continue;
        }
        match client.put_manifest(sig_ref, &tag, &bytes).await {
            Ok(_) => {}
            Err(e) if blob_unknown(&e) => continue,
            Err(e) => return Err(registry("writing")(e)),
        }

        contention.settle().await;
        let back = get_optional_manifest(client, sig_ref)
            .await
            .map_err(registry("reading back"))?;
        if let Some(m) = back {
            let image = signature_image(&m, location)?;
            if image.layers.iter().any(|l| same_layer(l, layer)) {
                return Ok((m.digest().clone(), image.layers.len(), attempt));
            }
        }
    }
    Err(SignError::Contended {
        location: location.to_owned(),
        attempts: contention.attempts(),
    })
}
