//! Container engines for tests: a podman with its own storage, a private dockerd, and
//! the rule for tools a test needs (fail in CI, skip elsewhere).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::paths::is_ci;

/// `true` if `ok`; otherwise panics under `CI=true` and returns `false` (skip, with a
/// message saying `what`) elsewhere.
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

/// Whether `program --version` runs and exits zero.
pub fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this process runs as root (podman and dockerd tests need it here).
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

/// Storage for a podman of its own (vfs driver, its own root, run root and tmpdir), so
/// tests never touch the machine's store, run in parallel and leave nothing behind.
pub struct PodmanStorage {
    dir: TempDir,
}

impl PodmanStorage {
    /// `None` (skipping) when podman is missing or this is not root.
    pub fn new() -> Option<PodmanStorage> {
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
        Some(PodmanStorage { dir })
    }

    /// The directory holding it all.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The global flags that point podman at this storage.
    pub fn global_args(&self) -> Vec<OsString> {
        let p = |s: &str| -> OsString { self.dir.path().join(s).into_os_string() };
        vec![
            "--root".into(),
            p("root"),
            "--runroot".into(),
            p("run"),
            "--tmpdir".into(),
            p("tmp"),
            // overlay bind-mounts <root>/overlay onto itself and leaves the mount behind;
            // vfs mounts nothing, so the directory can simply be removed.
            "--storage-driver".into(),
            "vfs".into(),
        ]
    }
}

/// A private Docker daemon (Debian's docker.io), started as DESIGN.md says, stopped by
/// its pid file when dropped.
pub struct Dockerd {
    dir: TempDir,
    child: Option<Child>,
}

impl Dockerd {
    /// `None` (skipping) when dockerd is missing or this is not root (or not Unix).
    pub fn start() -> Option<Dockerd> {
        if !need(cfg!(unix), "a private dockerd is a Linux test fixture")
            || !need(
                Command::new("dockerd")
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success()),
                "dockerd is not installed (apt-get install docker.io)",
            )
            || !need(is_root(), "dockerd runs as root")
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

    /// Its directory (state, sockets, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// `DOCKER_HOST` for a CLI talking to it.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// A `DOCKER_CONFIG` directory of its own.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// What the daemon logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
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

/// Whether the daemon answers `/_ping` on its Unix socket (a private dockerd is a Linux
/// fixture: elsewhere it never starts, see [`Dockerd::start`]).
#[cfg(unix)]
fn ping(sock: &Path) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(sock) else {
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

#[cfg(not(unix))]
fn ping(_sock: &Path) -> bool {
    false
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
