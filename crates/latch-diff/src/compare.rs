//! The comparison: index, then each platform's manifest, then config, then layers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use latch_oci::manifest::{ANNOTATION_CREATED, ANNOTATION_REF_NAME};
use latch_oci::{Descriptor, ImageManifest, Platform};
use serde_json::Value;

use crate::error::{DiffError, Result};
use crate::extract::{Side, Want};
use crate::fs::{self, FsEntry, Ignore, LayerScan, ScanContext};
use crate::json::{diff_values, prune, render};
use crate::report::{Collector, DiffReport, Kind, Stats};
use crate::source::{Image, PlatformEntry, PlatformImage};
use crate::{DiffOptions, Mode};
use latch_tar::EntryKind;

/// Annotations that name an image rather than describe it (ignored in semantic mode).
const NAME_ANNOTATIONS: &[&str] = &[ANNOTATION_REF_NAME, "io.containerd.image.name"];

/// PAX records that only say when or where a file was archived (ignored in semantic
/// mode, like the times themselves).
const VOLATILE_PAX: &[&str] = &[
    "LIBARCHIVE.creationtime",
    "SCHILY.dev",
    "SCHILY.ino",
    "SCHILY.nlink",
    "hdrcharset",
];

/// Two images to compare, one platform.
struct Pair<'a> {
    /// Set when several platforms are compared.
    label: Option<String>,
    a: &'a PlatformImage,
    b: &'a PlatformImage,
    squash: bool,
}

/// Compares two images. Layers are read by `opts.jobs` threads at once; nothing is
/// extracted unless `opts.report_dir` is set, and then only the differing files.
pub fn diff(a: &Image, b: &Image, opts: &DiffOptions) -> Result<DiffReport> {
    let ignore = Ignore::new(&opts.ignore)?;
    if let Some(dir) = &opts.report_dir {
        crate::extract::prepare_dir(dir)?;
    }
    let mode = opts.mode;
    let mut c = Collector::new(opts.max_differences);
    let pairs = pair_up(a, b, opts, &mut c)?;
    let multi = pairs.len() > 1;
    for p in &pairs {
        c.platform = if multi { p.label.clone() } else { None };
        compare_manifest(p, mode, &mut c);
        compare_config(p, mode, &mut c);
        if p.a.layers.len() != p.b.layers.len() {
            c.note(format!(
                "{}layer split differs ({} layers against {}): the squashed file systems are compared",
                prefix(&c.platform),
                p.a.layers.len(),
                p.b.layers.len()
            ));
        }
    }
    let label_a = format!("A ({})", a.label);
    let label_b = format!("B ({})", b.label);
    let scans = scan_all(&pairs, opts, &ignore, &label_a, &label_b)?;
    let mut stats = Stats {
        platforms: pairs.len(),
        ..Stats::default()
    };
    let mut wants: Vec<Want> = Vec::new();
    let want_files = opts.report_dir.is_some();
    for (i, (p, (sa, sb))) in pairs.iter().zip(&scans).enumerate() {
        c.platform = if multi { p.label.clone() } else { None };
        stats.layers_a += sa.len();
        stats.layers_b += sb.len();
        for s in sa {
            stats.entries_a += s.entries.len() as u64;
            stats.bytes_a += s.uncompressed;
            stats.ignored += s.ignored;
        }
        for s in sb {
            stats.entries_b += s.entries.len() as u64;
            stats.bytes_b += s.uncompressed;
            stats.ignored += s.ignored;
        }
        stats.squashed |= p.squash;
        let mut ctx = EntryCtx {
            mode,
            pair: i,
            c: &mut c,
            wants: want_files.then_some(&mut wants),
            squash: p.squash,
        };
        if p.squash {
            let la: Vec<&LayerScan> = sa.iter().collect();
            let lb: Vec<&LayerScan> = sb.iter().collect();
            ctx.c.layer = None;
            compare_maps(&fs::squash(&la), &fs::squash(&lb), &mut ctx);
        } else {
            for (n, (x, y)) in sa.iter().zip(sb).enumerate() {
                if x.shared && y.shared {
                    stats.shared_layers += 1;
                    ctx.c.note(format!(
                        "{}layer {}: the same blob on both sides (same digest): not read",
                        prefix(&ctx.c.platform),
                        n + 1
                    ));
                    continue;
                }
                if x.compression != y.compression && mode == Mode::Semantic {
                    let name =
                        |c: latch_oci::media_types::Compression| format!("{c:?}").to_lowercase();
                    ctx.c.note(format!(
                        "{}layer {}: {} in A, {} in B (compression is not compared in semantic mode)",
                        prefix(&ctx.c.platform),
                        n + 1,
                        name(x.compression),
                        name(y.compression)
                    ));
                }
                ctx.c.layer = Some(n + 1);
                compare_maps(&fs::by_path(&x.entries), &fs::by_path(&y.entries), &mut ctx);
                if mode == Mode::Strict {
                    compare_order(x, y, ctx.c);
                }
            }
            ctx.c.layer = None;
        }
    }
    c.platform = None;
    c.layer = None;
    if let Some(dir) = &opts.report_dir
        && c.total() > 0
    {
        let mut configs = Vec::new();
        for p in &pairs {
            if c.differences.iter().any(|d| {
                d.kind == Kind::Config && d.platform == if multi { p.label.clone() } else { None }
            }) {
                configs.push((
                    if multi { p.label.clone() } else { None },
                    p.a.config.clone(),
                    p.b.config.clone(),
                ));
            }
        }
        let layers: Vec<(Option<String>, &PlatformImage, &PlatformImage, bool)> = pairs
            .iter()
            .map(|p| {
                (
                    if multi { p.label.clone() } else { None },
                    p.a,
                    p.b,
                    p.squash,
                )
            })
            .collect();
        let written = crate::extract::write_report(
            dir,
            &layers,
            &configs,
            &wants,
            &opts.limits,
            &label_a,
            &label_b,
        )?;
        c.note(format!(
            "wrote {} files ({} bytes) under {} (compare with: diffoscope {}/a {}/b)",
            written.files,
            written.bytes,
            dir.display(),
            dir.display(),
            dir.display()
        ));
        for n in written.notes {
            c.note(n);
        }
    }
    let equal = c.total() == 0;
    Ok(DiffReport {
        mode,
        equal,
        a: a.label.clone(),
        b: b.label.clone(),
        a_digest: a.digest().map(|d| d.to_string()),
        b_digest: b.digest().map(|d| d.to_string()),
        differences: c.differences,
        unlisted: c.unlisted,
        notes: c.notes,
        stats,
    })
}

fn prefix(platform: &Option<String>) -> String {
    platform
        .as_ref()
        .map(|p| format!("{p}: "))
        .unwrap_or_default()
}

fn platform_key(e: &PlatformEntry) -> String {
    let p = e
        .platform
        .as_ref()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "unknown".to_owned());
    let attestation = e
        .descriptor
        .as_ref()
        .and_then(|d| d.annotation("vnd.docker.reference.type"))
        .is_some_and(|t| t == "attestation-manifest");
    if attestation {
        format!("attestation {p}")
    } else {
        p
    }
}

fn select<'a>(img: &'a Image, wanted: &Platform, side: &str) -> Result<&'a PlatformImage> {
    let found = img.entries.iter().find(|e| {
        e.platform.as_ref().is_some_and(|p| p.satisfies(wanted))
            && !platform_key(e).starts_with("attestation")
    });
    match found {
        Some(PlatformEntry { image: Some(i), .. }) => Ok(i),
        Some(_) => Err(DiffError::NoSuchPlatform {
            image: format!("{side} ({})", img.label),
            platform: format!("{wanted} (listed, but its blobs are not here)"),
            available: img.platforms().join(", "),
        }),
        None => Err(DiffError::NoSuchPlatform {
            image: format!("{side} ({})", img.label),
            platform: wanted.to_string(),
            available: img
                .entries
                .iter()
                .map(platform_key)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn single<'a>(img: &'a Image, side: &str) -> Result<&'a PlatformImage> {
    img.entries
        .first()
        .and_then(|e| e.image.as_ref())
        .ok_or_else(|| DiffError::Incomparable(format!("{side} ({}) holds no image", img.label)))
}

fn pair_up<'a>(
    a: &'a Image,
    b: &'a Image,
    opts: &DiffOptions,
    c: &mut Collector,
) -> Result<Vec<Pair<'a>>> {
    let mode = opts.mode;
    let make = |label: Option<String>, x: &'a PlatformImage, y: &'a PlatformImage| Pair {
        label,
        a: x,
        b: y,
        squash: opts.squash || x.layers.len() != y.layers.len(),
    };
    if a.is_index() && b.is_index() {
        compare_index_docs(a, b, mode, c);
    } else if a.is_index() != b.is_index() {
        let (x, y) = if a.is_index() {
            ("an index", "a single image")
        } else {
            ("a single image", "an index")
        };
        if mode == Mode::Strict {
            c.add(
                Kind::Manifest,
                "top-level",
                Some(x.to_owned()),
                Some(y.to_owned()),
            );
        }
    }
    if let Some(p) = &opts.platform {
        return Ok(vec![make(None, select(a, p, "A")?, select(b, p, "B")?)]);
    }
    match (a.is_index(), b.is_index()) {
        (true, true) => {
            let ka = keyed(&a.entries);
            let kb = keyed(&b.entries);
            let mut pairs = Vec::new();
            let mut keys: Vec<&String> = ka.keys().chain(kb.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                match (ka.get(k), kb.get(k)) {
                    (Some(x), Some(y)) => {
                        if mode == Mode::Strict
                            && let (Some(dx), Some(dy)) = (&x.descriptor, &y.descriptor)
                        {
                            c.platform = Some(k.clone());
                            compare_descriptor(k, dx, dy, c);
                            c.platform = None;
                        }
                        match (&x.image, &y.image) {
                            (Some(ix), Some(iy)) => pairs.push(make(Some(k.clone()), ix, iy)),
                            (ix, iy) => c.note(format!(
                                "{k}: not compared: its blobs are not here in {}",
                                match (ix.is_none(), iy.is_none()) {
                                    (true, true) => "A nor B",
                                    (true, false) => "A",
                                    _ => "B",
                                }
                            )),
                        }
                    }
                    (Some(_), None) => {
                        c.add(Kind::Platform, k.clone(), Some("present".into()), None)
                    }
                    (None, Some(_)) => {
                        c.add(Kind::Platform, k.clone(), None, Some("present".into()))
                    }
                    (None, None) => {}
                }
            }
            if pairs.is_empty() && c.total() == 0 {
                return Err(DiffError::Incomparable(
                    "no platform of the two indexes could be compared (their blobs are not here)"
                        .to_owned(),
                ));
            }
            Ok(pairs)
        }
        (true, false) => {
            let y = single(b, "B")?;
            let x = select(a, &y.platform, "A")?;
            c.note(format!(
                "A is an index, B a single image: comparing A's {} image",
                y.platform
            ));
            Ok(vec![make(None, x, y)])
        }
        (false, true) => {
            let x = single(a, "A")?;
            let y = select(b, &x.platform, "B")?;
            c.note(format!(
                "B is an index, A a single image: comparing B's {} image",
                x.platform
            ));
            Ok(vec![make(None, x, y)])
        }
        (false, false) => Ok(vec![make(None, single(a, "A")?, single(b, "B")?)]),
    }
}

fn keyed(entries: &[PlatformEntry]) -> BTreeMap<String, &PlatformEntry> {
    let mut out = BTreeMap::new();
    for e in entries {
        let base = platform_key(e);
        let mut k = base.clone();
        let mut n = 2;
        while out.contains_key(&k) {
            k = format!("{base} #{n}");
            n += 1;
        }
        out.insert(k, e);
    }
    out
}

fn annotations_value(a: Option<&BTreeMap<String, String>>, mode: Mode) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in a.into_iter().flatten() {
        if mode == Mode::Semantic
            && (k == ANNOTATION_CREATED || NAME_ANNOTATIONS.contains(&k.as_str()))
        {
            continue;
        }
        m.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(m)
}

fn compare_annotations(
    kind: Kind,
    base: &str,
    a: Option<&BTreeMap<String, String>>,
    b: Option<&BTreeMap<String, String>>,
    mode: Mode,
    c: &mut Collector,
) {
    let (va, vb) = (annotations_value(a, mode), annotations_value(b, mode));
    diff_values(base, Some(&va), Some(&vb), &mut |p, x, y| {
        c.add(kind, p, x.map(render), y.map(render))
    });
}

fn compare_index_docs(a: &Image, b: &Image, mode: Mode, c: &mut Collector) {
    let (Some(ta), Some(tb)) = (&a.top, &b.top) else {
        return;
    };
    let (Some(ia), Some(ib)) = (ta.as_index(), tb.as_index()) else {
        return;
    };
    if mode == Mode::Strict {
        if ta.digest() == tb.digest() {
            return;
        }
        if ta.media_type() != tb.media_type() {
            c.add(
                Kind::Index,
                "mediaType",
                Some(ta.media_type().to_owned()),
                Some(tb.media_type().to_owned()),
            );
        }
    }
    compare_annotations(
        Kind::Index,
        "annotations",
        ia.annotations.as_ref(),
        ib.annotations.as_ref(),
        mode,
        c,
    );
    if mode == Mode::Semantic {
        // Per-platform descriptor annotations (without times and names).
        let ka = keyed(&a.entries);
        let kb = keyed(&b.entries);
        for (k, x) in &ka {
            if let (Some(y), Some(dx)) = (kb.get(k), &x.descriptor)
                && let Some(dy) = &y.descriptor
            {
                compare_annotations(
                    Kind::Index,
                    &format!("manifests[{k}].annotations"),
                    dx.annotations.as_ref(),
                    dy.annotations.as_ref(),
                    mode,
                    c,
                );
            }
        }
    }
    if mode == Mode::Strict && ia.manifests.len() != ib.manifests.len() {
        c.add(
            Kind::Index,
            "manifests",
            Some(format!("{} entries", ia.manifests.len())),
            Some(format!("{} entries", ib.manifests.len())),
        );
    }
}

/// Strict: every field of a descriptor but `platform` (the key it was paired by).
fn compare_descriptor(base: &str, a: &Descriptor, b: &Descriptor, c: &mut Collector) {
    let mut va = serde_json::to_value(a).unwrap_or(Value::Null);
    let mut vb = serde_json::to_value(b).unwrap_or(Value::Null);
    for v in [&mut va, &mut vb] {
        if let Some(m) = v.as_object_mut() {
            m.remove("platform");
        }
    }
    diff_values(base, Some(&va), Some(&vb), &mut |p, x, y| {
        c.add(Kind::Index, p, x.map(render), y.map(render))
    });
}

fn compare_manifest(p: &Pair<'_>, mode: Mode, c: &mut Collector) {
    let (ma, mb) = (&p.a.manifest, &p.b.manifest);
    match (ma, mb) {
        (Some(ma), Some(mb)) => {
            let (Some(ia), Some(ib)) = (ma.as_image(), mb.as_image()) else {
                return;
            };
            match mode {
                Mode::Strict => {
                    if ma.digest() == mb.digest() {
                        return;
                    }
                    let before = c.total();
                    strict_manifest(ia, ib, ma.media_type(), mb.media_type(), p.squash, c);
                    if c.total() == before {
                        c.add(
                            Kind::Manifest,
                            "digest",
                            Some(ma.digest().to_string()),
                            Some(mb.digest().to_string()),
                        );
                    }
                }
                Mode::Semantic => {
                    compare_annotations(
                        Kind::Manifest,
                        "annotations",
                        ia.annotations.as_ref(),
                        ib.annotations.as_ref(),
                        mode,
                        c,
                    );
                    if ia.artifact_type != ib.artifact_type {
                        c.add(
                            Kind::Manifest,
                            "artifactType",
                            ia.artifact_type.clone(),
                            ib.artifact_type.clone(),
                        );
                    }
                }
            }
        }
        (x, y) => {
            if mode == Mode::Strict && (x.is_some() || y.is_some()) {
                let show = |m: &Option<latch_oci::ManifestBytes>| match m {
                    Some(m) => m.digest().to_string(),
                    None => "none (docker-archive)".to_owned(),
                };
                c.add(Kind::Manifest, "manifest", Some(show(x)), Some(show(y)));
            }
        }
    }
}

fn strict_manifest(
    a: &ImageManifest,
    b: &ImageManifest,
    ta: &str,
    tb: &str,
    split: bool,
    c: &mut Collector,
) {
    if ta != tb {
        c.add(
            Kind::Manifest,
            "mediaType",
            Some(ta.to_owned()),
            Some(tb.to_owned()),
        );
    }
    let desc = |d: &Descriptor| serde_json::to_value(d).unwrap_or(Value::Null);
    diff_values(
        "config",
        Some(&desc(&a.config)),
        Some(&desc(&b.config)),
        &mut |p, x, y| c.add(Kind::Manifest, p, x.map(render), y.map(render)),
    );
    if split || a.layers.len() != b.layers.len() {
        c.add(
            Kind::Layer,
            "layers",
            Some(format!("{} layers", a.layers.len())),
            Some(format!("{} layers", b.layers.len())),
        );
    } else {
        for (i, (x, y)) in a.layers.iter().zip(&b.layers).enumerate() {
            diff_values(
                &format!("layers[{i}]"),
                Some(&desc(x)),
                Some(&desc(y)),
                &mut |p, x, y| c.add(Kind::Layer, p, x.map(render), y.map(render)),
            );
        }
    }
    compare_annotations(
        Kind::Manifest,
        "annotations",
        a.annotations.as_ref(),
        b.annotations.as_ref(),
        Mode::Strict,
        c,
    );
    if a.artifact_type != b.artifact_type {
        c.add(
            Kind::Manifest,
            "artifactType",
            a.artifact_type.clone(),
            b.artifact_type.clone(),
        );
    }
    let subject = |s: &Option<Descriptor>| s.as_ref().map(|d| d.digest.to_string());
    if subject(&a.subject) != subject(&b.subject) {
        c.add(
            Kind::Manifest,
            "subject",
            subject(&a.subject),
            subject(&b.subject),
        );
    }
}

fn compare_config(p: &Pair<'_>, mode: Mode, c: &mut Collector) {
    match mode {
        Mode::Strict => {
            if p.a.config_digest == p.b.config_digest {
                return;
            }
            let before = c.total();
            diff_values(
                "",
                Some(&p.a.config),
                Some(&p.b.config),
                &mut |path, x, y| c.add(Kind::Config, path, x.map(render), y.map(render)),
            );
            if c.total() == before {
                c.add(
                    Kind::Config,
                    "digest",
                    Some(p.a.config_digest.to_string()),
                    Some(p.b.config_digest.to_string()),
                );
            }
        }
        Mode::Semantic => {
            let (va, vb) = (
                semantic_config(&p.a.config, p.squash),
                semantic_config(&p.b.config, p.squash),
            );
            diff_values("", Some(&va), Some(&vb), &mut |path, x, y| {
                c.add(Kind::Config, path, x.map(render), y.map(render))
            });
            if p.squash && p.a.layers.len() != p.b.layers.len() {
                c.note(format!(
                    "{}config history not compared: the layer split differs",
                    prefix(&c.platform)
                ));
            }
        }
    }
}

/// The config without what semantic mode ignores: `created`, history times (the whole
/// history when the layer split differs), `rootfs.diff_ids` (they hash the layers'
/// timestamps; the layers are compared instead), and empty values.
fn semantic_config(config: &Value, split: bool) -> Value {
    let mut v = config.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("created");
        if split {
            m.remove("history");
        } else if let Some(Value::Array(h)) = m.get_mut("history") {
            for e in h {
                if let Some(o) = e.as_object_mut() {
                    o.remove("created");
                }
            }
        }
        if let Some(Value::Object(r)) = m.get_mut("rootfs") {
            r.remove("diff_ids");
        }
    }
    prune(&mut v);
    v
}

type Scans = Vec<(Vec<LayerScan>, Vec<LayerScan>)>;

/// Reads every layer of every pair, `opts.threads()` at a time.
fn scan_all(
    pairs: &[Pair<'_>],
    opts: &DiffOptions,
    ignore: &Ignore,
    la: &str,
    lb: &str,
) -> Result<Scans> {
    struct Job<'a> {
        pair: usize,
        side: Side,
        layer: usize,
        image: &'a PlatformImage,
    }
    let mut jobs = Vec::new();
    let mut shared: Vec<(usize, Side, usize, LayerScan)> = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        for n in 0..p.a.layers.len().max(p.b.layers.len()) {
            // Layers compared one by one whose blobs have the same digest hold the same
            // bytes: nothing to read.
            let same = !p.squash
                && p.a.layers.get(n).and_then(|l| l.digest.as_ref()).is_some()
                && p.a.layers.get(n).and_then(|l| l.digest.as_ref())
                    == p.b.layers.get(n).and_then(|l| l.digest.as_ref());
            if same {
                shared.push((i, Side::A, n, LayerScan::shared()));
                shared.push((i, Side::B, n, LayerScan::shared()));
                continue;
            }
            if n < p.a.layers.len() {
                jobs.push(Job {
                    pair: i,
                    side: Side::A,
                    layer: n,
                    image: p.a,
                });
            }
            if n < p.b.layers.len() {
                jobs.push(Job {
                    pair: i,
                    side: Side::B,
                    layer: n,
                    image: p.b,
                });
            }
        }
    }
    // Big layers first, so that the last job to finish is a small one.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.image.layers[j.layer].size));
    let counters: Vec<[AtomicUsize; 2]> = pairs
        .iter()
        .map(|_| [AtomicUsize::new(0), AtomicUsize::new(0)])
        .collect();
    let stop = AtomicBool::new(false);
    let scans = crate::pool::run(jobs.len(), opts.threads(), &stop, |i| {
        let j = &jobs[i];
        let ctx = ScanContext {
            image: if j.side == Side::A { la } else { lb },
            layer: j.layer,
            limits: &opts.limits,
            ignore,
            stop: &stop,
            entries: &counters[j.pair][j.side as usize],
        };
        fs::scan_layer(&j.image.layers[j.layer], &ctx)
    })?;
    let mut slots: Vec<(usize, Side, usize, LayerScan)> = jobs
        .iter()
        .zip(scans)
        .map(|(j, s)| (j.pair, j.side, j.layer, s))
        .chain(shared)
        .collect();
    slots.sort_by_key(|(p, s, l, _)| (*p, *s as usize, *l));
    let mut out: Scans = pairs
        .iter()
        .map(|p| {
            (
                Vec::with_capacity(p.a.layers.len()),
                Vec::with_capacity(p.b.layers.len()),
            )
        })
        .collect();
    for (p, s, _, scan) in slots {
        match s {
            Side::A => out[p].0.push(scan),
            Side::B => out[p].1.push(scan),
        }
    }
    Ok(out)
}

struct EntryCtx<'c, 'w> {
    mode: Mode,
    pair: usize,
    c: &'c mut Collector,
    wants: Option<&'w mut Vec<Want>>,
    squash: bool,
}

impl EntryCtx<'_, '_> {
    fn want(&mut self, side: Side, e: &FsEntry) {
        if e.kind != EntryKind::File || e.whiteout().is_some() {
            return;
        }
        if let Some(w) = self.wants.as_deref_mut()
            && w.len() < 100_000
        {
            w.push(Want {
                pair: self.pair,
                side,
                layer: e.layer as usize,
                path: e.path.clone(),
                layer_dir: !self.squash,
            });
        }
    }
}

fn compare_maps(
    a: &BTreeMap<&str, &FsEntry>,
    b: &BTreeMap<&str, &FsEntry>,
    ctx: &mut EntryCtx<'_, '_>,
) {
    let mut ia = a.iter().peekable();
    let mut ib = b.iter().peekable();
    loop {
        match (ia.peek(), ib.peek()) {
            (Some((ka, ea)), Some((kb, eb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Equal => {
                    compare_entry(ea, eb, ctx);
                    ia.next();
                    ib.next();
                }
                std::cmp::Ordering::Less => {
                    removed(ea, ctx);
                    ia.next();
                }
                std::cmp::Ordering::Greater => {
                    added(eb, ctx);
                    ib.next();
                }
            },
            (Some((_, ea)), None) => {
                removed(ea, ctx);
                ia.next();
            }
            (None, Some((_, eb))) => {
                added(eb, ctx);
                ib.next();
            }
            (None, None) => break,
        }
    }
}

fn removed(e: &FsEntry, ctx: &mut EntryCtx<'_, '_>) {
    ctx.c
        .add(Kind::Removed, e.path.clone(), Some(e.describe()), None);
    ctx.want(Side::A, e);
}

fn added(e: &FsEntry, ctx: &mut EntryCtx<'_, '_>) {
    ctx.c
        .add(Kind::Added, e.path.clone(), None, Some(e.describe()));
    ctx.want(Side::B, e);
}

fn octal(mode: u32) -> String {
    format!("{mode:04o}")
}

fn content(e: &FsEntry) -> String {
    match &e.digest {
        Some(d) => format!("blake3:{} ({} B)", &hex::encode(d)[..16], e.size),
        None => format!("{} B", e.size),
    }
}

fn bytes_value(v: &[u8]) -> String {
    let s = fs::escape(v);
    crate::report::shorten(&s, 200)
}

fn compare_entry(a: &FsEntry, b: &FsEntry, ctx: &mut EntryCtx<'_, '_>) {
    let c = &mut *ctx.c;
    let path = &a.path;
    let strict = ctx.mode == Mode::Strict;
    if a.kind != b.kind {
        c.add(
            Kind::Type,
            path.clone(),
            Some(a.describe()),
            Some(b.describe()),
        );
        ctx.want(Side::A, a);
        ctx.want(Side::B, b);
        return;
    }
    let (ma, mb) = if strict {
        (a.mode, b.mode)
    } else {
        (a.mode & 0o7777, b.mode & 0o7777)
    };
    if ma != mb {
        c.add(Kind::Mode, path.clone(), Some(octal(ma)), Some(octal(mb)));
    }
    if (a.uid, a.gid) != (b.uid, b.gid) {
        c.add(
            Kind::Owner,
            path.clone(),
            Some(format!("{}:{}", a.uid, a.gid)),
            Some(format!("{}:{}", b.uid, b.gid)),
        );
    }
    if (&a.uname, &a.gname) != (&b.uname, &b.gname) {
        c.add(
            Kind::OwnerName,
            path.clone(),
            Some(format!("{}:{}", a.uname, a.gname)),
            Some(format!("{}:{}", b.uname, b.gname)),
        );
    }
    if a.size != b.size || a.digest != b.digest {
        c.add(
            Kind::Content,
            path.clone(),
            Some(content(a)),
            Some(content(b)),
        );
        ctx.want(Side::A, a);
        ctx.want(Side::B, b);
    }
    let c = &mut *ctx.c;
    if a.link != b.link {
        c.add(
            Kind::Link,
            path.clone(),
            a.link.as_deref().map(str::to_owned),
            b.link.as_deref().map(str::to_owned),
        );
    }
    records(Kind::Xattr, path, &a.xattrs, &b.xattrs, |_| true, c);
    records(
        Kind::Pax,
        path,
        &a.pax,
        &b.pax,
        |k| strict || !VOLATILE_PAX.contains(&k),
        c,
    );
    if a.dev != b.dev {
        let d = |x: Option<(u64, u64)>| x.map(|(m, n)| format!("{m},{n}"));
        c.add(Kind::Device, path.clone(), d(a.dev), d(b.dev));
    }
    if strict {
        if a.mtime != b.mtime {
            c.add(
                Kind::Mtime,
                path.clone(),
                Some(a.mtime.to_string()),
                Some(b.mtime.to_string()),
            );
        }
        if a.atime != b.atime {
            c.add(
                Kind::Atime,
                path.clone(),
                a.atime.as_deref().map(str::to_owned),
                b.atime.as_deref().map(str::to_owned),
            );
        }
        if a.ctime != b.ctime {
            c.add(
                Kind::Ctime,
                path.clone(),
                a.ctime.as_deref().map(str::to_owned),
                b.ctime.as_deref().map(str::to_owned),
            );
        }
        if a.format != b.format {
            c.add(
                Kind::Format,
                path.clone(),
                Some(a.format.name().to_owned()),
                Some(b.format.name().to_owned()),
            );
        }
        if a.raw != b.raw {
            let show = |e: &FsEntry| {
                e.raw
                    .as_deref()
                    .map(str::to_owned)
                    .unwrap_or_else(|| e.path[1..].to_owned())
            };
            c.add(Kind::Name, path.clone(), Some(show(a)), Some(show(b)));
        }
    }
}

fn records(
    kind: Kind,
    path: &str,
    a: &[(String, Vec<u8>)],
    b: &[(String, Vec<u8>)],
    keep: impl Fn(&str) -> bool,
    c: &mut Collector,
) {
    let ma: BTreeMap<&str, &[u8]> = a
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let mb: BTreeMap<&str, &[u8]> = b
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let mut keys: Vec<&str> = ma.keys().chain(mb.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    for k in keys {
        let (x, y) = (ma.get(k), mb.get(k));
        if x != y {
            c.add(
                kind,
                path.to_owned(),
                x.map(|v| format!("{k}={}", bytes_value(v))),
                y.map(|v| format!("{k}={}", bytes_value(v))),
            );
        }
    }
}

/// Strict: the order of entries in a layer (reported once, at the first difference,
/// when both layers hold the same paths).
fn compare_order(a: &LayerScan, b: &LayerScan, c: &mut Collector) {
    if a.entries.len() != b.entries.len() {
        return;
    }
    let same_set = {
        let mut x: Vec<&str> = a.entries.iter().map(|e| e.path.as_str()).collect();
        let mut y: Vec<&str> = b.entries.iter().map(|e| e.path.as_str()).collect();
        x.sort_unstable();
        y.sort_unstable();
        x == y
    };
    if !same_set {
        return;
    }
    if let Some(i) = a
        .entries
        .iter()
        .zip(&b.entries)
        .position(|(x, y)| x.path != y.path)
    {
        c.add(
            Kind::Order,
            a.entries[i].path.clone(),
            Some(format!("entry {}", i + 1)),
            Some(format!(
                "entry {}",
                b.entries
                    .iter()
                    .position(|e| e.path == a.entries[i].path)
                    .map(|p| p + 1)
                    .unwrap_or(0)
            )),
        );
    }
}
