//! Keys move between Latch, cosign and skopeo in both directions.

use latch_sign::{KeyError, KeyFileError, Password, PrivateKey, SignOptions, sign, write_key_pair};
use latch_testkit::{Registry, try_run};

use crate::*;

/// A key file's error, for assertions.
fn key_error(e: KeyFileError) -> KeyError {
    match e {
        KeyFileError::Key { source, .. } => source,
        other => panic!("expected a key error, got {other}"),
    }
}

#[tokio::test]
async fn cosign_and_skopeo_keys_sign_with_latch() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();

    // cosign generate-key-pair (cosign 2.5: ENCRYPTED SIGSTORE PRIVATE KEY).
    let mut c = peers().command("cosign");
    c.args(["generate-key-pair", "--output-key-prefix"])
        .arg(dir.join("ck"))
        .env("HOME", dir)
        .env("COSIGN_PASSWORD", "cosign pw");
    try_run(&mut c).unwrap();
    let ck_text = std::fs::read_to_string(dir.join("ck.key")).unwrap();
    assert!(ck_text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    let ck = PrivateKey::load(&dir.join("ck.key"), &mut pw("cosign pw")).unwrap();
    let ck_pub = PublicKey::from_pem(&std::fs::read(dir.join("ck.pub")).unwrap()).unwrap();
    assert_eq!(ck.public_key(), &ck_pub);

    // skopeo generate-sigstore-key (skopeo 1.18: ENCRYPTED COSIGN PRIVATE KEY).
    std::fs::write(dir.join("pass"), "skopeo pw").unwrap();
    let mut c = peers().command("skopeo");
    c.args(["generate-sigstore-key", "--output-prefix"])
        .arg(dir.join("sk"))
        .arg("--passphrase-file")
        .arg(dir.join("pass"));
    try_run(&mut c).unwrap();
    let sk_text = std::fs::read_to_string(dir.join("sk.private")).unwrap();
    assert!(sk_text.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"));
    let sk = PrivateKey::load(&dir.join("sk.private"), &mut pw("skopeo pw")).unwrap();
    let sk_pub = PublicKey::from_pem(&std::fs::read(dir.join("sk.pub")).unwrap()).unwrap();
    assert_eq!(sk.public_key(), &sk_pub);

    // Latch signs with each; cosign and skopeo (policy) accept with the matching key.
    let (image, digest) = push_image(&reg, "keys/app:v1", 11);
    for key in [&ck, &sk] {
        sign(&client(), key, &image, &SignOptions::default())
            .await
            .unwrap();
    }
    for public in [dir.join("ck.pub"), dir.join("sk.pub")] {
        let out = cosign_verify(&public, &image, dir).expect("cosign accepts Latch's signature");
        assert!(out.contains(&digest.to_string()), "{out}");
        skopeo_policy_copy(&reg, &image, &public, None).expect("skopeo's policy accepts it");
    }
    let sigs = signatures(&image).await;
    assert_eq!(sigs.len(), 2);
    verify(&policy(&[&ck_pub, &sk_pub], 2), &digest, &sigs, now()).unwrap();
}

#[tokio::test]
async fn latch_keys_sign_with_cosign_and_skopeo() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let key = PrivateKey::generate().unwrap();
    let (private, public) =
        write_key_pair(&key, &Password::new("latch pw"), &dir.join("lk")).unwrap();
    assert!(
        std::fs::read_to_string(&private)
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the private key is readable by others: {mode:o}"
        );
    }
    // Never overwritten.
    assert!(matches!(
        write_key_pair(&key, &Password::new("x"), &dir.join("lk")),
        Err(KeyFileError::Exists { .. })
    ));

    // cosign sign --key <Latch key>.
    let (by_cosign, d1) = push_image(&reg, "keys/cosigned:v1", 21);
    cosign(
        &[
            "sign",
            "--key",
            private.to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            &by_cosign.to_string(),
        ],
        "latch pw",
        dir,
    )
    .expect("cosign signs with a key Latch wrote");

    // skopeo copy --sign-by-sigstore-private-key <Latch key>.
    let (src, d2) = push_image(&reg, "keys/skopeo-src:v1", 22);
    std::fs::write(dir.join("pass"), "latch pw").unwrap();
    let regd = dir.join("registries.d");
    std::fs::create_dir(&regd).unwrap();
    std::fs::write(
        regd.join("r.yaml"),
        format!(
            "docker:\n  {}:\n    use-sigstore-attachments: true\n",
            reg.host()
        ),
    )
    .unwrap();
    let mut c = peers().command("skopeo");
    c.args(["--insecure-policy", "--registries.d"])
        .arg(&regd)
        .args([
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .arg("--sign-by-sigstore-private-key")
        .arg(&private)
        .arg("--sign-passphrase-file")
        .arg(dir.join("pass"))
        .arg(format!("docker://{src}"))
        .arg(format!("docker://{}/keys/skopeo:v1", reg.host()));
    try_run(&mut c).expect("skopeo signs with a key Latch wrote");
    let by_skopeo = Reference::parse(&format!("{}/keys/skopeo@{d2}", reg.host())).unwrap();

    // Both verify with latch_trust (and the repository is checked: skopeo names
    // repo:tag, cosign the bare repository).
    let public_key = PublicKey::from_pem(&std::fs::read(&public).unwrap()).unwrap();
    for (image, digest) in [(&by_cosign, &d1), (&by_skopeo, &d2)] {
        let policy = latch_decide::Trust::builder()
            .key(public_key.clone())
            .tlog(latch_trust::TlogMode::Ignored)
            .repository(image.clone())
            .build()
            .unwrap();
        let sigs = signatures(image).await;
        let verdict = verify(&policy, digest, &sigs, now()).unwrap();
        assert_eq!(verdict.count(), 1);
    }
}

#[test]
fn wrong_password_and_corrupted_files_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate().unwrap();
    let secret = "s3cret-Passw0rd";
    let (private, _) = write_key_pair(&key, &Password::new(secret), &dir.path().join("k")).unwrap();
    let good = std::fs::read_to_string(&private).unwrap();

    // Wrong password.
    let err = PrivateKey::load(&private, &mut pw("not the password")).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("wrong password"), "{text}");
    assert!(
        text.contains(private.to_str().unwrap()),
        "names the file: {text}"
    );
    assert!(matches!(key_error(err), KeyError::WrongPasswordOrCorrupted));

    // The right one works, and the password never appears in any error below.
    PrivateKey::load(&private, &mut pw(secret)).unwrap();

    let body: String = good.lines().filter(|l| !l.starts_with("-----")).collect();
    let json = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &body).unwrap(),
    )
    .unwrap();
    let rewrap = |json: &str| {
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, json);
        format!(
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{b64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
        )
    };
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ct = v["ciphertext"].as_str().unwrap();
    // Flip one base64 character of the ciphertext (keeping it valid base64).
    let mut flipped = ct.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let mut salt_changed = v.clone();
    salt_changed["kdf"]["salt"] = serde_json::json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let cases: Vec<(String, &str)> = vec![
        (
            rewrap(&json.replace(ct, &flipped)),
            "wrong password, or the encrypted key is corrupted",
        ),
        (
            rewrap(&salt_changed.to_string()),
            "wrong password, or the encrypted key is corrupted",
        ),
        (
            good[..good.len() / 2].to_owned(),
            "no matching -----END line",
        ),
        (rewrap(&json[..json.len() - 5]), "envelope is malformed"),
        (
            good.replace("SIGSTORE PRIVATE KEY", "SIGSTORE PUBLIC KEY"),
            "PEM label",
        ),
        (
            rewrap(&json.replace("nacl/secretbox", "aes")),
            "only nacl/secretbox",
        ),
        (
            rewrap(&json.replace("\"N\":65536", "\"N\":1073741824")),
            "scrypt parameters",
        ),
        ("\u{0}\u{1}binary".to_owned(), "not a PEM private key"),
    ];
    for (i, (content, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.key"));
        std::fs::write(&path, content).unwrap();
        let err = PrivateKey::load(&path, &mut pw(secret)).unwrap_err();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(text.contains(expected), "case {i}: {text}");
        assert!(
            !text.contains(secret),
            "case {i} leaks the password: {text}"
        );
        assert!(
            !format!("{err:?}").contains(secret),
            "case {i} leaks in Debug"
        );
    }
    // A missing file names the file.
    let err = PrivateKey::load(&dir.path().join("nope.key"), &mut pw(secret)).unwrap_err();
    assert!(matches!(err, KeyFileError::Read { .. }), "{err}");
    // Debug of a key shows no key material.
    let dbg = format!("{key:?}");
    assert!(
        dbg.contains("EcdsaP256Sha256") && !dbg.contains("pkcs8"),
        "{dbg}"
    );
}
