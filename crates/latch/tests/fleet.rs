//! Update checks at fleet scale: with tokens kept between runs, a check that finds
//! nothing new costs the registry one request. Counted through a proxy in front of a real
//! registry that uses real token authentication.

mod common;

use common::World;
use latch::registry::NoProgress;
use latch::{Overrides, Updater, UpgradeOptions};
use latch_testkit::{Fault, Proxy, Registry, TokenAuth};

fn through(w: &World, proxy: &Proxy) -> Overrides {
    let mut o = w.overrides();
    o.image = Some(format!("{}/app/sandbox:latest", proxy.host()));
    o.repository = Some(w.repo.clone());
    o
}

/// A new updater each time: a new process, as an application's periodic check is.
fn fresh(w: &World, o: &Overrides) -> Updater {
    w.updater_with(o.clone())
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "a token-auth registry needs the token server reachable from the Linux registry"
)]
async fn an_unchanged_check_is_one_request_and_tokens_are_kept_between_runs() {
    let reg = Registry::with_token_auth(
        TokenAuth::new()
            .realm_path("/auth/issue")
            .credentials("ci", "pw")
            .anonymous_pull()
            .expires_in(300),
    );
    let w = World::with_registry(reg, Some(("ci", "pw")));
    w.publish(1, 100, "1").await;
    let proxy = Proxy::start(&w.reg);
    let o = through(&w, &proxy);
    fresh(&w, &o)
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    let tokens = w.reg.token_server().unwrap();

    // No change: one HEAD, no ping, no token request.
    proxy.clear_log();
    tokens.clear_requests();
    let r = fresh(&w, &o).check(true).await.unwrap();
    assert_eq!(r.status, "up-to-date");
    let log = proxy.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].method.as_str(), log[0].status), ("HEAD", 200));
    assert_eq!(tokens.request_count(), 0);
    let unchanged_bytes: u64 = log.iter().map(|e| e.bytes).sum();
    assert_eq!(unchanged_bytes, 0, "a HEAD carries no body");

    // An update: the next key rotation version's tag (a 404: none published), the
    // manifest, the .sig manifest and its payload; still no token request.
    w.publish(2, 200, "2").await;
    proxy.clear_log();
    tokens.clear_requests();
    let r = fresh(&w, &o).check(true).await.unwrap();
    assert_eq!((r.status, r.log_index), ("update-available", Some(200)));
    let log = proxy.log();
    let kinds: Vec<String> = log
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert_eq!(log.len(), 5, "{kinds:?}");
    assert!(
        kinds.contains(&"GET /v2/app/sandbox/manifests/latch-trust-v2".to_owned()),
        "{kinds:?}"
    );
    assert_eq!(tokens.request_count(), 0);
    println!(
        "update found: {} requests, {} bytes",
        log.len(),
        log.iter().map(|e| e.bytes).sum::<u64>()
    );

    // A registry that omits Docker-Content-Digest on HEAD: a GET, whose bytes are hashed.
    fresh(&w, &o)
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    proxy.set_faults(vec![Fault::omit_digest().on("HEAD", "/manifests/")]);
    proxy.clear_log();
    let r = fresh(&w, &o).check(true).await.unwrap();
    assert_eq!(r.status, "up-to-date");
    let methods: Vec<String> = proxy.log().iter().map(|e| e.method.clone()).collect();
    assert_eq!(methods, ["HEAD", "GET"]);
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "a token-auth registry needs the token server reachable from the Linux registry"
)]
async fn an_expired_token_costs_one_token_request_and_no_ping() {
    let reg = Registry::with_token_auth(
        TokenAuth::new()
            .credentials("ci", "pw")
            .anonymous_pull()
            .expires_in(1),
    );
    let w = World::with_registry(reg, Some(("ci", "pw")));
    w.publish(1, 100, "1").await;
    let proxy = Proxy::start(&w.reg);
    let o = through(&w, &proxy);
    fresh(&w, &o)
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let tokens = w.reg.token_server().unwrap();
    tokens.clear_requests();
    proxy.clear_log();
    let r = fresh(&w, &o).check(true).await.unwrap();
    assert_eq!(r.status, "up-to-date");
    assert_eq!(
        tokens.request_count(),
        1,
        "the expired token is renewed from the known realm"
    );
    let log = proxy.log();
    assert_eq!(log.len(), 1, "no /v2/ ping, no 401 round trip: {log:?}");
    assert_eq!(log[0].method, "HEAD");
}

#[tokio::test]
async fn automatic_checks_are_spread_by_jitter() {
    let w = World::new();
    w.publish(1, 100, "1").await;
    let mut o = w.overrides();
    o.data_dir = None;
    let mut next = Vec::new();
    for i in 0..8 {
        let mut oi = o.clone();
        oi.data_dir = Some(w.tmp.path().join(format!("install-{i}")));
        let u = w.updater_with(oi);
        u.set_updates_enabled(true).unwrap();
        let r = u.check(false).await.unwrap();
        next.push(r.next_check.unwrap());
    }
    next.sort();
    next.dedup();
    assert!(
        next.len() > 1,
        "eight installs checking at once scheduled the same next check: {next:?}"
    );
}
