//! Fixtures: tool checks (fail in CI, skip elsewhere), an isolated podman, a private
//! dockerd.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latch_oci::Platform;
use latch_registry::{Client, ClientOptions};
use latch_runtime::{CliKind, CliRuntime, Runtime};
use tempfile::TempDir;

pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// `true` if `ok`; otherwise fails under CI=true and skips (returns `false`) elsewhere.
pub fn need(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if is_ci() {
        panic!("{what}; CI=true, so this test fails rather than skips");
    }
    eprintln!("skipping: {what}");
    false
}

/// Whether `program` runs (`program --version` exits zero).
pub fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

pub fn client() -> Client {
    Client::new(ClientOptions::default()).expect("a registry client")
}

pub fn host() -> Platform {
    Platform::host()
}

/// An OCI platform string for the testkit (`linux/amd64`).
pub fn host_str() -> String {
    host().to_string()
}

/// The platform of the multi-arch test images that is not the host's.
pub fn foreign_str() -> &'static str {
    if host().architecture == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    }
}

/// A podman with its own storage (vfs driver), run root and tmpdir (never the
/// machine's), so tests run in parallel and leave nothing behind.
pub struct IsolatedPodman {
    pub runtime: Runtime,
    _dir: TempDir,
}

impl IsolatedPodman {
    /// `None` (skipping) when podman is missing or we are not root.
    pub fn new() -> Option<IsolatedPodman> {
        if !need(
            runs("podman"),
            "podman is not installed (apt-get install podman)",
        ) || !need(
            is_root(),
            "podman tests run as root here (rootless needs subuids)",
        ) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("latch-podman-")
            .tempdir()
            .expect("a temporary directory");
        let p = |s: &str| -> OsString { dir.path().join(s).into_os_string() };
        let cli = CliRuntime::podman()
            .with_global_args([
                OsString::from("--root"),
                p("root"),
                OsString::from("--runroot"),
                p("run"),
                OsString::from("--tmpdir"),
                p("tmp"),
                // overlay bind-mounts <root>/overlay onto itself and leaves the mount
                // behind; vfs mounts nothing, so the directory can simply be removed.
                OsString::from("--storage-driver"),
                OsString::from("vfs"),
            ])
            .with_temp_dir(dir.path());
        Some(IsolatedPodman {
            runtime: Runtime::Podman(cli),
            _dir: dir,
        })
    }
}

/// A private Docker daemon (Debian's docker.io), started as DESIGN.md says, stopped by
/// its pid file when dropped.
pub struct Dockerd {
    dir: TempDir,
    child: Option<Child>,
}

impl Dockerd {
    /// `None` (skipping) when dockerd is missing or we are not root.
    pub fn start() -> Option<Dockerd> {
        if !need(
            Command::new("dockerd")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            "dockerd is not installed (apt-get install docker.io)",
        ) || !need(is_root(), "dockerd runs as root")
        {
            return None;
        }
        // Short path: containerd's socket under exec-root must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("ltd-")
            .tempdir_in("/tmp")
            .expect("a temporary directory");
        let d = dir.path();
        for sub in ["data", "exec", "config"] {
            std::fs::create_dir_all(d.join(sub)).expect("create dockerd directories");
        }
        let log = std::fs::File::create(d.join("dockerd.log")).expect("dockerd log");
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let mut me = Dockerd {
            dir,
            child: Some(child),
        };
        me.wait_ready();
        Some(me)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// A docker CLI (`program`) talking to this daemon, with its own config directory.
    pub fn cli(&self, program: &Path) -> CliRuntime {
        CliRuntime::new(CliKind::Docker, program)
            .with_env("DOCKER_HOST", self.host())
            .with_env("DOCKER_CONFIG", self.dir.path().join("config"))
            .with_temp_dir(self.dir.path())
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(c) = &mut self.child
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("dockerd exited ({status}):\n{}", self.log());
            }
            if ping(&self.socket()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer within 60 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn ping(sock: &Path) -> bool {
    let Ok(mut s) = UnixStream::connect(sock) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.") && out.contains(" 200 ")
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Stop it by its pid file (the daemon writes its own pid there).
        let pid = std::fs::read_to_string(self.dir.path().join("docker.pid"))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or_else(|| child.id().to_string());
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
    }
}
