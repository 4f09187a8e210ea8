//! The embedded demo: a small signed image (an OCI layout used as a mirror) and the
//! public keys that signed it and logged it, all marked DEMO-ONLY. It lets a fresh
//! machine run `upgrade` and `verify-local` end to end, offline, into the built-in store.
//!
//! The demo keys prove nothing about any real image: their private halves are in the
//! repository (`crates/latch/demo/`) so that anyone can re-create the demo.

use std::path::Path;

use latch_oci::fsutil::atomic_write;

use crate::error::{Error, Result};
use crate::profile::{
    Overrides, Profile, ProfileFile, SourceSection, TrustSection, UpdatesSection,
};

include!(concat!(env!("OUT_DIR"), "/demo_files.rs"));

/// The image the demo follows.
pub const DEMO_IMAGE: &str = "localhost/latch-demo/sandbox:latest";
/// The signed version annotation the demo ratchets on.
pub const DEMO_VERSION_ANNOTATION: &str = "org.opencontainers.image.version";

/// Writes the embedded layout under `dir` (files already there with the same bytes are
/// left alone).
pub fn write_layout(dir: &Path) -> Result<()> {
    for (rel, bytes) in DEMO_LAYOUT {
        let path = dir.join(rel);
        if std::fs::read(&path).is_ok_and(|b| b == *bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        atomic_write(&path, bytes).map_err(Error::io(&path))?;
    }
    Ok(())
}

/// The demo profile: the embedded mirror (written under the data directory), the demo
/// keys inline, the transparency log required, the built-in store. Overrides apply.
pub fn profile(o: Overrides) -> Result<Profile> {
    if DEMO_LAYOUT.is_empty() || DEMO_SIGNING_KEY.is_empty() {
        return Err(Error::Profile("this build has no embedded demo".into()));
    }
    let data_dir = match &o.data_dir {
        Some(d) => d.clone(),
        None => latch_store::default_data_dir("latch/demo").ok_or_else(|| {
            Error::Profile("no data directory: set --data-dir or LATCH_DATA_DIR".into())
        })?,
    };
    let mirror = data_dir.join("demo-mirror");
    if o.source_layout.is_none() {
        write_layout(&mirror)?;
    }
    let file = ProfileFile {
        name: Some("demo".into()),
        image: Some(DEMO_IMAGE.into()),
        platform: None,
        runtime: None,
        data_dir: Some(data_dir.display().to_string()),
        source: SourceSection {
            layout: Some(mirror.display().to_string()),
            archive: None,
        },
        trust: TrustSection {
            keys: vec![DEMO_SIGNING_KEY.into()],
            threshold: Some(1),
            rekor_keys: vec![DEMO_REKOR_KEY.into()],
            tlog: Some("required".into()),
            repository: None,
            rollback_floor: None,
            version_annotation: Some(DEMO_VERSION_ANNOTATION.into()),
            max_signature_age: None,
            identities: Vec::new(),
            trusted_root: None,
        },
        updates: UpdatesSection::default(),
    };
    Profile::resolve(file, &data_dir, "demo (embedded)", o)
}
