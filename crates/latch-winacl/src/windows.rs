//! The Win32 calls behind [`crate::restrict_to_owner`] and [`crate::others_have_access`].

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt as _;
use std::os::windows::io::AsRawHandle as _;
use std::path::Path;
use std::ptr;

use windows_sys::Win32::Foundation::{CloseHandle, ERROR_SUCCESS, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    EXPLICIT_ACCESS_W, GetNamedSecurityInfoW, NO_MULTIPLE_TRUSTEE, SE_FILE_OBJECT, SET_ACCESS,
    SetEntriesInAclW, SetSecurityInfo, TRUSTEE_IS_SID, TRUSTEE_IS_USER, TRUSTEE_W,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACL, ACL_SIZE_INFORMATION, AclSizeInformation, CreateWellKnownSid,
    DACL_SECURITY_INFORMATION, EqualSid, GetAce, GetAclInformation, GetLengthSid,
    GetTokenInformation, NO_INHERITANCE, PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    PSID, SECURITY_MAX_SID_SIZE, TOKEN_QUERY, TokenUser, WinBuiltinUsersSid, WinWorldSid,
};
use windows_sys::Win32::Storage::FileSystem::FILE_ALL_ACCESS;
use windows_sys::Win32::System::SystemServices::ACCESS_ALLOWED_ACE_TYPE;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// Bound on the `TOKEN_USER` buffer (a SID is at most 68 bytes).
const TOKEN_USER_BYTES: usize = 256;

fn win32(code: u32) -> io::Error {
    io::Error::from_raw_os_error(code as i32)
}

/// A `LocalAlloc`ed pointer freed on drop.
struct Local(*mut c_void);

impl Drop for Local {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from an API documented to allocate it with
            // LocalAlloc (SetEntriesInAclW, GetNamedSecurityInfoW) and is freed once.
            unsafe { LocalFree(self.0) };
        }
    }
}

/// The process's access token, closed on drop.
struct Token(HANDLE);

impl Drop for Token {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by OpenProcessToken and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}

/// The SID of the user the process runs as, in a buffer that holds the `TOKEN_USER`.
fn current_user() -> io::Result<(Vec<u64>, PSID)> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing;
    // `token` is a valid place for the opened handle.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = Token(token);
    // u64 elements: the buffer is aligned for TOKEN_USER (pointer alignment).
    let mut buf = vec![0u64; TOKEN_USER_BYTES / 8];
    let mut needed = 0u32;
    // SAFETY: `buf` is writable for TOKEN_USER_BYTES bytes, the length passed.
    let ok = unsafe {
        GetTokenInformation(
            token.0,
            TokenUser,
            buf.as_mut_ptr().cast(),
            TOKEN_USER_BYTES as u32,
            &mut needed,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER whose SID points inside it;
    // the buffer is returned with the pointer, so the SID outlives every use of it.
    let sid = unsafe {
        (*buf
            .as_ptr()
            .cast::<windows_sys::Win32::Security::TOKEN_USER>())
        .User
        .Sid
    };
    Ok((buf, sid))
}

/// A DACL with one entry: full control for `sid`, not inherited by anything.
fn owner_only_acl(sid: PSID) -> io::Result<Local> {
    let entry = EXPLICIT_ACCESS_W {
        grfAccessPermissions: FILE_ALL_ACCESS,
        grfAccessMode: SET_ACCESS,
        grfInheritance: NO_INHERITANCE,
        Trustee: TRUSTEE_W {
            pMultipleTrustee: ptr::null_mut(),
            MultipleTrusteeOperation: NO_MULTIPLE_TRUSTEE,
            TrusteeForm: TRUSTEE_IS_SID,
            TrusteeType: TRUSTEE_IS_USER,
            ptstrName: sid.cast(),
        },
    };
    let mut acl: *mut ACL = ptr::null_mut();
    // SAFETY: one valid EXPLICIT_ACCESS_W whose SID outlives the call; no old ACL; `acl`
    // receives a LocalAlloc'ed ACL, freed by `Local`.
    let code = unsafe { SetEntriesInAclW(1, &entry, ptr::null(), &mut acl) };
    if code != ERROR_SUCCESS {
        return Err(win32(code));
    }
    Ok(Local(acl.cast()))
}

pub(crate) fn restrict_to_owner(file: &File) -> io::Result<()> {
    let (_user, sid) = current_user()?;
    let acl = owner_only_acl(sid)?;
    // SAFETY: the handle is the open file's; the call fails (ERROR_ACCESS_DENIED) unless
    // it was opened with WRITE_DAC (PRIVATE_FILE_ACCESS). The ACL is valid; owner, group
    // and SACL are left alone (null).
    let code = unsafe {
        SetSecurityInfo(
            file.as_raw_handle(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            ptr::null_mut(),
            ptr::null_mut(),
            acl.0.cast(),
            ptr::null(),
        )
    };
    if code != ERROR_SUCCESS {
        return Err(win32(code));
    }
    Ok(())
}

/// One access-allowed entry of a DACL: its mask and a copy of its SID.
struct Allowed {
    mask: u32,
    sid: Vec<u64>,
}

/// The access-allowed entries of `dacl` (other entry types are skipped).
fn allowed_entries(dacl: *const ACL) -> io::Result<Vec<Allowed>> {
    let mut info = ACL_SIZE_INFORMATION {
        AceCount: 0,
        AclBytesInUse: 0,
        AclBytesFree: 0,
    };
    // SAFETY: `dacl` is a valid ACL; `info` is the structure the class names.
    if unsafe {
        GetAclInformation(
            dacl,
            (&mut info as *mut ACL_SIZE_INFORMATION).cast(),
            std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
            AclSizeInformation,
        )
    } == 0
    {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    for i in 0..info.AceCount {
        let mut ace: *mut c_void = ptr::null_mut();
        // SAFETY: `i` is below the ACL's entry count.
        if unsafe { GetAce(dacl, i, &mut ace) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let ace = ace.cast::<ACCESS_ALLOWED_ACE>();
        // SAFETY: GetAce returned a pointer to an entry inside the ACL; every entry
        // starts with an ACE_HEADER, read before the type-specific part.
        let header = unsafe { (*ace).Header };
        if u32::from(header.AceType) != ACCESS_ALLOWED_ACE_TYPE {
            continue;
        }
        // SAFETY: an ACCESS_ALLOWED_ACE: its mask, then its SID from `SidStart` on,
        // GetLengthSid bytes long, inside the entry.
        let (mask, sid) = unsafe {
            let sid: PSID = ptr::addr_of_mut!((*ace).SidStart).cast();
            let len = GetLengthSid(sid) as usize;
            let mut copy = vec![0u64; len.div_ceil(8)];
            ptr::copy_nonoverlapping(sid.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), len);
            ((*ace).Mask, copy)
        };
        out.push(Allowed { mask, sid });
    }
    Ok(out)
}

fn same_sid(a: &mut [u64], b: &mut [u64]) -> bool {
    // SAFETY: both buffers hold valid SIDs.
    unsafe { EqualSid(a.as_mut_ptr().cast(), b.as_mut_ptr().cast()) != 0 }
}

/// A well-known SID in a buffer of its own.
fn well_known(kind: i32) -> io::Result<Vec<u64>> {
    let mut buf = vec![0u64; (SECURITY_MAX_SID_SIZE as usize).div_ceil(8)];
    let mut size = SECURITY_MAX_SID_SIZE;
    // SAFETY: `buf` is writable for SECURITY_MAX_SID_SIZE bytes, the size passed.
    if unsafe { CreateWellKnownSid(kind, ptr::null_mut(), buf.as_mut_ptr().cast(), &mut size) } == 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(buf)
}

pub(crate) fn others_have_access(path: &Path) -> io::Result<bool> {
    let wide: Vec<u16> = path
        .as_os_str()
        .encode_wide()
        .chain(std::iter::once(0))
        .collect();
    let mut dacl: *mut ACL = ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: `wide` is NUL-terminated; the DACL pointer points into `descriptor`, which
    // the call LocalAllocs and `Local` frees after the last use of `dacl`.
    let code = unsafe {
        GetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut dacl,
            ptr::null_mut(),
            &mut descriptor,
        )
    };
    if code != ERROR_SUCCESS {
        return Err(win32(code));
    }
    let _descriptor = Local(descriptor);
    if dacl.is_null() {
        return Ok(true);
    }
    let mut everyone = well_known(WinWorldSid)?;
    let mut users = well_known(WinBuiltinUsersSid)?;
    for mut entry in allowed_entries(dacl)? {
        if entry.mask != 0
            && (same_sid(&mut entry.sid, &mut everyone) || same_sid(&mut entry.sid, &mut users))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use std::os::windows::fs::OpenOptionsExt as _;

    use super::*;

    #[test]
    fn the_acl_grants_the_current_user_alone_full_control() {
        let (_user, sid) = current_user().unwrap();
        let acl = owner_only_acl(sid).unwrap();
        let mut entries = allowed_entries(acl.0.cast()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].mask, FILE_ALL_ACCESS);
        // SAFETY: the SID in `_user` is valid; the copy too.
        let len = unsafe { GetLengthSid(sid) } as usize;
        let mut me = vec![0u64; len.div_ceil(8)];
        // SAFETY: `len` bytes of the SID into a buffer at least that long.
        unsafe { ptr::copy_nonoverlapping(sid.cast::<u8>(), me.as_mut_ptr().cast::<u8>(), len) };
        assert!(same_sid(&mut entries[0].sid, &mut me));
        let mut everyone = well_known(WinWorldSid).unwrap();
        assert!(!same_sid(&mut entries[0].sid, &mut everyone));
    }

    #[test]
    fn the_dacl_is_set_only_through_a_handle_with_write_dac() {
        let dir = tempfile::tempdir().unwrap();
        let plain = File::create(dir.path().join("plain")).unwrap();
        assert!(restrict_to_owner(&plain).is_err());
        let private = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .access_mode(crate::PRIVATE_FILE_ACCESS)
            .open(dir.path().join("private"))
            .unwrap();
        restrict_to_owner(&private).unwrap();
        // The probe reads a file's DACL without failing (what it says is Wine's picture
        // of the mode bits here, not the DACL set).
        crate::others_have_access(&dir.path().join("private")).unwrap();
    }
}
