//! What an update check costs the registry: requests and bytes, counted by a proxy in
//! front of a real registry with real token authentication, for `latch check` and for the
//! same checks done the way Dangerzone does them (an anonymous token, a manifest GET, then
//! `cosign download signature`).
//!
//! cargo bench -p latch-cli --bench check_requests

use std::path::Path;
use std::process::Command;

use latch_testkit::{ImageBuilder, Peers, Proxy, Registry, Skopeo, TokenAuth, run};

struct Cost {
    requests: usize,
    bytes: u64,
    tokens: usize,
}

fn cost(proxy: &Proxy, reg: &Registry) -> Cost {
    let log = proxy.log();
    Cost {
        requests: log.len(),
        bytes: log.iter().map(|e| e.bytes + e.request_bytes).sum(),
        tokens: reg.token_server().map_or(0, |t| t.request_count()),
    }
}

fn reset(proxy: &Proxy, reg: &Registry) {
    proxy.clear_log();
    if let Some(t) = reg.token_server() {
        t.clear_requests();
    }
}

fn latch(args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latch"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c)
}

/// Dangerzone's check: an anonymous token from the registry's realm, the manifest by tag
/// (hashed for its digest), then `cosign download signature` of that digest.
fn dangerzone_check(reg: &Registry, proxy: &Proxy, peers: &Peers, home: &Path) {
    let token_server = reg.token_server().expect("token auth");
    let token_url = format!(
        "{}?service={}&scope=repository:app/sandbox:pull",
        token_server.realm(),
        token_server.service()
    );
    let token_json = run(Command::new("curl").args(["-sf", &token_url]));
    let token: serde_json::Value = serde_json::from_str(&token_json).expect("token JSON");
    let token = token["token"].as_str().expect("a token").to_owned();
    let manifest = run(Command::new("curl").args([
        "-sf",
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-H",
        "Accept: application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json",
        &format!("{}/v2/app/sandbox/manifests/latest", proxy.url()),
    ]));
    let digest = latch::oci::Digest::sha256_of(manifest.as_bytes());
    let mut c = peers.command("cosign");
    c.args(["download", "signature", "--allow-http-registry"])
        .arg(format!("{}/app/sandbox@{digest}", proxy.host()))
        .env("HOME", home);
    run(&mut c);
}

fn main() {
    let peers = Peers::get();
    let reg = Registry::with_token_auth(
        TokenAuth::new()
            .credentials("ci", "pw")
            .anonymous_pull()
            .expires_in(300),
    );
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let auth = tmp.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"{}":{{"auth":"Y2k6cHc="}}}}}}"#, reg.host()),
    )
    .unwrap();
    let env: Vec<(&str, &Path)> = vec![
        ("REGISTRY_AUTH_FILE", &auth),
        ("LATCH_PASSWORD", Path::new("bench")),
        ("HOME", &home),
    ];
    latch(
        &[
            "generate-key-pair",
            "--output-key-prefix",
            tmp.path().join("release").to_str().unwrap(),
        ],
        &env,
    );
    let key = tmp.path().join("release.key");
    let public = tmp.path().join("release.pub");
    let skopeo = Skopeo::system().creds("ci", "pw");
    let publish = |seed: u64| {
        let built = ImageBuilder::new()
            .seed(seed)
            .gzip_layer(50_000)
            .build_multi_arch(&tmp.path().join(format!("img-{seed}")), "latest");
        built.push_with(&skopeo, &reg.reference("app/sandbox:latest"));
        let by_digest = format!("{}/app/sandbox@{}", reg.host(), built.digest());
        // A signed version, so that a newer image proves it is not older (no log here).
        let version = format!("org.opencontainers.image.version={seed}");
        latch(
            &[
                "sign",
                &by_digest,
                "--key",
                key.to_str().unwrap(),
                "-a",
                &version,
            ],
            &env,
        );
    };
    let profile = tmp.path().join("profile.toml");
    std::fs::write(
        &profile,
        "[trust]\nversion_annotation = \"org.opencontainers.image.version\"\n",
    )
    .unwrap();
    publish(1);
    let proxy = Proxy::start(&reg);
    let data = tmp.path().join("data");
    let image = format!("{}/app/sandbox:latest", proxy.host());
    let repo = format!("{}/app/sandbox", reg.host());
    let common = |cmd: &'static str| -> Vec<String> {
        vec![
            cmd.into(),
            "--profile".into(),
            profile.display().to_string(),
            "--image".into(),
            image.clone(),
            "--repository".into(),
            repo.clone(),
            "--key".into(),
            public.display().to_string(),
            "--data-dir".into(),
            data.display().to_string(),
        ]
    };
    let as_str = |v: &[String]| {
        v.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\u{0}")
    };
    let run_latch = |cmd: &'static str| {
        let args = common(cmd);
        let joined = as_str(&args);
        let parts: Vec<&str> = joined.split('\u{0}').collect();
        latch(&parts, &env);
    };
    run_latch("upgrade");

    let mut rows = Vec::new();
    // No change.
    reset(&proxy, &reg);
    run_latch("check");
    rows.push(("latch check, no change", cost(&proxy, &reg)));
    reset(&proxy, &reg);
    dangerzone_check(&reg, &proxy, peers, &home);
    rows.push(("Dangerzone's way, no change", cost(&proxy, &reg)));
    // An update.
    publish(2);
    reset(&proxy, &reg);
    run_latch("check");
    rows.push(("latch check, update found", cost(&proxy, &reg)));
    reset(&proxy, &reg);
    dangerzone_check(&reg, &proxy, peers, &home);
    rows.push(("Dangerzone's way, update found", cost(&proxy, &reg)));
    // An expired token: forget the cached one (as if its lifetime had passed).
    run_latch("upgrade");
    let cache = data.join("latch/auth-cache.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    for t in v["tokens"].as_array_mut().unwrap() {
        t["expires_at"] = serde_json::json!(1);
    }
    std::fs::write(&cache, serde_json::to_vec(&v).unwrap()).unwrap();
    reset(&proxy, &reg);
    run_latch("check");
    rows.push(("latch check, expired token", cost(&proxy, &reg)));

    println!("| check | registry requests | bytes (both ways) | token requests |");
    println!("| --- | --- | --- | --- |");
    for (name, c) in rows {
        println!("| {name} | {} | {} | {} |", c.requests, c.bytes, c.tokens);
    }
}
