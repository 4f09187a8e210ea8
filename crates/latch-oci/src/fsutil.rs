//! Crash-safe file writes: a reader sees the old file or the new one, never a mix.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync,
/// rename over `path`, then fsync of the directory so the rename itself is durable.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically(path, bytes, false)
}

/// [`atomic_write`] for secrets: the file is readable by its owner only (mode 0600 on
/// Unix) from the moment it exists.
pub fn atomic_write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically(path, bytes, true)
}

/// Creates `path`, which must not exist, for writing; with `private`, readable by its
/// owner only from the moment it exists (mode 0600 on Unix). The one way Latch creates a
/// file that holds a secret (tokens, private keys).
///
/// On Windows, where there is no mode, the file is opened with `WRITE_DAC` and given a
/// protected access list granting its owner alone (`latch_winacl`); if that fails, the
/// file is removed and the error returned.
pub fn create_new(path: &Path, private: bool) -> io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    #[cfg(windows)]
    if private {
        use std::os::windows::fs::OpenOptionsExt as _;
        opts.access_mode(latch_winacl::PRIVATE_FILE_ACCESS);
    }
    let file = opts.open(path)?;
    if private && let Err(e) = latch_winacl::restrict_to_owner(&file) {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(file)
}

fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        unique_suffix()
    ));
    let result = (|| {
        let mut f = create_new(&tmp, private)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Renames `from` to `to` and makes the rename durable.
pub fn durable_rename(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    sync_dir(parent_dir(to))
}

/// Fsyncs a directory (a no-op where the platform cannot open directories).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    (nanos << 16) ^ COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_leaving_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    /// On Unix the probe reads the mode; on Windows the DACL (which Wine does not keep:
    /// it maps a DACL to mode bits and back, so an owner-only DACL cannot be observed
    /// there; `latch-winacl`'s own tests check the DACL built and its application).
    #[cfg(unix)]
    #[test]
    fn private_files_are_closed_to_others() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        atomic_write_private(&p, b"token").unwrap();
        assert!(!latch_winacl::others_have_access(&p).unwrap());
        let mut f = create_new(&dir.path().join("key"), true).unwrap();
        f.write_all(b"key").unwrap();
        drop(f);
        assert!(!latch_winacl::others_have_access(&dir.path().join("key")).unwrap());
        // The probe does see access by others.
        let open = dir.path().join("open");
        atomic_write(&open, b"x").unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(latch_winacl::others_have_access(&open).unwrap());
    }

    #[test]
    fn private_files_are_created_on_every_platform() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        atomic_write_private(&p, b"token").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"token");
        // Never over an existing file.
        assert_eq!(
            create_new(&p, true).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        atomic_write_private(&p, b"token").unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read(&p).unwrap(), b"token");
    }

    #[test]
    fn failure_leaves_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub");
        fs::create_dir(&p).unwrap();
        // Renaming a file over a non-empty directory fails; the directory stays.
        fs::write(p.join("x"), b"x").unwrap();
        assert!(atomic_write(&p, b"new").is_err());
        assert!(p.join("x").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
