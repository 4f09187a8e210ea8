//! oci-archive and docker-archive tars, read in place: one pass over the headers
//! (seeking over the data) gives each member's byte range, and blobs are then read as
//! ranges of the archive file. Nothing is extracted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::Limits;
use crate::blob::Region;
use crate::error::{DiffError, io_err};
use latch_tar::{Seekable, TarReader, flag};

/// What kind of archive a tar is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArchiveKind {
    /// An OCI layout in a tar (`oci-layout`, `index.json`, `blobs/`).
    Oci,
    /// `docker save` / `podman save --format docker-archive` (`manifest.json`).
    Docker,
}

/// The members of an archive: regular files by normalised name.
#[derive(Debug, Clone)]
pub(crate) struct ArchiveIndex {
    pub path: PathBuf,
    members: BTreeMap<String, Region>,
}

impl ArchiveIndex {
    /// Indexes `path`.
    pub fn open(path: &Path, limits: &Limits) -> Result<ArchiveIndex, DiffError> {
        let bad = |detail: String| DiffError::BadArchive {
            path: path.to_owned(),
            detail,
        };
        let file = File::open(path).map_err(io_err(path))?;
        let file_len = file.metadata().map_err(io_err(path))?.len();
        let mut head = [0u8; 4];
        {
            use std::io::Read;
            let mut f = &file;
            let n = f.read(&mut head).map_err(io_err(path))?;
            if crate::blob::sniff(&head[..n]) != latch_oci::media_types::Compression::None {
                return Err(bad(
                    "is compressed; decompress it first (gunzip or zstd -d): an archive is read in place"
                        .to_owned(),
                ));
            }
            use std::io::Seek;
            f.seek(std::io::SeekFrom::Start(0)).map_err(io_err(path))?;
        }
        let archive_limits = Limits {
            max_pax_bytes: limits.max_pax_bytes.min(64 * 1024),
            ..*limits
        };
        let mut tar = TarReader::new(
            Seekable(BufReader::with_capacity(64 * 1024, file)),
            archive_limits.tar(),
        );
        let mut members = BTreeMap::new();
        let mut count = 0usize;
        while let Some(entry) = tar.next_entry().map_err(|e| bad(e.to_string()))? {
            count += 1;
            if count > limits.max_archive_members {
                return Err(bad(format!(
                    "more than {} members",
                    limits.max_archive_members
                )));
            }
            if !matches!(
                entry.flag,
                flag::REGULAR | flag::REGULAR_OLD | flag::CONTIGUOUS
            ) {
                continue;
            }
            let offset = tar.position();
            if offset.saturating_add(entry.size) > file_len {
                return Err(bad(format!(
                    "member {:?} runs past the end of the file (truncated archive)",
                    String::from_utf8_lossy(&entry.name)
                )));
            }
            let name = normalise(&entry.name);
            members.insert(
                name,
                Region {
                    path: path.to_owned(),
                    offset,
                    len: entry.size,
                },
            );
        }
        if count == 0 {
            return Err(bad("is not a tar archive, or is empty".to_owned()));
        }
        Ok(ArchiveIndex {
            path: path.to_owned(),
            members,
        })
    }

    /// The kind, from the members present.
    pub fn kind(&self) -> Option<ArchiveKind> {
        if self.members.contains_key("index.json") && self.members.contains_key("oci-layout") {
            Some(ArchiveKind::Oci)
        } else if self.members.contains_key("manifest.json") {
            Some(ArchiveKind::Docker)
        } else {
            None
        }
    }

    /// A member by name (`./` and `/` prefixes ignored).
    pub fn get(&self, name: &str) -> Option<&Region> {
        self.members.get(&normalise(name.as_bytes()))
    }
}

fn normalise(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    s.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}
