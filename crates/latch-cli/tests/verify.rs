//! `latch verify-signatures` on Dangerzone's real signatures, and `latch verify` on images
//! signed by independent implementations (cosign 2.5 and skopeo 1.18) in a real registry.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use latch_testkit::{ImageBuilder, Peers, Registry, require_testdata, run};

fn latch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .output()
        .expect("run latch")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn digest_of(file: &Path) -> String {
    format!("sha256:{}", file.file_stem().unwrap().to_str().unwrap())
}

#[test]
fn dangerzone_signatures_verify_offline_and_bad_ones_are_named() {
    let Some(td) = require_testdata() else { return };
    let dz = td.join("dangerzone");
    let key = dz.join("test.pub.key");
    let rekor = dz.join("rekor.pub");
    let valid_dir = dz.join("signatures/valid");
    let key_dir = std::fs::read_dir(&valid_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut checked = 0;
    for f in std::fs::read_dir(&key_dir).unwrap() {
        let f = f.unwrap().path();
        let d = digest_of(&f);
        let args = [
            "verify-signatures",
            "--json",
            "--key",
            key.to_str().unwrap(),
            "--rekor-key",
            rekor.to_str().unwrap(),
            "--digest",
            &d,
            f.to_str().unwrap(),
        ];
        let o = latch(&args);
        assert!(o.status.success(), "{}: {}", f.display(), text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["verified"], true);
        assert!(v["max_log_index"].as_u64().unwrap() > 100_000_000);
        checked += 1;

        // The production key did not sign these.
        let prod = dz.join("freedomofpress-dangerzone.pub");
        let mut wrong = args;
        wrong[3] = prod.to_str().unwrap();
        let o = latch(&wrong);
        assert_eq!(o.status.code(), Some(1));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["verified"], false);
        assert!(
            v["verdict"]["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["check"] == "signature")
        );
    }
    assert_eq!(checked, 5);

    // 19e8…: the documented log index, in text output.
    let f = key_dir.join("19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67.json");
    let o = latch(&[
        "verify-signatures",
        "--key",
        key.to_str().unwrap(),
        "--rekor-key",
        rekor.to_str().unwrap(),
        "--digest",
        &digest_of(&f),
        f.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(
        text(&o).contains("Highest log index: 168898587"),
        "{}",
        text(&o)
    );

    // Another digest than the one signed: refused by the digest check.
    let o = latch(&[
        "verify-signatures",
        "--key",
        key.to_str().unwrap(),
        "--rekor-key",
        rekor.to_str().unwrap(),
        "--digest",
        "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("refused (digest)"), "{}", text(&o));

    // Another repository than the one signed.
    let o = latch(&[
        "verify-signatures",
        "--key",
        key.to_str().unwrap(),
        "--rekor-key",
        rekor.to_str().unwrap(),
        "--digest",
        &digest_of(&f),
        "--repository",
        "ghcr.io/freedomofpress/dangerzone/v1",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("refused (repository)"), "{}", text(&o));

    // Invalid and tampered fixtures: refused, each naming the check.
    for (kind, check) in [("invalid", "malformed"), ("tampered", "")] {
        let dir = dz.join("signatures").join(kind);
        let key_dir = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        for f in std::fs::read_dir(&key_dir).unwrap() {
            let f = f.unwrap().path();
            let o = latch(&[
                "verify-signatures",
                "--key",
                key.to_str().unwrap(),
                "--rekor-key",
                rekor.to_str().unwrap(),
                "--digest",
                &digest_of(&f),
                f.to_str().unwrap(),
            ]);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{kind} {}: {}",
                f.display(),
                text(&o)
            );
            assert!(
                text(&o).contains("NOT verified") || text(&o).contains("latch:"),
                "{}",
                text(&o)
            );
            assert!(text(&o).contains(check), "{}", text(&o));
        }
    }
}

struct Signed {
    reg: Registry,
    _tmp: tempfile::TempDir,
    keys: PathBuf,
    a: String,
    a_digest: String,
    b: String,
    b_digest: String,
}

/// Two images in a real registry; A signed by cosign (key cosign.pub) and skopeo (key
/// skopeo.pub); B unsigned.
fn two_images_signed_by_peers(peers: &Peers) -> Signed {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let a_img = ImageBuilder::new()
        .seed(1)
        .gzip_layer(1000)
        .build(&tmp.path().join("a"), "v1");
    let b_img = ImageBuilder::new()
        .seed(2)
        .gzip_layer(1000)
        .build(&tmp.path().join("b"), "v1");
    b_img.push(&reg.reference("app/b:v1"));
    let keys = tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();

    // cosign: generate a key pair, sign A by digest without a transparency log.
    let mut c = peers.command("cosign");
    c.arg("generate-key-pair")
        .current_dir(&keys)
        .env("COSIGN_PASSWORD", "pw")
        .env("HOME", &keys);
    run(&mut c);

    // skopeo: generate a sigstore key, push A and sign it on the way.
    let pass = keys.join("pass");
    std::fs::write(&pass, "pw2").unwrap();
    let mut c = peers.command("skopeo");
    c.args(["generate-sigstore-key", "--output-prefix"])
        .arg(keys.join("skopeo"))
        .arg("--passphrase-file")
        .arg(&pass);
    run(&mut c);
    let regd = tmp.path().join("registries.d");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("local.yaml"),
        format!(
            "docker:\n  {}:\n    use-sigstore-attachments: true\n",
            reg.host()
        ),
    )
    .unwrap();
    let mut c = peers.command("skopeo");
    c.arg("--insecure-policy")
        .arg("--registries.d")
        .arg(&regd)
        .args([
            "copy",
            "--dest-tls-verify=false",
            "--preserve-digests",
            "--sign-by-sigstore-private-key",
        ])
        .arg(keys.join("skopeo.private"))
        .arg("--sign-passphrase-file")
        .arg(&pass)
        .arg(format!("oci:{}:v1", tmp.path().join("a").display()))
        .arg(format!("docker://{}", reg.reference("app/a:v1")));
    run(&mut c);

    let a_digest = a_img.digest().to_string();
    let a_by_digest = format!("{}/app/a@{a_digest}", reg.host());
    let mut c = peers.command("cosign");
    c.args(["sign", "--key"])
        .arg(keys.join("cosign.key"))
        .args([
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            &a_by_digest,
        ])
        .env("COSIGN_PASSWORD", "pw")
        .env("HOME", &keys);
    run(&mut c);
    Signed {
        a: reg.reference("app/a:v1"),
        b: reg.reference("app/b:v1"),
        b_digest: b_img.digest().to_string(),
        reg,
        _tmp: tmp,
        keys,
        a_digest,
    }
}

#[test]
fn images_signed_by_cosign_and_skopeo_verify_and_attacks_are_refused() {
    let Some(peers) = Peers::require() else {
        return;
    };
    let s = two_images_signed_by_peers(peers);
    let cosign_pub = s.keys.join("cosign.pub");
    let skopeo_pub = s.keys.join("skopeo.pub");

    // Each peer's signature verifies alone, and both together meet a 2-of-2 threshold.
    for key in [&cosign_pub, &skopeo_pub] {
        let o = latch(&["verify", "--json", &s.a, "--key", key.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}", key.display(), text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["digest"], s.a_digest);
        let outcomes = v["verdict"]["outcomes"].as_array().unwrap();
        assert_eq!(outcomes.len(), 2, "two signatures in the .sig manifest");
        // The other peer's signature is reported and skipped.
        assert_eq!(outcomes.iter().filter(|o| o["accepted"] == true).count(), 1);
    }
    let o = latch(&[
        "verify",
        &s.a,
        "--key",
        cosign_pub.to_str().unwrap(),
        "--key",
        skopeo_pub.to_str().unwrap(),
        "--threshold",
        "2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2 of 2 required"), "{}", text(&o));

    // Unsigned image.
    let o = latch(&["verify", &s.b, "--key", cosign_pub.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no signatures found"), "{}", text(&o));

    // Signed by a key that is not trusted.
    let other = s.keys.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let mut c = peers.command("cosign");
    c.arg("generate-key-pair")
        .current_dir(&other)
        .env("COSIGN_PASSWORD", "")
        .env("HOME", &other);
    run(&mut c);
    let o = latch(&[
        "verify",
        &s.a,
        "--key",
        other.join("cosign.pub").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("refused (signature)"), "{}", text(&o));

    // The .sig manifest of A copied to B's .sig tag: refused, the payload names A.
    let sig_a = format!(
        "docker://{}/app/a:sha256-{}.sig",
        s.reg.host(),
        &s.a_digest[7..]
    );
    let sig_b = format!(
        "docker://{}/app/b:sha256-{}.sig",
        s.reg.host(),
        &s.b_digest[7..]
    );
    run(latch_testkit::Skopeo::system().command().args([
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &sig_a,
        &sig_b,
    ]));
    let o = latch(&[
        "verify",
        "--json",
        &s.b,
        "--key",
        cosign_pub.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let checks: Vec<&str> = v["verdict"]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["check"].as_str().unwrap_or("accepted"))
        .collect();
    assert!(checks.contains(&"digest"), "{checks:?}");

    // The same image and signatures copied to another repository: refused by the
    // docker-reference check unless the expected repository is said explicitly.
    let a_digest_ref = format!("docker://{}/app/a@{}", s.reg.host(), s.a_digest);
    let moved = format!("docker://{}/moved/a:v1", s.reg.host());
    run(latch_testkit::Skopeo::system().command().args([
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &a_digest_ref,
        &moved,
    ]));
    let moved_sig = format!(
        "docker://{}/moved/a:sha256-{}.sig",
        s.reg.host(),
        &s.a_digest[7..]
    );
    run(latch_testkit::Skopeo::system().command().args([
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &sig_a,
        &moved_sig,
    ]));
    let moved_ref = s.reg.reference("moved/a:v1");
    let o = latch(&["verify", &moved_ref, "--key", cosign_pub.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("refused (repository)"), "{}", text(&o));
    let original = format!("{}/app/a", s.reg.host());
    let o = latch(&[
        "verify",
        &moved_ref,
        "--repository",
        &original,
        "--key",
        cosign_pub.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));

    // A Rekor key pinned: these signatures carry no log entry, so they are refused…
    let td = require_testdata();
    if let Some(td) = td {
        let rekor = td.join("dangerzone/rekor.pub");
        let o = latch(&[
            "verify",
            &s.a,
            "--key",
            cosign_pub.to_str().unwrap(),
            "--rekor-key",
            rekor.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o).contains("tlog.missing"), "{}", text(&o));
        // …unless the log is optional.
        let o = latch(&[
            "verify",
            &s.a,
            "--key",
            cosign_pub.to_str().unwrap(),
            "--rekor-key",
            rekor.to_str().unwrap(),
            "--tlog",
            "optional",
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
}
