//! `podman save` archives (oci-archive and docker-archive) against the registry copy of
//! the same image: podman 4.3, as root, with its own isolated store.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use latch_diff::source::SourceKind;
use latch_diff::{Mode, Source};

struct Podman {
    root: PathBuf,
    runroot: PathBuf,
}

impl Podman {
    fn new(dir: &Path) -> Podman {
        Podman {
            root: dir.join("root"),
            runroot: dir.join("runroot"),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(["--storage-driver", "vfs", "--events-backend", "none"]);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        latch_testkit::run(self.cmd().args(args))
    }
}

fn podman_available() -> bool {
    let ok = Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var("CI").is_err(), "podman is required in CI");
        eprintln!("skipping: podman is not installed");
    }
    ok
}

#[test]
fn podman_save_against_the_registry_copy() {
    if !podman_available() {
        return;
    }
    let reg = latch_testkit::Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let img = latch_testkit::ImageBuilder::new()
        .seed(5)
        .file_layer(&[
            ("etc/os-release", b"ID=latch\n"),
            ("usr/bin/app", b"#!/bin/sh\n"),
        ])
        .gzip_layer(300_000)
        .build(&dir.path().join("l"), "v1");
    let reference = reg.reference("podman/app:v1");
    img.push(&reference);
    let podman = Podman::new(dir.path());
    podman.run(&["pull", "--quiet", "--tls-verify=false", &reference]);
    let oci = dir.path().join("saved.oci.tar");
    let docker = dir.path().join("saved.docker.tar");
    podman.run(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        oci.to_str().unwrap(),
        &reference,
    ]);
    podman.run(&[
        "save",
        "--format",
        "docker-archive",
        "-o",
        docker.to_str().unwrap(),
        &reference,
    ]);
    let _ = podman.cmd().args(["rmi", "--all", "--force"]).output();

    let remote = Source::parse(&reference).unwrap();
    for (arg, kind) in [
        (
            format!("oci-archive:{}", oci.display()),
            SourceKind::OciArchive,
        ),
        (docker.display().to_string(), SourceKind::DockerArchive),
    ] {
        let local = Source::parse(&arg).unwrap();
        let (a, b) = rt()
            .block_on(latch_diff::open_pair(
                &remote,
                &local,
                &latch_diff::OpenOptions::default(),
            ))
            .unwrap();
        assert_eq!(b.kind, kind);
        let r = diff_mode(&a, &b, Mode::Semantic);
        eprintln!("{arg}: {}\n{}{:?}", r.verdict(), r.table(), r.notes);
        assert!(r.equal, "{arg}: {}\n{}", r.verdict(), r.table());
        assert_eq!(r.stats.entries_a, r.stats.entries_b);
        // Strictly, the bytes differ: podman recompressed the layers of the oci-archive,
        // and a docker-archive has no manifest (its config is kept byte for byte).
        let s = diff_mode(&a, &b, Mode::Strict);
        eprintln!("strict {arg}: {}\n{}", s.verdict(), s.table());
        assert!(!s.equal);
        assert!(
            s.of_kind(latch_diff::Kind::Config).next().is_none(),
            "{}",
            s.table()
        );
        assert!(
            s.of_kind(latch_diff::Kind::Content).next().is_none(),
            "{}",
            s.table()
        );
    }
}
