//! `normalize`: two builds that differ only in time get the same digest.

mod common;

use common::*;
use latch_diff::normalize::{NormalizeOptions, OutputCompression};
use latch_diff::{DiffError, Mode};

const EPOCH: u64 = 1_700_000_000;

fn content() -> Vec<E> {
    vec![
        dir("app"),
        file("app/main.py", b"print('hi')\n"),
        file("app/run", b"#!/bin/sh\n")
            .mode(0o755)
            .xattr("user.note", b"x"),
        symlink("app/latest", "main.py"),
        hardlink("app/run2", "app/run"),
    ]
}

/// A build at time `t`: every mtime, PAX times, config and annotation times differ.
fn build_at(t: u64, comp: Comp) -> Img {
    let when = format!("2026-01-{:02}T10:00:00Z", 1 + (t % 20));
    let entries: Vec<E> = content()
        .into_iter()
        .map(|e| {
            e.mtime(t)
                .pax("mtime", format!("{t}.{}", t % 997).as_bytes())
                .pax("atime", b"1.5")
        })
        .collect();
    Img::new()
        .created(&when)
        .annotation("org.opencontainers.image.created", &when)
        .annotation("org.example.keep", "yes")
        .layer(&entries, comp)
        .layer(
            &[file("app/data", &vec![7u8; 100_000]).mtime(t)],
            Comp::None,
        )
}

fn normalize(
    src: &str,
    out: &std::path::Path,
    compression: OutputCompression,
) -> latch_diff::NormalizeReport {
    let img = open(src);
    let opts = NormalizeOptions {
        epoch: EPOCH,
        compression,
        name: Some("n".into()),
        ..NormalizeOptions::default()
    };
    latch_diff::normalize(&img, out, &opts).unwrap_or_else(|e| panic!("normalize {src}: {e}"))
}

#[test]
fn time_shifted_builds_normalise_to_the_same_digest() {
    for comp in [Comp::Gzip, Comp::Zstd, Comp::None] {
        let dir = tempfile::tempdir().unwrap();
        let a = build_at(1_750_000_000, comp).build(&dir.path().join("a"), "a");
        let b = build_at(1_760_000_123, comp).build(&dir.path().join("b"), "b");
        assert_ne!(a.digest(), b.digest());
        let ra = normalize(
            &layout_arg(&dir.path().join("a"), "a"),
            &dir.path().join("na"),
            OutputCompression::Keep,
        );
        let rb = normalize(
            &layout_arg(&dir.path().join("b"), "b"),
            &dir.path().join("nb"),
            OutputCompression::Keep,
        );
        assert_eq!(ra.source_digest.as_ref(), Some(a.digest()));
        assert_eq!(rb.source_digest.as_ref(), Some(b.digest()));
        assert_eq!(ra.digest, rb.digest, "{comp:?}");
        assert_eq!(ra.created, "2023-11-14T22:13:20Z");
        // The results are strictly equal, and semantically equal to their sources.
        let na = open(&layout_arg(&dir.path().join("na"), "n"));
        let nb = open(&layout_arg(&dir.path().join("nb"), "n"));
        let r = diff_mode(&na, &nb, Mode::Strict);
        assert!(r.equal, "{}", r.table());
        let src = open(&layout_arg(&dir.path().join("a"), "a"));
        let r = diff_mode(&src, &na, Mode::Semantic);
        assert!(r.equal, "{comp:?}: {}", r.table());
        // Kept compression and annotations; times set.
        let m = na.top.as_ref().unwrap().as_image().unwrap().clone();
        let want = match comp {
            Comp::Gzip => latch_oci::media_types::OCI_LAYER_GZIP,
            Comp::Zstd => latch_oci::media_types::OCI_LAYER_ZSTD,
            Comp::None => latch_oci::media_types::OCI_LAYER_TAR,
        };
        assert_eq!(m.layers[0].media_type, want);
        assert_eq!(
            m.layers[1].media_type,
            latch_oci::media_types::OCI_LAYER_TAR
        );
        let ann = m.annotations.unwrap();
        assert_eq!(
            ann["org.opencontainers.image.created"],
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(ann["org.example.keep"], "yes");
        let cfg = &na.entries[0].image.as_ref().unwrap().config;
        assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");
        assert_eq!(cfg["history"][1]["created"], "2023-11-14T22:13:20Z");
        // In strict mode against the source, only times (and their consequences) differ.
        let r = diff_mode(&src, &na, Mode::Strict);
        assert!(
            r.of_kind(latch_diff::Kind::Mtime).count() >= 5,
            "{}",
            r.table()
        );
        assert!(
            r.of_kind(latch_diff::Kind::Content).next().is_none(),
            "{}",
            r.table()
        );
        assert!(
            r.of_kind(latch_diff::Kind::Xattr).next().is_none(),
            "{}",
            r.table()
        );
    }
}

#[test]
fn normalising_is_idempotent_and_content_still_counts() {
    let dir = tempfile::tempdir().unwrap();
    build_at(1_750_000_000, Comp::Gzip).build(&dir.path().join("a"), "a");
    let once = normalize(
        &layout_arg(&dir.path().join("a"), "a"),
        &dir.path().join("n1"),
        OutputCompression::Keep,
    );
    let twice = normalize(
        &layout_arg(&dir.path().join("n1"), "n"),
        &dir.path().join("n2"),
        OutputCompression::Keep,
    );
    assert_eq!(once.digest, twice.digest);
    // Another compression, another digest, same content.
    let z = normalize(
        &layout_arg(&dir.path().join("a"), "a"),
        &dir.path().join("z"),
        OutputCompression::Zstd,
    );
    assert_ne!(z.digest, once.digest);
    let r = diff_mode(
        &open(&layout_arg(&dir.path().join("z"), "n")),
        &open(&layout_arg(&dir.path().join("n1"), "n")),
        Mode::Semantic,
    );
    assert!(r.equal, "{}", r.table());
    // A content change is not normalised away.
    let mut other = build_at(1_750_000_000, Comp::Gzip);
    other.env.push("X=1".into());
    other.build(&dir.path().join("o"), "o");
    let o = normalize(
        &layout_arg(&dir.path().join("o"), "o"),
        &dir.path().join("no"),
        OutputCompression::Keep,
    );
    assert_ne!(o.digest, once.digest);
}

#[test]
fn multi_platform_index() {
    let dir = tempfile::tempdir().unwrap();
    let a = latch_testkit::ImageBuilder::new()
        .seed(3)
        .created("2026-03-01T00:00:00Z")
        .file_layer(&[("etc/x", b"x")])
        .build_multi_arch(&dir.path().join("a"), "v");
    let b = latch_testkit::ImageBuilder::new()
        .seed(3)
        .created("2026-03-09T09:09:09Z")
        .file_layer(&[("etc/x", b"x")])
        .build_multi_arch(&dir.path().join("b"), "v");
    assert_ne!(a.digest(), b.digest());
    let ra = normalize(
        &layout_arg(&dir.path().join("a"), "v"),
        &dir.path().join("na"),
        OutputCompression::Keep,
    );
    let rb = normalize(
        &layout_arg(&dir.path().join("b"), "v"),
        &dir.path().join("nb"),
        OutputCompression::Keep,
    );
    assert_eq!(ra.digest, rb.digest);
    assert_eq!(ra.media_type, latch_oci::media_types::OCI_INDEX);
    assert_eq!(ra.images.len(), 2);
    // One platform only.
    let img = open(&layout_arg(&dir.path().join("a"), "v"));
    let opts = NormalizeOptions {
        epoch: EPOCH,
        platform: Some(latch_oci::Platform::parse("linux/arm64").unwrap()),
        ..NormalizeOptions::default()
    };
    let r = latch_diff::normalize(&img, &dir.path().join("arm"), &opts).unwrap();
    assert_eq!(r.media_type, latch_oci::media_types::OCI_MANIFEST);
    assert_eq!(r.digest, ra.images[1].digest);
}

#[test]
fn epoch_bound() {
    let dir = tempfile::tempdir().unwrap();
    build_at(1, Comp::Gzip).build(&dir.path().join("a"), "a");
    let img = open(&layout_arg(&dir.path().join("a"), "a"));
    let opts = NormalizeOptions {
        epoch: 1 << 40,
        ..NormalizeOptions::default()
    };
    let e = latch_diff::normalize(&img, &dir.path().join("n"), &opts).unwrap_err();
    assert!(matches!(e, DiffError::Normalize(_)), "{e}");
}
