//! The releaser's commands as a person runs them: `generate-key-pair`, `sign`,
//! `nightlies`, `promote`, against a real registry, the peer skopeo 1.18 and cosign 2.5,
//! and the test Rekor server.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use latch_testkit::{ImageBuilder, Peers, Registry, RekorServer, try_run};

const PASSWORD: &str = "correct horse battery staple";

fn latch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latch"));
    c.args(args)
        .env_remove("LATCH_INSECURE_REGISTRIES")
        .env_remove("LATCH_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run latch")
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

fn generate(prefix: &Path) {
    ok(latch(
        &[
            "generate-key-pair",
            "--output-key-prefix",
            prefix.to_str().unwrap(),
        ],
        &[("LATCH_PASSWORD", PASSWORD)],
    ));
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

#[test]
fn generate_sign_and_promote() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("release");
    generate(&prefix);
    let key = tmp.path().join("release.key");
    let public = tmp.path().join("release.pub");
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("ENCRYPTED SIGSTORE PRIVATE KEY")
    );
    // Never overwrites.
    let o = latch(
        &[
            "generate-key-pair",
            "--output-key-prefix",
            prefix.to_str().unwrap(),
        ],
        &[("LATCH_PASSWORD", PASSWORD)],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));

    let image = push(&reg, "rel/app:nightly", 1);
    let unsigned = push(&reg, "rel/app:other", 2);
    let digest = image.split('@').nth(1).unwrap().to_owned();

    // Refusals first: by tag, a wrong password, no password and no terminal.
    let o = latch(
        &[
            "sign",
            &reg.reference("rel/app:nightly"),
            "--key",
            key.to_str().unwrap(),
        ],
        &[("LATCH_PASSWORD", PASSWORD)],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("names no digest"),
        "{}",
        stderr(&o)
    );
    let o = latch(
        &["sign", &image, "--key", key.to_str().unwrap()],
        &[("LATCH_PASSWORD", "guess")],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("wrong password"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("guess") && !stdout(&o).contains("guess"));
    let mut c = Command::new("setsid");
    c.arg(env!("CARGO_BIN_EXE_latch"))
        .args(["sign", &image, "--key", key.to_str().unwrap()])
        .env_remove("LATCH_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .stdin(Stdio::null());
    let o = c.output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no password"), "{}", stderr(&o));

    // Sign (the password from COSIGN_PASSWORD this time), with an annotation.
    let o = ok(latch(
        &[
            "sign",
            &image,
            "--key",
            key.to_str().unwrap(),
            "-a",
            "version=20241219-0.8.0-77-g06a9117",
            "--json",
        ],
        &[("COSIGN_PASSWORD", PASSWORD)],
    ));
    let r = json(&o);
    assert_eq!(r["signed"][0]["digest"], digest);
    assert_eq!(r["signed"][0]["signatures"], 1);
    assert!(!stdout(&o).contains(PASSWORD));
    // The same payload again adds nothing.
    let o = ok(latch(
        &[
            "sign",
            &image,
            "--key",
            key.to_str().unwrap(),
            "-a",
            "version=20241219-0.8.0-77-g06a9117",
        ],
        &[("LATCH_PASSWORD", PASSWORD)],
    ));
    assert!(stdout(&o).contains("Already signed"), "{}", stdout(&o));
    assert!(stdout(&o).contains("signatures: 1 "), "{}", stdout(&o));

    // The peers accept it.
    skopeo_accepts(&reg, &image, &public).expect("skopeo accepts `latch sign`");
    assert!(skopeo_accepts(&reg, &unsigned, &public).is_err());
    let out = cosign_verify(&image, &public, tmp.path()).expect("cosign accepts `latch sign`");
    assert!(out.contains("20241219-0.8.0-77-g06a9117"));

    // Promote: refused for the unsigned digest; done for the signed one, bytes unchanged.
    let o = latch(
        &[
            "promote",
            &unsigned,
            "--tag",
            "latest",
            "--key",
            public.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not promoting"), "{}", stderr(&o));
    let o = latch(
        &["inspect", "--json", &reg.reference("rel/app:latest")],
        &[],
    );
    assert!(!o.status.success(), "latest must not exist yet");
    let o = ok(latch(
        &[
            "promote",
            &image,
            "--tag",
            "latest",
            "--key",
            public.to_str().unwrap(),
            "--json",
        ],
        &[],
    ));
    assert_eq!(json(&o)["digest"], digest);
    let o = ok(latch(
        &["inspect", "--json", &reg.reference("rel/app:latest")],
        &[],
    ));
    assert_eq!(json(&o)["digest"], digest);
    let served = latch_testkit::Skopeo::system().inspect_raw(&reg.reference("rel/app:latest"));
    let original = latch_testkit::Skopeo::system().inspect_raw(&image);
    assert_eq!(served, original);
    // A threshold the signatures do not meet.
    let second = tmp.path().join("second");
    generate(&second);
    let o = latch(
        &[
            "promote",
            &image,
            "--key",
            public.to_str().unwrap(),
            "--key",
            tmp.path().join("second.pub").to_str().unwrap(),
            "--threshold",
            "2",
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("1 of the 2"), "{}", stderr(&o));
}

#[test]
fn tlog_upload_gives_a_set_that_verify_accepts() {
    let reg = Registry::start();
    let log = RekorServer::start_at(5_000_000);
    let tmp = tempfile::tempdir().unwrap();
    generate(&tmp.path().join("k"));
    let rekor_pub = tmp.path().join("rekor.pub");
    std::fs::write(&rekor_pub, log.public_key_pem()).unwrap();
    let image = push(&reg, "rel/logged:v1", 3);
    let key = tmp.path().join("k.key");
    let public = tmp.path().join("k.pub");
    let o = ok(latch(
        &[
            "sign",
            &image,
            "--key",
            key.to_str().unwrap(),
            "--tlog-upload",
            &log.url(),
            "--rekor-key",
            rekor_pub.to_str().unwrap(),
            "--json",
        ],
        &[("LATCH_PASSWORD", PASSWORD)],
    ));
    assert_eq!(json(&o)["signed"][0]["log_index"], 5_000_000);

    // `latch verify` with the log's key pinned accepts the SET; another log's key does not.
    let o = ok(latch(
        &[
            "verify",
            &image,
            "--key",
            public.to_str().unwrap(),
            "--rekor-key",
            rekor_pub.to_str().unwrap(),
            "--json",
        ],
        &[],
    ));
    assert!(stdout(&o).contains("5000000"), "{}", stdout(&o));
    let other = RekorServer::start();
    let other_pub = tmp.path().join("other-rekor.pub");
    std::fs::write(&other_pub, other.public_key_pem()).unwrap();
    let o = latch(
        &[
            "verify",
            &image,
            "--key",
            public.to_str().unwrap(),
            "--rekor-key",
            other_pub.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!o.status.success(), "{}", stdout(&o));

    // Promote with the log required.
    ok(latch(
        &[
            "promote",
            &image,
            "--key",
            public.to_str().unwrap(),
            "--rekor-key",
            rekor_pub.to_str().unwrap(),
        ],
        &[],
    ));
    // A log that is down: the signature is not published.
    let unlogged = push(&reg, "rel/logged:v2", 4);
    let o = latch(
        &[
            "sign",
            &unlogged,
            "--key",
            key.to_str().unwrap(),
            "--tlog-upload",
            "http://127.0.0.1:9",
        ],
        &[("LATCH_PASSWORD", PASSWORD)],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("transparency log"), "{}", stderr(&o));
    let o = latch(
        &["verify", &unlogged, "--key", public.to_str().unwrap()],
        &[],
    );
    assert!(!o.status.success(), "nothing was published");
}

#[test]
fn two_processes_sign_at_once() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let keys: Vec<_> = ["a", "b"]
        .iter()
        .map(|n| {
            generate(&tmp.path().join(n));
            tmp.path().join(format!("{n}.key"))
        })
        .collect();
    for round in 0..2u64 {
        let image = push(&reg, &format!("race/p{round}:v1"), 10 + round);
        let children: Vec<_> = keys
            .iter()
            .map(|k| {
                Command::new(env!("CARGO_BIN_EXE_latch"))
                    .args(["sign", &image, "--key", k.to_str().unwrap(), "--json"])
                    .env("LATCH_PASSWORD", PASSWORD)
                    .env_remove("LATCH_INSECURE_REGISTRIES")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            ok(child.wait_with_output().unwrap());
        }
        for n in ["a", "b"] {
            let p = tmp.path().join(format!("{n}.pub"));
            ok(latch(
                &["verify", &image, "--key", p.to_str().unwrap()],
                &[],
            ));
            skopeo_accepts(&reg, &image, &p).expect("each process's signature is there");
        }
        let o = ok(latch(
            &[
                "promote",
                &image,
                "--tag",
                &format!("both{round}"),
                "--key",
                tmp.path().join("a.pub").to_str().unwrap(),
                "--key",
                tmp.path().join("b.pub").to_str().unwrap(),
                "--threshold",
                "2",
                "--json",
            ],
            &[],
        ));
        assert_eq!(json(&o)["verdict"]["outcomes"].as_array().unwrap().len(), 2);
    }
}

#[test]
fn nightlies_pick_the_candidate() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let old = ImageBuilder::new()
        .seed(21)
        .gzip_layer(1000)
        .build(&tmp.path().join("a"), "v1");
    let new = ImageBuilder::new()
        .seed(22)
        .gzip_layer(1000)
        .build(&tmp.path().join("b"), "v1");
    old.push(&reg.reference("nightly/dz:20241101-0.7.0-5-gabcdef1"));
    old.push(&reg.reference("nightly/dz:latest"));
    new.push(&reg.reference("nightly/dz:20241219-0.8.0-77-g06a9117"));
    new.push(&reg.reference("nightly/dz:20241218-0.8.0-70-g06a9117"));
    let repo = format!("{}/nightly/dz", reg.host());

    let o = ok(latch(
        &["nightlies", &repo, "--commit", "06a9117", "--json"],
        &[],
    ));
    let r = json(&o);
    let tags: Vec<&str> = r["nightlies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["tag"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        [
            "20241219-0.8.0-77-g06a9117",
            "20241218-0.8.0-70-g06a9117",
            "20241101-0.7.0-5-gabcdef1"
        ]
    );
    assert_eq!(r["ignored"], serde_json::json!(["latest"]));
    assert_eq!(r["candidate"]["tag"], "20241219-0.8.0-77-g06a9117");
    assert_eq!(r["candidate"]["digest"], new.digest().to_string());
    assert_eq!(
        r["candidate"]["reference"],
        format!("{repo}@{}", new.digest())
    );

    let o = ok(latch(&["nightlies", &repo], &[]));
    assert!(
        stdout(&o).contains("Candidate: 20241219-0.8.0-77-g06a9117"),
        "{}",
        stdout(&o)
    );

    // These tags are from 2024: any recent maximum age refuses them.
    let o = latch(
        &["nightlies", &repo, "--commit", "06a9117", "--max-age", "2d"],
        &[],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("over the maximum age of 2d"),
        "{}",
        stderr(&o)
    );
    let o = latch(&["nightlies", &repo, "--commit", "1234567"], &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no nightly tag for commit 1234567"),
        "{}",
        stderr(&o)
    );
    let o = latch(&["nightlies", &repo, "--max-age", "2 days"], &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("duration"), "{}", stderr(&o));
}
