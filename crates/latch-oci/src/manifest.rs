//! OCI image manifests and indexes, Docker schema 2 manifests and manifest lists, and
//! image configs.
//!
//! A manifest is always kept with the exact bytes it came from ([`ManifestBytes`]):
//! its digest is the hash of those bytes, never of a re-serialisation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, DigestError};
use crate::media_types as mt;
use crate::platform::Platform;

/// Default bound on a manifest or any JSON document read from outside (4 MiB), as
/// distribution itself bounds manifests.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Bound on layers in one manifest and entries in one index (diffoci uses 4096 too).
pub const MAX_ENTRIES: usize = 4096;

/// Annotation naming a manifest in an OCI layout's index (`oci:DIR:name`).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation naming a layer's file (ORAS and OCI artifacts).
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// Annotation with an RFC 3339 creation time.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// A content descriptor: what a manifest or index says about a blob or manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size in bytes of the referenced content.
    pub size: u64,
    /// Alternative download locations (foreign layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform of an index entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type (referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Embedded base64 content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Descriptor {
    /// A descriptor for `bytes` of type `media_type`.
    pub fn for_bytes(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::sha256_of(bytes),
            size: bytes.len() as u64,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
            data: None,
        }
    }

    /// One annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// Sets one annotation.
    pub fn set_annotation(&mut self, key: &str, value: &str) {
        self.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.to_owned(), value.to_owned());
    }
}

/// An OCI image manifest or a Docker schema 2 manifest (same structure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// Media type (required by Docker, recommended by OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, base first.
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An OCI image index or a Docker manifest list (same structure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests.
    pub manifests: Vec<Descriptor>,
    /// Subject (referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ImageIndex {
    /// An empty OCI index.
    pub fn empty() -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(mt::OCI_INDEX.to_owned()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: None,
        }
    }

    /// The first entry whose platform satisfies `wanted`. Entries without a platform and
    /// BuildKit attestation manifests (`unknown/unknown`) never match.
    pub fn select_platform(&self, wanted: &Platform) -> Option<&Descriptor> {
        self.manifests.iter().find(|d| {
            d.platform.as_ref().is_some_and(|p| p.satisfies(wanted))
                && d.annotation("vnd.docker.reference.type") != Some("attestation-manifest")
        })
    }

    /// Platforms listed, in order (entries without a platform skipped).
    pub fn platforms(&self) -> Vec<&Platform> {
        self.manifests
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .collect()
    }

    /// [`ImageIndex::select_platform`], or an error naming `image`, the platform wanted
    /// and the platforms there are: the one platform selection every flow shares.
    pub fn require_platform(
        &self,
        wanted: &Platform,
        image: &str,
    ) -> Result<&Descriptor, NoSuchPlatform> {
        self.select_platform(wanted).ok_or_else(|| NoSuchPlatform {
            image: crate::text::clip(image, 300),
            platform: wanted.to_string(),
            available: self.platforms().iter().map(|p| p.to_string()).collect(),
        })
    }
}

/// An index has no image for the platform wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{image} has no image for platform {platform} (it has: {})", .available.join(", "))]
pub struct NoSuchPlatform {
    /// The image (or archive) whose index was read.
    pub image: String,
    /// The platform wanted.
    pub platform: String,
    /// The platforms the index lists.
    pub available: Vec<String>,
}

/// Either kind of manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// One image.
    Image(Box<ImageManifest>),
    /// An index of manifests.
    Index(Box<ImageIndex>),
}

/// Why bytes are not a manifest Latch accepts.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Over [`MAX_MANIFEST_BYTES`].
    #[error("manifest is {size} bytes, over the bound of {max}")]
    TooLarge {
        /// Size seen.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// Not JSON, or JSON of the wrong shape.
    #[error("manifest is not valid JSON of the expected shape: {0}")]
    Json(#[from] serde_json::Error),
    /// Docker schema 1, which is not content-addressable.
    #[error(
        "Docker schema 1 manifests are not supported (their digest does not cover the bytes served)"
    )]
    Schema1,
    /// `schemaVersion` other than 2.
    #[error("manifest schemaVersion is {0}, expected 2")]
    SchemaVersion(u64),
    /// A media type that is not a manifest or index.
    #[error("media type {0:?} is not an image manifest or index")]
    UnknownMediaType(String),
    /// The declared type does not fit the content (an index with layers, a manifest with
    /// manifests, or both).
    #[error("manifest declares {declared:?} but its content is {content}")]
    Ambiguous {
        /// Declared media type.
        declared: String,
        /// What the content looks like.
        content: &'static str,
    },
    /// Too many layers or entries.
    #[error("manifest has {count} entries, over the bound of {max}")]
    TooManyEntries {
        /// Count seen.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// The bytes do not hash to the expected digest.
    #[error("manifest bytes hash to {actual}, expected {expected}")]
    DigestMismatch {
        /// Expected digest.
        expected: Digest,
        /// Digest of the bytes received.
        actual: Digest,
    },
    /// A malformed digest.
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// The fields needed to classify a manifest before parsing it fully.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u64>,
    media_type: Option<String>,
    manifests: Option<serde::de::IgnoredAny>,
    layers: Option<serde::de::IgnoredAny>,
    config: Option<serde::de::IgnoredAny>,
    fs_layers: Option<serde::de::IgnoredAny>,
}

/// A manifest together with the exact bytes it was read from and their sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestBytes {
    bytes: Vec<u8>,
    digest: Digest,
    media_type: String,
    manifest: Manifest,
}

impl ManifestBytes {
    /// Parses `bytes`. `content_type` is the HTTP `Content-Type` (or a descriptor's media
    /// type), used only when the document carries no `mediaType` of its own: the type that
    /// counts is the one inside the bytes the digest covers.
    pub fn parse(
        bytes: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<ManifestBytes, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge {
                size: bytes.len(),
                max: MAX_MANIFEST_BYTES,
            });
        }
        let probe: Probe = serde_json::from_slice(&bytes)?;
        if probe.fs_layers.is_some() || probe.schema_version == Some(1) {
            return Err(ManifestError::Schema1);
        }
        match probe.schema_version {
            Some(2) => {}
            Some(v) => return Err(ManifestError::SchemaVersion(v)),
            None => return Err(ManifestError::SchemaVersion(0)),
        }
        let content_kind = match (
            probe.manifests.is_some(),
            probe.layers.is_some() || probe.config.is_some(),
        ) {
            (true, false) => "an index",
            (false, true) => "an image manifest",
            (true, true) => "both an index and an image manifest",
            (false, false) => "neither an index nor an image manifest",
        };
        let declared = match probe.media_type.as_deref() {
            Some(t) => t.to_owned(),
            None => match content_type.map(|c| c.split(';').next().unwrap_or("").trim()) {
                Some(c) if mt::is_index(c) || mt::is_image_manifest(c) => c.to_owned(),
                _ => match content_kind {
                    "an index" => mt::OCI_INDEX.to_owned(),
                    "an image manifest" => mt::OCI_MANIFEST.to_owned(),
                    _ => {
                        return Err(ManifestError::Ambiguous {
                            declared: String::new(),
                            content: content_kind,
                        });
                    }
                },
            },
        };
        if declared == mt::DOCKER_SCHEMA1 || declared == mt::DOCKER_SCHEMA1_SIGNED {
            return Err(ManifestError::Schema1);
        }
        let manifest = if mt::is_index(&declared) {
            if content_kind != "an index" {
                return Err(ManifestError::Ambiguous {
                    declared,
                    content: content_kind,
                });
            }
            let index: ImageIndex = serde_json::from_slice(&bytes)?;
            check_count(index.manifests.len())?;
            Manifest::Index(Box::new(index))
        } else if mt::is_image_manifest(&declared) {
            if content_kind != "an image manifest" {
                return Err(ManifestError::Ambiguous {
                    declared,
                    content: content_kind,
                });
            }
            let image: ImageManifest = serde_json::from_slice(&bytes)?;
            check_count(image.layers.len())?;
            Manifest::Image(Box::new(image))
        } else {
            return Err(ManifestError::UnknownMediaType(declared));
        };
        let digest = Digest::sha256_of(&bytes);
        Ok(ManifestBytes {
            bytes,
            digest,
            media_type: declared,
            manifest,
        })
    }

    /// Parses `bytes` and checks that they hash to `expected` (with its algorithm).
    pub fn parse_verified(
        bytes: Vec<u8>,
        content_type: Option<&str>,
        expected: &Digest,
    ) -> Result<ManifestBytes, ManifestError> {
        let actual = Digest::of(expected.algorithm(), &bytes);
        if &actual != expected {
            return Err(ManifestError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }
        let mut m = ManifestBytes::parse(bytes, content_type)?;
        m.digest = actual;
        Ok(m)
    }

    /// Serialises a manifest built in code; the bytes produced are the manifest from then on.
    pub fn from_image(image: &ImageManifest) -> ManifestBytes {
        let media_type = image
            .media_type
            .clone()
            .unwrap_or_else(|| mt::OCI_MANIFEST.to_owned());
        // serde_json cannot fail on these plain structs (string keys, no non-finite floats).
        let bytes = serde_json::to_vec(image).unwrap_or_default();
        ManifestBytes {
            digest: Digest::sha256_of(&bytes),
            bytes,
            media_type,
            manifest: Manifest::Image(Box::new(image.clone())),
        }
    }

    /// Serialises an index built in code.
    pub fn from_index(index: &ImageIndex) -> ManifestBytes {
        let media_type = index
            .media_type
            .clone()
            .unwrap_or_else(|| mt::OCI_INDEX.to_owned());
        let bytes = serde_json::to_vec(index).unwrap_or_default();
        ManifestBytes {
            digest: Digest::sha256_of(&bytes),
            bytes,
            media_type,
            manifest: Manifest::Index(Box::new(index.clone())),
        }
    }

    /// The exact bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes self, giving the exact bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Digest of the bytes.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The media type that applies (from the document, else from the transport).
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// A descriptor of this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
            data: None,
        }
    }

    /// The image manifest, if this is one.
    pub fn as_image(&self) -> Option<&ImageManifest> {
        match &self.manifest {
            Manifest::Image(m) => Some(m),
            Manifest::Index(_) => None,
        }
    }

    /// The index, if this is one.
    pub fn as_index(&self) -> Option<&ImageIndex> {
        match &self.manifest {
            Manifest::Index(i) => Some(i),
            Manifest::Image(_) => None,
        }
    }
}

fn check_count(count: usize) -> Result<(), ManifestError> {
    if count > MAX_ENTRIES {
        return Err(ManifestError::TooManyEntries {
            count,
            max: MAX_ENTRIES,
        });
    }
    Ok(())
}

/// An image config (OCI or Docker). Fields Latch does not interpret are kept in `other`
/// so that a config read and written again loses nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Architecture.
    #[serde(default)]
    pub architecture: String,
    /// OS.
    #[serde(default)]
    pub os: String,
    /// Variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Layer diff ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<RootFs>,
    /// Build history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<History>>,
    /// Everything else (`config`, `author`, `os.version`…), kept as is.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl ImageConfig {
    /// Parses a config, bounded like a manifest.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge {
                size: bytes.len(),
                max: MAX_MANIFEST_BYTES,
            });
        }
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The platform this config declares.
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
    }
}

/// `rootfs` of a config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Uncompressed layer digests.
    pub diff_ids: Vec<Digest>,
}

/// One history entry of a config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether the step made no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    const L1: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn oci_manifest() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{CFG}","size":2}},"layers":[{{"mediaType":"{}","digest":"{L1}","size":0}}]}}"#,
            mt::OCI_MANIFEST,
            mt::OCI_CONFIG,
            mt::OCI_LAYER_GZIP
        )
    }

    #[test]
    fn parses_and_keeps_bytes() {
        // Odd spacing survives: the digest covers these exact bytes.
        let text = oci_manifest().replace(',', " , ");
        let m = ManifestBytes::parse(text.clone().into_bytes(), None).unwrap();
        assert_eq!(m.bytes(), text.as_bytes());
        assert_eq!(m.digest(), &Digest::sha256_of(text.as_bytes()));
        assert_eq!(m.media_type(), mt::OCI_MANIFEST);
        assert_eq!(m.as_image().unwrap().layers.len(), 1);
        let again = ManifestBytes::parse_verified(text.into_bytes(), None, m.digest()).unwrap();
        assert_eq!(again.digest(), m.digest());
    }

    #[test]
    fn digest_mismatch_is_refused() {
        let wrong = Digest::sha256_of(b"other");
        let err =
            ManifestBytes::parse_verified(oci_manifest().into_bytes(), None, &wrong).unwrap_err();
        assert!(matches!(err, ManifestError::DigestMismatch { .. }), "{err}");
    }

    #[test]
    fn index_and_platforms() {
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[
            {{"mediaType":"{m}","digest":"{L1}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},
            {{"mediaType":"{m}","digest":"{CFG}","size":1,"platform":{{"architecture":"unknown","os":"unknown"}},"annotations":{{"vnd.docker.reference.type":"attestation-manifest"}}}},
            {{"mediaType":"{m}","digest":"{CFG}","size":1,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#,
            mt::DOCKER_MANIFEST_LIST,
            m = mt::DOCKER_MANIFEST
        );
        let m = ManifestBytes::parse(text.into_bytes(), None).unwrap();
        let idx = m.as_index().unwrap();
        assert_eq!(idx.platforms().len(), 3);
        let arm = idx
            .select_platform(&Platform::parse("linux/arm64").unwrap())
            .unwrap();
        assert_eq!(arm.digest.to_string(), CFG);
        assert!(
            idx.select_platform(&Platform::parse("linux/s390x").unwrap())
                .is_none()
        );
        assert!(
            idx.select_platform(&Platform::parse("unknown/unknown").unwrap())
                .is_none()
        );
    }

    #[test]
    fn media_type_from_transport_when_absent() {
        let text = oci_manifest().replace(&format!(r#""mediaType":"{}","#, mt::OCI_MANIFEST), "");
        let m = ManifestBytes::parse(
            text.into_bytes(),
            Some(&format!("{}; charset=utf-8", mt::DOCKER_MANIFEST)),
        )
        .unwrap();
        assert_eq!(m.media_type(), mt::DOCKER_MANIFEST);
    }

    #[test]
    fn refuses_bad_manifests() {
        let too_big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(matches!(
            ManifestBytes::parse(too_big, None),
            Err(ManifestError::TooLarge { .. })
        ));
        assert!(matches!(
            ManifestBytes::parse(b"{".to_vec(), None),
            Err(ManifestError::Json(_))
        ));
        assert!(matches!(
            ManifestBytes::parse(b"[]".to_vec(), None),
            Err(ManifestError::Json(_))
        ));
        let schema1 = br#"{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]}"#.to_vec();
        assert!(matches!(
            ManifestBytes::parse(schema1, None),
            Err(ManifestError::Schema1)
        ));
        let v3 = oci_manifest().replace("\"schemaVersion\":2", "\"schemaVersion\":3");
        assert!(matches!(
            ManifestBytes::parse(v3.into_bytes(), None),
            Err(ManifestError::SchemaVersion(3))
        ));
        let no_version = oci_manifest().replace("\"schemaVersion\":2,", "");
        assert!(matches!(
            ManifestBytes::parse(no_version.into_bytes(), None),
            Err(ManifestError::SchemaVersion(0))
        ));
        let as_index = oci_manifest().replace(mt::OCI_MANIFEST, mt::OCI_INDEX);
        assert!(matches!(
            ManifestBytes::parse(as_index.into_bytes(), None),
            Err(ManifestError::Ambiguous { .. })
        ));
        let both = oci_manifest().replace("\"layers\"", "\"manifests\":[],\"layers\"");
        assert!(matches!(
            ManifestBytes::parse(both.into_bytes(), None),
            Err(ManifestError::Ambiguous { .. })
        ));
        let other = oci_manifest().replace(mt::OCI_MANIFEST, "text/plain");
        assert!(matches!(
            ManifestBytes::parse(other.into_bytes(), None),
            Err(ManifestError::UnknownMediaType(_))
        ));
        let neg = oci_manifest().replace("\"size\":0", "\"size\":-1");
        assert!(matches!(
            ManifestBytes::parse(neg.into_bytes(), None),
            Err(ManifestError::Json(_))
        ));
        let bad_digest = oci_manifest().replace(L1, "sha256:1234");
        assert!(matches!(
            ManifestBytes::parse(bad_digest.into_bytes(), None),
            Err(ManifestError::Json(_))
        ));
        let layer = format!(
            r#"{{"mediaType":"{}","digest":"{L1}","size":0}}"#,
            mt::OCI_LAYER_GZIP
        );
        let many = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{CFG}","size":2}},"layers":[{}]}}"#,
            mt::OCI_MANIFEST,
            mt::OCI_CONFIG,
            vec![layer; MAX_ENTRIES + 1].join(",")
        );
        assert!(matches!(
            ManifestBytes::parse(many.into_bytes(), None),
            Err(ManifestError::TooManyEntries { .. })
        ));
    }

    #[test]
    fn built_manifests_round_trip() {
        let m = ManifestBytes::parse(oci_manifest().into_bytes(), None).unwrap();
        let rebuilt = ManifestBytes::from_image(m.as_image().unwrap());
        let reparsed = ManifestBytes::parse(rebuilt.bytes().to_vec(), None).unwrap();
        assert_eq!(reparsed.manifest(), m.manifest());
        assert_eq!(reparsed.digest(), rebuilt.digest());
        let idx = ManifestBytes::from_index(&ImageIndex::empty());
        assert_eq!(idx.media_type(), mt::OCI_INDEX);
    }

    #[test]
    fn config_keeps_unknown_fields() {
        let text = r#"{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Env":["A=b"]},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"x"}]}"#;
        let cfg = ImageConfig::parse(text.as_bytes()).unwrap();
        assert_eq!(cfg.platform().to_string(), "linux/amd64");
        assert!(cfg.other.contains_key("config"));
        let back: serde_json::Value = serde_json::to_value(&cfg).unwrap();
        let orig: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig);
    }
}
