//! Owner-only access for the files Latch writes secrets to (the registry token cache,
//! generated private keys), on Windows.
//!
//! On Unix a private file is created with mode 0600 (`latch_oci::fsutil::create_new`).
//! Windows has no mode: a new file inherits the access list (DACL) of its folder, and a
//! data directory chosen with `--data-dir` may let every user read it.
//! [`restrict_to_owner`] gives such a file a *protected* DACL (nothing inherited) with a
//! single entry: full control for the user the process runs as. The file must be opened
//! with [`PRIVATE_FILE_ACCESS`] (which includes `WRITE_DAC`).
//!
//! This is the one crate of Latch with `unsafe` code, and only on Windows: the Win32
//! security calls (`OpenProcessToken`, `GetTokenInformation`, `SetEntriesInAclW`,
//! `SetSecurityInfo`, `GetNamedSecurityInfoW`, `GetAce`) have no safe binding in the
//! dependency tree, and a crate of their own keeps `forbid(unsafe_code)` everywhere else.
//! Each call's preconditions are stated beside it. Elsewhere the crate is safe code only.
#![cfg_attr(not(windows), forbid(unsafe_code))]
#![cfg_attr(windows, deny(unsafe_op_in_unsafe_fn))]
#![warn(missing_docs)]

use std::fs::File;
use std::io;
use std::path::Path;

#[cfg(windows)]
mod windows;

/// The access a private file is opened with on Windows (`OpenOptionsExt::access_mode`):
/// `FILE_GENERIC_READ | FILE_GENERIC_WRITE | WRITE_DAC`, so that its DACL can be set
/// through the handle that created it.
pub const PRIVATE_FILE_ACCESS: u32 = 0x0012_0089 | 0x0012_0116 | 0x0004_0000;

/// Restricts `file` to the user this process runs as: a protected DACL with one entry
/// granting that user full control (Windows); nothing to do elsewhere (the mode was set
/// at creation).
pub fn restrict_to_owner(file: &File) -> io::Result<()> {
    #[cfg(windows)]
    {
        windows::restrict_to_owner(file)
    }
    #[cfg(not(windows))]
    {
        let _ = file;
        Ok(())
    }
}

/// Whether anyone but the owner may access `path`: on Windows, whether its DACL is
/// missing (everyone may) or has an entry allowing anything to Everyone (`S-1-1-0`) or
/// Users (`S-1-5-32-545`); on Unix, whether its group or others have any permission.
pub fn others_have_access(path: &Path) -> io::Result<bool> {
    #[cfg(windows)]
    {
        windows::others_have_access(path)
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        Ok(std::fs::metadata(path)?.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(any(windows, unix)))]
    {
        let _ = path;
        Ok(false)
    }
}
