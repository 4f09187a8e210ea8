//! skopeo, the independent client: pushes test images, reads what Latch pushed.

use std::path::{Path, PathBuf};
use std::process::Command;

use latch_oci::Digest;

use crate::cmd::{describe, run};

/// A skopeo binary and the credentials to use with it.
///
/// Every command runs with `--insecure-policy` (no `policy.json` needed) and, for registry
/// references, TLS verification off (loopback registries speak plain HTTP).
#[derive(Debug, Clone)]
pub struct Skopeo {
    program: PathBuf,
    creds: Option<String>,
}

impl Skopeo {
    /// Debian's skopeo (1.9, sigstore disabled): `$LATCH_SKOPEO`, else `skopeo` on `PATH`.
    pub fn system() -> Skopeo {
        Skopeo::at(
            std::env::var_os("LATCH_SKOPEO")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("skopeo")),
        )
    }

    /// The peer skopeo 1.18 with sigstore support (see [`crate::Peers`]).
    pub fn peer() -> Skopeo {
        Skopeo::at(crate::Peers::get().skopeo())
    }

    /// A skopeo at `program`.
    pub fn at(program: impl Into<PathBuf>) -> Skopeo {
        Skopeo {
            program: program.into(),
            creds: None,
        }
    }

    /// Use these credentials for the registry (source or destination alike).
    pub fn creds(mut self, user: &str, password: &str) -> Skopeo {
        self.creds = Some(format!("{user}:{password}"));
        self
    }

    /// The program.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// A command `skopeo --insecure-policy` to add a subcommand and arguments to.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.arg("--insecure-policy");
        c
    }

    /// `skopeo --version`.
    pub fn version(&self) -> String {
        run(Command::new(&self.program).arg("--version"))
            .trim()
            .to_owned()
    }

    /// Copies `oci:<layout_dir>:<tag>` to `docker://<dest>` with `--all` and
    /// `--preserve-digests`, and checks that the registry received a manifest with the
    /// `expected` digest (skopeo writes it to a `--digestfile`). Returns the digest.
    pub fn push_layout(
        &self,
        layout_dir: &Path,
        tag: &str,
        dest: &str,
        expected: &Digest,
    ) -> Digest {
        let digest_file = tempfile::NamedTempFile::new().expect("a temporary digest file");
        let mut c = self.command();
        c.args(["copy", "--quiet", "--all", "--preserve-digests"])
            .arg("--dest-tls-verify=false")
            .arg("--digestfile")
            .arg(digest_file.path());
        if let Some(creds) = &self.creds {
            c.arg("--dest-creds").arg(creds);
        }
        c.arg(format!("oci:{}:{tag}", layout_dir.display()))
            .arg(format!("docker://{dest}"));
        let line = describe(&c);
        run(&mut c);
        let text = std::fs::read_to_string(digest_file.path()).expect("read skopeo's digest file");
        let got = Digest::parse(text.trim())
            .unwrap_or_else(|e| panic!("`{line}` wrote a bad digest {text:?}: {e}"));
        assert_eq!(
            &got, expected,
            "`{line}` pushed a manifest other than the one built (skopeo converted it)"
        );
        got
    }

    /// The exact manifest bytes that `docker://<image>` serves (`skopeo inspect --raw`).
    pub fn inspect_raw(&self, image: &str) -> Vec<u8> {
        let mut c = self.command();
        c.args(["inspect", "--raw", "--tls-verify=false"]);
        if let Some(creds) = &self.creds {
            c.arg("--creds").arg(creds);
        }
        c.arg(format!("docker://{image}"));
        let line = describe(&c);
        let out = c
            .output()
            .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"));
        assert!(
            out.status.success(),
            "`{line}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// `skopeo inspect` (the JSON summary) of `docker://<image>`.
    pub fn inspect(&self, image: &str) -> serde_json::Value {
        let mut c = self.command();
        c.args(["inspect", "--tls-verify=false"]);
        if let Some(creds) = &self.creds {
            c.arg("--creds").arg(creds);
        }
        c.arg(format!("docker://{image}"));
        let out = run(&mut c);
        serde_json::from_str(&out).expect("skopeo inspect prints JSON")
    }

    /// Copies `docker://<image>` (all platforms) into the OCI layout `dir`, named `tag`.
    pub fn pull_to_layout(&self, image: &str, dir: &Path, tag: &str) {
        let mut c = self.command();
        c.args(["copy", "--quiet", "--all", "--preserve-digests"])
            .arg("--src-tls-verify=false");
        if let Some(creds) = &self.creds {
            c.arg("--src-creds").arg(creds);
        }
        c.arg(format!("docker://{image}"))
            .arg(format!("oci:{}:{tag}", dir.display()));
        run(&mut c);
    }
}

/// Pushes the image named `tag` in the OCI layout at `layout_dir` to `dest`
/// (`127.0.0.1:PORT/repo:tag`) with Debian's skopeo, and returns its digest (the digest
/// of the manifest in the layout, checked against what skopeo reports).
pub fn push_with_skopeo(layout_dir: &Path, tag: &str, dest: &str) -> Digest {
    let layout = latch_oci::OciLayout::open(layout_dir).expect("an OCI layout");
    let d = layout
        .resolve(Some(tag))
        .unwrap_or_else(|e| panic!("{}: {e}", layout_dir.display()));
    Skopeo::system().push_layout(layout_dir, tag, dest, &d.digest)
}
