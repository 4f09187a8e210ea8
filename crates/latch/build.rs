//! Embeds the demo (crates/latch/demo: a small signed image in an OCI layout and its
//! DEMO-ONLY public keys) so that `latch demo` runs offline on a fresh machine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let demo = manifest_dir.join("demo");
    println!("cargo:rerun-if-changed=demo");
    let mut files = Vec::new();
    walk(&demo.join("layout"), &mut files);
    let mut code = String::from(
        "/// The demo layout's files: (path relative to the layout, bytes).\npub const DEMO_LAYOUT: &[(&str, &[u8])] = &[\n",
    );
    for f in &files {
        let rel = f.strip_prefix(demo.join("layout")).unwrap_or(f);
        let _ = writeln!(
            code,
            "    ({:?}, include_bytes!({:?})),",
            rel.to_string_lossy(),
            f.display().to_string()
        );
    }
    code.push_str("];\n");
    for (name, file) in [
        ("DEMO_SIGNING_KEY", "DEMO-ONLY-signing-key.pub"),
        ("DEMO_REKOR_KEY", "DEMO-ONLY-rekor-key.pub"),
    ] {
        let p = demo.join(file);
        if p.exists() {
            let _ = writeln!(
                code,
                "/// `demo/{file}`.\npub const {name}: &str = include_str!({:?});",
                p.display().to_string()
            );
        } else {
            let _ = writeln!(
                code,
                "/// `demo/{file}` (absent).\npub const {name}: &str = \"\";"
            );
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("demo_files.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
