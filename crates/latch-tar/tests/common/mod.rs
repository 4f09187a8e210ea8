//! Archives built block by block, hostile ones included, and readers that count.
#![allow(dead_code)]

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use latch_tar::{BLOCK, Entry, Limits, Stream, TarError, TarReader, set_checksum, set_octal};

/// A ustar header: mode 0644, owners and times 0, checksum set.
pub fn header(name: &[u8], flag: u8, size: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    set_octal(&mut h[100..108], 0o644).unwrap();
    set_octal(&mut h[108..116], 0).unwrap();
    set_octal(&mut h[116..124], 0).unwrap();
    set_octal(&mut h[124..136], size).unwrap();
    set_octal(&mut h[136..148], 0).unwrap();
    h[156] = flag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    set_checksum(&mut h);
    h
}

/// `header` with a field overwritten (checksum recomputed).
pub fn with(mut h: [u8; BLOCK], at: usize, bytes: &[u8]) -> [u8; BLOCK] {
    h[at..at + bytes.len()].copy_from_slice(bytes);
    set_checksum(&mut h);
    h
}

/// An archive under construction.
#[derive(Default, Clone)]
pub struct Tar(pub Vec<u8>);

impl Tar {
    pub fn new() -> Tar {
        Tar::default()
    }

    /// A header and its data, padded.
    pub fn raw(mut self, h: &[u8; BLOCK], data: &[u8]) -> Tar {
        self.0.extend_from_slice(h);
        self.0.extend_from_slice(data);
        let pad = latch_tar::padding(data.len() as u64) as usize;
        self.0.resize(self.0.len() + pad, 0);
        self
    }

    pub fn file(self, name: &str, data: &[u8]) -> Tar {
        let h = header(name.as_bytes(), b'0', data.len() as u64);
        self.raw(&h, data)
    }

    /// A PAX header (`x` or `g`) holding these records.
    pub fn pax(self, flag: u8, records: &[(&str, &[u8])]) -> Tar {
        let recs: Vec<(String, Vec<u8>)> = records
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect();
        let data = latch_tar::write_pax(&recs);
        self.pax_raw(flag, &data)
    }

    /// A PAX header holding these bytes as they are.
    pub fn pax_raw(self, flag: u8, data: &[u8]) -> Tar {
        let h = header(b"PaxHeaders.0/x", flag, data.len() as u64);
        self.raw(&h, data)
    }

    /// A GNU long name (`L`) or link (`K`) header, NUL-terminated.
    pub fn gnu_long(self, flag: u8, value: &[u8]) -> Tar {
        let mut data = value.to_vec();
        data.push(0);
        let h = header(b"././@LongLink", flag, data.len() as u64);
        self.raw(&h, &data)
    }

    pub fn end(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0u8; 2 * BLOCK]);
        self.0
    }
}

/// Every entry with its data, or the first error (a data read error as `Io`).
pub fn read_all(bytes: &[u8], limits: Limits) -> Result<Vec<(Entry, Vec<u8>)>, TarError> {
    let mut tar = TarReader::new(Stream(bytes), limits);
    let mut out = Vec::new();
    while let Some(entry) = tar.next_entry()? {
        let mut data = Vec::new();
        tar.data().read_to_end(&mut data)?;
        out.push((entry, data));
    }
    Ok(out)
}

/// The first error reading `bytes` to the end.
pub fn error(bytes: &[u8], limits: Limits) -> TarError {
    match read_all(bytes, limits) {
        Ok(entries) => panic!(
            "read {} entries, expected an error: {:?}",
            entries.len(),
            entries
                .iter()
                .map(|(e, _)| String::from_utf8_lossy(&e.name).into_owned())
                .collect::<Vec<_>>()
        ),
        Err(e) => e,
    }
}

/// A stream of `prefix` then `len` bytes of `fill` made on demand (never held), counting
/// the bytes handed out.
pub struct Lazy {
    pub prefix: Vec<u8>,
    pub len: u64,
    pub fill: u8,
    pub pos: u64,
    pub served: Rc<Cell<u64>>,
}

impl Lazy {
    pub fn new(prefix: Vec<u8>, len: u64, fill: u8) -> (Lazy, Rc<Cell<u64>>) {
        let served = Rc::new(Cell::new(0));
        (
            Lazy {
                prefix,
                len,
                fill,
                pos: 0,
                served: served.clone(),
            },
            served,
        )
    }
}

impl Read for Lazy {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let total = self.prefix.len() as u64 + self.len;
        if self.pos >= total || buf.is_empty() {
            return Ok(0);
        }
        let n = if self.pos < self.prefix.len() as u64 {
            let from = &self.prefix[self.pos as usize..];
            let n = from.len().min(buf.len());
            buf[..n].copy_from_slice(&from[..n]);
            n
        } else {
            let n = (total - self.pos).min(buf.len() as u64) as usize;
            buf[..n].fill(self.fill);
            n
        };
        self.pos += n as u64;
        self.served.set(self.served.get() + n as u64);
        Ok(n)
    }
}
