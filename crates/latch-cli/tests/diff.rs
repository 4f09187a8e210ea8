//! `latch diff` and `latch normalize` as a user runs them.

use std::path::Path;
use std::process::{Command, Output};

use latch_testkit::{ImageBuilder, Registry};

fn latch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .env_remove("LATCH_INSECURE_REGISTRIES")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("run latch")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn oci(dir: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", dir.display())
}

fn image(created: &str, hello: &[u8]) -> ImageBuilder {
    ImageBuilder::new()
        .seed(9)
        .created(created)
        .file_layer(&[("etc/hello.txt", hello), ("usr/bin/tool", b"#!/bin/sh\n")])
        .gzip_layer(20_000)
}

#[test]
fn equal_different_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let c = tmp.path().join("c");
    image("2026-01-01T00:00:00Z", b"hello\n").build(&a, "v1");
    image("2026-05-05T05:05:05Z", b"hello\n").build(&b, "v1");
    image("2026-01-01T00:00:00Z", b"HELLO\n").build(&c, "v1");

    // Only the creation time differs: equal (exit 0), unless strict (exit 1).
    let o = latch(&["diff", &oci(&a, "v1"), &oci(&b, "v1")]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let last = stdout(&o).lines().last().unwrap_or("").to_owned();
    assert!(
        last.starts_with("equal (semantic): 1 platform, 2 + 2 layers"),
        "{last}"
    );
    let o = latch(&["diff", "--semantic", &oci(&a, "v1"), &oci(&b, "v1")]);
    assert_eq!(o.status.code(), Some(0));
    let o = latch(&["diff", "--strict", &oci(&a, "v1"), &oci(&b, "v1")]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("config    .created"), "{}", stdout(&o));
    assert!(
        stdout(&o)
            .lines()
            .last()
            .unwrap()
            .starts_with("different (strict)")
    );

    // One file's content: the table, the verdict, exit 1.
    let o = latch(&["diff", &oci(&a, "v1"), &oci(&c, "v1")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("KIND")
            && header.contains("PATH")
            && header.contains(" A ")
            && header.ends_with('B'),
        "{out}"
    );
    assert!(out.contains("content  /etc/hello.txt (layer 1)"), "{out}");
    assert_eq!(
        out.lines().last().unwrap(),
        "different (semantic): 1 difference (1 content)"
    );
    // The same as JSON.
    let o = latch(&["diff", "--json", &oci(&a, "v1"), &oci(&c, "v1")]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["equal"], false);
    assert_eq!(v["differences"][0]["kind"], "content");
    assert_eq!(v["differences"][0]["path"], "/etc/hello.txt");
    // Ignored, it is equal.
    let o = latch(&[
        "diff",
        "--ignore",
        "etc/hello.txt",
        &oci(&a, "v1"),
        &oci(&c, "v1"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // --report-dir: the two versions side by side.
    let report = tmp.path().join("report");
    let o = latch(&[
        "diff",
        "--report-dir",
        report.to_str().unwrap(),
        &oci(&a, "v1"),
        &oci(&c, "v1"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read(report.join("a/layer-1/etc/hello.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        std::fs::read(report.join("b/layer-1/etc/hello.txt")).unwrap(),
        b"HELLO\n"
    );
    assert!(stdout(&o).contains("note: wrote 2 files"), "{}", stdout(&o));

    // Errors: exit 2, the reason on stderr.
    let o = latch(&["diff", &oci(&a, "v1"), "oci-archive:/nonexistent.tar"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("latch: image source"),
        "{}",
        stderr(&o)
    );
    let o = latch(&["diff", &oci(&a, "v1"), &oci(&b, "nope")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no image named \"nope\""),
        "{}",
        stderr(&o)
    );
    let o = latch(&[
        "diff",
        "--report-dir",
        report.to_str().unwrap(),
        &oci(&a, "v1"),
        &oci(&c, "v1"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    let o = latch(&[
        "diff",
        "--semantic",
        "--strict",
        &oci(&a, "v1"),
        &oci(&c, "v1"),
    ]);
    assert_eq!(o.status.code(), Some(2), "clap usage errors exit 2 too");
}

#[test]
fn registry_against_layout() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let idx =
        image("2026-01-01T00:00:00Z", b"hello\n").build_multi_arch(&tmp.path().join("l"), "v1");
    idx.push(&reg.reference("cli/diff:v1"));
    let o = latch(&[
        "diff",
        &reg.reference("cli/diff:v1"),
        &oci(&tmp.path().join("l"), "v1"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("equal (semantic): 2 platforms"),
        "{}",
        stdout(&o)
    );
    let o = latch(&[
        "diff",
        "--platform",
        "linux/arm64",
        &reg.reference("cli/diff:v1"),
        &oci(&tmp.path().join("l"), "v1"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("equal (semantic): 1 platform,"),
        "{}",
        stdout(&o)
    );
    // normalize reads a registry too: the pulled copy normalises like the layout.
    let digest = |o: &Output| -> String {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["digest"].as_str().unwrap().to_owned()
    };
    let remote = latch(&[
        "normalize",
        &reg.reference("cli/diff:v1"),
        tmp.path().join("nr").to_str().unwrap(),
        "--source-date-epoch",
        "0",
        "--json",
    ]);
    assert!(remote.status.success(), "{}", stderr(&remote));
    let local = latch(&[
        "normalize",
        &oci(&tmp.path().join("l"), "v1"),
        tmp.path().join("nl").to_str().unwrap(),
        "--source-date-epoch",
        "0",
        "--json",
    ]);
    assert!(local.status.success(), "{}", stderr(&local));
    assert_eq!(digest(&remote), digest(&local));
}

#[test]
fn normalize_two_time_shifted_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    image("2026-01-01T00:00:00Z", b"hello\n").build(&a, "v1");
    image("2026-07-07T07:07:07Z", b"hello\n").build(&b, "v1");
    let na = tmp.path().join("na");
    let nb = tmp.path().join("nb");
    let o = latch(&[
        "normalize",
        &oci(&a, "v1"),
        &oci(&na, "n"),
        "--source-date-epoch",
        "1700000000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("Timestamps set to 2023-11-14T22:13:20Z (1700000000)"),
        "{text}"
    );
    let result = |t: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix("Result: "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_owned()
    };
    let source = |t: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix("Source: "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_owned()
    };
    let o2 = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(["normalize", &oci(&b, "v1"), nb.to_str().unwrap(), "--json"])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(o2.status.success(), "{}", stderr(&o2));
    let v: serde_json::Value = serde_json::from_slice(&o2.stdout).unwrap();
    assert_eq!(v["digest"].as_str().unwrap(), result(&text));
    assert_ne!(v["source_digest"].as_str().unwrap(), source(&text));
    // The two results are strictly equal.
    let o = latch(&["diff", "--strict", &oci(&na, "n"), nb.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // No epoch: a usage error.
    let o = latch(&[
        "normalize",
        &oci(&a, "v1"),
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--source-date-epoch"), "{}", stderr(&o));
}
