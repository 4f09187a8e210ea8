//! Cosign v3 signatures in the updater's flows, over a real registry (Debian's
//! docker-registry: bundles are found through the `sha256-<hex>` tag fallback): keyless
//! bundles minted by a test Sigstore (own CA and Rekor key in a custom trusted root) and
//! key-signed bundles, accepted by `upgrade`, kept in the store and re-verified by
//! `verify_local`, counted with legacy signatures towards the threshold, fed to the
//! rollback ratchet, and carried through `prepare_archive`/`load_archive`.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{TestKey, World, now};
use latch::oci::Digest;
use latch::registry::NoProgress;
use latch::sigstore::cosign::COSIGN_SIGN_PREDICATE;
use latch::{Error, Overrides, Profile, ProfileFile, Updater, UpgradeOptions};
use latch_testkit::sigstore::{GITHUB_ISSUER, Leaf, TestSigstore, statement};
use latch_testkit::tuf::TufServer;

const WORKFLOW: &str = ".github/workflows/release.yml";

fn leaf(repo: &str) -> Leaf {
    Leaf::github(
        repo,
        WORKFLOW,
        "refs/heads/main",
        "push",
        now() - 3700,
        None,
    )
}

fn san(repo: &str) -> String {
    format!("https://github.com/{repo}/{WORKFLOW}@refs/heads/main")
}

/// A world with a test Sigstore whose root is written beside it.
struct Keyless {
    w: World,
    sigstore: std::sync::Arc<TestSigstore>,
    root: std::path::PathBuf,
}

impl Keyless {
    fn new() -> Keyless {
        let w = World::new();
        let sigstore = std::sync::Arc::new(TestSigstore::new());
        let root = w.tmp.path().join("trusted_root.json");
        std::fs::write(&root, sigstore.trusted_root_json()).unwrap();
        Keyless { w, sigstore, root }
    }

    /// An updater whose profile trusts `identities` (SANs of GitHub workflows) and, with
    /// `keys`, the world's key too; `threshold` distinct signers.
    fn updater(&self, identities: &[&str], keys: bool, threshold: usize, data: &str) -> Updater {
        let root = format!("trusted_root = {:?}", self.root.display().to_string());
        self.updater_rooted(&root, identities, keys, threshold, data)
    }

    /// [`Keyless::updater`] with `root_lines` choosing the Sigstore root in `[trust]`.
    fn updater_rooted(
        &self,
        root_lines: &str,
        identities: &[&str],
        keys: bool,
        threshold: usize,
        data: &str,
    ) -> Updater {
        let ids: Vec<String> = identities
            .iter()
            .map(|s| format!("{{ issuer = \"{GITHUB_ISSUER}\", san = \"{s}\" }}"))
            .collect();
        let text = format!(
            "[trust]\nidentities = [{}]\n{root_lines}\nthreshold = {threshold}\n",
            ids.join(", "),
        );
        let file = ProfileFile::parse(&text, "test").unwrap();
        let mut o = Overrides {
            image: Some(format!("{}:latest", self.w.repo)),
            data_dir: Some(self.w.tmp.path().join(data)),
            ..Overrides::default()
        };
        if keys {
            o.keys = vec![self.w.key.public_path.clone()];
            o.rekor_keys = vec![self.w.log.public_path.clone()];
        }
        self.w
            .updater_for(Profile::resolve(file, self.w.tmp.path(), "test", o).unwrap())
    }

    /// Attaches `bundle` to `digest` as a cosign v3 signature referrer.
    async fn attach(&self, digest: &Digest, bundle: &[u8]) {
        let latest = self.w.reference("latest");
        let subject = self
            .w
            .client
            .get_manifest(&latest.with_digest(digest.clone()))
            .await
            .unwrap()
            .descriptor();
        latch::sources::attach::attach_bundle(
            &self.w.client,
            &latest,
            &subject,
            &latch::sources::attach::BundleArtifact::dsse(
                bundle,
                COSIGN_SIGN_PREDICATE,
                "2026-01-01T00:00:00Z",
            ),
            latch::sources::contention::Contention::default(),
        )
        .await
        .unwrap();
    }

    /// A keyless cosign v3 signature of `digest` by `repo`'s release workflow, logged at
    /// `log_index`.
    async fn sign_keyless(&self, digest: &Digest, repo: &str, log_index: u64) {
        let payload = statement(
            &digest.to_string(),
            COSIGN_SIGN_PREDICATE,
            serde_json::json!({}),
        );
        let bundle = self
            .sigstore
            .dsse_bundle_at(&leaf(repo), &payload, now() - 3600, log_index);
        self.attach(digest, bundle.as_bytes()).await;
    }
}

/// How many cosign v3 signatures (bundles) the verdict accepted.
fn bundles(v: &latch::decide::Verdict) -> usize {
    v.accepted_bundles().count()
}

/// How many legacy `.sig` signatures the verdict accepted.
fn sigs(v: &latch::decide::Verdict) -> usize {
    v.accepted_sigs().count()
}

#[tokio::test]
async fn an_identities_only_profile_upgrades_verifies_and_ratchets_on_bundles() {
    let k = Keyless::new();
    let repo = "freedomofpress/dangerzone";
    let v1 = k.w.push_image(1, "latest");
    k.sign_keyless(&v1, repo, 100).await;
    let u = k.updater(&[&san(repo)], false, 1, "data");

    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.status, "upgraded", "{r:?}");
    assert_eq!(r.digest, v1);
    assert_eq!(bundles(&r.verdict), 1);
    assert_eq!(r.log_index, Some(100));
    assert_eq!(sigs(&r.verdict), 0, "no legacy signature exists");
    assert_eq!(r.verdict.count(), 1);
    let json = serde_json::to_value(&r).unwrap();
    let outcome = &json["verdict"]["outcomes"][0];
    assert_eq!(outcome["kind"], "bundle");
    assert_eq!(outcome["signer"]["identity"], san(repo));
    assert_eq!(json["verdict"]["signers"][0]["trusted"]["kind"], "identity");

    // Kept in the store and re-verified offline before use.
    let stored = k.w.tmp.path().join("data/signatures/bundles");
    assert!(stored.join(format!("{}.json", v1.hex())).is_file());
    let local = u.verify_local(true).await.unwrap();
    assert_eq!(local.digest, v1);
    assert_eq!(bundles(&local.verdict), 1);
    assert_eq!(local.log_index, Some(100));
    let status = u.status().await.unwrap();
    assert_eq!(status.identities.len(), 1);
    assert!(status.keys.is_empty());
    assert_eq!(u.store().last_log_index().unwrap(), Some(100));

    // A newer image, logged later: accepted, the ratchet moves.
    let v2 = k.w.push_image(2, "latest");
    k.sign_keyless(&v2, repo, 200).await;
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v2));
    assert_eq!(u.store().last_log_index().unwrap(), Some(200));

    // The registry serves the older image again: refused by the bundle's log index.
    k.w.retag_latest(&v1).await;
    match u.upgrade(&UpgradeOptions::default(), &NoProgress).await {
        Err(Error::Rollback { reasons }) => assert!(
            reasons.iter().any(|r| matches!(
                r,
                latch::RollbackReason::OlderLogIndex {
                    accepted: 200,
                    offered: 100,
                    ..
                }
            )),
            "{reasons:?}"
        ),
        other => panic!("expected a rollback refusal, got {other:?}"),
    }
    assert_eq!(u.verify_local(false).await.unwrap().digest, v2);

    // An image signed by a workflow of a repository that only shares a prefix: refused,
    // naming the claim; nothing changes.
    let v3 = k.w.push_image(3, "latest");
    k.sign_keyless(&v3, "freedomofpress/dangerzone-image", 300)
        .await;
    match u.upgrade(&UpgradeOptions::default(), &NoProgress).await {
        Err(e @ Error::NotVerified { .. }) => {
            assert_eq!(e.kind(), "not-verified");
            let msg = e.to_string();
            assert!(msg.contains("0 of the 1 required"), "{msg}");
            assert!(msg.contains("SAN"), "{msg}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(u.verify_local(false).await.unwrap().digest, v2);

    // An image with no signature of either kind.
    let _v4 = k.w.push_image(4, "latest");
    assert!(matches!(
        u.upgrade(&UpgradeOptions::default(), &NoProgress).await,
        Err(Error::NoSignatures { .. })
    ));

    // A tampered stored bundle is never trusted.
    let file = stored.join(format!("{}.json", v2.hex()));
    let text = std::fs::read_to_string(&file).unwrap();
    let mut bundles: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    bundles[0]["dsseEnvelope"]["payload"] = serde_json::Value::String(STANDARD.encode(statement(
        &v1.to_string(),
        COSIGN_SIGN_PREDICATE,
        serde_json::json!({}),
    )));
    std::fs::write(&file, serde_json::to_vec(&bundles).unwrap()).unwrap();
    match u.verify_local(false).await {
        Err(e @ Error::NotVerified { .. }) => {
            assert!(e.to_string().contains("bundles"), "{e}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    std::fs::write(&file, b"not json").unwrap();
    assert!(matches!(
        u.verify_local(false).await,
        Err(Error::StoreCorrupt { .. })
    ));
}

#[tokio::test]
async fn keys_and_identities_count_together_towards_the_threshold() {
    let k = Keyless::new();
    let repo = "freedomofpress/dangerzone";
    let other = "freedomofpress/maintainer-two";
    // Legacy signature by the key only (logged before the keyless ones): 1 of 2.
    let v1 = k.w.push_image(1, "latest");
    k.w.sign(&v1, 100, now() - 7200, "1.0.0").await;
    let u = k.updater(&[&san(repo), &san(other)], true, 2, "data");
    match u.upgrade(&UpgradeOptions::default(), &NoProgress).await {
        Err(e @ Error::NotVerified { .. }) => {
            assert!(e.to_string().contains("1 of the 2 required"), "{e}")
        }
        other => panic!("expected 1 of 2, got {other:?}"),
    }
    // Plus a keyless signature: 2 of 2, with the key's legacy signature and the bundle.
    k.sign_keyless(&v1, repo, 150).await;
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.status, "upgraded");
    assert_eq!(sigs(&r.verdict), 1);
    assert_eq!(r.verdict.count(), 2);
    assert_eq!(bundles(&r.verdict), 1);
    // The highest index of either kind is the floor.
    assert_eq!(r.log_index, Some(150));
    let local = u.verify_local(true).await.unwrap();
    assert_eq!((sigs(&local.verdict), bundles(&local.verdict)), (1, 1));

    // Two bundles by one identity are one signer: still 1 of 2 without the key.
    let v2 = k.w.push_image(2, "latest");
    k.sign_keyless(&v2, repo, 300).await;
    k.sign_keyless(&v2, repo, 301).await;
    assert!(matches!(
        u.upgrade(&UpgradeOptions::default(), &NoProgress).await,
        Err(Error::NotVerified { .. })
    ));
    // The second maintainer signs too: 2 distinct identities.
    k.sign_keyless(&v2, other, 302).await;
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (r.status, &r.digest, bundles(&r.verdict)),
        ("upgraded", &v2, 3)
    );
    assert_eq!(r.log_index, Some(302));
}

#[tokio::test]
async fn key_signed_bundles_upgrade_and_travel_through_an_archive() {
    let k = Keyless::new();
    let v1 = k.w.push_image(1, "latest");
    // Signed as the releasers do (`latch sign --bundle`): a bundle referrer each.
    let image = k.w.reference("latest").with_digest(v1.clone());
    let bundle_sign = |key: &TestKey| {
        let signer = latch_sign::PrivateKey::from_pkcs8_der(&key.pkcs8).unwrap();
        let (client, image) = (&k.w.client, &image);
        async move {
            latch_sign::sign_bundle(
                client,
                &signer,
                image,
                &latch_sign::BundleOptions::signature(now()),
            )
            .await
            .unwrap()
        }
    };
    let first = bundle_sign(&k.w.key).await;
    assert_eq!(first.signed[0].referrers, 1);
    // A bundle by another key beside it is refused and does not matter.
    let stranger = TestKey::generate(&k.w.tmp.path().join("keys"), "stranger");
    let second = bundle_sign(&stranger).await;
    assert_eq!(second.signed[0].referrers, 2);
    // Keys only, no Rekor key pinned: bundles without a log entry are accepted.
    let o = Overrides {
        image: Some(format!("{}:latest", k.w.repo)),
        keys: vec![k.w.key.public_path.clone()],
        data_dir: Some(k.w.tmp.path().join("online")),
        ..Overrides::default()
    };
    let u = k.w.updater_with(o.clone());
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!((r.status, bundles(&r.verdict)), ("upgraded", 1));
    assert!(u.verify_local(true).await.is_ok());

    // A layout mirror holding the referrers (as `oras copy -r` writes one: each referrer
    // manifest listed in index.json with its artifactType) is verified the same way.
    let mirror = k.w.tmp.path().join("mirror");
    let layout = latch::oci::OciLayout::create(&mirror).unwrap();
    let latest = k.w.reference("latest");
    let pull = |r: latch::oci::Reference| {
        let layout = &layout;
        let client = &k.w.client;
        async move {
            latch::registry::pull_to_layout(
                client,
                &r,
                layout,
                &latch::registry::PullOptions::default(),
                &NoProgress,
            )
            .await
            .unwrap();
        }
    };
    pull(latest.clone()).await;
    let found = latch::sources::registry::fetch_signature_bundles(&k.w.client, &latest, &v1)
        .await
        .unwrap();
    assert_eq!(found.bundles.len(), 2);
    let mut entries = Vec::new();
    for b in &found.bundles {
        let at = latest
            .repository_only()
            .with_digest(b.manifest_digest.clone().unwrap());
        pull(at.clone()).await;
        let mut d = k.w.client.get_manifest(&at).await.unwrap().descriptor();
        d.artifact_type = Some(latch::sigstore::cosign::BUNDLE_V03_MEDIA_TYPE.to_owned());
        entries.push(d);
    }
    let mut index = layout.index().unwrap();
    index
        .manifests
        .retain(|d| !entries.iter().any(|e| e.digest == d.digest));
    index.manifests.extend(entries);
    layout.write_index(&index).unwrap();
    let mirrored = k.w.updater_with(Overrides {
        data_dir: Some(k.w.tmp.path().join("mirrored")),
        source_layout: Some(mirror.clone()),
        ..o.clone()
    });
    let r = mirrored
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (r.status, &r.digest, bundles(&r.verdict)),
        ("upgraded", &v1, 1)
    );
    assert!(mirrored.verify_local(true).await.is_ok());

    // Across the air gap: the archive carries the referrer, the other side verifies it.
    let archive = k.w.tmp.path().join("update.tar");
    let prepared = u
        .prepare_archive(None, &archive, false, &NoProgress)
        .await
        .unwrap();
    assert_eq!(prepared.digest, v1);
    let offline = k.w.updater_with(Overrides {
        data_dir: Some(k.w.tmp.path().join("offline")),
        ..o.clone()
    });
    let r = offline
        .load_archive(&archive, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (r.status, &r.digest, bundles(&r.verdict)),
        ("upgraded", &v1, 1)
    );
    assert!(offline.verify_local(true).await.is_ok());

    // Another side trusting the stranger's key refuses the archive before loading
    // anything: the archive carries only the signatures that were accepted.
    let refusing = k.w.updater_with(Overrides {
        data_dir: Some(k.w.tmp.path().join("refusing")),
        keys: vec![stranger.public_path.clone()],
        ..o
    });
    assert!(matches!(
        refusing
            .load_archive(&archive, &UpgradeOptions::default())
            .await,
        Err(Error::NotVerified { .. })
    ));
    assert!(matches!(
        refusing.verify_local(false).await,
        Err(Error::NotInstalled { .. })
    ));
}

/// Signed in CI by `latch sign` without a key (the keyless path against the testkit's
/// Fulcio-like CA and Rekor log), installed by a profile that trusts that workflow.
#[tokio::test]
async fn a_keyless_signature_made_by_latch_in_ci_upgrades_an_identity_profile() {
    use latch_testkit::fulcio::{FulcioServer, Workflow};
    let k = Keyless::new();
    let repo = "freedomofpress/dangerzone";
    let rekor = k.sigstore.rekor_server();
    let fulcio = FulcioServer::start(k.sigstore.clone());
    let v1 = k.w.push_image(1, "latest");
    let workflow = Workflow::new(repo, WORKFLOW, "refs/heads/main");
    assert_eq!(workflow.san(), san(repo));
    let token = latch_sign::IdentityToken::new(&fulcio.token(&workflow, 600)).unwrap();
    let certified = latch_sign::Fulcio::new(&fulcio.url())
        .unwrap()
        .certify(&token, now())
        .await
        .unwrap();
    let opts = latch_sign::BundleOptions {
        certificate: Some(certified.certificate.clone()),
        tlog: Some(latch_sign::TlogUploader::new(&rekor.url()).unwrap()),
        ..latch_sign::BundleOptions::signature(now())
    };
    let image = k.w.reference("latest").with_digest(v1.clone());
    let report = latch_sign::sign_bundle(&k.w.client, &certified.key, &image, &opts)
        .await
        .unwrap();
    assert_eq!(report.log_key_pinned, Some(false));

    let u = k.updater(&[&san(repo)], false, 1, "data");
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (r.status, &r.digest, bundles(&r.verdict)),
        ("upgraded", &v1, 1)
    );
    assert!(r.log_index.is_some());
    assert_eq!(u.verify_local(true).await.unwrap().digest, v1);
    // A profile trusting another workflow refuses it.
    let other = k.updater(&[&san("freedomofpress/other")], false, 1, "other");
    assert!(matches!(
        other.upgrade(&UpgradeOptions::default(), &NoProgress).await,
        Err(Error::NotVerified { .. })
    ));
}

/// The identities' Sigstore root kept current over TUF: a repository on loopback first
/// publishes a root that does not know the test CA (its signature is refused), then the
/// test Sigstore's root with two root rotations (followed: the image upgrades). Expired
/// and forged metadata, and the repository going away, leave that root in force with a
/// warning, and what is installed verifies offline from the data directory.
#[tokio::test]
async fn the_identities_root_is_kept_current_over_tuf_and_verifies_offline() {
    let k = Keyless::new();
    let repo = "freedomofpress/dangerzone";
    let v1 = k.w.push_image(1, "latest");
    k.sign_keyless(&v1, repo, 100).await;
    let tuf = TufServer::start(latch::sigstore::TrustRoot::production_json().as_bytes());
    let tuf_root = k.w.tmp.path().join("tuf-root.json");
    std::fs::write(&tuf_root, tuf.initial_root()).unwrap();
    let lines = format!(
        "tuf_url = {:?}\ntuf_root = {:?}",
        tuf.url(),
        tuf_root.display().to_string()
    );
    let u = k.updater_rooted(&lines, &[&san(repo)], false, 1, "data");

    // Never read: no root at all, and status says so.
    let s = u.status().await.unwrap();
    assert_eq!(s.sigstore_roots.len(), 1, "{s:?}");
    assert_eq!(s.sigstore_roots[0].tuf_url, tuf.url());
    assert!(s.sigstore_roots[0].held.is_none());
    let w = s.sigstore_roots[0].warning.as_deref().unwrap();
    assert!(w.contains("has not been read"), "{w}");

    // Read: the public-good root, which does not know the test CA.
    match u.check(true).await {
        Err(e @ Error::NotVerified { .. }) => assert!(!e.to_string().is_empty()),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let held = u.status().await.unwrap().sigstore_roots[0]
        .held
        .clone()
        .unwrap();
    assert_eq!(held.root_version, 1);

    // The repository publishes the test Sigstore's root and rotates its keys twice.
    tuf.publish(k.sigstore.trusted_root_json().as_bytes());
    tuf.rotate_root(true);
    tuf.rotate_root(true);
    let c = u.check(true).await.unwrap();
    assert_eq!(c.status, "not-installed", "{c:?}");
    assert!(c.warnings.is_empty(), "{c:?}");
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.status, "upgraded", "{r:?}");
    let s = u.status().await.unwrap();
    let held = s.sigstore_roots[0].held.clone().unwrap();
    assert_eq!(held.root_version, 3);
    assert!(
        held.timestamp_expires > now() && s.sigstore_roots[0].warning.is_none(),
        "{s:?}"
    );

    // Refused metadata leaves the root in force, with a warning that says why.
    tuf.publish_expired_timestamp();
    let c = u.check(true).await.unwrap();
    assert_eq!(c.status, "up-to-date", "{c:?}");
    assert!(
        c.warnings.len() == 1 && c.warnings[0].contains("timestamp metadata expired"),
        "{c:?}"
    );
    assert!(c.warnings[0].contains("TUF root version 3"), "{c:?}");
    tuf.publish_forged_timestamp();
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.status, "up-to-date", "{r:?}");
    assert!(
        r.warnings.iter().any(|w| w.contains("threshold not met")),
        "{r:?}"
    );
    assert_eq!(
        u.status().await.unwrap().sigstore_roots[0].held,
        Some(held.clone())
    );

    // Offline: a new updater (as at the next start) verifies what is installed from the
    // root kept in the data directory.
    tuf.refuse(Some(503));
    let offline = k.updater_rooted(&lines, &[&san(repo)], false, 1, "data");
    assert_eq!(offline.verify_local(true).await.unwrap().digest, v1);
    // `install` online with the repository down: a newer image is installed under the
    // root held; the roots are refreshed once, so the warning is told once and the
    // upgrade's report carries it.
    let v2 = k.w.push_image(2, "latest");
    k.sign_keyless(&v2, repo, 200).await;
    let (said, sink) = collector();
    let installer = k
        .updater_rooted(&lines, &[&san(repo)], false, 1, "data")
        .on_warning(sink);
    let i = installer.install(true, &NoProgress).await.unwrap();
    assert_eq!(i.choice, "remote", "{i:?}");
    let r = i.report.unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v2), "{r:?}");
    let said = said.lock().unwrap().clone();
    assert!(
        said.len() == 1
            && said[0].contains("not refreshed")
            && said[0].contains("TUF root version 3"),
        "{said:?}"
    );
    assert_eq!(r.warnings, said, "{r:?}");
    // A profile that never read the repository has no root: the same image is refused,
    // and the refresh that failed first is told the moment it fails (the refusal has no
    // report to carry it).
    let (said, sink) = collector();
    let fresh = k
        .updater_rooted(&lines, &[&san(repo)], false, 1, "fresh")
        .on_warning(sink);
    assert!(matches!(
        fresh.check(true).await,
        Err(Error::NotVerified { .. })
    ));
    let said = said.lock().unwrap();
    assert!(
        said.len() == 1 && said[0].contains("not refreshed") && said[0].contains("starting root"),
        "{said:?}"
    );
}

/// A warnings callable for [`latch::Updater::on_warning`], and what it was told.
fn collector() -> (
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    impl Fn(&str) + Send + Sync + 'static,
) {
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = said.clone();
    (said, move |w: &str| into.lock().unwrap().push(w.to_owned()))
}

/// Without a root of its own, an identities profile keeps the public-good root current
/// over Sigstore's TUF repository, starting from the one built in (never read here).
#[tokio::test]
async fn the_public_good_root_is_kept_current_by_default() {
    let k = Keyless::new();
    let u = k.updater_rooted("", &[&san("freedomofpress/dangerzone")], false, 1, "data");
    let s = u.status().await.unwrap();
    assert_eq!(s.sigstore_roots.len(), 1, "{s:?}");
    assert_eq!(
        s.sigstore_roots[0].tuf_url,
        "https://tuf-repo-cdn.sigstore.dev"
    );
    let pinned = k.updater_rooted(
        "refresh_trusted_root = false",
        &[&san("freedomofpress/dangerzone")],
        false,
        1,
        "pinned",
    );
    assert!(pinned.status().await.unwrap().sigstore_roots.is_empty());
}

/// Across the air gap, the archive carries the TUF-kept root it was verified with: an
/// installation that never reached the TUF repository adopts it (verified from its own
/// initial TUF root) and installs; one whose initial root is another repository's refuses
/// it, warns, and refuses the image.
#[tokio::test]
async fn an_archive_carries_the_tuf_kept_root_it_was_verified_with() {
    let k = Keyless::new();
    let repo = "freedomofpress/dangerzone";
    let v1 = k.w.push_image(1, "latest");
    k.sign_keyless(&v1, repo, 100).await;
    let tuf = TufServer::start(k.sigstore.trusted_root_json().as_bytes());
    tuf.rotate_root(true);
    let tuf_root = k.w.tmp.path().join("tuf-root.json");
    std::fs::write(&tuf_root, tuf.initial_root()).unwrap();
    let lines = format!(
        "tuf_url = {:?}\ntuf_root = {:?}",
        tuf.url(),
        tuf_root.display().to_string()
    );
    let online = k.updater_rooted(&lines, &[&san(repo)], false, 1, "online");
    let archive = k.w.tmp.path().join("update.tar");
    let prepared = online
        .prepare_archive(None, &archive, false, &NoProgress)
        .await
        .unwrap();
    assert!(prepared.warnings.is_empty(), "{prepared:?}");

    // The other side never reaches the repository.
    tuf.refuse(Some(503));
    let airgap = k.updater_rooted(&lines, &[&san(repo)], false, 1, "airgap");
    let r = airgap
        .load_archive(&archive, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v1), "{r:?}");
    assert!(r.warnings.is_empty(), "{r:?}");
    let held = airgap.status().await.unwrap().sigstore_roots[0]
        .held
        .clone()
        .unwrap();
    assert_eq!(held.root_version, 2);
    assert!(airgap.verify_local(true).await.is_ok());

    // Another repository's initial root under the same URL: the carried state does not
    // verify from it.
    let other = TufServer::start(k.sigstore.trusted_root_json().as_bytes());
    let other_root = k.w.tmp.path().join("other-root.json");
    std::fs::write(&other_root, other.initial_root()).unwrap();
    let other_lines = format!(
        "tuf_url = {:?}\ntuf_root = {:?}",
        tuf.url(),
        other_root.display().to_string()
    );
    let (said, sink) = collector();
    let stranger = k
        .updater_rooted(&other_lines, &[&san(repo)], false, 1, "stranger")
        .on_warning(sink);
    match stranger
        .load_archive(&archive, &UpgradeOptions::default())
        .await
    {
        Err(Error::NotVerified { .. }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Why the image is not verified: the carried root was refused, said before the error.
    let said = said.lock().unwrap().clone();
    assert!(
        said.len() == 1 && said[0].contains("carried for") && said[0].contains("was refused"),
        "{said:?}"
    );
    assert!(
        stranger.status().await.unwrap().sigstore_roots[0]
            .held
            .is_none()
    );
}
