//! Keys on a PKCS#11 token, as a releaser with a YubiKey uses them, on a real module:
//! SoftHSM 2 (`softhsm2`), with keys generated on the token by OpenSC's `pkcs11-tool`.
//! `latch sign --key pkcs11:…`, `latch promote --key pkcs11:…` and `latch generate-key-pair
//! --export-public-key pkcs11:…` against the real local registry; the signatures are
//! checked by `latch verify`, cosign 2.5 and skopeo 1.18 with the exported public key.
//! Each test has its own token directory (`SOFTHSM2_CONF` for the processes it runs).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use latch_testkit::{ImageBuilder, Peers, Registry, need, runs, try_run};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const LABEL: &str = "latch-test";
/// PINs that cannot turn up by chance in a digest or a key id.
const PIN: &str = "pin-k7Qz";
const SO_PIN: &str = "so-pin-5678";
const WRONG_PIN: &str = "wrong-pin-X9";

/// A SoftHSM token directory with one initialised token, [`LABEL`].
struct Token {
    dir: tempfile::TempDir,
    conf: PathBuf,
    slot_id: u64,
}

impl Token {
    /// A fresh token; `None` (skip) when SoftHSM or pkcs11-tool is missing, outside CI.
    fn new() -> Option<Token> {
        if !need(
            Path::new(MODULE).exists() && runs("softhsm2-util"),
            "SoftHSM 2 is not installed (apt-get install softhsm2)",
        ) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let mut c = Command::new("softhsm2-util");
        c.args(["--init-token", "--free", "--label", LABEL, "--pin", PIN])
            .args(["--so-pin", SO_PIN])
            .env("SOFTHSM2_CONF", &conf);
        let out = try_run(&mut c).expect("softhsm2-util --init-token");
        // "The token has been initialized and is reassigned to slot 37573828"
        let slot_id = out
            .split_whitespace()
            .last()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no slot in {out:?}"));
        let token = Token { dir, conf, slot_id };
        let tool = Command::new("pkcs11-tool")
            .args(["--module", MODULE, "--show-info"])
            .env("SOFTHSM2_CONF", &token.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !need(
            tool,
            "pkcs11-tool is not installed (apt-get install opensc)",
        ) {
            return None;
        }
        Some(token)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `pkcs11-tool` logged in to the token.
    fn tool(&self, args: &[&str]) -> String {
        let mut c = Command::new("pkcs11-tool");
        c.args([
            "--module",
            MODULE,
            "--token-label",
            LABEL,
            "--login",
            "--pin",
            PIN,
        ])
        .args(args)
        .env("SOFTHSM2_CONF", &self.conf);
        try_run(&mut c).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A key pair generated on the token (`EC:prime256v1`, `EC:secp384r1`, `rsa:2048`).
    fn keypair(&self, key_type: &str, label: &str, id: &str) {
        self.tool(&[
            "--keypairgen",
            "--key-type",
            key_type,
            "--label",
            label,
            "--id",
            id,
            "--usage-sign",
        ]);
    }

    /// A `pkcs11:` URI for these path attributes, with the module.
    fn uri(&self, attributes: &str) -> String {
        format!("pkcs11:{attributes}?module-path={MODULE}")
    }

    /// Runs latch with this token's SoftHSM config, no PIN or password variables unless
    /// given, and no standard input.
    fn latch(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_latch"));
        self.prepare(&mut c, args, env);
        c.output().expect("run latch")
    }

    /// The same without a controlling terminal (`setsid`): a prompt cannot be shown.
    fn latch_without_terminal(&self, args: &[&str]) -> Output {
        let mut c = Command::new("setsid");
        c.arg(env!("CARGO_BIN_EXE_latch"));
        self.prepare(&mut c, args, &[]);
        c.output().expect("run setsid latch")
    }

    fn prepare(&self, c: &mut Command, args: &[&str], env: &[(&str, &str)]) {
        c.args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .env_remove("LATCH_INSECURE_REGISTRIES")
            .env_remove("LATCH_PIN")
            .env_remove("COSIGN_PIN")
            .env_remove("LATCH_PASSWORD")
            .env_remove("COSIGN_PASSWORD")
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
    }

    /// `generate-key-pair --export-public-key URI`: writes `<name>.pub`, returns its path.
    fn export(&self, uri: &str, name: &str, env: &[(&str, &str)]) -> PathBuf {
        let prefix = self.path(name);
        let o = ok(self.latch(
            &[
                "generate-key-pair",
                "--export-public-key",
                uri,
                "--output-key-prefix",
                prefix.to_str().unwrap(),
                "--json",
            ],
            env,
        ));
        let path = PathBuf::from(json(&o)["public_key"].as_str().unwrap());
        assert_eq!(path, self.path(&format!("{name}.pub")));
        path
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "latch failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Asserts `o` failed with `text` in its error, and that no PIN is in its output.
fn fails_with(o: &Output, text: &str) {
    assert!(!o.status.success(), "should fail: {}", stdout(o));
    assert!(
        stderr(o).contains(text),
        "wanted {text:?} in: {}",
        stderr(o)
    );
    no_pin(o);
}

/// Asserts that no PIN is in `o`'s output.
fn no_pin(o: &Output) {
    for pin in [PIN, WRONG_PIN, SO_PIN] {
        assert!(!stderr(o).contains(pin) && !stdout(o).contains(pin));
    }
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// Pushes a small image as `repo:tag`; returns `host/repo@digest`.
fn push(reg: &Registry, repo_tag: &str, seed: u64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .seed(seed)
        .gzip_layer(1500)
        .build(dir.path(), "v1");
    img.push(&reg.reference(repo_tag));
    let repo = repo_tag.split(':').next().unwrap();
    format!("{}/{repo}@{}", reg.host(), img.digest())
}

/// Whether the registry has `image`'s `.sig` tag.
fn has_signatures(token: &Token, image: &str) -> bool {
    let (repo, digest) = image.split_once('@').unwrap();
    let sig = format!("{repo}:{}.sig", digest.replace(':', "-"));
    token
        .latch(&["inspect", "--json", &sig], &[])
        .status
        .success()
}

fn cosign_verify(image: &str, public: &Path, home: &Path) -> Result<String, String> {
    let mut c = Peers::get().command("cosign");
    c.args(["verify", "--key"])
        .arg(public)
        .args([
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            image,
        ])
        .env("HOME", home);
    try_run(&mut c)
}

/// skopeo 1.18 copy of `image` under a policy requiring a sigstore signature by `public`.
fn skopeo_accepts(reg: &Registry, image: &str, public: &Path) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let repo = image.split('@').next().unwrap();
    let policy = serde_json::json!({
        "default": [{"type": "reject"}],
        "transports": {"docker": {repo: [{
            "type": "sigstoreSigned", "keyPath": public,
            "signedIdentity": {"type": "matchRepository"}}]}},
    });
    std::fs::write(dir.path().join("policy.json"), policy.to_string()).unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::write(
        dir.path().join("d/r.yaml"),
        format!(
            "docker:\n  {}:\n    use-sigstore-attachments: true\n",
            reg.host()
        ),
    )
    .unwrap();
    let mut c = Peers::get().command("skopeo");
    c.arg("--policy")
        .arg(dir.path().join("policy.json"))
        .arg("--registries.d")
        .arg(dir.path().join("d"))
        .args([
            "copy",
            "--quiet",
            "--remove-signatures",
            "--src-tls-verify=false",
        ])
        .arg(format!("docker://{image}"))
        .arg(format!("oci:{}:x", dir.path().join("out").display()));
    try_run(&mut c)
}

#[test]
fn a_token_key_signs_and_promotes() {
    let Some(token) = Token::new() else { return };
    token.keypair("EC:prime256v1", "release", "01");
    let uri = token.uri(&format!("token={LABEL};object=release"));
    let reg = Registry::start();
    let image = push(&reg, "hsm/app:nightly", 41);
    let unsigned = push(&reg, "hsm/app:other", 42);
    let digest = image.split('@').nth(1).unwrap().to_owned();

    // The public key, read from the token without a PIN (its public key object is public).
    let public = token.export(&uri, "release", &[]);
    // The same key pkcs11-tool reads (DER SubjectPublicKeyInfo) .
    let der = token.path("release.der");
    token.tool(&[
        "--read-object",
        "--type",
        "pubkey",
        "--id",
        "01",
        "--output-file",
        der.to_str().unwrap(),
    ]);
    let theirs = latch_sign::PublicKey::from_der(&std::fs::read(&der).unwrap()).unwrap();
    let ours = latch_sign::PublicKey::from_pem(&std::fs::read(&public).unwrap()).unwrap();
    assert_eq!(theirs.log_id(), ours.log_id());

    // Refusals first; none of them writes a signature.
    let o = token.latch(
        &["sign", &image, "--key", &uri],
        &[("LATCH_PIN", WRONG_PIN)],
    );
    fails_with(
        &o,
        "wrong PIN for token \"latch-test\" (CKR_PIN_INCORRECT); not retried",
    );
    let o = token.latch_without_terminal(&["sign", &image, "--key", &uri]);
    fails_with(
        &o,
        "no PIN for the PKCS#11 token: set LATCH_PIN (or COSIGN_PIN)",
    );
    let o = token.latch(
        &[
            "sign",
            &image,
            "--key",
            &token.uri("token=no-such-token;object=release"),
        ],
        &[("LATCH_PIN", PIN)],
    );
    fails_with(&o, "no PKCS#11 token matches token=no-such-token");
    fails_with(&o, "tokens seen: token=\"latch-test\"");
    let o = token.latch(
        &[
            "sign",
            &image,
            "--key",
            "pkcs11:token=latch-test;object=release?module-path=/nonexistent/libpkcs11.so",
        ],
        &[("LATCH_PIN", PIN)],
    );
    fails_with(
        &o,
        "cannot load the PKCS#11 module /nonexistent/libpkcs11.so: no such file",
    );
    let o = token.latch(
        &[
            "sign",
            &image,
            "--key",
            &format!("{uri}&pin-source=file:/pin"),
        ],
        &[("LATCH_PIN", PIN)],
    );
    fails_with(&o, "pin-source is not supported");
    let o = token.latch(
        &["sign", &image, "--key", &format!("{uri}&pin-value={PIN}")],
        &[],
    );
    fails_with(&o, "pin-value is refused");
    let o = token.latch(
        &[
            "sign",
            &image,
            "--key",
            &token.uri("token=latch-test;object=nope"),
        ],
        &[("LATCH_PIN", PIN)],
    );
    fails_with(
        &o,
        "token \"latch-test\": no private key matches object=nope",
    );
    assert!(
        !has_signatures(&token, &image),
        "a refused signing wrote nothing"
    );

    // Sign, with an annotation; the PIN from LATCH_PIN.
    let o = ok(token.latch(
        &[
            "sign",
            &image,
            "--key",
            &uri,
            "-a",
            "version=20241219-0.8.0-77-g06a9117",
            "--json",
        ],
        &[("LATCH_PIN", PIN)],
    ));
    no_pin(&o);
    let r = json(&o);
    assert_eq!(r["signed"][0]["digest"], digest);
    assert_eq!(r["signed"][0]["signatures"], 1);
    assert!(
        r["signer"]
            .as_str()
            .unwrap()
            .contains("on PKCS#11 token \"latch-test\""),
        "{r}"
    );
    assert!(has_signatures(&token, &image));
    // Again, the PIN from COSIGN_PIN, selecting by slot-id and id: the same key, nothing
    // added.
    let by_id = token.uri(&format!("slot-id={};id=%01", token.slot_id));
    let o = ok(token.latch(
        &[
            "sign",
            &image,
            "--key",
            &by_id,
            "-a",
            "version=20241219-0.8.0-77-g06a9117",
        ],
        &[("COSIGN_PIN", PIN)],
    ));
    assert!(stdout(&o).contains("Already signed"), "{}", stdout(&o));
    no_pin(&o);

    // Latch, cosign and skopeo accept it with the exported public key.
    ok(token.latch(&["verify", &image, "--key", public.to_str().unwrap()], &[]));
    let out = cosign_verify(&image, &public, token.dir.path())
        .expect("cosign verify accepts a token signature");
    assert!(out.contains("20241219-0.8.0-77-g06a9117"), "{out}");
    skopeo_accepts(&reg, &image, &public).expect("skopeo accepts a token signature");
    assert!(skopeo_accepts(&reg, &unsigned, &public).is_err());

    // Promote with the token's key as the trusted key (read from the token, no PIN).
    let o = token.latch(
        &["promote", &unsigned, "--tag", "latest", "--key", &uri],
        &[],
    );
    fails_with(&o, "not promoting");
    let o = ok(token.latch(
        &[
            "promote", &image, "--tag", "latest", "--key", &uri, "--json",
        ],
        &[],
    ));
    assert_eq!(json(&o)["digest"], digest);
    let o = ok(token.latch(
        &["inspect", "--json", &reg.reference("hsm/app:latest")],
        &[],
    ));
    assert_eq!(json(&o)["digest"], digest);
    // And with the exported file, as anyone else would.
    ok(token.latch(
        &[
            "promote",
            &image,
            "--tag",
            "stable",
            "--key",
            public.to_str().unwrap(),
        ],
        &[],
    ));

    // Key rotation on the token: version 2 of the trust, signed by the token's key (in
    // force as version 1) and cosigned by it as a key of version 2.
    let repo = format!("{}/hsm/app", reg.host());
    let public_arg = public.to_str().unwrap();
    let rotate = |pin: &str, new_key: &str| {
        token.latch(
            &[
                "rotate-keys",
                &repo,
                "--app-key",
                public_arg,
                "--key",
                &uri,
                "--new-key",
                new_key,
                "--json",
            ],
            &[("LATCH_PIN", pin)],
        )
    };
    // A wrong PIN publishes nothing.
    fails_with(&rotate(WRONG_PIN, public_arg), "CKR_PIN_INCORRECT");
    let v2 = reg.reference("hsm/app:latch-trust-v2");
    assert!(!token.latch(&["inspect", &v2], &[]).status.success());
    let r = json(&ok(rotate(PIN, &uri)));
    assert_eq!(r["version"], 2);
    assert_eq!(r["signed_by"][0], ours.log_id());
    assert_eq!(r["cosigned_by"][0], ours.log_id());
    assert!(token.latch(&["inspect", &v2], &[]).status.success());

    // cosign v3 signatures and attestations signed on the token.
    let bundled = push(&reg, "hsm/bundled:v1", 43);
    let o = token.latch(
        &["sign", "--bundle", &bundled, "--key", &uri],
        &[("LATCH_PIN", WRONG_PIN)],
    );
    fails_with(&o, "CKR_PIN_INCORRECT");
    let index = format!(
        "{}/hsm/bundled:{}",
        reg.host(),
        bundled.split('@').nth(1).unwrap().replace(':', "-")
    );
    // A wrong PIN writes no referrer.
    assert!(!token.latch(&["inspect", &index], &[]).status.success());
    let r = json(&ok(token.latch(
        &["sign", "--bundle", "--json", &bundled, "--key", &uri],
        &[("LATCH_PIN", PIN)],
    )));
    assert_eq!(r["signed"][0]["referrers"], 1);
    let o = ok(token.latch(&["verify", &bundled, "--key", public_arg], &[]));
    assert!(
        stdout(&o).contains("cosign v3 signature 0"),
        "{}",
        stdout(&o)
    );
    let home = token.path("cosign3-home");
    std::fs::create_dir_all(&home).unwrap();
    let root = token.path("trusted_root.json");
    std::fs::write(
        &root,
        latch_testkit::sigstore::TestSigstore::new().trusted_root_json(),
    )
    .unwrap();
    let mut c = latch_testkit::Peers::get().cosign3();
    c.args(["verify", "--key", public_arg, "--trusted-root"])
        .arg(&root)
        .args([
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            &bundled,
        ])
        .env("HOME", &home);
    latch_testkit::run(&mut c);
    let predicate = token.path("review.json");
    std::fs::write(&predicate, r#"{"reviewed":true}"#).unwrap();
    let review = "https://latch.test/release-review/v1";
    ok(token.latch(
        &[
            "attest",
            &bundled,
            "--key",
            &uri,
            "--type",
            review,
            "--predicate",
            predicate.to_str().unwrap(),
        ],
        &[("LATCH_PIN", PIN)],
    ));
    let o = ok(token.latch(
        &[
            "verify-attestation",
            &bundled,
            "--key",
            public_arg,
            "--type",
            review,
        ],
        &[],
    ));
    assert!(
        stdout(&o).contains(r#"Predicate: {"reviewed":true}"#),
        "{}",
        stdout(&o)
    );
}

#[test]
fn other_keys_and_objects_on_a_token() {
    let Some(token) = Token::new() else { return };
    token.keypair("EC:secp384r1", "p384", "02");
    token.keypair("rsa:2048", "rsa", "03");
    token.keypair("EC:prime256v1", "twin", "04");
    token.keypair("EC:prime256v1", "twin", "05");
    let reg = Registry::start();
    let image = push(&reg, "hsm/other:v1", 43);
    let pin = [("LATCH_PIN", PIN)];

    // A P-384 key signs (SHA-384), and its signature verifies.
    let p384 = token.uri("token=latch-test;object=p384");
    let public = token.export(&p384, "p384", &[]);
    ok(token.latch(&["sign", &image, "--key", &p384], &pin));
    ok(token.latch(&["verify", &image, "--key", public.to_str().unwrap()], &[]));

    // RSA is refused, after the login, before anything is written.
    let rsa = token.uri("token=latch-test;object=rsa");
    let other = push(&reg, "hsm/other:v2", 44);
    let o = token.latch(&["sign", &other, "--key", &rsa], &pin);
    fails_with(&o, "is CKK_RSA; Latch signs with ECDSA keys");
    assert!(!has_signatures(&token, &other));

    // Two keys with one label: the URI must say which.
    let o = token.latch(&["sign", &other, "--key", &token.uri("object=twin")], &pin);
    fails_with(&o, "2 objects of class CKO_PRIVATE_KEY match object=twin");
    let o = token.latch(
        &[
            "generate-key-pair",
            "--export-public-key",
            &token.uri("object=twin"),
        ],
        &[],
    );
    fails_with(&o, "2 objects of class CKO_PUBLIC_KEY match object=twin");
    ok(token.latch(
        &["sign", &other, "--key", &token.uri("object=twin;id=%05")],
        &pin,
    ));
    let twin = token.export(&token.uri("id=%05"), "twin", &[]);
    ok(token.latch(&["verify", &other, "--key", twin.to_str().unwrap()], &[]));
    // type=public is not something to sign with.
    let o = token.latch(
        &["sign", &other, "--key", &token.uri("id=%05;type=public")],
        &pin,
    );
    fails_with(&o, "says type=public; signing needs a private key");
    // No module-path.
    let o = token.latch(&["sign", &other, "--key", "pkcs11:object=twin"], &pin);
    fails_with(&o, "the PKCS#11 URI names no module");
}

/// A key with a certificate and no public key object (as some smart cards keep them):
/// the public key is read from the certificate.
#[test]
fn the_public_key_from_a_certificate() {
    let Some(token) = Token::new() else { return };
    if !need(
        Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        "openssl is not installed",
    ) {
        return;
    }
    let key = token.path("k.pem");
    let cert = token.path("k.der");
    let openssl = |args: &[&str]| {
        let mut c = Command::new("openssl");
        c.args(args);
        try_run(&mut c).unwrap_or_else(|e| panic!("{e}"));
    };
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key.to_str().unwrap(),
    ]);
    openssl(&[
        "req",
        "-x509",
        "-key",
        key.to_str().unwrap(),
        "-subj",
        "/CN=latch release",
        "-days",
        "2",
        "-outform",
        "DER",
        "-out",
        cert.to_str().unwrap(),
    ]);
    let mut c = Command::new("softhsm2-util");
    c.args(["--import", key.to_str().unwrap(), "--token", LABEL])
        .args(["--label", "carded", "--id", "0a", "--pin", PIN])
        .env("SOFTHSM2_CONF", &token.conf);
    try_run(&mut c).unwrap_or_else(|e| panic!("{e}"));
    token.tool(&[
        "--write-object",
        cert.to_str().unwrap(),
        "--type",
        "cert",
        "--id",
        "0a",
        "--label",
        "carded",
    ]);
    token.tool(&["--delete-object", "--type", "pubkey", "--id", "0a"]);

    let uri = token.uri("token=latch-test;object=carded");
    let public = token.export(&uri, "carded", &[]);
    let mut c = Command::new("openssl");
    c.args(["pkey", "-pubout", "-in", key.to_str().unwrap()]);
    let expected = try_run(&mut c).unwrap();
    assert_eq!(std::fs::read_to_string(&public).unwrap(), expected);

    let reg = Registry::start();
    let image = push(&reg, "hsm/carded:v1", 45);
    ok(token.latch(&["sign", &image, "--key", &uri], &[("LATCH_PIN", PIN)]));
    ok(token.latch(&["verify", &image, "--key", public.to_str().unwrap()], &[]));
}
