//! Pairs of images built by the tests, each with its expected verdict.

mod common;

use common::*;
use latch_diff::{DiffError, DiffOptions, Kind, Mode};

fn base() -> Vec<E> {
    vec![
        dir("etc"),
        file("etc/hello.txt", b"hello\n"),
        file("usr/bin/tool", b"#!/bin/sh\necho tool\n").mode(0o755),
        symlink("usr/bin/alias", "tool"),
    ]
}

fn shifted(entries: &[E], by: u64) -> Vec<E> {
    entries
        .iter()
        .map(|e| e.clone().mtime(e.mtime + by))
        .collect()
}

#[test]
fn identical_but_for_timestamps() {
    let a = Img::new().layer(&base(), Comp::Gzip);
    let b = Img::new()
        .created("2026-02-02T12:00:00Z")
        .annotation("org.opencontainers.image.created", "2026-02-02T12:00:00Z")
        .layer(
            &shifted(&base(), 86_400)
                .into_iter()
                .map(|e| e.pax("atime", b"1700000000.5"))
                .collect::<Vec<_>>(),
            Comp::Gzip,
        );
    let p = pair(&a, &b);
    let r = p.semantic();
    assert!(r.equal, "{}\n{}", r.verdict(), r.table());
    assert_eq!(r.stats.entries_a, 4);
    assert!(
        r.verdict().starts_with("equal (semantic)"),
        "{}",
        r.verdict()
    );
    let s = p.strict();
    assert!(!s.equal);
    assert_eq!(s.of_kind(Kind::Mtime).count(), 4, "{}", s.table());
    assert_eq!(s.of_kind(Kind::Atime).count(), 4, "{}", s.table());
    assert!(
        s.of_kind(Kind::Config).any(|d| d.path == ".created"),
        "{}",
        s.table()
    );
    assert!(
        s.of_kind(Kind::Config)
            .any(|d| d.path == ".history[0].created")
    );
    assert!(
        s.of_kind(Kind::Manifest)
            .any(|d| d.path.contains("org.opencontainers.image.created")),
        "{}",
        s.table()
    );
    // PAX records were used for atime: the tar format differs too.
    assert!(s.of_kind(Kind::Format).count() == 4, "{}", s.table());
}

#[test]
fn one_files_content() {
    let mut b_entries = base();
    b_entries[1] = file("etc/hello.txt", b"hellO\n");
    let p = pair(
        &Img::new().layer(&base(), Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Gzip),
    );
    let r = p.semantic();
    assert!(!r.equal);
    assert_eq!(
        kinds(&r),
        [("content".into(), "/etc/hello.txt".into())],
        "{}",
        r.table()
    );
    let d = &r.differences[0];
    assert_eq!(d.layer, Some(1));
    assert!(d.a.as_deref().unwrap().ends_with("(6 B)"), "{d:?}");
    assert!(
        r.verdict()
            .starts_with("different (semantic): 1 difference (1 content)"),
        "{}",
        r.verdict()
    );
    // The table: header and one row.
    let t = r.table();
    assert!(t.starts_with("KIND"), "{t}");
    assert!(t.contains("/etc/hello.txt (layer 1)"), "{t}");
    // The layer's config diff_ids differ, but semantic mode compares content instead.
    assert!(r.of_kind(Kind::Config).next().is_none());
}

#[test]
fn one_mode() {
    let mut b_entries = base();
    b_entries[1] = b_entries[1].clone().mode(0o600);
    let p = pair(
        &Img::new().layer(&base(), Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(kinds(&r), [("mode".into(), "/etc/hello.txt".into())]);
    assert_eq!(r.differences[0].a.as_deref(), Some("0644"));
    assert_eq!(r.differences[0].b.as_deref(), Some("0600"));
}

#[test]
fn redundant_mode_bits_count_only_in_strict() {
    // BuildKit writes the file-type bits into the mode field; the legacy builder not.
    let mut b_entries = base();
    b_entries[1] = b_entries[1].clone().mode(0o100644);
    let p = pair(
        &Img::new().layer(&base(), Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Gzip),
    );
    assert!(p.semantic().equal);
    let s = p.strict();
    assert_eq!(
        s.of_kind(Kind::Mode)
            .map(|d| (d.a.clone().unwrap(), d.b.clone().unwrap()))
            .collect::<Vec<_>>(),
        [("0644".to_owned(), "100644".to_owned())]
    );
}

#[test]
fn one_owner() {
    let mut b_entries = base();
    b_entries[2] = b_entries[2].clone().owner(1000, 1000, "app", "app");
    let p = pair(
        &Img::new().layer(&base(), Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(
        kinds(&r),
        [
            ("owner".into(), "/usr/bin/tool".into()),
            ("owner-name".into(), "/usr/bin/tool".into())
        ]
    );
    assert_eq!(r.differences[0].b.as_deref(), Some("1000:1000"));
    assert_eq!(r.differences[1].a.as_deref(), Some("root:root"));
}

#[test]
fn one_symlink_target() {
    let mut b_entries = base();
    b_entries[3] = symlink("usr/bin/alias", "/usr/bin/other");
    let p = pair(
        &Img::new().layer(&base(), Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(kinds(&r), [("link".into(), "/usr/bin/alias".into())]);
    assert_eq!(r.differences[0].a.as_deref(), Some("tool"));
    assert_eq!(r.differences[0].b.as_deref(), Some("/usr/bin/other"));
}

#[test]
fn one_xattr() {
    let mut a_entries = base();
    a_entries[2] = a_entries[2]
        .clone()
        .xattr("security.capability", b"\x01\x00\x00\x02");
    let mut b_entries = base();
    b_entries[2] = b_entries[2]
        .clone()
        .xattr("security.capability", b"\x01\x00\x00\x03");
    let p = pair(
        &Img::new().layer(&a_entries, Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(
        kinds(&r),
        [("xattr".into(), "/usr/bin/tool".into())],
        "{}",
        r.table()
    );
    assert_eq!(
        r.differences[0].a.as_deref(),
        Some("security.capability=\\x01\\x00\\x00\\x02")
    );
    // An xattr present on one side only.
    let p = pair(
        &Img::new().layer(&a_entries, Comp::Gzip),
        &Img::new().layer(&base(), Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(kinds(&r), [("xattr".into(), "/usr/bin/tool".into())]);
    assert_eq!(r.differences[0].b, None);
    // Other PAX records count too (but not times).
    let mut c_entries = base();
    c_entries[1] = c_entries[1].clone().pax("comment", b"built by x");
    let p = pair(
        &Img::new().layer(&base(), Comp::Gzip),
        &Img::new().layer(&c_entries, Comp::Gzip),
    );
    assert_eq!(
        kinds(&p.semantic()),
        [("pax".into(), "/etc/hello.txt".into())]
    );
}

#[test]
fn a_file_added() {
    let mut b_entries = base();
    b_entries.push(file("etc/new.conf", b"x=1\n"));
    let p = pair(
        &Img::new().layer(&base(), Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(kinds(&r), [("added".into(), "/etc/new.conf".into())]);
    assert_eq!(r.differences[0].b.as_deref(), Some("file, 4 B"));
    // And the other way round.
    let r = latch_diff::diff(&p.b, &p.a, &DiffOptions::default()).unwrap();
    assert_eq!(kinds(&r), [("removed".into(), "/etc/new.conf".into())]);
}

#[test]
fn a_whiteout() {
    let upper_a = vec![file("etc/extra", b"1")];
    let mut upper_b = upper_a.clone();
    upper_b.push(whiteout("etc/.wh.hello.txt"));
    let p = pair(
        &Img::new()
            .layer(&base(), Comp::Gzip)
            .layer(&upper_a, Comp::Gzip),
        &Img::new()
            .layer(&base(), Comp::Gzip)
            .layer(&upper_b, Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(
        kinds(&r),
        [("added".into(), "/etc/.wh.hello.txt".into())],
        "{}",
        r.table()
    );
    assert_eq!(r.differences[0].b.as_deref(), Some("whiteout"));
    assert_eq!(r.differences[0].layer, Some(2));
    // Squashed, the whiteout removes the file.
    let opts = DiffOptions {
        squash: true,
        ..DiffOptions::default()
    };
    let r = latch_diff::diff(&p.a, &p.b, &opts).unwrap();
    assert_eq!(
        kinds(&r),
        [("removed".into(), "/etc/hello.txt".into())],
        "{}",
        r.table()
    );
    assert_eq!(r.differences[0].layer, None);
}

#[test]
fn whiteouts_and_opaque_dirs_squash_to_the_same_filesystem() {
    // A: one layer with the final file system.
    let a = Img::new().layer(
        &[
            dir("app"),
            file("app/keep", b"k"),
            dir("cache"),
            file("cache/new", b"n"),
        ],
        Comp::Gzip,
    );
    // B: the same, reached by deleting: a whiteout, an opaque dir, a re-added file.
    let b = Img::new()
        .layer(
            &[
                dir("app"),
                file("app/keep", b"k"),
                file("app/gone", b"g"),
                dir("app/gone-dir"),
                file("app/gone-dir/x", b"x"),
                dir("cache"),
                file("cache/old1", b"1"),
                file("cache/old2", b"2"),
            ],
            Comp::Gzip,
        )
        .layer(
            &[
                whiteout("app/.wh.gone"),
                whiteout("app/.wh.gone-dir"),
                dir("cache"),
                file("cache/new", b"n"),
                whiteout("cache/.wh..wh..opq"),
            ],
            Comp::Zstd,
        );
    let p = pair(&a, &b);
    let r = p.semantic();
    assert!(r.equal, "{}\n{}", r.verdict(), r.table());
    assert!(r.stats.squashed);
    assert!(
        r.notes.iter().any(|n| n.contains("layer split differs")),
        "{:?}",
        r.notes
    );
    let s = p.strict();
    assert!(!s.equal);
    assert!(
        s.of_kind(Kind::Layer).any(|d| d.path == "layers"),
        "{}",
        s.table()
    );
}

#[test]
fn compression_does_not_count() {
    let entries = base();
    let imgs = [Comp::Gzip, Comp::Zstd, Comp::None].map(|c| Img::new().layer(&entries, c));
    for (x, y) in [(0, 1), (0, 2), (1, 2)] {
        let p = pair(&imgs[x], &imgs[y]);
        let r = p.semantic();
        assert!(r.equal, "{x} vs {y}: {}\n{}", r.verdict(), r.table());
        let s = p.strict();
        assert!(!s.equal, "{x} vs {y}");
        assert!(
            s.of_kind(Kind::Layer)
                .any(|d| d.path == "layers[0].mediaType"),
            "{}",
            s.table()
        );
        // The file systems are the same even in strict mode; only descriptors differ.
        assert!(
            s.differences
                .iter()
                .all(|d| matches!(d.kind, Kind::Layer | Kind::Manifest)),
            "{}",
            s.table()
        );
    }
}

#[test]
fn same_filesystem_split_into_different_layers() {
    let all = base();
    let a = Img::new().layer(&all, Comp::Gzip);
    let b = Img::new()
        .layer(&all[..2], Comp::Gzip)
        .layer(&all[2..3], Comp::None)
        .layer(&all[3..], Comp::Zstd);
    let p = pair(&a, &b);
    let r = p.semantic();
    assert!(r.equal, "{}\n{}", r.verdict(), r.table());
    assert!(r.stats.squashed);
    assert_eq!((r.stats.layers_a, r.stats.layers_b), (1, 3));
    assert!(!p.strict().equal);
    // A real difference still shows through the squash.
    let mut changed = all.clone();
    changed[2] = changed[2].clone().mode(0o700);
    let c = Img::new()
        .layer(&changed[..2], Comp::Gzip)
        .layer(&changed[2..], Comp::Gzip);
    let p = pair(&a, &c);
    assert_eq!(
        kinds(&p.semantic()),
        [("mode".into(), "/usr/bin/tool".into())]
    );
}

#[test]
fn strict_sees_order_and_names_as_written() {
    let a = Img::new().layer(&base(), Comp::None);
    let mut reordered = base();
    reordered.swap(1, 2);
    reordered[0].path = "./etc/".into();
    let p = pair(&a, &Img::new().layer(&reordered, Comp::None));
    assert!(p.semantic().equal);
    let s = p.strict();
    assert!(s.of_kind(Kind::Order).count() == 1, "{}", s.table());
    assert!(
        s.of_kind(Kind::Name).any(|d| d.path == "/etc"),
        "{}",
        s.table()
    );
}

#[test]
fn config_differences_are_reported_by_path() {
    let mut b = Img::new().layer(&base(), Comp::Gzip);
    b.env.push("DEBUG=1".into());
    let p = pair(&Img::new().layer(&base(), Comp::Gzip), &b);
    let r = p.semantic();
    assert_eq!(kinds(&r), [("config".into(), ".config.Env[1]".into())]);
    assert_eq!(r.differences[0].b.as_deref(), Some("DEBUG=1"));
}

#[test]
fn ignore_globs() {
    let a_entries = vec![
        dir("var"),
        dir("var/log"),
        file("var/log/build.log", b"a"),
        file("app/x.pyc", b"1"),
        file("app/keep", b"k"),
    ];
    let b_entries = vec![
        dir("var"),
        dir("var/log"),
        file("var/log/build.log", b"bb"),
        file("app/x.pyc", b"2"),
        file("app/keep", b"K"),
    ];
    let p = pair(
        &Img::new().layer(&a_entries, Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Gzip),
    );
    let opts = DiffOptions {
        ignore: vec!["/var/log".into(), "**/*.pyc".into()],
        ..DiffOptions::default()
    };
    let r = latch_diff::diff(&p.a, &p.b, &opts).unwrap();
    assert_eq!(
        kinds(&r),
        [("content".into(), "/app/keep".into())],
        "{}",
        r.table()
    );
    assert_eq!(r.stats.ignored, 6);
    let bad = DiffOptions {
        ignore: vec!["a[".into()],
        ..DiffOptions::default()
    };
    assert!(matches!(
        latch_diff::diff(&p.a, &p.b, &bad),
        Err(DiffError::BadGlob { .. })
    ));
}

#[test]
fn report_dir_holds_the_differing_files_side_by_side() {
    let mut b_entries = base();
    b_entries[1] = file("etc/hello.txt", b"goodbye\n");
    b_entries.push(file("etc/only-b", b"b"));
    let p = pair(
        &Img::new().layer(&base(), Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Zstd),
    );
    let out = p.dir.path().join("report");
    let opts = DiffOptions {
        report_dir: Some(out.clone()),
        ..DiffOptions::default()
    };
    let r = latch_diff::diff(&p.a, &p.b, &opts).unwrap();
    assert!(!r.equal);
    assert_eq!(
        std::fs::read(out.join("a/layer-1/etc/hello.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        std::fs::read(out.join("b/layer-1/etc/hello.txt")).unwrap(),
        b"goodbye\n"
    );
    assert_eq!(
        std::fs::read(out.join("b/layer-1/etc/only-b")).unwrap(),
        b"b"
    );
    // Only the differing files.
    assert!(!out.join("a/layer-1/usr").exists());
    assert!(
        r.notes.iter().any(|n| n.contains("diffoscope")),
        "{:?}",
        r.notes
    );
    // A directory that is not empty is refused.
    assert!(matches!(
        latch_diff::diff(&p.a, &p.b, &opts),
        Err(DiffError::ReportDir { .. })
    ));
}

#[test]
fn multi_platform_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let idx = latch_testkit::ImageBuilder::new()
        .seed(7)
        .file_layer(&[("etc/os-release", b"ID=test\n")])
        .gzip_layer(10_000)
        .build_multi_arch(&dir.path().join("i"), "multi");
    let again = latch_testkit::ImageBuilder::new()
        .seed(7)
        .file_layer(&[("etc/os-release", b"ID=test\n")])
        .gzip_layer(10_000)
        .build_multi_arch(&dir.path().join("j"), "multi");
    assert_eq!(idx.digest(), again.digest());
    let a = open(&layout_arg(&dir.path().join("i"), "multi"));
    let b = open(&layout_arg(&dir.path().join("j"), "multi"));
    let r = diff_mode(&a, &b, Mode::Strict);
    assert!(r.equal, "{}", r.table());
    assert_eq!(r.stats.platforms, 2);
    // Against a single image: that platform is picked from the index.
    let single = latch_testkit::ImageBuilder::new()
        .seed(7)
        .file_layer(&[("etc/os-release", b"ID=test\n")])
        .gzip_layer(10_000)
        .platform("linux/amd64")
        .build(&dir.path().join("s"), "one");
    let _ = single;
    let s = open(&layout_arg(&dir.path().join("s"), "one"));
    let r = diff_mode(&a, &s, Mode::Semantic);
    assert_eq!(r.stats.platforms, 1);
    assert!(
        r.notes.iter().any(|n| n.contains("linux/amd64")),
        "{:?}",
        r.notes
    );
    // --platform picks one; an absent one is an error naming what there is.
    let opts = DiffOptions {
        platform: Some(latch_oci::Platform::parse("linux/arm64").unwrap()),
        ..DiffOptions::default()
    };
    let r = latch_diff::diff(&a, &b, &opts).unwrap();
    assert!(r.equal && r.stats.platforms == 1);
    let opts = DiffOptions {
        platform: Some(latch_oci::Platform::parse("linux/s390x").unwrap()),
        ..DiffOptions::default()
    };
    let e = latch_diff::diff(&a, &b, &opts).unwrap_err();
    assert!(e.to_string().contains("linux/arm64"), "{e}");
}

#[test]
fn json_report_shape() {
    let mut b_entries = base();
    b_entries[1] = b_entries[1].clone().mode(0o600);
    let p = pair(
        &Img::new().layer(&base(), Comp::Gzip),
        &Img::new().layer(&b_entries, Comp::Gzip),
    );
    let v = serde_json::to_value(p.semantic()).unwrap();
    assert_eq!(v["equal"], false);
    assert_eq!(v["mode"], "semantic");
    assert_eq!(v["differences"][0]["kind"], "mode");
    assert_eq!(v["differences"][0]["path"], "/etc/hello.txt");
    assert_eq!(v["differences"][0]["layer"], 1);
    assert_eq!(v["stats"]["entries_a"], 4);
}

#[test]
fn device_numbers() {
    let dev = |minor| E {
        body: Body::Char(1, minor),
        mode: 0o666,
        ..file("dev/null", b"")
    };
    let p = pair(
        &Img::new().layer(&[dir("dev"), dev(3)], Comp::Gzip),
        &Img::new().layer(&[dir("dev"), dev(5)], Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(kinds(&r), [("device".into(), "/dev/null".into())]);
    assert_eq!(r.differences[0].a.as_deref(), Some("1,3"));
    assert_eq!(r.differences[0].b.as_deref(), Some("1,5"));
    // A type change (device against file) is one difference, not one per field.
    let p = pair(
        &Img::new().layer(&[dir("dev"), dev(3)], Comp::Gzip),
        &Img::new().layer(&[dir("dev"), file("dev/null", b"")], Comp::Gzip),
    );
    let r = p.semantic();
    assert_eq!(kinds(&r), [("type".into(), "/dev/null".into())]);
    assert_eq!(r.differences[0].a.as_deref(), Some("char device"));
}
