//! Nightly tags in a real registry (which lists tags unsorted).

use latch_sign::{NightlyError, NightlyQuery, nightlies};
use latch_testkit::Registry;

use crate::*;

/// 2024-12-20 06:00 UTC.
const NOW: i64 = 1_734_652_800 + 6 * 3_600;

#[tokio::test]
async fn lists_orders_selects_and_refuses_old_candidates() {
    let reg = Registry::start();
    let (a, da) = push_image(&reg, "nightly/app:seed-a", 51);
    let (b, db) = push_image(&reg, "nightly/app:seed-b", 52);
    let c = client();
    let ma = c.get_manifest(&a).await.unwrap();
    let mb = c.get_manifest(&b).await.unwrap();
    let repo = Reference::parse(&format!("{}/nightly/app", reg.host())).unwrap();
    let tags = [
        ("20241217-0.8.0-70-g1111111", &ma),
        ("20241219-0.8.0-77-g06a9117", &mb),
        ("20241218-0.8.0-77-g06a9117", &ma),
        ("20241219-0.8.0-76-g2222222", &ma),
        ("20241101-0.7.1-3-g3333333", &ma),
        ("latest", &ma),
        ("20241219-nightly", &ma),
        ("2024-12-19-0.8.0-1-g06a9117", &ma),
    ];
    for (t, m) in tags {
        c.put_manifest(&repo, t, m).await.unwrap();
    }

    let all = nightlies(
        &c,
        &repo,
        &NightlyQuery {
            now: NOW,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let order: Vec<&str> = all.nightlies.iter().map(|n| n.tag.as_str()).collect();
    assert_eq!(
        order,
        [
            "20241219-0.8.0-77-g06a9117",
            "20241219-0.8.0-76-g2222222",
            "20241218-0.8.0-77-g06a9117",
            "20241217-0.8.0-70-g1111111",
            "20241101-0.7.1-3-g3333333",
        ]
    );
    for junk in [
        "latest",
        "20241219-nightly",
        "2024-12-19-0.8.0-1-g06a9117",
        "seed-a",
    ] {
        assert!(
            all.ignored.iter().any(|t| t == junk),
            "{junk} in {:?}",
            all.ignored
        );
    }
    let newest = all.candidate.unwrap();
    assert_eq!(newest.nightly.tag, "20241219-0.8.0-77-g06a9117");
    assert_eq!(newest.digest, db);

    // The newest nightly of a commit, by short or full id (anchored prefix).
    let full = format!("06a9117{}", "f".repeat(33));
    for commit in ["06a9117", "06A9117", full.as_str(), "06a91"] {
        let r = nightlies(
            &c,
            &repo,
            &NightlyQuery {
                commit: Some(commit.into()),
                max_age_secs: Some(2 * 86_400),
                now: NOW,
            },
        )
        .await
        .unwrap();
        let cand = r.candidate.unwrap();
        assert_eq!(cand.nightly.tag, "20241219-0.8.0-77-g06a9117", "{commit}");
        assert_eq!(cand.digest, db);
        assert_eq!(cand.reference, format!("{}/nightly/app@{db}", reg.host()));
        assert_eq!(cand.age_secs, 30 * 3_600);
    }
    let r = nightlies(
        &c,
        &repo,
        &NightlyQuery {
            commit: Some("1111111".into()),
            max_age_secs: Some(7 * 86_400),
            now: NOW,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.candidate.unwrap().digest, da);

    // Too old, unknown commit, not anchored, bad input.
    let q = |commit: &str, max: Option<i64>| NightlyQuery {
        commit: Some(commit.into()),
        max_age_secs: max,
        now: NOW,
    };
    match nightlies(&c, &repo, &q("1111111", Some(2 * 86_400))).await {
        Err(NightlyError::TooOld { tag, .. }) => assert_eq!(tag, "20241217-0.8.0-70-g1111111"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        nightlies(&c, &repo, &q("abcdef0", None)).await,
        Err(NightlyError::NoCandidate { .. })
    ));
    assert!(matches!(
        nightlies(&c, &repo, &q("a9117", None)).await,
        Err(NightlyError::NoCandidate { .. })
    ));
    assert!(matches!(
        nightlies(&c, &repo, &q("xyz", None)).await,
        Err(NightlyError::BadCommit { .. })
    ));
    // Without a commit, a maximum age applies to the newest nightly.
    let stale = NightlyQuery {
        commit: None,
        max_age_secs: Some(3_600),
        now: NOW + 10 * 86_400,
    };
    assert!(matches!(
        nightlies(&c, &repo, &stale).await,
        Err(NightlyError::TooOld { .. })
    ));

    // A repository without nightlies: an empty report, or an error when a commit is asked.
    let (_e, _) = push_image(&reg, "nightly/empty:latest", 53);
    let empty = Reference::parse(&format!("{}/nightly/empty", reg.host())).unwrap();
    let r = nightlies(
        &c,
        &empty,
        &NightlyQuery {
            now: NOW,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(r.nightlies.is_empty() && r.candidate.is_none());
    assert!(nightlies(&c, &empty, &q("06a9117", None)).await.is_err());
}
