//! `latch verify-local` with the built-in store, the whole process, against what
//! Dangerzone runs before each use for the same proof: `cosign verify-blob --offline
//! --bundle` of the stored signature (Rekor key pinned). Alternating rounds, medians.
//!
//! cargo bench -p latch-cli --bench verify_local [-- ROUNDS [EXTRA_IMAGES]]
//!
//! With podman (as root) it measures twice: with the demo alone in a private storage, then
//! with EXTRA_IMAGES (default 100) other images beside it.

use std::process::Command;
use std::time::Instant;

use base64::Engine as _;
use latch_testkit::Peers;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One warm-up run of each, then `rounds` rounds alternating which goes first; the
/// medians of `a` and `b`, in seconds.
fn alternate(rounds: usize, a: &dyn Fn() -> f64, b: &dyn Fn() -> f64) -> (f64, f64) {
    a();
    b();
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        if i % 2 == 0 {
            ta.push(a());
            tb.push(b());
        } else {
            tb.push(b());
            ta.push(a());
        }
    }
    (median(&mut ta), median(&mut tb))
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let peers = Peers::get();
    let latch = env!("CARGO_BIN_EXE_latch");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data_s = data.display().to_string();
    let st = Command::new(latch)
        .args(["upgrade", "--profile", "demo", "--data-dir", &data_s])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // The stored signature, converted as Dangerzone converts it for cosign.
    let sig_dir = std::fs::read_dir(data.join("signatures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let file = std::fs::read_dir(&sig_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let s = &list[0];
    let payload = tmp.path().join("payload");
    std::fs::write(
        &payload,
        base64::engine::general_purpose::STANDARD
            .decode(s["Payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let bundle = tmp.path().join("bundle.json");
    std::fs::write(
        &bundle,
        serde_json::to_vec(&serde_json::json!({"base64Signature": s["Base64Signature"], "cert": null, "rekorBundle": s["Bundle"]})).unwrap(),
    )
    .unwrap();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../latch/demo");
    let key = demo.join("DEMO-ONLY-signing-key.pub");
    let rekor = demo.join("DEMO-ONLY-rekor-key.pub");

    let run_latch = || {
        let t = Instant::now();
        let st = Command::new(latch)
            .args(["verify-local", "--profile", "demo", "--data-dir", &data_s])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        t.elapsed().as_secs_f64()
    };
    let run_cosign = || {
        let t = Instant::now();
        let st = peers
            .command("cosign")
            .args(["verify-blob", "--offline", "--key"])
            .arg(&key)
            .arg("--bundle")
            .arg(&bundle)
            .arg(&payload)
            .env("SIGSTORE_REKOR_PUBLIC_KEY", &rekor)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "cosign refused the stored signature");
        t.elapsed().as_secs_f64()
    };
    let (ml, mc) = alternate(rounds, &run_latch, &run_cosign);
    println!(
        "{rounds} rounds: latch verify-local (built-in store, manifests and config re-hashed, signature and SET verified) {:.2} ms; cosign verify-blob of the same signature {:.2} ms; cosign/latch {:.1}x",
        ml * 1000.0,
        mc * 1000.0,
        mc / ml
    );

    // With podman: Latch asks podman once, about its tag; Dangerzone lists every image
    // (`podman images --format json`) and then runs cosign per signature. A private
    // podman storage (vfs, in the temporary folder) so the machine's is left alone.
    if !latch_testkit::runs("podman") || !latch_testkit::is_root() {
        println!("podman: skipped (needs podman, as root)");
        return;
    }
    let store = tmp.path().join("podman");
    let conf = tmp.path().join("storage.conf");
    std::fs::write(
        &conf,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/root\"\nrunroot = \"{0}/run\"\n",
            store.display()
        ),
    )
    .unwrap();
    let pdata = tmp.path().join("pdata").display().to_string();
    let st = Command::new(latch)
        .args([
            "upgrade",
            "--profile",
            "demo",
            "--runtime",
            "podman",
            "--data-dir",
            &pdata,
        ])
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let run_latch_podman = || {
        let t = Instant::now();
        let st = Command::new(latch)
            .args([
                "verify-local",
                "--profile",
                "demo",
                "--runtime",
                "podman",
                "--data-dir",
                &pdata,
            ])
            .env("CONTAINERS_STORAGE_CONF", &conf)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        t.elapsed().as_secs_f64()
    };
    let run_dangerzone = || {
        let t = Instant::now();
        let st = Command::new("podman")
            .args(["images", "--format", "json"])
            .env("CONTAINERS_STORAGE_CONF", &conf)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        t.elapsed().as_secs_f64() + run_cosign()
    };
    let compare = |label: &str| {
        let (ml, md) = alternate(rounds, &run_latch_podman, &run_dangerzone);
        println!(
            "{rounds} rounds with podman, {label}: latch verify-local (one podman process, about its tag) {:.1} ms; Dangerzone's way (podman images + cosign verify-blob) {:.1} ms; dangerzone/latch {:.1}x",
            ml * 1000.0,
            md * 1000.0,
            md / ml
        );
    };
    compare("1 image in the storage");

    // Then with many other images on the machine (second argument, default 100): each a
    // distinct one-file image made by `podman import`.
    let extra: usize = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .nth(1)
        .unwrap_or(100);
    if extra == 0 {
        return;
    }
    for i in 0..extra {
        let mut b = tar::Builder::new(Vec::new());
        let body = format!("image {i}\n");
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("file-{i}"), body.as_bytes())
            .unwrap();
        let tarball = tmp.path().join("extra.tar");
        std::fs::write(&tarball, b.into_inner().unwrap()).unwrap();
        let st = Command::new("podman")
            .arg("import")
            .arg(&tarball)
            .arg(format!("localhost/other/image-{i}:latest"))
            .env("CONTAINERS_STORAGE_CONF", &conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "podman import");
    }
    compare(&format!("{} images in the storage", extra + 1));
}
