//! Header blocks and their fields: numbers (octal and base-256), checksums, PAX records.

use crate::error::{TarError, escape};

/// The size of a tar block.
pub const BLOCK: usize = 512;

/// Type flags (byte 156 of a header).
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Pre-POSIX (no magic).
    V7,
    /// POSIX ustar (`ustar\0` magic; the version is not checked, as Go does not).
    Ustar,
    /// GNU (`ustar ` magic, version ` \0`).
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

    /// The format of a header block, from its magic and version as Go's `archive/tar`
    /// reads them (container runtimes read layers with it): anything else is v7.
    pub(crate) fn of(header: &[u8; BLOCK]) -> Format {
        let magic = &header[257..263];
        let version = &header[263..265];
        if magic == b"ustar\0" {
            Format::Ustar
        } else if magic == b"ustar " && version == b" \0" {
            Format::Gnu
        } else {
            Format::V7
        }
    }
}

/// Padding after `size` bytes of data.
pub fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// The bytes of a NUL-terminated field.
pub fn cstr(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(n) => &field[..n],
        None => field,
    }
}

/// The checksum of a header block: the sum of its bytes with the checksum field taken as
/// spaces, as unsigned and as signed bytes (old writers used the latter).
pub(crate) fn checksums(header: &[u8; BLOCK]) -> (u64, i64) {
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in header.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    (unsigned, signed)
}

pub(crate) fn verify_checksum(header: &[u8; BLOCK], offset: u64) -> Result<(), TarError> {
    let stored = parse_numeric(&header[148..156], "checksum", offset).ok();
    let (unsigned, signed) = checksums(header);
    match stored {
        Some(s) if s == unsigned || i64::try_from(s).ok() == Some(signed) => Ok(()),
        _ => Err(TarError::BadChecksum {
            offset,
            stored,
            computed: unsigned,
        }),
    }
}

/// Parses an unsigned numeric header field as Go's `archive/tar` does: octal (leading and
/// trailing spaces and NULs trimmed, read up to the first NUL, digits only) or GNU
/// base-256. Negative values are refused.
pub fn parse_numeric(field: &[u8], name: &'static str, offset: u64) -> Result<u64, TarError> {
    let v = parse_signed(field, name, offset)?;
    u64::try_from(v).map_err(|_| bad_field(field, name, offset))
}

pub(crate) fn bad_field(field: &[u8], name: &'static str, offset: u64) -> TarError {
    TarError::BadField {
        offset,
        field: name,
        value: escape(field, 64),
    }
}

/// Parses a signed numeric header field (octal or base-256), as Go's `archive/tar` does.
pub(crate) fn parse_signed(field: &[u8], name: &'static str, offset: u64) -> Result<i64, TarError> {
    let bad = || bad_field(field, name, offset);
    if let Some(&first) = field.first()
        && first & 0x80 != 0
    {
        // Base-256: big-endian two's complement, the first byte's top bit a marker.
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
    // As Go reads octal: leading and trailing spaces and NULs trimmed, then up to the
    // first NUL, then octal digits only.
    let is_pad = |b: &u8| *b == b' ' || *b == 0;
    let start = field.iter().position(|b| !is_pad(b)).unwrap_or(field.len());
    let end = field
        .iter()
        .rposition(|b| !is_pad(b))
        .map_or(start, |e| e + 1);
    let digits = cstr(&field[start..end]);
    let mut v: i64 = 0;
    for &b in digits {
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

/// A PAX decimal value (`size`, `uid`, `gid`): ASCII digits only, at most `i64::MAX`.
pub(crate) fn pax_number(value: &[u8], field: &'static str, offset: u64) -> Result<u64, TarError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(bad_field(value, field, offset));
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| bad_field(value, field, offset))
}

/// Parses PAX records (`LEN KEY=VALUE\n`, `LEN` counting the whole record), refusing
/// what Go's `archive/tar` refuses: a length that is not decimal or runs past the data,
/// a record without `=` or newline, an empty key, a NUL in a key or in a `path`,
/// `linkpath`, `uname` or `gname` value. NUL bytes after the last record are ignored.
pub fn parse_pax(mut data: &[u8], offset: u64) -> Result<Vec<(String, Vec<u8>)>, TarError> {
    let mut out = Vec::new();
    let mut record = 0usize;
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        record += 1;
        let bad = |reason| TarError::BadPax {
            offset,
            record,
            reason,
        };
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("no space after the length"))?;
        let digits = &data[..space];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad("the length is not a decimal number"));
        }
        let len: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("the length is out of range"))?;
        if len <= space + 1 {
            return Err(bad("the length is shorter than the record"));
        }
        if len > data.len() {
            return Err(bad("the length runs past the header's data"));
        }
        if data[len - 1] != b'\n' {
            return Err(bad("the record does not end with a newline"));
        }
        let body = &data[space + 1..len - 1];
        let eq = body
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("no '=' in the record"))?;
        let (key, value) = (&body[..eq], &body[eq + 1..]);
        if key.is_empty() {
            return Err(bad("empty key"));
        }
        if key.contains(&0) {
            return Err(bad("NUL byte in the key"));
        }
        let key = std::str::from_utf8(key).map_err(|_| bad("the key is not UTF-8"))?;
        if matches!(key, "path" | "linkpath" | "uname" | "gname") && value.contains(&0) {
            return Err(bad("NUL byte in a path or a name"));
        }
        out.push((key.to_owned(), value.to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

/// Serialises PAX records (`LEN KEY=VALUE\n`).
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

/// Writes an octal numeric field: zero-padded digits and a NUL filling the field
/// (`%0*o\0`), or `None` if the value does not fit (or the field is empty).
pub fn set_octal(field: &mut [u8], value: u64) -> Option<()> {
    let digits = field.len().checked_sub(1)?;
    let text = format!("{value:0digits$o}");
    if text.len() > digits {
        return None;
    }
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
    Some(())
}

/// Recomputes a header's checksum field, written as GNU tar and Go write it (`%06o\0 `).
pub fn set_checksum(header: &mut [u8; BLOCK]) {
    let (sum, _) = checksums(header);
    // At most 512 * 255 = 0o377000: six digits.
    let text = format!("{sum:06o}");
    header[148..154].copy_from_slice(&text.as_bytes()[text.len().saturating_sub(6)..]);
    header[154] = 0;
    header[155] = b' ';
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: TarError) -> &'static str {
        match e {
            TarError::BadField { field, .. } => field,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn pax_round_trip() {
        let recs = vec![
            ("path".to_owned(), b"a/very/long/path".to_vec()),
            ("SCHILY.xattr.user.x".to_owned(), vec![0, 1, 2, b'\n']),
            ("k".to_owned(), vec![b'x'; 95]),
        ];
        let bytes = write_pax(&recs);
        assert_eq!(parse_pax(&bytes, 0).unwrap(), recs);
    }

    #[test]
    fn pax_lengths_at_digit_boundaries() {
        // Records whose length crosses 9/10, 99/100, 999/1000 with its own digits.
        for n in 0..1100 {
            let recs = vec![("k".to_owned(), vec![b'v'; n])];
            let bytes = write_pax(&recs);
            let (len, _) =
                std::str::from_utf8(&bytes[..bytes.iter().position(|&b| b == b' ').unwrap()])
                    .map(|s| (s.parse::<usize>().unwrap(), ()))
                    .unwrap();
            assert_eq!(len, bytes.len(), "value of {n} bytes");
            assert_eq!(parse_pax(&bytes, 0).unwrap(), recs);
        }
    }

    #[test]
    fn malformed_pax_records_are_refused_with_their_reason() {
        let cases: &[(&[u8], usize, &str)] = &[
            (b"5 a=b", 1, "the record does not end with a newline"),
            (b"99 a=b\n", 1, "the length runs past the header's data"),
            (b"x a=b\n", 1, "the length is not a decimal number"),
            (b"+6 a=b\n", 1, "the length is not a decimal number"),
            (b" 6 a=b\n", 1, "the length is not a decimal number"),
            (b"6a=b\n", 1, "no space after the length"),
            (b"0 a=b\n", 1, "the length is shorter than the record"),
            (b"2 a=b\n", 1, "the length is shorter than the record"),
            (b"6 a=bc", 1, "the record does not end with a newline"),
            (b"6 abc\n", 1, "no '=' in the record"),
            (b"6 =bc\n", 1, "empty key"),
            (b"7 a\0=b\n", 1, "NUL byte in the key"),
            (b"7 \xff=bc\n", 1, "the key is not UTF-8"),
            (b"12 path=a\0b\n", 1, "NUL byte in a path or a name"),
            (b"16 linkpath=a\0b\n", 1, "NUL byte in a path or a name"),
            (
                b"6 a=b\n6 c=d\n99999999999999999999999 x",
                3,
                "the length is out of range",
            ),
            (
                b"6 a=b\n7 c=dxy",
                2,
                "the record does not end with a newline",
            ),
        ];
        for (data, want_record, want_reason) in cases {
            match parse_pax(data, 1024) {
                Err(TarError::BadPax {
                    offset: 1024,
                    record,
                    reason,
                }) => {
                    assert_eq!(
                        (record, reason),
                        (*want_record, *want_reason),
                        "{:?}",
                        String::from_utf8_lossy(data)
                    );
                }
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(data)),
            }
        }
        // NUL in other values is data (xattrs are binary); trailing NULs are ignored.
        assert_eq!(
            parse_pax(b"7 a=\0b\n\0\0\0", 0).unwrap(),
            vec![("a".to_owned(), b"\0b".to_vec())]
        );
    }

    #[test]
    fn numeric_fields() {
        assert_eq!(parse_numeric(b"0000644\0", "mode", 0).unwrap(), 0o644);
        assert_eq!(parse_numeric(b"   644 \0", "mode", 0).unwrap(), 0o644);
        assert_eq!(parse_numeric(b"\0\0\0\0", "mode", 0).unwrap(), 0);
        assert_eq!(parse_numeric(b"", "mode", 0).unwrap(), 0);
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[11] = 5;
        b256[10] = 1;
        assert_eq!(parse_numeric(&b256, "size", 0).unwrap(), 261);
        // 16 GiB, as the tar crate writes it.
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[7] = 4;
        assert_eq!(parse_numeric(&b256, "size", 0).unwrap(), 16 << 30);
        assert_eq!(
            field(parse_numeric(b"0009\0", "mode", 7).unwrap_err()),
            "mode"
        );
        assert_eq!(
            field(parse_numeric(b"12 34\0", "mode", 7).unwrap_err()),
            "mode"
        );
        assert_eq!(
            field(parse_numeric(b"12\t\0", "mode", 7).unwrap_err()),
            "mode"
        );
        // Go reads up to the first NUL once padding is trimmed.
        assert_eq!(parse_numeric(b" 12\0xy\0", "mode", 7).unwrap(), 0o12);
        assert_eq!(field(parse_numeric(b"-12\0", "uid", 7).unwrap_err()), "uid");
        // Negative base-256.
        let neg = [0xffu8; 12];
        assert_eq!(field(parse_numeric(&neg, "size", 0).unwrap_err()), "size");
        assert_eq!(parse_signed(&neg, "mtime", 0).unwrap(), -1);
        // Base-256 over 63 bits.
        let mut huge = [0u8; 12];
        huge[0] = 0x80;
        huge[4] = 0x80;
        assert_eq!(field(parse_numeric(&huge, "size", 0).unwrap_err()), "size");
        let mut huge = [0xffu8; 12];
        huge[0] = 0x80;
        assert_eq!(field(parse_numeric(&huge, "size", 0).unwrap_err()), "size");
        // Octal over 63 bits (a 30-digit field).
        assert_eq!(
            field(parse_numeric(&[b'7'; 30], "size", 0).unwrap_err()),
            "size"
        );
        match parse_numeric(b"12x\0", "gid", 99).unwrap_err() {
            TarError::BadField {
                offset: 99,
                field: "gid",
                value,
            } => assert_eq!(value, "12x\\x00"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn pax_numbers() {
        assert_eq!(pax_number(b"123", "size", 0).unwrap(), 123);
        assert_eq!(
            pax_number(b"9223372036854775807", "size", 0).unwrap(),
            i64::MAX as u64
        );
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b" 1",
            b"1 ",
            b"0x10",
            b"9223372036854775808",
            b"99999999999999999999999",
        ] {
            assert_eq!(field(pax_number(bad, "size", 0).unwrap_err()), "size");
        }
    }

    #[test]
    fn octal_and_checksum_writers() {
        let mut f = [0u8; 12];
        set_octal(&mut f, 0o777).unwrap();
        assert_eq!(&f, b"00000000777\0");
        assert!(set_octal(&mut f, 1 << 40).is_none());
        assert!(set_octal(&mut [], 0).is_none());
        assert!(set_octal(&mut [0u8; 1], 0).is_none());
        let mut h = [0u8; BLOCK];
        h[0] = b'a';
        set_checksum(&mut h);
        assert_eq!(&h[148..156], b"000541\0 ");
        verify_checksum(&h, 0).unwrap();
        // Over the maximum sum, still six digits.
        let mut h = [0xffu8; BLOCK];
        set_checksum(&mut h);
        verify_checksum(&h, 0).unwrap();
    }
}
