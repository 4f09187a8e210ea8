//! Reading an untrusted air-gap archive into a staging layout, with the one bounded tar
//! reader (`latch-tar`): extended headers, names, entry counts and sizes are bounded
//! before anything is allocated; every blob is streamed and hashed against its name.
//! Nothing read here is trusted yet.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use latch_oci::{Descriptor, Digest, ImageIndex, ManifestBytes, OciLayout, media_types as mt};
use latch_tar::{EntryKind, Limits, Stream, TarReader};
use serde_json::Value;

use super::{KIND_IMAGE, KIND_INDEX, MAX_BLOB, MAX_ENTRIES, MAX_JSON, MAX_TOTAL};
use crate::error::{ArchiveError, Error, Result};

/// An archive unpacked into a staging layout, with its two indexes.
pub struct Unpacked {
    /// The staging layout (every blob verified against its name).
    pub layout: OciLayout,
    /// `index.json` as parsed.
    pub index: Value,
    /// `dangerzone.json` as parsed.
    pub full_index: ImageIndex,
}

fn entry_err(archive: &Path, entry: &str, reason: impl Into<String>) -> Error {
    ArchiveError::Entry {
        archive: archive.to_owned(),
        entry: latch_oci::text::clip(entry, 300),
        reason: reason.into(),
    }
    .into()
}

pub(crate) fn layout_err(archive: &Path, reason: impl Into<String>) -> Error {
    ArchiveError::Layout {
        archive: archive.to_owned(),
        reason: reason.into(),
    }
    .into()
}

/// The bounds an image-layout archive is read with: names of a layout are short,
/// extended headers small.
fn limits() -> Limits {
    Limits {
        max_extension_bytes: 64 * 1024,
        max_path_bytes: 1024,
        max_entries: MAX_ENTRIES as u64,
        max_entry_bytes: MAX_BLOB,
    }
}

/// The entry name with `./` prefixes removed, refused if absolute, not UTF-8, or with
/// `..`/`.` parts in the middle.
fn clean_name(archive: &Path, raw: &[u8]) -> Result<String> {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err(entry_err(
            archive,
            &String::from_utf8_lossy(raw),
            "the name is not UTF-8",
        ));
    };
    if text.starts_with('/') || text.contains('\\') || text.contains(':') {
        return Err(entry_err(
            archive,
            text,
            "absolute or drive-qualified names are not allowed",
        ));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(entry_err(
                    archive,
                    text,
                    "the name climbs out of the archive (..)",
                ));
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Reads an archive as a stream into a fresh staging layout at `staging`. Nothing is
/// trusted yet: blobs are only known to match their names.
pub fn unpack(archive: &Path, staging: &Path) -> Result<Unpacked> {
    let file = File::open(archive).map_err(Error::io(archive))?;
    let total_size = file.metadata().map_err(Error::io(archive))?.len();
    if total_size > MAX_TOTAL {
        return Err(layout_err(
            archive,
            format!("the archive is {total_size} bytes, over the bound of {MAX_TOTAL}"),
        ));
    }
    let _ = fs::remove_dir_all(staging);
    let blobs_dir = staging.join("blobs").join("sha256");
    fs::create_dir_all(&blobs_dir).map_err(Error::io(&blobs_dir))?;
    let tar_err = |source: latch_tar::TarError| -> Error {
        ArchiveError::Tar {
            path: archive.to_owned(),
            source,
        }
        .into()
    };
    let mut tar = TarReader::new(Stream(BufReader::with_capacity(1 << 20, file)), limits());
    let mut seen = HashSet::new();
    let mut index_json = None;
    let mut full_json = None;
    let mut layout_marker = None;
    let mut total = 0u64;
    while let Some(entry) = tar.next_entry().map_err(tar_err)? {
        let name = clean_name(archive, &entry.name)?;
        match entry.kind() {
            EntryKind::Symlink | EntryKind::HardLink => {
                return Err(entry_err(
                    archive,
                    &name,
                    format!(
                        "links are not allowed in an image archive (it points to {:?})",
                        latch_oci::text::clip(&String::from_utf8_lossy(&entry.link), 200)
                    ),
                ));
            }
            EntryKind::Dir => {
                if !matches!(name.as_str(), "" | "blobs" | "blobs/sha256") {
                    return Err(entry_err(
                        archive,
                        &name,
                        "an image archive has no such directory",
                    ));
                }
                continue;
            }
            EntryKind::File => {}
            other => {
                return Err(entry_err(
                    archive,
                    &name,
                    format!("{other:?} entries (devices, fifos…) are not allowed"),
                ));
            }
        }
        if !seen.insert(name.clone()) {
            return Err(entry_err(
                archive,
                &name,
                "the archive holds this entry twice",
            ));
        }
        let size = entry.size;
        let bound = match name.as_str() {
            "index.json" | "dangerzone.json" | "oci-layout" => MAX_JSON,
            _ => MAX_BLOB,
        };
        if size > bound {
            return Err(entry_err(
                archive,
                &name,
                format!("it declares {size} bytes, over the bound of {bound}"),
            ));
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL {
            return Err(layout_err(
                archive,
                format!("the entries add up to more than the bound of {MAX_TOTAL} bytes"),
            ));
        }
        match name.as_str() {
            "index.json" | "dangerzone.json" | "oci-layout" => {
                let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                tar.data()
                    .take(MAX_JSON + 1)
                    .read_to_end(&mut buf)
                    .map_err(Error::io(archive))?;
                if (buf.len() as u64) < size {
                    return Err(entry_err(
                        archive,
                        &name,
                        format!("truncated: {} of {size} bytes", buf.len()),
                    ));
                }
                match name.as_str() {
                    "index.json" => index_json = Some(buf),
                    "dangerzone.json" => full_json = Some(buf),
                    _ => layout_marker = Some(buf),
                }
            }
            other => {
                let Some(hex) = other.strip_prefix("blobs/sha256/") else {
                    return Err(entry_err(
                        archive,
                        &name,
                        "an image archive has no such file",
                    ));
                };
                let digest = Digest::from_sha256_hex(hex)
                    .map_err(|e| entry_err(archive, &name, format!("not a blob name: {e}")))?;
                copy_blob(archive, &name, &mut tar.data(), size, &digest, &blobs_dir)?;
            }
        }
    }
    let marker = layout_marker
        .ok_or_else(|| layout_err(archive, "no oci-layout file: not an OCI image layout"))?;
    fs::write(staging.join("oci-layout"), &marker).map_err(Error::io(staging))?;
    let index_bytes = index_json.ok_or_else(|| layout_err(archive, "no index.json"))?;
    let full_bytes = full_json.ok_or_else(|| {
        layout_err(
            archive,
            "no dangerzone.json: this is not an air-gap archive (prepare one with `latch prepare-archive`)",
        )
    })?;
    fs::write(staging.join("index.json"), &index_bytes).map_err(Error::io(staging))?;
    let layout = OciLayout::open(staging).map_err(|e| layout_err(archive, e.to_string()))?;
    let index: Value = serde_json::from_slice(&index_bytes)
        .map_err(|e| layout_err(archive, format!("index.json is not JSON: {e}")))?;
    let full_index = ManifestBytes::parse(full_bytes, Some(mt::OCI_INDEX))
        .ok()
        .and_then(|m| m.as_index().cloned())
        .ok_or_else(|| layout_err(archive, "dangerzone.json is not an OCI index"))?;
    Ok(Unpacked {
        layout,
        index,
        full_index,
    })
}

/// Streams one blob to the staging layout, hashing as it goes; refused unless it is
/// exactly `size` bytes that hash to its name.
fn copy_blob(
    archive: &Path,
    name: &str,
    entry: &mut impl Read,
    size: u64,
    digest: &Digest,
    dir: &Path,
) -> Result<()> {
    let partial = dir.join(format!(".partial-{}", digest.hex()));
    let out = File::create(&partial).map_err(Error::io(&partial))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut hasher = digest.algorithm().hasher();
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = match entry.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) => {
                let _ = fs::remove_file(&partial);
                return Err(ArchiveError::Read {
                    path: archive.to_owned(),
                    source: e,
                }
                .into());
            }
        };
        if n == 0 {
            let _ = fs::remove_file(&partial);
            return Err(entry_err(
                archive,
                name,
                format!("truncated: {} of {size} bytes", size - left),
            ));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Error::io(&partial))?;
        left -= n as u64;
    }
    out.flush().map_err(Error::io(&partial))?;
    drop(out);
    let actual = hasher.finish();
    if &actual != digest {
        let _ = fs::remove_file(&partial);
        return Err(entry_err(
            archive,
            name,
            format!("its content hashes to {actual}"),
        ));
    }
    let final_path = dir.join(digest.hex());
    fs::rename(&partial, &final_path).map_err(Error::io(&final_path))
}

/// The image-only cut of an index: the entries of kind image or imageIndex.
pub(crate) fn image_only(full: &ImageIndex) -> ImageIndex {
    let mut cut = full.clone();
    cut.manifests.retain(|d| {
        matches!(
            d.annotation(super::KIND_ANNOTATION),
            Some(KIND_IMAGE) | Some(KIND_INDEX)
        )
    });
    cut
}

/// Checks an unpacked archive's structure (`index.json` is the image-only cut of
/// `dangerzone.json`, exactly one image); returns the image entry.
pub(crate) fn check_structure(archive: &Path, u: &Unpacked) -> Result<Descriptor> {
    let cut = image_only(&u.full_index);
    let cut_value = serde_json::to_value(&cut).map_err(|e| layout_err(archive, e.to_string()))?;
    if cut_value != u.index {
        return Err(layout_err(
            archive,
            "index.json is not the image-only cut of dangerzone.json: the archive may have been tampered with",
        ));
    }
    match cut.manifests.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(layout_err(archive, "the archive holds no image")),
        many => Err(layout_err(
            archive,
            format!(
                "the archive holds {} images; an air-gap archive carries exactly one",
                many.len()
            ),
        )),
    }
}
