//! Mirrors that fall back: when the primary registry refuses (here, a proxy in front of
//! it answering 503), the mirrors are tried in order and the freshest verified image
//! wins; signatures must still name the profile's repository, so a mirror serving an
//! image signed for another repository is refused; an OCI layout mirror works the same.

mod common;

use common::{LogPosition, World, make_signature, now, push_signatures};
use latch::oci::{Digest, OciLayout, Reference};
use latch::registry::{NoProgress, PullOptions, pull_to_layout};
use latch::{Error, Overrides, UpgradeOptions};
use latch_testkit::{Fault, ImageBuilder, Proxy, Registry};

/// Pushes the image of `seed` (the same bytes as `World::push_image`) to `repo:latest` in
/// `reg`, signed for `signed_for` at log index `index`.
async fn mirror_image(
    w: &World,
    reg: &Registry,
    repo: &str,
    seed: u64,
    index: i64,
    signed_for: &str,
) -> Digest {
    let dir = w
        .tmp
        .path()
        .join(format!("mirror-img-{seed}-{}", reg.port()));
    let index_img = ImageBuilder::new()
        .seed(seed)
        .gzip_layer(20_000)
        .build_multi_arch(&dir, "latest");
    let reference = format!("{}/{repo}:latest", reg.host());
    w.push_index(&index_img, &reference);
    let digest = index_img.digest().clone();
    let sig = make_signature(
        &w.key,
        signed_for,
        &digest,
        Some((
            &w.log,
            LogPosition {
                index,
                time: now() - 60,
            },
        )),
        &[(common::VERSION, &index.to_string())],
    );
    push_signatures(
        &w.client,
        &Reference::parse(&reference).unwrap(),
        &digest,
        &[sig],
    )
    .await;
    digest
}

#[tokio::test]
async fn a_refusing_primary_falls_back_to_the_freshest_mirror() {
    let w = World::new();
    let v1 = w.publish(1, 100, "100").await;
    let proxy = Proxy::start(&w.reg);
    let a = Registry::start();
    let b = Registry::start();
    let on_a = mirror_image(&w, &a, "mirror/sandbox", 1, 100, &w.repo).await;
    assert_eq!(on_a, v1, "the same image on the mirror");
    let v2 = mirror_image(&w, &b, "other/path", 2, 200, &w.repo).await;
    let mirrors = vec![
        format!("{}/mirror/sandbox", a.host()),
        format!("{}/other/path", b.host()),
    ];
    let o = Overrides {
        image: Some(format!("{}/app/sandbox:latest", proxy.host())),
        repository: Some(w.repo.clone()),
        mirrors: mirrors.clone(),
        ..w.overrides()
    };
    let u = w.updater_with(o.clone());

    // The primary answers: it is used, mirrors are not asked.
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (&r.digest, r.source.as_str()),
        (&v1, format!("{}/app/sandbox:latest", proxy.host()).as_str())
    );

    // The primary refuses: both mirrors answer, the freshest (v2, log index 200) wins.
    proxy.set_faults(vec![Fault::status(503).everywhere()]);
    let c = u.check(true).await.unwrap();
    assert_eq!(c.status, "update-available");
    assert_eq!(c.remote.as_ref(), Some(&v2));
    assert_eq!(
        c.source.as_deref(),
        Some(format!("{}:latest", mirrors[1]).as_str())
    );
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v2));
    assert!(r.source.starts_with(&mirrors[1]), "{}", r.source);
    let local = u.verify_local(true).await.unwrap();
    assert_eq!(local.digest, v2);
    // Installed under the profile's name only: no mirror name left in the store.
    let tagged = u
        .runtime()
        .tagged(&Reference::parse(&format!("{}/app/sandbox:latest", proxy.host())).unwrap())
        .await
        .unwrap();
    assert!(tagged.is_some_and(|t| t.holds(&v2)));
    let mirror_names = u
        .runtime()
        .images(&Reference::parse(&mirrors[1]).unwrap())
        .await
        .unwrap();
    assert!(mirror_names.is_empty(), "{mirror_names:?}");
}

#[tokio::test]
async fn a_mirror_serving_another_repositorys_image_is_refused() {
    let w = World::new();
    w.publish(1, 100, "100").await;
    let proxy = Proxy::start(&w.reg);
    proxy.set_faults(vec![Fault::status(503).everywhere()]);
    let m = Registry::start();
    let mirror_repo = format!("{}/evil/sandbox", m.host());
    // Validly signed by the trusted key, but for the mirror's repository.
    mirror_image(&w, &m, "evil/sandbox", 3, 300, &mirror_repo).await;
    let u = w.updater_with(Overrides {
        image: Some(format!("{}/app/sandbox:latest", proxy.host())),
        repository: Some(w.repo.clone()),
        mirrors: vec![mirror_repo.clone()],
        ..w.overrides()
    });
    match u.upgrade(&UpgradeOptions::default(), &NoProgress).await {
        Err(e @ Error::NoSource { .. }) => {
            let Error::NoSource { attempts } = &e else {
                unreachable!()
            };
            assert_eq!(attempts.len(), 2, "{attempts:?}");
            assert!(attempts[0].error.contains("503"), "{attempts:?}");
            assert!(attempts[1].source.starts_with(&mirror_repo));
            assert!(attempts[1].error.contains("not verified"), "{attempts:?}");
            assert_eq!(e.kind(), "no-source");
            assert_eq!(
                e.details().unwrap()["attempts"][1]["source"],
                attempts[1].source
            );
        }
        other => panic!("expected every source refused, got {other:?}"),
    }
    assert!(matches!(
        u.verify_local(false).await,
        Err(Error::NotInstalled { .. })
    ));
}

#[tokio::test]
async fn an_oci_layout_mirror_serves_when_the_registry_is_down() {
    let w = World::new();
    let v1 = w.publish(1, 100, "100").await;
    // A USB stick: the image and its signatures in a layout.
    let dir = w.tmp.path().join("usb");
    let layout = OciLayout::create(&dir).unwrap();
    pull_to_layout(
        &w.client,
        &w.reference("latest"),
        &layout,
        &PullOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    let sig = make_signature(
        &w.key,
        &w.repo,
        &v1,
        Some((
            &w.log,
            LogPosition {
                index: 100,
                time: now() - 60,
            },
        )),
        &[],
    );
    common::write_layout_signatures(&layout, &v1, &[sig]);
    let proxy = Proxy::start(&w.reg);
    proxy.set_faults(vec![Fault::status(503).everywhere()]);
    let u = w.updater_with(Overrides {
        image: Some(format!("{}/app/sandbox:latest", proxy.host())),
        repository: Some(w.repo.clone()),
        mirrors: vec![format!("oci:{}", dir.display())],
        ..w.overrides()
    });
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, v1);
    assert_eq!(r.source, format!("oci:{}", dir.display()));
    u.verify_local(true).await.unwrap();
}
