//! Interrupted upgrades are finished by the next run, and `verify-local` checks the image
//! the application runs (the tag Latch manages), for the built-in store, podman and a
//! real Docker engine.
//!
//! Each case interrupts an upgrade after one of its steps (or makes the runtime's own
//! `tag` or `rmi` die, as a kill in the middle of it would), then runs `upgrade` again
//! with nothing new in the registry and checks the runtime: the tag names the recorded
//! image, no other image is left, and `verify-local` passes on the image id the tag names.

mod common;

use std::path::{Path, PathBuf};

use common::World;
use latch::oci::Digest;
use latch::registry::NoProgress;
use latch::runtime::{CliKind, CliRuntime, Runtime};
use latch::{Error, Step, Updater, UpgradeOptions};
use latch_testkit::{Dockerd, PodmanStorage};

const STEPS: [Step; 6] = [
    Step::Verified,
    Step::Installed,
    Step::SignaturesStored,
    Step::StateSaved,
    Step::Tagged,
    Step::Cleaned,
];

/// The tag the application runs names `digest`, and nothing else is left in the
/// repository; verify-local passes and reports the tagged image's id.
async fn settled(u: &Updater, w: &World, digest: &Digest, what: &str) {
    let tag = w.reference("latest");
    let runtime = u.runtime();
    let tagged = runtime
        .tagged(&tag)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{what}: {tag} names nothing"));
    assert!(tagged.holds(digest), "{what}: {tag} names {tagged:?}");
    let images = runtime.images(&tag.repository_only()).await.unwrap();
    assert_eq!(images.len(), 1, "{what}: left behind: {images:?}");
    let local = u.verify_local(true).await.unwrap();
    assert_eq!(&local.digest, digest, "{what}");
    assert_eq!(local.image_id, tagged.id, "{what}");
}

/// Interrupts after every step, then lets a plain `upgrade` finish.
async fn interrupted_after_every_step(w: &World, u: &Updater) {
    let mut seed = 10;
    for step in STEPS {
        seed += 1;
        let vn = w.publish(seed, 100 + seed as i64, &seed.to_string()).await;
        let opts = UpgradeOptions {
            interrupt_after: Some(step),
            ..UpgradeOptions::default()
        };
        let err = u.upgrade(&opts, &NoProgress).await.unwrap_err();
        assert!(matches!(err, Error::Interrupted(s) if s == step), "{err}");
        let again = u
            .upgrade(&UpgradeOptions::default(), &NoProgress)
            .await
            .unwrap();
        assert_eq!(again.digest, vn, "{step:?}");
        if matches!(step, Step::StateSaved | Step::Tagged) {
            // The state already named it: this run only finished the job, and says so.
            assert_eq!(again.status, "up-to-date", "{step:?}");
            assert!(
                again
                    .warnings
                    .iter()
                    .any(|w| w.starts_with("finished an interrupted upgrade")),
                "{step:?}: {:?}",
                again.warnings
            );
        }
        settled(u, w, &vn, &format!("after {step:?}")).await;
    }
}

/// A runtime program that dies (exit 137, as if killed) the first time it is asked to
/// run `verb`, when `<dir>/fail-<verb>` exists.
fn dying_program(dir: &Path, real: &str) -> PathBuf {
    let path = dir.join(format!("dying-{}", real.rsplit('/').next().unwrap_or(real)));
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do\n  if [ -e \"{dir}/fail-$a\" ]; then rm -f \"{dir}/fail-$a\"; echo killed >&2; exit 137; fi\ndone\nexec {real} \"$@\"\n",
        dir = dir.display()
    );
    std::fs::write(&path, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

/// The runtime's `tag`, then its `rmi`, die in the middle of an upgrade; the next one
/// finishes.
async fn killed_inside_the_runtime(w: &World, u: &Updater, dir: &Path) {
    let mut seed = 40;
    for verb in ["tag", "rmi"] {
        seed += 1;
        let vn = w.publish(seed, 100 + seed as i64, &seed.to_string()).await;
        std::fs::write(dir.join(format!("fail-{verb}")), b"").unwrap();
        let err = u
            .upgrade(&UpgradeOptions::default(), &NoProgress)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Runtime(_)), "{verb}: {err}");
        assert!(
            !dir.join(format!("fail-{verb}")).exists(),
            "{verb} never ran"
        );
        let again = u
            .upgrade(&UpgradeOptions::default(), &NoProgress)
            .await
            .unwrap();
        assert_eq!(again.digest, vn, "{verb}");
        settled(u, w, &vn, &format!("killed in {verb}")).await;
    }
}

/// Another image under the tag the application runs: verify-local refuses, naming both.
async fn retagged_is_refused(w: &World, u: &Updater) {
    let installed = u.verify_local(false).await.unwrap();
    let other = w.push_image(99, "other");
    let runtime = u.runtime();
    let pulled = runtime
        .pull(
            &w.reference("other").with_digest(other.clone()),
            &w.client,
            None,
            &NoProgress,
        )
        .await
        .unwrap();
    let tag = w.reference("latest");
    runtime.tag(&pulled, &tag).await.unwrap();
    match u.verify_local(false).await {
        Err(e @ Error::TagMismatch { .. }) => {
            let Error::TagMismatch {
                expected, found, ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(expected, &installed.digest);
            let found = found.as_deref().unwrap();
            assert!(found.contains(&pulled.id), "{found}");
            assert!(e.to_string().contains(&installed.digest.to_string()), "{e}");
            assert_eq!(e.kind(), "tag-mismatch");
            assert_eq!(e.details().unwrap()["found"], found);
        }
        other => panic!("expected a tag mismatch, got {other:?}"),
    }
    // Deep too (the store re-hashes first, then checks the tag).
    assert!(matches!(
        u.verify_local(true).await,
        Err(Error::TagMismatch { .. })
    ));
    // The next upgrade puts the tag back and removes the stranger.
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.status, "up-to-date");
    settled(u, w, &installed.digest, "after a foreign tag").await;
}

async fn first_install(w: &World, u: &Updater) {
    let v1 = w.publish(1, 100, "1").await;
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, v1);
    settled(u, w, &v1, "first install").await;
}

#[tokio::test]
async fn builtin_store_finishes_interrupted_upgrades() {
    let w = World::new();
    let u = w.updater();
    first_install(&w, &u).await;
    interrupted_after_every_step(&w, &u).await;
    retagged_is_refused(&w, &u).await;
}

#[tokio::test]
async fn builtin_store_verify_local_checks_the_tag() {
    let w = World::new();
    let u = w.updater();
    // Nothing installed: still the typed "not installed", not a tag mismatch.
    assert!(matches!(
        u.verify_local(false).await,
        Err(Error::NotInstalled { .. })
    ));
    first_install(&w, &u).await;
    retagged_is_refused(&w, &u).await;
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "podman with its own storage is a Linux fixture"
)]
async fn podman_finishes_interrupted_upgrades() {
    let Some(storage) = PodmanStorage::new() else {
        return;
    };
    let w = World::new();
    let fail_dir = tempfile::tempdir().unwrap();
    let program = dying_program(fail_dir.path(), "podman");
    let runtime = Runtime::Podman(
        CliRuntime::new(CliKind::Podman, program)
            .with_global_args(storage.global_args())
            .with_temp_dir(storage.dir()),
    );
    let u = w.updater().with_runtime(runtime);
    first_install(&w, &u).await;
    interrupted_after_every_step(&w, &u).await;
    killed_inside_the_runtime(&w, &u, fail_dir.path()).await;
    retagged_is_refused(&w, &u).await;
    // Untagged by hand: verify-local names the missing tag, and the image is still there.
    let tag = w.reference("latest");
    let tagged = u.runtime().tagged(&tag).await.unwrap().unwrap();
    let Runtime::Podman(cli) = u.runtime() else {
        unreachable!()
    };
    let status = std::process::Command::new(cli.program())
        .args(storage.global_args())
        .args(["untag", &tagged.id, &tag.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    match u.verify_local(false).await {
        Err(Error::TagMismatch { found: None, .. }) => {}
        other => panic!("expected a missing tag, got {other:?}"),
    }
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "a private dockerd is a Linux fixture"
)]
async fn docker_finishes_interrupted_upgrades() {
    let Some(daemon) = Dockerd::start() else {
        return;
    };
    let w = World::new();
    let fail_dir = tempfile::tempdir().unwrap();
    let real = if Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    };
    let program = dying_program(fail_dir.path(), real);
    let runtime = Runtime::Docker(
        CliRuntime::new(CliKind::Docker, program)
            .with_env("DOCKER_HOST", daemon.host())
            .with_env("DOCKER_CONFIG", daemon.config_dir())
            .with_temp_dir(daemon.dir()),
    );
    let u = w.updater().with_runtime(runtime);
    first_install(&w, &u).await;
    interrupted_after_every_step(&w, &u).await;
    killed_inside_the_runtime(&w, &u, fail_dir.path()).await;
    retagged_is_refused(&w, &u).await;
}

/// `verify-local` with podman asks podman once, about the managed tag only, whatever
/// else the machine holds; and returns the id to run.
#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "podman with its own storage is a Linux fixture"
)]
async fn verify_local_asks_podman_once() {
    let Some(storage) = PodmanStorage::new() else {
        return;
    };
    let w = World::new();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    let program = dir.path().join("counting-podman");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec podman \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let runtime = Runtime::Podman(
        CliRuntime::new(CliKind::Podman, &program)
            .with_global_args(storage.global_args())
            .with_temp_dir(storage.dir()),
    );
    let u = w.updater().with_runtime(runtime);
    first_install(&w, &u).await;
    std::fs::remove_file(&log).unwrap();
    let local = u.verify_local(false).await.unwrap();
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].contains("images --format json --filter reference="),
        "{calls:?}"
    );
    assert!(
        calls[0].ends_with(&format!("{}:latest", w.repo)),
        "{calls:?}"
    );
    // The id is podman's own: `podman run <id>` runs exactly what was verified.
    assert_eq!(local.image_id.len(), 64, "{}", local.image_id);
}
