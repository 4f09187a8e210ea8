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
    Overrides, Profile, ProfileFile, SourceSection, TrustSection, UpdatesSection, absolute,
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
/// keys inline, the transparency log required, the built-in store. Overrides apply (their
/// relative paths, `data_dir` too, are relative to the current directory).
pub fn profile(o: Overrides) -> Result<Profile> {
    if DEMO_LAYOUT.is_empty() || DEMO_SIGNING_KEY.is_empty() {
        return Err(Error::Profile("this build has no embedded demo".into()));
    }
    // Resolved once, here: the mirror and the store are inside it, and go to the profile
    // as paths already resolved (overrides), never as file paths joined to a base again.
    let data_dir = match &o.data_dir {
        Some(d) => absolute(d)?,
        None => absolute(&latch_store::default_data_dir("latch/demo").ok_or_else(|| {
            Error::Profile("no data directory: set --data-dir or LATCH_DATA_DIR".into())
        })?)?,
    };
    let source_layout = match &o.source_layout {
        Some(layout) => layout.clone(),
        None => {
            let mirror = data_dir.join("demo-mirror");
            write_layout(&mirror)?;
            mirror
        }
    };
    let file = ProfileFile {
        name: Some("demo".into()),
        image: Some(DEMO_IMAGE.into()),
        platform: None,
        runtime: None,
        data_dir: None,
        source: SourceSection {
            layout: None,
            archive: None,
            mirrors: Vec::new(),
        },
        provenance: None,
        health_check: None,
        health_timeout: None,
        min_age: None,
        trust: TrustSection {
            keys: vec![DEMO_SIGNING_KEY.into()],
            threshold: Some(1),
            rekor_keys: vec![DEMO_REKOR_KEY.into()],
            tlog: Some("required".into()),
            repository: None,
            rollback_floor: None,
            version_annotation: Some(DEMO_VERSION_ANNOTATION.into()),
            max_signature_age: None,
            follow_rotations: None,
            identities: Vec::new(),
            trusted_root: None,
            tuf_url: None,
            tuf_root: None,
            refresh_trusted_root: None,
        },
        updates: UpdatesSection::default(),
    };
    let o = Overrides {
        data_dir: Some(data_dir.clone()),
        source_layout: Some(source_layout),
        ..o
    };
    Profile::resolve(file, &data_dir, "demo (embedded)", o)
}
