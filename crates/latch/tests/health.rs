//! Health checks and automatic revert: a new image is verified and installed beside the
//! old one; only when its health check passes do the state, the ratchets and the tag move
//! to it. A failing check leaves the old image installed, tagged and verifying, removes
//! the new one, and records its digest as failed (skipped until a newer one is signed,
//! unless retried). For the built-in store and podman.

mod common;

use common::World;
use latch::flows::health::HealthCheck;
use latch::oci::Digest;
use latch::registry::NoProgress;
use latch::runtime::{CliRuntime, Runtime};
use latch::{Error, Overrides, Updater, UpgradeOptions};
use latch_testkit::PodmanStorage;

/// A check that refuses exactly `bad`: an `sh` script, or on Windows a `cmd` one (its
/// words passed apart, so that none needs quoting).
fn refusing(bad: &Digest) -> Vec<String> {
    if cfg!(windows) {
        let words = ["cmd", "/C", "if", "%LATCH_DIGEST%==", "exit", "1"];
        let mut argv: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        argv[3].push_str(&bad.to_string());
        argv
    } else {
        vec![
            "sh".into(),
            "-c".into(),
            format!("echo checking {{image}} >&2; test \"$LATCH_DIGEST\" != {bad}"),
        ]
    }
}

/// A check that never ends by itself (its timeout ends it).
fn hanging() -> Vec<String> {
    let words: &[&str] = if cfg!(windows) {
        &["cmd", "/C", "for", "/L", "%i", "in", "(1,0,2)", "do", "rem"]
    } else {
        &["sleep", "30"]
    };
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// The old image is what the application runs, verified; the new one is gone.
async fn still_on(u: &Updater, w: &World, old: &Digest, gone: &Digest) {
    let local = u.verify_local(true).await.unwrap();
    assert_eq!(&local.digest, old);
    let tag = w.reference("latest");
    let tagged = u.runtime().tagged(&tag).await.unwrap().unwrap();
    assert!(tagged.holds(old));
    let images = u.runtime().images(&tag.repository_only()).await.unwrap();
    assert!(
        images.iter().all(|i| !i.holds(gone)),
        "the failed image was not removed: {images:?}"
    );
}

async fn fails_then_recovers(w: &World, make: impl Fn(Overrides) -> Updater) {
    let v1 = w.publish(1, 100, "1").await;
    let v2 = w.publish(2, 200, "2").await;
    w.retag_latest(&v1).await;
    let plain = make(w.overrides());
    let r = plain
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, v1);
    w.retag_latest(&v2).await;

    // The profile's check refuses v2.
    let checked = make(Overrides {
        health_check: Some(refusing(&v2)),
        ..w.overrides()
    });
    match checked
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
    {
        Err(e @ Error::HealthCheckFailed { .. }) => {
            assert_eq!(e.kind(), "health-check-failed");
            let msg = e.to_string();
            assert!(msg.contains(&v2.to_string()), "{msg}");
            assert!(msg.contains("previous image stays installed"), "{msg}");
            assert_eq!(e.details().unwrap()["digest"], v2.to_string());
        }
        other => panic!("expected a failed health check, got {other:?}"),
    }
    still_on(&checked, w, &v1, &v2).await;
    // The state and the ratchets did not move; the failure is recorded and shown.
    let s = checked.status().await.unwrap();
    assert_eq!(s.installed.as_ref().unwrap().signed_digest, v1);
    assert_eq!(s.last_log_index, Some(100));
    let failed = s.failed.unwrap();
    assert_eq!(failed.digest, v2);
    assert!(failed.reason.contains("failed"), "{}", failed.reason);
    assert_eq!(s.health_check.unwrap(), refusing(&v2));

    // Not tried again: a status, not an error, and nothing pulled.
    let r = checked
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.status, "failed-before");
    assert!(r.warnings.iter().any(|w| w.contains("--retry-failed")));
    still_on(&checked, w, &v1, &v2).await;

    // Retried with a check in code that passes: installed, the failure forgotten.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let opts = UpgradeOptions {
        retry_failed: true,
        health_check: Some(HealthCheck::callback(move |t| {
            log.lock()
                .unwrap()
                .push((t.image.clone(), t.digest.clone()));
            Ok(())
        })),
        ..UpgradeOptions::default()
    };
    let r = checked.upgrade(&opts, &NoProgress).await.unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v2));
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(seen.lock().unwrap()[0].1, v2);
    assert_eq!(checked.verify_local(true).await.unwrap().digest, v2);
    let s = checked.status().await.unwrap();
    assert!(s.failed.is_none());
    assert_eq!(s.last_log_index, Some(200));

    // A check that hangs is ended by its timeout, and counts as a failure.
    let v3 = w.publish(3, 300, "3").await;
    let slow = make(Overrides {
        health_check: Some(hanging()),
        health_timeout: Some("1s".into()),
        ..w.overrides()
    });
    match slow.upgrade(&UpgradeOptions::default(), &NoProgress).await {
        Err(Error::HealthCheckFailed { digest, reason }) => {
            assert_eq!(digest, v3);
            assert!(reason.contains("did not finish within 1s"), "{reason}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    still_on(&slow, w, &v2, &v3).await;
    // A newer image after a failed one is tried normally.
    let v4 = w.publish(4, 400, "4").await;
    let r = checked
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, v4);
}

#[tokio::test]
async fn a_failing_check_reverts_in_the_builtin_store() {
    let w = World::new();
    fails_then_recovers(&w, |o| w.updater_with(o)).await;
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "podman with its own storage is a Linux fixture"
)]
async fn a_failing_check_reverts_in_podman() {
    let Some(storage) = PodmanStorage::new() else {
        return;
    };
    let w = World::new();
    let runtime = Runtime::Podman(
        CliRuntime::podman()
            .with_global_args(storage.global_args())
            .with_temp_dir(storage.dir()),
    );
    fails_then_recovers(&w, |o| w.updater_with(o).with_runtime(runtime.clone())).await;
    // The image handed to the check is one podman can run: its id.
    let v5 = w.publish(5, 500, "5").await;
    let mut argv: Vec<String> = vec!["podman".into()];
    argv.extend(
        storage
            .global_args()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    argv.extend(["image".into(), "exists".into(), "{image}".into()]);
    let u = w
        .updater_with(Overrides {
            health_check: Some(argv),
            ..w.overrides()
        })
        .with_runtime(runtime.clone());
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, v5);
}
