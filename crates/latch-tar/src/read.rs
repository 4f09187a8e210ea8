//! The reader: entries one by one, extension headers applied, data streamed.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};

use crate::error::{TarError, escape};
use crate::header::{
    BLOCK, Format, bad_field, cstr, flag, padding, parse_numeric, parse_pax, parse_signed,
    pax_number, verify_checksum,
};

/// Bounds on what an archive may make the reader hold or accept. Nothing else is held:
/// entry data is streamed by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of extension headers before one entry, each header counting its 512-byte
    /// block plus its data (PAX records, GNU long names and links); also the bound on
    /// all global PAX headers of the archive together. A header over it is refused
    /// before its data is read.
    pub max_extension_bytes: usize,
    /// Bytes of an entry's path or link target (a GNU long name or link header may hold
    /// one more, its NUL).
    pub max_path_bytes: usize,
    /// Entries returned by [`TarReader::next_entry`] (extension headers not counted).
    pub max_entries: u64,
    /// Declared data size of one entry that carries data. Sizes over `i64::MAX` are
    /// refused whatever this says, as Go's `archive/tar` refuses them.
    pub max_entry_bytes: u64,
}

impl Default for Limits {
    /// 1 MiB of extension headers (Go's `archive/tar` refuses more too), paths of 4096
    /// bytes (Linux's `PATH_MAX`), a million entries, and no bound on entry sizes beyond
    /// the format's (`i64::MAX`).
    fn default() -> Self {
        Limits {
            max_extension_bytes: 1 << 20,
            max_path_bytes: 4096,
            max_entries: 1_000_000,
            max_entry_bytes: i64::MAX as u64,
        }
    }
}

/// An extension header as it appeared before an entry (kept for rewriting).
#[derive(Debug, Clone)]
pub struct Extension {
    /// Its header block.
    pub header: [u8; BLOCK],
    /// Its data as written (PAX records, or a GNU long name with its NUL), without
    /// padding.
    pub data: Vec<u8>,
}

/// What an entry is, from its type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file (type `0`, NUL or `7`).
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link.
    HardLink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A FIFO.
    Fifo,
    /// Any other type flag (data follows, as for a file).
    Other(u8),
}

/// One tar entry's metadata, with its extension headers applied.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Offset of the entry's own header block in the stream.
    pub offset: u64,
    /// The entry's own header block, as read.
    pub header: [u8; BLOCK],
    /// Extension headers that preceded it, in order.
    pub extensions: Vec<Extension>,
    /// Type flag. As Go's `archive/tar` reads it: an old-style regular entry (NUL flag)
    /// whose name ends in `/` is a directory (`5`); otherwise the header's byte.
    pub flag: u8,
    /// Path as written (a non-empty GNU long name, else a non-empty PAX `path`, else the
    /// ustar prefix and name).
    pub name: Vec<u8>,
    /// Link target (GNU long link, PAX `linkpath`, or the header field).
    pub link: Vec<u8>,
    /// Permission and mode bits as written.
    pub mode: u32,
    /// Owner id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Owner name (empty in v7 headers).
    pub uname: Vec<u8>,
    /// Group name (empty in v7 headers).
    pub gname: Vec<u8>,
    /// Bytes of data that follow the header (when [`Entry::has_data`]).
    pub size: u64,
    /// Modification time as written (PAX `mtime` string, else decimal of the header).
    pub mtime: String,
    /// PAX `atime`, or a GNU or star header's atime.
    pub atime: Option<String>,
    /// PAX `ctime`, or a GNU or star header's ctime.
    pub ctime: Option<String>,
    /// Device major (character and block devices).
    pub dev_major: u64,
    /// Device minor.
    pub dev_minor: u64,
    /// The records of the entry's PAX header, keys sorted, later values winning.
    /// Includes the ones applied to the fields above. Global records are not included
    /// (Go's `archive/tar` does not apply them either): see [`TarReader::globals`].
    pub pax: Vec<(String, Vec<u8>)>,
    /// Header format.
    pub format: Format,
}

impl Entry {
    /// Whether data follows the header in the archive. Like Go's `archive/tar` (which
    /// wrote and reads most container layers), links, devices, directories and FIFOs
    /// carry none, whatever their size field says.
    pub fn has_data(&self) -> bool {
        !matches!(
            self.flag,
            flag::LINK | flag::SYMLINK | flag::CHAR | flag::BLOCK | flag::DIR | flag::FIFO
        )
    }

    /// What the entry is.
    pub fn kind(&self) -> EntryKind {
        match self.flag {
            flag::REGULAR | flag::REGULAR_OLD | flag::CONTIGUOUS => EntryKind::File,
            flag::DIR => EntryKind::Dir,
            flag::SYMLINK => EntryKind::Symlink,
            flag::LINK => EntryKind::HardLink,
            flag::CHAR => EntryKind::CharDevice,
            flag::BLOCK => EntryKind::BlockDevice,
            flag::FIFO => EntryKind::Fifo,
            other => EntryKind::Other(other),
        }
    }
}

/// A stream a [`TarReader`] reads: skipping entry data can be cheaper than reading it.
pub trait TarInput: Read {
    /// Skips `n` bytes; returns how many were skipped, fewer only at the end of the
    /// stream.
    fn skip_bytes(&mut self, n: u64) -> io::Result<u64>;
}

impl<T: TarInput + ?Sized> TarInput for &mut T {
    fn skip_bytes(&mut self, n: u64) -> io::Result<u64> {
        (**self).skip_bytes(n)
    }
}

impl<T: TarInput + ?Sized> TarInput for Box<T> {
    fn skip_bytes(&mut self, n: u64) -> io::Result<u64> {
        (**self).skip_bytes(n)
    }
}

/// A plain stream (a decompressor, a pipe): skipping reads and discards.
pub struct Stream<R>(pub R);

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> TarInput for Stream<R> {
    fn skip_bytes(&mut self, n: u64) -> io::Result<u64> {
        io::copy(&mut (&mut self.0).take(n), &mut io::sink())
    }
}

/// A seekable input (an archive file): skipping seeks, never past the end (so that an
/// entry running past the end of the file is found out as a truncation).
pub struct Seekable<R>(pub R);

impl<R: Read> Read for Seekable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read + Seek> TarInput for Seekable<R> {
    fn skip_bytes(&mut self, n: u64) -> io::Result<u64> {
        if n == 0 {
            return Ok(0);
        }
        let start = self.0.stream_position()?;
        let end = self.0.seek(SeekFrom::End(0))?;
        let target = start.saturating_add(n).min(end.max(start));
        self.0.seek(SeekFrom::Start(target))?;
        Ok(target - start)
    }
}

/// Extension headers read before an entry, not yet applied.
#[derive(Default)]
struct Pending {
    extensions: Vec<Extension>,
    local: Vec<(String, Vec<u8>)>,
    local_pax: bool,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    /// Bytes of extension headers so far, blocks included.
    bytes: u64,
}

impl Pending {
    /// Whether a header that applies to the next entry only was read.
    fn has_local(&self) -> bool {
        self.local_pax || self.long_name.is_some() || self.long_link.is_some()
    }
}

/// Keys a global PAX header may not carry: GNU tar and libarchive apply them to every
/// later entry, Go's `archive/tar` (which container runtimes use) ignores them, so the
/// same archive would be read two ways.
fn refused_global(key: &str) -> bool {
    matches!(
        key,
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
    ) || ["GNU.", "SCHILY.", "LIBARCHIVE.", "RHT."]
        .iter()
        .any(|p| key.starts_with(p))
}

/// Reads a tar stream entry by entry, holding at most the bounds of [`Limits`]. Call
/// [`TarReader::next_entry`], then read the entry's data (optional) with
/// [`TarReader::data`]; unread data is skipped by the next call.
///
/// It reads what container tools write: v7, ustar, GNU (long names and links) and PAX
/// (local and global headers), the way Go's `archive/tar` reads them. Constructions that
/// tar implementations read differently are refused rather than guessed at: two PAX
/// headers before one entry, a GNU long name together with a PAX `path` (or long link
/// and `linkpath`), a global header between an extension header and its entry, global
/// records that would change entries (`path`, `size`, `uid`, xattrs, …), GNU sparse
/// files (old and PAX forms), multi-volume and dump entries. After an error the reader
/// returns [`TarError::AfterError`]: it does not guess where the next header is.
pub struct TarReader<R> {
    inner: R,
    limits: Limits,
    /// Data bytes of the current entry not yet read.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    /// Bytes consumed from `inner`.
    position: u64,
    globals: Vec<(String, Vec<u8>)>,
    global_bytes: u64,
    entries: u64,
    done: bool,
    failed: Option<u64>,
}

impl<R: TarInput> TarReader<R> {
    /// A reader over an uncompressed tar stream.
    pub fn new(inner: R, limits: Limits) -> TarReader<R> {
        TarReader {
            inner,
            limits,
            remaining: 0,
            padding: 0,
            position: 0,
            globals: Vec::new(),
            global_bytes: 0,
            entries: 0,
            done: false,
            failed: None,
        }
    }

    /// Bytes consumed from the underlying stream so far (after [`TarReader::next_entry`]
    /// returned an entry: the offset of its data).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The records of the global PAX headers read so far, keys sorted, later values
    /// winning. They are not applied to entries.
    pub fn globals(&self) -> &[(String, Vec<u8>)] {
        &self.globals
    }

    /// The bounds in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The underlying reader (to drain what follows the end-of-archive marker).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The underlying reader, borrowed.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Reads until `buf` is full or the stream ends; returns the bytes read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    // A reader claiming more than it was given is a bug there; never
                    // index past the buffer for it.
                    let n = n.min(buf.len() - filled);
                    filled += n;
                    self.position += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TarError::Io(e)),
            }
        }
        Ok(filled)
    }

    /// Reads a header block: `false` at a clean end of stream.
    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<bool, TarError> {
        match self.fill(block)? {
            0 => Ok(false),
            BLOCK => Ok(true),
            _ => Err(TarError::Truncated {
                offset: self.position,
                reading: "a header",
            }),
        }
    }

    fn skip(&mut self, n: u64, reading: &'static str) -> Result<(), TarError> {
        if n == 0 {
            return Ok(());
        }
        let got = self.inner.skip_bytes(n)?.min(n);
        self.position += got;
        if got < n {
            return Err(TarError::Truncated {
                offset: self.position,
                reading,
            });
        }
        Ok(())
    }

    /// Reads an extension header's data (its size already checked against the bounds)
    /// and its padding.
    fn read_extension(&mut self, size: u64) -> Result<Vec<u8>, TarError> {
        let len = usize::try_from(size).map_err(|_| TarError::Truncated {
            offset: self.position,
            reading: "extension data",
        })?;
        let mut data = vec![0u8; len];
        if self.fill(&mut data)? < len {
            return Err(TarError::Truncated {
                offset: self.position,
                reading: "extension data",
            });
        }
        self.skip(padding(size), "extension data")?;
        Ok(data)
    }

    /// The next entry, or `None` at the end of the archive (two zero blocks, one zero
    /// block then the end of the stream, or the end of the stream on a header boundary).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if let Some(offset) = self.failed {
            return Err(TarError::AfterError { offset });
        }
        let result = self.next_inner();
        if let Err(e) = &result {
            self.failed = Some(e.offset().unwrap_or(self.position));
        }
        result
    }

    fn next_inner(&mut self) -> Result<Option<Entry>, TarError> {
        if self.done {
            return Ok(None);
        }
        // `remaining` is at most i64::MAX (sizes over it are refused): no overflow.
        let rest = self.remaining + self.padding;
        let reading = if self.remaining > 0 {
            "entry data"
        } else {
            "padding"
        };
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest, reading)?;
        let max_ext = self.limits.max_extension_bytes as u64;
        let mut pending = Pending::default();
        loop {
            let offset = self.position;
            let mut header = [0u8; BLOCK];
            if !self.read_block(&mut header)? {
                self.done = true;
                // A global header may end an archive; a local one needs its entry.
                return if pending.has_local() {
                    Err(TarError::ExtensionWithoutEntry { offset })
                } else {
                    Ok(None)
                };
            }
            if header.iter().all(|&b| b == 0) {
                self.done = true;
                if pending.has_local() {
                    return Err(TarError::ExtensionWithoutEntry { offset });
                }
                // A second zero block normally follows; its absence at the end of the
                // stream is tolerated (as Go does), a non-zero block is not.
                let second_offset = self.position;
                let mut second = [0u8; BLOCK];
                if self.read_block(&mut second)? && second.iter().any(|&b| b != 0) {
                    return Err(TarError::BadEndOfArchive {
                        offset: second_offset,
                    });
                }
                return Ok(None);
            }
            verify_checksum(&header, offset)?;
            let type_flag = header[156];
            match type_flag {
                flag::PAX | flag::PAX_GLOBAL => {
                    let global = type_flag == flag::PAX_GLOBAL;
                    if global && pending.has_local() {
                        return Err(TarError::Unsupported {
                            offset,
                            what: "global PAX header between an extension header and its entry (tar readers disagree on what applies)".to_owned(),
                        });
                    }
                    if !global && pending.local_pax {
                        return Err(TarError::Unsupported {
                            offset,
                            what: "second PAX header before one entry (tar readers disagree on which applies)".to_owned(),
                        });
                    }
                    let size = parse_numeric(&header[124..136], "size", offset)?;
                    let total = pending
                        .bytes
                        .saturating_add(BLOCK as u64)
                        .saturating_add(size);
                    if total > max_ext {
                        return Err(TarError::ExtensionTooLarge {
                            offset,
                            what: if size > max_ext {
                                if global {
                                    "global PAX header"
                                } else {
                                    "PAX header"
                                }
                            } else {
                                "extension headers before one entry"
                            },
                            size: if size > max_ext { size } else { total },
                            max: max_ext,
                        });
                    }
                    if global {
                        let all = self
                            .global_bytes
                            .saturating_add(BLOCK as u64)
                            .saturating_add(size);
                        if all > max_ext {
                            return Err(TarError::ExtensionTooLarge {
                                offset,
                                what: "global PAX headers",
                                size: all,
                                max: max_ext,
                            });
                        }
                        self.global_bytes = all;
                    }
                    let data = self.read_extension(size)?;
                    pending.bytes = total;
                    let records = parse_pax(&data, offset)?;
                    if global {
                        if let Some((key, _)) = records.iter().find(|(k, _)| refused_global(k)) {
                            return Err(TarError::Unsupported {
                                offset,
                                what: format!(
                                    "global PAX record {key:?} (tar readers disagree on whether it applies to later entries)"
                                ),
                            });
                        }
                        merge(&mut self.globals, records);
                    } else {
                        merge(&mut pending.local, records);
                        pending.local_pax = true;
                    }
                    pending.extensions.push(Extension { header, data });
                }
                flag::GNU_LONGNAME | flag::GNU_LONGLINK => {
                    let is_name = type_flag == flag::GNU_LONGNAME;
                    let what = if is_name {
                        "GNU long name"
                    } else {
                        "GNU long link"
                    };
                    let slot = if is_name {
                        &pending.long_name
                    } else {
                        &pending.long_link
                    };
                    if slot.is_some() {
                        return Err(TarError::Unsupported {
                            offset,
                            what: format!("second {what} before one entry"),
                        });
                    }
                    let size = parse_numeric(&header[124..136], "size", offset)?;
                    let max = self.limits.max_path_bytes.saturating_add(1) as u64;
                    if size > max {
                        return Err(TarError::ExtensionTooLarge {
                            offset,
                            what,
                            size,
                            max,
                        });
                    }
                    let total = pending
                        .bytes
                        .saturating_add(BLOCK as u64)
                        .saturating_add(size);
                    if total > max_ext {
                        return Err(TarError::ExtensionTooLarge {
                            offset,
                            what: "extension headers before one entry",
                            size: total,
                            max: max_ext,
                        });
                    }
                    let data = self.read_extension(size)?;
                    pending.bytes = total;
                    let value = cstr(&data).to_vec();
                    if is_name {
                        pending.long_name = Some(value);
                    } else {
                        pending.long_link = Some(value);
                    }
                    pending.extensions.push(Extension { header, data });
                }
                b'S' | b'M' | b'V' | b'N' | b'D' => {
                    return Err(TarError::Unsupported {
                        offset,
                        what: format!(
                            "GNU entry type {:?} (sparse, multi-volume, volume, old long name or dump entries)",
                            type_flag as char
                        ),
                    });
                }
                _ => {
                    if self.entries >= self.limits.max_entries {
                        return Err(TarError::TooManyEntries {
                            offset,
                            max: self.limits.max_entries,
                        });
                    }
                    let entry = self.build_entry(header, pending, offset)?;
                    self.entries += 1;
                    self.remaining = if entry.has_data() { entry.size } else { 0 };
                    self.padding = padding(self.remaining);
                    return Ok(Some(entry));
                }
            }
        }
    }

    fn build_entry(
        &self,
        header: [u8; BLOCK],
        pending: Pending,
        offset: u64,
    ) -> Result<Entry, TarError> {
        let Pending {
            extensions,
            local,
            local_pax,
            long_name,
            long_link,
            bytes: _,
        } = pending;
        let mut format = Format::of(&header);
        let star = format == Format::Ustar && &header[508..512] == b"tar\0";
        if local_pax && format == Format::Ustar {
            format = Format::Pax;
        }
        if local
            .iter()
            .any(|(k, _)| k.starts_with("GNU.sparse.") || k == "GNU.sparse")
        {
            return Err(TarError::Unsupported {
                offset,
                what: "GNU sparse file (PAX form)".to_owned(),
            });
        }
        // Local records apply to fields; empty values do not (as Go reads them).
        let get = |k: &str| {
            local
                .binary_search_by(|(key, _)| key.as_str().cmp(k))
                .ok()
                .map(|i| local[i].1.as_slice())
                .filter(|v| !v.is_empty())
        };
        let long_name = long_name.filter(|n| !n.is_empty());
        let long_link = long_link.filter(|n| !n.is_empty());
        if long_name.is_some() && get("path").is_some() {
            return Err(TarError::Unsupported {
                offset,
                what: "GNU long name and PAX path for one entry (tar readers disagree on which applies)".to_owned(),
            });
        }
        if long_link.is_some() && get("linkpath").is_some() {
            return Err(TarError::Unsupported {
                offset,
                what: "GNU long link and PAX linkpath for one entry (tar readers disagree on which applies)".to_owned(),
            });
        }
        let field_name = cstr(&header[0..100]);
        let name = if let Some(n) = long_name {
            n
        } else if let Some(p) = get("path") {
            p.to_vec()
        } else if matches!(format, Format::Ustar | Format::Pax) {
            let prefix = if star {
                cstr(&header[345..476])
            } else {
                cstr(&header[345..500])
            };
            if prefix.is_empty() {
                field_name.to_vec()
            } else {
                let mut v = prefix.to_vec();
                v.push(b'/');
                v.extend_from_slice(field_name);
                v
            }
        } else {
            field_name.to_vec()
        };
        let link = if let Some(l) = long_link {
            l
        } else if let Some(p) = get("linkpath") {
            p.to_vec()
        } else {
            cstr(&header[157..257]).to_vec()
        };
        for (what, len) in [("path", name.len()), ("link target", link.len())] {
            if len > self.limits.max_path_bytes {
                return Err(TarError::PathTooLong {
                    offset,
                    what,
                    len,
                    max: self.limits.max_path_bytes,
                });
            }
        }
        let mut type_flag = header[156];
        if type_flag == flag::REGULAR_OLD && name.last() == Some(&b'/') {
            // Go reads this as a directory (no data); older readers as a file with data.
            type_flag = flag::DIR;
        }
        let size = match get("size") {
            Some(v) => pax_number(v, "size", offset)?,
            None => {
                let s = parse_numeric(&header[124..136], "size", offset)?;
                if s > i64::MAX as u64 {
                    return Err(bad_field(&header[124..136], "size", offset));
                }
                s
            }
        };
        if header[156] == flag::REGULAR_OLD && type_flag == flag::DIR && size != 0 {
            return Err(TarError::Unsupported {
                offset,
                what: "old-style regular entry named like a directory, with data (tar readers disagree on whether data follows)".to_owned(),
            });
        }
        let uid = match get("uid") {
            Some(v) => pax_number(v, "uid", offset)?,
            None => parse_numeric(&header[108..116], "uid", offset)?,
        };
        let gid = match get("gid") {
            Some(v) => pax_number(v, "gid", offset)?,
            None => parse_numeric(&header[116..124], "gid", offset)?,
        };
        let mode = parse_numeric(&header[100..108], "mode", offset)?;
        let mode = u32::try_from(mode).map_err(|_| bad_field(&header[100..108], "mode", offset))?;
        let (uname, gname) = if format == Format::V7 {
            (Vec::new(), Vec::new())
        } else {
            (
                cstr(&header[265..297]).to_vec(),
                cstr(&header[297..329]).to_vec(),
            )
        };
        let uname = get("uname").map_or(uname, <[u8]>::to_vec);
        let gname = get("gname").map_or(gname, <[u8]>::to_vec);
        let mtime = match get("mtime") {
            Some(v) => String::from_utf8_lossy(v).into_owned(),
            None => parse_signed(&header[136..148], "mtime", offset)?.to_string(),
        };
        let time_field = |range: std::ops::Range<usize>, name: &'static str| {
            let field = &header[range];
            if field.first().is_none_or(|&b| b == 0) {
                return Ok(None);
            }
            parse_signed(field, name, offset).map(|t| Some(t.to_string()))
        };
        let (mut atime, mut ctime) = (None, None);
        if format == Format::Gnu {
            atime = time_field(345..357, "atime")?;
            ctime = time_field(357..369, "ctime")?;
        } else if star {
            atime = time_field(476..488, "atime")?;
            ctime = time_field(488..500, "ctime")?;
        }
        if let Some(v) = get("atime") {
            atime = Some(String::from_utf8_lossy(v).into_owned());
        }
        if let Some(v) = get("ctime") {
            ctime = Some(String::from_utf8_lossy(v).into_owned());
        }
        let (dev_major, dev_minor) =
            if matches!(type_flag, flag::CHAR | flag::BLOCK) && format != Format::V7 {
                (
                    parse_numeric(&header[329..337], "devmajor", offset)?,
                    parse_numeric(&header[337..345], "devminor", offset)?,
                )
            } else {
                (0, 0)
            };
        let entry = Entry {
            offset,
            header,
            extensions,
            flag: type_flag,
            name,
            link,
            mode,
            uid,
            gid,
            uname,
            gname,
            size,
            mtime,
            atime,
            ctime,
            dev_major,
            dev_minor,
            pax: local,
            format,
        };
        if entry.has_data() && entry.size > self.limits.max_entry_bytes {
            return Err(TarError::EntryTooLarge {
                offset,
                name: escape(&entry.name, 256),
                size: entry.size,
                max: self.limits.max_entry_bytes,
            });
        }
        Ok(entry)
    }

    /// The current entry's data, as a reader that stops at its end (and fails if the
    /// stream ends first).
    pub fn data(&mut self) -> DataReader<'_, R> {
        DataReader { tar: self }
    }
}

/// Reads the data of the current entry; a stream that ends early is an error.
pub struct DataReader<'a, R> {
    tar: &'a mut TarReader<R>,
}

impl<R> DataReader<'_, R> {
    /// Data bytes of the entry not yet read.
    pub fn remaining(&self) -> u64 {
        self.tar.remaining
    }
}

impl<R: TarInput> Read for DataReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tar.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.tar.remaining.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = self.tar.inner.read(&mut buf[..want])?.min(want);
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "tar entry data ends early at offset {} ({} bytes missing)",
                    self.tar.position, self.tar.remaining
                ),
            ));
        }
        self.tar.remaining -= n as u64;
        self.tar.position += n as u64;
        Ok(n)
    }
}

/// Adds `records` to `into` (sorted by key, later values winning), in O(n log n): a 1 MiB
/// header holds some 170,000 records.
fn merge(into: &mut Vec<(String, Vec<u8>)>, records: Vec<(String, Vec<u8>)>) {
    let mut map: BTreeMap<String, Vec<u8>> = std::mem::take(into).into_iter().collect();
    map.extend(records);
    *into = map.into_iter().collect();
}
