//! Records the commit the binary is built from (`latch --version`, `latch version`):
//! `LATCH_COMMIT` from the environment (a package build without the repository), else
//! `git rev-parse` when the source is a git checkout, else `unknown`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LATCH_COMMIT");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // HEAD names the branch; logs/HEAD changes with every commit and checkout.
    for f in [".git/HEAD", ".git/logs/HEAD"] {
        let p = root.join(f);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    let commit = std::env::var("LATCH_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&root, &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=LATCH_BUILD_COMMIT={commit}");
    println!(
        "cargo:rustc-env=LATCH_BUILD_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=LATCH_BUILD_PROFILE={}",
        std::env::var("PROFILE").unwrap_or_default()
    );
}

fn git(root: &std::path::Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
