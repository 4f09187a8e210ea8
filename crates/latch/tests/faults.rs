//! Fault injection as a suite: `upgrade`, `check`, `pull` and `load-archive` driven
//! through the testkit's faulty proxy (stalled and dribbled responses, resets mid-blob,
//! truncated bodies, wrong lengths, 5xx bursts, slow token servers) and through damaged
//! archives. After every run: the previous image (or, when the run recovered, the new
//! one) is installed and passes `verify-local`, no partial download or staging folder is
//! left behind, the lock is free, and a failure is a typed error naming what went wrong.
//!
//! The client runs with tight bounds (2 s document deadline, a 64 KiB/s blob floor over
//! 1 s, 2 retries) so that a stall costs seconds, not the defaults' minutes.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::World;
use latch::oci::{Digest, OciLayout, Platform, Reference};
use latch::registry::{
    ClientOptions, CredentialSource, NoProgress, PullOptions, RegistryError, Stall, pull_to_layout,
};
use latch::{Error, Profile, Updater, UpgradeOptions};
use latch_testkit::{Fault, FaultRule, ImageBuilder, Proxy, Registry, TokenAuth};

/// Fault cases run (each followed by the integrity checks).
static CASES: AtomicUsize = AtomicUsize::new(0);

const RETRIES: u32 = 2;

fn tight() -> ClientOptions {
    ClientOptions {
        credentials: CredentialSource::None,
        max_retries: RETRIES,
        initial_backoff: Duration::from_millis(20),
        document_deadline: Duration::from_secs(2),
        min_blob_speed: 64 * 1024,
        speed_window: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

/// A world with v1 installed directly and v2 published, and a proxy in front of the
/// registry with an updater (and a client) that go through it.
struct Bench {
    w: World,
    direct: Updater,
    proxy: Proxy,
    via: Updater,
    v1: Digest,
    v2: Digest,
}

impl Bench {
    async fn new() -> Bench {
        Bench::around(World::new()).await
    }

    async fn around(w: World) -> Bench {
        let v1 = w.publish(1, 100, "1").await;
        let direct = w.updater();
        let r = direct
            .upgrade(&UpgradeOptions::default(), &NoProgress)
            .await
            .unwrap();
        assert_eq!(r.digest, v1);
        // A bigger layer than the other tests use, so that cuts and floors bite mid-way.
        let v2 = {
            let dir = w.tmp.path().join("img-v2");
            let index = ImageBuilder::new()
                .seed(2)
                .gzip_layer(400_000)
                .build_multi_arch(&dir, "latest");
            w.push_index(&index, &w.reference("latest").to_string());
            let d = index.digest().clone();
            w.sign(&d, 200, common::now() - 60, "2").await;
            d
        };
        let proxy = Proxy::start(&w.reg);
        let mut o = w.overrides();
        o.image = Some(format!("{}/app/sandbox:latest", proxy.host()));
        o.repository = Some(w.repo.clone());
        let via =
            Updater::with_client_options(Profile::from_overrides(o).unwrap(), tight()).unwrap();
        Bench {
            w,
            direct,
            proxy,
            via,
            v1,
            v2,
        }
    }

    fn proxied(&self, digest: &Digest) -> Reference {
        Reference::parse(&format!("{}/app/sandbox@{digest}", self.proxy.host())).unwrap()
    }

    /// The layers of v2's host image: what a cut or a floor should hit.
    async fn v2_layers(&self) -> Vec<Digest> {
        let client = latch::registry::Client::new(tight()).unwrap();
        let top = client
            .get_manifest(&self.w.reference("latest").with_digest(self.v2.clone()))
            .await
            .unwrap();
        let index = top.as_index().unwrap();
        let desc = index.require_platform(&Platform::host(), "v2").unwrap();
        let image = client
            .get_manifest(&self.w.reference("latest").with_digest(desc.digest.clone()))
            .await
            .unwrap();
        image
            .as_image()
            .unwrap()
            .layers
            .iter()
            .map(|l| l.digest.clone())
            .collect()
    }

    /// After a refused run: v1 installed and verifying, nothing partial, lock free.
    async fn intact(&self, expected: &Digest, case: &str) {
        self.intact_for(&self.direct, expected, case).await;
    }

    /// After a run that went through the proxy and succeeded: what it installed.
    async fn recovered(&self, expected: &Digest, case: &str) {
        self.intact_for(&self.via, expected, case).await;
    }

    async fn intact_for(&self, updater: &Updater, expected: &Digest, case: &str) {
        CASES.fetch_add(1, Ordering::SeqCst);
        let local = updater
            .verify_local(true)
            .await
            .unwrap_or_else(|e| panic!("{case}: verify-local fails afterwards: {e}"));
        assert_eq!(&local.digest, expected, "{case}");
        let left = leftovers(&self.w.data());
        assert!(left.is_empty(), "{case}: left behind: {left:?}");
        drop(
            self.direct
                .store()
                .lock(false)
                .unwrap_or_else(|e| panic!("{case}: the lock is still held: {e}")),
        );
    }

    /// Runs `upgrade` and `check` through the proxy with `faults`; both must fail with
    /// an error `expected` accepts, leaving v1 installed.
    async fn refused(&self, case: &str, faults: Vec<FaultRule>, expected: fn(&Error) -> bool) {
        self.proxy.set_faults(faults.clone());
        let err = self
            .via
            .upgrade(&UpgradeOptions::default(), &NoProgress)
            .await
            .expect_err(case);
        assert!(
            expected(&err),
            "{case} (upgrade): unexpected error: {err:?}"
        );
        self.intact(&self.v1, &format!("{case} (upgrade)")).await;
        self.proxy.set_faults(faults);
        let err = self.via.check(true).await.expect_err(case);
        assert!(expected(&err), "{case} (check): unexpected error: {err:?}");
        self.intact(&self.v1, &format!("{case} (check)")).await;
    }

    /// Pulls v2 through the proxy into a fresh layout with `faults`: must fail with an
    /// error `expected` accepts, leaving no partial file and no image.
    async fn pull_refused(
        &self,
        case: &str,
        faults: Vec<FaultRule>,
        expected: fn(&RegistryError) -> bool,
    ) {
        self.proxy.set_faults(faults);
        let dir = self
            .w
            .tmp
            .path()
            .join(format!("pull-{}", CASES.load(Ordering::SeqCst)));
        let layout = OciLayout::create(&dir).unwrap();
        let client = latch::registry::Client::new(tight()).unwrap();
        let err = pull_to_layout(
            &client,
            &self.proxied(&self.v2),
            &layout,
            &PullOptions::default(),
            &NoProgress,
        )
        .await
        .expect_err(case);
        assert!(expected(&err), "{case} (pull): unexpected error: {err:?}");
        CASES.fetch_add(1, Ordering::SeqCst);
        let left = leftovers(&dir);
        assert!(left.is_empty(), "{case} (pull): left behind: {left:?}");
        assert!(
            layout.index().unwrap().manifests.is_empty(),
            "{case} (pull): an image was recorded"
        );
    }
}

/// Partial downloads, staging folders and temporary files under `dir`.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let inside_partial = d.file_name().is_some_and(|n| n == ".partial");
            // An empty `.partial` folder is where downloads go; what is in it is a leftover.
            if inside_partial
                || (name.ends_with(".partial") && !p.is_dir())
                || name.starts_with(".tmp")
                || name.starts_with("archive-")
                || name.starts_with("latch-load-")
            {
                found.push(p.clone());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    found
}

/// The registry error behind `e`, whether the updater met it or the runtime's pull did.
fn registry_error(e: &Error) -> Option<&RegistryError> {
    match e {
        Error::Registry(r) | Error::Runtime(latch::runtime::RuntimeError::Registry(r)) => Some(r),
        _ => None,
    }
}

fn stalled(e: &Error) -> bool {
    matches!(registry_error(e), Some(RegistryError::Stalled { .. }))
}

fn registry(e: &Error) -> bool {
    registry_error(e).is_some()
}

fn blob_path(d: &Digest) -> String {
    format!("/blobs/{d}")
}

fn report() {
    println!(
        "fault cases run so far in this binary: {} (none lost data)",
        CASES.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn stalls_and_dribbles_are_abandoned() {
    let b = Bench::new().await;
    b.refused(
        "manifest response stalled",
        vec![Fault::Delay(Duration::from_secs(30)).on("*", "/manifests/")],
        |e| {
            matches!(
                registry_error(e),
                Some(RegistryError::Stalled {
                    stall: Stall::Headers { .. },
                    ..
                })
            )
        },
    )
    .await;
    b.refused(
        "manifest dribbled a byte at a time",
        vec![
            Fault::SlowBody {
                chunk: 1,
                interval: Duration::from_millis(200),
            }
            .on("GET", "/manifests/"),
        ],
        |e| {
            matches!(
                registry_error(e),
                Some(RegistryError::Stalled {
                    stall: Stall::Document { .. },
                    ..
                })
            )
        },
    )
    .await;
    // A dribbled layer: abandoned at the floor, resumed within the one retry bound.
    let layers = b.v2_layers().await;
    let layer = layers.last().unwrap().clone();
    b.proxy.clear_log();
    b.proxy.set_faults(vec![
        Fault::SlowBody {
            chunk: 512,
            interval: Duration::from_millis(100),
        }
        .on("GET", &blob_path(&layer)),
    ]);
    let err = b
        .via
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    match registry_error(&err) {
        Some(RegistryError::Stalled {
            stall: Stall::Blob { digest, floor, .. },
            url,
        }) => {
            assert_eq!(digest, &layer);
            assert_eq!(*floor, 64 * 1024);
            assert!(url.contains(&b.proxy.host()), "{url}");
            let msg = err.to_string();
            assert!(msg.contains("below the floor"), "{msg}");
        }
        other => panic!("expected a blob stall, got {other:?}"),
    }
    let gets = b
        .proxy
        .log()
        .iter()
        .filter(|e| e.method == "GET" && e.path.contains(&blob_path(&layer)))
        .count();
    assert_eq!(gets, 1 + RETRIES as usize, "retries share one bound");
    b.intact(&b.v1, "layer dribbled").await;
    b.pull_refused(
        "layer dribbled",
        vec![
            Fault::SlowBody {
                chunk: 512,
                interval: Duration::from_millis(100),
            }
            .on("GET", &blob_path(&layer)),
        ],
        |e| matches!(e, RegistryError::Stalled { .. }),
    )
    .await;
    report();
}

#[tokio::test]
async fn broken_transfers_are_refused_or_resumed() {
    let b = Bench::new().await;
    let layers = b.v2_layers().await;
    let layer = layers.last().unwrap().clone();
    b.refused(
        "manifest body truncated",
        vec![Fault::cut_body_after(10).on("GET", "/manifests/")],
        registry,
    )
    .await;
    b.refused(
        "5xx without end",
        vec![Fault::status(503).everywhere()],
        |e| {
            matches!(
                registry_error(e),
                Some(RegistryError::Status { status: 503, .. })
            )
        },
    )
    .await;
    // A layer reset mid-way, every time: refused once the one bound is spent.
    b.proxy.clear_log();
    b.proxy.set_faults(vec![
        Fault::cut_body_after(50_000).on("GET", &blob_path(&layer)),
    ]);
    let err = b
        .via
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(registry(&err), "{err:?}");
    let gets: Vec<_> = b
        .proxy
        .log()
        .into_iter()
        .filter(|e| e.method == "GET" && e.path.contains(&blob_path(&layer)))
        .collect();
    assert_eq!(
        gets.len(),
        1 + RETRIES as usize,
        "retries share one bound: {gets:?}"
    );
    assert!(gets[1].range.is_some(), "resumed with Range: {gets:?}");
    b.intact(&b.v1, "layer reset every time").await;
    // A layer one byte short, its digest header kept: a size mismatch, nothing kept.
    b.proxy.set_faults(vec![
        Fault::edit_body(
            |body| body[..body.len().saturating_sub(1)].to_vec(),
            latch_testkit::DigestHeader::Keep,
        )
        .on("GET", &blob_path(&layer)),
    ]);
    let err = b
        .via
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(registry(&err), "{err:?}");
    b.intact(&b.v1, "layer one byte short").await;
    // A layer with one byte changed: a digest mismatch.
    b.proxy.set_faults(vec![
        Fault::flip_byte(1000, latch_testkit::DigestHeader::Keep).on("GET", &blob_path(&layer)),
    ]);
    let err = b
        .via
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(
            registry_error(&err),
            Some(RegistryError::DigestMismatch { .. })
        ),
        "{err:?}"
    );
    b.intact(&b.v1, "layer byte flipped").await;
    b.pull_refused(
        "layer reset every time",
        vec![Fault::cut_body_after(50_000).on("GET", &blob_path(&layer))],
        |_| true,
    )
    .await;
    b.pull_refused(
        "5xx without end",
        vec![Fault::status(503).everywhere()],
        |e| matches!(e, RegistryError::Status { status: 503, .. }),
    )
    .await;

    // Recoverable: a burst of 5xx, a reset mid-layer once. The upgrade completes.
    b.proxy.set_faults(vec![
        Fault::status(503).everywhere().times(RETRIES),
        Fault::cut_body_after(50_000)
            .on("GET", &blob_path(&layer))
            .times(1),
    ]);
    let r = b
        .via
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, b.v2);
    b.recovered(&b.v2, "5xx burst and one reset, recovered")
        .await;
    report();
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "a token-auth registry needs the token server reachable from the Linux registry"
)]
async fn slow_token_servers_are_abandoned() {
    let reg = Registry::with_token_auth(TokenAuth::new().anonymous_pull());
    let w = World::with_registry(reg, None);
    let tokens = w.reg.token_server().unwrap();
    let token_addr: SocketAddr = tokens
        .realm()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let service = tokens.service().to_owned();
    let b = Bench::around(w).await;
    // The registry behind the proxy sends clients to a token server behind a second one.
    let token_proxy = Proxy::to(token_addr);
    let challenge = format!(
        "Bearer realm=\"{}/auth/v1/issue-token\",service=\"{service}\"",
        token_proxy.url()
    );
    let rewrite = || {
        vec![
            Fault::remove_header("www-authenticate").everywhere(),
            Fault::add_header("WWW-Authenticate", &challenge).everywhere(),
        ]
    };
    token_proxy.set_faults(vec![Fault::Delay(Duration::from_secs(30)).everywhere()]);
    b.refused("token server stalled", rewrite(), stalled).await;
    token_proxy.set_faults(vec![
        Fault::SlowBody {
            chunk: 1,
            interval: Duration::from_millis(200),
        }
        .everywhere(),
    ]);
    b.refused("token dribbled", rewrite(), stalled).await;
    // A healthy token server behind the same rewrite: the upgrade goes through.
    token_proxy.set_faults(Vec::new());
    b.proxy.set_faults(rewrite());
    let r = b
        .via
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, b.v2);
    assert!(
        token_proxy.log().iter().any(|e| e.status == 200),
        "the token came through the second proxy"
    );
    b.recovered(&b.v2, "token server healthy again").await;
    report();
}

#[tokio::test]
async fn damaged_archives_are_refused_before_anything_is_loaded() {
    let b = Bench::new().await;
    // An archive of v2, prepared by a second installation.
    let archive = b.w.tmp.path().join("v2.tar");
    {
        let mut o = b.w.overrides();
        o.data_dir = Some(b.w.tmp.path().join("preparer"));
        let preparer = b.w.updater_with(o);
        preparer
            .prepare_archive(None, &archive, false, &NoProgress)
            .await
            .unwrap();
    }
    let good = std::fs::read(&archive).unwrap();
    let len = good.len();
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one header", good[..512].to_vec()),
        ("cut in half", good[..len / 2].to_vec()),
        ("three quarters", good[..len * 3 / 4].to_vec()),
        ("byte flipped mid-way", {
            let mut g = good.clone();
            g[len / 2] ^= 0x55;
            g
        }),
        ("size field lies", {
            let mut g = good.clone();
            // The first header's size field (octal, offset 124): far more than is there.
            g[124..135].copy_from_slice(b"77777777777");
            g
        }),
        ("garbage", vec![0xA5; 64 * 1024]),
    ];
    for (case, bytes) in damaged {
        let path = b.w.tmp.path().join("damaged.tar");
        std::fs::write(&path, &bytes).unwrap();
        let err = b
            .direct
            .load_archive(&path, &UpgradeOptions::default())
            .await
            .expect_err(case);
        assert!(
            matches!(
                err,
                Error::Archive(_)
                    | Error::Layout { .. }
                    | Error::NotVerified { .. }
                    | Error::NoSignatures { .. }
                    | Error::BadSignatures { .. }
            ),
            "{case}: {err:?}"
        );
        b.intact(&b.v1, &format!("archive: {case}")).await;
    }
    // The undamaged archive loads.
    let r = b
        .direct
        .load_archive(&archive, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!(r.digest, b.v2);
    b.intact(&b.v2, "archive: intact").await;
    report();
}
