//! The writing helpers make the bytes `tar::Builder` makes for an image-layout archive
//! (as `latch`'s `write_tar` builds it), and the reader reads them back.

mod common;

use std::io::{self, Read};

use common::read_all;
use latch_tar::{
    BLOCK, END_OF_ARCHIVE, EntryKind, Limits, Stream, TarReader, ustar_dir, ustar_file, write_entry,
};

/// The header `latch`'s `write_tar` builds with the tar crate.
fn tar_crate_header(name: &str, size: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    let bytes = name.as_bytes();
    assert!(bytes.len() < 100);
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_cksum();
    h
}

fn hex(i: usize) -> String {
    format!("{i:02x}").repeat(32)
}

/// What an air-gap archive holds: the three directories, blobs of sizes around block
/// boundaries, then the JSON files.
fn layout_entries() -> Vec<(String, Option<Vec<u8>>)> {
    let mut out: Vec<(String, Option<Vec<u8>>)> = ["./", "./blobs/", "./blobs/sha256/"]
        .iter()
        .map(|d| ((*d).to_owned(), None))
        .collect();
    for (i, size) in [0usize, 1, 511, 512, 513, 1000, 4096, 70_000]
        .into_iter()
        .enumerate()
    {
        let data: Vec<u8> = (0..size).map(|j| (j * 31 + i) as u8).collect();
        out.push((format!("./blobs/sha256/{}", hex(i)), Some(data)));
    }
    out.push((
        "./dangerzone.json".to_owned(),
        Some(br#"{"schemaVersion":2,"manifests":[]}"#.to_vec()),
    ));
    out.push((
        "./index.json".to_owned(),
        Some(br#"{"schemaVersion":2}"#.to_vec()),
    ));
    out.push((
        "./oci-layout".to_owned(),
        Some(br#"{"imageLayoutVersion": "1.0.0"}"#.to_vec()),
    ));
    out
}

#[test]
fn same_bytes_as_the_tar_crate_for_an_image_layout_archive() {
    let entries = layout_entries();
    // The tar crate, as `write_tar` uses it.
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in &entries {
        match data {
            None => b
                .append(&tar_crate_header(name, 0, true), io::empty())
                .unwrap(),
            Some(d) => b
                .append(&tar_crate_header(name, d.len() as u64, false), &d[..])
                .unwrap(),
        }
    }
    let theirs = b.into_inner().unwrap();
    // These helpers.
    let mut ours = Vec::new();
    for (name, data) in &entries {
        match data {
            None => {
                let h = ustar_dir(name, 0o755).unwrap();
                write_entry(&mut ours, &h, &mut io::empty()).unwrap();
            }
            Some(d) => {
                let h = ustar_file(name, d.len() as u64, 0o644).unwrap();
                let n = write_entry(&mut ours, &h, &mut &d[..]).unwrap();
                assert_eq!(n % BLOCK as u64, 0);
            }
        }
    }
    ours.extend_from_slice(&END_OF_ARCHIVE);
    assert_eq!(ours.len(), theirs.len());
    if let Some(at) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
        panic!(
            "first difference at byte {at} (block {}, offset {} in it)",
            at / BLOCK,
            at % BLOCK
        );
    }
    // And it reads back: names exactly as written, kinds, data.
    let read = read_all(&ours, Limits::default()).unwrap();
    assert_eq!(read.len(), entries.len());
    for ((entry, data), (name, want)) in read.iter().zip(&entries) {
        assert_eq!(entry.name, name.as_bytes());
        assert_eq!((entry.uid, entry.gid, &entry.mtime[..]), (0, 0, "0"));
        match want {
            None => assert_eq!((entry.kind(), entry.mode), (EntryKind::Dir, 0o755)),
            Some(w) => {
                assert_eq!((entry.kind(), entry.mode), (EntryKind::File, 0o644));
                assert_eq!(data, w);
            }
        }
    }
}

#[test]
fn same_header_bytes_as_the_tar_crate_for_large_sizes() {
    // Octal up to 8 GiB - 1, base-256 from 8 GiB (blobs may reach 16 GiB and more).
    for size in [
        (8u64 << 30) - 1,
        8 << 30,
        16 << 30,
        (16 << 30) + 12345,
        1 << 40,
        i64::MAX as u64,
    ] {
        let name = format!("./blobs/sha256/{}", hex(7));
        let ours = ustar_file(&name, size, 0o644).unwrap();
        let theirs = tar_crate_header(&name, size, false);
        assert_eq!(&ours[..], theirs.as_bytes(), "size {size}");
        // The reader reads the size back (the data is not there).
        let mut tar = TarReader::new(Stream(&ours[..]), Limits::default());
        assert_eq!(tar.next_entry().unwrap().unwrap().size, size);
    }
    // Other modes, and the longest name.
    let name = "n".repeat(99);
    for mode in [0, 0o600, 0o4755, 0o7777777] {
        assert_eq!(
            &ustar_file(&name, 1, mode).unwrap()[..],
            {
                let mut h = tar_crate_header(&name, 1, false);
                h.set_mode(mode);
                h.set_cksum();
                h
            }
            .as_bytes()
        );
    }
}

#[test]
fn a_blob_shorter_than_declared_is_not_written_as_complete() {
    // The file shrank between its size being read and its bytes being copied.
    let h = ustar_file("./blobs/sha256/aa", 1000, 0o644).unwrap();
    let mut out = Vec::new();
    let e = write_entry(&mut out, &h, &mut (&[1u8; 600][..]).chain(io::empty())).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert!(e.to_string().contains("600 of 1000"), "{e}");
}
