//! Latch's state on disk.
//!
//! The layout is Dangerzone's, so that its users' state carries over both ways:
//!
//! ```text
//! <data>/signatures/<sha256 of the key file>/<image digest hex>.json   verified signatures
//! <data>/signatures/last_log_index                                    the rollback floor
//! <data>/latch/state.json                                             Latch's own state
//! <data>/latch/lock                                                   one writer at a time
//! ```
//!
//! Every write is atomic (temporary file, fsync, rename, directory fsync). A file that
//! cannot be read as what it should be is reported as corrupt, never trusted, never
//! deleted. This crate stores bytes; parsing and verifying signatures is `latch-trust`'s
//! job.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use latch_oci::Digest;
use latch_oci::fsutil::atomic_write;
use latch_oci::layout::read_bounded;
use serde::{Deserialize, Serialize};

/// Bound on one signatures file.
pub const MAX_SIGNATURES_FILE: u64 = 16 * 1024 * 1024;
/// Bound on the state file and `last_log_index`.
const MAX_SMALL_FILE: u64 = 1024 * 1024;

/// How long [`Store::lock`] without `wait` keeps trying before it reports
/// [`StoreError::Locked`]. A lock can look held for an instant after its holder let it
/// go: a child process that another thread of the same program was starting at that
/// moment holds a copy of the lock's file until it runs its own program (the copy is
/// closed then, but not before). A real holder (another upgrade) holds it for seconds
/// or minutes, so the grace only delays that answer.
pub const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Pause between two attempts within [`LOCK_GRACE`].
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A file that is not what it should be. It is left in place for inspection.
    #[error("{path} is corrupt: {detail} (left in place; remove or repair it to continue)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Another process holds the lock.
    #[error("another Latch process is updating {0}; try again when it has finished")]
    Locked(PathBuf),
    /// A key id that is not 64 hex characters (it names a directory).
    #[error("invalid key id {0:?} (expected the sha256 hex of a key file)")]
    BadKeyId(String),
}

/// The folder of accepted cosign v3 bundles, beside the key folders.
const BUNDLES_DIR: &str = "bundles";
/// The folder of accepted provenance attestations, beside the key folders.
const ATTESTATIONS_DIR: &str = "attestations";
/// The folder of accepted keyless legacy signatures, beside the key folders.
const KEYLESS_DIR: &str = "keyless";

/// A store file's bytes (bounded), or `None` when there is none.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match read_bounded(path, MAX_SIGNATURES_FILE) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(StoreError::Corrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        }),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Writes a store file atomically, creating its folder.
fn write_creating_dir(path: &Path, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    atomic_write(path, bytes).map_err(io_err(path))?;
    Ok(path.to_owned())
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Latch's own state, beside Dangerzone's files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Format version of this file.
    #[serde(default = "one")]
    pub version: u32,
    /// Highest accepted log index per transparency log (hex log id → index): the ratchet
    /// that survives log sharding and Rekor v2, where indexes restart per log.
    #[serde(default)]
    pub log_indexes: BTreeMap<String, u64>,
    /// Latest Rekor `integratedTime` among accepted signatures: a ratchet that orders
    /// entries across logs (a new shard restarts its indexes, not its clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<i64>,
    /// Highest accepted signed version (from the payload's `optional` section), when the
    /// profile ratchets on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_version: Option<String>,
    /// Whether the user turned update checks on (`None`: never asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates_enabled: Option<bool>,
    /// Unix time of the last update check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<u64>,
    /// Unix time before which no automatic check runs (cooldown plus jitter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check: Option<u64>,
    /// What is installed, as Latch installed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed: Option<Installed>,
    /// When this installation first saw a digest (Unix time): where a rollout schedule
    /// without a log time starts. Kept for the last few digests.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_seen: BTreeMap<String, i64>,
    /// The last image that failed its health check: not tried again until a newer one
    /// is signed (or the user asks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<Failed>,
}

/// An image that was verified and installed beside the old one, then failed its health
/// check and was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    /// The digest the signatures name.
    pub digest: Digest,
    /// Why the check failed (its exit status and the end of its output, or a timeout).
    pub reason: String,
    /// Unix time of the failure.
    pub at: u64,
}

fn one() -> u32 {
    1
}

/// The installed image, with both digests: the one signed (often an index) and the
/// platform manifest's (what a runtime may report instead; Dangerzone's bug #1516).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// Repository (`ghcr.io/org/image`).
    pub repository: String,
    /// The digest the signatures name.
    pub signed_digest: Digest,
    /// The platform manifest digest, when the signed digest is an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_digest: Option<Digest>,
    /// Highest log index among its accepted signatures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// Unix time of the installation.
    pub installed_at: u64,
}

/// The store rooted at a data directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Held while a process updates the store; released on drop.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl Store {
    /// The store at `data_dir` (nothing is created until something is written).
    pub fn new(data_dir: impl Into<PathBuf>) -> Store {
        Store {
            root: data_dir.into(),
        }
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn latch_dir(&self) -> PathBuf {
        self.root.join("latch")
    }

    /// Takes the lock. With `wait`, blocks until the holder releases it; without, fails
    /// with [`StoreError::Locked`] when it is still held after [`LOCK_GRACE`].
    pub fn lock(&self, wait: bool) -> Result<StoreLock, StoreError> {
        let dir = self.latch_dir();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        if wait {
            file.lock().map_err(io_err(&path))?;
        } else {
            let started = std::time::Instant::now();
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_GRACE => {
                        std::thread::sleep(LOCK_RETRY);
                    }
                    Err(fs::TryLockError::WouldBlock) => {
                        return Err(StoreError::Locked(self.root.clone()));
                    }
                    Err(fs::TryLockError::Error(e)) => return Err(io_err(&path)(e)),
                }
            }
        }
        Ok(StoreLock { _file: file })
    }

    /// Directory of one key's signatures.
    pub fn key_dir(&self, key_id: &str) -> Result<PathBuf, StoreError> {
        if key_id.len() != 64 || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::BadKeyId(key_id.to_owned()));
        }
        Ok(self.root.join("signatures").join(key_id))
    }

    /// Path of the signatures file for `digest` under `key_id`.
    pub fn signatures_path(&self, key_id: &str, digest: &Digest) -> Result<PathBuf, StoreError> {
        Ok(self.key_dir(key_id)?.join(format!("{}.json", digest.hex())))
    }

    /// The stored signatures file's bytes, or `None` if there is none.
    pub fn read_signatures(
        &self,
        key_id: &str,
        digest: &Digest,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        read_optional(&self.signatures_path(key_id, digest)?)
    }

    /// Writes a signatures file atomically.
    pub fn write_signatures(
        &self,
        key_id: &str,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<PathBuf, StoreError> {
        let dir = self.key_dir(key_id)?;
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = self.signatures_path(key_id, digest)?;
        atomic_write(&path, bytes).map_err(io_err(&path))?;
        Ok(path)
    }

    /// Path of the cosign v3 signatures (Sigstore bundles, a JSON array) kept for
    /// `digest`: `signatures/bundles/<hex>.json`, beside the key folders (whose names are
    /// 64 hex digits, so they never meet this one).
    pub fn bundles_path(&self, digest: &Digest) -> PathBuf {
        self.beside_keys(BUNDLES_DIR, digest)
    }

    /// The stored bundles file's bytes, or `None` if there is none.
    pub fn read_bundles(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        read_optional(&self.bundles_path(digest))
    }

    /// Writes the bundles file of `digest` atomically.
    pub fn write_bundles(&self, digest: &Digest, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        write_creating_dir(&self.bundles_path(digest), bytes)
    }

    /// Path of the provenance attestation accepted for `digest` (when a profile requires
    /// provenance): `signatures/attestations/<hex>.json`, beside the key folders.
    pub fn attestations_path(&self, digest: &Digest) -> PathBuf {
        self.beside_keys(ATTESTATIONS_DIR, digest)
    }

    /// The stored attestations file's bytes, or `None` if there is none.
    pub fn read_attestations(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        read_optional(&self.attestations_path(digest))
    }

    /// Writes the attestations file of `digest` atomically.
    pub fn write_attestations(&self, digest: &Digest, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        write_creating_dir(&self.attestations_path(digest), bytes)
    }

    /// Path of the keyless legacy signatures (cosign 2.x `.sig` signatures made with a
    /// Fulcio certificate, in the `cosign download signature` list form, certificate and
    /// chain included) kept for `digest`: `signatures/keyless/<hex>.json`. They belong to
    /// no key, so they cannot live in a key's folder.
    pub fn keyless_path(&self, digest: &Digest) -> PathBuf {
        self.beside_keys(KEYLESS_DIR, digest)
    }

    /// The stored keyless signatures file's bytes, or `None` if there is none.
    pub fn read_keyless(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        read_optional(&self.keyless_path(digest))
    }

    /// Writes the keyless signatures file of `digest` atomically.
    pub fn write_keyless(&self, digest: &Digest, bytes: &[u8]) -> Result<PathBuf, StoreError> {
        write_creating_dir(&self.keyless_path(digest), bytes)
    }

    fn beside_keys(&self, folder: &str, digest: &Digest) -> PathBuf {
        self.root
            .join("signatures")
            .join(folder)
            .join(format!("{}.json", digest.hex()))
    }

    /// Digests with a signatures file under `key_id`.
    pub fn signed_digests(&self, key_id: &str) -> Result<Vec<Digest>, StoreError> {
        let dir = self.key_dir(key_id)?;
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if let Ok(d) = Digest::from_sha256_hex(stem) {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    fn last_log_index_path(&self) -> PathBuf {
        self.root.join("signatures").join("last_log_index")
    }

    /// Dangerzone's rollback floor: `signatures/last_log_index`, a bare decimal (a final
    /// newline tolerated). `None` when absent.
    pub fn last_log_index(&self) -> Result<Option<u64>, StoreError> {
        let path = self.last_log_index_path();
        let bytes = match read_bounded(&path, 64) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(StoreError::Corrupt {
                    path,
                    detail: "larger than a log index can be".into(),
                });
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        let text = std::str::from_utf8(&bytes).unwrap_or("");
        let trimmed = text.strip_suffix('\n').unwrap_or(text);
        if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::Corrupt {
                path,
                detail: format!(
                    "expected a decimal log index, found {:?}",
                    String::from_utf8_lossy(&bytes)
                ),
            });
        }
        trimmed.parse().map(Some).map_err(|_| StoreError::Corrupt {
            path,
            detail: "log index does not fit in 64 bits".into(),
        })
    }

    /// Writes `last_log_index` as Dangerzone does (no newline), atomically.
    pub fn set_last_log_index(&self, index: u64) -> Result<(), StoreError> {
        let path = self.last_log_index_path();
        let dir = self.root.join("signatures");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        atomic_write(&path, index.to_string().as_bytes()).map_err(io_err(&path))
    }

    fn state_path(&self) -> PathBuf {
        self.latch_dir().join("state.json")
    }

    /// Latch's state (default when absent).
    pub fn state(&self) -> Result<State, StoreError> {
        let path = self.state_path();
        let bytes = match read_bounded(&path, MAX_SMALL_FILE) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(State {
                    version: 1,
                    ..State::default()
                });
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(StoreError::Corrupt {
                    path,
                    detail: e.to_string(),
                });
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path,
            detail: e.to_string(),
        })
    }

    /// Replaces the state atomically.
    pub fn save_state(&self, state: &State) -> Result<(), StoreError> {
        let dir = self.latch_dir();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = self.state_path();
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        atomic_write(&path, &bytes).map_err(io_err(&path))
    }

    /// The trust document chain adopted (`latch-rotation`): the envelopes of versions 2,
    /// 3, ... as their exact bytes, one file each (`latch/trust-chain/v<N>.json`), read
    /// up to the first missing version. What they say is checked again by whoever reads
    /// them (they are followed from version 1 each time).
    pub fn trust_chain(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut chain = Vec::new();
        for version in 2u64.. {
            match read_optional(&self.trust_chain_path(version))? {
                Some(bytes) => chain.push(bytes),
                None => break,
            }
        }
        Ok(chain)
    }

    /// Records the chain adopted (versions 2, 3, ... in order): the versions not yet
    /// on disk are written, each atomically; those there are left (a version's envelope
    /// never changes once adopted).
    pub fn save_trust_chain(&self, chain: &[Vec<u8>]) -> Result<(), StoreError> {
        let dir = self.latch_dir().join("trust-chain");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        for (version, bytes) in (2u64..).zip(chain) {
            let path = self.trust_chain_path(version);
            if !path.exists() {
                atomic_write(&path, bytes).map_err(io_err(&path))?;
            }
        }
        Ok(())
    }

    /// Where the Sigstore trusted roots kept current over TUF are kept, one folder per
    /// repository (`latch/sigstore-tuf`, laid out by `latch-tuf`).
    pub fn sigstore_tuf_dir(&self) -> PathBuf {
        self.latch_dir().join("sigstore-tuf")
    }

    fn trust_chain_path(&self, version: u64) -> PathBuf {
        self.latch_dir()
            .join("trust-chain")
            .join(format!("v{version}.json"))
    }

    /// This installation's random ID (`latch/install-id`, 32 hex digits), created the
    /// first time it is asked for. Not a secret: it only places the installation in a
    /// staged rollout's buckets, and is never sent anywhere.
    pub fn install_id(&self) -> Result<String, StoreError> {
        let path = self.latch_dir().join("install-id");
        if let Ok(bytes) = read_bounded(&path, 1024) {
            let id = String::from_utf8_lossy(&bytes).trim().to_owned();
            if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(id);
            }
        }
        let id = random_id();
        let dir = self.latch_dir();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        atomic_write(&path, format!("{id}\n").as_bytes()).map_err(io_err(&path))?;
        Ok(id)
    }
}

/// 128 random bits as hex, from the standard library's randomly keyed hasher (seeded by
/// the operating system), the time and the process id.
fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_u64(salt);
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

/// The default data directory: `$LATCH_DATA_DIR`, else the platform's local data
/// directory (the `dirs` crate: `$XDG_DATA_HOME` if absolute, else `~/.local/share` on Linux,
/// `~/Library/Application Support` on macOS, `%LOCALAPPDATA%` on Windows, which is the
/// machine's own and not synced between machines as `%APPDATA%` is) joined with `app`.
pub fn default_data_dir(app: &str) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("LATCH_DATA_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d));
    }
    dirs::data_local_dir().map(|b| b.join(app))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";

    /// On Windows (run under Wine by the test command) the data lives in the user's local
    /// application data, never the roaming profile.
    #[cfg(windows)]
    #[test]
    fn windows_data_dir_is_local_app_data() {
        if std::env::var_os("LATCH_DATA_DIR").is_some() {
            return;
        }
        let dir = default_data_dir("latch/demo").expect("a data directory");
        let local = std::env::var_os("LOCALAPPDATA").expect("LOCALAPPDATA is set");
        assert_eq!(dir, PathBuf::from(local).join("latch/demo"));
        assert!(
            dir.to_string_lossy().contains("AppData\\Local"),
            "{}",
            dir.display()
        );
    }

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::new(d.path().join("data"));
        (d, s)
    }

    #[test]
    fn bundles_round_trip_beside_the_key_folders() {
        let (_d, s) = store();
        let digest = Digest::sha256_of(b"image");
        assert!(s.read_bundles(&digest).unwrap().is_none());
        let p = s.write_bundles(&digest, b"[{}]").unwrap();
        assert_eq!(
            p,
            s.root()
                .join("signatures")
                .join("bundles")
                .join(format!("{}.json", digest.hex()))
        );
        assert_eq!(s.read_bundles(&digest).unwrap().unwrap(), b"[{}]");
        // Not mistaken for a key's folder.
        assert!(s.signed_digests(KEY).unwrap().is_empty());
    }

    #[test]
    fn signatures_round_trip_in_dangerzone_layout() {
        let (_d, s) = store();
        let digest = Digest::sha256_of(b"image");
        assert!(s.read_signatures(KEY, &digest).unwrap().is_none());
        let p = s.write_signatures(KEY, &digest, b"[]").unwrap();
        assert_eq!(
            p,
            s.root()
                .join("signatures")
                .join(KEY)
                .join(format!("{}.json", digest.hex()))
        );
        assert_eq!(s.read_signatures(KEY, &digest).unwrap().unwrap(), b"[]");
        assert_eq!(s.signed_digests(KEY).unwrap(), vec![digest]);
        assert!(matches!(
            s.write_signatures("../x", &Digest::sha256_of(b""), b""),
            Err(StoreError::BadKeyId(_))
        ));
    }

    #[test]
    fn last_log_index_format() {
        let (_d, s) = store();
        assert_eq!(s.last_log_index().unwrap(), None);
        s.set_last_log_index(168898587).unwrap();
        assert_eq!(
            fs::read(s.root().join("signatures/last_log_index")).unwrap(),
            b"168898587"
        );
        assert_eq!(s.last_log_index().unwrap(), Some(168898587));
        let p = s.root().join("signatures/last_log_index");
        fs::write(&p, "5000000000\n").unwrap();
        assert_eq!(s.last_log_index().unwrap(), Some(5_000_000_000));
        for bad in ["", "-1", "12a", " 12", "99999999999999999999999"] {
            fs::write(&p, bad).unwrap();
            assert!(
                matches!(s.last_log_index(), Err(StoreError::Corrupt { .. })),
                "{bad:?}"
            );
            // Reported, not deleted.
            assert!(p.exists());
        }
    }

    #[test]
    fn state_round_trip_and_corruption() {
        let (_d, s) = store();
        let mut st = s.state().unwrap();
        assert_eq!(st.version, 1);
        st.log_indexes.insert("c0d2".into(), 7);
        st.installed = Some(Installed {
            repository: "ghcr.io/a/b".into(),
            signed_digest: Digest::sha256_of(b"i"),
            platform_digest: Some(Digest::sha256_of(b"p")),
            log_index: Some(7),
            installed_at: 1,
        });
        s.save_state(&st).unwrap();
        assert_eq!(s.state().unwrap(), st);
        fs::write(s.root().join("latch/state.json"), "{oops").unwrap();
        assert!(matches!(s.state(), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn the_trust_chain_is_kept_version_by_version() {
        let (_d, s) = store();
        assert!(s.trust_chain().unwrap().is_empty());
        s.save_trust_chain(&[b"v2".to_vec()]).unwrap();
        s.save_trust_chain(&[b"v2".to_vec(), b"v3".to_vec()])
            .unwrap();
        assert_eq!(
            s.trust_chain().unwrap(),
            vec![b"v2".to_vec(), b"v3".to_vec()]
        );
        // A version on disk is not rewritten; a gap ends the chain read.
        s.save_trust_chain(&[b"other".to_vec()]).unwrap();
        assert_eq!(s.trust_chain().unwrap()[0], b"v2");
        fs::remove_file(s.root().join("latch/trust-chain/v2.json")).unwrap();
        assert!(s.trust_chain().unwrap().is_empty());
    }

    #[test]
    fn lock_excludes_a_second_holder() {
        let (_d, s) = store();
        let held = s.lock(false).unwrap();
        assert!(matches!(s.lock(false), Err(StoreError::Locked(_))));
        drop(held);
        assert!(s.lock(false).is_ok());
    }

    /// A lock let go within the grace is taken, not reported as held: the case of a
    /// child process that briefly held a copy of the lock's file.
    #[test]
    fn lock_released_within_the_grace_is_taken() {
        let (_d, s) = store();
        let held = s.lock(false).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(LOCK_GRACE / 10);
            drop(held);
        });
        assert!(s.lock(false).is_ok());
        releaser.join().unwrap();
    }
}
