//! `latch diff --semantic` against `diffoscope` on the same two docker-archives, in the
//! same run; prints wall times, their ratio and both peak RSS.
//!
//! cargo bench -p latch-cli --bench diff_vs_diffoscope [-- LATCH_ROUNDS [TOTAL_MB [TIMEOUT_S]]]
//!
//! The two images hold the same files (3 layers of 100 files each, incompressible, about
//! 300 MB in all) and differ only in time: every tar entry's mtime, the config's
//! `created` and history. diffoscope (Debian package `diffoscope-minimal`) runs once
//! under `timeout`; if it does not finish, the ratio printed is a lower bound.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use latch::oci::{Digest, Hasher};
use latch_testkit::RandomReader;

const LAYERS: usize = 3;
const FILES_PER_LAYER: usize = 100;

struct Run {
    seconds: f64,
    peak_rss_kib: u64,
    code: Option<i32>,
}

/// Runs `program args` under GNU time (for peak RSS), optionally under `timeout`.
fn measure(program: &str, args: &[String], timeout_s: Option<u64>) -> Run {
    let rss_file = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%M").arg("-o").arg(rss_file.path());
    if let Some(t) = timeout_s {
        cmd.arg("timeout").arg(t.to_string());
    }
    let start = Instant::now();
    let status = cmd
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run /usr/bin/time (Debian package `time`)");
    let seconds = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(rss_file.path()).unwrap_or_default();
    let peak_rss_kib = text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .last()
        .unwrap_or(0);
    Run {
        seconds,
        peak_rss_kib,
        code: status.code(),
    }
}

struct HashWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hw<W: Write>(inner: W) -> HashWriter<W> {
    HashWriter {
        inner,
        hasher: latch::oci::Algorithm::Sha256.hasher(),
        count: 0,
    }
}

/// One build: the same files every time; `epoch` sets every mtime. Written as a
/// docker-archive (uncompressed layer tars, as `docker save` writes them) whose member
/// names do not depend on the content (`N/layer.tar`, `config.json`), so that diffoscope
/// pairs the layers of the two archives by name and compares what they hold. (With
/// digest-named members, as in an oci-archive, diffoscope pairs nothing and only lists
/// the members.)
fn build(dir: &Path, archive: &Path, epoch: u64, file_size: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut diff_ids = Vec::new();
    let mut layer_files = Vec::new();
    for l in 0..LAYERS {
        let path = dir.join(format!("layer-{l}.tar"));
        let out = hw(BufWriter::with_capacity(1 << 20, File::create(&path).unwrap()));
        let mut tar = tar::Builder::new(out);
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(epoch);
        h.set_cksum();
        tar.append_data(&mut h, format!("opt/layer{l}/"), io::empty())
            .unwrap();
        for i in 0..FILES_PER_LAYER {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(file_size);
            h.set_mtime(epoch + i as u64);
            h.set_cksum();
            let seed = (l * 100_000 + i) as u64;
            tar.append_data(
                &mut h,
                format!("opt/layer{l}/file-{i:04}.bin"),
                RandomReader::new(seed, file_size),
            )
            .unwrap();
        }
        let out = tar.into_inner().unwrap();
        diff_ids.push(out.hasher.finish());
        out.inner.into_inner().unwrap().sync_all().unwrap();
        layer_files.push(path);
    }
    // A distinct creation time per build (its format does not matter here).
    let created = format!("{epoch}");
    let config = serde_json::json!({
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(Digest::to_string).collect::<Vec<_>>()},
        "history": (0..LAYERS).map(|l| serde_json::json!({"created": created, "created_by": format!("COPY layer {l}")})).collect::<Vec<_>>(),
    });
    let config = serde_json::to_vec(&config).unwrap();
    let layers: Vec<String> = (0..LAYERS).map(|l| format!("{l}/layer.tar")).collect();
    let manifest = serde_json::json!([{
        "Config": "config.json",
        "RepoTags": ["bench/app:v1"],
        "Layers": layers,
    }]);
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let mut t = tar::Builder::new(BufWriter::with_capacity(
        1 << 20,
        File::create(archive).unwrap(),
    ));
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(epoch);
        h.set_cksum();
        t.append_data(&mut h, name, data).unwrap();
    };
    add("config.json", &config);
    add("manifest.json", &manifest);
    for (name, path) in layers.iter().zip(&layer_files) {
        t.append_path_with_name(path, name).unwrap();
    }
    t.into_inner().unwrap().flush().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
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
    let rounds: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(3);
    let total_mb: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let timeout_s: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1200);
    let file_size = total_mb * 1_000_000 / (LAYERS * FILES_PER_LAYER) as u64;

    // DIFF_BENCH_DIR keeps the archives (and reuses them if present) for a look.
    let tmp = tempfile::tempdir().unwrap();
    let work = std::env::var_os("DIFF_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&work).unwrap();
    let a = work.join(format!("a-{total_mb}.docker.tar"));
    let b = work.join(format!("b-{total_mb}.docker.tar"));
    if !a.exists() {
        build(&work.join("la"), &a, 1_700_000_000, file_size);
    }
    if !b.exists() {
        build(&work.join("lb"), &b, 1_750_000_000, file_size);
    }
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    println!(
        "docker-archives: {:.0} MB and {:.0} MB ({LAYERS} layers x {FILES_PER_LAYER} files of {file_size} B); same files, different mtimes and config times",
        size(&a),
        size(&b)
    );
    let latch_bin = env!("CARGO_BIN_EXE_latch");
    let latch_args: Vec<String> = vec![
        "diff".into(),
        "--semantic".into(),
        format!("docker-archive:{}", a.display()),
        format!("docker-archive:{}", b.display()),
    ];
    println!("latch: {latch_bin} {}", latch_args.join(" "));
    let mut times = Vec::new();
    let mut latch_rss = 0;
    for round in 0..rounds {
        let r = measure(latch_bin, &latch_args, None);
        assert_eq!(r.code, Some(0), "latch diff must find the images equal");
        println!(
            "round {round}: latch {:.3} s, {:.1} MiB",
            r.seconds,
            r.peak_rss_kib as f64 / 1024.0
        );
        times.push(r.seconds);
        latch_rss = latch_rss.max(r.peak_rss_kib);
    }
    let latch_t = median(&mut times);

    let diffoscope = Command::new("diffoscope").arg("--version").output();
    let Ok(version) = diffoscope else {
        println!("diffoscope not installed (apt-get install diffoscope-minimal): no ratio");
        return;
    };
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let d_args: Vec<String> = vec![
        "--text".into(),
        "/dev/null".into(),
        a.display().to_string(),
        b.display().to_string(),
    ];
    println!(
        "{version}: timeout {timeout_s} diffoscope {}",
        d_args.join(" ")
    );
    let d = measure("diffoscope", &d_args, Some(timeout_s));
    let timed_out = d.code == Some(124);
    println!(
        "diffoscope: {:.1} s{} (exit {:?}), {:.1} MiB",
        d.seconds,
        if timed_out {
            " (killed at the timeout)"
        } else {
            ""
        },
        d.code,
        d.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "median latch {:.3} s, diffoscope {:.1} s: latch is {}{:.0}x faster; peak RSS latch {:.1} MiB, diffoscope {:.1} MiB",
        latch_t,
        d.seconds,
        if timed_out { "at least " } else { "" },
        d.seconds / latch_t,
        latch_rss as f64 / 1024.0,
        d.peak_rss_kib as f64 / 1024.0
    );
}
