//! The `--json` output of every command is a contract (docs/json.md): this test runs each
//! command for real and checks that its document has exactly the top-level members the
//! documentation's example has, and the `json_version` in force. The outputs are written to
//! `target/json-examples/` (what the documentation's examples are taken from).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use latch_testkit::{ImageBuilder, Registry, require_testdata, target_dir};

fn latch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latch"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run latch")
}

/// `### \`latch <command>\`` sections of docs/json.md and their first JSON block.
fn documented() -> BTreeMap<String, serde_json::Value> {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json.md");
    let text = std::fs::read_to_string(&doc_path).unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_block = false;
    let mut block = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("### `latch ") {
            current = rest.split('`').next().map(str::to_owned);
            continue;
        }
        if line.trim_start().starts_with("```json") && current.is_some() {
            in_block = true;
            block.clear();
            continue;
        }
        if in_block && line.trim_start().starts_with("```") {
            in_block = false;
            if let Some(cmd) = current.take() {
                let v: serde_json::Value = serde_json::from_str(&block)
                    .unwrap_or_else(|e| panic!("docs/json.md example for {cmd} is not JSON: {e}"));
                out.insert(cmd, v);
            }
            continue;
        }
        if in_block {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

struct Checker {
    docs: BTreeMap<String, serde_json::Value>,
    examples: PathBuf,
    checked: BTreeSet<String>,
}

impl Checker {
    /// Runs `latch <args>` (which must include --json), expects `ok`, checks the document.
    fn check(
        &mut self,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        ok: bool,
    ) -> serde_json::Value {
        let o = latch(args, env);
        assert_eq!(
            o.status.success(),
            ok,
            "{args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?} printed no JSON document ({e}): {}",
                String::from_utf8_lossy(&o.stdout)
            )
        });
        std::fs::write(
            self.examples.join(format!("{name}.json")),
            serde_json::to_vec_pretty(&v).unwrap(),
        )
        .unwrap();
        assert_eq!(v["json_version"], 2, "{name}");
        self.checked.insert(name.to_owned());
        if std::env::var_os("LATCH_WRITE_JSON_EXAMPLES").is_some() {
            // Only collecting examples for the documentation.
            return v;
        }
        let doc = self
            .docs
            .get(name)
            .unwrap_or_else(|| panic!("docs/json.md has no example for `latch {name}`"));
        assert_eq!(
            keys(&v),
            keys(doc),
            "members of `latch {name}` differ from docs/json.md"
        );
        v
    }
}

#[test]
fn every_documented_json_document_matches_its_command() {
    let examples = target_dir().join("json-examples");
    std::fs::create_dir_all(&examples).unwrap();
    let mut c = Checker {
        docs: documented(),
        examples,
        checked: BTreeSet::new(),
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).display().to_string();
    let reg = Registry::start();
    let env = [
        ("LATCH_PASSWORD", "json-contract"),
        ("HOME", tmp.path().to_str().unwrap()),
    ];

    // A signed multi-platform image with nightly tags.
    let prefix = t("release");
    let v = c.check(
        "generate-key-pair",
        &[
            "generate-key-pair",
            "--json",
            "--output-key-prefix",
            &prefix,
        ],
        &env,
        true,
    );
    assert!(v["public_key"].as_str().unwrap().ends_with("release.pub"));
    let key = t("release.key");
    let public = t("release.pub");
    let built = ImageBuilder::new()
        .gzip_layer(5000)
        .build_multi_arch(&tmp.path().join("img"), "latest");
    let nightly = "20241219-0.8.0-77-g06a9117";
    for tag in ["latest", nightly] {
        built.push(&reg.reference(&format!("app/sandbox:{tag}")));
    }
    let by_digest = format!("{}/app/sandbox@{}", reg.host(), built.digest());
    c.check(
        "sign",
        &["sign", "--json", "--recursive", &by_digest, "--key", &key],
        &env,
        true,
    );
    // The same image signed the cosign v3 way, then attested, and the attestation verified.
    c.check(
        "sign --bundle",
        &["sign", "--json", "--bundle", &by_digest, "--key", &key],
        &env,
        true,
    );
    let predicate = t("review.json");
    std::fs::write(
        &predicate,
        r#"{"reviewed_by":"release team","result":"reproduced"}"#,
    )
    .unwrap();
    let review = "https://latch.test/release-review/v1";
    c.check(
        "attest",
        &[
            "attest",
            "--json",
            &by_digest,
            "--key",
            &key,
            "--type",
            review,
            "--predicate",
            &predicate,
        ],
        &env,
        true,
    );
    let v = c.check(
        "verify-attestation --type",
        &[
            "verify-attestation",
            "--json",
            &by_digest,
            "--key",
            &public,
            "--type",
            review,
        ],
        &env,
        true,
    );
    assert_eq!(v["predicate"]["result"], "reproduced");
    let image = reg.reference("app/sandbox:latest");
    let repo = format!("{}/app/sandbox", reg.host());

    c.check("inspect", &["inspect", "--json", &image], &env, true);
    c.check("tags", &["tags", "--json", &repo], &env, true);
    c.check(
        "pull",
        &[
            "pull",
            "--json",
            &image,
            "--to",
            &format!("oci:{}:latest", t("pulled")),
        ],
        &env,
        true,
    );
    c.check(
        "verify",
        &["verify", "--json", &image, "--key", &public],
        &env,
        true,
    );
    c.check(
        "nightlies",
        &[
            "nightlies",
            "--json",
            &repo,
            "--commit",
            "06a9117",
            "--max-age",
            "100000d",
        ],
        &env,
        true,
    );
    c.check(
        "promote",
        &[
            "promote", "--json", &by_digest, "--tag", "stable", "--key", &public,
        ],
        &env,
        true,
    );

    let profile = |cmd: &'static str, data: &str| -> Vec<String> {
        vec![
            cmd.into(),
            "--json".into(),
            "--image".into(),
            image.clone(),
            "--key".into(),
            public.clone(),
            "--data-dir".into(),
            t(data),
        ]
    };
    let run = |c: &mut Checker, name: &str, args: Vec<String>, ok: bool| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        c.check(name, &a, &env, ok)
    };
    run(&mut c, "check", profile("check", "data"), true);
    run(&mut c, "upgrade", profile("upgrade", "data"), true);
    run(
        &mut c,
        "verify-local",
        profile("verify-local", "data"),
        true,
    );
    // The text form names the repository whole, port included, and the image id.
    let text = latch(
        &profile("verify-local", "data")
            .iter()
            .map(String::as_str)
            .filter(|a| *a != "--json")
            .collect::<Vec<_>>(),
        &env,
    );
    let said = String::from_utf8_lossy(&text.stdout).into_owned();
    let repository = image.rsplit_once(':').map(|(r, _)| r).unwrap_or(&image);
    assert!(
        said.starts_with(&format!("Verified {repository}@sha256:")),
        "{said}"
    );
    assert!(said.contains("(image sha256:"), "{said}");
    run(
        &mut c,
        "store-signatures",
        profile("store-signatures", "data"),
        true,
    );
    run(&mut c, "status", profile("status", "data"), true);
    let mut prepare = profile("prepare-archive", "data");
    prepare.extend(["-o".into(), t("airgap.tar")]);
    run(&mut c, "prepare-archive", prepare, true);
    let mut load = profile("load-archive", "airgapped");
    load.push(t("airgap.tar"));
    run(&mut c, "load-archive", load, true);
    let mut install = profile("install", "bundled");
    install.extend(["--bundled-archive".into(), t("airgap.tar")]);
    run(&mut c, "install", install, true);
    c.check("demo", &["demo", "--json"], &env, true);
    c.check("version", &["version", "--json"], &env, true);

    // Failures are documents too: {"error": {"kind", "message", "causes"}}.
    let other = t("other");
    latch(&["generate-key-pair", "--output-key-prefix", &other], &env);
    let mut wrong = profile("upgrade", "wrong");
    wrong[5] = t("other.pub");
    let v = run(&mut c, "error", wrong, false);
    assert_eq!(v["error"]["kind"], "not-verified");

    // Reproducibility: two identical layouts.
    let a = format!("oci:{}:latest", t("pulled"));
    c.check("diff", &["diff", "--json", &a, &a], &env, true);
    c.check(
        "normalize",
        &[
            "normalize",
            "--json",
            &a,
            &format!("oci:{}:latest", t("normalized")),
            "--source-date-epoch",
            "0",
        ],
        &env,
        true,
    );

    if let Some(td) = require_testdata() {
        let dz = td.join("dangerzone");
        let f = dz.join("signatures/valid/95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95/19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67.json");
        c.check(
            "verify-signatures",
            &[
                "verify-signatures",
                "--json",
                "--key",
                dz.join("test.pub.key").to_str().unwrap(),
                "--rekor-key",
                dz.join("rekor.pub").to_str().unwrap(),
                "--digest",
                "sha256:19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67",
                f.to_str().unwrap(),
            ],
            &env,
            true,
        );
        let case = td.join("sigstore-conformance/bundle-verify/happy-path-v0.3");
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            td.join("sigstore-conformance/bundle-verify/a.txt")
        };
        c.check(
            "verify-bundle",
            &[
                "verify-bundle", "--json",
                "--bundle", case.join("bundle.sigstore.json").to_str().unwrap(),
                "--certificate-identity",
                "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
                "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com",
                artifact.to_str().unwrap(),
            ],
            &env,
            true,
        );
    }

    // Key rotation last (it changes what the checks above would trust): version 2 with
    // the same key, cosigned by it.
    c.check(
        "rotate-keys",
        &[
            "rotate-keys",
            "--json",
            &repo,
            "--app-key",
            &public,
            "--key",
            &key,
            "--new-key",
            &key,
            "--expires",
            "30d",
        ],
        &env,
        true,
    );

    // Every documented command was exercised, except those that need attestations signed
    // by a Fulcio-like CA (covered by crates/latch-cli/tests of verify-attestation).
    let untested: Vec<&String> = c
        .docs
        .keys()
        .filter(|k| !c.checked.contains(*k) && k.as_str() != "verify-attestation")
        .collect();
    assert!(
        untested.is_empty(),
        "documented but not checked: {untested:?}"
    );
}
