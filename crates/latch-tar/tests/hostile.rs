//! Malformed and hostile archives: each refused with the error that names it, none read
//! further than it must, none makes the reader panic.

mod common;

use std::io::{Cursor, Read};

use common::{Lazy, Tar, error, header, read_all, with};
use latch_tar::{BLOCK, Limits, Seekable, Stream, TarError, TarReader, flag};

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn a_64_mib_pax_header_is_refused_before_its_data_is_read() {
    // The first entry is a PAX header declaring 64 MiB, which follow (made on demand:
    // the test never holds them either).
    let size = 64u64 << 20;
    let h = header(b"PaxHeaders.0/big", flag::PAX, size);
    let (input, served) = Lazy::new(h.to_vec(), size, b'1');
    let mut tar = TarReader::new(Stream(input), limits());
    let e = tar.next_entry().unwrap_err();
    match e {
        TarError::ExtensionTooLarge {
            offset: 0,
            what: "PAX header",
            size: s,
            max,
        } => {
            assert_eq!(s, size);
            assert_eq!(max, 1 << 20);
        }
        other => panic!("{other}"),
    }
    // Only the header block was read: not one byte of the 64 MiB.
    assert_eq!(served.get(), BLOCK as u64);
    // And the reader stays stopped.
    assert!(matches!(
        tar.next_entry(),
        Err(TarError::AfterError { offset: 0 })
    ));
    assert_eq!(served.get(), BLOCK as u64);
}

#[test]
fn a_64_mib_gnu_long_name_is_refused_before_its_data_is_read() {
    let size = 64u64 << 20;
    for (flag, what) in [
        (flag::GNU_LONGNAME, "GNU long name"),
        (flag::GNU_LONGLINK, "GNU long link"),
    ] {
        let h = header(b"././@LongLink", flag, size);
        let (input, served) = Lazy::new(h.to_vec(), size, b'a');
        let mut tar = TarReader::new(Stream(input), limits());
        match tar.next_entry().unwrap_err() {
            TarError::ExtensionTooLarge {
                what: w,
                size: s,
                max,
                ..
            } => assert_eq!((w, s, max), (what, size, 4097)),
            other => panic!("{other}"),
        }
        assert_eq!(served.get(), BLOCK as u64);
    }
}

#[test]
fn the_reader_never_reads_more_than_the_extension_bound_plus_a_block() {
    // A PAX header just under the bound is read (it must be), and then nothing more
    // than the next header block: the reader asks for no more than the bound plus the
    // blocks around it.
    let bound = 64 * 1024;
    let limits = Limits {
        max_extension_bytes: bound,
        ..Limits::default()
    };
    let record_len = bound - BLOCK; // the header block counts too
    // One record filling it exactly: "LEN k=vvv…\n".
    let digits = record_len.to_string().len();
    let value = vec![b'v'; record_len - digits - 4];
    let mut data = format!("{record_len} k=").into_bytes();
    data.extend_from_slice(&value);
    data.push(b'\n');
    assert_eq!(data.len(), record_len);
    let mut prefix = Tar::new().pax_raw(flag::PAX, &data).0;
    // Then a file declaring 1 GiB, whose data never comes (lazy, counted).
    prefix.extend_from_slice(&header(b"big", b'0', 1 << 30));
    let (input, served) = Lazy::new(prefix.clone(), 1 << 30, 0);
    let mut tar = TarReader::new(Stream(input), limits);
    let entry = tar.next_entry().unwrap().unwrap();
    assert_eq!(entry.pax, vec![("k".to_owned(), value)]);
    assert_eq!(served.get(), prefix.len() as u64);
    assert!(served.get() <= (bound + 2 * BLOCK) as u64);
    // One byte more and it is refused, having read its header only.
    let h = header(b"PaxHeaders.0/x", flag::PAX, record_len as u64 + 1);
    let (input, served) = Lazy::new(h.to_vec(), record_len as u64 + 1, b'v');
    let mut tar = TarReader::new(Stream(input), limits);
    match tar.next_entry().unwrap_err() {
        TarError::ExtensionTooLarge { size, max, .. } => {
            assert_eq!((size, max), ((bound + 1) as u64, bound as u64))
        }
        other => panic!("{other}"),
    }
    assert_eq!(served.get(), BLOCK as u64);
}

#[test]
fn truncated_header() {
    let t = Tar::new().file("a", b"hello").end();
    match error(&t[..300], limits()) {
        TarError::Truncated {
            offset: 300,
            reading: "a header",
        } => {}
        other => panic!("{other}"),
    }
    // In the second header.
    match error(&t[..1024 + 10], limits()) {
        TarError::Truncated {
            offset: 1034,
            reading: "a header",
        } => {}
        other => panic!("{other}"),
    }
    // In the second zero block of the end marker.
    let n = t.len() - 100;
    assert!(matches!(
        error(&t[..n], limits()),
        TarError::Truncated {
            reading: "a header",
            ..
        }
    ));
}

#[test]
fn truncated_extension_data() {
    let t = Tar::new()
        .pax(flag::PAX, &[("path", b"some/long/name")])
        .file("a", b"x")
        .end();
    match error(&t[..BLOCK + 10], limits()) {
        TarError::Truncated {
            offset,
            reading: "extension data",
        } => assert_eq!(offset, BLOCK as u64 + 10),
        other => panic!("{other}"),
    }
    // Its padding missing.
    match error(&t[..BLOCK + 100], limits()) {
        TarError::Truncated {
            reading: "extension data",
            ..
        } => {}
        other => panic!("{other}"),
    }
    // Extension headers, then the end of the stream or the end marker: no entry.
    let t = Tar::new().pax(flag::PAX, &[("path", b"x")]).0;
    assert!(matches!(
        error(&t, limits()),
        TarError::ExtensionWithoutEntry { offset: 1024 }
    ));
    let t = Tar::new().gnu_long(flag::GNU_LONGNAME, b"x").end();
    assert!(matches!(
        error(&t, limits()),
        TarError::ExtensionWithoutEntry { offset: 1024 }
    ));
    // A global header may end an archive.
    let t = Tar::new()
        .file("a", b"")
        .pax(flag::PAX_GLOBAL, &[("comment", b"end")])
        .end();
    assert_eq!(read_all(&t, limits()).unwrap().len(), 1);
}

#[test]
fn entry_data_past_the_end_of_a_stream() {
    // Declares 10,000 bytes, holds 100.
    let mut t = header(b"big", b'0', 10_000).to_vec();
    t.extend_from_slice(&[7u8; 100]);
    // Read: the data reader fails, naming how much is missing.
    let mut tar = TarReader::new(Stream(&t[..]), limits());
    tar.next_entry().unwrap().unwrap();
    let mut sink = Vec::new();
    let e = tar.data().read_to_end(&mut sink).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(e.to_string().contains("9900 bytes missing"), "{e}");
    assert_eq!(sink.len(), 100);
    // Skipped: the next entry is not there.
    let mut tar = TarReader::new(Stream(&t[..]), limits());
    tar.next_entry().unwrap().unwrap();
    match tar.next_entry().unwrap_err() {
        TarError::Truncated {
            offset: 612,
            reading: "entry data",
        } => {}
        other => panic!("{other}"),
    }
    // Data complete, padding missing.
    let t = Tar::new().file("a", b"abc").0;
    match error(&t[..BLOCK + 3], limits()) {
        TarError::Truncated {
            reading: "padding", ..
        } => {}
        other => panic!("{other}"),
    }
}

#[test]
fn entry_data_past_the_end_of_a_file() {
    // Seeking over the data must not run past the end of the file unnoticed.
    let mut t = Tar::new().file("first", b"ok").0;
    t.extend_from_slice(&header(b"big", b'0', 1 << 32));
    t.extend_from_slice(&[1u8; 1000]);
    let mut tar = TarReader::new(Seekable(Cursor::new(&t)), limits());
    assert_eq!(tar.next_entry().unwrap().unwrap().name, b"first");
    let big = tar.next_entry().unwrap().unwrap();
    assert_eq!(big.size, 1 << 32);
    match tar.next_entry().unwrap_err() {
        TarError::Truncated {
            offset,
            reading: "entry data",
        } => assert_eq!(offset, t.len() as u64),
        other => panic!("{other}"),
    }
    // An archive ending right after an entry's padding (no end marker) is complete.
    let t = Tar::new().file("a", b"abc").file("b", b"def").0;
    let mut tar = TarReader::new(Seekable(Cursor::new(&t)), limits());
    assert!(tar.next_entry().unwrap().is_some());
    assert!(tar.next_entry().unwrap().is_some());
    assert!(tar.next_entry().unwrap().is_none());
}

#[test]
fn bad_checksums() {
    let t = Tar::new().file("a", b"hello").end();
    // One byte of the name changed.
    let mut bad = t.clone();
    bad[0] = b'b';
    match error(&bad, limits()) {
        TarError::BadChecksum {
            offset: 0,
            stored: Some(stored),
            computed,
        } => assert_eq!(computed, stored + 1),
        other => panic!("{other}"),
    }
    // The checksum field itself garbage.
    let mut bad = t.clone();
    bad[148..156].copy_from_slice(b"zzzzzzz\0");
    assert!(matches!(
        error(&bad, limits()),
        TarError::BadChecksum { stored: None, .. }
    ));
    // In the second entry: its offset.
    let mut t = Tar::new().file("a", b"hello").file("b", b"x").end();
    t[1024 + 1] = b'!';
    assert!(matches!(
        error(&t, limits()),
        TarError::BadChecksum { offset: 1024, .. }
    ));
    // Not a tar at all.
    assert!(matches!(
        error(&[b'z'; 4096], limits()),
        TarError::BadChecksum { offset: 0, .. }
    ));
    // Old writers summed signed bytes: accepted.
    let mut h = header("é".as_bytes(), b'0', 0);
    let signed: i64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                i64::from(b as i8)
            }
        })
        .sum();
    latch_tar::set_octal(&mut h[148..155], signed as u64).unwrap();
    let t = Tar::new().raw(&h, b"").end();
    assert_eq!(read_all(&t, limits()).unwrap().len(), 1);
}

#[test]
fn bad_octal_fields() {
    let base = header(b"a", b'0', 0);
    for (at, bytes, field) in [
        (100, &b"0000009\0"[..], "mode"),
        (108, b"12x\0", "uid"),
        (116, b"-1\0", "gid"),
        (124, b"1 2\0", "size"),
        (136, b"0o777\0", "mtime"),
    ] {
        let t = Tar::new().raw(&with(base, at, bytes), b"").end();
        match error(&t, limits()) {
            TarError::BadField {
                offset: 0,
                field: f,
                value,
            } => {
                assert_eq!(f, field);
                assert!(!value.is_empty());
            }
            other => panic!("{field}: {other}"),
        }
    }
    // Device numbers, on devices.
    let dev = with(header(b"dev", flag::CHAR, 0), 329, b"9\0");
    assert!(matches!(
        error(&Tar::new().raw(&dev, b"").end(), limits()),
        TarError::BadField {
            field: "devmajor",
            ..
        }
    ));
    // A size in an extension header.
    let pax = with(header(b"x", flag::PAX, 0), 124, b"12345678x\0");
    assert!(matches!(
        error(&Tar::new().raw(&pax, b"").end(), limits()),
        TarError::BadField { field: "size", .. }
    ));
    // A GNU header's atime.
    let mut gnu = header(b"g", b'0', 0);
    gnu[257..265].copy_from_slice(b"ustar  \0");
    let gnu = with(gnu, 345, b"1x\0");
    assert!(matches!(
        error(&Tar::new().raw(&gnu, b"").end(), limits()),
        TarError::BadField { field: "atime", .. }
    ));
}

#[test]
fn bad_base_256_fields() {
    // -1 as a size.
    let neg = with(header(b"a", b'0', 0), 124, &[0xff; 12]);
    assert!(matches!(
        error(&Tar::new().raw(&neg, b"").end(), limits()),
        TarError::BadField { field: "size", .. }
    ));
    // Over 63 bits.
    let mut huge = [0u8; 12];
    huge[0] = 0x80;
    huge[4] = 0x80;
    let h = with(header(b"a", b'0', 0), 124, &huge);
    assert!(matches!(
        error(&Tar::new().raw(&h, b"").end(), limits()),
        TarError::BadField { field: "size", .. }
    ));
    // A valid one: 600 bytes.
    let mut ok = [0u8; 12];
    ok[0] = 0x80;
    ok[10] = 2;
    ok[11] = 88;
    let h = with(header(b"a", b'0', 0), 124, &ok);
    let t = Tar::new().raw(&h, &[5u8; 600]).end();
    let entries = read_all(&t, limits()).unwrap();
    assert_eq!(entries[0].1, vec![5u8; 600]);
    // Negative uid.
    let h = with(header(b"a", b'0', 0), 108, &[0xff; 8]);
    assert!(matches!(
        error(&Tar::new().raw(&h, b"").end(), limits()),
        TarError::BadField { field: "uid", .. }
    ));
}

#[test]
fn negative_and_huge_sizes() {
    for (value, why) in [
        (&b"-1"[..], "negative"),
        (b"9223372036854775808", "over i64::MAX"),
        (b"18446744073709551615", "u64::MAX"),
        (b"99999999999999999999999", "over u64"),
        (b"12a", "not decimal"),
    ] {
        let t = Tar::new()
            .pax(flag::PAX, &[("size", value)])
            .file("a", b"")
            .end();
        match error(&t, limits()) {
            TarError::BadField {
                offset: 1024,
                field: "size",
                ..
            } => {}
            other => panic!("{why}: {other}"),
        }
    }
    // The largest size the format allows, in base-256, is accepted as a declaration;
    // reading it finds the stream short.
    let mut max = [0u8; 12];
    max[0] = 0x80;
    max[4..].copy_from_slice(&(i64::MAX as u64).to_be_bytes());
    let h = with(header(b"a", b'0', 0), 124, &max);
    let t = Tar::new().raw(&h, b"").0;
    let mut tar = TarReader::new(Stream(&t[..]), limits());
    assert_eq!(tar.next_entry().unwrap().unwrap().size, i64::MAX as u64);
    assert!(matches!(
        tar.next_entry(),
        Err(TarError::Truncated {
            reading: "entry data",
            ..
        })
    ));
    // Over the bound set by the caller.
    let lim = Limits {
        max_entry_bytes: 1000,
        ..Limits::default()
    };
    let t = Tar::new()
        .raw(&header(b"big", b'0', 1001), &[0; 1001])
        .end();
    match error(&t, lim) {
        TarError::EntryTooLarge {
            offset: 0,
            name,
            size: 1001,
            max: 1000,
        } => assert_eq!(name, "big"),
        other => panic!("{other}"),
    }
    // A directory's size field is not a data size.
    let t = Tar::new()
        .raw(&header(b"d/", flag::DIR, 1 << 32), b"")
        .end();
    let entries = read_all(&t, lim).unwrap();
    assert!(!entries[0].0.has_data());
}

#[test]
fn pax_records_with_bad_lengths() {
    for (data, reason) in [
        (
            &b"99 path=x\n"[..],
            "the length runs past the header's data",
        ),
        (b"8 path=x\n", "the record does not end with a newline"),
        (b"x path=x\n", "the length is not a decimal number"),
        (b"2 path=x\n", "the length is shorter than the record"),
        (b"9 pathxy\n", "no '=' in the record"),
        (b"path=x\n", "no space after the length"),
    ] {
        let t = Tar::new().pax_raw(flag::PAX, data).file("a", b"").end();
        match error(&t, limits()) {
            TarError::BadPax {
                offset: 0,
                record: 1,
                reason: r,
            } => assert_eq!(r, reason, "{:?}", String::from_utf8_lossy(data)),
            other => panic!("{other}"),
        }
    }
    // In a global header too, and in the second record.
    let t = Tar::new()
        .pax_raw(flag::PAX_GLOBAL, b"12 comment=\n99 x")
        .file("a", b"")
        .end();
    assert!(matches!(
        error(&t, limits()),
        TarError::BadPax { record: 2, .. }
    ));
}

#[test]
fn oversized_pax_headers_and_long_names() {
    // 2 MiB of xattr against the default 1 MiB.
    let big = vec![b'x'; 2 << 20];
    let t = Tar::new()
        .pax(flag::PAX, &[("SCHILY.xattr.user.big", &big)])
        .file("a", b"")
        .end();
    assert!(matches!(
        error(&t, limits()),
        TarError::ExtensionTooLarge {
            what: "PAX header",
            ..
        }
    ));
    // A long name over the path bound.
    let lim = Limits {
        max_path_bytes: 100,
        ..Limits::default()
    };
    let t = Tar::new()
        .gnu_long(flag::GNU_LONGNAME, &[b'n'; 101])
        .file("a", b"")
        .end();
    assert!(matches!(
        error(&t, lim),
        TarError::ExtensionTooLarge {
            what: "GNU long name",
            size: 102,
            max: 101,
            ..
        }
    ));
    // Exactly at the bound: read.
    let t = Tar::new()
        .gnu_long(flag::GNU_LONGNAME, &[b'n'; 100])
        .file("a", b"")
        .end();
    assert_eq!(read_all(&t, lim).unwrap()[0].0.name, vec![b'n'; 100]);
    // A PAX path or linkpath over it.
    let t = Tar::new()
        .pax(flag::PAX, &[("path", &[b'p'; 101])])
        .file("a", b"")
        .end();
    assert!(matches!(
        error(&t, lim),
        TarError::PathTooLong {
            offset: 1024,
            what: "path",
            len: 101,
            max: 100
        }
    ));
    let t = Tar::new()
        .pax(flag::PAX, &[("linkpath", &[b'p'; 101])])
        .raw(&header(b"l", flag::SYMLINK, 0), b"")
        .end();
    assert!(matches!(
        error(&t, lim),
        TarError::PathTooLong {
            what: "link target",
            ..
        }
    ));
    // A ustar prefix and name over it.
    let h = with(header(&[b'n'; 100], b'0', 0), 345, &[b'p'; 20]);
    assert!(matches!(
        error(&Tar::new().raw(&h, b"").end(), lim),
        TarError::PathTooLong { len: 121, .. }
    ));
}

#[test]
fn extension_headers_before_one_entry_are_bounded_together() {
    let lim = Limits {
        max_extension_bytes: 3000,
        ..Limits::default()
    };
    // A long name (512 + 1001) then a PAX header (512 + over 1000): over 3000 together.
    let t = Tar::new()
        .gnu_long(flag::GNU_LONGNAME, &[b'n'; 1000])
        .pax(flag::PAX, &[("SCHILY.xattr.user.a", &[b'v'; 1000])])
        .file("a", b"")
        .end();
    match error(&t, lim) {
        TarError::ExtensionTooLarge {
            offset: 1536,
            what: "extension headers before one entry",
            size,
            max: 3000,
        } => assert!(size > 3000),
        other => panic!("{other}"),
    }
    // Each alone is fine.
    let t = Tar::new()
        .pax(flag::PAX, &[("SCHILY.xattr.user.a", &[b'v'; 1000])])
        .file("a", b"")
        .end();
    assert_eq!(read_all(&t, lim).unwrap().len(), 1);
    // Empty global headers cannot pile up without bound either.
    let mut t = Tar::new();
    for _ in 0..10 {
        t = t.pax_raw(flag::PAX_GLOBAL, b"");
    }
    let t = t.file("a", b"").end();
    assert!(matches!(error(&t, lim), TarError::ExtensionTooLarge { .. }));
}

#[test]
fn global_headers() {
    // A comment: kept, not applied to entries.
    let t = Tar::new()
        .pax(flag::PAX_GLOBAL, &[("comment", b"abc")])
        .file("a", b"1")
        .file("b", b"2")
        .end();
    let mut tar = TarReader::new(Stream(&t[..]), limits());
    let a = tar.next_entry().unwrap().unwrap();
    assert_eq!(a.name, b"a");
    assert!(a.pax.is_empty());
    assert_eq!(a.extensions.len(), 1);
    assert_eq!(
        tar.globals(),
        &[("comment".to_owned(), b"abc".to_vec())][..]
    );
    let b = tar.next_entry().unwrap().unwrap();
    assert!(b.extensions.is_empty());
    // Records GNU tar would apply to every later entry and Go ignores: refused.
    for key in [
        "path",
        "size",
        "uid",
        "mtime",
        "linkpath",
        "SCHILY.xattr.security.capability",
        "GNU.sparse.major",
    ] {
        let t = Tar::new()
            .pax(flag::PAX_GLOBAL, &[(key, b"1")])
            .file("a", b"")
            .end();
        match error(&t, limits()) {
            TarError::Unsupported { offset: 0, what } => assert!(what.contains(key), "{what}"),
            other => panic!("{key}: {other}"),
        }
    }
    // Between a local extension header and its entry.
    let t = Tar::new()
        .pax(flag::PAX, &[("path", b"x")])
        .pax(flag::PAX_GLOBAL, &[("comment", b"c")])
        .file("a", b"")
        .end();
    assert!(matches!(
        error(&t, limits()),
        TarError::Unsupported { offset: 1024, .. }
    ));
    // All global headers together are bounded.
    let lim = Limits {
        max_extension_bytes: 4096,
        ..Limits::default()
    };
    let mut t = Tar::new();
    for i in 0..5 {
        t = t
            .pax(flag::PAX_GLOBAL, &[("comment", &[b'c'; 400])])
            .file(&format!("f{i}"), b"");
    }
    match error(&t.end(), lim) {
        TarError::ExtensionTooLarge {
            what: "global PAX headers",
            max: 4096,
            ..
        } => {}
        other => panic!("{other}"),
    }
}

#[test]
fn ambiguous_extension_headers() {
    // Two PAX headers: Go keeps the second only, GNU tar merges them.
    let t = Tar::new()
        .pax(flag::PAX, &[("path", b"one")])
        .pax(flag::PAX, &[("mtime", b"1")])
        .file("a", b"")
        .end();
    assert!(matches!(
        error(&t, limits()),
        TarError::Unsupported { offset: 1024, .. }
    ));
    // Two long names.
    let t = Tar::new()
        .gnu_long(flag::GNU_LONGNAME, b"one")
        .gnu_long(flag::GNU_LONGNAME, b"two")
        .file("a", b"")
        .end();
    assert!(matches!(
        error(&t, limits()),
        TarError::Unsupported { offset: 1024, .. }
    ));
    // A long name and a PAX path: Go takes the long name, others the path.
    let t = Tar::new()
        .gnu_long(flag::GNU_LONGNAME, b"one")
        .pax(flag::PAX, &[("path", b"two")])
        .file("a", b"")
        .end();
    assert!(matches!(
        error(&t, limits()),
        TarError::Unsupported { offset: 2048, .. }
    ));
    let t = Tar::new()
        .gnu_long(flag::GNU_LONGLINK, b"one")
        .pax(flag::PAX, &[("linkpath", b"two")])
        .raw(&header(b"l", flag::SYMLINK, 0), b"")
        .end();
    assert!(matches!(error(&t, limits()), TarError::Unsupported { .. }));
    // A long name and a PAX header without path: both apply.
    let t = Tar::new()
        .gnu_long(flag::GNU_LONGNAME, b"one")
        .pax(flag::PAX, &[("uid", b"7")])
        .file("a", b"")
        .end();
    let e = &read_all(&t, limits()).unwrap()[0].0;
    assert_eq!((&e.name[..], e.uid), (&b"one"[..], 7));
    // An old-style regular entry named like a directory with data: Go reads no data.
    let h = header(b"d/", flag::REGULAR_OLD, 10);
    let t = Tar::new().raw(&h, &[0; 10]).end();
    assert!(matches!(
        error(&t, limits()),
        TarError::Unsupported { offset: 0, .. }
    ));
}

#[test]
fn sparse_and_multi_volume_entries() {
    for f in [b'S', b'M', b'V', b'N', b'D'] {
        let t = Tar::new().raw(&header(b"s", f, 0), b"").end();
        match error(&t, limits()) {
            TarError::Unsupported { offset: 0, what } => {
                assert!(what.contains(f as char), "{what}")
            }
            other => panic!("{other}"),
        }
    }
    let t = Tar::new()
        .pax(
            flag::PAX,
            &[("GNU.sparse.major", b"1"), ("GNU.sparse.minor", b"0")],
        )
        .file("s", b"")
        .end();
    match error(&t, limits()) {
        TarError::Unsupported { offset: 1024, what } => assert!(what.contains("sparse")),
        other => panic!("{other}"),
    }
}

#[test]
fn entry_count_bound() {
    let mut t = Tar::new();
    for i in 0..11 {
        t = t.file(&format!("f{i}"), b"x");
    }
    let t = t.end();
    let lim = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    match error(&t, lim) {
        TarError::TooManyEntries { offset, max: 10 } => assert_eq!(offset, 10 * 1024),
        other => panic!("{other}"),
    }
    assert_eq!(
        read_all(
            &t,
            Limits {
                max_entries: 11,
                ..lim
            }
        )
        .unwrap()
        .len(),
        11
    );
}

#[test]
fn end_of_archive_markers() {
    // One zero block, then data: corrupt (as Go reads it).
    let mut t = Tar::new().file("a", b"x").0;
    t.extend_from_slice(&[0u8; BLOCK]);
    t.extend_from_slice(&header(b"hidden", b'0', 0));
    match error(&t, limits()) {
        TarError::BadEndOfArchive { offset } => assert_eq!(offset, 1536),
        other => panic!("{other}"),
    }
    // One zero block, then the end of the stream: accepted.
    let mut t = Tar::new().file("a", b"x").0;
    t.extend_from_slice(&[0u8; BLOCK]);
    assert_eq!(read_all(&t, limits()).unwrap().len(), 1);
    // Whatever follows the two zero blocks is not read.
    let mut t = Tar::new().file("a", b"x").end();
    t.extend_from_slice(&[0xaa; 3000]);
    let mut tar = TarReader::new(Stream(&t[..]), limits());
    assert!(tar.next_entry().unwrap().is_some());
    assert!(tar.next_entry().unwrap().is_none());
    assert!(tar.next_entry().unwrap().is_none());
    assert_eq!(tar.position(), 2048);
    let mut rest = Vec::new();
    tar.into_inner().read_to_end(&mut rest).unwrap();
    assert_eq!(rest.len(), 3000);
}

#[test]
fn errors_stop_the_reader() {
    let mut t = Tar::new().file("a", b"x").file("b", b"y").end();
    t[1024] ^= 1;
    let mut tar = TarReader::new(Stream(&t[..]), limits());
    assert!(tar.next_entry().unwrap().is_some());
    assert!(matches!(
        tar.next_entry(),
        Err(TarError::BadChecksum { offset: 1024, .. })
    ));
    assert!(matches!(
        tar.next_entry(),
        Err(TarError::AfterError { offset: 1024 })
    ));
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_archives_never_panic() {
    let base = Tar::new()
        .pax(
            flag::PAX,
            &[("path", b"a/long/path"), ("SCHILY.xattr.user.x", b"v")],
        )
        .file("x", b"hello world")
        .gnu_long(flag::GNU_LONGNAME, &[b'n'; 150])
        .file("y", &[3u8; 700])
        .raw(&header(b"dir/", flag::DIR, 0), b"")
        .raw(&header(b"link", flag::SYMLINK, 0), b"")
        .pax(flag::PAX_GLOBAL, &[("comment", b"c")])
        .file("z", b"")
        .end();
    assert_eq!(read_all(&base, limits()).unwrap().len(), 5);
    let lim = Limits {
        max_extension_bytes: 4096,
        max_path_bytes: 256,
        max_entries: 64,
        max_entry_bytes: 1 << 20,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let headers: Vec<usize> = (0..base.len() / BLOCK).map(|i| i * BLOCK).collect();
    for round in 0..10_000 {
        let mut t = base.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(t.len());
            t[at] = match rng.below(4) {
                0 => 0,
                1 => 0xff,
                2 => b"0123456789 x\n="[rng.below(14)],
                _ => rng.next() as u8,
            };
        }
        if round % 2 == 0 {
            // Keep every header's checksum right, so that the fields behind it are
            // reached.
            for &h in &headers {
                let block: &mut [u8; BLOCK] = (&mut t[h..h + BLOCK]).try_into().unwrap();
                if block.iter().any(|&b| b != 0) {
                    latch_tar::set_checksum(block);
                }
            }
        }
        if round % 3 == 0 {
            let n = rng.below(t.len());
            t.truncate(n);
        }
        // Stream and seekable inputs alike: any result but a panic.
        let _ = read_all(&t, lim);
        let mut tar = TarReader::new(Seekable(Cursor::new(&t)), lim);
        while let Ok(Some(_)) = tar.next_entry() {}
    }
}
