//! Layers as file-system entries: one streaming pass over a layer's tar gives the
//! metadata and content hash of every entry; layers stack into a squashed file system
//! with whiteouts (`.wh.NAME`) and opaque directories (`.wh..wh..opq`) applied.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use latch_oci::Digest;
use latch_oci::media_types::Compression;

use crate::Limits;
use crate::blob;
use crate::error::{DiffError, TarError};
use crate::source::Layer;
use latch_tar::{Entry, EntryKind, Format, Stream, TarReader, flag};

/// Prefix of whiteout entries.
pub(crate) const WHITEOUT: &str = ".wh.";
/// Name of the opaque-directory marker.
pub(crate) const OPAQUE: &str = ".wh..wh..opq";

/// How an entry's kind (`latch_tar::EntryKind`, from its type flag) is named in reports.
pub(crate) trait KindName {
    /// `file`, `dir`, `symlink`, `hardlink`, `char device`…
    fn name(self) -> String;
}

impl KindName for EntryKind {
    fn name(self) -> String {
        match self {
            EntryKind::File => "file".into(),
            EntryKind::Dir => "dir".into(),
            EntryKind::Symlink => "symlink".into(),
            EntryKind::HardLink => "hardlink".into(),
            EntryKind::CharDevice => "char device".into(),
            EntryKind::BlockDevice => "block device".into(),
            EntryKind::Fifo => "fifo".into(),
            EntryKind::Other(f) => format!("type {}", escape(&[f])),
        }
    }
}

/// One tar entry, as compared.
#[derive(Debug, Clone)]
pub(crate) struct FsEntry {
    /// Canonical path: `/` then components joined by `/`, without `.`, empty components
    /// or a trailing slash (the root is `/`).
    pub path: String,
    /// The name as written, when it is not the canonical path without its leading `/`.
    pub raw: Option<Box<str>>,
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: Box<str>,
    pub gname: Box<str>,
    pub size: u64,
    /// BLAKE3 of the data (entries that carry data).
    pub digest: Option<[u8; 32]>,
    /// Symlink target as written; hard-link target canonicalised.
    pub link: Option<Box<str>>,
    /// Extended attributes (`SCHILY.xattr.NAME`, or libarchive's records), sorted.
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// Other PAX records (besides those applied to the fields here), sorted.
    pub pax: Vec<(String, Vec<u8>)>,
    pub dev: Option<(u64, u64)>,
    pub mtime: Box<str>,
    pub atime: Option<Box<str>>,
    pub ctime: Option<Box<str>>,
    pub format: Format,
    /// Layer it came from (from 0).
    pub layer: u32,
}

impl FsEntry {
    /// Whether this is a whiteout (or opaque marker) entry.
    pub fn whiteout(&self) -> Option<Whiteout<'_>> {
        let (dir, base) = split(&self.path);
        if base == OPAQUE {
            Some(Whiteout::Opaque(dir))
        } else {
            base.strip_prefix(WHITEOUT)
                .map(|name| Whiteout::Remove(dir, name))
        }
    }

    /// A short description, for reports.
    pub fn describe(&self) -> String {
        match self.whiteout() {
            Some(Whiteout::Opaque(_)) => return "opaque-dir marker".into(),
            Some(Whiteout::Remove(..)) => return "whiteout".into(),
            None => {}
        }
        match self.kind {
            EntryKind::File => format!("file, {} B", self.size),
            EntryKind::Symlink | EntryKind::HardLink => format!(
                "{} -> {}",
                self.kind.name(),
                self.link.as_deref().unwrap_or("")
            ),
            k => k.name(),
        }
    }
}

/// A whiteout's meaning.
pub(crate) enum Whiteout<'a> {
    /// Everything lower in this directory is hidden.
    Opaque(&'a str),
    /// This name in this directory is removed.
    Remove(&'a str, &'a str),
}

/// `/a/b` → (`/a`, `b`); `/a` → (`/`, `a`).
fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Escapes bytes for display and as map keys, losslessly: invalid UTF-8, control
/// characters and backslashes become `\xNN` (backslash as `\\`).
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The canonical path of a name as written; `..` components are refused.
pub(crate) fn canonical(raw: &[u8]) -> Result<String, String> {
    let s = escape(raw);
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("has a \"..\" component (path traversal)".to_owned()),
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// Paths left out of a comparison: shell globs where `*` and `?` stay inside one path
/// component and `**` spans any number of them (the `glob` crate, no regex engine: the
/// binary stays small).
pub(crate) struct Ignore {
    patterns: Vec<glob::Pattern>,
}

const GLOB_OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Ignore {
    pub fn new(patterns: &[String]) -> Result<Ignore, DiffError> {
        let patterns = patterns
            .iter()
            .map(|p| {
                let trimmed = p.trim_start_matches('/').trim_end_matches('/');
                glob::Pattern::new(trimmed).map_err(|e| DiffError::BadGlob {
                    pattern: p.clone(),
                    detail: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Ignore { patterns })
    }

    fn is_match(&self, rel: &str) -> bool {
        self.patterns
            .iter()
            .any(|g| g.matches_with(rel, GLOB_OPTIONS))
    }

    /// Whether `path` (canonical) or one of its parents matches.
    pub fn matches(&self, path: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let rel = path.trim_start_matches('/');
        if rel.is_empty() {
            return false;
        }
        if self.is_match(rel) {
            return true;
        }
        let mut p = rel;
        while let Some(i) = p.rfind('/') {
            p = &p[..i];
            if self.is_match(p) {
                return true;
            }
        }
        false
    }

    /// Whether an entry is left out: whiteouts by the path they remove.
    fn skips(&self, path: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let (dir, base) = split(path);
        if base == OPAQUE {
            return self.matches(dir);
        }
        match base.strip_prefix(WHITEOUT) {
            Some(name) => self.matches(&join(dir, name)),
            None => self.matches(path),
        }
    }
}

/// A layer, read.
#[derive(Debug)]
pub(crate) struct LayerScan {
    pub entries: Vec<FsEntry>,
    /// Entries left out by `--ignore`.
    pub ignored: u64,
    /// Bytes of the uncompressed tar.
    pub uncompressed: u64,
    pub compression: Compression,
    /// Not read: the other image has the same blob (same digest) at this position.
    pub shared: bool,
}

impl LayerScan {
    /// The placeholder for a layer both images share.
    pub fn shared() -> LayerScan {
        LayerScan {
            entries: Vec::new(),
            ignored: 0,
            uncompressed: 0,
            compression: Compression::None,
            shared: true,
        }
    }
}

/// What a scan needs to know.
pub(crate) struct ScanContext<'a> {
    /// "A (source)" or "B (source)".
    pub image: &'a str,
    /// Layer number from 0.
    pub layer: usize,
    pub limits: &'a Limits,
    pub ignore: &'a Ignore,
    /// Set when another worker failed: stop early.
    pub stop: &'a AtomicBool,
    /// Entries kept so far for this image.
    pub entries: &'a AtomicUsize,
}

/// Verifies a layer's blob digest and its diff_id, given what the taps saw.
pub(crate) fn verify_layer(
    layer: &Layer,
    image: &str,
    number: usize,
    blob_digest: Option<Digest>,
    diff_id: Option<Digest>,
) -> Result<(), DiffError> {
    if let (Some(expected), Some(actual)) = (&layer.digest, &blob_digest)
        && expected != actual
    {
        return Err(DiffError::DigestMismatch {
            image: image.to_owned(),
            expected: expected.clone(),
            actual: actual.clone(),
        });
    }
    if let (Some(expected), Some(actual)) = (&layer.diff_id, &diff_id)
        && expected != actual
    {
        return Err(DiffError::DiffIdMismatch {
            image: image.to_owned(),
            layer: number,
            expected: expected.clone(),
            actual: actual.clone(),
        });
    }
    Ok(())
}

/// Turns a tar error into a layer error (a tap's bound into a limit error).
pub(crate) fn tar_error(e: TarError, ctx_image: &str, layer: usize, l: &Layer) -> DiffError {
    if let TarError::Io(io) = &e
        && let Some(max) = blob::limit_of(io)
    {
        return DiffError::Limit {
            image: ctx_image.to_owned(),
            what: format!("layer {} (uncompressed)", layer + 1),
            max,
        };
    }
    DiffError::Layer {
        image: ctx_image.to_owned(),
        layer: layer + 1,
        digest: l.digest.clone().or_else(|| l.diff_id.clone()),
        source: e,
    }
}

fn algorithm(layer: &Layer) -> latch_oci::Algorithm {
    layer
        .digest
        .as_ref()
        .map(|d| d.algorithm())
        .unwrap_or(latch_oci::Algorithm::Sha256)
}

/// Reads a layer: every entry's metadata and content hash, the blob verified against
/// its digest and the uncompressed stream against the config's diff_id.
pub(crate) fn scan_layer(layer: &Layer, ctx: &ScanContext<'_>) -> Result<LayerScan, DiffError> {
    let limits = ctx.limits;
    let stream = blob::open_layer(&layer.region, algorithm(layer), limits.max_layer_bytes)?;
    let compression = stream.compression;
    let mut tar = TarReader::new(Stream(stream.reader), limits.tar());
    let mut entries = Vec::new();
    let mut ignored = 0u64;
    let mut buf = vec![0u8; blob::BUFFER];
    let terr = |e: TarError| tar_error(e, ctx.image, ctx.layer, layer);
    while let Some(entry) = tar.next_entry().map_err(terr)? {
        if ctx.stop.load(Ordering::Relaxed) {
            return Err(crate::pool::stopped());
        }
        let path = canonical(&entry.name).map_err(|detail| DiffError::BadEntry {
            image: ctx.image.to_owned(),
            layer: ctx.layer + 1,
            path: escape(&entry.name),
            detail,
        })?;
        if entry.size > limits.max_entry_bytes {
            return Err(DiffError::Limit {
                image: ctx.image.to_owned(),
                what: format!(
                    "layer {}: entry {} declared size ({} bytes)",
                    ctx.layer + 1,
                    escape(&entry.name),
                    entry.size
                ),
                max: limits.max_entry_bytes,
            });
        }
        if matches!(entry.flag, flag::PAX | flag::PAX_GLOBAL) {
            continue;
        }
        let skip = ctx.ignore.skips(&path);
        let digest = if entry.has_data() && !skip {
            // BLAKE3: collision-resistant like SHA-256 and about twice as fast here,
            // which matters because every byte of every layer is hashed twice (here,
            // and for the blob digest or diff_id).
            let mut h = blake3::Hasher::new();
            let mut data = tar.data();
            loop {
                let n = match data.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(terr(TarError::Io(e))),
                };
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Some(*h.finalize().as_bytes())
        } else {
            None
        };
        if skip {
            ignored += 1;
            continue;
        }
        let n = ctx.entries.fetch_add(1, Ordering::Relaxed) + 1;
        if n > limits.max_entries {
            return Err(DiffError::Limit {
                image: ctx.image.to_owned(),
                what: "the number of tar entries".to_owned(),
                max: limits.max_entries as u64,
            });
        }
        entries.push(to_fs_entry(entry, path, digest, ctx)?);
    }
    // Whatever follows the end-of-archive blocks is part of the diff_id.
    let mut rest = tar.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| terr(TarError::Io(e)))?;
    drop(rest);
    let (diff_id, uncompressed) = match &stream.diff_tap {
        Some(t) => blob::finish(t),
        None => (None, 0),
    };
    let consumed = blob::count(&stream.blob_tap);
    blob::hash_rest(&layer.region, consumed, &stream.blob_tap)?;
    let (blob_digest, blob_len) = blob::finish(&stream.blob_tap);
    let (diff_id, uncompressed) = match compression {
        Compression::None => (
            blob_digest
                .clone()
                .filter(|d| d.algorithm() == latch_oci::Algorithm::Sha256),
            blob_len,
        ),
        _ => (diff_id, uncompressed),
    };
    verify_layer(layer, ctx.image, ctx.layer + 1, blob_digest, diff_id)?;
    Ok(LayerScan {
        entries,
        ignored,
        uncompressed,
        compression,
        shared: false,
    })
}

fn to_fs_entry(
    entry: Entry,
    path: String,
    digest: Option<[u8; 32]>,
    ctx: &ScanContext<'_>,
) -> Result<FsEntry, DiffError> {
    let kind = entry.kind();
    let has_data = entry.has_data();
    let link = match kind {
        EntryKind::Symlink => Some(escape(&entry.link).into_boxed_str()),
        EntryKind::HardLink => Some(
            canonical(&entry.link)
                .map_err(|detail| DiffError::BadEntry {
                    image: ctx.image.to_owned(),
                    layer: ctx.layer + 1,
                    path: escape(&entry.name),
                    detail: format!("hard link target {}", detail),
                })?
                .into_boxed_str(),
        ),
        _ => None,
    };
    let mut xattrs = Vec::new();
    let mut pax = Vec::new();
    for (k, v) in entry.pax {
        if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
            xattrs.push((name.to_owned(), v));
        } else if k.starts_with("LIBARCHIVE.xattr.") {
            xattrs.push((k, v));
        } else if !matches!(
            k.as_str(),
            "path"
                | "linkpath"
                | "size"
                | "uid"
                | "gid"
                | "uname"
                | "gname"
                | "mtime"
                | "atime"
                | "ctime"
        ) {
            pax.push((k, v));
        }
    }
    xattrs.sort();
    let raw_text = escape(&entry.name);
    let raw = (raw_text != path[1..]
        && !(kind == EntryKind::Dir && raw_text.trim_end_matches('/') == &path[1..]))
        .then(|| raw_text.into_boxed_str());
    Ok(FsEntry {
        raw,
        kind,
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        uname: escape(&entry.uname).into_boxed_str(),
        gname: escape(&entry.gname).into_boxed_str(),
        size: if has_data { entry.size } else { 0 },
        digest,
        link,
        xattrs,
        pax,
        dev: matches!(kind, EntryKind::CharDevice | EntryKind::BlockDevice)
            .then_some((entry.dev_major, entry.dev_minor)),
        mtime: entry.mtime.into_boxed_str(),
        atime: entry.atime.map(String::into_boxed_str),
        ctime: entry.ctime.map(String::into_boxed_str),
        format: entry.format,
        layer: ctx.layer as u32,
        path,
    })
}

/// The entries of one layer by path (a later duplicate wins, as on extraction).
pub(crate) fn by_path(entries: &[FsEntry]) -> BTreeMap<&str, &FsEntry> {
    entries.iter().map(|e| (e.path.as_str(), e)).collect()
}

/// Stacks layers, base first, into one file system.
pub(crate) fn squash<'a>(layers: &[&'a LayerScan]) -> BTreeMap<&'a str, &'a FsEntry> {
    let mut fs: BTreeMap<&'a str, &'a FsEntry> = BTreeMap::new();
    for layer in layers {
        // Whiteouts hide what lower layers hold; entries of this layer stay.
        for e in &layer.entries {
            match e.whiteout() {
                Some(Whiteout::Opaque(dir)) => remove_children(&mut fs, dir),
                Some(Whiteout::Remove(dir, name)) => {
                    let target = join(dir, name);
                    fs.remove(target.as_str());
                    remove_children(&mut fs, &target);
                }
                None => {}
            }
        }
        for e in &layer.entries {
            if e.whiteout().is_some() {
                continue;
            }
            if e.kind != EntryKind::Dir {
                // A non-directory replacing a directory hides what was under it.
                if fs
                    .get(e.path.as_str())
                    .is_some_and(|old| old.kind == EntryKind::Dir)
                {
                    remove_children(&mut fs, &e.path);
                }
            }
            fs.insert(e.path.as_str(), e);
        }
    }
    fs
}

fn remove_children(fs: &mut BTreeMap<&str, &FsEntry>, dir: &str) {
    let prefix = if dir == "/" {
        "/".to_owned()
    } else {
        format!("{dir}/")
    };
    let doomed: Vec<&str> = fs
        .range::<str, _>((
            std::ops::Bound::Included(prefix.as_str()),
            std::ops::Bound::Unbounded,
        ))
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| **k != "/")
        .map(|(k, _)| *k)
        .collect();
    for k in doomed {
        fs.remove(k);
    }
}

/// Receives an entry, its canonical path and its data.
pub(crate) type EntrySink<'a> =
    dyn FnMut(&Entry, &str, &mut dyn Read) -> Result<(), DiffError> + 'a;

/// Streams a layer again and hands each entry whose canonical path is in `wanted` to
/// `sink` with a reader of its data (the `--report-dir` pass).
pub(crate) fn extract_layer(
    layer: &Layer,
    image: &str,
    number: usize,
    limits: &Limits,
    wanted: &std::collections::BTreeSet<String>,
    sink: &mut EntrySink<'_>,
) -> Result<(), DiffError> {
    let stream = blob::open_layer(&layer.region, algorithm(layer), limits.max_layer_bytes)?;
    let mut tar = TarReader::new(Stream(stream.reader), limits.tar());
    let terr = |e: TarError| tar_error(e, image, number, layer);
    while let Some(entry) = tar.next_entry().map_err(terr)? {
        let Ok(path) = canonical(&entry.name) else {
            continue;
        };
        if !wanted.contains(&path) {
            continue;
        }
        let mut data = tar.data();
        sink(&entry, &path, &mut data)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Ignore;

    fn ignore(patterns: &[&str]) -> Ignore {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        match Ignore::new(&patterns) {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_star_stays_in_one_component_and_two_span_any() {
        let i = ignore(&["usr/*.pyc", "**/__pycache__", "/var/log/"]);
        assert!(i.matches("/usr/a.pyc"));
        assert!(!i.matches("/usr/lib/a.pyc"), "* crossed a /");
        assert!(
            i.matches("/__pycache__/x"),
            "** matched no component at the root"
        );
        assert!(i.matches("/usr/lib/python3/__pycache__/m.pyc"));
        assert!(i.matches("/var/log"));
        assert!(
            i.matches("/var/log/apt/history.log"),
            "a parent's match covers its tree"
        );
        assert!(!i.matches("/var/logs"));
        assert!(!i.matches("/"));
    }

    #[test]
    fn no_patterns_match_nothing_and_a_bad_one_is_refused() {
        assert!(!ignore(&[]).matches("/anything"));
        assert!(Ignore::new(&["a[".to_string()]).is_err());
    }
}
