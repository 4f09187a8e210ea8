//! Staged rollouts: a schedule signed into the payload decides which installations take
//! an image when. 100 simulated installations (each its own data directory, so its own
//! install ID): at 20% roughly 20 take it, all of them once the schedule reaches 100%,
//! none while it is paused; `now` overrides; without a schedule everyone takes it.

mod common;

use common::{LogPosition, World, make_signature, now, push_signatures};
use latch::oci::Digest;
use latch::registry::NoProgress;
use latch::trust::rollout::ROLLOUT_ANNOTATION;
use latch::{Overrides, Updater, UpgradeOptions};

const FLEET: usize = 100;

fn fleet(w: &World) -> Vec<Updater> {
    (0..FLEET)
        .map(|i| {
            w.updater_with(Overrides {
                data_dir: Some(w.tmp.path().join(format!("install-{i}"))),
                ..w.overrides()
            })
        })
        .collect()
}

/// Signs `digest` again (replacing its signatures) with `schedule`, logged at `at`.
async fn schedule(w: &World, digest: &Digest, index: i64, at: i64, schedule: Option<&str>) {
    let mut ann = vec![(common::VERSION, "1")];
    if let Some(s) = schedule {
        ann.push((ROLLOUT_ANNOTATION, s));
    }
    let sig = make_signature(
        &w.key,
        &w.repo,
        digest,
        Some((&w.log, LogPosition { index, time: at })),
        &ann,
    );
    push_signatures(&w.client, &w.reference("latest"), digest, &[sig]).await;
}

/// How many of the fleet would take the image now (`check` does not say `held`).
async fn takers(fleet: &[Updater]) -> usize {
    let mut n = 0;
    for u in fleet {
        let c = u.check(true).await.unwrap();
        match c.status {
            "held" => {}
            "not-installed" | "update-available" => n += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    n
}

#[tokio::test]
async fn a_rollout_reaches_its_share_then_everyone_and_pauses() {
    let w = World::new();
    let d = w.push_image(1, "latest");
    let fleet = fleet(&w);

    // 20% from the log time (a minute ago), everyone after 30 days.
    let logged = now() - 60;
    schedule(&w, &d, 100, logged, Some("20%@0s,100%@30d")).await;
    let n = takers(&fleet).await;
    assert!((8..=35).contains(&n), "20% of {FLEET} took it: {n}");
    // The same installations answer the same way (a stable bucket).
    assert_eq!(takers(&fleet).await, n);
    // A held one says until when: the 30-day step.
    let held = {
        let mut found = None;
        for u in &fleet {
            let c = u.check(true).await.unwrap();
            if c.status == "held" {
                found = Some(c);
                break;
            }
        }
        found.unwrap()
    };
    assert_eq!(held.held_until, Some(logged + 30 * 86_400));
    assert!(held.held[0].contains("staged rollout"), "{:?}", held.held);

    // Signed again with 100% now: everyone.
    schedule(&w, &d, 101, now() - 30, Some("100%@0s")).await;
    assert_eq!(takers(&fleet).await, FLEET);

    // Paused: nobody; an upgrade is held (a status), and `now` takes it anyway.
    schedule(&w, &d, 102, now() - 20, Some("20%@0s,0%@1s")).await;
    assert_eq!(takers(&fleet).await, 0);
    let u = &fleet[0];
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!((r.status, r.held_until), ("held", None));
    assert!(
        r.warnings.iter().any(|w| w.contains("paused")),
        "{:?}",
        r.warnings
    );
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
    assert_eq!((r.status, &r.digest), ("upgraded", &d));

    // No schedule: everyone at once.
    schedule(&w, &d, 103, now() - 10, None).await;
    assert_eq!(takers(&fleet[1..]).await, FLEET - 1);
}
