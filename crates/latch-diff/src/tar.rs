//! A bounded, streaming tar reader (and the few writing helpers `normalize` needs).
//!
//! Layers come from registries Latch does not trust, so this reader allocates nothing an
//! archive can make large: extension headers (PAX, GNU long names) are refused past the
//! bounds in [`Limits`], entry data is never buffered (the caller streams it), numeric
//! fields are checked, and every header's checksum is verified. It reads the formats
//! container tools write: v7, ustar, GNU (long names and links) and PAX (local and global
//! headers). GNU sparse and multi-volume entries are refused.

use std::io::{self, Read, Seek, SeekFrom};

use crate::Limits;
use crate::error::TarError;

/// The size of a tar block.
pub const BLOCK: usize = 512;

/// Type flags.
pub mod flag {
    /// Regular file.
    pub const REGULAR: u8 = b'0';
    /// Regular file (old style).
    pub const REGULAR_OLD: u8 = 0;
    /// Hard link.
    pub const LINK: u8 = b'1';
    /// Symbolic link.
    pub const SYMLINK: u8 = b'2';
    /// Character device.
    pub const CHAR: u8 = b'3';
    /// Block device.
    pub const BLOCK: u8 = b'4';
    /// Directory.
    pub const DIR: u8 = b'5';
    /// FIFO.
    pub const FIFO: u8 = b'6';
    /// Contiguous file.
    pub const CONTIGUOUS: u8 = b'7';
    /// PAX local extended header.
    pub const PAX: u8 = b'x';
    /// PAX global extended header.
    pub const PAX_GLOBAL: u8 = b'g';
    /// GNU long name.
    pub const GNU_LONGNAME: u8 = b'L';
    /// GNU long link.
    pub const GNU_LONGLINK: u8 = b'K';
}

/// Which header format an entry was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Pre-POSIX (no magic).
    V7,
    /// POSIX ustar.
    Ustar,
    /// GNU (`ustar  \0` magic).
    Gnu,
    /// ustar with PAX extended headers.
    Pax,
}

impl Format {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Format::V7 => "v7",
            Format::Ustar => "ustar",
            Format::Gnu => "gnu",
            Format::Pax => "pax",
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

/// One tar entry's metadata, with its extension headers applied.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The entry's own header block.
    pub header: [u8; BLOCK],
    /// Extension headers that preceded it, in order.
    pub extensions: Vec<Extension>,
    /// Type flag.
    pub flag: u8,
    /// Path as written (PAX `path`, else GNU long name, else ustar prefix and name).
    pub name: Vec<u8>,
    /// Link target (PAX `linkpath`, GNU long link, or the header field).
    pub link: Vec<u8>,
    /// Permission and mode bits as written.
    pub mode: u32,
    /// Owner id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Owner name.
    pub uname: Vec<u8>,
    /// Group name.
    pub gname: Vec<u8>,
    /// Bytes of data that follow the header.
    pub size: u64,
    /// Modification time as written (PAX `mtime` string, else decimal of the header).
    pub mtime: String,
    /// PAX `atime`, or a GNU header's atime.
    pub atime: Option<String>,
    /// PAX `ctime`, or a GNU header's ctime.
    pub ctime: Option<String>,
    /// Device major (character and block devices).
    pub dev_major: u64,
    /// Device minor.
    pub dev_minor: u64,
    /// Every PAX record in force for this entry (global ones first, then local), keys
    /// sorted, later values winning. Includes the ones applied to the fields above.
    pub pax: Vec<(String, Vec<u8>)>,
    /// Header format.
    pub format: Format,
}

impl Entry {
    /// Whether data follows the header in the archive. Like Go's `archive/tar` (which
    /// wrote most container layers), links, devices, directories and FIFOs carry none,
    /// whatever their size field says.
    pub fn has_data(&self) -> bool {
        !matches!(
            self.flag,
            flag::LINK | flag::SYMLINK | flag::CHAR | flag::BLOCK | flag::DIR | flag::FIFO
        )
    }
}

/// A stream a [`TarReader`] reads: skipping entry data can be cheaper than reading it.
pub trait TarInput: Read {
    /// Skips `n` bytes; returns how many were skipped (fewer only at the end of the
    /// stream, which for a seekable input is found out later).
    fn skip_bytes(&mut self, n: u64) -> io::Result<u64>;
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

/// A seekable input (an archive file): skipping seeks.
pub struct Seekable<R>(pub R);

impl<R: Read> Read for Seekable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read + Seek> TarInput for Seekable<R> {
    fn skip_bytes(&mut self, n: u64) -> io::Result<u64> {
        let n_i = i64::try_from(n)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "skip too large"))?;
        self.0.seek(SeekFrom::Current(n_i))?;
        Ok(n)
    }
}

/// Reads a tar stream entry by entry. Call [`TarReader::next_entry`], then read the data
/// of the entry (optional) with [`TarReader::data`]; unread data is skipped.
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
    global_bytes: usize,
    done: bool,
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
            done: false,
        }
    }

    /// Bytes consumed from the underlying stream so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The underlying reader (to drain what follows the end-of-archive marker).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The underlying reader, borrowed.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<bool, TarError> {
        let mut filled = 0;
        while filled < BLOCK {
            let n = match self.inner.read(&mut block[filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TarError::Io(e)),
            };
            if n == 0 {
                if filled == 0 {
                    return Ok(false);
                }
                return Err(TarError::Truncated {
                    offset: self.position,
                });
            }
            filled += n;
            self.position += n as u64;
        }
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> Result<(), TarError> {
        if n == 0 {
            return Ok(());
        }
        let got = self.inner.skip_bytes(n)?;
        self.position += got;
        if got < n {
            return Err(TarError::Truncated {
                offset: self.position,
            });
        }
        Ok(())
    }

    fn read_exact_counted(&mut self, out: &mut [u8]) -> Result<(), TarError> {
        match self.inner.read_exact(out) {
            Ok(()) => {
                self.position += out.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(TarError::Truncated {
                offset: self.position,
            }),
            Err(e) => Err(TarError::Io(e)),
        }
    }

    /// Reads an extension header's data (bounded by `max`) and its padding.
    fn read_extension(&mut self, header: &[u8; BLOCK], max: usize) -> Result<Vec<u8>, TarError> {
        let size = parse_size(header, self.position)?;
        if size > max as u64 {
            return Err(TarError::ExtensionTooLarge {
                offset: self.position,
                size,
                max: max as u64,
            });
        }
        let mut data = vec![0u8; size as usize];
        self.read_exact_counted(&mut data)?;
        self.skip(padding(size))?;
        Ok(data)
    }

    /// The next entry, or `None` at the end of the archive (two zero blocks, or a clean
    /// end of stream on a block boundary).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        if self.done {
            return Ok(None);
        }
        let rest = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip(rest)?;
        let mut extensions: Vec<Extension> = Vec::new();
        let mut local: Vec<(String, Vec<u8>)> = Vec::new();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut ext_bytes = 0usize;
        loop {
            let mut header = [0u8; BLOCK];
            let offset = self.position;
            if !self.read_block(&mut header)? {
                self.done = true;
                return if extensions.is_empty() {
                    Ok(None)
                } else {
                    Err(TarError::Truncated { offset })
                };
            }
            if header.iter().all(|&b| b == 0) {
                // End of archive. A second zero block normally follows; tolerate its
                // absence (some writers stop after one).
                self.done = true;
                let mut second = [0u8; BLOCK];
                let _ = self.read_block(&mut second)?;
                return if extensions.is_empty() {
                    Ok(None)
                } else {
                    Err(TarError::Truncated { offset })
                };
            }
            verify_checksum(&header, offset)?;
            let flag = header[156];
            match flag {
                flag::PAX | flag::PAX_GLOBAL => {
                    let data = self.read_extension(&header, self.limits.max_pax_bytes)?;
                    ext_bytes += data.len();
                    if ext_bytes > self.limits.max_pax_bytes {
                        return Err(TarError::ExtensionTooLarge {
                            offset,
                            size: ext_bytes as u64,
                            max: self.limits.max_pax_bytes as u64,
                        });
                    }
                    let records = parse_pax(&data, offset)?;
                    if flag == flag::PAX_GLOBAL {
                        self.global_bytes += data.len();
                        if self.global_bytes > self.limits.max_pax_bytes {
                            return Err(TarError::ExtensionTooLarge {
                                offset,
                                size: self.global_bytes as u64,
                                max: self.limits.max_pax_bytes as u64,
                            });
                        }
                        merge(&mut self.globals, records);
                    } else {
                        merge(&mut local, records);
                    }
                    extensions.push(Extension { header, data });
                }
                flag::GNU_LONGNAME | flag::GNU_LONGLINK => {
                    let data = self.read_extension(&header, self.limits.max_path_bytes + 1)?;
                    let value = cstr(&data).to_vec();
                    if flag == flag::GNU_LONGNAME {
                        long_name = Some(value);
                    } else {
                        long_link = Some(value);
                    }
                    extensions.push(Extension { header, data });
                }
                b'S' | b'M' | b'V' | b'N' | b'D' => {
                    return Err(TarError::Unsupported {
                        offset,
                        what: format!(
                            "GNU entry type {:?} (sparse, multi-volume or dump entries)",
                            flag as char
                        ),
                    });
                }
                _ => {
                    let entry =
                        self.build_entry(header, extensions, local, long_name, long_link, offset)?;
                    self.remaining = if entry.has_data() { entry.size } else { 0 };
                    self.padding = padding(self.remaining);
                    return Ok(Some(entry));
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn build_entry(
        &self,
        header: [u8; BLOCK],
        extensions: Vec<Extension>,
        local: Vec<(String, Vec<u8>)>,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
        offset: u64,
    ) -> Result<Entry, TarError> {
        let magic = &header[257..265];
        let mut format = if magic == b"ustar  \0" {
            Format::Gnu
        } else if &magic[..6] == b"ustar\0" || &magic[..6] == b"ustar " {
            Format::Ustar
        } else {
            Format::V7
        };
        let mut pax = self.globals.clone();
        let had_local = !local.is_empty();
        merge(&mut pax, local);
        if had_local && format == Format::Ustar {
            format = Format::Pax;
        }
        let get = |k: &str| {
            pax.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_slice())
        };
        let field_name = cstr(&header[0..100]);
        let name = if let Some(p) = get("path") {
            p.to_vec()
        } else if let Some(n) = long_name {
            n
        } else if format == Format::Ustar || format == Format::Pax {
            let prefix = cstr(&header[345..500]);
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
        let link = if let Some(p) = get("linkpath") {
            p.to_vec()
        } else if let Some(l) = long_link {
            l
        } else {
            cstr(&header[157..257]).to_vec()
        };
        if name.len() > self.limits.max_path_bytes || link.len() > self.limits.max_path_bytes {
            return Err(TarError::PathTooLong {
                offset,
                max: self.limits.max_path_bytes,
            });
        }
        let size = match get("size") {
            Some(v) => pax_u64(v, "size", offset)?,
            None => parse_size(&header, offset)?,
        };
        let uid = match get("uid") {
            Some(v) => pax_u64(v, "uid", offset)?,
            None => parse_numeric(&header[108..116], "uid", offset)?,
        };
        let gid = match get("gid") {
            Some(v) => pax_u64(v, "gid", offset)?,
            None => parse_numeric(&header[116..124], "gid", offset)?,
        };
        let mode = parse_numeric(&header[100..108], "mode", offset)?;
        let mode = u32::try_from(mode).map_err(|_| TarError::BadField {
            offset,
            field: "mode",
        })?;
        let uname = match get("uname") {
            Some(v) => v.to_vec(),
            None => cstr(&header[265..297]).to_vec(),
        };
        let gname = match get("gname") {
            Some(v) => v.to_vec(),
            None => cstr(&header[297..329]).to_vec(),
        };
        let mtime = match get("mtime") {
            Some(v) => String::from_utf8_lossy(v).into_owned(),
            None => parse_signed(&header[136..148], "mtime", offset)?.to_string(),
        };
        let (mut atime, mut ctime) = (None, None);
        if format == Format::Gnu {
            let a = parse_signed(&header[345..357], "atime", offset)?;
            let c = parse_signed(&header[357..369], "ctime", offset)?;
            atime = (a != 0).then(|| a.to_string());
            ctime = (c != 0).then(|| c.to_string());
        }
        if let Some(v) = get("atime") {
            atime = Some(String::from_utf8_lossy(v).into_owned());
        }
        if let Some(v) = get("ctime") {
            ctime = Some(String::from_utf8_lossy(v).into_owned());
        }
        let flag = header[156];
        let (dev_major, dev_minor) =
            if matches!(flag, flag::CHAR | flag::BLOCK) && format != Format::V7 {
                (
                    parse_numeric(&header[329..337], "devmajor", offset)?,
                    parse_numeric(&header[337..345], "devminor", offset)?,
                )
            } else {
                (0, 0)
            };
        Ok(Entry {
            header,
            extensions,
            flag,
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
            pax,
            format,
        })
    }

    /// The current entry's data, as a reader that stops at its end.
    pub fn data(&mut self) -> DataReader<'_, R> {
        DataReader { tar: self }
    }
}

/// Reads the data of the current entry; a stream that ends early is an error.
pub struct DataReader<'a, R> {
    tar: &'a mut TarReader<R>,
}

impl<R: TarInput> Read for DataReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tar.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.tar.remaining.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = self.tar.inner.read(&mut buf[..want])?;
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

/// Padding after `size` bytes of data.
pub fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn merge(into: &mut Vec<(String, Vec<u8>)>, records: Vec<(String, Vec<u8>)>) {
    for (k, v) in records {
        match into.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => into.push((k, v)),
        }
    }
    into.sort_by(|a, b| a.0.cmp(&b.0));
}

/// The bytes of a NUL-terminated field.
pub fn cstr(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(n) => &field[..n],
        None => field,
    }
}

fn verify_checksum(header: &[u8; BLOCK], offset: u64) -> Result<(), TarError> {
    let stored = parse_numeric(&header[148..156], "checksum", offset)
        .map_err(|_| TarError::BadChecksum { offset })?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in header.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
        return Err(TarError::BadChecksum { offset });
    }
    Ok(())
}

fn parse_size(header: &[u8; BLOCK], offset: u64) -> Result<u64, TarError> {
    parse_numeric(&header[124..136], "size", offset)
}

/// Parses an unsigned numeric header field: octal (space/NUL padded) or GNU base-256.
pub fn parse_numeric(field: &[u8], name: &'static str, offset: u64) -> Result<u64, TarError> {
    let v = parse_signed(field, name, offset)?;
    u64::try_from(v).map_err(|_| TarError::BadField {
        offset,
        field: name,
    })
}

fn parse_signed(field: &[u8], name: &'static str, offset: u64) -> Result<i64, TarError> {
    let bad = || TarError::BadField {
        offset,
        field: name,
    };
    if let Some(&first) = field.first()
        && first & 0x80 != 0
    {
        // Base-256: big-endian two's complement, the first byte's top bit a marker (as
        // Go's archive/tar reads it).
        let inv: u8 = if first & 0x40 != 0 { 0xff } else { 0 };
        let mut x: u64 = 0;
        for (i, &c) in field.iter().enumerate() {
            let mut c = c ^ inv;
            if i == 0 {
                c &= 0x7f;
            }
            if x >> 56 > 0 {
                return Err(bad());
            }
            x = (x << 8) | u64::from(c);
        }
        if x >> 63 > 0 {
            return Err(bad());
        }
        let v = x as i64;
        return Ok(if inv == 0xff { !v } else { v });
    }
    let text = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ' || b == 0)
        .take_while(|&b| b != b' ' && b != 0)
        .collect::<Vec<u8>>();
    if text.is_empty() {
        return Ok(0);
    }
    let mut v: i64 = 0;
    for b in text {
        if !(b'0'..=b'7').contains(&b) {
            return Err(bad());
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(bad)?;
    }
    Ok(v)
}

fn pax_u64(value: &[u8], field: &'static str, offset: u64) -> Result<u64, TarError> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(TarError::BadField { offset, field })
}

/// Parses PAX records (`LEN KEY=VALUE\n`).
pub fn parse_pax(mut data: &[u8], offset: u64) -> Result<Vec<(String, Vec<u8>)>, TarError> {
    let bad = || TarError::BadPax { offset };
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let space = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        let key = std::str::from_utf8(&record[..eq]).map_err(|_| bad())?;
        out.push((key.to_owned(), record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

/// Serialises PAX records.
pub fn write_pax(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        // LEN counts itself: find the fixed point.
        let body = k.len() + v.len() + 3; // space, '=', '\n'
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        out.extend_from_slice(len.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

/// Writes an octal numeric field (`%0*o\0`), or `None` if the value does not fit.
pub fn set_octal(field: &mut [u8], value: u64) -> Option<()> {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    if text.len() > digits {
        return None;
    }
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
    Some(())
}

/// Recomputes a header's checksum field (`%06o\0 `).
pub fn set_checksum(header: &mut [u8; BLOCK]) {
    header[148..156].fill(b' ');
    let sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
    let text = format!("{sum:06o}");
    header[148..154].copy_from_slice(&text.as_bytes()[text.len().saturating_sub(6)..]);
    header[154] = 0;
    header[155] = b' ';
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_round_trip() {
        let recs = vec![
            ("path".to_owned(), b"a/very/long/path".to_vec()),
            ("SCHILY.xattr.user.x".to_owned(), vec![0, 1, 2, b'\n']),
            ("k".to_owned(), vec![b'x'; 95]),
        ];
        let bytes = write_pax(&recs);
        assert_eq!(parse_pax(&bytes, 0).unwrap(), recs);
        assert!(parse_pax(b"5 a=b", 0).is_err());
        assert!(parse_pax(b"99 a=b\n", 0).is_err());
        assert!(parse_pax(b"x a=b\n", 0).is_err());
    }

    #[test]
    fn numeric_fields() {
        assert_eq!(parse_numeric(b"0000644\0", "mode", 0).unwrap(), 0o644);
        assert_eq!(parse_numeric(b"   644 \0", "mode", 0).unwrap(), 0o644);
        assert_eq!(parse_numeric(b"\0\0\0\0", "mode", 0).unwrap(), 0);
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[11] = 5;
        b256[10] = 1;
        assert_eq!(parse_numeric(&b256, "size", 0).unwrap(), 261);
        assert!(parse_numeric(b"0009\0", "mode", 0).is_err());
        let neg = [0xffu8; 12];
        assert!(parse_numeric(&neg, "size", 0).is_err());
        assert_eq!(parse_signed(&neg, "mtime", 0).unwrap(), -1);
        let mut f = [0u8; 12];
        set_octal(&mut f, 0o777).unwrap();
        assert_eq!(&f, b"00000000777\0");
        assert!(set_octal(&mut f, 1 << 40).is_none());
    }
}
