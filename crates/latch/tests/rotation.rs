//! Key rotation against the real registry: the releasers publish trust versions 2 and 3
//! (`latch_sign::rotate_keys`, as `latch rotate-keys` does); an installation that shipped
//! with version 1 follows them, installs an image signed only by version 3's key, keeps
//! the chain for offline use and carries it in an air-gap archive, refuses the revoked
//! key's new signatures while its old ones stay valid, and refuses a forged link without
//! adopting anything.

mod common;

use common::{LogPosition, TestKey, VERSION, World, make_signature, now, push_signatures};
use latch::oci::Digest;
use latch::registry::NoProgress;
use latch::{Error, Updater, UpgradeOptions};
use latch_rotation::{Envelope, Succession, TrustDocument, signing_message};
use latch_sign::{PrivateKey, RotateOptions, Signer, rotate_keys};
use latch_trust::PublicKey;

fn private(k: &TestKey) -> PrivateKey {
    PrivateKey::from_pkcs8_der(&k.pkcs8).unwrap()
}

fn public(k: &TestKey) -> PublicKey {
    PublicKey::from_pem(k.public_pem.as_bytes()).unwrap()
}

/// Signs `digest` with `key`, logged by the world's log at `time`, and pushes it as the
/// only signature.
async fn sign_with(w: &World, key: &TestKey, digest: &Digest, index: i64, time: i64) {
    let sig = make_signature(
        key,
        &w.repo,
        digest,
        Some((&w.log, LogPosition { index, time })),
        &[(VERSION, &index.to_string())],
    );
    push_signatures(&w.client, &w.reference("latest"), digest, &[sig]).await;
}

async fn upgrade(u: &Updater) -> latch::Result<latch::UpgradeReport> {
    u.upgrade(&UpgradeOptions::default(), &NoProgress).await
}

#[tokio::test]
async fn an_installation_follows_rotations_from_the_keys_it_shipped_with() {
    let w = World::new();
    let keys = w.tmp.path().join("keys");
    let (a, b, c) = (
        &w.key,
        TestKey::generate(&keys, "b"),
        TestKey::generate(&keys, "c"),
    );
    let repo = w.reference("latest").repository_only();
    let anchor = Succession::anchor(&repo.name(), vec![public(a)], 1);
    let t = now();

    // Version 1 in force: an image signed by a installs.
    let v1 = w.push_image(1, "latest");
    sign_with(&w, a, &v1, 100, t - 600).await;
    let u = w.updater();
    assert_eq!(upgrade(&u).await.unwrap().digest, v1);
    assert_eq!(u.trust_version(), Some(1));

    // The releasers rotate: version 2 trusts b and revokes a from t - 300 (signed by a,
    // cosigned by b); version 3 trusts c (signed by b, cosigned by c).
    let rotate = |new: &TestKey, revoke: Vec<(PublicKey, Option<i64>)>| RotateOptions {
        anchor: anchor.clone(),
        new_keys: vec![public(new)],
        threshold: 1,
        revoke,
        valid_for: 86_400,
        now: t,
    };
    let r2 = rotate_keys(
        &w.client,
        &repo,
        &rotate(&b, vec![(public(a), Some(t - 300))]),
        &[&private(a) as &dyn Signer],
        &[&private(&b) as &dyn Signer],
    )
    .await
    .unwrap();
    assert_eq!((r2.previous_version, r2.version), (1, 2));
    assert_eq!(r2.cosigned_by, vec![b.log_id()]);
    let r3 = rotate_keys(
        &w.client,
        &repo,
        &rotate(&c, Vec::new()),
        &[&private(&b) as &dyn Signer],
        &[&private(&c) as &dyn Signer],
    )
    .await
    .unwrap();
    assert_eq!(r3.version, 3);
    // Version 3 again, signed by the retired a: refused before anything is written.
    let again = rotate_keys(
        &w.client,
        &repo,
        &rotate(&b, Vec::new()),
        &[&private(a) as &dyn Signer],
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        again
            .to_string()
            .contains("not signed by any key of version 3"),
        "{again}"
    );

    // An image signed by c alone: the installation follows 2 and 3, then installs it.
    let v2 = w.push_image(2, "latest");
    sign_with(&w, &c, &v2, 200, t - 100).await;
    let r = upgrade(&u).await.unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v2));
    assert_eq!(u.trust_version(), Some(3));
    let status = u.status().await.unwrap();
    let trust = status.trust.unwrap();
    assert_eq!((trust.version, trust.keys), (3, vec![c.log_id()]));
    assert_eq!(trust.revoked.len(), 1);
    assert_eq!(
        (
            trust.revoked[0].key.as_str(),
            trust.revoked[0].distrust_after
        ),
        (a.log_id().as_str(), t - 300)
    );

    // Offline, from a fresh start: the chain kept in the data directory still holds.
    let fresh = w.updater();
    assert_eq!(fresh.trust_version(), Some(3));
    assert_eq!(fresh.verify_local(true).await.unwrap().digest, v2);

    // An air-gap archive carries the chain: an installation that knows only version 1
    // and never reaches the registry loads c's image from it.
    let archive = w.tmp.path().join("v2.tar");
    u.prepare_archive(None, &archive, false, &NoProgress)
        .await
        .unwrap();
    let airgapped = w.updater_with(latch::Overrides {
        data_dir: Some(w.tmp.path().join("airgapped")),
        ..w.overrides()
    });
    assert_eq!(airgapped.trust_version(), Some(1));
    let r = airgapped
        .load_archive(&archive, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!(r.digest, v2);
    assert_eq!(airgapped.trust_version(), Some(3));
    assert_eq!(airgapped.verify_local(true).await.unwrap().digest, v2);

    // An installation that does not follow rotations takes c's image neither from the
    // registry nor from the archive.
    let mut profile = latch::Profile::from_overrides(w.overrides()).unwrap();
    profile.follow_rotations = false;
    profile.data_dir = w.tmp.path().join("not-following");
    let still = w.updater_for(profile);
    assert!(matches!(
        upgrade(&still).await,
        Err(Error::NotVerified { .. })
    ));
    assert!(matches!(
        still
            .load_archive(&archive, &UpgradeOptions::default())
            .await,
        Err(Error::NotVerified { .. })
    ));
    assert_eq!(still.trust_version(), None);

    // a's new signature, logged after its distrust time, does not count...
    let v3 = w.push_image(3, "latest");
    sign_with(&w, a, &v3, 300, t - 10).await;
    match upgrade(&u).await {
        Err(Error::NotVerified { verdict }) => {
            assert!(
                verdict.summary().contains("revoked"),
                "{}",
                verdict.summary()
            );
        }
        other => panic!("expected the revoked key refused, got {other:?}"),
    }
    // ...while what it had logged before still does: the first image verifies again.
    let d1 = w.data().join("check-v1");
    let old = w.updater_with(latch::Overrides {
        data_dir: Some(d1),
        ..w.overrides()
    });
    w.retag_latest(&v1).await;
    assert_eq!(upgrade(&old).await.unwrap().digest, v1);
    assert_eq!(old.trust_version(), Some(3));

    // A forged version 4 (signed by a key nobody trusts): refused, nothing adopted.
    let d = TestKey::generate(&keys, "d");
    let forged = TrustDocument::next_of(
        &fresh_succession(&anchor, &u),
        vec![d.public_pem.clone()],
        1,
        Vec::new(),
        t + 86_400,
    );
    let payload = forged.to_bytes();
    let mut e = Envelope::new(&payload);
    e.add_signature(&d.log_id(), &d.sign(&signing_message(&payload)));
    latch_sources::trust_chain::push_trust_link(&w.client, &repo, 4, &e.to_bytes())
        .await
        .unwrap();
    match upgrade(&u).await {
        Err(e @ Error::TrustChain(_)) => {
            assert_eq!(e.kind(), "trust-chain");
            assert!(e.to_string().contains("version 4"), "{e}");
        }
        other => panic!("expected the forged link refused, got {other:?}"),
    }
    assert_eq!(u.trust_version(), Some(3));
    assert_eq!(w.updater().trust_version(), Some(3));
}

/// Version 3 as the installation holds it (the chain it kept, followed again).
fn fresh_succession(anchor: &Succession, u: &Updater) -> Succession {
    let chain = u.store().trust_chain().unwrap();
    let links: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
    anchor.restore(&links).unwrap()
}
