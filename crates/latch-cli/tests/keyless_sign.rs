//! `latch sign` and `latch attest` without a key, as CI signs: an identity token given in
//! SIGSTORE_ID_TOKEN or fetched from GitHub Actions' token endpoint, a certificate from the
//! testkit's Fulcio-like CA, the entry on its Rekor log; then `latch verify` and `latch
//! verify-attestation` by identity under the test Sigstore's root. A forged token, no
//! token, a CA that is down: clear errors that never show the token, nothing attached.

use std::process::{Command, Output};
use std::sync::Arc;

use latch_testkit::fulcio::{ACTIONS_REQUEST_TOKEN, FulcioServer, Workflow};
use latch_testkit::sigstore::{GITHUB_ISSUER, TestSigstore};
use latch_testkit::{ImageBuilder, Registry};

fn latch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latch"));
    c.args(args)
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run latch")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn keyless_signatures_and_attestations_verify_by_identity() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let sigstore = Arc::new(TestSigstore::new());
    let rekor = sigstore.rekor_server();
    let fulcio = FulcioServer::start(sigstore.clone());
    let root = tmp.path().join("trusted_root.json");
    std::fs::write(&root, sigstore.trusted_root_json()).unwrap();
    let root = root.to_str().unwrap().to_owned();
    let rekor_pub = tmp.path().join("rekor.pub");
    std::fs::write(&rekor_pub, rekor.public_key_pem()).unwrap();
    let release = Workflow::new(
        "freedomofpress/dangerzone",
        ".github/workflows/release.yml",
        "refs/heads/main",
    );
    let image = |name: &str, seed: u64| {
        let img = ImageBuilder::new()
            .seed(seed)
            .tar_layer(800)
            .build(&tmp.path().join(name), "v1");
        img.push(&reg.reference(&format!("{name}:v1")));
        format!("{}/{name}@{}", reg.host(), img.digest())
    };
    let (fulcio_url, rekor_url) = (fulcio.url(), rekor.url());
    let services = [
        "--fulcio-url",
        fulcio_url.as_str(),
        "--tlog-upload",
        rekor_url.as_str(),
        "--rekor-key",
        rekor_pub.to_str().unwrap(),
    ];
    let with = |base: &[&str], extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |args: Vec<String>, env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        latch(&args, env)
    };
    let by_identity = |cmd: &[&str], san: &str| {
        let mut a: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        a.extend(
            [
                "--certificate-identity",
                san,
                "--certificate-oidc-issuer",
                GITHUB_ISSUER,
                "--trusted-root",
                &root,
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        run(a, &[])
    };

    // Refusals first, on an image of its own: nothing is attached.
    let refused = image("app/refused", 1);
    let o = run(with(&["sign", &refused], &services), &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no identity token"), "{}", text(&o));
    let forged = fulcio.forged_token(&release);
    let o = run(
        with(&["sign", "--bundle", &refused], &services),
        &[("SIGSTORE_ID_TOKEN", &forged)],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("answered 401"), "{}", text(&o));
    assert!(!text(&o).contains(&forged), "the token was printed");
    fulcio.refuse(Some((503, "fulcio is down")));
    let token = fulcio.token(&release, 600);
    let o = run(
        with(&["sign", &refused], &services),
        &[("SIGSTORE_ID_TOKEN", &token)],
    );
    assert!(
        text(&o).contains("answered 503: fulcio is down"),
        "{}",
        text(&o)
    );
    fulcio.refuse(None);
    let o = by_identity(&["verify", &refused], &release.san());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(fulcio.issued(), 0);

    // A token in SIGSTORE_ID_TOKEN: signed, logged, verified by identity.
    let signed = image("app/signed", 2);
    let o = run(
        with(&["sign", &signed, "--json"], &services),
        &[("SIGSTORE_ID_TOKEN", &token)],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(&token), "the token was printed");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["logged"], true);
    assert_eq!(report["log_key_pinned"], true);
    assert!(
        report["signer"].as_str().unwrap().contains(&release.san()),
        "{report}"
    );
    let o = by_identity(&["verify", &signed], &release.san());
    assert!(o.status.success(), "{}", text(&o));
    let nightly = Workflow::new(
        "freedomofpress/dangerzone",
        ".github/workflows/nightly.yml",
        "refs/heads/main",
    );
    let o = by_identity(&["verify", &signed], &nightly.san());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // In GitHub Actions: the workflow's own token, fetched; an attestation on top.
    fulcio.set_ambient(Some(release.clone()));
    let actions_url = fulcio.actions_token_url();
    let ambient = [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", actions_url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", ACTIONS_REQUEST_TOKEN),
    ];
    let predicate = tmp.path().join("review.json");
    std::fs::write(&predicate, r#"{"reproduced":true}"#).unwrap();
    let review = "https://latch.test/release-review/v1";
    let o = run(
        with(
            &[
                "attest",
                &signed,
                "--type",
                review,
                "--predicate",
                predicate.to_str().unwrap(),
            ],
            &services,
        ),
        &ambient,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&release.san()), "{}", text(&o));
    let o = by_identity(
        &["verify-attestation", &signed, "--type", review],
        &release.san(),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(r#"Predicate: {"reproduced":true}"#),
        "{}",
        text(&o)
    );
    let o = by_identity(
        &["verify-attestation", &signed, "--type", review],
        &nightly.san(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // A workflow without `id-token: write`: the endpoint refuses, said plainly.
    fulcio.set_ambient(None);
    let o = run(with(&["sign", &signed], &services), &ambient);
    assert!(text(&o).contains("answered 403"), "{}", text(&o));
    assert_eq!(fulcio.issued(), 2);

    // The root kept current over TUF instead of given as a file: the test Sigstore's
    // repository on loopback (its TUF root rotated once), the state kept in --tuf-cache.
    let tuf = latch_testkit::tuf::TufServer::start(sigstore.trusted_root_json().as_bytes());
    tuf.rotate_root(true);
    let tuf_root = tmp.path().join("tuf-root.json");
    std::fs::write(&tuf_root, tuf.initial_root()).unwrap();
    let (tuf_url, tuf_root) = (tuf.url(), tuf_root.to_str().unwrap().to_owned());
    let over_tuf = |cmd: &[&str], cache: &str| {
        let mut a: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        let cache = tmp.path().join(cache);
        a.extend(
            [
                "--certificate-identity",
                &release.san(),
                "--certificate-oidc-issuer",
                GITHUB_ISSUER,
                "--tuf-url",
                &tuf_url,
                "--tuf-root",
                &tuf_root,
                "--tuf-cache",
                cache.to_str().unwrap(),
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        run(a, &[])
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let attestation = ["verify-attestation", signed.as_str(), "--type", review];
    for cmd in [&["verify", signed.as_str()][..], &attestation] {
        let o = over_tuf(cmd, "cache");
        assert!(o.status.success(), "{cmd:?}: {}", text(&o));
        assert!(!stderr(&o).contains("warning"), "{cmd:?}: {}", text(&o));
    }
    // The repository down: the root held still verifies, with a warning that says so.
    tuf.refuse(Some(503));
    for cmd in [&["verify", signed.as_str()][..], &attestation] {
        let o = over_tuf(cmd, "cache");
        assert!(o.status.success(), "{cmd:?}: {}", text(&o));
        let err = stderr(&o);
        assert!(
            err.contains("latch: warning: the Sigstore trusted root was not refreshed")
                && err.contains("TUF root version 2"),
            "{err}"
        );
    }
    // Never read (another cache): nothing that needs the root is trusted.
    let o = over_tuf(&["verify", &signed], "never-read");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("using the starting root"),
        "{}",
        text(&o)
    );
    // The public-good root built in does not know the test CA; a file and TUF conflict.
    let o = latch(
        &[
            "verify",
            &signed,
            "--certificate-identity",
            &release.san(),
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = by_identity(
        &["verify", &signed, "--refresh-trusted-root"],
        &release.san(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
