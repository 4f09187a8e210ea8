//! Writing: ustar header blocks for plain files and directories, entry data with its
//! padding, and the end-of-archive marker. Enough for an archive of an image layout,
//! byte for byte what `tar::Builder` writes for the same headers.

use std::io::{self, Read, Write};

use crate::error::HeaderError;
use crate::header::{BLOCK, checksums, flag, padding, parse_numeric, set_octal};

/// The end of an archive: two zero blocks.
pub const END_OF_ARCHIVE: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

/// Largest size a header written here may declare (what [`crate::TarReader`] reads
/// back).
const MAX_SIZE: u64 = i64::MAX as u64;

/// A ustar header block for a regular file of `size` bytes.
///
/// The name is written exactly as given (`./blobs/sha256/<hex>`: no `./` added or
/// removed, no prefix field) and must be 1 to 99 bytes without NUL. Mode is written as 7
/// octal digits, size as 11 octal digits or, from 8 GiB on, in GNU base-256 as the tar
/// crate does; mtime, uid and gid are 0, user and group names empty, magic
/// `ustar\0` version `00`, checksum as 7 octal digits and a NUL (as the tar crate writes
/// it; GNU tar writes 6 digits, NUL, space: both read the same).
///
/// ```
/// let h = latch_tar::ustar_file("./oci-layout", 30, 0o644).unwrap();
/// let mut out = Vec::new();
/// latch_tar::write_entry(&mut out, &h, &mut &br#"{"imageLayoutVersion":"1.0.0"}"#[..]).unwrap();
/// out.extend_from_slice(&latch_tar::END_OF_ARCHIVE);
/// assert_eq!(out.len(), 4 * latch_tar::BLOCK);
/// ```
pub fn ustar_file(name: &str, size: u64, mode: u32) -> Result<[u8; BLOCK], HeaderError> {
    ustar_header(name, flag::REGULAR, size, mode)
}

/// A ustar header block for a directory (`./`, `./blobs/`), size 0; otherwise as
/// [`ustar_file`].
pub fn ustar_dir(name: &str, mode: u32) -> Result<[u8; BLOCK], HeaderError> {
    ustar_header(name, flag::DIR, 0, mode)
}

fn ustar_header(
    name: &str,
    type_flag: u8,
    size: u64,
    mode: u32,
) -> Result<[u8; BLOCK], HeaderError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(HeaderError::EmptyName);
    }
    if bytes.len() >= 100 {
        return Err(HeaderError::NameTooLong {
            name: name.to_owned(),
            len: bytes.len(),
        });
    }
    if bytes.contains(&0) {
        return Err(HeaderError::NulInName {
            name: name.to_owned(),
        });
    }
    if size > MAX_SIZE {
        return Err(HeaderError::SizeTooLarge { size });
    }
    let mut h = [0u8; BLOCK];
    h[..bytes.len()].copy_from_slice(bytes);
    set_octal(&mut h[100..108], u64::from(mode)).ok_or(HeaderError::ModeTooLarge { mode })?;
    // uid, gid, mtime: 0. Seven and eleven digits always hold 0: `set_octal` cannot fail.
    let _ = set_octal(&mut h[108..116], 0);
    let _ = set_octal(&mut h[116..124], 0);
    if set_octal(&mut h[124..136], size).is_none() {
        // 8 GiB and over: GNU base-256, big-endian in the last 8 bytes, marker bit set.
        h[124..128].fill(0);
        h[128..136].copy_from_slice(&size.to_be_bytes());
        h[124] |= 0x80;
    }
    let _ = set_octal(&mut h[136..148], 0);
    h[156] = type_flag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    let (sum, _) = checksums(&h);
    // At most 512 * 255: seven digits hold it.
    let _ = set_octal(&mut h[148..156], sum);
    Ok(h)
}

/// Writes an entry: `header`, then exactly the size it declares of `data`, then the
/// padding to the next block. Fails with [`io::ErrorKind::UnexpectedEof`] if `data` ends
/// early (bytes after that size are not read); with [`io::ErrorKind::InvalidInput`] if
/// the header's size field cannot be read. Returns the bytes written. End the archive
/// with [`END_OF_ARCHIVE`].
pub fn write_entry<W: Write + ?Sized, D: Read + ?Sized>(
    out: &mut W,
    header: &[u8; BLOCK],
    data: &mut D,
) -> io::Result<u64> {
    let size = parse_numeric(&header[124..136], "size", 0)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let size = if header[156] == flag::DIR { 0 } else { size };
    out.write_all(header)?;
    let copied = io::copy(&mut data.take(size), out)?;
    if copied < size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "tar entry {:?}: its data ended after {copied} of {size} bytes",
                String::from_utf8_lossy(crate::cstr(&header[..100]))
            ),
        ));
    }
    let pad = padding(size);
    out.write_all(&[0u8; BLOCK][..pad as usize])?;
    Ok(BLOCK as u64 + size + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let h = ustar_file("./blobs/sha256/ab", 1000, 0o644).unwrap();
        assert_eq!(crate::cstr(&h[..100]), b"./blobs/sha256/ab");
        assert_eq!(&h[100..108], b"0000644\0");
        assert_eq!(&h[108..116], b"0000000\0");
        assert_eq!(&h[124..136], b"00000001750\0");
        assert_eq!(&h[136..148], b"00000000000\0");
        assert_eq!(h[156], b'0');
        assert_eq!(&h[257..265], b"ustar\x0000");
        crate::header::verify_checksum(&h, 0).unwrap();
        let d = ustar_dir("./", 0o755).unwrap();
        assert_eq!(d[156], b'5');
        assert_eq!(&d[124..136], b"00000000000\0");
    }

    #[test]
    fn refused_headers() {
        assert_eq!(ustar_file("", 0, 0o644), Err(HeaderError::EmptyName));
        let long = "a".repeat(100);
        assert!(matches!(
            ustar_file(&long, 0, 0o644),
            Err(HeaderError::NameTooLong { len: 100, .. })
        ));
        assert!(ustar_file(&"a".repeat(99), 0, 0o644).is_ok());
        assert!(matches!(
            ustar_file("a\0b", 0, 0o644),
            Err(HeaderError::NulInName { .. })
        ));
        assert_eq!(
            ustar_file("a", u64::MAX, 0o644),
            Err(HeaderError::SizeTooLarge { size: u64::MAX })
        );
        assert_eq!(
            ustar_dir("a/", 0o10000000),
            Err(HeaderError::ModeTooLarge { mode: 0o10000000 })
        );
    }

    #[test]
    fn write_entry_writes_exactly_the_declared_size() {
        let h = ustar_file("f", 3, 0o644).unwrap();
        let mut out = Vec::new();
        // More data than declared: only the declared bytes are written.
        let n = write_entry(&mut out, &h, &mut &b"abcdef"[..]).unwrap();
        assert_eq!(n, 1024);
        assert_eq!(out.len(), 1024);
        assert_eq!(&out[512..516], b"abc\0");
        // Less data than declared: refused.
        let h = ustar_file("f", 10, 0o644).unwrap();
        let e = write_entry(&mut Vec::new(), &h, &mut &b"abc"[..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        // A block-sized entry has no padding.
        let h = ustar_file("f", 512, 0o644).unwrap();
        let n = write_entry(&mut Vec::new(), &h, &mut &[7u8; 512][..]).unwrap();
        assert_eq!(n, 1024);
        // A directory writes its header only.
        let d = ustar_dir("./", 0o755).unwrap();
        assert_eq!(
            write_entry(&mut Vec::new(), &d, &mut io::empty()).unwrap(),
            512
        );
    }
}
