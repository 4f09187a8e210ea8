//! `latch diff --semantic` against `diffoscope` on the same two docker-archives, in the
//! same run; prints wall times, their ratio and both peak RSS.
//!
//! cargo bench -p latch-cli --bench diff_vs_diffoscope [-- LATCH_ROUNDS [TOTAL_MB [TIMEOUT_S [mixed|large]]]]
//!
//! The two images hold the same files and differ only in time: every tar entry's mtime,
//! the config's `created` and history. `mixed` (the default, like a real image): 3 layers
//! of 8,000 files of 4 kB, 1,200 of 80 kB and 172 of 1 MB, incompressible, about 300 MB
//! in all. `large`: 3 layers of 100 files of 1 MB, the case least favourable to Latch
//! (diffoscope's cost is per file, Latch's per byte). diffoscope (Debian package
//! `diffoscope-minimal`) runs once under `timeout`; if it does not finish, the ratio
//! printed is a lower bound.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use latch::oci::{Digest, Hasher};
use latch_testkit::RandomReader;

/// `mixed`: the layers as a real image's, many small files (an OS), fewer mid-sized ones
/// (libraries), a few large ones (models, fonts, binaries): (files, bytes each) at
/// 300 MB, scaled to the size asked for. 9,372 files in all.
const MIXED: [(usize, u64); 3] = [(8_000, 4_000), (1_200, 80_000), (172, 1_000_000)];
/// Few large files: 3 layers of 100 files of 1 MB.
const LARGE: [(usize, u64); 3] = [(100, 1_000_000), (100, 1_000_000), (100, 1_000_000)];

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
        .rev()
        .find_map(|l| l.trim().parse().ok())
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
fn build(dir: &Path, archive: &Path, epoch: u64, layers_spec: &[(usize, u64)], scale: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut diff_ids = Vec::new();
    let mut layer_files = Vec::new();
    for (l, (files, size)) in layers_spec.iter().enumerate() {
        let file_size = (*size as f64 * scale) as u64;
        let path = dir.join(format!("layer-{l}.tar"));
        let out = hw(BufWriter::with_capacity(
            1 << 20,
            File::create(&path).unwrap(),
        ));
        let mut tar = tar::Builder::new(out);
        for i in 0..*files {
            if i % 100 == 0 {
                let mut h = tar::Header::new_ustar();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_mtime(epoch);
                h.set_cksum();
                tar.append_data(
                    &mut h,
                    format!("opt/layer{l}/d{:03}/", i / 100),
                    io::empty(),
                )
                .unwrap();
            }
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(file_size);
            h.set_mtime(epoch + i as u64);
            h.set_cksum();
            let seed = (l * 100_000 + i) as u64;
            tar.append_data(
                &mut h,
                format!("opt/layer{l}/d{:03}/file-{i:05}.bin", i / 100),
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
        "history": (0..layers_spec.len()).map(|l| serde_json::json!({"created": created, "created_by": format!("COPY layer {l}")})).collect::<Vec<_>>(),
    });
    let config = serde_json::to_vec(&config).unwrap();
    let layers: Vec<String> = (0..layers_spec.len())
        .map(|l| format!("{l}/layer.tar"))
        .collect();
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
    let profile = args.get(3).map(String::as_str).unwrap_or("mixed");
    let spec: &[(usize, u64)] = match profile {
        "large" => &LARGE,
        _ => &MIXED,
    };
    let scale = total_mb as f64 / 300.0;

    // DIFF_BENCH_DIR keeps the archives (and reuses them if present) for a look.
    let tmp = tempfile::tempdir().unwrap();
    let work = std::env::var_os("DIFF_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&work).unwrap();
    let a = work.join(format!("a-{profile}-{total_mb}.docker.tar"));
    let b = work.join(format!("b-{profile}-{total_mb}.docker.tar"));
    if !a.exists() {
        build(&work.join("la"), &a, 1_700_000_000, spec, scale);
    }
    if !b.exists() {
        build(&work.join("lb"), &b, 1_750_000_000, spec, scale);
    }
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    println!(
        "docker-archives: {:.0} MB and {:.0} MB (3 layers, {} files from {} B to {} B); same files, different mtimes and config times",
        size(&a),
        size(&b),
        spec.iter().map(|l| l.0).sum::<usize>(),
        (spec[0].1 as f64 * scale) as u64,
        (spec[2].1 as f64 * scale) as u64,
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
