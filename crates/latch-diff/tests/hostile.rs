//! Hostile images get clean errors: path traversal, absurd sizes, bombs, corrupt blobs,
//! malformed tars.

mod common;

use common::*;
use latch_diff::{DiffError, DiffOptions, Limits, TarError};

fn good() -> Vec<E> {
    vec![dir("etc"), file("etc/a", b"a")]
}

fn diff_err(a: &Img, b: &Img, opts: &DiffOptions) -> DiffError {
    let p = pair(a, b);
    latch_diff::diff(&p.a, &p.b, opts).expect_err("a hostile image must be refused")
}

#[test]
fn path_traversal_is_refused_and_nothing_is_written() {
    let mut evil = good();
    evil.push(file("../../../tmp/latch-evil", b"pwned"));
    let p = pair(
        &Img::new().layer(&good(), Comp::Gzip),
        &Img::new().layer(&evil, Comp::Gzip),
    );
    let report = p.dir.path().join("report");
    let opts = DiffOptions {
        report_dir: Some(report.clone()),
        ..DiffOptions::default()
    };
    let e = latch_diff::diff(&p.a, &p.b, &opts).unwrap_err();
    assert!(matches!(e, DiffError::BadEntry { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("../../../tmp/latch-evil") && msg.contains("path traversal"),
        "{msg}"
    );
    assert!(msg.starts_with("B ("), "{msg}");
    assert!(!std::path::Path::new("/tmp/latch-evil").exists());
    assert_eq!(std::fs::read_dir(&report).unwrap().count(), 0);
    // Without --report-dir too: such an image is not comparable.
    let e = latch_diff::diff(&p.a, &p.b, &DiffOptions::default()).unwrap_err();
    assert!(matches!(e, DiffError::BadEntry { .. }), "{e}");
    // In a hard link target as well.
    let mut evil = good();
    evil.push(hardlink("etc/b", "../../etc/shadow"));
    let e = diff_err(
        &Img::new().layer(&good(), Comp::None),
        &Img::new().layer(&evil, Comp::None),
        &DiffOptions::default(),
    );
    assert!(e.to_string().contains("hard link target"), "{e}");
}

#[test]
fn absolute_paths_compare_but_are_not_extracted() {
    let mut a = good();
    a.push(file("/abs/file", b"1"));
    let mut b = good();
    b.push(file("/abs/file", b"2"));
    let p = pair(
        &Img::new().layer(&a, Comp::Gzip),
        &Img::new().layer(&b, Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(kinds(&r), [("content".into(), "/abs/file".into())]);
    let opts = DiffOptions {
        report_dir: Some(p.dir.path().join("report")),
        ..DiffOptions::default()
    };
    let e = latch_diff::diff(&p.a, &p.b, &opts).unwrap_err();
    assert!(
        e.to_string()
            .contains("absolute path: refused for --report-dir"),
        "{e}"
    );
    assert!(!std::path::Path::new("/abs/file").exists());
}

#[test]
fn huge_declared_sizes() {
    // 32 GiB declared (base-256), a few bytes present: the stream ends early.
    let mut evil = good();
    evil.push(file("etc/big", b"tiny").declared_size(1 << 35));
    let e = diff_err(
        &Img::new().layer(&good(), Comp::Gzip),
        &Img::new().layer(&evil, Comp::Gzip),
        &DiffOptions::default(),
    );
    assert!(
        matches!(
            e,
            DiffError::Layer {
                source: TarError::Io(_),
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("ends early"), "{e}");
    // Over the bound on one entry: refused before reading.
    let mut evil = good();
    evil.push(file("etc/big", b"tiny").declared_size(1 << 50));
    let e = diff_err(
        &Img::new().layer(&good(), Comp::Gzip),
        &Img::new().layer(&evil, Comp::Gzip),
        &DiffOptions::default(),
    );
    assert!(matches!(e, DiffError::Limit { .. }), "{e}");
    assert!(e.to_string().contains("etc/big"), "{e}");
}

#[test]
fn decompression_bomb_stops_at_the_layer_bound() {
    // 64 MiB of zeros gzip to ~64 KiB.
    let zeros = vec![0u8; 64 << 20];
    let bomb = vec![file("bomb", &zeros)];
    let opts = DiffOptions {
        limits: Limits {
            max_layer_bytes: 16 << 20,
            ..Limits::default()
        },
        ..DiffOptions::default()
    };
    let e = diff_err(
        &Img::new().layer(&good(), Comp::Gzip),
        &Img::new().layer(&bomb, Comp::Gzip),
        &opts,
    );
    assert!(
        matches!(e, DiffError::Limit { max, .. } if max == 16 << 20),
        "{e}"
    );
    assert!(e.to_string().contains("uncompressed"), "{e}");
}

#[test]
fn entry_count_bound() {
    let many: Vec<E> = (0..50).map(|i| file(&format!("f{i}"), b"x")).collect();
    let opts = DiffOptions {
        limits: Limits {
            max_entries: 20,
            ..Limits::default()
        },
        ..DiffOptions::default()
    };
    let e = diff_err(
        &Img::new().layer(&good(), Comp::Gzip),
        &Img::new().layer(&many, Comp::Gzip),
        &opts,
    );
    assert!(e.to_string().contains("number of tar entries"), "{e}");
}

#[test]
fn pax_header_bound() {
    let big = vec![b'x'; 2 << 20];
    let evil = vec![file("etc/a", b"a").xattr("user.big", &big)];
    let e = diff_err(
        &Img::new().layer(&good(), Comp::Gzip),
        &Img::new().layer(&evil, Comp::Gzip),
        &DiffOptions::default(),
    );
    assert!(
        matches!(
            e,
            DiffError::Layer {
                source: TarError::ExtensionTooLarge { .. },
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn corrupt_blobs_and_wrong_diff_ids() {
    let dir = tempfile::tempdir().unwrap();
    // A holds the same files, zstd-compressed: B's layer must be read.
    Img::new()
        .layer(&good(), Comp::Zstd)
        .build(&dir.path().join("a"), "a");
    let m = Img::new()
        .layer(&good(), Comp::Gzip)
        .build(&dir.path().join("b"), "b");
    // Flip a byte of B's layer (same size): in the gzip trailer, so that the stream
    // still decompresses and only the digest can tell.
    let layer = &m.as_image().unwrap().layers[0];
    let path = dir.path().join("b").join(layer.digest.layout_path());
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let a = open(&layout_arg(&dir.path().join("a"), "a"));
    let b = open(&layout_arg(&dir.path().join("b"), "b"));
    let e = latch_diff::diff(&a, &b, &DiffOptions::default()).unwrap_err();
    assert!(
        matches!(
            e,
            DiffError::DigestMismatch { .. } | DiffError::Layer { .. }
        ),
        "{e}"
    );
    // The same blob on both sides is not read at all (same digest, same bytes), so a
    // copy damaged on disk goes unseen there: that is what store verification is for.
    let b2 = dir.path().join("b2");
    Img::new().layer(&good(), Comp::Gzip).build(&b2, "b");
    let b2i = open(&layout_arg(&b2, "b"));
    let r = latch_diff::diff(&b, &b2i, &DiffOptions::default()).unwrap();
    assert!(r.equal && r.stats.shared_layers == 1, "{r:?}");
    // A config whose diff_id lies.
    let mut liar = Img::new().layer(&good(), Comp::Zstd);
    liar.diff_ids = Some(vec![latch_oci::Digest::sha256_of(b"not the layer")]);
    let e = diff_err(
        &Img::new().layer(&good(), Comp::Gzip),
        &liar,
        &DiffOptions::default(),
    );
    assert!(
        matches!(e, DiffError::DiffIdMismatch { layer: 1, .. }),
        "{e}"
    );
}

#[test]
fn malformed_tars() {
    // Not a tar at all.
    let e = diff_err(
        &Img::new().layer(&good(), Comp::Gzip),
        &Img::new().raw_layer(vec![b'z'; 4096], Comp::Gzip),
        &DiffOptions::default(),
    );
    assert!(
        matches!(
            e,
            DiffError::Layer {
                source: TarError::BadChecksum { .. },
                ..
            }
        ),
        "{e}"
    );
    // Truncated in a header.
    let mut t = tar(&good());
    t.truncate(700);
    let e = diff_err(
        &Img::new().layer(&good(), Comp::Gzip),
        &Img::new().raw_layer(t, Comp::None),
        &DiffOptions::default(),
    );
    assert!(
        matches!(
            e,
            DiffError::Layer {
                source: TarError::Truncated { .. },
                ..
            }
        ),
        "{e}"
    );
    // Garbage gzip.
    let mut gz = compress(&tar(&good()), Comp::Gzip).0;
    gz.truncate(gz.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    Img::new()
        .layer(&good(), Comp::Gzip)
        .build(&dir.path().join("a"), "a");
    let layout = latch_oci::OciLayout::create(dir.path().join("b")).unwrap();
    let digest = layout.write_blob(&gz).unwrap();
    let config = serde_json::to_vec(&serde_json::json!({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})).unwrap();
    layout.write_blob(&config).unwrap();
    let m = latch_oci::ImageManifest {
        schema_version: 2,
        media_type: Some(latch_oci::media_types::OCI_MANIFEST.into()),
        artifact_type: None,
        config: latch_oci::Descriptor::for_bytes(latch_oci::media_types::OCI_CONFIG, &config),
        layers: vec![latch_oci::Descriptor {
            size: gz.len() as u64,
            ..latch_oci::Descriptor::for_bytes(latch_oci::media_types::OCI_LAYER_GZIP, &gz)
        }],
        subject: None,
        annotations: None,
    };
    assert_eq!(m.layers[0].digest, digest);
    let mb = latch_oci::ManifestBytes::from_image(&m);
    layout.write_blob(mb.bytes()).unwrap();
    layout.set_ref(mb.descriptor(), Some("b")).unwrap();
    let a = open(&layout_arg(&dir.path().join("a"), "a"));
    let b = open(&layout_arg(&dir.path().join("b"), "b"));
    let e = latch_diff::diff(&a, &b, &DiffOptions::default()).unwrap_err();
    assert!(matches!(e, DiffError::Layer { .. }), "{e}");
}

#[test]
fn bad_sources() {
    let e = try_open("oci-archive:/nonexistent/x.tar").unwrap_err();
    assert!(matches!(e, DiffError::BadSource { .. }), "{e}");
    let dir = tempfile::tempdir().unwrap();
    // A file that is not a tar.
    let f = dir.path().join("junk.tar");
    std::fs::write(&f, vec![7u8; 2048]).unwrap();
    let e = try_open(f.to_str().unwrap()).unwrap_err();
    assert!(matches!(e, DiffError::BadArchive { .. }), "{e}");
    // A gzip-compressed archive.
    let gz = dir.path().join("x.tar.gz");
    std::fs::write(&gz, compress(&tar(&good()), Comp::Gzip).0).unwrap();
    let e = try_open(gz.to_str().unwrap()).unwrap_err();
    assert!(e.to_string().contains("decompress it first"), "{e}");
    // A tar that is neither kind of archive.
    let t = dir.path().join("plain.tar");
    std::fs::write(&t, tar(&good())).unwrap();
    let e = try_open(t.to_str().unwrap()).unwrap_err();
    assert!(e.to_string().contains("neither index.json"), "{e}");
    // A layout with two images and no name.
    let l = dir.path().join("l");
    Img::new().layer(&good(), Comp::Gzip).build(&l, "one");
    Img::new()
        .layer(&[file("x", b"2")], Comp::Gzip)
        .build(&l, "two");
    let e = try_open(&format!("oci:{}", l.display())).unwrap_err();
    assert!(
        e.to_string().contains("name one") && e.to_string().contains("two"),
        "{e}"
    );
    let e = try_open(&format!("oci:{}:three", l.display())).unwrap_err();
    assert!(e.to_string().contains("no image named \"three\""), "{e}");
}
