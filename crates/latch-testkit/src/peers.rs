//! The sigstore-capable peers: cosign 2.5, oras 1.2 and skopeo 1.18, unpacked from
//! Debian 13's packages by `<shared>/tools/peer-tools.sh` into `<target>/peer-tools`.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::cmd::run;
use crate::skopeo::Skopeo;

/// Where the peer tools are. Obtain with [`Peers::get`] or [`Peers::require`].
#[derive(Debug)]
pub struct Peers {
    dir: PathBuf,
}

static PEERS: OnceLock<Peers> = OnceLock::new();

impl Peers {
    /// Runs the peer-tools script once per process (idempotent, and serialised between
    /// processes by a lock file) and returns the tools. Panics if the script is missing
    /// or fails.
    pub fn get() -> &'static Peers {
        PEERS.get_or_init(|| {
            let script = crate::paths::shared_dir().join("tools/peer-tools.sh");
            assert!(
                script.is_file(),
                "{} is missing (set LATCH_SHARED to the shared directory)",
                script.display()
            );
            install(&script, &crate::paths::target_dir().join("peer-tools"))
        })
    }

    /// Like [`Peers::get`], but following the rule for shared material: if the script is
    /// missing, panic in CI and return `None` (with a message) elsewhere.
    pub fn require() -> Option<&'static Peers> {
        crate::paths::require_shared_file("tools/peer-tools.sh")?;
        Some(Peers::get())
    }

    /// The install directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of the wrappers (put it first on `PATH`).
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// cosign 2.5.
    pub fn cosign(&self) -> PathBuf {
        self.bin_dir().join("cosign")
    }

    /// skopeo 1.18 (built with sigstore).
    pub fn skopeo(&self) -> PathBuf {
        self.bin_dir().join("skopeo")
    }

    /// oras 1.2.
    pub fn oras(&self) -> PathBuf {
        self.bin_dir().join("oras")
    }

    /// A command running cosign 3 (Debian sid's; cosign 2.5 cannot find a v3 image
    /// signature with `verify`), unpacked by the repository's `scripts/cosign3` into
    /// `<target>/peer-tools-sid` on first use.
    pub fn cosign3(&self) -> Command {
        static SID: OnceLock<PathBuf> = OnceLock::new();
        let dir = SID.get_or_init(|| {
            let script = crate::paths::workspace_dir().join("scripts/cosign3");
            let dir = crate::paths::target_dir().join("peer-tools-sid");
            drop(run_script_locked(&script, &dir));
            dir
        });
        Command::new(dir.join("bin/cosign3"))
    }

    /// The peer skopeo as a [`Skopeo`].
    pub fn skopeo_tool(&self) -> Skopeo {
        Skopeo::at(self.skopeo())
    }

    /// A command for `tool` (`"cosign"`, `"skopeo"`, `"oras"`) with the peers first on
    /// `PATH`.
    pub fn command(&self, tool: &str) -> Command {
        let mut c = Command::new(self.bin_dir().join(tool));
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.bin_dir()];
        dirs.extend(std::env::split_paths(&path));
        c.env(
            "PATH",
            std::env::join_paths(dirs).expect("PATH entries without separators"),
        );
        c
    }

    /// Runs `tool args…` with extra environment (e.g. `COSIGN_PASSWORD`) and returns its
    /// stdout; panics with its stderr if it fails.
    pub fn run<I, S>(&self, tool: &str, args: I, env: &[(&str, &str)]) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.command(tool);
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    }
}

/// Runs `sh script dir` holding `dir.lock` (other test processes installing the same
/// tools wait), and returns the held lock.
fn run_script_locked(script: &Path, dir: &Path) -> std::fs::File {
    let lock_path = dir.with_extension("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));
    run(Command::new("sh").arg(script).arg(dir));
    lock
}

fn install(script: &Path, dir: &Path) -> Peers {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let lock = run_script_locked(script, dir);
    let peers = Peers {
        dir: dir.to_owned(),
    };
    for tool in [peers.cosign(), peers.skopeo(), peers.oras()] {
        assert!(
            tool.exists(),
            "{} ran but {} is missing",
            script.display(),
            tool.display()
        );
    }
    drop(lock);
    peers
}
