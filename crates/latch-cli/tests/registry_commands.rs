//! `latch inspect`, `tags` and `pull` as a user runs them, against a real registry.

use std::process::{Command, Output};

use latch_testkit::{ImageBuilder, Registry, run};

fn latch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .env_remove("LATCH_INSECURE_REGISTRIES")
        .output()
        .expect("run latch")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn inspect_tags_and_pull() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let index = ImageBuilder::new()
        .gzip_layer(20_000)
        .build_multi_arch(&tmp.path().join("src"), "v1");
    index.push(&reg.reference("cli/app:v1"));
    index.push(&reg.reference("cli/app:20241219-0.8.0-77-g06a9117"));

    let o = latch(&["inspect", "--json", &reg.reference("cli/app:v1")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["digest"], index.digest().to_string());
    assert_eq!(v["media_type"], "application/vnd.oci.image.index.v1+json");
    let platforms: Vec<&str> = v["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(
        v["platforms"][1]["digest"],
        index.image("linux/arm64").digest().to_string()
    );

    let o = latch(&["inspect", &reg.reference("cli/app:v1")]);
    assert!(stdout(&o).contains(&index.digest().to_string()));
    assert!(stdout(&o).contains("linux/arm64"));

    let o = latch(&["tags", "--json", &reg.reference("cli/app")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["tags"],
        serde_json::json!(["20241219-0.8.0-77-g06a9117", "v1"])
    );

    let out = tmp.path().join("out");
    let dest = format!("oci:{}:amd", out.display());
    let o = latch(&[
        "pull",
        &reg.reference("cli/app:v1"),
        "--to",
        &dest,
        "--platform",
        "linux/amd64",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let amd = index.image("linux/amd64").digest().to_string();
    assert_eq!(v["digest"], amd);
    assert_eq!(v["index_digest"], index.digest().to_string());
    // Piped: no progress bar escape codes on stderr.
    assert!(!stderr(&o).contains('\u{1b}'), "{}", stderr(&o));
    // skopeo reads what was pulled.
    let raw = run(latch_testkit::Skopeo::system()
        .command()
        .args(["inspect", "--raw", &dest]));
    assert_eq!(sha256sum(raw.as_bytes()), amd);
}

/// sha256 by `sha256sum`, an implementation independent of Latch's.
fn sha256sum(bytes: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", &hex[..64])
}

#[test]
fn bad_input_gets_a_clear_error_and_a_failure_status() {
    let cases: &[(&[&str], &str)] = &[
        (&["inspect", "Not/Valid"], "invalid"),
        (&["inspect", "ghcr.io/a:-bad"], "tag"),
        (&["inspect", "ghcr.io/a@sha256:abc"], "64 hex"),
        (&["pull", "127.0.0.1:1/a:b", "--to", "/tmp/x"], "oci:DIR"),
        (
            &[
                "pull",
                "127.0.0.1:1/a:b",
                "--to",
                "oci:/tmp/x",
                "--platform",
                "a/b/c/d",
            ],
            "platform",
        ),
    ];
    for (args, needle) in cases {
        let o = latch(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}");
    }
    // Unreachable registry: the host is named.
    let o = latch(&["inspect", "127.0.0.1:1/a:b"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("127.0.0.1:1"), "{}", stderr(&o));
    // Usage errors are clap's (exit 2).
    assert_eq!(latch(&["inspect"]).status.code(), Some(2));
}

#[test]
fn every_command_explains_itself_with_an_example() {
    let o = latch(&["--help"]);
    assert!(o.status.success());
    for cmd in ["inspect", "tags", "pull"] {
        assert!(stdout(&o).contains(cmd), "{cmd} missing from --help");
        let o = latch(&[cmd, "--help"]);
        assert!(o.status.success());
        assert!(
            stdout(&o).contains("Example:"),
            "{cmd} --help has no example"
        );
    }
}

#[test]
fn provenance_flags_set_the_requirement_status_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data = data.to_str().unwrap();
    let base = ["status", "--json", "--profile", "demo", "--data-dir", data];
    let o = latch(&base);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v.get("provenance").is_none(),
        "none required by default: {v}"
    );
    let mut args = base.to_vec();
    args.extend([
        "--provenance-repository",
        "freedomofpress/dangerzone-image",
        "--provenance-workflow",
        ".github/workflows/release.yml",
        "--provenance-ref",
        "refs/heads/main",
        "--provenance-ref-pattern",
        "refs/tags/v.+",
    ]);
    let o = latch(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["provenance"],
        serde_json::json!([
            "repository freedomofpress/dangerzone-image, workflow .github/workflows/release.yml, ref refs/heads/main",
            "repository freedomofpress/dangerzone-image, workflow .github/workflows/release.yml, ref /refs/tags/v.+/"
        ])
    );
    // The text form says it too.
    let text: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let o = latch(&text);
    assert!(
        stdout(&o)
            .contains("Provenance required: SLSA from repository freedomofpress/dangerzone-image"),
        "{}",
        stdout(&o)
    );
    // Half a requirement is a usage error; a bad repository a clear one.
    let o = latch(&[
        "status",
        "--profile",
        "demo",
        "--data-dir",
        data,
        "--provenance-ref",
        "refs/heads/main",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = latch(&[
        "status",
        "--profile",
        "demo",
        "--data-dir",
        data,
        "--provenance-repository",
        "not-a-repo",
        "--provenance-workflow",
        "w.yml",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("OWNER/REPO"), "{}", stderr(&o));
}

#[test]
fn the_version_names_the_commit() {
    let o = latch(&["--version"]);
    assert!(o.status.success());
    let text = stdout(&o);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match head {
        // Built from this checkout: its commit (the build script reads it).
        Some(h) => assert!(text.contains(&format!("(commit {h})")), "{text}"),
        None => assert!(text.contains("(commit "), "{text}"),
    }
    assert!(
        text.starts_with(&format!("latch {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let o = latch(&["version", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        v["embedded_trust"]["demo_signing_key"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert!(
        v["embedded_trust"]["sigstore_root"]["tlogs"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[test]
fn completions_and_man_pages_come_from_the_commands() {
    for (shell, needle) in [
        ("bash", "_latch()"),
        ("zsh", "#compdef latch"),
        ("fish", "complete -c latch"),
    ] {
        let o = latch(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(
            text.contains(needle),
            "{shell}: {}",
            &text[..text.len().min(200)]
        );
        assert!(text.contains("verify-local"), "{shell}");
    }
    assert_eq!(latch(&["completions", "tcsh"]).status.code(), Some(2));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let o = latch(&["man", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(dir.join("latch-verify-local.1")).unwrap();
    assert!(
        page.contains(".TH latch-verify-local 1"),
        "{}",
        &page[..200]
    );
    assert!(page.contains("latch verify\\-local") || page.contains("latch verify-local"));
    assert!(dir.join("latch.1").exists());
}
