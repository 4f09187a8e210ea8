//! Relative paths mean one thing: a flag's (or its environment variable's) is relative to
//! the current directory, a profile file's to the folder of the profile file. Each is
//! resolved once, so nothing is joined to a base twice (`latch demo --data-dir rel` used
//! to look for `rel/rel/demo-mirror`). Everything here runs offline, on the embedded demo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use latch::demo::{DEMO_REKOR_KEY, DEMO_SIGNING_KEY, DEMO_VERSION_ANNOTATION, write_layout};

/// Runs `latch <args>` in `cwd`, with `env`, and no Latch variable from the caller's
/// environment.
fn latch_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latch"));
    c.args(args)
        .current_dir(cwd)
        .env_remove("LATCH_DATA_DIR")
        .env_remove("LATCH_PROFILE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run latch")
}

fn ok(o: &Output, what: &str) -> serde_json::Value {
    assert!(
        o.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

fn failed(o: &Output, what: &str) -> String {
    assert!(
        !o.status.success(),
        "{what} should fail: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh temporary directory, by its real path (what the child's current directory is).
fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().canonicalize().unwrap();
    (tmp, real)
}

/// A path `status` reports (`store:` and `oci:` taken off), as the file system resolves
/// it: a `..` is kept in a resolved path (it may cross a symbolic link), so compare real
/// paths.
fn real(reported: &serde_json::Value) -> PathBuf {
    let s = reported
        .as_str()
        .unwrap_or_else(|| panic!("not a path: {reported}"));
    let p = s
        .strip_prefix("store:")
        .or_else(|| s.strip_prefix("oci:"))
        .unwrap_or(s);
    assert!(Path::new(p).is_absolute(), "{s}");
    Path::new(p)
        .canonicalize()
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn store(dir: &Path) -> String {
    format!("store:{}", dir.display())
}

fn oci(dir: &Path) -> String {
    format!("oci:{}", dir.display())
}

#[test]
fn demo_with_a_relative_data_dir_then_status_and_verify_local_of_it() {
    let (_tmp, root) = tempdir();
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let data = work.join("rel");

    let demo = ok(
        &latch_in(&work, &["demo", "--data-dir", "rel", "--json"], &[]),
        "latch demo --data-dir rel",
    );
    assert_eq!(demo["upgrade"]["status"], "upgraded");
    assert_eq!(demo["upgrade_again"]["status"], "up-to-date");
    let digest = demo["upgrade"]["digest"].as_str().unwrap().to_owned();
    assert!(data.join("demo-mirror/oci-layout").is_file());
    assert!(data.join("store").is_dir());
    assert!(!data.join("rel").exists(), "the data dir joined twice");

    // The same data dir, named relative to the current directory three ways: the flag,
    // the environment variable, and from another current directory.
    let from_work = [
        vec!["--data-dir", "rel"],
        vec!["--data-dir", "./rel/"],
        vec![],
    ];
    for (i, extra) in from_work.iter().enumerate() {
        let env: &[(&str, &str)] = if extra.is_empty() {
            &[("LATCH_DATA_DIR", "rel")]
        } else {
            &[]
        };
        let what = format!("status {extra:?} {env:?}");
        let mut args = vec!["status", "--profile", "demo", "--json"];
        args.extend(extra);
        let s = ok(&latch_in(&work, &args, env), &what);
        assert_eq!(s["data_dir"], data.display().to_string(), "{what}");
        assert_eq!(s["runtime"], store(&data.join("store")), "{what}");
        assert_eq!(s["source"], oci(&data.join("demo-mirror")), "{what}");
        assert_eq!(s["installed"]["signed_digest"], digest, "{what}");

        let mut args = vec!["verify-local", "--profile", "demo", "--deep", "--json"];
        args.extend(extra);
        let v = ok(&latch_in(&work, &args, env), &format!("verify-local {i}"));
        assert_eq!(v["digest"], digest);
    }
    let s = ok(
        &latch_in(
            &root,
            &[
                "status",
                "--profile",
                "demo",
                "--data-dir",
                "work/rel",
                "--json",
            ],
            &[],
        ),
        "status from the parent folder",
    );
    assert_eq!(s["data_dir"], data.display().to_string());
    assert_eq!(s["installed"]["signed_digest"], digest);
    let v = ok(
        &latch_in(
            &root,
            &["verify-local", "--profile", "demo", "--json"],
            &[("LATCH_DATA_DIR", "work/rel")],
        ),
        "verify-local from the parent folder",
    );
    assert_eq!(v["digest"], digest);
}

/// conf/app.toml follows the demo image from conf/mirror, trusting conf/keys/*.pub, with
/// its data in conf/data: every path in it relative.
fn profile_in_a_sub_folder(root: &Path) -> PathBuf {
    let conf = root.join("conf");
    std::fs::create_dir_all(conf.join("keys")).unwrap();
    write_layout(&conf.join("mirror")).unwrap();
    std::fs::write(conf.join("keys/signing.pub"), DEMO_SIGNING_KEY).unwrap();
    std::fs::write(conf.join("keys/rekor.pub"), DEMO_REKOR_KEY).unwrap();
    std::fs::write(
        conf.join("app.toml"),
        format!(
            r#"name = "app"
image = "localhost/latch-demo/sandbox:latest"
data_dir = "data"

[source]
layout = "./mirror"

[trust]
keys = ["keys/signing.pub"]
rekor_keys = ["keys/rekor.pub"]
tlog = "required"
version_annotation = "{DEMO_VERSION_ANNOTATION}"
"#
        ),
    )
    .unwrap();
    conf
}

#[test]
fn a_profile_files_relative_paths_are_relative_to_its_folder_whatever_the_current_dir() {
    let (_tmp, root) = tempdir();
    let conf = profile_in_a_sub_folder(&root);
    let elsewhere = root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let data = conf.join("data");

    // The profile named relative to the current directory, by the flag and by
    // LATCH_PROFILE; the paths inside it relative to conf/.
    let up = ok(
        &latch_in(
            &elsewhere,
            &["upgrade", "--profile", "../conf/app.toml", "--json"],
            &[],
        ),
        "upgrade --profile ../conf/app.toml",
    );
    assert_eq!(up["status"], "upgraded");
    let digest = up["digest"].as_str().unwrap().to_owned();
    assert!(data.join("store").is_dir());
    assert!(!elsewhere.join("data").exists());
    assert!(!conf.join("conf").exists());

    for (cwd, args, env) in [
        (&elsewhere, vec!["--profile", "../conf/app.toml"], vec![]),
        (&root, vec!["--profile", "conf/app.toml"], vec![]),
        (&conf, vec!["--profile", "app.toml"], vec![]),
        (&root, vec![], vec![("LATCH_PROFILE", "conf/app.toml")]),
    ] {
        let what = format!("{} {args:?} {env:?}", cwd.display());
        let mut status = vec!["status", "--json"];
        status.extend(&args);
        let s = ok(&latch_in(cwd, &status, &env), &what);
        assert_eq!(real(&s["data_dir"]), data, "{what}");
        assert_eq!(real(&s["runtime"]), data.join("store"), "{what}");
        assert_eq!(real(&s["source"]), conf.join("mirror"), "{what}");
        assert_eq!(s["installed"]["signed_digest"], digest, "{what}");
        let mut verify = vec!["verify-local", "--json"];
        verify.extend(&args);
        let v = ok(&latch_in(cwd, &verify, &env), &what);
        assert_eq!(v["digest"], digest, "{what}");
    }

    // Flags beside the profile are relative to the current directory, not to conf/.
    let s = ok(
        &latch_in(
            &root,
            &[
                "status",
                "--json",
                "--profile",
                "conf/app.toml",
                "--data-dir",
                "data",
            ],
            &[],
        ),
        "--data-dir beside --profile",
    );
    assert_eq!(s["data_dir"], root.join("data").display().to_string());
    assert_eq!(s["runtime"], store(&root.join("data/store")));
    assert!(s["installed"].is_null(), "a fresh data dir: {s}");
}

/// Every path flag of the updater's commands (ProfileArgs), relative to the current
/// directory: `status --json` shows where each one went, or the key files are found.
#[test]
fn every_profile_flag_path_is_relative_to_the_current_directory() {
    let (_tmp, root) = tempdir();
    // The profile's folder has its own keys/ and mirror/: a flag must not pick them.
    let conf = profile_in_a_sub_folder(&root);
    let cwd = root.join("cwd");
    std::fs::create_dir_all(cwd.join("keys")).unwrap();
    std::fs::write(cwd.join("keys/mine.pub"), DEMO_SIGNING_KEY).unwrap();
    std::fs::write(cwd.join("keys/log.pub"), DEMO_REKOR_KEY).unwrap();
    std::fs::remove_file(conf.join("keys/signing.pub")).unwrap();

    struct Case {
        flag: &'static str,
        value: &'static str,
        field: &'static str,
        want: String,
    }
    let cases = [
        Case {
            flag: "--data-dir",
            value: "d",
            field: "data_dir",
            want: cwd.join("d").display().to_string(),
        },
        Case {
            flag: "--runtime",
            value: "store:s",
            field: "runtime",
            want: store(&cwd.join("s")),
        },
        Case {
            flag: "--source-layout",
            value: "./m",
            field: "source",
            want: oci(&cwd.join("m")),
        },
    ];
    for c in &cases {
        let mut args = vec![
            "status",
            "--json",
            "--image",
            "localhost/latch-demo/sandbox:latest",
            "--key",
            "keys/mine.pub",
            c.flag,
            c.value,
        ];
        if c.flag != "--data-dir" {
            // Not the platform's data directory of whoever runs the tests.
            args.extend(["--data-dir", "d"]);
        }
        let s = ok(&latch_in(&cwd, &args, &[]), c.flag);
        assert_eq!(s[c.field], c.want, "{} {}", c.flag, c.value);
    }

    // --key and --rekor-key: read from the current directory even beside a profile
    // whose folder has no such files (conf/keys/signing.pub is gone: the flag replaces it).
    let s = ok(
        &latch_in(
            &cwd,
            &[
                "status",
                "--json",
                "--profile",
                "../conf/app.toml",
                "--key",
                "keys/mine.pub",
                "--rekor-key",
                "./keys/log.pub",
            ],
            &[],
        ),
        "--key, --rekor-key beside --profile",
    );
    assert_eq!(s["keys"].as_array().unwrap().len(), 1);
    // Without --key the profile's (missing) key is read from conf/keys/, by its
    // absolute path.
    let err = failed(
        &latch_in(&root, &["status", "--profile", "conf/app.toml"], &[]),
        "the profile's deleted key",
    );
    assert!(
        err.contains(&conf.join("keys/signing.pub").display().to_string()),
        "{err}"
    );

    // --bundled-archive: install reads it from the current directory.
    let err = failed(
        &latch_in(
            &cwd,
            &[
                "install",
                "--profile",
                "../conf/app.toml",
                "--key",
                "keys/mine.pub",
                "--bundled-archive",
                "air/gap.tar",
            ],
            &[],
        ),
        "install --bundled-archive of a missing file",
    );
    assert!(
        err.contains(&cwd.join("air/gap.tar").display().to_string()),
        "{err}"
    );

    // The demo's --data-dir: see demo_with_a_relative_data_dir_then_status_and_verify_local_of_it.
}

/// The verifying commands' trust flags (TrustArgs: --key, --rekor-key, --trusted-root).
#[test]
fn trust_flag_paths_are_relative_to_the_current_directory() {
    let (_tmp, root) = tempdir();
    let cwd = root.join("cwd");
    std::fs::create_dir_all(cwd.join("keys")).unwrap();
    std::fs::write(cwd.join("keys/k.pub"), DEMO_SIGNING_KEY).unwrap();
    std::fs::write(cwd.join("keys/rekor.pub"), DEMO_REKOR_KEY).unwrap();
    std::fs::write(cwd.join("none.json"), "[]").unwrap();
    let digest = format!("sha256:{}", "0".repeat(64));

    // The keys are read (the decision is reached: nothing signed, not an I/O error).
    let o = latch_in(
        &cwd,
        &[
            "verify-signatures",
            "--json",
            "--key",
            "keys/k.pub",
            "--rekor-key",
            "./keys/rekor.pub",
            "--digest",
            &digest,
            "none.json",
        ],
        &[],
    );
    failed(&o, "verify-signatures of no signatures");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["error"].is_null(), "{v}");
    assert_eq!(v["verified"], false, "{v}");
    assert_eq!(v["verdict"]["threshold"], 1, "{v}");

    // Missing files are named by their absolute path under the current directory.
    for (flag, file) in [("--key", "nokey.pub"), ("--rekor-key", "sub/norekor.pub")] {
        let mut args = vec!["verify-signatures", "--digest", &digest, "none.json"];
        args.extend(["--key", "keys/k.pub", flag, file]);
        let err = failed(&latch_in(&cwd, &args, &[]), flag);
        assert!(
            err.contains(&cwd.join(file).display().to_string()),
            "{flag}: {err}"
        );
    }
    let err = failed(
        &latch_in(
            &cwd,
            &[
                "verify-signatures",
                "--digest",
                &digest,
                "--certificate-identity",
                "a@example.org",
                "--certificate-oidc-issuer",
                "https://issuer.example.org",
                "--trusted-root",
                "roots/trusted_root.json",
                "none.json",
            ],
            &[],
        ),
        "--trusted-root of a missing file",
    );
    assert!(
        err.contains(&cwd.join("roots/trusted_root.json").display().to_string()),
        "{err}"
    );
}
