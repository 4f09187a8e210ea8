//! `--json --events` (docs/json.md, "Events"): one JSON object a line on stdout, steps and
//! rate-limited progress per blob, and the `--json` document last as `"event": "report"`
//! (or the error document as `"event": "error"`). Real commands over the embedded demo
//! (offline) and a real registry, each stream compared with what plain `--json` prints.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use latch_testkit::{Fault, ImageBuilder, Proxy, Registry};
use serde_json::Value;

fn latch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latch"));
    c.args(args).env_remove("LATCH_INSECURE_REGISTRIES");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run latch")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `args` twice: with `--json --events` and with `--json` only (`plain`: the same
/// command, where it must differ, e.g. another data directory), expecting `ok` of both.
/// Checks the stream and that its last line is the plain document plus `event`. Returns
/// the events.
fn compare(events: &[&str], plain: &[&str], env: &[(&str, &str)], ok: bool) -> Vec<Value> {
    let mut args = events.to_vec();
    args.extend(["--json", "--events"]);
    let start = Instant::now();
    let o = latch(&args, env);
    let elapsed = start.elapsed();
    let code = if ok { 0 } else { 1 };
    assert_eq!(
        o.status.code(),
        Some(code),
        "{args:?}: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let lines = stream(&o.stdout, ok, elapsed);

    let mut args = plain.to_vec();
    args.push("--json");
    let p = latch(&args, env);
    assert_eq!(p.status.code(), Some(code), "{args:?}: {}", text(&p.stderr));
    let document: Value = serde_json::from_slice(&p.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {}", text(&p.stdout)));
    let mut last = lines.last().cloned().unwrap();
    last.as_object_mut().unwrap().remove("event");
    let (mut last, mut document) = (last, document);
    mask_staging(&mut last);
    mask_staging(&mut document);
    assert_eq!(
        last, document,
        "the last event of {events:?} is not what --json prints"
    );
    lines
}

/// Every line of `stdout`, checked: one compact JSON object each with `json_version` and
/// an `event`; steps and progress only, then exactly one `report` (`ok`) or `error` as
/// the last line; per blob, `done` never decreasing and never above `total`, the first
/// at 0 and (on success) the last at `total`; no more than the rate limit allows over
/// `elapsed`.
fn stream(stdout: &[u8], ok: bool, elapsed: Duration) -> Vec<Value> {
    let out = text(stdout);
    assert!(out.ends_with('\n'), "{out}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_eq!(v["json_version"], 2, "{l}");
            assert!(v["event"].is_string(), "{l}");
            v
        })
        .collect();
    let (last, before) = lines.split_last().expect("at least one line");
    assert_eq!(last["event"], if ok { "report" } else { "error" }, "{out}");
    let mut blobs: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
    for v in before {
        match v["event"].as_str().unwrap() {
            "step" => assert!(v["step"].is_string(), "{v}"),
            "progress" => {
                let blob = v["blob"].as_str().unwrap();
                assert!(blob.starts_with("sha256:"), "{v}");
                let done = v["done"].as_u64().unwrap();
                let total = v["total"].as_u64().unwrap();
                blobs
                    .entry(blob.to_owned())
                    .or_default()
                    .push((done, total));
            }
            other => panic!("unexpected event {other} before the last line: {out}"),
        }
    }
    if ok {
        assert_eq!(
            before.last().map(|v| &v["step"]),
            Some(&Value::from("done")),
            "{out}"
        );
    }
    // At most one every 250 ms, plus the first and the last (and some slack).
    let allowed = 3 + (elapsed.as_millis() / 250) as usize;
    for (blob, seen) in &blobs {
        let total = seen[0].1;
        assert_eq!(seen[0].0, 0, "{blob} starts at 0: {seen:?}");
        assert!(seen.iter().all(|(_, t)| *t == total), "{blob}: {seen:?}");
        assert!(
            seen.windows(2).all(|w| w[0].0 < w[1].0) || seen.len() == 1,
            "{blob} not increasing: {seen:?}"
        );
        assert!(seen.iter().all(|(d, _)| *d <= total), "{blob}: {seen:?}");
        if ok {
            assert_eq!(seen.last().unwrap().0, total, "{blob} ends complete");
        }
        assert!(seen.len() <= allowed, "{blob} over the rate: {seen:?}");
    }
    lines
}

/// An archive's signatures are located in the staging directory of the run that read
/// them (under its data directory, named by its process id): masked for comparison.
fn mask_staging(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let (Some(start), Some(at)) = (s.find("/latch/archive-"), s.find('@'))
                && start < at
            {
                *s = format!("<staging>{}", &s[at..]);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_staging),
        Value::Object(m) => m.values_mut().for_each(mask_staging),
        _ => {}
    }
}

fn steps(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .filter(|v| v["event"] == "step")
        .map(|v| v["step"].as_str().unwrap())
        .collect()
}

/// `done` values per blob.
fn progress(lines: &[Value]) -> HashMap<String, Vec<u64>> {
    let mut out: HashMap<String, Vec<u64>> = HashMap::new();
    for v in lines.iter().filter(|v| v["event"] == "progress") {
        out.entry(v["blob"].as_str().unwrap().to_owned())
            .or_default()
            .push(v["done"].as_u64().unwrap());
    }
    out
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn events_need_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = s(&tmp.path().join("data"));
    let dest = format!("oci:{}", s(&tmp.path().join("out")));
    for args in [
        vec!["pull", "localhost:5000/a:b", "--to", &dest, "--events"],
        vec!["upgrade", "--profile", "demo", "--data-dir", &d, "--events"],
        vec!["install", "--profile", "demo", "--data-dir", &d, "--events"],
        vec!["load-archive", "x.tar", "--profile", "demo", "--events"],
        vec!["prepare-archive", "--profile", "demo", "--events"],
    ] {
        let o = latch(&args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(o.stdout.is_empty(), "{args:?}");
        assert!(text(&o.stderr).contains("--json"), "{}", text(&o.stderr));
    }
}

#[test]
fn demo_upgrade_and_install_offline() {
    let tmp = tempfile::tempdir().unwrap();
    // One mirror for every run, so that the reports (which name it) compare equal.
    let mirror = tmp.path().join("mirror");
    latch::demo::write_layout(&mirror).unwrap();
    let mirror = s(&mirror);
    let data = |name: &str| s(&tmp.path().join(name));
    let demo = |cmd: &'static str, data: &str| -> Vec<String> {
        vec![
            cmd.into(),
            "--profile".into(),
            "demo".into(),
            "--source-layout".into(),
            mirror.clone(),
            "--data-dir".into(),
            data.into(),
        ]
    };

    let (a, b) = (demo("upgrade", &data("a")), demo("upgrade", &data("b")));
    let lines = compare(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &b.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
        true,
    );
    assert_eq!(steps(&lines), ["upgrading", "done"]);
    assert_eq!(lines.last().unwrap()["status"], "upgraded");
    // Again on the same data: up to date, both ways.
    let lines = compare(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &b.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
        true,
    );
    assert_eq!(lines.last().unwrap()["status"], "up-to-date");

    let (c, d) = (demo("install", &data("c")), demo("install", &data("d")));
    let lines = compare(
        &c.iter().map(String::as_str).collect::<Vec<_>>(),
        &d.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
        true,
    );
    assert_eq!(steps(&lines), ["installing", "done"]);
    assert_eq!(lines.last().unwrap()["choice"], "remote");

    // A refusal: the demo's log index is below this floor. The error document, one line.
    let mut e = demo("upgrade", &data("e"));
    e.extend(["--rollback-floor".into(), "5".into()]);
    let e: Vec<&str> = e.iter().map(String::as_str).collect();
    let lines = compare(&e, &e, &[], false);
    assert_eq!(steps(&lines), ["upgrading"]);
    let last = lines.last().unwrap();
    assert_eq!(last["error"]["kind"], "rollback", "{last}");
    assert!(!last["error"]["details"].is_null(), "{last}");

    // An error before any library call (no such profile file) is an error event too.
    let missing = data("missing.toml");
    let o = latch(
        &["upgrade", "--profile", &missing, "--json", "--events"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let lines = stream(&o.stdout, false, Duration::ZERO);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(!text(&o.stderr).is_empty(), "reported on stderr too");
}

#[test]
fn pull_reports_each_blob() {
    let reg = Registry::start();
    let proxy = Proxy::start(&reg);
    let tmp = tempfile::tempdir().unwrap();
    let image = ImageBuilder::new()
        .gzip_layer(1 << 20)
        .gzip_layer(3000)
        .build(&tmp.path().join("src"), "v1");
    image.push(&reg.reference("events/app:v1"));
    // Blobs dribble in: 32 KiB every 30 ms, about a second for the big layer.
    proxy.add_fault(
        Fault::SlowBody {
            chunk: 32 * 1024,
            interval: Duration::from_millis(30),
        }
        .on("GET", "/blobs/"),
    );
    let reference = proxy.reference("events/app:v1");
    let to = |name: &str| format!("oci:{}:v1", s(&tmp.path().join(name)));
    let (a, b) = (to("a"), to("b"));
    let lines = compare(
        &["pull", &reference, "--to", &a],
        &["pull", &reference, "--to", &b],
        &[],
        true,
    );
    assert_eq!(steps(&lines), ["pulling", "downloading", "done"]);
    assert_eq!(lines.last().unwrap()["digest"], image.digest().to_string());
    let seen = progress(&lines);
    // The layers (the library reads the small config whole, without progress).
    let mut expected: Vec<String> = image
        .layers
        .iter()
        .map(|l| l.descriptor.digest.to_string())
        .collect();
    expected.sort();
    let mut blobs: Vec<String> = seen.keys().cloned().collect();
    blobs.sort();
    assert_eq!(blobs, expected, "one stream per blob");
    let big = &image.layers[0].descriptor;
    let big_seen = &seen[&big.digest.to_string()];
    assert!(
        big_seen.len() >= 3,
        "progress while the big layer arrives: {big_seen:?}"
    );
    assert_eq!(*big_seen.last().unwrap(), big.size);

    // Pulled again: every blob present, nothing to download, still a report last.
    let lines = compare(
        &["pull", &reference, "--to", &a],
        &["pull", &reference, "--to", &a],
        &[],
        true,
    );
    assert_eq!(steps(&lines), ["pulling", "done"]);

    // A tag that does not exist: the error event last, exit 1.
    let missing = proxy.reference("events/app:nope");
    let c = to("c");
    let lines = compare(
        &["pull", &missing, "--to", &c],
        &["pull", &missing, "--to", &c],
        &[],
        false,
    );
    assert_eq!(steps(&lines), ["pulling"]);
    assert!(lines.last().unwrap()["error"]["message"].is_string());
}

#[test]
fn a_reader_that_goes_away_stops_the_pull() {
    let reg = Registry::start();
    let proxy = Proxy::start(&reg);
    let tmp = tempfile::tempdir().unwrap();
    let image = ImageBuilder::new()
        .gzip_layer(1 << 20)
        .build(&tmp.path().join("src"), "v1");
    image.push(&reg.reference("events/slow:v1"));
    // About 30 s for the layer, unless stopped.
    proxy.add_fault(
        Fault::SlowBody {
            chunk: 8 * 1024,
            interval: Duration::from_millis(250),
        }
        .on("GET", "/blobs/"),
    );
    let dest = format!("oci:{}", s(&tmp.path().join("out")));
    let mut child = Command::new(env!("CARGO_BIN_EXE_latch"))
        .args([
            "pull",
            &proxy.reference("events/slow:v1"),
            "--to",
            &dest,
            "--json",
            "--events",
        ])
        .env_remove("LATCH_INSECURE_REGISTRIES")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // Read until the first progress event, then go away.
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "ended early");
        if line.contains("\"progress\"") {
            break;
        }
    }
    drop(reader);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(141), "ends like a killed pipe");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped without finishing the download: {:?}",
        started.elapsed()
    );
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "quietly: {err}");
}

#[test]
fn signed_image_upgrade_archives_and_install() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| s(&tmp.path().join(p));
    let reg = Registry::start();
    let home = t("home");
    std::fs::create_dir_all(&home).unwrap();
    let env = [("LATCH_PASSWORD", "events"), ("HOME", home.as_str())];
    let prefix = t("release");
    let o = latch(&["generate-key-pair", "--output-key-prefix", &prefix], &env);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (key, public) = (t("release.key"), t("release.pub"));
    let built = ImageBuilder::new()
        .gzip_layer(300_000)
        .build_multi_arch(&tmp.path().join("img"), "latest");
    built.push(&reg.reference("app/sandbox:latest"));
    let by_digest = format!("{}/app/sandbox@{}", reg.host(), built.digest());
    let o = latch(&["sign", "--recursive", &by_digest, "--key", &key], &env);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let image = reg.reference("app/sandbox:latest");
    let profile = |cmd: &str, data: &str| -> Vec<String> {
        vec![
            cmd.into(),
            "--image".into(),
            image.clone(),
            "--key".into(),
            public.clone(),
            "--data-dir".into(),
            t(data),
        ]
    };
    let run = |events: Vec<String>, plain: Vec<String>, ok: bool| -> Vec<Value> {
        let e: Vec<&str> = events.iter().map(String::as_str).collect();
        let p: Vec<&str> = plain.iter().map(String::as_str).collect();
        compare(&e, &p, &env, ok)
    };

    // From the registry into the built-in store: the blobs' progress.
    let lines = run(profile("upgrade", "a"), profile("upgrade", "b"), true);
    assert_eq!(steps(&lines), ["upgrading", "downloading", "done"]);
    assert!(!progress(&lines).is_empty());
    assert_eq!(lines.last().unwrap()["status"], "upgraded");

    // The archive, written twice to the same file (same bytes, same report).
    let mut prepare = profile("prepare-archive", "a");
    prepare.extend(["-o".into(), t("airgap.tar")]);
    let lines = run(prepare.clone(), prepare, true);
    assert_eq!(steps(&lines), ["preparing", "downloading", "done"]);
    assert!(!progress(&lines).is_empty());

    // Loaded on the other side: steps only, the library reports no progress of a load.
    let mut load = profile("load-archive", "c");
    load.push(t("airgap.tar"));
    let mut load_plain = profile("load-archive", "c2");
    load_plain.push(t("airgap.tar"));
    let lines = run(load, load_plain, true);
    assert_eq!(steps(&lines), ["loading", "done"]);
    assert_eq!(lines.last().unwrap()["status"], "upgraded");

    let mut install = profile("install", "d");
    install.extend(["--bundled-archive".into(), t("airgap.tar")]);
    let mut install_plain = profile("install", "e");
    install_plain.extend(["--bundled-archive".into(), t("airgap.tar")]);
    let lines = run(install, install_plain, true);
    assert_eq!(steps(&lines), ["installing", "done"]);
    assert_eq!(lines.last().unwrap()["choice"], "bundled");

    // Refused under another key: the error event, with its details.
    let other = t("other");
    latch(&["generate-key-pair", "--output-key-prefix", &other], &env);
    let mut wrong = profile("upgrade", "f");
    wrong[4] = t("other.pub");
    let lines = run(wrong.clone(), wrong, false);
    assert_eq!(lines.last().unwrap()["error"]["kind"], "not-verified");
}

/// A warning that comes before a failure is not lost with the report that never comes:
/// printed on stderr once, as it arises, and carried by the error document (plain and as
/// the last event). Here the Sigstore root could not be refreshed (the TUF repository
/// answers 503), then the image turns out to be unsigned.
#[test]
fn warnings_before_a_failure_are_in_the_error_document() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let image = ImageBuilder::new()
        .gzip_layer(100)
        .build(&tmp.path().join("src"), "v1");
    image.push(&reg.reference("warned/app:v1"));
    let tuf = latch_testkit::tuf::TufServer::start(
        latch::sigstore::TrustRoot::production_json().as_bytes(),
    );
    tuf.refuse(Some(503));
    std::fs::write(tmp.path().join("tuf-root.json"), tuf.initial_root()).unwrap();
    std::fs::write(
        tmp.path().join("signing.pub"),
        latch::demo::DEMO_SIGNING_KEY,
    )
    .unwrap();
    // A key profile that takes its logs from the Sigstore root (no pinned Rekor key).
    let profile = tmp.path().join("app.toml");
    std::fs::write(
        &profile,
        format!(
            "name = \"app\"\nimage = {:?}\ndata_dir = \"data\"\n\n[trust]\nkeys = [\"signing.pub\"]\ntlog = \"required\"\ntuf_url = {:?}\ntuf_root = \"tuf-root.json\"\n",
            reg.reference("warned/app:v1"),
            tuf.url()
        ),
    )
    .unwrap();
    let profile = s(&profile);
    let check = ["check", "--profile", profile.as_str()];

    let o = latch(&[&check[..], &["--json"]].concat(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "no-signatures", "{doc}");
    let warnings = doc["error"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{doc}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains("was not refreshed") && warning.contains("the starting root"),
        "{warning}"
    );
    let stderr = text(&o.stderr);
    assert_eq!(
        stderr
            .matches(&format!("latch: warning: {warning}"))
            .count(),
        1,
        "{stderr}"
    );

    // Under --events (which `upgrade` has), the error event carries them the same way.
    let upgrade = ["upgrade", "--profile", profile.as_str()];
    let lines = compare(&upgrade, &upgrade, &[], false);
    let last = lines.last().unwrap();
    assert_eq!(last["error"]["kind"], "no-signatures", "{last}");
    assert_eq!(last["error"]["warnings"][0], warning);
}
