//! A TUF state carried in an OCI layout (an air-gap archive, a layout mirror), so that an
//! installation that never reaches the TUF repository still gets the trusted root the
//! image was verified with: one artifact per repository, an image manifest with
//! `artifactType` [`ARTIFACT_TYPE`], the empty config, and one layer per metadata file,
//! named by its `org.opencontainers.image.title` (`N.root.json`, `timestamp.json`,
//! `snapshot.json`, `targets.json`, `trusted_root.json`); the manifest's annotations name
//! the repository ([`ANNOTATION_URL`]) and the time it was verified at
//! ([`ANNOTATION_VERIFIED_AT`], Unix seconds). Its index entry has kind
//! [`KIND_SIGSTORE_TUF`]. Nothing in it is trusted: the reader verifies it from its own
//! initial TUF root ([`latch_tuf::TufCache::adopt`]).

use std::collections::BTreeMap;

use latch_oci::manifest::ANNOTATION_TITLE;
use latch_oci::{
    Descriptor, ImageManifest, LayoutError, ManifestBytes, OciLayout, media_types as mt,
};
use latch_tuf::Files;

use crate::archive::KIND_ANNOTATION;

/// The artifact's type.
pub const ARTIFACT_TYPE: &str = "application/vnd.latch.sigstore-tuf.v1";
/// The kind of its index entry.
pub const KIND_SIGSTORE_TUF: &str = "dev.latch.sigstore-tuf";
/// The manifest annotation naming the repository.
pub const ANNOTATION_URL: &str = "dev.latch.tuf.url";
/// The manifest annotation holding the time the state was verified at.
pub const ANNOTATION_VERIFIED_AT: &str = "dev.latch.tuf.verified-at";
/// The media type of each file's layer.
const FILE_TYPE: &str = "application/json";
/// Bound on one carried file (the largest TUF metadata a client accepts).
const MAX_FILE: u64 = 5 * 1024 * 1024;
/// Most files in one artifact (roots included), and most artifacts read.
const MAX_FILES: usize = 128;
const MAX_ARTIFACTS: usize = 8;
const EMPTY_CONFIG: &[u8] = b"{}";

/// A state carried for one repository.
#[derive(Debug)]
pub(crate) struct Carried {
    /// The repository it says it is from.
    pub url: String,
    /// Its files (roots after `first_root`, in version order).
    pub roots: Vec<(u64, Vec<u8>)>,
    /// Timestamp, snapshot, targets and the trusted root.
    pub files: Files,
    /// The time it says it was verified at.
    pub verified_at: i64,
}

impl Carried {
    /// The files for a client whose initial root is version `initial`: the roots after it.
    pub fn files_after(&self, initial: u64) -> Files {
        Files {
            roots: self
                .roots
                .iter()
                .filter(|(n, _)| *n > initial)
                .map(|(_, b)| b.clone())
                .collect(),
            ..self.files.clone()
        }
    }
}

/// Writes `files` (roots numbered from `initial + 1`) into `layout`; returns the index
/// entry.
pub(crate) fn write(
    layout: &OciLayout,
    url: &str,
    initial: u64,
    files: &Files,
    verified_at: i64,
) -> Result<Descriptor, LayoutError> {
    let mut layers = Vec::new();
    for (name, bytes) in files.named(initial) {
        layout.write_blob(bytes)?;
        let mut d = Descriptor::for_bytes(FILE_TYPE, bytes);
        d.set_annotation(ANNOTATION_TITLE, &name);
        layers.push(d);
    }
    layout.write_blob(EMPTY_CONFIG)?;
    let manifest = ManifestBytes::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(mt::OCI_MANIFEST.to_owned()),
        artifact_type: Some(ARTIFACT_TYPE.to_owned()),
        config: Descriptor::for_bytes(mt::OCI_EMPTY, EMPTY_CONFIG),
        layers,
        subject: None,
        annotations: Some(BTreeMap::from([
            (ANNOTATION_URL.to_owned(), url.to_owned()),
            (ANNOTATION_VERIFIED_AT.to_owned(), verified_at.to_string()),
        ])),
    });
    layout.write_blob(manifest.bytes())?;
    let mut entry = manifest.descriptor();
    entry.artifact_type = Some(ARTIFACT_TYPE.to_owned());
    entry.set_annotation(KIND_ANNOTATION, KIND_SIGSTORE_TUF);
    Ok(entry)
}

/// The states `entries` carry (kind [`KIND_SIGSTORE_TUF`]), each file bounded and checked
/// against its digest; an artifact of another shape is an error that says why.
pub(crate) fn read_all(
    layout: &OciLayout,
    entries: &[Descriptor],
) -> Result<Vec<Carried>, CarriedError> {
    entries
        .iter()
        .filter(|d| d.annotation(KIND_ANNOTATION) == Some(KIND_SIGSTORE_TUF))
        .take(MAX_ARTIFACTS)
        .map(|entry| read_one(layout, entry))
        .collect()
}

/// Why a carried TUF state could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CarriedError {
    /// The layout could not be read.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The artifact is not of the shape above.
    #[error("the TUF state artifact {digest} {detail}")]
    Shape {
        /// Its manifest digest.
        digest: String,
        /// What is wrong.
        detail: String,
    },
}

fn read_one(layout: &OciLayout, entry: &Descriptor) -> Result<Carried, CarriedError> {
    let shape = |detail: &str| CarriedError::Shape {
        digest: entry.digest.to_string(),
        detail: detail.to_owned(),
    };
    let manifest = layout.read_manifest(entry)?;
    let m = manifest
        .as_image()
        .filter(|m| m.artifact_type.as_deref() == Some(ARTIFACT_TYPE))
        .ok_or_else(|| shape(&format!("is not an image manifest of type {ARTIFACT_TYPE}")))?;
    let note = |key: &str| {
        m.annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .cloned()
            .ok_or_else(|| shape(&format!("has no {key} annotation")))
    };
    let url = note(ANNOTATION_URL)?;
    let verified_at = note(ANNOTATION_VERIFIED_AT)?.parse::<i64>().map_err(|_| {
        shape(&format!(
            "has a {ANNOTATION_VERIFIED_AT} that is not a number"
        ))
    })?;
    if m.layers.len() > MAX_FILES {
        return Err(shape(&format!("has more than {MAX_FILES} files")));
    }
    let mut carried = Carried {
        url,
        roots: Vec::new(),
        files: Files::default(),
        verified_at,
    };
    for layer in &m.layers {
        let title = layer
            .annotation(ANNOTATION_TITLE)
            .ok_or_else(|| shape("has a layer without a title"))?;
        let bytes = layout.read_blob(&layer.digest, MAX_FILE)?;
        match title {
            "timestamp.json" => carried.files.timestamp = bytes,
            "snapshot.json" => carried.files.snapshot = bytes,
            "targets.json" => carried.files.targets = bytes,
            t if t == latch_tuf::TRUSTED_ROOT_TARGET => carried.files.trusted_root = bytes,
            t => {
                let version = t
                    .strip_suffix(".root.json")
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| shape(&format!("has a file named {t:?}")))?;
                carried.roots.push((version, bytes));
            }
        }
    }
    carried.roots.sort_by_key(|(n, _)| *n);
    Ok(carried)
}
