//! Test images built byte by byte: tar layers with chosen mtimes, modes, owners, xattrs,
//! whiteouts (and hostile names), compressed as asked, in an OCI layout.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use latch_diff::tar::{BLOCK, set_checksum, set_octal, write_pax};
use latch_diff::{DiffOptions, DiffReport, Image, Mode, OpenOptions, Source};
use latch_oci::media_types as mt;
use latch_oci::{Descriptor, Digest, ImageManifest, ManifestBytes, OciLayout};

/// What an entry is.
#[derive(Debug, Clone)]
pub enum Body {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
    Char(u32, u32),
}

/// One tar entry.
#[derive(Debug, Clone)]
pub struct E {
    pub path: String,
    pub body: Body,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    pub mtime: u64,
    /// PAX records (xattrs as `SCHILY.xattr.NAME`, or `mtime` with a fraction).
    pub pax: Vec<(String, Vec<u8>)>,
    /// Declared size overriding the real one (hostile tests).
    pub declared_size: Option<u64>,
}

pub fn file(path: &str, content: &[u8]) -> E {
    E {
        path: path.to_owned(),
        body: Body::File(content.to_vec()),
        mode: 0o644,
        uid: 0,
        gid: 0,
        uname: "root".into(),
        gname: "root".into(),
        mtime: 1_600_000_000,
        pax: Vec::new(),
        declared_size: None,
    }
}

pub fn dir(path: &str) -> E {
    E {
        body: Body::Dir,
        mode: 0o755,
        ..file(path, b"")
    }
}

pub fn symlink(path: &str, target: &str) -> E {
    E {
        body: Body::Symlink(target.to_owned()),
        mode: 0o777,
        ..file(path, b"")
    }
}

pub fn hardlink(path: &str, target: &str) -> E {
    E {
        body: Body::Hardlink(target.to_owned()),
        ..file(path, b"")
    }
}

pub fn whiteout(path: &str) -> E {
    file(path, b"")
}

impl E {
    pub fn mode(mut self, m: u32) -> E {
        self.mode = m;
        self
    }
    pub fn owner(mut self, uid: u64, gid: u64, uname: &str, gname: &str) -> E {
        self.uid = uid;
        self.gid = gid;
        self.uname = uname.into();
        self.gname = gname.into();
        self
    }
    pub fn mtime(mut self, t: u64) -> E {
        self.mtime = t;
        self
    }
    pub fn pax(mut self, k: &str, v: &[u8]) -> E {
        self.pax.push((k.to_owned(), v.to_vec()));
        self
    }
    pub fn xattr(self, name: &str, v: &[u8]) -> E {
        self.pax(&format!("SCHILY.xattr.{name}"), v)
    }
    pub fn declared_size(mut self, n: u64) -> E {
        self.declared_size = Some(n);
        self
    }
}

fn header(name: &[u8], flag: u8, size: u64, e: &E, link: &[u8]) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    set_octal(&mut h[100..108], u64::from(e.mode)).unwrap();
    set_octal(&mut h[108..116], e.uid).unwrap();
    set_octal(&mut h[116..124], e.gid).unwrap();
    if set_octal(&mut h[124..136], size).is_none() {
        // GNU base-256 for sizes over 8 GiB.
        h[124..136].fill(0);
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    set_octal(&mut h[136..148], e.mtime).unwrap();
    h[156] = flag;
    let l = link.len().min(100);
    h[157..157 + l].copy_from_slice(&link[..l]);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let u = e.uname.len().min(32);
    h[265..265 + u].copy_from_slice(&e.uname.as_bytes()[..u]);
    let g = e.gname.len().min(32);
    h[297..297 + g].copy_from_slice(&e.gname.as_bytes()[..g]);
    if let Body::Char(ma, mi) = e.body {
        set_octal(&mut h[329..337], u64::from(ma)).unwrap();
        set_octal(&mut h[337..345], u64::from(mi)).unwrap();
    }
    set_checksum(&mut h);
    h
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(BLOCK) {
        out.push(0);
    }
}

/// A tar stream of these entries (ustar, with PAX headers for records and long names).
pub fn tar(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let (flag, data, link): (u8, &[u8], &[u8]) = match &e.body {
            Body::File(d) => (b'0', d, b""),
            Body::Dir => (b'5', b"", b""),
            Body::Symlink(t) => (b'2', b"", t.as_bytes()),
            Body::Hardlink(t) => (b'1', b"", t.as_bytes()),
            Body::Char(..) => (b'3', b"", b""),
        };
        let mut records = e.pax.clone();
        if e.path.len() > 100 {
            records.push(("path".into(), e.path.as_bytes().to_vec()));
        }
        if !records.is_empty() {
            let body = write_pax(&records);
            let mut ph = E {
                mode: 0o644,
                ..e.clone()
            };
            ph.uname.clear();
            ph.gname.clear();
            let h = header(b"PaxHeaders.0/x", b'x', body.len() as u64, &ph, b"");
            out.extend_from_slice(&h);
            out.extend_from_slice(&body);
            pad(&mut out);
        }
        let size = e.declared_size.unwrap_or(data.len() as u64);
        out.extend_from_slice(&header(e.path.as_bytes(), flag, size, e, link));
        out.extend_from_slice(data);
        pad(&mut out);
    }
    out.extend_from_slice(&[0u8; 2 * BLOCK]);
    out
}

/// Layer compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

pub fn compress(data: &[u8], c: Comp) -> (Vec<u8>, &'static str) {
    match c {
        Comp::None => (data.to_vec(), mt::OCI_LAYER_TAR),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            (e.finish().unwrap(), mt::OCI_LAYER_GZIP)
        }
        Comp::Zstd => (zstd::encode_all(data, 3).unwrap(), mt::OCI_LAYER_ZSTD),
    }
}

/// An image to build.
#[derive(Debug, Clone)]
pub struct Img {
    pub layers: Vec<(Vec<u8>, Comp)>,
    pub created: String,
    pub annotations: BTreeMap<String, String>,
    pub env: Vec<String>,
    /// Overrides the diff_ids (hostile tests).
    pub diff_ids: Option<Vec<Digest>>,
}

impl Img {
    pub fn new() -> Img {
        Img {
            layers: Vec::new(),
            created: "2026-01-01T00:00:00Z".into(),
            annotations: BTreeMap::new(),
            env: vec!["PATH=/usr/bin:/bin".into()],
            diff_ids: None,
        }
    }
    pub fn layer(mut self, entries: &[E], c: Comp) -> Img {
        self.layers.push((tar(entries), c));
        self
    }
    pub fn raw_layer(mut self, tar: Vec<u8>, c: Comp) -> Img {
        self.layers.push((tar, c));
        self
    }
    pub fn created(mut self, t: &str) -> Img {
        self.created = t.into();
        self
    }
    pub fn annotation(mut self, k: &str, v: &str) -> Img {
        self.annotations.insert(k.into(), v.into());
        self
    }

    /// Writes the image into the layout at `dir` named `tag`; returns the manifest.
    pub fn build(&self, dir: &Path, tag: &str) -> ManifestBytes {
        let layout = OciLayout::create(dir).unwrap();
        let m = self.write(&layout);
        layout.set_ref(m.descriptor(), Some(tag)).unwrap();
        m
    }

    pub fn write(&self, layout: &OciLayout) -> ManifestBytes {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (t, c) in &self.layers {
            let (blob, media_type) = compress(t, *c);
            layout.write_blob(&blob).unwrap();
            descs.push(Descriptor::for_bytes(media_type, &blob));
            diff_ids.push(Digest::sha256_of(t));
        }
        let diff_ids = self.diff_ids.clone().unwrap_or(diff_ids);
        let history: Vec<serde_json::Value> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, _)| serde_json::json!({"created": self.created, "created_by": format!("step {i}")}))
            .collect();
        let config = serde_json::json!({
            "created": self.created,
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": self.env, "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        let config = serde_json::to_vec(&config).unwrap();
        layout.write_blob(&config).unwrap();
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(mt::OCI_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::for_bytes(mt::OCI_CONFIG, &config),
            layers: descs,
            subject: None,
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
        };
        let m = ManifestBytes::from_image(&manifest);
        layout.write_blob(m.bytes()).unwrap();
        m
    }
}

/// A runtime for the async `open`.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn open(arg: &str) -> Image {
    rt().block_on(latch_diff::open(
        &Source::parse(arg).unwrap(),
        &OpenOptions::default(),
    ))
    .unwrap_or_else(|e| panic!("open {arg}: {e}"))
}

pub fn try_open(arg: &str) -> latch_diff::Result<Image> {
    rt().block_on(latch_diff::open(
        &Source::parse(arg)?,
        &OpenOptions::default(),
    ))
}

pub fn layout_arg(dir: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", dir.display())
}

/// Diffs two built images in a mode.
pub fn diff_mode(a: &Image, b: &Image, mode: Mode) -> DiffReport {
    let opts = DiffOptions {
        mode,
        ..DiffOptions::default()
    };
    latch_diff::diff(a, b, &opts).unwrap_or_else(|e| panic!("diff: {e}"))
}

/// Builds both, opens both.
pub struct Pair {
    pub dir: tempfile::TempDir,
    pub a: Image,
    pub b: Image,
}

pub fn pair(a: &Img, b: &Img) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    a.build(&dir.path().join("a"), "a");
    b.build(&dir.path().join("b"), "b");
    let ia = open(&layout_arg(&dir.path().join("a"), "a"));
    let ib = open(&layout_arg(&dir.path().join("b"), "b"));
    Pair { dir, a: ia, b: ib }
}

impl Pair {
    pub fn semantic(&self) -> DiffReport {
        diff_mode(&self.a, &self.b, Mode::Semantic)
    }
    pub fn strict(&self) -> DiffReport {
        diff_mode(&self.a, &self.b, Mode::Strict)
    }
}

/// The kinds and paths of a report, for compact assertions.
pub fn kinds(r: &DiffReport) -> Vec<(String, String)> {
    r.differences
        .iter()
        .map(|d| (d.kind.label().to_owned(), d.path.clone()))
        .collect()
}
