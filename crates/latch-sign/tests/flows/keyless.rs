//! Keyless signing against the testkit's Fulcio-like CA and Rekor log (both keyed by one
//! test Sigstore, whose `trusted_root.json` verifiers use): an identity token for a GitHub
//! workflow, an ephemeral key certified for it, a logged cosign v3 bundle accepted by the
//! one decision for that identity only and by cosign 3; an expired or forged token, a CA
//! or a log that refuses: clear errors, nothing attached.

use std::sync::Arc;

use latch_sign::keyless::KeylessError;
use latch_sign::{BundleOptions, Fulcio, IdentityToken, SignError, TlogUploader, sign_bundle};
use latch_sigstore::{IdentityPolicy, SanMatcher, TrustRoot};
use latch_testkit::Registry;
use latch_testkit::fulcio::{FulcioServer, Workflow};
use latch_testkit::sigstore::{GITHUB_ISSUER, TestSigstore};

use crate::*;

fn trusting(san: &str, root_json: &str) -> Trust {
    Trust::builder()
        .identity(IdentityPolicy::new(GITHUB_ISSUER, SanMatcher::exact(san)))
        .identity_root(TrustRoot::from_json(root_json.as_bytes(), "test").unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keyless_bundle_verifies_by_identity_and_refusals_write_nothing() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let sigstore = Arc::new(TestSigstore::new());
    let rekor = sigstore.rekor_server();
    let fulcio = FulcioServer::start(sigstore.clone());
    let root_json = sigstore.trusted_root_json();
    let root_file = home.path().join("trusted_root.json");
    std::fs::write(&root_file, &root_json).unwrap();
    let release = Workflow::new(
        "freedomofpress/dangerzone",
        ".github/workflows/release.yml",
        "refs/heads/main",
    );
    let (image, digest) = push_image(&reg, "keyless/app:v1", 120);
    let ca = Fulcio::new(&fulcio.url()).unwrap();
    let log_key = PublicKey::from_der(&sigstore.rekor_key_der()).unwrap();
    let logged = || BundleOptions {
        tlog: Some(
            TlogUploader::new(&rekor.url())
                .unwrap()
                .with_log_key(log_key.clone()),
        ),
        ..BundleOptions::signature(now())
    };
    let bundles = || async { signature_bundles(&image).await.bundles.len() };

    // Tokens the CA must not honour: expired (refused before it is sent), forged.
    let expired = IdentityToken::new(&fulcio.token(&release, -60)).unwrap();
    let e = ca.certify(&expired, now()).await.err().unwrap();
    assert!(matches!(e, KeylessError::TokenExpired { .. }), "{e}");
    assert_eq!(fulcio.issued(), 0);
    let forged = IdentityToken::new(&fulcio.forged_token(&release)).unwrap();
    let e = ca.certify(&forged, now()).await.err().unwrap();
    assert!(
        matches!(&e, KeylessError::Refused { status: 401, message, .. } if message.contains("invalid signature")),
        "{e}"
    );
    // Its Debug and errors never show the token.
    let token_text = fulcio.token(&release, 600);
    let token = IdentityToken::new(&token_text).unwrap();
    assert!(!format!("{token:?}{e}").contains(&token_text));
    // A CA that is down.
    fulcio.refuse(Some((503, "fulcio is down")));
    let e = ca.certify(&token, now()).await.err().unwrap();
    assert!(
        e.to_string().contains("answered 503: fulcio is down"),
        "{e}"
    );
    fulcio.refuse(None);

    let certified = ca.certify(&token, now()).await.unwrap();
    assert_eq!(certified.identity(), release.san());
    assert_eq!(certified.claims.issuer, GITHUB_ISSUER);
    // A log that refuses: nothing attached.
    rekor.refuse(Some((500, "rekor is down")));
    let opts = BundleOptions {
        certificate: Some(certified.certificate.clone()),
        ..logged()
    };
    let e = sign_bundle(&client(), &certified.key, &image, &opts)
        .await
        .unwrap_err();
    assert!(matches!(e, SignError::Tlog(_)), "{e}");
    assert_eq!(bundles().await, 0);
    rekor.refuse(None);

    let report = sign_bundle(&client(), &certified.key, &image, &opts)
        .await
        .unwrap();
    assert!(report.logged && report.signed[0].log_index.is_some());
    assert_eq!(bundles().await, 1);
    // The one decision accepts it for this workflow's identity, and only for it.
    let v = latch_decide::decide(
        &trusting(&release.san(), &root_json),
        &signature_bundles(&image).await,
        &digest,
        now(),
    );
    assert!(v.trusted, "{}", v.summary());
    let other = Workflow::new(
        "freedomofpress/dangerzone",
        ".github/workflows/nightly.yml",
        "refs/heads/main",
    );
    let found = signature_bundles(&image).await;
    let v = latch_decide::decide(&trusting(&other.san(), &root_json), &found, &digest, now());
    assert!(!v.trusted, "{}", v.summary());
    // A key does not verify it either.
    let v = latch_decide::decide(
        &policy(&[certified.key.public_key()], 1),
        &found,
        &digest,
        now(),
    );
    assert!(!v.trusted, "{}", v.summary());

    // cosign 3 verifies it by identity, with the log, under the same root.
    let mut c = peers().cosign3();
    c.args(["verify", "--certificate-identity", &release.san()])
        .args(["--certificate-oidc-issuer", GITHUB_ISSUER, "--trusted-root"])
        .arg(&root_file)
        .args(["--allow-http-registry", &image.to_string()])
        .env("HOME", home.path());
    let out = latch_testkit::try_run(&mut c);
    assert!(out.is_ok(), "cosign 3 verify: {out:?}");
    let mut c = peers().cosign3();
    c.args(["verify", "--certificate-identity", &other.san()])
        .args(["--certificate-oidc-issuer", GITHUB_ISSUER, "--trusted-root"])
        .arg(&root_file)
        .args(["--allow-http-registry", &image.to_string()])
        .env("HOME", home.path());
    assert!(latch_testkit::try_run(&mut c).is_err());
}
