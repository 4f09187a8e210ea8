//! `--report-dir`: the differing files of both sides, side by side, for diffoscope.
//!
//! A second streaming pass reads only the layers that hold a differing file and writes
//! only those files, under `a/` and `b/`. Entry paths come from an untrusted tar: each is
//! joined component by component (never `..`, never absolute), only regular files and
//! directories are created (never a link that a later write could follow), the directory
//! must be new or empty, and the bytes written are bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::Limits;
use crate::error::{DiffError, io_err};
use crate::source::PlatformImage;

/// Which image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Side {
    A = 0,
    B = 1,
}

impl Side {
    fn dir(self) -> &'static str {
        match self {
            Side::A => "a",
            Side::B => "b",
        }
    }
}

/// A file to write.
#[derive(Debug, Clone)]
pub(crate) struct Want {
    pub pair: usize,
    pub side: Side,
    /// Layer holding it (from 0).
    pub layer: usize,
    /// Canonical path.
    pub path: String,
    /// Whether to put it under `layer-N/` (layers compared one by one).
    pub layer_dir: bool,
}

/// What was written.
pub(crate) struct Written {
    pub files: u64,
    pub bytes: u64,
    pub notes: Vec<String>,
}

/// Checks that `dir` is absent or empty, and creates it.
pub(crate) fn prepare_dir(dir: &Path) -> Result<(), DiffError> {
    let err = |detail: String| DiffError::ReportDir {
        path: dir.to_owned(),
        detail,
    };
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(err("is a symbolic link".to_owned())),
        Ok(m) if !m.is_dir() => Err(err("exists and is not a directory".to_owned())),
        Ok(_) => {
            let mut entries = fs::read_dir(dir).map_err(io_err(dir))?;
            if entries.next().is_some() {
                return Err(err("exists and is not empty".to_owned()));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io_err(dir))
        }
        Err(e) => Err(io_err(dir)(e)),
    }
}

fn slug(platform: &str) -> String {
    platform
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `base` joined with the components of a canonical tar path; `None` if any component
/// could escape (`..`, a root, a drive prefix) or is empty.
pub(crate) fn safe_join(base: &Path, path: &str) -> Option<PathBuf> {
    let mut out = base.to_owned();
    let rel = path.strip_prefix('/')?;
    for comp in rel.split('/') {
        if comp.is_empty() || comp == "." || comp == ".." || comp.contains('\0') {
            return None;
        }
        let mut parts = Path::new(comp).components();
        match (parts.next(), parts.next()) {
            (Some(Component::Normal(c)), None) => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

fn base_dir(dir: &Path, side: Side, platform: &Option<String>, layer: Option<usize>) -> PathBuf {
    let mut p = dir.join(side.dir());
    if let Some(pl) = platform {
        p.push(slug(pl));
    }
    if let Some(l) = layer {
        p.push(format!("layer-{}", l + 1));
    }
    p
}

/// Writes configs that differ and the wanted files.
pub(crate) fn write_report(
    dir: &Path,
    pairs: &[(Option<String>, &PlatformImage, &PlatformImage, bool)],
    configs: &[(Option<String>, Value, Value)],
    wants: &[Want],
    limits: &Limits,
    label_a: &str,
    label_b: &str,
) -> Result<Written, DiffError> {
    let mut w = Written {
        files: 0,
        bytes: 0,
        notes: Vec::new(),
    };
    for (platform, a, b) in configs {
        for (side, v) in [(Side::A, a), (Side::B, b)] {
            let base = base_dir(dir, side, platform, None);
            fs::create_dir_all(&base).map_err(io_err(&base))?;
            let path = base.join("config.json");
            let text = serde_json::to_vec_pretty(v).unwrap_or_default();
            fs::write(&path, &text).map_err(io_err(&path))?;
            w.files += 1;
            w.bytes += text.len() as u64;
        }
    }
    // Group by (pair, side, layer): one pass per layer.
    let mut groups: BTreeMap<(usize, Side, usize), (BTreeSet<String>, bool)> = BTreeMap::new();
    for want in wants {
        let g = groups
            .entry((want.pair, want.side, want.layer))
            .or_insert_with(|| (BTreeSet::new(), want.layer_dir));
        g.0.insert(want.path.clone());
    }
    let mut budget = limits.max_report_bytes;
    for ((pair, side, layer), (paths, layer_dir)) in groups {
        let Some((platform, a, b, _)) = pairs.get(pair) else {
            continue;
        };
        let image = if side == Side::A { a } else { b };
        let label = if side == Side::A { label_a } else { label_b };
        let Some(l) = image.layers.get(layer) else {
            continue;
        };
        let base = base_dir(dir, side, platform, layer_dir.then_some(layer));
        let mut sink =
            |entry: &latch_tar::Entry, path: &str, data: &mut dyn Read| -> Result<(), DiffError> {
                if entry.name.first() == Some(&b'/') {
                    return Err(DiffError::BadEntry {
                        image: label.to_owned(),
                        layer: layer + 1,
                        path: crate::fs::escape(&entry.name),
                        detail: "absolute path: refused for --report-dir".to_owned(),
                    });
                }
                let Some(dest) = safe_join(&base, path) else {
                    return Err(DiffError::BadEntry {
                        image: label.to_owned(),
                        layer: layer + 1,
                        path: crate::fs::escape(&entry.name),
                        detail: "path cannot be written safely under --report-dir".to_owned(),
                    });
                };
                if budget == 0 {
                    if w.notes.is_empty() {
                        w.notes.push(format!(
                            "--report-dir stopped at its bound of {} bytes",
                            limits.max_report_bytes
                        ));
                    }
                    return Ok(());
                }
                if let Some(parent) = dest.parent()
                    && let Err(e) = fs::create_dir_all(parent)
                {
                    w.notes.push(format!("{path}: not written ({e})"));
                    return Ok(());
                }
                let mut f = match File::create(&dest) {
                    Ok(f) => f,
                    Err(e) => {
                        w.notes.push(format!("{path}: not written ({e})"));
                        return Ok(());
                    }
                };
                let n = copy_bounded(data, &mut f, budget).map_err(io_err(&dest))?;
                f.flush().map_err(io_err(&dest))?;
                budget = budget.saturating_sub(n);
                w.files += 1;
                w.bytes += n;
                Ok(())
            };
        crate::fs::extract_layer(l, label, layer, limits, &paths, &mut sink)?;
    }
    Ok(w)
}

fn copy_bounded(r: &mut dyn Read, w: &mut dyn Write, max: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        let take = (n as u64).min(max - total) as usize;
        w.write_all(&buf[..take])?;
        total += take as u64;
        if total >= max {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_safely() {
        let base = Path::new("/r/a");
        assert_eq!(safe_join(base, "/etc/x").unwrap(), Path::new("/r/a/etc/x"));
        assert!(safe_join(base, "/etc/../x").is_none());
        assert!(safe_join(base, "etc/x").is_none());
        assert!(safe_join(base, "/").is_none());
        assert!(safe_join(base, "//x").is_none());
    }
}
