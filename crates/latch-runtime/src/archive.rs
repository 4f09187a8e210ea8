//! Tar archives that podman and docker load: an oci-archive holding exactly one image
//! (podman refuses an `index.json` that lists more than one manifest), and a
//! docker-archive (`manifest.json`, config, layer tars) for Docker engines older than 25,
//! which cannot load OCI layouts.
//!
//! Every blob is re-hashed as it is written; the archive is deterministic (fixed modes,
//! times and owners).

use std::collections::BTreeMap;
use std::io::{self, Write};

use latch_oci::media_types as mt;
use latch_oci::{Descriptor, ImageIndex, ManifestBytes, OciLayout};

use crate::error::{Result, RuntimeError, io_err};
use crate::image::{Closure, open_blob};

/// Which manifest an oci-archive's single `index.json` entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// The top-level manifest (an index: the runtime picks its platform and records both
    /// digests).
    Top,
    /// The platform's image manifest (the runtime records only its digest).
    Image,
}

fn header(path: &str, size: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    // The path is set by append_data (which handles long names); keep the header valid.
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

struct Writer<'a, W: Write> {
    tar: tar::Builder<W>,
    layout: &'a OciLayout,
    written: std::collections::HashSet<String>,
}

impl<'a, W: Write> Writer<'a, W> {
    fn new(out: W, layout: &'a OciLayout) -> Self {
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Deterministic);
        Writer {
            tar,
            layout,
            written: Default::default(),
        }
    }

    fn dir(&mut self, path: &str) -> Result<()> {
        let mut h = header(path, 0, true);
        self.tar
            .append_data(&mut h, path, io::empty())
            .map_err(io_err(self.layout.root()))
    }

    fn bytes(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        if !self.written.insert(path.to_owned()) {
            return Ok(());
        }
        let mut h = header(path, bytes.len() as u64, false);
        self.tar
            .append_data(&mut h, path, bytes)
            .map_err(io_err(self.layout.root()))
    }

    fn manifest(&mut self, m: &ManifestBytes) -> Result<String> {
        let path = m.digest().layout_path();
        self.bytes(&path, m.bytes())?;
        Ok(path)
    }

    /// Streams a blob from the layout, verifying it.
    fn blob(&mut self, desc: &Descriptor) -> Result<String> {
        let path = desc.digest.layout_path();
        if !self.written.insert(path.clone()) {
            return Ok(path);
        }
        let mut h = header(&path, desc.size, false);
        let mut reader = open_blob(self.layout, desc)?;
        // `take(size)`: a longer file cannot overrun the header's size; a shorter one
        // fails the check below (and the archive is thrown away).
        let limited = io::Read::take(&mut reader, desc.size);
        let result = self.tar.append_data(&mut h, &path, limited);
        // Read the one byte more `open_blob` allows, so a longer file is caught.
        io::copy(&mut reader, &mut io::sink()).map_err(io_err(self.layout.root()))?;
        result.map_err(io_err(self.layout.root()))?;
        reader.check(self.layout.root(), desc)?;
        Ok(path)
    }

    fn finish(self) -> Result<W> {
        let root = self.layout.root().to_owned();
        self.tar.into_inner().map_err(io_err(root))
    }
}

/// Writes an oci-archive of the image to `out`: `oci-layout`, an `index.json` listing
/// exactly one manifest (with `annotations`), and the blobs that manifest needs.
pub(crate) fn write_oci_archive<W: Write>(
    layout: &OciLayout,
    closure: &Closure,
    entry: Entry,
    annotations: BTreeMap<String, String>,
    out: W,
) -> Result<W> {
    let mut w = Writer::new(out, layout);
    w.bytes("oci-layout", latch_oci::layout::OCI_LAYOUT_FILE.as_bytes())?;
    let mut desc = match entry {
        Entry::Top => closure.top_descriptor(),
        Entry::Image => closure.image_descriptor(),
    };
    desc.annotations = (!annotations.is_empty()).then_some(annotations);
    let mut index = ImageIndex::empty();
    index.manifests.push(desc);
    let index = ManifestBytes::from_index(&index);
    w.bytes("index.json", index.bytes())?;
    w.dir("blobs/")?;
    w.dir(&format!(
        "blobs/{}/",
        closure.top.digest().algorithm().name()
    ))?;
    if entry == Entry::Top && closure.is_index() {
        w.manifest(&closure.top)?;
    }
    w.manifest(&closure.image)?;
    for d in closure.blobs() {
        w.blob(d)?;
    }
    w.finish()
}

/// Writes a docker-archive (what `docker save` wrote before Docker 25) of the image,
/// tagged `repo_tag`.
pub(crate) fn write_docker_archive<W: Write>(
    layout: &OciLayout,
    closure: &Closure,
    repo_tag: &str,
    out: W,
) -> Result<W> {
    for l in &closure.layers {
        if mt::layer_compression(&l.media_type).is_none() {
            return Err(RuntimeError::InvalidArgument(format!(
                "layer {} has media type {:?}, which a docker-archive cannot carry",
                l.digest, l.media_type
            )));
        }
    }
    let mut w = Writer::new(out, layout);
    w.dir("blobs/")?;
    w.dir(&format!(
        "blobs/{}/",
        closure.config.digest.algorithm().name()
    ))?;
    let config = w.blob(&closure.config)?;
    let mut layers = Vec::new();
    for l in &closure.layers {
        layers.push(w.blob(l)?);
    }
    let manifest = serde_json::json!([{
        "Config": config,
        "RepoTags": [repo_tag],
        "Layers": layers,
    }]);
    let bytes = serde_json::to_vec(&manifest).map_err(|e| {
        RuntimeError::InvalidArgument(format!("cannot serialise manifest.json: {e}"))
    })?;
    w.bytes("manifest.json", &bytes)?;
    w.finish()
}
