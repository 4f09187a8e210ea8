//! The sigstore-conformance bundle-verification suite, run through the real `latch`
//! binary with the suite's own client protocol:
//!
//! `latch verify-bundle [--staging] --bundle FILE (--certificate-identity ID
//! --certificate-oidc-issuer URL | --key PATH) [--trusted-root FILE] FILE_OR_DIGEST`
//!
//! Each case directory under `testdata/sigstore-conformance/bundle-verify` has
//! `bundle.sigstore.json` and optionally `artifact`, `identity`, `issuer`, `key.pub` and
//! `trusted_root.json` (defaults in `testdata/README.md`). A case whose name ends in
//! `_fail` must be refused (non-zero exit), every other case accepted (exit 0).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use latch_testkit::require_testdata;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

struct Case {
    name: String,
    dir: PathBuf,
    artifact: PathBuf,
    key: Option<PathBuf>,
    identity: String,
    issuer: String,
    trusted_root: PathBuf,
}

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned())
}

fn cases(td: &Path) -> Vec<Case> {
    let root = td.join("sigstore-conformance/bundle-verify");
    let prod = td.join("sigstore-trust/prod/trusted_root.json");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).expect("read bundle-verify") {
        let dir = entry.expect("dir entry").path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            dir.join("bundle.sigstore.json").is_file(),
            "{name}: no bundle.sigstore.json"
        );
        let artifact = if dir.join("artifact").is_file() {
            dir.join("artifact")
        } else {
            root.join("a.txt")
        };
        let key = Some(dir.join("key.pub")).filter(|k| k.is_file());
        let trusted_root = Some(dir.join("trusted_root.json"))
            .filter(|t| t.is_file())
            .unwrap_or_else(|| prod.clone());
        out.push(Case {
            identity: read_trimmed(&dir.join("identity"))
                .unwrap_or_else(|| DEFAULT_IDENTITY.into()),
            issuer: read_trimmed(&dir.join("issuer")).unwrap_or_else(|| DEFAULT_ISSUER.into()),
            name,
            dir,
            artifact,
            key,
            trusted_root,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Runs `latch verify-bundle` for a case with the artifact given as `artifact` (a path or
/// `sha256:<hex>`). `explicit_root`: pass `--trusted-root` even for the production root
/// (the suite does; the built-in root is tested separately).
fn run(case: &Case, artifact: &str, explicit_root: bool) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latch"));
    c.arg("verify-bundle")
        .arg("--bundle")
        .arg(case.dir.join("bundle.sigstore.json"));
    match &case.key {
        Some(k) => {
            c.arg("--key").arg(k);
        }
        None => {
            c.args(["--certificate-identity", &case.identity]);
            c.args(["--certificate-oidc-issuer", &case.issuer]);
        }
    }
    if explicit_root || case.dir.join("trusted_root.json").is_file() {
        c.arg("--trusted-root").arg(&case.trusted_root);
    }
    c.arg(artifact);
    c.output().expect("run latch")
}

fn first_line(o: &Output) -> String {
    let text = if o.status.success() {
        String::from_utf8_lossy(&o.stdout).into_owned()
    } else {
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    text.lines().next().unwrap_or("").to_owned()
}

#[test]
fn all_70_bundle_verify_cases_give_their_expected_result() {
    let Some(td) = require_testdata() else { return };
    let cases = cases(&td);
    assert_eq!(cases.len(), 70, "the suite has 70 cases");
    let mut wrong = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for case in &cases {
        let expect_ok = !case.name.ends_with("_fail");
        let out = run(case, &case.artifact.display().to_string(), true);
        let ok = out.status.success();
        eprintln!(
            "{:<60} {} {}",
            case.name,
            if ok { "accepted" } else { "refused " },
            first_line(&out)
        );
        if ok {
            accepted += 1;
        } else {
            refused += 1;
            // Refusals are errors, not crashes: exit 1 with a `latch:` message.
            assert_eq!(out.status.code(), Some(1), "{}: {out:?}", case.name);
            assert!(
                String::from_utf8_lossy(&out.stderr).starts_with("latch: "),
                "{}: {out:?}",
                case.name
            );
        }
        if ok != expect_ok {
            wrong.push(format!("{}: {}", case.name, first_line(&out)));
        }
    }
    eprintln!("{accepted} accepted, {refused} refused");
    assert!(
        wrong.is_empty(),
        "cases with the wrong result:\n{}",
        wrong.join("\n")
    );
}

/// The same cases with the artifact given as `sha256:<hex>` (the protocol's other form):
/// every case still gives its expected result, except message signatures whose scheme
/// cannot verify a prehashed digest (Ed25519), which must be refused with that reason.
#[test]
fn bundle_verify_cases_with_the_artifact_as_a_digest() {
    let Some(td) = require_testdata() else { return };
    let mut wrong = Vec::new();
    for case in cases(&td) {
        let bytes = std::fs::read(&case.artifact).expect("artifact");
        let digest = format!("sha256:{}", latch::oci::Digest::sha256_of(&bytes).hex());
        let out = run(&case, &digest, false);
        let expect_ok = !case.name.ends_with("_fail");
        if out.status.success() != expect_ok {
            let err = String::from_utf8_lossy(&out.stderr);
            if expect_ok && err.contains("prehashed") {
                continue;
            }
            wrong.push(format!("{}: {}", case.name, first_line(&out)));
        }
    }
    assert!(
        wrong.is_empty(),
        "cases with the wrong result:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_built_in_root_is_the_public_good_production_root() {
    let Some(td) = require_testdata() else { return };
    let case = cases(&td)
        .into_iter()
        .find(|c| c.name == "happy-path-v0.3")
        .expect("happy-path-v0.3");
    // No --trusted-root: the built-in root must accept what the shipped prod root accepts.
    let out = run(&case, &case.artifact.display().to_string(), false);
    assert!(out.status.success(), "{out:?}");
    // The built-in root is byte for byte the shared prod root.
    let shipped = std::fs::read_to_string(td.join("sigstore-trust/prod/trusted_root.json"))
        .expect("prod root");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&shipped).unwrap(),
        serde_json::from_str::<serde_json::Value>(
            latch::sigstore::sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT
        )
        .unwrap()
    );
}

#[test]
fn protocol_errors_are_refused_with_usage() {
    let Some(td) = require_testdata() else { return };
    let dir = td.join("sigstore-conformance/bundle-verify/happy-path-v0.3");
    let bundle = dir.join("bundle.sigstore.json");
    let bundle = bundle.to_str().unwrap();
    for args in [
        // Neither identity nor key.
        vec!["verify-bundle", "--bundle", bundle, "x"],
        // Identity without issuer.
        vec![
            "verify-bundle",
            "--bundle",
            bundle,
            "--certificate-identity",
            "a",
            "x",
        ],
        // Key and identity.
        vec![
            "verify-bundle",
            "--bundle",
            bundle,
            "--key",
            "k",
            "--certificate-identity",
            "a",
            "--certificate-oidc-issuer",
            "b",
            "x",
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_latch"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
    // A malformed digest is refused, not taken as a path.
    let out = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args([
            "verify-bundle",
            "--bundle",
            bundle,
            "--certificate-identity",
            DEFAULT_IDENTITY,
            "--certificate-oidc-issuer",
            DEFAULT_ISSUER,
            "sha256:abc",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("digest sha256:abc"),
        "{out:?}"
    );
}
