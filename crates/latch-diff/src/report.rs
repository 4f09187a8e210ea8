//! What a diff found: a list of differences, notes, statistics, and a verdict.

use std::fmt::Write as _;

use serde::Serialize;

use crate::Mode;

/// What differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The index (media type, annotations).
    Index,
    /// A platform present on one side only.
    Platform,
    /// The image manifest (media type, descriptors, annotations).
    Manifest,
    /// The image config.
    Config,
    /// Layer descriptors (strict), or a layer-level fact.
    Layer,
    /// An entry only in B.
    Added,
    /// An entry only in A.
    Removed,
    /// Entry type (file, dir, symlink…).
    Type,
    /// Permission bits.
    Mode,
    /// uid/gid.
    Owner,
    /// User and group names.
    OwnerName,
    /// File content (size or hash).
    Content,
    /// Symlink or hard-link target.
    Link,
    /// An extended attribute.
    Xattr,
    /// Another PAX record.
    Pax,
    /// Device numbers.
    Device,
    /// Modification time (strict).
    Mtime,
    /// Access time (strict).
    Atime,
    /// Change time (strict).
    Ctime,
    /// Tar header format (strict).
    Format,
    /// Name as written, e.g. `./etc` against `etc` (strict).
    Name,
    /// Entry order (strict).
    Order,
}

impl Kind {
    /// The label shown in the table.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Index => "index",
            Kind::Platform => "platform",
            Kind::Manifest => "manifest",
            Kind::Config => "config",
            Kind::Layer => "layer",
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Type => "type",
            Kind::Mode => "mode",
            Kind::Owner => "owner",
            Kind::OwnerName => "owner-name",
            Kind::Content => "content",
            Kind::Link => "link",
            Kind::Xattr => "xattr",
            Kind::Pax => "pax",
            Kind::Device => "device",
            Kind::Mtime => "mtime",
            Kind::Atime => "atime",
            Kind::Ctime => "ctime",
            Kind::Format => "format",
            Kind::Name => "name",
            Kind::Order => "order",
        }
    }
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What differs.
    pub kind: Kind,
    /// The platform, when the images hold several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The layer (from 1), when layers are compared one by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// Where: a file path (`/etc/passwd`), or a document path (`.config.Env[0]`).
    pub path: String,
    /// A's value (`None`: absent).
    pub a: Option<String>,
    /// B's value (`None`: absent).
    pub b: Option<String>,
}

/// Counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Platforms compared.
    pub platforms: usize,
    /// Layers of A (all platforms compared).
    pub layers_a: usize,
    /// Layers of B.
    pub layers_b: usize,
    /// Tar entries of A compared.
    pub entries_a: u64,
    /// Tar entries of B compared.
    pub entries_b: u64,
    /// Entries left out by `--ignore` (both sides).
    pub ignored: u64,
    /// Uncompressed bytes read from A's layers.
    pub bytes_a: u64,
    /// From B's.
    pub bytes_b: u64,
    /// Whether squashed file systems were compared (rather than layer by layer).
    pub squashed: bool,
    /// Layer positions where both images hold the same blob (same digest), not read.
    pub shared_layers: usize,
}

/// The result of [`diff`](crate::diff).
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// The mode.
    pub mode: Mode,
    /// Whether the images are equal in this mode.
    pub equal: bool,
    /// A's source.
    pub a: String,
    /// B's source.
    pub b: String,
    /// A's digest (top-level manifest, or a docker-archive's config).
    pub a_digest: Option<String>,
    /// B's digest.
    pub b_digest: Option<String>,
    /// Differences found, in order (index, manifest, config, then entries by path), up to
    /// the bound asked for.
    pub differences: Vec<Difference>,
    /// Differences found beyond that bound (counted, not listed).
    pub unlisted: u64,
    /// Things worth knowing that are not differences (platforms not compared, layer
    /// splits squashed, files written to the report directory).
    pub notes: Vec<String>,
    /// Counts.
    pub stats: Stats,
}

impl DiffReport {
    /// All differences, listed or not.
    pub fn total(&self) -> u64 {
        self.differences.len() as u64 + self.unlisted
    }

    /// Differences of one kind (listed ones).
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Difference> {
        self.differences.iter().filter(move |d| d.kind == kind)
    }

    /// One line: `equal (semantic): …` or `different (semantic): 3 differences (…)`.
    pub fn verdict(&self) -> String {
        let s = &self.stats;
        if self.equal {
            return format!(
                "equal ({}): {} platform{}, {} + {} layers{}, {} + {} entries compared{}",
                self.mode.name(),
                s.platforms,
                if s.platforms == 1 { "" } else { "s" },
                s.layers_a,
                s.layers_b,
                match s.shared_layers {
                    0 => String::new(),
                    n => format!(" ({n} the same blob on both sides)"),
                },
                s.entries_a,
                s.entries_b,
                if s.squashed { " (squashed)" } else { "" }
            );
        }
        let mut counts: std::collections::BTreeMap<Kind, u64> = Default::default();
        for d in &self.differences {
            *counts.entry(d.kind).or_default() += 1;
        }
        let mut parts: Vec<String> = counts
            .iter()
            .map(|(k, n)| format!("{n} {}", k.label()))
            .collect();
        if self.unlisted > 0 {
            parts.push(format!("{} more not listed", self.unlisted));
        }
        let total = self.total();
        format!(
            "different ({}): {} difference{} ({})",
            self.mode.name(),
            total,
            if total == 1 { "" } else { "s" },
            parts.join(", ")
        )
    }

    /// The table a person reads: KIND, PATH, A, B; values shortened to fit.
    pub fn table(&self) -> String {
        const MAX: usize = 60;
        let rows: Vec<[String; 4]> = self
            .differences
            .iter()
            .map(|d| {
                let mut path = d.path.clone();
                if let Some(l) = d.layer {
                    path = format!("{path} (layer {l})");
                }
                if let Some(p) = &d.platform {
                    path = format!("[{p}] {path}");
                }
                [
                    d.kind.label().to_owned(),
                    shorten(&path, 80),
                    shorten(d.a.as_deref().unwrap_or("-"), MAX),
                    shorten(d.b.as_deref().unwrap_or("-"), MAX),
                ]
            })
            .collect();
        let header = ["KIND", "PATH", "A", "B"].map(str::to_owned);
        let mut widths = header.clone().map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&header).chain(rows.iter()) {
            let line = r
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ");
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

/// Shortens to `max` characters with an ellipsis in the middle.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    let head: String = s.chars().take(max / 2).collect();
    let tail: String = s.chars().skip(n - (max - max / 2 - 1)).collect();
    format!("{head}…{tail}")
}

/// Collects differences up to a bound.
pub(crate) struct Collector {
    pub differences: Vec<Difference>,
    pub unlisted: u64,
    pub notes: Vec<String>,
    max: usize,
    /// Platform label set while a platform is compared (several platforms only).
    pub platform: Option<String>,
    /// Layer number set while layers are compared one by one.
    pub layer: Option<usize>,
}

impl Collector {
    pub fn new(max: usize) -> Collector {
        Collector {
            differences: Vec::new(),
            unlisted: 0,
            notes: Vec::new(),
            max,
            platform: None,
            layer: None,
        }
    }

    pub fn add(
        &mut self,
        kind: Kind,
        path: impl Into<String>,
        a: Option<String>,
        b: Option<String>,
    ) {
        if self.differences.len() >= self.max {
            self.unlisted += 1;
            return;
        }
        self.differences.push(Difference {
            kind,
            platform: self.platform.clone(),
            layer: self.layer,
            path: path.into(),
            a,
            b,
        });
    }

    pub fn total(&self) -> u64 {
        self.differences.len() as u64 + self.unlisted
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let n = note.into();
        if self.notes.len() < 1000 && !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }
}
