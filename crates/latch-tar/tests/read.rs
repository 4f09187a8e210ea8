//! Well-formed archives, as tar writers make them, read back entry by entry.

mod common;

use std::io::{Cursor, Read};

use common::{Tar, header, read_all, with};
use latch_tar::{BLOCK, EntryKind, Format, Limits, Seekable, Stream, TarReader, flag};

#[test]
fn archives_written_by_the_tar_crate() {
    let long_name = format!("{}/file.txt", "d".repeat(150));
    let long_target = format!("/{}", "t".repeat(130));
    let split_name = format!("{}/{}", "p".repeat(120), "n".repeat(60));
    let mut b = tar::Builder::new(Vec::new());
    // A directory, GNU header.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "dir/", std::io::empty()).unwrap();
    // A long name: a GNU long-name header first.
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o640);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_size(5);
    h.set_mtime(1_600_000_000);
    h.as_gnu_mut().unwrap().set_atime(1_600_000_001);
    h.as_gnu_mut().unwrap().set_ctime(1_600_000_002);
    b.append_data(&mut h, &long_name, &b"hello"[..]).unwrap();
    // A symlink to a long target: a GNU long-link header.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "link", &long_target).unwrap();
    // A hard link.
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "hard", "dir/x").unwrap();
    // PAX records (an xattr and a path) before a ustar entry.
    b.append_pax_extensions([
        ("SCHILY.xattr.user.k", &b"v\0w"[..]),
        ("path", b"pax/path"),
        ("uname", b"someone"),
    ])
    .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_path("ignored").unwrap();
    h.set_size(3);
    h.set_cksum();
    b.append(&h, &b"abc"[..]).unwrap();
    // A name split into the ustar prefix and name fields.
    let mut h = tar::Header::new_ustar();
    h.set_path(&split_name).unwrap();
    h.set_size(600);
    h.set_cksum();
    b.append(&h, &[9u8; 600][..]).unwrap();
    // A character device.
    let mut h = tar::Header::new_ustar();
    h.set_path("dev/null").unwrap();
    h.set_entry_type(tar::EntryType::Char);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_size(0);
    h.set_cksum();
    b.append(&h, std::io::empty()).unwrap();
    // A v7 header.
    let mut h = tar::Header::new_old();
    h.set_path("old").unwrap();
    h.set_size(2);
    h.set_cksum();
    b.append(&h, &b"v7"[..]).unwrap();
    let bytes = b.into_inner().unwrap();

    let entries = read_all(&bytes, Limits::default()).unwrap();
    let names: Vec<String> = entries
        .iter()
        .map(|(e, _)| String::from_utf8_lossy(&e.name).into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "dir/",
            long_name.as_str(),
            "link",
            "hard",
            "pax/path",
            split_name.as_str(),
            "dev/null",
            "old"
        ]
    );
    let (dir, _) = &entries[0];
    assert_eq!(
        (dir.kind(), dir.format, dir.mode),
        (EntryKind::Dir, Format::Gnu, 0o755)
    );
    let (long, data) = &entries[1];
    assert_eq!(data, b"hello");
    assert_eq!(long.kind(), EntryKind::File);
    assert_eq!((long.uid, long.gid, long.mode), (1000, 1001, 0o640));
    assert_eq!(long.mtime, "1600000000");
    assert_eq!(long.atime.as_deref(), Some("1600000001"));
    assert_eq!(long.ctime.as_deref(), Some("1600000002"));
    assert_eq!(long.extensions.len(), 1);
    assert_eq!(long.extensions[0].header[156], flag::GNU_LONGNAME);
    let (link, _) = &entries[2];
    assert_eq!(link.kind(), EntryKind::Symlink);
    assert_eq!(link.link, long_target.as_bytes());
    let (hard, _) = &entries[3];
    assert_eq!(
        (hard.kind(), &hard.link[..]),
        (EntryKind::HardLink, &b"dir/x"[..])
    );
    let (pax, data) = &entries[4];
    assert_eq!(data, b"abc");
    assert_eq!(pax.format, Format::Pax);
    assert_eq!(pax.uname, b"someone");
    assert_eq!(
        pax.pax,
        vec![
            ("SCHILY.xattr.user.k".to_owned(), b"v\0w".to_vec()),
            ("path".to_owned(), b"pax/path".to_vec()),
            ("uname".to_owned(), b"someone".to_vec()),
        ]
    );
    let (split, data) = &entries[5];
    assert_eq!((split.format, data.len()), (Format::Ustar, 600));
    let (dev, _) = &entries[6];
    assert_eq!(
        (dev.kind(), dev.dev_major, dev.dev_minor),
        (EntryKind::CharDevice, 1, 3)
    );
    let (old, data) = &entries[7];
    assert_eq!((old.format, &data[..]), (Format::V7, &b"v7"[..]));
}

#[test]
fn data_read_in_part_is_skipped() {
    let t = Tar::new()
        .file("a", &[1u8; 1000])
        .file("b", &[2u8; 10])
        .end();
    for seekable in [false, true] {
        let mut tar: TarReader<Box<dyn latch_tar::TarInput>> = if seekable {
            TarReader::new(
                Box::new(Seekable(Cursor::new(t.clone()))),
                Limits::default(),
            )
        } else {
            TarReader::new(Box::new(Stream(Cursor::new(t.clone()))), Limits::default())
        };
        let a = tar.next_entry().unwrap().unwrap();
        assert_eq!(tar.position(), BLOCK as u64);
        let mut data = tar.data();
        assert_eq!(data.remaining(), 1000);
        let mut three = [0u8; 3];
        data.read_exact(&mut three).unwrap();
        assert_eq!((three, data.remaining()), ([1, 1, 1], 997));
        assert_eq!(a.size, 1000);
        let b = tar.next_entry().unwrap().unwrap();
        assert_eq!(b.name, b"b");
        assert_eq!(b.offset, 1536);
        let mut rest = Vec::new();
        tar.data().read_to_end(&mut rest).unwrap();
        assert_eq!(rest, [2u8; 10]);
        assert!(tar.next_entry().unwrap().is_none(), "seekable: {seekable}");
    }
}

#[test]
fn ends_of_archives() {
    // No end marker at all: the end of the stream on a header boundary.
    let t = Tar::new().file("a", b"x").0;
    assert_eq!(read_all(&t, Limits::default()).unwrap().len(), 1);
    // Empty.
    assert!(read_all(&[], Limits::default()).unwrap().is_empty());
    assert!(
        read_all(&[0u8; 1024], Limits::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn empty_extension_values_do_not_apply() {
    // As Go reads them: an empty PAX path or an empty long name leaves the header's.
    let t = Tar::new()
        .pax(flag::PAX, &[("path", b""), ("uid", b"")])
        .raw(&with(header(b"name", b'0', 0), 108, b"0000012\0"), b"")
        .gnu_long(flag::GNU_LONGNAME, b"")
        .file("other", b"")
        .end();
    let entries = read_all(&t, Limits::default()).unwrap();
    assert_eq!(
        (&entries[0].0.name[..], entries[0].0.uid),
        (&b"name"[..], 0o12)
    );
    assert_eq!(entries[1].0.name, b"other");
}

#[test]
fn old_style_directories() {
    // A NUL type flag and a trailing slash: a directory, as Go reads it.
    let t = Tar::new()
        .raw(&header(b"d/", flag::REGULAR_OLD, 0), b"")
        .raw(&header(b"f", flag::REGULAR_OLD, 1), b"x")
        .end();
    let entries = read_all(&t, Limits::default()).unwrap();
    assert_eq!(entries[0].0.kind(), EntryKind::Dir);
    assert_eq!(entries[0].0.flag, flag::DIR);
    assert_eq!(entries[0].0.header[156], flag::REGULAR_OLD);
    assert_eq!(entries[1].0.kind(), EntryKind::File);
    assert_eq!(entries[1].1, b"x");
}

#[test]
fn formats_are_told_apart_as_go_does() {
    let prefixed = with(header(b"name", b'0', 0), 345, b"pre");
    let with_owner = with(prefixed, 265, b"root\0");
    // ustar: prefix and owner names read.
    let e = &read_all(&Tar::new().raw(&with_owner, b"").end(), Limits::default()).unwrap()[0].0;
    assert_eq!(
        (&e.name[..], &e.uname[..], e.format),
        (&b"pre/name"[..], &b"root"[..], Format::Ustar)
    );
    // `ustar\0` with another version: still ustar for Go.
    let odd = with(with_owner, 263, b"  ");
    let e = &read_all(&Tar::new().raw(&odd, b"").end(), Limits::default()).unwrap()[0].0;
    assert_eq!((&e.name[..], e.format), (&b"pre/name"[..], Format::Ustar));
    // `ustar ` without the GNU version: v7, so neither prefix nor owner names.
    let v7 = with(with_owner, 257, b"ustar xx");
    let e = &read_all(&Tar::new().raw(&v7, b"").end(), Limits::default()).unwrap()[0].0;
    assert_eq!(
        (&e.name[..], &e.uname[..], e.format),
        (&b"name"[..], &b""[..], Format::V7)
    );
    // GNU: bytes 345.. are times, not a prefix.
    let gnu = with(with_owner, 257, b"ustar  \0");
    let gnu = with(gnu, 345, b"00000000017\0");
    let e = &read_all(&Tar::new().raw(&gnu, b"").end(), Limits::default()).unwrap()[0].0;
    assert_eq!((&e.name[..], e.format), (&b"name"[..], Format::Gnu));
    assert_eq!(e.atime.as_deref(), Some("15"));
    // star: a 131-byte prefix, then times, and the `tar\0` trailer.
    let mut star = with(header(b"name", b'0', 0), 345, &[b's'; 131]);
    star[476..488].copy_from_slice(b"00000000021\0");
    let star = with(star, 508, b"tar\0");
    let e = &read_all(&Tar::new().raw(&star, b"").end(), Limits::default()).unwrap()[0].0;
    let mut want = vec![b's'; 131];
    want.extend_from_slice(b"/name");
    assert_eq!(e.name, want);
    assert_eq!(e.atime.as_deref(), Some("17"));
}

#[test]
fn seekable_positions_index_members_in_place() {
    // What an archive index does: each member's data offset, without reading it.
    let t = Tar::new()
        .file("./index.json", b"{}")
        .file("./blobs/sha256/aa", &[7u8; 5000])
        .file("./oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}")
        .end();
    let mut tar = TarReader::new(Seekable(Cursor::new(&t)), Limits::default());
    let mut found = Vec::new();
    while let Some(e) = tar.next_entry().unwrap() {
        found.push((e.name.clone(), tar.position(), e.size));
    }
    for (name, offset, size) in found {
        let (o, s) = (offset as usize, size as usize);
        let bytes = &t[o..o + s];
        match &name[..] {
            b"./index.json" => assert_eq!(bytes, b"{}"),
            b"./blobs/sha256/aa" => assert_eq!(bytes, &[7u8; 5000][..]),
            _ => assert!(bytes.starts_with(b"{\"imageLayoutVersion\"")),
        }
    }
}
