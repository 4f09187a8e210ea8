//! Key profiles whose log is required but pin no Rekor key take the logs of their trusted
//! root (Rekor v1 keys and v2 shards alike), each key valid only within its `validFor`
//! window: a legacy `.sig` whose SET was made by a log key before or after its window is
//! refused, inside it accepted; a key-signed bundle logged on a log the root lists is
//! accepted under a root whose window holds and refused under one that ended; a pinned
//! Rekor key keeps working as before (the root's logs are then not used).

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{LogPosition, VERSION, World, make_signature, now, push_signatures};
use latch::registry::NoProgress;
use latch::{Error, Overrides, Profile, ProfileFile, Updater, UpgradeOptions};
use latch_trust::PublicKey;

/// A trusted root listing one log, `der`, valid from `start` to `end` (RFC 3339).
fn root_json(der: &[u8], start: i64, end: Option<i64>) -> String {
    let mut valid = serde_json::json!({"start": latch::oci::time::rfc3339(start)});
    if let Some(e) = end {
        valid["end"] = serde_json::json!(latch::oci::time::rfc3339(e));
    }
    let log_id = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://rekor.latch.test",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(der),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": valid
            },
            "logId": {"keyId": STANDARD.encode(log_id.as_ref())}
        }],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": []
    })
    .to_string()
}

/// An updater trusting the world's key with the log required, no Rekor key pinned, and
/// `root` (a trusted_root.json's text) as the root; its own data directory.
fn updater(w: &World, root: &str, name: &str, pinned: bool) -> Updater {
    let file = w.tmp.path().join(format!("{name}-root.json"));
    std::fs::write(&file, root).unwrap();
    let text = format!(
        "[trust]\ntlog = \"required\"\ntrusted_root = {:?}\n",
        file.display().to_string()
    );
    let profile = ProfileFile::parse(&text, "test").unwrap();
    let o = Overrides {
        image: Some(format!("{}:latest", w.repo)),
        keys: vec![w.key.public_path.clone()],
        rekor_keys: if pinned {
            vec![w.log.public_path.clone()]
        } else {
            Vec::new()
        },
        data_dir: Some(w.tmp.path().join(name)),
        ..Overrides::default()
    };
    w.updater_for(Profile::resolve(profile, w.tmp.path(), "test", o).unwrap())
}

async fn upgrade(u: &Updater) -> latch::Result<latch::UpgradeReport> {
    u.upgrade(&UpgradeOptions::default(), &NoProgress).await
}

#[tokio::test]
async fn legacy_signatures_count_only_within_the_log_keys_window() {
    let w = World::new();
    let t = now();
    let logged_at = t - 600;
    let v1 = w.push_image(1, "latest");
    let sig = make_signature(
        &w.key,
        &w.repo,
        &v1,
        Some((
            &w.log,
            LogPosition {
                index: 100,
                time: logged_at,
            },
        )),
        &[(VERSION, "1")],
    );
    push_signatures(&w.client, &w.reference("latest"), &v1, &[sig]).await;
    let log = PublicKey::from_pem(w.log.public_pem.as_bytes()).unwrap();

    // The window holds the entry's time: accepted, by the root's log.
    let u = updater(
        &w,
        &root_json(log.der(), logged_at - 60, None),
        "open",
        false,
    );
    let r = upgrade(&u).await.unwrap();
    assert_eq!(
        (r.status, &r.digest, r.log_index),
        ("upgraded", &v1, Some(100))
    );
    assert!(u.verify_local(true).await.is_ok());

    // The key retired before the entry: refused, saying so.
    let ended = root_json(log.der(), t - 86_400, Some(logged_at - 1));
    match upgrade(&updater(&w, &ended, "ended", false)).await {
        Err(e @ Error::NotVerified { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("was not valid at the entry's integratedTime"),
                "{msg}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Not yet valid when the entry was made: refused.
    let later = root_json(log.der(), logged_at + 1, None);
    assert!(matches!(
        upgrade(&updater(&w, &later, "later", false)).await,
        Err(Error::NotVerified { .. })
    ));
    // A root whose log is another key: the SET matches no log.
    let other = common::TestKey::generate(&w.tmp.path().join("keys"), "other-log");
    let other = PublicKey::from_pem(other.public_pem.as_bytes()).unwrap();
    assert!(matches!(
        upgrade(&updater(
            &w,
            &root_json(other.der(), 0, None),
            "other",
            false
        ))
        .await,
        Err(Error::NotVerified { .. })
    ));
    // A pinned Rekor key works as before, whatever the root says.
    let r = upgrade(&updater(&w, &ended, "pinned", true)).await.unwrap();
    assert_eq!(r.digest, v1);
}

#[tokio::test]
async fn key_signed_bundles_are_checked_against_the_roots_logs() {
    let w = World::new();
    let sigstore = latch_testkit::sigstore::TestSigstore::new();
    let rekor = sigstore.rekor_server();
    let v1 = w.push_image(1, "latest");
    let signer = latch_sign::PrivateKey::from_pkcs8_der(&w.key.pkcs8).unwrap();
    let opts = latch_sign::BundleOptions {
        tlog: Some(latch_sign::TlogUploader::new(&rekor.url()).unwrap()),
        ..latch_sign::BundleOptions::signature(now())
    };
    latch_sign::sign_bundle(
        &w.client,
        &signer,
        &w.reference("latest").with_digest(v1.clone()),
        &opts,
    )
    .await
    .unwrap();
    let der = sigstore.rekor_key_der();
    let u = updater(&w, &root_json(&der, now() - 3600, None), "open", false);
    let r = upgrade(&u).await.unwrap();
    assert_eq!((r.status, &r.digest), ("upgraded", &v1));
    assert_eq!(r.verdict.accepted_bundles().count(), 1);
    // The log's key retired an hour ago: the entry made now is refused.
    let ended = root_json(&der, now() - 86_400, Some(now() - 3600));
    match upgrade(&updater(&w, &ended, "ended", false)).await {
        Err(e @ Error::NotVerified { .. }) => {
            assert!(
                e.to_string()
                    .contains("No log key valid at integrated time"),
                "{e}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
