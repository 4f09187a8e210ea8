//! `latch pull` against `skopeo copy` of the same image from the same local registry,
//! alternating, several rounds; prints wall time, peak RSS and the median ratio.
//!
//! cargo bench -p latch-cli --bench pull_vs_skopeo [-- ROUNDS [LAYER_MB]]
//!
//! The image has 3 layers of incompressible data (100 MB each by default), uncompressed
//! so that neither tool spends its time in gzip; skopeo runs with --preserve-digests so
//! that both do the same job (copy the bytes as they are, verified).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use latch_testkit::{ImageBuilder, Registry, Skopeo};

struct Run {
    seconds: f64,
    peak_rss_kib: u64,
}

/// Runs `cmd` under GNU time for its peak RSS.
fn measure(program: &str, args: &[String]) -> Run {
    let rss_file = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    let status = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(rss_file.path())
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run /usr/bin/time (Debian package `time`)");
    let seconds = start.elapsed().as_secs_f64();
    assert!(status.success(), "{program} {args:?} failed");
    let text = std::fs::read_to_string(rss_file.path()).unwrap();
    let peak_rss_kib = text
        .trim()
        .lines()
        .last()
        .unwrap_or("0")
        .trim()
        .parse()
        .unwrap_or(0);
    Run {
        seconds,
        peak_rss_kib,
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let rounds: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(5);
    let layer_mb: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);

    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut builder = ImageBuilder::new().seed(42);
    for _ in 0..3 {
        builder = builder.tar_layer(layer_mb * 1_000_000);
    }
    let img = builder.build(&tmp.path().join("src"), "v1");
    let image = reg.reference("bench/big:v1");
    img.push(&image);
    let total_mb = img.layers_size() as f64 / 1e6;
    let skopeo = Skopeo::system();
    let skopeo_bin = skopeo
        .command()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let latch_bin = env!("CARGO_BIN_EXE_latch");
    println!(
        "image: {} layers, {total_mb:.0} MB; {rounds} rounds, alternating; latch {}",
        img.layers.len(),
        latch_bin
    );

    let fresh = |name: &str, round: usize| -> String {
        let d = tmp.path().join(format!("{name}-{round}"));
        let _ = std::fs::remove_dir_all(&d);
        d.display().to_string()
    };
    let mut latch_t = Vec::new();
    let mut skopeo_t = Vec::new();
    let mut ratios = Vec::new();
    let mut latch_rss = 0;
    let mut skopeo_rss = 0;
    for round in 0..rounds {
        let order_latch_first = round % 2 == 0;
        let mut pair = [None, None];
        for turn in 0..2 {
            if (turn == 0) == order_latch_first {
                let dest = fresh("latch", round);
                let r = measure(
                    latch_bin,
                    &[
                        "pull".into(),
                        image.clone(),
                        "--to".into(),
                        format!("oci:{dest}:v1"),
                    ],
                );
                check(Path::new(&dest));
                pair[0] = Some(r);
                let _ = std::fs::remove_dir_all(&dest);
            } else {
                let dest = fresh("skopeo", round);
                let r = measure(
                    &skopeo_bin,
                    &[
                        "--insecure-policy".into(),
                        "copy".into(),
                        "--quiet".into(),
                        "--preserve-digests".into(),
                        "--src-tls-verify=false".into(),
                        format!("docker://{image}"),
                        format!("oci:{dest}:v1"),
                    ],
                );
                check(Path::new(&dest));
                pair[1] = Some(r);
                let _ = std::fs::remove_dir_all(&dest);
            }
        }
        let (l, s) = (pair[0].take().unwrap(), pair[1].take().unwrap());
        println!(
            "round {round}: latch {:.3} s ({} MiB), skopeo {:.3} s ({} MiB), ratio {:.2}",
            l.seconds,
            l.peak_rss_kib / 1024,
            s.seconds,
            s.peak_rss_kib / 1024,
            l.seconds / s.seconds
        );
        ratios.push(l.seconds / s.seconds);
        latch_t.push(l.seconds);
        skopeo_t.push(s.seconds);
        latch_rss = latch_rss.max(l.peak_rss_kib);
        skopeo_rss = skopeo_rss.max(s.peak_rss_kib);
    }
    let (ml, ms) = (median(&mut latch_t), median(&mut skopeo_t));
    println!(
        "median: latch {ml:.3} s ({:.0} MB/s), skopeo {ms:.3} s ({:.0} MB/s); median ratio latch/skopeo {:.2}; peak RSS latch {:.1} MiB, skopeo {:.1} MiB",
        total_mb / ml,
        total_mb / ms,
        median(&mut ratios),
        latch_rss as f64 / 1024.0,
        skopeo_rss as f64 / 1024.0
    );
}

/// Both copies must be complete images: index.json names one manifest.
fn check(dest: &Path) {
    let index = std::fs::read_to_string(dest.join("index.json")).expect("index.json written");
    assert!(index.contains("sha256:"), "{index}");
}
