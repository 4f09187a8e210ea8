//! Test images built without a container engine, in OCI image layouts.
//!
//! Layers are real tars (gzip-compressed or not) of deterministic pseudo-random data or
//! of given files; the config carries the layers' `diff_ids`; large layers are streamed
//! to disk, never held in memory. The same seed gives the same bytes, so the same digests.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use flate2::Compression;
use flate2::write::GzEncoder;
use latch_oci::manifest::{History, RootFs};
use latch_oci::media_types as mt;
use latch_oci::{
    Descriptor, Digest, Hasher, ImageConfig, ImageIndex, ImageManifest, ManifestBytes, OciLayout,
    Platform,
};

use crate::skopeo::Skopeo;

/// Deterministic, incompressible pseudo-random bytes: `len` bytes of the AES-128-CTR
/// keystream keyed by `seed` (fast even in an unoptimised test build, as the work is done
/// by aws-lc).
pub struct RandomReader {
    key: EncryptingKey,
    nonce: u64,
    block: u64,
    buf: Vec<u8>,
    pos: usize,
    remaining: u64,
}

/// Keystream generated per refill.
const KEYSTREAM_CHUNK: usize = 256 * 1024;

impl RandomReader {
    /// `len` bytes from `seed`.
    pub fn new(seed: u64, len: u64) -> RandomReader {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..].copy_from_slice(&splitmix64(seed).to_le_bytes());
        let key = UnboundCipherKey::new(&AES_128, &key).expect("a 16-byte AES key");
        RandomReader {
            key: EncryptingKey::ctr(key).expect("AES-128-CTR"),
            nonce: splitmix64(seed ^ 0x6c61_7463_6874_6b74),
            block: 0,
            buf: vec![0; KEYSTREAM_CHUNK],
            pos: KEYSTREAM_CHUNK,
            remaining: len,
        }
    }

    /// The `len` bytes of `seed`, in memory.
    pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        RandomReader::new(seed, len as u64)
            .read_to_end(&mut out)
            .expect("reading from memory");
        out
    }

    fn refill(&mut self) {
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(&self.nonce.to_be_bytes());
        iv[8..].copy_from_slice(&self.block.to_be_bytes());
        self.buf.fill(0);
        self.key
            .less_safe_encrypt(
                &mut self.buf,
                EncryptionContext::Iv128(FixedLength::from(iv)),
            )
            .expect("AES-CTR over a whole number of blocks");
        self.block += (KEYSTREAM_CHUNK / 16) as u64;
        self.pos = 0;
    }
}

impl std::fmt::Debug for RandomReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomReader")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Read for RandomReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(out.len());
        if want == 0 {
            return Ok(0);
        }
        if self.pos == self.buf.len() {
            self.refill();
        }
        let n = want.min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts what passes through it.
struct HashWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    fn new(inner: W) -> HashWriter<W> {
        HashWriter {
            inner,
            hasher: latch_oci::Algorithm::Sha256.hasher(),
            count: 0,
        }
    }

    fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.hasher.finish(), self.count)
    }
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

#[derive(Debug, Clone)]
enum Content {
    Random(u64),
    Files(Vec<(String, Vec<u8>)>),
}

#[derive(Debug, Clone)]
struct LayerSpec {
    content: Content,
    gzip: bool,
}

/// A layer as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltLayer {
    /// Its descriptor in the manifest (media type, digest, size).
    pub descriptor: Descriptor,
    /// Digest of the uncompressed tar (the config's `diff_id`).
    pub diff_id: Digest,
    /// Where the blob is in the layout.
    pub path: PathBuf,
}

/// An image as written into a layout.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// The layout directory.
    pub layout_dir: PathBuf,
    /// Its name in the layout's `index.json` (`None` for an image written as part of an
    /// index).
    pub tag: Option<String>,
    /// The manifest, with its exact bytes.
    pub manifest: ManifestBytes,
    /// The config bytes.
    pub config: Vec<u8>,
    /// The layers, base first.
    pub layers: Vec<BuiltLayer>,
    /// Its platform.
    pub platform: Platform,
}

impl BuiltImage {
    /// The manifest digest (what a registry will report after a byte-preserving push).
    pub fn digest(&self) -> &Digest {
        self.manifest.digest()
    }

    /// The manifest descriptor, with the platform.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = self.manifest.descriptor();
        d.platform = Some(self.platform.clone());
        d
    }

    /// The config digest.
    pub fn config_digest(&self) -> Digest {
        Digest::sha256_of(&self.config)
    }

    /// Sum of the layer blob sizes.
    pub fn layers_size(&self) -> u64 {
        self.layers.iter().map(|l| l.descriptor.size).sum()
    }

    /// Pushes it with Debian's skopeo to `dest` (`127.0.0.1:PORT/repo:tag`) and returns
    /// the digest, checked to be this manifest's.
    pub fn push(&self, dest: &str) -> Digest {
        self.push_with(&Skopeo::system(), dest)
    }

    /// Pushes it with the given skopeo (e.g. with credentials).
    pub fn push_with(&self, skopeo: &Skopeo, dest: &str) -> Digest {
        let tag = self
            .tag
            .as_deref()
            .expect("only an image built with a tag can be pushed on its own");
        skopeo.push_layout(&self.layout_dir, tag, dest, self.digest())
    }
}

/// An index (multi-platform image) as written into a layout.
#[derive(Debug, Clone)]
pub struct BuiltIndex {
    /// The layout directory.
    pub layout_dir: PathBuf,
    /// Its name in the layout's `index.json`.
    pub tag: String,
    /// The index, with its exact bytes.
    pub index: ManifestBytes,
    /// The images, in index order.
    pub images: Vec<BuiltImage>,
}

impl BuiltIndex {
    /// The index digest.
    pub fn digest(&self) -> &Digest {
        self.index.digest()
    }

    /// The image for `os/arch`.
    pub fn image(&self, platform: &str) -> &BuiltImage {
        let want = Platform::parse(platform).expect("a valid platform");
        self.images
            .iter()
            .find(|i| i.platform.satisfies(&want))
            .unwrap_or_else(|| panic!("no {platform} image in this index"))
    }

    /// Pushes the index and every image with `skopeo copy --all` and returns the index
    /// digest, checked to be unchanged.
    pub fn push(&self, dest: &str) -> Digest {
        self.push_with(&Skopeo::system(), dest)
    }

    /// Pushes with the given skopeo.
    pub fn push_with(&self, skopeo: &Skopeo, dest: &str) -> Digest {
        skopeo.push_layout(&self.layout_dir, &self.tag, dest, self.digest())
    }
}

fn fresh_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    splitmix64(t ^ (u64::from(std::process::id()) << 32) ^ splitmix64(n))
}

/// Builds one image. Every builder gets a fresh seed, so two builders give two different
/// images unless [`ImageBuilder::seed`] is set.
///
/// ```no_run
/// use latch_testkit::{ImageBuilder, Registry};
/// let reg = Registry::start();
/// let dir = tempfile::tempdir().unwrap();
/// let img = ImageBuilder::new().gzip_layer(1 << 20).gzip_layer(4096).build(dir.path(), "v1");
/// assert_eq!(&img.push(&reg.reference("app:v1")), img.digest());
/// ```
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    layers: Vec<LayerSpec>,
    platform: Platform,
    seed: u64,
    annotations: BTreeMap<String, String>,
    created: String,
}

impl Default for ImageBuilder {
    fn default() -> Self {
        ImageBuilder::new()
    }
}

impl ImageBuilder {
    /// linux/amd64, no layers yet, a fresh seed.
    pub fn new() -> ImageBuilder {
        ImageBuilder {
            layers: Vec::new(),
            platform: Platform::new("linux", "amd64", None),
            seed: fresh_seed(),
            annotations: BTreeMap::new(),
            created: "2026-01-01T00:00:00Z".to_owned(),
        }
    }

    /// The platform, as `os/arch[/variant]`.
    pub fn platform(mut self, platform: &str) -> ImageBuilder {
        self.platform = Platform::parse(platform).expect("a valid platform");
        self
    }

    /// The seed of the random layer data.
    pub fn seed(mut self, seed: u64) -> ImageBuilder {
        self.seed = seed;
        self
    }

    /// A tar+gzip layer holding one file of `size` random bytes (gzip cannot shrink them).
    pub fn gzip_layer(mut self, size: u64) -> ImageBuilder {
        self.layers.push(LayerSpec {
            content: Content::Random(size),
            gzip: true,
        });
        self
    }

    /// An uncompressed tar layer holding one file of `size` random bytes (for
    /// benchmarks: no compression cost on either side).
    pub fn tar_layer(mut self, size: u64) -> ImageBuilder {
        self.layers.push(LayerSpec {
            content: Content::Random(size),
            gzip: false,
        });
        self
    }

    /// A tar+gzip layer of the given files (`path`, content).
    pub fn file_layer(mut self, files: &[(&str, &[u8])]) -> ImageBuilder {
        self.layers.push(LayerSpec {
            content: Content::Files(
                files
                    .iter()
                    .map(|(p, c)| ((*p).to_owned(), c.to_vec()))
                    .collect(),
            ),
            gzip: true,
        });
        self
    }

    /// A manifest annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> ImageBuilder {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    /// The config's `created` time (RFC 3339).
    pub fn created(mut self, rfc3339: &str) -> ImageBuilder {
        self.created = rfc3339.to_owned();
        self
    }

    /// Creates (or opens) the layout at `dir`, writes the image and names it `tag` in
    /// `index.json`.
    pub fn build(&self, dir: &Path, tag: &str) -> BuiltImage {
        let layout = OciLayout::create(dir).expect("create the OCI layout");
        let mut img = self.write(&layout);
        layout
            .set_ref(img.descriptor(), Some(tag))
            .expect("name the image in index.json");
        img.tag = Some(tag.to_owned());
        img
    }

    /// Writes the image's blobs into `layout` without naming it in `index.json`.
    pub fn write(&self, layout: &OciLayout) -> BuiltImage {
        let layers: Vec<BuiltLayer> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let seed = self
                    .seed
                    .wrapping_add((i as u64 + 1).wrapping_mul(0xd1b5_4a32_d192_ed03));
                write_layer(layout, spec, seed, i)
            })
            .collect();
        let history = layers
            .iter()
            .enumerate()
            .map(|(i, _)| History {
                created: Some(self.created.clone()),
                created_by: Some(format!("latch-testkit layer {i}")),
                author: None,
                comment: None,
                empty_layer: None,
            })
            .collect();
        let mut other = BTreeMap::new();
        other.insert(
            "config".to_owned(),
            serde_json::json!({"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["/bin/sh"]}),
        );
        let config = ImageConfig {
            created: Some(self.created.clone()),
            architecture: self.platform.architecture.clone(),
            os: self.platform.os.clone(),
            variant: self.platform.variant.clone(),
            rootfs: Some(RootFs {
                kind: "layers".to_owned(),
                diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
            }),
            history: Some(history),
            other,
        };
        let config = serde_json::to_vec(&config).expect("serialise the image config");
        layout.write_blob(&config).expect("write the config blob");
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(mt::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config: Descriptor::for_bytes(mt::OCI_CONFIG, &config),
            layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
            subject: None,
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
        };
        let manifest = ManifestBytes::from_image(&manifest);
        layout
            .write_blob(manifest.bytes())
            .expect("write the manifest blob");
        BuiltImage {
            layout_dir: layout.root().to_owned(),
            tag: None,
            manifest,
            config,
            layers,
            platform: self.platform.clone(),
        }
    }

    /// An index of this image for linux/amd64 and linux/arm64 (each with its own layer
    /// data), written to `dir` and named `tag`.
    pub fn build_multi_arch(&self, dir: &Path, tag: &str) -> BuiltIndex {
        IndexBuilder::new()
            .image(self.clone().platform("linux/amd64"))
            .image(
                self.clone()
                    .platform("linux/arm64")
                    .seed(self.seed ^ 0xa5a5_a5a5_a5a5_a5a5),
            )
            .build(dir, tag)
    }
}

/// Builds a multi-platform OCI index of several images.
#[derive(Debug, Clone, Default)]
pub struct IndexBuilder {
    images: Vec<ImageBuilder>,
    annotations: BTreeMap<String, String>,
}

impl IndexBuilder {
    /// An empty index.
    pub fn new() -> IndexBuilder {
        IndexBuilder::default()
    }

    /// Adds an image (its platform goes into the index entry).
    pub fn image(mut self, image: ImageBuilder) -> IndexBuilder {
        self.images.push(image);
        self
    }

    /// An index annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> IndexBuilder {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Writes every image and the index to the layout at `dir`, naming the index `tag`.
    pub fn build(&self, dir: &Path, tag: &str) -> BuiltIndex {
        let layout = OciLayout::create(dir).expect("create the OCI layout");
        let images: Vec<BuiltImage> = self.images.iter().map(|b| b.write(&layout)).collect();
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(mt::OCI_INDEX.to_owned()),
            artifact_type: None,
            manifests: images.iter().map(BuiltImage::descriptor).collect(),
            subject: None,
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
        };
        let index = ManifestBytes::from_index(&index);
        layout
            .write_blob(index.bytes())
            .expect("write the index blob");
        layout
            .set_ref(index.descriptor(), Some(tag))
            .expect("name the index in index.json");
        BuiltIndex {
            layout_dir: layout.root().to_owned(),
            tag: tag.to_owned(),
            index,
            images,
        }
    }
}

fn tar_header(path: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_path(path).expect("a valid tar path");
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    h
}

fn write_tar<W: Write>(out: W, content: &Content, seed: u64, index: usize) -> io::Result<W> {
    let mut b = tar::Builder::new(out);
    match content {
        Content::Random(size) => {
            let h = tar_header(&format!("layer-{index}/random.bin"), *size);
            b.append(&h, RandomReader::new(seed, *size))?;
        }
        Content::Files(files) => {
            for (path, data) in files {
                let h = tar_header(path, data.len() as u64);
                b.append(&h, data.as_slice())?;
            }
        }
    }
    b.into_inner()
}

fn write_layer(layout: &OciLayout, spec: &LayerSpec, seed: u64, index: usize) -> BuiltLayer {
    let partial = layout
        .partial_dir()
        .expect("the layout's partial directory");
    let tmp = tempfile::NamedTempFile::new_in(&partial).expect("a temporary layer file");
    let file: File = tmp.reopen().expect("reopen the temporary layer file");
    let blob = HashWriter::new(BufWriter::with_capacity(1 << 20, file));
    let result = if spec.gzip {
        (|| -> io::Result<_> {
            let diff = HashWriter::new(GzEncoder::new(blob, Compression::fast()));
            let diff = write_tar(diff, &spec.content, seed, index)?;
            let (gz, diff_id, _) = diff.finish();
            let (buf, digest, size) = gz.finish()?.finish();
            Ok((buf, digest, size, diff_id, mt::OCI_LAYER_GZIP))
        })()
    } else {
        (|| -> io::Result<_> {
            let (buf, digest, size) = write_tar(blob, &spec.content, seed, index)?.finish();
            Ok((buf, digest.clone(), size, digest, mt::OCI_LAYER_TAR))
        })()
    };
    let (buf, digest, size, diff_id, media_type) = result.expect("write a test layer");
    buf.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .expect("flush the test layer");
    let tmp_path = tmp.into_temp_path();
    layout
        .commit_blob(&tmp_path, &digest)
        .expect("move the test layer into the layout");
    // The file was renamed away; nothing is left for the guard to delete.
    let _ = tmp_path.keep();
    BuiltLayer {
        descriptor: Descriptor {
            media_type: media_type.to_owned(),
            digest: digest.clone(),
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
            data: None,
        },
        diff_id,
        path: layout.blob_path(&digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;

    #[test]
    fn random_reader_is_deterministic_and_sized() {
        let a = RandomReader::bytes(7, 1001);
        assert_eq!(a.len(), 1001);
        assert_eq!(a, RandomReader::bytes(7, 1001));
        assert_ne!(a, RandomReader::bytes(8, 1001));
        // Reading in odd pieces gives the same stream.
        let mut r = RandomReader::new(7, 1001);
        let mut b = Vec::new();
        let mut piece = [0u8; 3];
        loop {
            let n = r.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            b.extend_from_slice(&piece[..n]);
        }
        assert_eq!(a, b);
    }

    #[test]
    fn image_is_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let img = ImageBuilder::new()
            .seed(1)
            .gzip_layer(100_000)
            .tar_layer(50_000)
            .file_layer(&[("etc/hello.txt", b"hello")])
            .annotation("org.example", "yes")
            .build(dir.path(), "v1");
        let layout = OciLayout::open(dir.path()).unwrap();
        let d = layout.resolve(Some("v1")).unwrap();
        assert_eq!(&d.digest, img.digest());
        let m = layout.read_manifest(&d).unwrap();
        let manifest = m.as_image().unwrap();
        assert_eq!(manifest.layers.len(), 3);
        assert_eq!(manifest.layers[0].media_type, mt::OCI_LAYER_GZIP);
        assert_eq!(manifest.layers[1].media_type, mt::OCI_LAYER_TAR);
        let config =
            ImageConfig::parse(&layout.read_blob(&manifest.config.digest, 1 << 20).unwrap())
                .unwrap();
        let diff_ids = config.rootfs.unwrap().diff_ids;
        for (layer, diff_id) in img.layers.iter().zip(&diff_ids) {
            assert_eq!(
                layout.verify_blob(&layer.descriptor.digest).unwrap(),
                layer.descriptor.size
            );
            let raw = std::fs::read(&layer.path).unwrap();
            let tar = if layer.descriptor.media_type == mt::OCI_LAYER_GZIP {
                let mut out = Vec::new();
                GzDecoder::new(raw.as_slice())
                    .read_to_end(&mut out)
                    .unwrap();
                out
            } else {
                raw
            };
            assert_eq!(&Digest::sha256_of(&tar), diff_id);
        }
        // Random data does not compress: the gzip layer is larger than its content.
        assert!(img.layers[0].descriptor.size > 100_000);
        // The file layer holds the file.
        let mut tar = tar::Archive::new(GzDecoder::new(File::open(&img.layers[2].path).unwrap()));
        let mut entry = tar.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap().to_str(), Some("etc/hello.txt"));
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        assert!(
            !layout
                .root()
                .join(".partial")
                .read_dir()
                .unwrap()
                .any(|_| true)
        );
    }

    #[test]
    fn same_seed_same_digest() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let x = ImageBuilder::new()
            .seed(3)
            .gzip_layer(5000)
            .build(a.path(), "t");
        let y = ImageBuilder::new()
            .seed(3)
            .gzip_layer(5000)
            .build(b.path(), "t");
        assert_eq!(x.digest(), y.digest());
        let z = ImageBuilder::new().gzip_layer(5000).build(b.path(), "u");
        let w = ImageBuilder::new().gzip_layer(5000).build(b.path(), "v");
        assert_ne!(z.digest(), w.digest());
    }

    #[test]
    fn multi_arch_index() {
        let dir = tempfile::tempdir().unwrap();
        let idx = ImageBuilder::new()
            .gzip_layer(1000)
            .build_multi_arch(dir.path(), "multi");
        let layout = OciLayout::open(dir.path()).unwrap();
        let d = layout.resolve(Some("multi")).unwrap();
        assert_eq!(&d.digest, idx.digest());
        let index = layout.read_manifest(&d).unwrap();
        let platforms: Vec<String> = index
            .as_index()
            .unwrap()
            .platforms()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
        assert_ne!(
            idx.image("linux/amd64").layers[0].descriptor.digest,
            idx.image("linux/arm64").layers[0].descriptor.digest
        );
    }
}
