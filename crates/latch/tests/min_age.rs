//! The minimum age: a newer image is held (a status, not an error) until its newest
//! accepted signature was logged `min_age` ago, by the log's clock; `now` takes it anyway;
//! an old enough one is taken; an archive is not held.

mod common;

use common::{World, now};
use latch::registry::NoProgress;
use latch::{Error, Overrides, UpgradeOptions};

#[tokio::test]
async fn a_young_image_is_held_an_old_one_taken() {
    let w = World::new();
    let u = w.updater_with(Overrides {
        min_age: Some("1h".into()),
        ..w.overrides()
    });
    // Logged two hours ago: old enough.
    let v1 = w.push_image(1, "latest");
    w.sign(&v1, 100, now() - 7200, "1").await;
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v1));

    // Logged a minute ago: held until an hour after its log time, by check and upgrade.
    let logged = now() - 60;
    let v2 = w.push_image(2, "latest");
    w.sign(&v2, 200, logged, "2").await;
    let c = u.check(true).await.unwrap();
    assert_eq!((c.status, c.held_until), ("held", Some(logged + 3600)));
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.status, "held");
    assert_eq!(r.held_until, Some(logged + 3600));
    assert!(
        r.warnings.iter().any(|w| w.contains("--now")),
        "{:?}",
        r.warnings
    );
    assert_eq!(u.verify_local(true).await.unwrap().digest, v1);
    let s = u.status().await.unwrap();
    assert_eq!(s.last_log_index, Some(100), "no ratchet moved");

    // The archive of the same image is taken at once (the person carrying it chose it).
    let archive = w.tmp.path().join("v2.tar");
    let preparer = w.updater_with(Overrides {
        data_dir: Some(w.tmp.path().join("preparer")),
        ..w.overrides()
    });
    preparer
        .prepare_archive(None, &archive, false, &NoProgress)
        .await
        .unwrap();
    let elsewhere = w.updater_with(Overrides {
        data_dir: Some(w.tmp.path().join("elsewhere")),
        min_age: Some("1h".into()),
        ..w.overrides()
    });
    let r = elsewhere
        .load_archive(&archive, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v2));

    // `now` takes it anyway.
    let r = u
        .upgrade(
            &UpgradeOptions {
                now: true,
                ..UpgradeOptions::default()
            },
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v2));

    // Without a log time, the age cannot be measured: held, with no time given.
    let v3 = w.push_image(3, "latest");
    let unlogged = common::make_signature(&w.key, &w.repo, &v3, None, &[(common::VERSION, "3")]);
    common::push_signatures(&w.client, &w.reference("latest"), &v3, &[unlogged]).await;
    // (A fresh installation, so that no rollback ratchet asks for proof first.)
    let optional = w.updater_with(Overrides {
        data_dir: Some(w.tmp.path().join("fresh")),
        min_age: Some("1h".into()),
        tlog: Some(latch::trust::TlogMode::Optional),
        ..w.overrides()
    });
    let r = optional
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!((r.status, r.held_until), ("held", None));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("no accepted signature carries a log time")),
        "{:?}",
        r.warnings
    );
    assert!(matches!(
        optional.verify_local(false).await,
        Err(Error::NotInstalled { .. })
    ));
    assert_eq!(u.verify_local(true).await.unwrap().digest, v2);
}
