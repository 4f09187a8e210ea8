//! `--tlog-upload` against the test Rekor server: the SET obtained verifies with the log's
//! key pinned, in Latch and in skopeo.

use latch_decide::Trust;
use latch_sign::{SignOptions, TlogError, TlogUploader, sign};
use latch_testkit::{Registry, RekorServer};
use latch_trust::TlogMode;

use crate::*;

#[tokio::test]
async fn signatures_logged_in_rekor_verify_with_the_pinned_log_key() {
    let reg = Registry::start();
    let log = RekorServer::start_at(168_898_587);
    let tmp = tempfile::tempdir().unwrap();
    let rekor_pem = tmp.path().join("rekor.pub");
    std::fs::write(&rekor_pem, log.public_key_pem()).unwrap();
    let rekor_key = PublicKey::from_pem(log.public_key_pem().as_bytes()).unwrap();
    assert_eq!(rekor_key.log_id(), log.log_id());

    let key = latch_key();
    let public = write_public(tmp.path(), "latch.pub", key.public_key());
    let (image, digest) = push_image(&reg, "dz/logged:v1", 31);
    let opts = SignOptions {
        tlog: Some(
            TlogUploader::new(&log.url())
                .unwrap()
                .with_log_key(rekor_key.clone()),
        ),
        ..SignOptions::default()
    };
    let report = sign(&client(), &key, &image, &opts).await.unwrap();
    assert_eq!(report.signed[0].log_index, Some(168_898_587));
    assert_eq!(log.entry_count(), 1);

    // the decision, Rekor key pinned, log required: accepted, with the log index.
    let required = Trust::builder()
        .key(key.public_key().clone())
        .rekor_key(rekor_key.clone())
        .tlog(TlogMode::Required)
        .repository(image.clone())
        .build()
        .unwrap();
    let sigs = signatures(&image).await;
    let verdict = verify(&required, &digest, &sigs, now()).unwrap();
    assert_eq!(verdict.max_log_index, Some(168_898_587));

    // Another log's key: refused (the logID names no pinned key).
    let other_log = RekorServer::start();
    let wrong = Trust::builder()
        .key(key.public_key().clone())
        .rekor_key(PublicKey::from_pem(other_log.public_key_pem().as_bytes()).unwrap())
        .tlog(TlogMode::Required)
        .build()
        .unwrap();
    assert!(verify(&wrong, &digest, &sigs, now()).is_err());

    // An unlogged signature fails the Required policy.
    let (plain, plain_digest) = push_image(&reg, "dz/unlogged:v1", 32);
    sign(&client(), &key, &plain, &SignOptions::default())
        .await
        .unwrap();
    assert!(verify(&required, &plain_digest, &signatures(&plain).await, now()).is_err());

    // skopeo with rekorPublicKeyPath verifies the SET too, and refuses the unlogged one.
    skopeo_policy_copy(&reg, &image, &public, Some(&rekor_pem))
        .expect("skopeo accepts the SET Latch obtained");
    assert!(skopeo_policy_copy(&reg, &plain, &public, Some(&rekor_pem)).is_err());

    // cosign, with the log's key given as SIGSTORE_REKOR_PUBLIC_KEY, verifies the bundle
    // offline (no --insecure-ignore-tlog).
    let mut c = peers().command("cosign");
    c.args(["verify", "--key"])
        .arg(&public)
        .args(["--offline=true", "--allow-http-registry"])
        .arg(image.to_string())
        .env("HOME", tmp.path())
        .env("SIGSTORE_REKOR_PUBLIC_KEY", &rekor_pem);
    let out = latch_testkit::try_run(&mut c).expect("cosign verifies the bundle offline");
    assert!(out.contains(&digest.to_string()), "{out}");

    // The same signature uploaded again: Rekor's 409 is followed to the same entry.
    let sig = sigs[0].as_ref().unwrap();
    let up = TlogUploader::new(&log.url())
        .unwrap()
        .with_log_key(rekor_key.clone());
    let again = up
        .upload(sig.payload(), sig.signature(), key.public_key(), now())
        .await
        .unwrap();
    assert_eq!(again.log_index(), 168_898_587);
    assert_eq!(log.entry_count(), 1);

    // Pinned to another log's key, the upload is refused before anything is stored.
    let wrong_up = TlogUploader::new(&log.url())
        .unwrap()
        .with_log_key(PublicKey::from_pem(other_log.public_key_pem().as_bytes()).unwrap());
    let err = wrong_up
        .upload(sig.payload(), sig.signature(), key.public_key(), now())
        .await
        .unwrap_err();
    assert!(matches!(err, TlogError::SetInvalid { .. }), "{err}");
    // A log that is not there.
    let mut gone = RekorServer::start();
    let url = gone.url();
    gone.stop();
    let err = TlogUploader::new(&url)
        .unwrap()
        .upload(sig.payload(), sig.signature(), key.public_key(), now())
        .await
        .unwrap_err();
    assert!(matches!(err, TlogError::Http { .. }), "{err}");
}
