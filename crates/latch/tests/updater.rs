//! The updater end to end over a real registry: images signed in-process (with Rekor
//! SETs from a test log key) and by the independent peers (skopeo, cosign), installed
//! into the built-in store, podman and docker. Every attack is refused with a clear error,
//! nothing is installed, and the previous image still passes verify-local.

mod common;

use common::{LogPosition, TestKey, World, make_signature, now, push_signatures};
use latch::oci::Digest;
use latch::registry::NoProgress;
use latch::runtime::{CliKind, CliRuntime, Runtime};
use latch::{Error, Step, Updater, UpgradeOptions};
use latch_testkit::{DigestHeader, Dockerd, Fault, ImageBuilder, Peers, PodmanStorage, Proxy, run};

async fn installs(u: &Updater) -> Digest {
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.status, "upgraded", "{r:?}");
    let local = u.verify_local(true).await.unwrap();
    assert_eq!(local.digest, r.digest);
    r.digest
}

/// After a refused upgrade: the previous image is still what verify-local proves.
async fn still_installed(u: &Updater, previous: &Digest) {
    let local = u.verify_local(true).await.unwrap();
    assert_eq!(&local.digest, previous);
}

#[tokio::test]
async fn upgrades_verifies_and_keeps_dangerzone_state() {
    let w = World::new();
    let v1 = w.publish(1, 100, "1.0.0").await;
    let u = w.updater();
    assert!(matches!(
        u.verify_local(false).await,
        Err(Error::NotInstalled { .. })
    ));
    assert_eq!(installs(&u).await, v1);

    // Dangerzone's store: signatures/<sha256 of the key file>/<digest hex>.json, a JSON
    // list with all six members; last_log_index a bare decimal.
    let key_id = latch::trust::PublicKey::from_pem(&std::fs::read(&w.key.public_path).unwrap())
        .unwrap()
        .store_id()
        .to_owned();
    let file = w
        .data()
        .join("signatures")
        .join(&key_id)
        .join(format!("{}.json", v1.hex()));
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(list.len(), 1);
    for member in [
        "Base64Signature",
        "Payload",
        "Cert",
        "Chain",
        "Bundle",
        "RFC3161Timestamp",
    ] {
        assert!(list[0].get(member).is_some(), "{member} missing");
    }
    assert_eq!(
        std::fs::read_to_string(w.data().join("signatures/last_log_index")).unwrap(),
        "100"
    );

    // Up to date: said so, nothing pulled.
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.status, "up-to-date");

    // A newer image: upgraded, the old one removed from the store, old signatures kept.
    let v2 = w.publish(2, 200, "1.1.0").await;
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (r.status, &r.digest, r.previous.as_ref()),
        ("upgraded", &v2, Some(&v1))
    );
    assert_eq!(r.removed.len(), 1, "{r:?}");
    assert!(file.exists(), "old signatures are never deleted");
    assert_eq!(u.verify_local(true).await.unwrap().digest, v2);
    let status = u.status().await.unwrap();
    assert_eq!(status.installed.unwrap().signed_digest, v2);
    assert_eq!(status.last_log_index, Some(200));
    assert_eq!(status.runtime_digests, vec![v2.clone()]);
}

#[tokio::test]
async fn attacks_are_refused_and_the_previous_image_still_verifies() {
    let w = World::new();
    let v1 = w.publish(1, 100, "1.0.0").await;
    let v2 = w.publish(2, 200, "2.0.0").await;
    let u = w.updater();
    assert_eq!(installs(&u).await, v2);

    // Unsigned image.
    w.push_image(3, "latest");
    let err = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoSignatures { .. }), "{err}");
    still_installed(&u, &v2).await;

    // Signed by an untrusted key (with a valid log entry).
    let stranger = TestKey::generate(&w.tmp.path().join("keys"), "stranger");
    let d = w.push_image(4, "latest");
    let sig = make_signature(
        &stranger,
        &w.repo,
        &d,
        Some((
            &w.log,
            LogPosition {
                index: 300,
                time: now(),
            },
        )),
        &[],
    );
    push_signatures(&w.client, &w.reference("latest"), &d, &[sig]).await;
    let err = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotVerified { .. }), "{err}");
    assert!(err.to_string().contains("refused (signature)"), "{err}");
    still_installed(&u, &v2).await;

    // The signature of image A attached to image B.
    let a = w.publish(5, 400, "3.0.0").await;
    let b = w.push_image(6, "latest");
    let sig_a = make_signature(
        &w.key,
        &w.repo,
        &a,
        Some((
            &w.log,
            LogPosition {
                index: 401,
                time: now(),
            },
        )),
        &[],
    );
    push_signatures(&w.client, &w.reference("latest"), &b, &[sig_a]).await;
    let err = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refused (digest)"), "{err}");
    still_installed(&u, &v2).await;

    // A tampered SET.
    let c = w.push_image(7, "latest");
    let good = make_signature(
        &w.key,
        &w.repo,
        &c,
        Some((
            &w.log,
            LogPosition {
                index: 500,
                time: now(),
            },
        )),
        &[],
    );
    let (mut layer, payload) = good.to_layer();
    let bundle = layer
        .annotation("dev.sigstore.cosign/bundle")
        .unwrap()
        .to_owned();
    let mut v: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    v["Payload"]["logIndex"] = serde_json::json!(999_999);
    layer.set_annotation("dev.sigstore.cosign/bundle", &v.to_string());
    let tampered = match latch::trust::Signature::from_layer(&layer, &payload) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    push_signatures(&w.client, &w.reference("latest"), &c, &[tampered]).await;
    let err = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("rekor.set"), "{err}");
    still_installed(&u, &v2).await;

    // An older signed image re-tagged latest: a rollback, refused…
    w.retag_latest(&v1).await;
    let err = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rollback { .. }), "{err}");
    assert!(err.to_string().contains("below the floor 200"), "{err}");
    still_installed(&u, &v2).await;
    // …unless forced, loudly.
    let r = u
        .upgrade(
            &UpgradeOptions {
                force: true,
                ..UpgradeOptions::default()
            },
            &NoProgress,
        )
        .await
        .unwrap();
    assert!(
        r.forced && r.warnings.iter().any(|w| w.contains("ROLLBACK FORCED")),
        "{r:?}"
    );
    assert_eq!(u.verify_local(true).await.unwrap().digest, v1);
}

#[tokio::test]
async fn a_registry_that_lies_about_the_manifest_is_refused() {
    let w = World::new();
    let v1 = w.publish(1, 100, "1").await;
    let u = w.updater();
    installs(&u).await;
    let v2 = w.publish(2, 200, "2").await;
    let proxy = Proxy::start(&w.reg);
    let mut o = w.overrides();
    o.image = Some(format!("{}/app/sandbox:latest", proxy.host()));
    o.repository = Some(w.repo.clone());
    let through_proxy = w.updater_with(o);
    proxy.set_faults(vec![
        Fault::flip_byte(60, DigestHeader::Keep).on("GET", "/manifests/latest"),
    ]);
    let err = through_proxy
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Registry(_)), "{err}");
    assert!(
        err.to_string().contains("Docker-Content-Digest") || err.to_string().contains("manifest"),
        "{err}"
    );
    still_installed(&u, &v1).await;
    // The consistent liar (header recomputed): bytes that no one signed.
    proxy.set_faults(vec![
        Fault::replace_in_body("\"size\"", "\"size\" ", DigestHeader::Recompute)
            .on("GET", "/manifests/latest"),
    ]);
    let err = through_proxy
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NoSignatures { .. } | Error::NotVerified { .. }),
        "{err}"
    );
    still_installed(&u, &v1).await;
    let _ = v2;
}

#[tokio::test]
async fn stale_signatures_are_a_possible_freeze() {
    let w = World::new();
    let d = w.push_image(1, "latest");
    w.sign(&d, 100, now() - 40 * 86_400, "1").await;
    let mut o = w.overrides();
    o.max_signature_age = Some("30d".into());
    let u = w.updater_with(o);
    let err = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::FreezeSuspected { .. }), "{err}");
    assert!(err.to_string().contains("withholding"), "{err}");
    assert!(
        matches!(u.verify_local(false).await, Err(Error::NotInstalled { .. })),
        "nothing installed"
    );
    // A fresh signature of the same image lifts it.
    w.sign(&d, 101, now() - 3600, "1").await;
    installs(&u).await;
    // `check` reports the freeze too: the registry still serves this image, whose newest
    // signature is now older than a tighter maximum.
    let mut o = w.overrides();
    o.max_signature_age = Some("30m".into());
    let err = w.updater_with(o).check(true).await.unwrap_err();
    assert!(matches!(err, Error::FreezeSuspected { .. }), "{err}");
    assert!(
        err.to_string().contains("still serves the installed image"),
        "{err}"
    );
}

#[tokio::test]
async fn two_upgrades_at_once_one_fails_cleanly() {
    let w = World::new();
    w.publish(1, 100, "1").await;
    let u = w.updater();
    let lock = u.store().lock(false).unwrap();
    let err = w
        .updater()
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Locked(_)), "{err}");
    assert!(err.to_string().contains("another Latch process"), "{err}");
    drop(lock);
    // Two real concurrent upgrades: one upgrades, the other waits then finds it done.
    let (a, b) = tokio::join!(
        async {
            w.updater()
                .upgrade(
                    &UpgradeOptions {
                        wait: true,
                        ..UpgradeOptions::default()
                    },
                    &NoProgress,
                )
                .await
        },
        async {
            w.updater()
                .upgrade(
                    &UpgradeOptions {
                        wait: true,
                        ..UpgradeOptions::default()
                    },
                    &NoProgress,
                )
                .await
        }
    );
    let mut statuses = vec![a.unwrap().status, b.unwrap().status];
    statuses.sort();
    assert_eq!(statuses, ["up-to-date", "upgraded"]);
    u.verify_local(true).await.unwrap();
}

#[tokio::test]
async fn an_upgrade_interrupted_at_any_step_leaves_the_old_image_verifying() {
    let w = World::new();
    let v1 = w.publish(1, 100, "1").await;
    let u = w.updater();
    installs(&u).await;
    let mut index = 200;
    for step in [
        Step::Verified,
        Step::Installed,
        Step::SignaturesStored,
        Step::StateSaved,
        Step::Tagged,
        Step::Cleaned,
    ] {
        index += 10;
        let vn = w
            .publish(10 + index as u64, index, &index.to_string())
            .await;
        let opts = UpgradeOptions {
            interrupt_after: Some(step),
            ..UpgradeOptions::default()
        };
        let err = u.upgrade(&opts, &NoProgress).await.unwrap_err();
        assert!(matches!(err, Error::Interrupted(s) if s == step), "{err}");
        // Before the state is saved the old image is the installed one; once tagged, the
        // new one is. In between, the tag still names the old image: verify-local says
        // so (typed) rather than pass an image the application does not run.
        let saved = matches!(step, Step::StateSaved | Step::Tagged | Step::Cleaned);
        let prev = u.status().await.unwrap();
        if step == Step::StateSaved {
            match u.verify_local(true).await {
                Err(Error::TagMismatch {
                    expected, found, ..
                }) => {
                    assert_eq!(expected, vn);
                    assert!(found.is_some());
                }
                other => panic!("expected a tag mismatch, got {other:?}"),
            }
        } else {
            let local = u.verify_local(true).await.unwrap();
            if saved {
                assert_eq!(local.digest, vn, "{step:?}");
            } else {
                assert_ne!(local.digest, vn, "{step:?}");
            }
        }
        // A clean run afterwards completes the upgrade.
        let r = u
            .upgrade(&UpgradeOptions::default(), &NoProgress)
            .await
            .unwrap();
        assert_eq!(r.digest, vn, "{step:?}");
        assert_eq!(u.verify_local(true).await.unwrap().digest, vn);
        let _ = prev;
    }
    let _ = v1;
}

#[tokio::test]
async fn a_tampered_store_is_reported_never_trusted() {
    let w = World::new();
    let v1 = w.publish(1, 100, "1").await;
    let u = w.updater();
    installs(&u).await;
    let sig_dir = w.data().join("signatures");
    let key_dir = std::fs::read_dir(&sig_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let file = key_dir.join(format!("{}.json", v1.hex()));
    let original = std::fs::read(&file).unwrap();
    // Swap in a signature for another digest: not verified.
    let other = make_signature(
        &w.key,
        &w.repo,
        &Digest::sha256_of(b"x"),
        Some((
            &w.log,
            LogPosition {
                index: 1,
                time: now(),
            },
        )),
        &[],
    );
    std::fs::write(&file, latch::trust::to_cosign_download_list(&[other])).unwrap();
    let err = u.verify_local(false).await.unwrap_err();
    assert!(matches!(err, Error::NotVerified { .. }), "{err}");
    // Garbage: reported as corrupt, left in place.
    std::fs::write(&file, b"{garbage").unwrap();
    let err = u.verify_local(false).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::StoreCorrupt { .. } | Error::BadSignatures { .. }
        ),
        "{err}"
    );
    assert!(file.exists());
    std::fs::write(&file, &original).unwrap();
    u.verify_local(false).await.unwrap();
    // A corrupt last_log_index stops upgrades (it is the rollback floor) and is kept.
    std::fs::write(sig_dir.join("last_log_index"), "not a number").unwrap();
    let err = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StoreCorrupt { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(sig_dir.join("last_log_index")).unwrap(),
        "not a number"
    );
    // A layer of the built-in store altered: verify-local --deep catches it.
    std::fs::write(sig_dir.join("last_log_index"), "100").unwrap();
    let store = w.data().join("store/blobs/sha256");
    let mut biggest = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&biggest).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&mut biggest, bytes).unwrap();
    let err = u.verify_local(true).await.unwrap_err();
    assert!(matches!(err, Error::Runtime(_)), "{err}");
}

#[tokio::test]
async fn a_layout_mirror_is_verified_the_same_way() {
    let w = World::new();
    let v1 = w.publish(1, 100, "1").await;
    // Mirror: the image and its .sig, pulled into an OCI layout (as on a USB stick).
    let mirror = w.tmp.path().join("mirror");
    let layout = latch::oci::OciLayout::create(&mirror).unwrap();
    latch::registry::pull_to_layout(
        &w.client,
        &w.reference("latest"),
        &layout,
        &latch::registry::PullOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    let sig_tag = format!("{}.sig", v1.tag_form());
    latch::registry::pull_to_layout(
        &w.client,
        &w.reference(&sig_tag),
        &layout,
        &latch::registry::PullOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    let mut o = w.overrides();
    o.source_layout = Some(mirror.clone());
    let u = w.updater_with(o.clone());
    assert_eq!(installs(&u).await, v1);
    // A mirror whose signature was made by someone else is refused the same way.
    let stranger = TestKey::generate(&w.tmp.path().join("keys"), "stranger2");
    let mut o2 = o;
    o2.keys = vec![stranger.public_path.clone()];
    o2.data_dir = Some(w.tmp.path().join("data2"));
    let err = w
        .updater_with(o2)
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotVerified { .. }), "{err}");
}

#[tokio::test]
async fn checks_are_opt_in_with_a_cooldown_and_cost_one_request_when_nothing_changed() {
    let w = World::new();
    w.publish(1, 100, "1").await;
    let proxy = Proxy::start(&w.reg);
    let mut o = w.overrides();
    o.image = Some(format!("{}/app/sandbox:latest", proxy.host()));
    o.repository = Some(w.repo.clone());
    let u = w.updater_with(o);
    // Automatic checks are off until the user turns them on.
    let r = u.check(false).await.unwrap();
    assert_eq!((r.status, r.contacted_registry), ("disabled", false));
    assert!(proxy.log().is_empty());
    // An explicit check always runs.
    let r = u.check(true).await.unwrap();
    assert_eq!(r.status, "not-installed");
    u.upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    u.set_updates_enabled(true).unwrap();
    let r = u.check(false).await.unwrap();
    assert_eq!(
        r.status, "cooldown",
        "the explicit check started the cooldown"
    );
    // No change: one HEAD, nothing else.
    proxy.clear_log();
    let r = u.check(true).await.unwrap();
    assert_eq!(r.status, "up-to-date");
    let log = proxy.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].method, "HEAD");
    // A new image: found, verified, reported.
    w.publish(2, 200, "2").await;
    let r = u.check(true).await.unwrap();
    assert_eq!(r.status, "update-available");
    assert_eq!(r.log_index, Some(200));
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "cosign and skopeo (the peer tools) are Linux programs"
)]
async fn images_signed_by_cosign_and_skopeo_upgrade() {
    let Some(peers) = Peers::require() else {
        return;
    };
    let w = World::new();
    let keys = w.tmp.path().join("peer-keys");
    std::fs::create_dir_all(&keys).unwrap();
    let mut c = peers.command("cosign");
    c.arg("generate-key-pair")
        .current_dir(&keys)
        .env("COSIGN_PASSWORD", "")
        .env("HOME", &keys);
    run(&mut c);
    let pass = keys.join("pass");
    std::fs::write(&pass, "pw").unwrap();
    let mut c = peers.command("skopeo");
    c.args(["generate-sigstore-key", "--output-prefix"])
        .arg(keys.join("skopeo"))
        .arg("--passphrase-file")
        .arg(&pass);
    run(&mut c);

    // cosign signs image 1 by digest; skopeo signs image 2 while pushing it.
    let d1 = w.push_image(1, "latest");
    let mut c = peers.command("cosign");
    c.args(["sign", "--key"])
        .arg(keys.join("cosign.key"))
        .args(["--tlog-upload=false", "--allow-http-registry", "--yes"])
        .arg(format!("{}@{d1}", w.repo))
        .env("COSIGN_PASSWORD", "")
        .env("HOME", &keys);
    run(&mut c);
    let mut o = w.overrides();
    o.keys = vec![keys.join("cosign.pub"), keys.join("skopeo.pub")];
    o.rekor_keys = vec![];
    let u = w.updater_with(o);
    assert_eq!(installs(&u).await, d1);

    let dir = w.tmp.path().join("img-2");
    let index = ImageBuilder::new()
        .seed(2)
        .gzip_layer(1000)
        .build_multi_arch(&dir, "latest");
    let regd = w.tmp.path().join("registries.d");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("local.yaml"),
        format!(
            "docker:\n  {}:\n    use-sigstore-attachments: true\n",
            w.reg.host()
        ),
    )
    .unwrap();
    let mut c = peers.command("skopeo");
    c.arg("--insecure-policy")
        .arg("--registries.d")
        .arg(&regd)
        .args([
            "copy",
            "--all",
            "--dest-tls-verify=false",
            "--preserve-digests",
            "--sign-by-sigstore-private-key",
        ])
        .arg(keys.join("skopeo.private"))
        .arg("--sign-passphrase-file")
        .arg(&pass)
        .arg(format!("oci:{}:latest", dir.display()))
        .arg(format!("docker://{}:latest", w.repo));
    run(&mut c);
    // Neither signature is logged nor carries a signed version: once an image is
    // installed, nothing proves the next one is not older, so it takes --force (loudly).
    match u.upgrade(&UpgradeOptions::default(), &NoProgress).await {
        Err(Error::Rollback { reasons }) => assert!(
            matches!(
                reasons[..],
                [latch::RollbackReason::Unprovable {
                    installed: true,
                    ..
                }]
            ),
            "{reasons:?}"
        ),
        other => panic!("expected an unprovable rollback, got {other:?}"),
    }
    let forced = UpgradeOptions {
        force: true,
        ..UpgradeOptions::default()
    };
    let r = u.upgrade(&forced, &NoProgress).await.unwrap();
    assert_eq!(&r.digest, index.digest());
    assert!(r.forced && r.warnings.iter().any(|w| w.starts_with("ROLLBACK FORCED")));
    assert_eq!(u.verify_local(true).await.unwrap().digest, *index.digest());
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "podman with its own storage is a Linux fixture"
)]
async fn into_podman() {
    let Some(storage) = PodmanStorage::new() else {
        return;
    };
    let w = World::new();
    let v1 = w.publish(1, 100, "1").await;
    let runtime = Runtime::Podman(
        CliRuntime::podman()
            .with_global_args(storage.global_args())
            .with_temp_dir(storage.dir()),
    );
    let u = w.updater().with_runtime(runtime.clone());
    assert_eq!(installs(&u).await, v1);
    let v2 = w.publish(2, 200, "2").await;
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, v2);
    // Dangerzone's check finds exactly the new digest under the repository.
    let repo = w.reference("latest").repository_only();
    assert_eq!(
        runtime.installed_digest(&repo).await.unwrap(),
        Some(v2.clone())
    );
    // An attack still leaves it verifying.
    w.retag_latest(&v1).await;
    assert!(matches!(
        u.upgrade(&UpgradeOptions::default(), &NoProgress).await,
        Err(Error::Rollback { .. })
    ));
    assert_eq!(u.verify_local(false).await.unwrap().digest, v2);
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "a private dockerd is a Linux fixture"
)]
async fn into_docker() {
    let Some(daemon) = Dockerd::start() else {
        return;
    };
    let w = World::new();
    let v1 = w.publish(1, 100, "1").await;
    let program = if std::path::Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    };
    let runtime = Runtime::Docker(
        CliRuntime::new(CliKind::Docker, program)
            .with_env("DOCKER_HOST", daemon.host())
            .with_env("DOCKER_CONFIG", daemon.config_dir())
            .with_temp_dir(daemon.dir()),
    );
    let u = w.updater().with_runtime(runtime);
    assert_eq!(installs(&u).await, v1);
    let v2 = w.publish(2, 200, "2").await;
    assert_eq!(
        u.upgrade(&UpgradeOptions::default(), &NoProgress)
            .await
            .unwrap()
            .digest,
        v2
    );
    w.push_image(9, "latest");
    assert!(matches!(
        u.upgrade(&UpgradeOptions::default(), &NoProgress).await,
        Err(Error::NoSignatures { .. })
    ));
    assert_eq!(u.verify_local(false).await.unwrap().digest, v2);
}

/// Rollback protection is never lost silently: with the log optional, an older image whose
/// signature simply omits its (unsigned) Rekor bundle does not replace a newer one; with
/// no Rekor key, a rollback floor is still enforced; each refusal is typed, with the
/// values, and `force` takes the image only loudly.
#[tokio::test]
async fn rollback_protection_is_never_lost_silently() {
    let w = World::new();
    let v1 = w.push_image(1, "latest");
    let v2 = w.publish(2, 200, "2.0.0").await;
    let optional = latch::Overrides {
        tlog: Some(latch::trust::TlogMode::Optional),
        ..w.overrides()
    };
    let u = w.updater_with(optional);
    assert_eq!(installs(&u).await, v2);
    // v1, signed by the trusted key, its bundle dropped: nothing proves it is not older.
    let unlogged = make_signature(&w.key, &w.repo, &v1, None, &[]);
    push_signatures(&w.client, &w.reference("latest"), &v1, &[unlogged]).await;
    w.retag_latest(&v1).await;
    match u.upgrade(&UpgradeOptions::default(), &NoProgress).await {
        Err(Error::Rollback { reasons }) => {
            assert_eq!(
                reasons,
                vec![latch::RollbackReason::Unprovable {
                    floor: Some(200),
                    installed: true
                }]
            );
            let e = Error::Rollback { reasons };
            assert!(e.to_string().contains("nothing proves"), "{e}");
            assert_eq!(e.details().unwrap()["reasons"][0]["kind"], "unprovable");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    still_installed(&u, &v2).await;
    // `check` says the same.
    assert!(matches!(u.check(true).await, Err(Error::Rollback { .. })));
    // Forced: taken, and said loudly.
    let forced = UpgradeOptions {
        force: true,
        ..UpgradeOptions::default()
    };
    let r = u.upgrade(&forced, &NoProgress).await.unwrap();
    assert_eq!(r.digest, v1);
    assert!(r.forced);
    assert!(
        r.warnings.iter().any(|w| w.starts_with("ROLLBACK FORCED")),
        "{:?}",
        r.warnings
    );

    // No Rekor key: the log is ignored, so no signature carries a verified index; a
    // floor the application ships is still enforced, not skipped.
    let v3 = w.publish(3, 300, "3.0.0").await;
    let no_log = latch::Overrides {
        rekor_keys: vec![],
        rollback_floor: Some(250),
        data_dir: Some(w.tmp.path().join("no-log")),
        ..w.overrides()
    };
    let fresh = w.updater_with(no_log);
    match fresh.upgrade(&UpgradeOptions::default(), &NoProgress).await {
        Err(Error::Rollback { reasons }) => assert_eq!(
            reasons,
            vec![latch::RollbackReason::Unprovable {
                floor: Some(250),
                installed: false
            }]
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        fresh.verify_local(false).await,
        Err(Error::NotInstalled { .. })
    ));
    // A proven older index is refused with both values.
    let floor = latch::Overrides {
        rollback_floor: Some(350),
        data_dir: Some(w.tmp.path().join("floor")),
        ..w.overrides()
    };
    match w
        .updater_with(floor)
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
    {
        Err(Error::Rollback { reasons }) => assert_eq!(
            reasons,
            vec![latch::RollbackReason::BelowFloor {
                floor: 350,
                offered: 300
            }]
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let _ = v3;
}

/// On a fresh installation, an image without the signed version the profile ratchets on
/// is refused for what is missing, not as "older than the one accepted".
#[tokio::test]
async fn a_missing_signed_version_is_named_as_missing() {
    let w = World::new();
    let d = w.push_image(1, "latest");
    let sig = make_signature(
        &w.key,
        &w.repo,
        &d,
        Some((
            &w.log,
            LogPosition {
                index: 10,
                time: now() - 60,
            },
        )),
        &[],
    );
    push_signatures(&w.client, &w.reference("latest"), &d, &[sig]).await;
    let mut profile = latch::Profile::from_overrides(w.overrides()).unwrap();
    profile.version_annotation = Some(common::VERSION.to_owned());
    let u = w.updater_for(profile);
    let e = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Rollback { reasons } if reasons == &vec![latch::RollbackReason::MissingVersion { annotation: common::VERSION.to_owned() }]),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        !msg.contains("older than the one already accepted"),
        "{msg}"
    );
    assert!(msg.contains(common::VERSION), "{msg}");
}

/// A signature whose payload blob is not what its layer says (another size) is refused
/// for that, not as "no blob supplied".
#[tokio::test]
async fn a_payload_blob_of_the_wrong_size_is_named() {
    let w = World::new();
    let d = w.push_image(1, "latest");
    let sig = make_signature(
        &w.key,
        &w.repo,
        &d,
        Some((
            &w.log,
            LogPosition {
                index: 10,
                time: now() - 60,
            },
        )),
        &[],
    );
    let (manifest, blobs) = common::sig_manifest(&[sig]);
    for (desc, bytes) in blobs {
        w.client
            .push_blob_bytes(&w.reference("latest"), &desc.media_type, bytes.into())
            .await
            .unwrap();
    }
    let mut image = manifest.as_image().unwrap().clone();
    image.layers[0].size += 1;
    let lying = latch::oci::ManifestBytes::from_image(&image);
    w.client
        .put_manifest(
            &w.reference("latest"),
            &format!("{}.sig", d.tag_form()),
            &lying,
        )
        .await
        .unwrap();
    let err = w
        .updater()
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NotVerified { .. }), "{msg}");
    assert!(msg.contains("could not be used"), "{msg}");
    assert!(!msg.contains("no blob supplied"), "{msg}");
}

/// Every path below `dir` whose name Windows could not hold: a reserved character
/// (`<>:"/\|?*` or a control character), a trailing dot or space, or a device name
/// (`CON`, `NUL`, `COM1`, ...).
fn names_windows_refuses(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut bad = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
            let device = ["CON", "PRN", "AUX", "NUL"].contains(&stem.as_str())
                || ((stem.starts_with("COM") || stem.starts_with("LPT"))
                    && stem.len() == 4
                    && stem.as_bytes()[3].is_ascii_digit());
            if name
                .chars()
                .any(|c| "<>:\"/\\|?*".contains(c) || c.is_control())
                || name.ends_with('.')
                || name.ends_with(' ')
                || device
            {
                bad.push(path.clone());
            }
            if path.is_dir() {
                todo.push(path);
            }
        }
    }
    bad
}

/// A data directory like a Windows user's (`C:\Users\Jane Doe\AppData\Local\...`: spaces)
/// nested past Windows' 260-character limit for paths: upgrade, verify-local, status and
/// a second upgrade work, and nothing Latch writes there has a name Windows refuses
/// (digests go to disk as `sha256/<hex>` or `sha256-<hex>`, never with their `:`).
#[tokio::test]
async fn a_long_data_directory_with_spaces_works_and_holds_only_names_windows_allows() {
    let w = World::new();
    let v1 = w.publish(1, 100, "1").await;
    let mut data = w.tmp.path().join("Jane Doe").join("App Data").join("Local");
    while data.as_os_str().len() < 300 {
        data = data.join("a folder with spaces");
    }
    let u = w.updater_with(latch::Overrides {
        data_dir: Some(data.clone()),
        ..w.overrides()
    });
    assert_eq!(installs(&u).await, v1);
    let v2 = w.publish(2, 200, "2").await;
    assert_eq!(installs(&u).await, v2);
    let status = u.status().await.unwrap();
    assert_eq!(status.installed.map(|i| i.signed_digest), Some(v2));
    let bad = names_windows_refuses(&data);
    assert!(bad.is_empty(), "names Windows refuses: {bad:?}");
    assert!(
        data.join("store").is_dir(),
        "the store is inside the data directory"
    );
}
