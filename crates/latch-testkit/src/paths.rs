//! Where the workspace, its target directory and the shared test material are.

use std::path::{Path, PathBuf};

/// The environment variable that overrides where `shared/` is.
pub const SHARED_ENV: &str = "LATCH_SHARED";

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here
        .parent()
        .and_then(Path::parent)
        .expect("latch-testkit lives at <workspace>/crates/latch-testkit");
    root.canonicalize().unwrap_or_else(|_| root.to_owned())
}

/// The cargo target directory: `$CARGO_TARGET_DIR` (a relative one is taken from the
/// workspace root) or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_dir().join(d)
            }
        }
        _ => workspace_dir().join("target"),
    }
}

/// The shared directory beside the project: `$LATCH_SHARED`, else `<workspace>/../shared`.
/// It may not exist; see [`require_testdata`].
pub fn shared_dir() -> PathBuf {
    match std::env::var_os(SHARED_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => workspace_dir()
            .parent()
            .map(|p| p.join("shared"))
            .unwrap_or_else(|| PathBuf::from("../shared")),
    }
}

/// `<shared>/testdata` (it may not exist; see [`require_testdata`]).
pub fn testdata_dir() -> PathBuf {
    shared_dir().join("testdata")
}

/// The test vectors directory, following the rule of `shared/testdata/README.md`: if it is
/// missing, panic when `CI=true` (a test that needs it must fail in CI), else print why
/// the test is skipped and return `None`.
///
/// ```no_run
/// let Some(testdata) = latch_testkit::require_testdata() else { return };
/// # let _ = testdata;
/// ```
pub fn require_testdata() -> Option<PathBuf> {
    require_shared_file("testdata")
}

/// Like [`require_testdata`] for any path under the shared directory (for instance
/// `tools/peer-tools.sh`).
pub fn require_shared_file(relative: &str) -> Option<PathBuf> {
    require_in(&shared_dir().join(relative), is_ci())
}

/// Whether the environment says this is CI (`CI=true`, as GitHub and our CI set it).
pub(crate) fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The rule itself, with the path and the CI flag given (so it can be unit tested).
pub(crate) fn require_in(path: &Path, ci: bool) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_owned());
    }
    let why = format!(
        "{} is missing (the shared test material; set {SHARED_ENV} to the shared directory)",
        path.display()
    );
    if ci {
        panic!("{why}; CI=true, so a test that needs it fails rather than skips");
    }
    eprintln!("skipping: {why}");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_path_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(require_in(dir.path(), true), Some(dir.path().to_owned()));
        assert_eq!(require_in(dir.path(), false), Some(dir.path().to_owned()));
    }

    #[test]
    fn missing_path_skips_outside_ci() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(require_in(&dir.path().join("absent"), false), None);
    }

    #[test]
    #[should_panic(expected = "CI=true")]
    fn missing_path_fails_in_ci() {
        let dir = tempfile::tempdir().unwrap();
        require_in(&dir.path().join("absent"), true);
    }

    #[test]
    fn workspace_layout() {
        let ws = workspace_dir();
        assert!(ws.join("Cargo.toml").is_file(), "{}", ws.display());
        assert!(ws.join("crates/latch-testkit").is_dir());
    }
}
