//! Archives written by real engines against the registry copy of the same image:
//! `podman save` (podman 4.3, oci-archive and docker-archive, with its own isolated
//! store) and `docker save` (Docker 20.10, a private daemon).

mod common;

use std::process::Command;

use common::*;
use latch_diff::source::SourceKind;
use latch_diff::{Mode, Source};
use latch_testkit::{Dockerd, PodmanStorage};

fn podman(storage: &PodmanStorage, args: &[&str]) -> String {
    let mut c = Command::new("podman");
    c.args(storage.global_args())
        .args(["--events-backend", "none"])
        .args(args);
    latch_testkit::run(&mut c)
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "podman with its own storage and the test registry are Linux fixtures"
)]
fn podman_save_against_the_registry_copy() {
    let Some(storage) = PodmanStorage::new() else {
        return;
    };
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
    podman(
        &storage,
        &["pull", "--quiet", "--tls-verify=false", &reference],
    );
    let oci = dir.path().join("saved.oci.tar");
    let docker = dir.path().join("saved.docker.tar");
    for (format, out) in [("oci-archive", &oci), ("docker-archive", &docker)] {
        podman(
            &storage,
            &[
                "save",
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
                &reference,
            ],
        );
    }
    // The storage directory (vfs) is removed with `storage`.

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

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "a private dockerd and the test registry are Linux fixtures"
)]
fn docker_save_against_the_registry_copy() {
    let Some(daemon) = Dockerd::start() else {
        return;
    };
    let reg = latch_testkit::Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let img = latch_testkit::ImageBuilder::new()
        .seed(6)
        .file_layer(&[("etc/os-release", b"ID=latch\n")])
        .gzip_layer(200_000)
        .build(&dir.path().join("l"), "v1");
    let reference = reg.reference("docker/app:v1");
    img.push(&reference);
    let docker = |args: &[&str]| {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", daemon.host())
            .env("DOCKER_CONFIG", daemon.config_dir())
            .args(args);
        latch_testkit::run(&mut c)
    };
    docker(&["pull", "--quiet", &reference]);
    let saved = dir.path().join("saved.tar");
    docker(&["save", "-o", saved.to_str().unwrap(), &reference]);
    let remote = Source::parse(&reference).unwrap();
    let local = Source::parse(saved.to_str().unwrap()).unwrap();
    let (a, b) = rt()
        .block_on(latch_diff::open_pair(
            &remote,
            &local,
            &latch_diff::OpenOptions::default(),
        ))
        .unwrap();
    assert_eq!(b.kind, SourceKind::DockerArchive);
    let r = diff_mode(&a, &b, Mode::Semantic);
    assert!(r.equal, "{}\n{}", r.verdict(), r.table());
    assert_eq!(r.stats.entries_a, r.stats.entries_b);
    // Docker 20.10 names layers `<v1 id>/layer.tar`: no digest to check them by, so
    // they are checked against the config's diff_ids.
    let layer = &b.entries[0].image.as_ref().unwrap().layers[0];
    assert!(layer.digest.is_none() && layer.diff_id.is_some());
}
