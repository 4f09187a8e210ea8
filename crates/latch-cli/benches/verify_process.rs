//! The whole `latch verify-signatures` process on Dangerzone's 5 valid signature files,
//! against what Dangerzone runs for the same job: one `cosign verify-blob --offline
//! --bundle` process per signature, with the Rekor key pinned. Alternating rounds;
//! prints medians and the ratio.
//!
//! cargo bench -p latch-cli --bench verify_process [-- ROUNDS]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use base64::Engine as _;
use latch_testkit::{Peers, require_testdata};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let key_dir = std::fs::read_dir(dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut v: Vec<PathBuf> = std::fs::read_dir(key_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let td = require_testdata().expect("../shared/testdata is needed");
    let peers = Peers::get();
    let dz = td.join("dangerzone");
    let key = dz.join("test.pub.key");
    let rekor = dz.join("rekor.pub");
    let files = files(&dz.join("signatures/valid"));
    let tmp = tempfile::tempdir().unwrap();

    // Dangerzone's conversion: each signature becomes a payload file and a
    // LocalSignedPayload bundle for `cosign verify-blob`.
    let mut cosign_jobs = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        let list: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        for (si, s) in list.iter().enumerate() {
            let payload = base64::engine::general_purpose::STANDARD
                .decode(s["Payload"].as_str().unwrap())
                .unwrap();
            let p = tmp.path().join(format!("{fi}-{si}.payload"));
            let b = tmp.path().join(format!("{fi}-{si}.bundle"));
            std::fs::write(&p, payload).unwrap();
            let bundle = serde_json::json!({
                "base64Signature": s["Base64Signature"], "cert": null, "rekorBundle": s["Bundle"],
            });
            std::fs::write(&b, serde_json::to_vec(&bundle).unwrap()).unwrap();
            cosign_jobs.push((p, b));
        }
    }
    let latch_bin = env!("CARGO_BIN_EXE_latch");
    let run_latch = || {
        let start = Instant::now();
        for f in &files {
            let digest = format!("sha256:{}", f.file_stem().unwrap().to_str().unwrap());
            let st = Command::new(latch_bin)
                .args(["verify-signatures", "--key"])
                .arg(&key)
                .arg("--rekor-key")
                .arg(&rekor)
                .args(["--digest", &digest])
                .arg(f)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "{}", f.display());
        }
        start.elapsed().as_secs_f64()
    };
    let run_cosign = || {
        let start = Instant::now();
        for (p, b) in &cosign_jobs {
            let st = peers
                .command("cosign")
                .args(["verify-blob", "--offline", "--key"])
                .arg(&key)
                .arg("--bundle")
                .arg(b)
                .arg(p)
                .env("SIGSTORE_REKOR_PUBLIC_KEY", &rekor)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "cosign refused {}", b.display());
        }
        start.elapsed().as_secs_f64()
    };
    // Warm both (page cache, dynamic loader).
    run_latch();
    run_cosign();
    let (mut l, mut c, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = run_latch();
            (a, run_cosign())
        } else {
            let b = run_cosign();
            (run_latch(), b)
        };
        l.push(a);
        c.push(b);
        ratios.push(b / a);
    }
    let (ml, mc) = (median(&mut l), median(&mut c));
    println!(
        "{} files, {} signatures, {rounds} rounds: latch {:.2} ms per file ({:.1} ms for all), cosign verify-blob {:.2} ms per signature ({:.1} ms for all); cosign/latch {:.1}x",
        files.len(),
        cosign_jobs.len(),
        ml * 1000.0 / files.len() as f64,
        ml * 1000.0,
        mc * 1000.0 / cosign_jobs.len() as f64,
        mc * 1000.0,
        median(&mut ratios)
    );
}
