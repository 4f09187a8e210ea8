//! cosign v3 signatures and attestations written by `sign_bundle`, in a real registry
//! without the referrers API (the `sha256-<hex>` tag index), checked by cosign 2.5
//! (`verify --new-bundle-format`, `verify-attestation --new-bundle-format`) and by the
//! one decision; concurrent signers all land; a tag that is not an index is not
//! overwritten.

use std::sync::Arc;

use latch_oci::{ManifestBytes, media_types as mt};
use latch_sign::{BundleOptions, PrivateKey, SignError, TlogUploader, sign_bundle};
use latch_sigstore::cosign::COSIGN_SIGN_PREDICATE;
use latch_sources::SourceError;
use latch_testkit::Registry;

use crate::*;

fn write_key_pair(dir: &Path, key: &PrivateKey) -> PathBuf {
    write_public(dir, "signer.pub", key.public_key())
}

/// A `trusted_root.json` for cosign's bundle verification, so that it does not fetch the
/// public-good root over TUF (unreachable here); a key-signed bundle without a log uses
/// nothing from it.
fn trusted_root(dir: &Path) -> PathBuf {
    let p = dir.join("trusted_root.json");
    std::fs::write(
        &p,
        latch_testkit::sigstore::TestSigstore::new().trusted_root_json(),
    )
    .unwrap();
    p
}

/// cosign 3 with `args`, then the trusted root, no log, plain HTTP and the image.
fn cosign3(args: &[&str], root: &Path, image: &Reference, home: &Path) -> Result<String, String> {
    let mut all = args.to_vec();
    all.push("--insecure-ignore-tlog=true");
    cosign3_logged(&all, root, image, home)
}

/// cosign 3 with `args`, then the trusted root, plain HTTP and the image.
fn cosign3_logged(
    args: &[&str],
    root: &Path,
    image: &Reference,
    home: &Path,
) -> Result<String, String> {
    let mut c = peers().cosign3();
    c.args(args)
        .arg("--trusted-root")
        .arg(root)
        .arg("--allow-http-registry")
        .arg(image.to_string())
        .env("HOME", home);
    latch_testkit::try_run(&mut c)
}

/// cosign 2.5's `verify-attestation` of `kind` by `public`, without a log, under `root`
/// (so that it fetches no root over TUF).
fn cosign25_verify_attestation(
    public: &Path,
    kind: &str,
    root: &Path,
    image: &Reference,
    home: &Path,
) -> Result<String, String> {
    cosign(
        &[
            "verify-attestation",
            "--new-bundle-format",
            "--trusted-root",
            root.to_str().unwrap(),
            "--key",
            public.to_str().unwrap(),
            "--type",
            kind,
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            &image.to_string(),
        ],
        "",
        home,
    )
}

/// The bundles of `image` the updater and `latch verify` would look at, decided with
/// `trust`.
async fn decide_bundles(image: &Reference, trust: &Trust) -> Verdict {
    let digest = image.digest().unwrap();
    let found = signature_bundles(image).await;
    latch_decide::decide(trust, &found, digest, now())
}

#[tokio::test(flavor = "multi_thread")]
async fn bundles_verify_with_cosign_and_latch() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let (image, digest) = push_image(&reg, "bundle/app:v1", 70);
    let key = latch_key();
    let public = write_key_pair(home.path(), &key);
    let root = trusted_root(home.path());

    let report = sign_bundle(&client(), &key, &image, &BundleOptions::signature(now()))
        .await
        .unwrap();
    assert_eq!(report.predicate_type, COSIGN_SIGN_PREDICATE);
    assert!(!report.logged);
    let one = &report.signed[0];
    assert_eq!((&one.digest, one.referrers), (&digest, 1));
    assert_eq!(one.index, format!("{}:{}", image.name(), digest.tag_form()));
    // No `.sig` manifest was written.
    assert!(signatures(&image).await.is_empty());

    // cosign 3 finds the referrer through the tag index and verifies it with the key;
    // cosign 2.5's `verify` finds no v3 signature, its `verify-attestation` of the
    // `sign/v1` type checks the same artifact.
    let out = cosign3(
        &["verify", "--key", public.to_str().unwrap()],
        &root,
        &image,
        home.path(),
    );
    assert!(out.is_ok(), "cosign 3 verify: {out:?}");
    let out =
        cosign25_verify_attestation(&public, COSIGN_SIGN_PREDICATE, &root, &image, home.path());
    assert!(out.is_ok(), "cosign 2.5 verify-attestation: {out:?}");
    // Another key does not verify it, for cosign or for Latch.
    let other = latch_key();
    let other_public = write_public(home.path(), "other.pub", other.public_key());
    let out = cosign3(
        &["verify", "--key", other_public.to_str().unwrap()],
        &root,
        &image,
        home.path(),
    );
    assert!(out.is_err(), "cosign 3 accepted another key: {out:?}");
    let v = decide_bundles(&image, &policy(&[key.public_key()], 1)).await;
    assert!(v.trusted, "{}", v.summary());
    assert_eq!(v.accepted_bundles().count(), 1);
    let v = decide_bundles(&image, &policy(&[other.public_key()], 1)).await;
    assert!(!v.trusted, "{}", v.summary());

    // A second signer's bundle is its own referrer; the first stays listed.
    let report = sign_bundle(&client(), &other, &image, &BundleOptions::signature(now()))
        .await
        .unwrap();
    assert_eq!(report.signed[0].referrers, 2);
    let both = policy(&[key.public_key(), other.public_key()], 2);
    let v = decide_bundles(&image, &both).await;
    assert!(v.trusted, "{}", v.summary());

    // A tag digest alone is refused before anything is fetched or written.
    let by_tag = Reference::parse(&format!("{}/bundle/app:v1", reg.host())).unwrap();
    let e = sign_bundle(&client(), &key, &by_tag, &BundleOptions::signature(now()))
        .await
        .unwrap_err();
    assert!(matches!(e, SignError::NoDigest { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bundle_signers_all_land() {
    let reg = Registry::start();
    let keys: Vec<Arc<PrivateKey>> = (0..4).map(|_| Arc::new(latch_key())).collect();
    for round in 0..2u64 {
        let (image, _) = push_image(&reg, &format!("race/bundle{round}:v1"), 80 + round);
        let barrier = Arc::new(tokio::sync::Barrier::new(keys.len()));
        let mut tasks = Vec::new();
        for key in &keys {
            let (key, image, barrier) = (key.clone(), image.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                sign_bundle(
                    &client(),
                    key.as_ref(),
                    &image,
                    &BundleOptions::signature(now()),
                )
                .await
            }));
        }
        let mut attempts = Vec::new();
        for t in tasks {
            attempts.push(t.await.unwrap().expect("every signer succeeds").signed[0].attempts);
        }
        eprintln!("round {round}: attempts {attempts:?}");
        let publics: Vec<&PublicKey> = keys.iter().map(|k| k.public_key()).collect();
        let v = decide_bundles(&image, &policy(&publics, keys.len())).await;
        assert!(
            v.trusted,
            "round {round}: attempts {attempts:?}: {}",
            v.summary()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn attestations_verify_with_cosign_and_name_their_type() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let (image, digest) = push_image(&reg, "bundle/attested:v1", 90);
    let key = latch_key();
    let public = write_key_pair(home.path(), &key);
    let root = trusted_root(home.path());
    let review = "https://latch.test/release-review/v1";
    let opts =
        BundleOptions::attestation(review, br#"{"reviewed_by":"alice","ok":true}"#, now()).unwrap();
    let report = sign_bundle(&client(), &key, &image, &opts).await.unwrap();
    assert_eq!(report.predicate_type, review);

    let verify_attestation = |public: &Path, kind: &str| {
        cosign25_verify_attestation(public, kind, &root, &image, home.path())
    };
    let out = verify_attestation(&public, review);
    assert!(out.is_ok(), "cosign verify-attestation: {out:?}");
    let other = write_public(home.path(), "other.pub", latch_key().public_key());
    assert!(verify_attestation(&other, review).is_err());
    // An attestation is not an image signature: the one decision does not count it.
    let v = decide_bundles(&image, &policy(&[key.public_key()], 1)).await;
    assert!(!v.trusted, "{}", v.summary());
    let _ = digest;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_referrers_tag_that_is_not_an_index_is_not_overwritten() {
    let reg = Registry::start();
    let (image, digest) = push_image(&reg, "bundle/squat:v1", 95);
    // Something else already holds the `sha256-<hex>` tag: an image manifest.
    let c = client();
    let tag_ref = image
        .repository_only()
        .with_tag(&digest.tag_form())
        .unwrap();
    let config = c
        .push_blob_bytes(&tag_ref, mt::OCI_EMPTY, bytes::Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let squatter = ManifestBytes::from_image(&latch_oci::ImageManifest {
        schema_version: 2,
        media_type: Some(mt::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config,
        layers: Vec::new(),
        subject: None,
        annotations: None,
    });
    c.put_manifest(&tag_ref, &digest.tag_form(), &squatter)
        .await
        .unwrap();
    let e = sign_bundle(&c, &latch_key(), &image, &BundleOptions::signature(now()))
        .await
        .unwrap_err();
    match &e {
        SignError::Attach { source, .. } => assert!(
            matches!(source.as_ref(), SourceError::NotAReferrersIndex { .. }),
            "{e}"
        ),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("refusing to overwrite"), "{e}");
    let still = c.get_manifest(&tag_ref).await.unwrap();
    assert_eq!(still.digest(), squatter.digest());
}

#[tokio::test(flavor = "multi_thread")]
async fn logged_bundles_verify_with_cosign_and_latch_and_a_refusing_log_writes_nothing() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let sigstore = latch_testkit::sigstore::TestSigstore::new();
    let rekor = sigstore.rekor_server();
    let root = home.path().join("trusted_root.json");
    std::fs::write(&root, sigstore.trusted_root_json()).unwrap();
    let log_key = PublicKey::from_der(&sigstore.rekor_key_der()).unwrap();
    let (image, _) = push_image(&reg, "bundle/logged:v1", 97);
    let key = latch_key();
    let public = write_key_pair(home.path(), &key);
    let logged = |pinned: Option<PublicKey>| {
        let mut up = TlogUploader::new(&rekor.url()).unwrap();
        if let Some(k) = pinned {
            up = up.with_log_key(k);
        }
        BundleOptions {
            tlog: Some(up),
            ..BundleOptions::signature(now())
        }
    };
    let bundles = || async { signature_bundles(&image).await.bundles.len() };

    // A log that refuses, and a log whose answer does not verify with the pinned key:
    // nothing is attached.
    rekor.refuse(Some((503, "the log is down for maintenance")));
    let e = sign_bundle(&client(), &key, &image, &logged(Some(log_key.clone())))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("answered 503: the log is down for maintenance"),
        "{e}"
    );
    rekor.refuse(None);

    assert_eq!(bundles().await, 0);

    let report = sign_bundle(&client(), &key, &image, &logged(Some(log_key.clone())))
        .await
        .unwrap();
    assert!(report.logged);
    assert_eq!(report.log_key_pinned, Some(true));
    assert!(report.signed[0].log_index.is_some());
    assert_eq!(bundles().await, 1);

    // cosign 3 verifies it with the log required, under the root listing the log's key.
    // (cosign 2.5's `verify-attestation` says "no valid bundles exist" of this logged
    // bundle without saying why; it is the peer for unlogged ones above.)
    let out = cosign3_logged(
        &["verify", "--key", public.to_str().unwrap()],
        &root,
        &image,
        home.path(),
    );
    assert!(out.is_ok(), "cosign 3 verify: {out:?}");
    // Latch too, with the log required (the Rekor key pinned).
    let required = Trust::builder()
        .key(key.public_key().clone())
        .rekor_key(log_key.clone())
        .tlog(TlogMode::Required)
        .build()
        .unwrap();
    let v = decide_bundles(&image, &required).await;
    assert!(v.trusted, "{}", v.summary());
    assert!(v.max_log_index.is_some());

    // Without a pinned key, the key the log publishes checks the answer.
    let other = latch_key();
    let report = sign_bundle(&client(), &other, &image, &logged(None))
        .await
        .unwrap();
    assert_eq!(report.log_key_pinned, Some(false));
    assert_eq!(rekor.entry_count(), 2);
}
