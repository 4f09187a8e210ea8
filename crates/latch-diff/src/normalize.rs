//! `normalize`: set every timestamp of an image to one `SOURCE_DATE_EPOCH` and
//! recompress deterministically, so that two builds that differ only in time get the
//! same digest.
//!
//! What is rewritten:
//! - every tar header's mtime (entries and their extension headers) is set to the epoch;
//!   PAX `mtime`, `atime`, `ctime` and `LIBARCHIVE.creationtime` records are dropped (a
//!   PAX header left empty is dropped whole); GNU headers' atime and ctime are cleared.
//!   Everything else in the tar (names, modes, owners, xattrs, order, contents) is kept
//!   byte for byte; the archive ends with two zero blocks.
//! - the config's `created` and each history entry's `created` (where present) become the
//!   epoch in RFC 3339; `rootfs.diff_ids` are recomputed.
//! - `org.opencontainers.image.created` annotations (manifest, index, descriptors) become
//!   the epoch.
//! - layers are recompressed: gzip with a fixed level and a zero header mtime (flate2), or
//!   zstd at a fixed level, single-threaded, or left uncompressed; by default each layer
//!   keeps its input compression.
//!
//! The output is an OCI layout (an index when the source is a multi-platform index). Its
//! digest is a function of the content without its times, for a given Latch version: two
//! normalisations of the same content agree; a builder's own gzip bytes are not kept.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use latch_oci::manifest::ANNOTATION_CREATED;
use latch_oci::media_types::{self as mt, Compression};
use latch_oci::{
    Descriptor, Digest, Hasher, ImageIndex, ImageManifest, ManifestBytes, OciLayout, Platform,
};
use serde::Serialize;
use serde_json::Value;

use crate::Limits;
use crate::blob;
use crate::error::{DiffError, Result, TarError, io_err};
use crate::fs::{tar_error, verify_layer};
use crate::source::{Image, Layer, PlatformImage};
use latch_tar::{self as tar, BLOCK, Stream, TarReader, flag};

/// Largest epoch a tar header's 11 octal digits hold (year 2242).
const MAX_EPOCH: u64 = 0o77777777777;

/// PAX records dropped from every header.
const TIME_RECORDS: &[&str] = &["mtime", "atime", "ctime", "LIBARCHIVE.creationtime"];

/// How the normalised layers are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputCompression {
    /// Each layer as it came (gzip, zstd or none), recompressed deterministically.
    #[default]
    Keep,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
    /// Uncompressed tar.
    None,
}

/// How to normalise.
#[derive(Debug, Clone)]
pub struct NormalizeOptions {
    /// The `SOURCE_DATE_EPOCH`: seconds since 1970 (at most 8589934591).
    pub epoch: u64,
    /// Layer compression.
    pub compression: OutputCompression,
    /// gzip level (0–9; default 6).
    pub gzip_level: u32,
    /// zstd level (default 3).
    pub zstd_level: i32,
    /// Only this platform of an index (the output is then that single image).
    pub platform: Option<Platform>,
    /// The name (`org.opencontainers.image.ref.name`) of the result in the output
    /// layout's `index.json`.
    pub name: Option<String>,
    /// Layers processed at once (0: the number of CPUs, at most 4).
    pub jobs: usize,
    /// Bounds.
    pub limits: Limits,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            epoch: 0,
            compression: OutputCompression::Keep,
            gzip_level: 6,
            zstd_level: 3,
            platform: None,
            name: None,
            jobs: 0,
            limits: Limits::default(),
        }
    }
}

/// One platform's result.
#[derive(Debug, Clone, Serialize)]
pub struct NormalizedImage {
    /// Its platform.
    pub platform: String,
    /// The source image manifest's digest (`None` for a docker-archive).
    pub source_digest: Option<Digest>,
    /// The normalised manifest's digest.
    pub digest: Digest,
    /// Layers written.
    pub layers: usize,
}

/// What [`normalize()`] did: the source's digest and the result's, a proof that can be
/// checked by running it again on another build.
#[derive(Debug, Clone, Serialize)]
pub struct NormalizeReport {
    /// The source, as given.
    pub source: String,
    /// The source's digest (top-level manifest, or a docker-archive's config).
    pub source_digest: Option<Digest>,
    /// The result's top-level digest (an index or an image manifest).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Each image written.
    pub images: Vec<NormalizedImage>,
    /// The output layout.
    pub output: PathBuf,
    /// The epoch applied.
    pub epoch: u64,
    /// It as RFC 3339.
    pub created: String,
}

fn err(msg: impl Into<String>) -> DiffError {
    DiffError::Normalize(msg.into())
}

/// Normalises `src` into the OCI layout at `dst` (created if absent).
pub fn normalize(src: &Image, dst: &Path, opts: &NormalizeOptions) -> Result<NormalizeReport> {
    if opts.epoch > MAX_EPOCH {
        return Err(err(format!(
            "--source-date-epoch {} is past what a tar header holds ({MAX_EPOCH})",
            opts.epoch
        )));
    }
    let created = latch_oci::time::rfc3339(opts.epoch as i64);
    let layout = OciLayout::create(dst)?;
    // Which images.
    let selected: Vec<(&PlatformImage, Option<&Descriptor>)> = match &opts.platform {
        Some(p) => {
            let e = src
                .entries
                .iter()
                .find(|e| e.platform.as_ref().is_some_and(|x| x.satisfies(p)))
                .ok_or_else(|| DiffError::NoSuchPlatform {
                    image: src.label.clone(),
                    platform: p.to_string(),
                    available: src.platforms().join(", "),
                })?;
            let img = e
                .image
                .as_ref()
                .ok_or_else(|| err(format!("{}: the {p} image's blobs are not here", src.label)))?;
            vec![(img, None)]
        }
        None => {
            let mut v = Vec::new();
            for e in &src.entries {
                let img = e.image.as_ref().ok_or_else(|| {
                    err(format!(
                        "{}: the {} image's blobs are not here; choose a platform (--platform)",
                        src.label,
                        e.platform
                            .as_ref()
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "unknown".into())
                    ))
                })?;
                v.push((img, e.descriptor.as_ref()));
            }
            v
        }
    };
    let as_index = opts.platform.is_none() && src.is_index();
    // Every layer of every image, in parallel.
    let jobs: Vec<(usize, usize)> = selected
        .iter()
        .enumerate()
        .flat_map(|(i, (img, _))| (0..img.layers.len()).map(move |l| (i, l)))
        .collect();
    let stop = AtomicBool::new(false);
    let threads = if opts.jobs > 0 {
        opts.jobs
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(4)
    };
    let family = |img: &PlatformImage| {
        img.manifest
            .as_ref()
            .map(|m| m.media_type() == mt::DOCKER_MANIFEST)
            .unwrap_or(false)
    };
    let written = crate::pool::run(jobs.len(), threads, &stop, |j| {
        let (i, l) = jobs[j];
        let img = selected[i].0;
        let label = format!("{} layer {}", src.label, l + 1);
        normalize_layer(&img.layers[l], l, &label, &layout, opts, family(img))
    })?;
    let mut by_image: Vec<Vec<(Descriptor, Digest)>> =
        selected.iter().map(|_| Vec::new()).collect();
    for ((i, _), w) in jobs.iter().zip(written) {
        by_image[*i].push(w);
    }
    let mut images = Vec::new();
    let mut manifests = Vec::new();
    for ((img, entry), layers) in selected.iter().zip(by_image) {
        let m = write_image(img, layers, &created, &layout)?;
        images.push(NormalizedImage {
            platform: img.platform.to_string(),
            source_digest: img.manifest.as_ref().map(|m| m.digest().clone()),
            digest: m.digest().clone(),
            layers: img.layers.len(),
        });
        let mut d = m.descriptor();
        if let Some(e) = entry {
            d.platform = e.platform.clone();
            d.annotations = e.annotations.clone();
            set_created(&mut d.annotations, &created);
        }
        manifests.push(d);
    }
    let top = if as_index {
        let source_index = src
            .top
            .as_ref()
            .and_then(|t| t.as_index())
            .ok_or_else(|| err("source index missing"))?;
        let mut index = ImageIndex {
            schema_version: 2,
            media_type: source_index
                .media_type
                .clone()
                .or_else(|| Some(mt::OCI_INDEX.to_owned())),
            artifact_type: source_index.artifact_type.clone(),
            manifests,
            subject: source_index.subject.clone(),
            annotations: source_index.annotations.clone(),
        };
        set_created(&mut index.annotations, &created);
        let ib = ManifestBytes::from_index(&index);
        layout.write_blob(ib.bytes())?;
        ib
    } else {
        let d = manifests
            .first()
            .ok_or_else(|| err("the source holds no image"))?;
        let bytes = layout.read_blob(&d.digest, latch_oci::manifest::MAX_MANIFEST_BYTES as u64)?;
        ManifestBytes::parse_verified(bytes, Some(&d.media_type), &d.digest).map_err(|source| {
            DiffError::Manifest {
                what: "normalised manifest".to_owned(),
                source,
            }
        })?
    };
    let mut desc = top.descriptor();
    if !as_index && let Some(img) = images.first() {
        desc.platform = Platform::parse(&img.platform).ok();
    }
    layout.set_ref(desc, opts.name.as_deref())?;
    let _ = std::fs::remove_dir(layout.root().join(".partial"));
    Ok(NormalizeReport {
        source: src.label.clone(),
        source_digest: src.digest(),
        digest: top.digest().clone(),
        media_type: top.media_type().to_owned(),
        images,
        output: dst.to_owned(),
        epoch: opts.epoch,
        created,
    })
}

fn set_created(annotations: &mut Option<BTreeMap<String, String>>, created: &str) {
    if let Some(a) = annotations.as_mut()
        && let Some(v) = a.get_mut(ANNOTATION_CREATED)
    {
        *v = created.to_owned();
    }
}

/// Writes the config and manifest of one image whose layers are written.
fn write_image(
    img: &PlatformImage,
    layers: Vec<(Descriptor, Digest)>,
    created: &str,
    layout: &OciLayout,
) -> Result<ManifestBytes> {
    let mut config = img.config.clone();
    let obj = config
        .as_object_mut()
        .ok_or_else(|| err("config is not a JSON object"))?;
    if obj.contains_key("created") {
        obj.insert("created".into(), Value::String(created.to_owned()));
    }
    if let Some(Value::Array(h)) = obj.get_mut("history") {
        for e in h {
            if let Some(o) = e.as_object_mut()
                && o.contains_key("created")
            {
                o.insert("created".into(), Value::String(created.to_owned()));
            }
        }
    }
    let diff_ids: Vec<Value> = layers
        .iter()
        .map(|(_, d)| Value::String(d.to_string()))
        .collect();
    match obj.get_mut("rootfs") {
        Some(Value::Object(r)) => {
            r.insert("diff_ids".into(), Value::Array(diff_ids));
        }
        _ => {
            obj.insert(
                "rootfs".into(),
                serde_json::json!({"type": "layers", "diff_ids": diff_ids}),
            );
        }
    }
    let config_bytes = serde_json::to_vec(&config).map_err(|e| err(format!("config: {e}")))?;
    layout.write_blob(&config_bytes)?;
    let source = img.manifest.as_ref().and_then(|m| m.as_image());
    let docker = img
        .manifest
        .as_ref()
        .is_some_and(|m| m.media_type() == mt::DOCKER_MANIFEST);
    let config_type = match source {
        Some(m) => m.config.media_type.clone(),
        None => mt::OCI_CONFIG.to_owned(),
    };
    let mut annotations = source.and_then(|m| m.annotations.clone());
    set_created(&mut annotations, created);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(
            if docker {
                mt::DOCKER_MANIFEST
            } else {
                mt::OCI_MANIFEST
            }
            .to_owned(),
        ),
        artifact_type: source.and_then(|m| m.artifact_type.clone()),
        config: Descriptor::for_bytes(&config_type, &config_bytes),
        layers: layers.into_iter().map(|(d, _)| d).collect(),
        subject: source.and_then(|m| m.subject.clone()),
        annotations,
    };
    let mb = ManifestBytes::from_image(&manifest);
    layout.write_blob(mb.bytes())?;
    Ok(mb)
}

fn layer_type(c: Compression, docker: bool) -> &'static str {
    match (c, docker) {
        (Compression::None, false) => mt::OCI_LAYER_TAR,
        (Compression::Gzip, false) => mt::OCI_LAYER_GZIP,
        (Compression::Zstd, false) => mt::OCI_LAYER_ZSTD,
        (Compression::None, true) => "application/vnd.docker.image.rootfs.diff.tar",
        (Compression::Gzip, true) => mt::DOCKER_LAYER_GZIP,
        (Compression::Zstd, true) => "application/vnd.docker.image.rootfs.diff.tar.zstd",
    }
}

/// Hashes and counts what is written through it.
struct HashWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hash_writer<W: Write>(inner: W) -> HashWriter<W> {
    HashWriter {
        inner,
        hasher: latch_oci::Algorithm::Sha256.hasher(),
        count: 0,
    }
}

/// The compressor chosen for a layer.
enum Encoder<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    fn new(c: Compression, out: W, opts: &NormalizeOptions) -> io::Result<Encoder<W>> {
        Ok(match c {
            Compression::None => Encoder::Plain(out),
            Compression::Gzip => Encoder::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(out, flate2::Compression::new(opts.gzip_level.min(9))),
            ),
            Compression::Zstd => {
                Encoder::Zstd(zstd::stream::write::Encoder::new(out, opts.zstd_level)?)
            }
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(g) => g.finish(),
            Encoder::Zstd(z) => z.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(w) => w.write(buf),
            Encoder::Zstd(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

/// Rewrites one layer into the layout; returns its descriptor and diff_id.
fn normalize_layer(
    layer: &Layer,
    index: usize,
    label: &str,
    layout: &OciLayout,
    opts: &NormalizeOptions,
    docker: bool,
) -> Result<(Descriptor, Digest)> {
    let algorithm = layer
        .digest
        .as_ref()
        .map(|d| d.algorithm())
        .unwrap_or(latch_oci::Algorithm::Sha256);
    let stream = blob::open_layer(&layer.region, algorithm, opts.limits.max_layer_bytes)?;
    let input_compression = stream.compression;
    let out_compression = match opts.compression {
        OutputCompression::Keep => input_compression,
        OutputCompression::Gzip => Compression::Gzip,
        OutputCompression::Zstd => Compression::Zstd,
        OutputCompression::None => Compression::None,
    };
    let partial = layout.partial_dir()?;
    let tmp = tempfile::NamedTempFile::new_in(&partial).map_err(io_err(&partial))?;
    let file = tmp.reopen().map_err(io_err(tmp.path()))?;
    let blob_out = hash_writer(BufWriter::with_capacity(blob::BUFFER, file));
    let enc = Encoder::new(out_compression, blob_out, opts).map_err(io_err(tmp.path()))?;
    let mut tar_out = hash_writer(enc);
    let mut tar = TarReader::new(Stream(stream.reader), opts.limits.tar());
    let terr = |e: TarError| tar_error(e, label, index, layer);
    rewrite(
        &mut tar,
        &mut tar_out,
        opts.epoch,
        &opts.limits,
        label,
        index,
    )
    .map_err(|e| match e {
        Rewrite::Tar(t) => terr(t),
        Rewrite::Out(e) => io_err(tmp.path())(e),
        Rewrite::Other(d) => d,
    })?;
    // Verify the input as diff does: drain it, check its digest and diff_id.
    let mut rest = tar.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| terr(TarError::Io(e)))?;
    drop(rest);
    let (diff_id, _) = match &stream.diff_tap {
        Some(t) => blob::finish(t),
        None => (None, 0),
    };
    blob::hash_rest(
        &layer.region,
        blob::count(&stream.blob_tap),
        &stream.blob_tap,
    )?;
    let (blob_digest, _) = blob::finish(&stream.blob_tap);
    let diff_id = match input_compression {
        Compression::None => blob_digest
            .clone()
            .filter(|d| d.algorithm() == latch_oci::Algorithm::Sha256),
        _ => diff_id,
    };
    verify_layer(layer, label, index + 1, blob_digest, diff_id)?;
    // Finish the output.
    let new_diff_id =
        std::mem::replace(&mut tar_out.hasher, latch_oci::Algorithm::Sha256.hasher()).finish();
    let enc = tar_out.inner;
    let blob_out = enc.finish().map_err(io_err(tmp.path()))?;
    let HashWriter {
        inner: buffered,
        hasher,
        count,
    } = blob_out;
    let file: File = buffered
        .into_inner()
        .map_err(|e| io_err(tmp.path())(e.into_error()))?;
    file.sync_all().map_err(io_err(tmp.path()))?;
    drop(file);
    let digest = hasher.finish();
    let tmp_path = tmp.into_temp_path();
    layout.commit_blob(&tmp_path, &digest)?;
    let _ = tmp_path.keep();
    let mut annotations = layer.annotations.clone();
    if let Some(v) = annotations.get_mut(ANNOTATION_CREATED) {
        *v = latch_oci::time::rfc3339(opts.epoch as i64);
    }
    Ok((
        Descriptor {
            media_type: layer_type(out_compression, docker).to_owned(),
            digest,
            size: count,
            urls: None,
            annotations: (!annotations.is_empty()).then_some(annotations),
            platform: None,
            artifact_type: None,
            data: None,
        },
        new_diff_id,
    ))
}

enum Rewrite {
    Tar(TarError),
    Out(io::Error),
    Other(DiffError),
}

/// Copies a tar stream with its times set to `epoch` (see the module documentation).
fn rewrite<R: tar::TarInput, W: Write>(
    tar: &mut TarReader<R>,
    out: &mut W,
    epoch: u64,
    limits: &Limits,
    label: &str,
    index: usize,
) -> std::result::Result<(), Rewrite> {
    let mut buf = vec![0u8; blob::BUFFER];
    while let Some(entry) = tar.next_entry().map_err(Rewrite::Tar)? {
        if entry.size > limits.max_entry_bytes {
            return Err(Rewrite::Other(DiffError::Limit {
                image: label.to_owned(),
                what: format!(
                    "layer {}: entry {} declared size ({} bytes)",
                    index + 1,
                    crate::fs::escape(&entry.name),
                    entry.size
                ),
                max: limits.max_entry_bytes,
            }));
        }
        for ext in &entry.extensions {
            let mut header = ext.header;
            let data = match header[156] {
                flag::PAX | flag::PAX_GLOBAL => {
                    let records = tar::parse_pax(&ext.data, 0).map_err(Rewrite::Tar)?;
                    let kept: Vec<(String, Vec<u8>)> = records
                        .into_iter()
                        .filter(|(k, _)| !TIME_RECORDS.contains(&k.as_str()))
                        .collect();
                    if kept.is_empty() {
                        continue;
                    }
                    tar::write_pax(&kept)
                }
                _ => ext.data.clone(),
            };
            tar::set_octal(&mut header[124..136], data.len() as u64).ok_or_else(|| {
                Rewrite::Tar(TarError::BadField {
                    offset: 0,
                    field: "size",
                    value: data.len().to_string(),
                })
            })?;
            set_times(&mut header, epoch);
            out.write_all(&header).map_err(Rewrite::Out)?;
            out.write_all(&data).map_err(Rewrite::Out)?;
            pad(out, data.len() as u64)?;
        }
        let mut header = entry.header;
        set_times(&mut header, epoch);
        out.write_all(&header).map_err(Rewrite::Out)?;
        if entry.has_data() {
            let mut data = tar.data();
            let mut n_total = 0u64;
            loop {
                let n = match data.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Rewrite::Tar(TarError::Io(e))),
                };
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n]).map_err(Rewrite::Out)?;
                n_total += n as u64;
            }
            pad(out, n_total)?;
        }
    }
    out.write_all(&[0u8; 2 * BLOCK]).map_err(Rewrite::Out)?;
    Ok(())
}

fn pad<W: Write>(out: &mut W, len: u64) -> std::result::Result<(), Rewrite> {
    let p = tar::padding(len) as usize;
    out.write_all(&[0u8; BLOCK][..p]).map_err(Rewrite::Out)
}

/// mtime := epoch; GNU atime/ctime cleared; checksum recomputed.
fn set_times(header: &mut [u8; BLOCK], epoch: u64) {
    // MAX_EPOCH was checked: the value fits.
    let _ = tar::set_octal(&mut header[136..148], epoch);
    if &header[257..265] == b"ustar  \0" {
        header[345..369].fill(0);
    }
    tar::set_checksum(header);
}
