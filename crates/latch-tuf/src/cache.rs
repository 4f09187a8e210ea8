//! The verified TUF state kept in the data directory, in generations:
//!
//! ```text
//! <dir>/<repository folder>/url        the repository's URL (for people)
//! <dir>/<repository folder>/current    the name of the generation in force
//! <dir>/<repository folder>/g-XXXXXX/  sigstore-tuf's cache layout (root_history/N.root.json,
//!                                      timestamp.json, snapshot.json, targets.json,
//!                                      targets/trusted_root.json) and verified.json
//! <dir>/<repository folder>/tmp-XXXXXX/  a refresh in progress
//! ```
//!
//! A refresh works in a new folder seeded with the generation in force (whose versions
//! are then the floor nothing may go below), verifies what it fetched, and only then
//! points `current` at it (an atomic rename): a crash or a refused file leaves the
//! generation in force as it was. Every read verifies the generation again from the
//! initial root, at the time it was verified: the data directory is not trusted to hold
//! what was written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sigstore_tuf::{FileStore, HttpRepository, Updater, UpdaterConfig};

use crate::error::TufError;
use crate::repository::TufRepository;
use crate::verify::{Files, Info, TRUSTED_ROOT_TARGET, Verified, verify};

/// Bound on one root file (sigstore-tuf's default).
const MAX_ROOT: u64 = 512 * 1024;
/// Bound on timestamp metadata.
const MAX_TIMESTAMP: u64 = 16 * 1024;
/// Bound on snapshot metadata.
const MAX_SNAPSHOT: u64 = 2 * 1024 * 1024;
/// Bound on targets metadata.
const MAX_TARGETS: u64 = 5 * 1024 * 1024;
/// Bound on `trusted_root.json` (the public-good one is about 20 kB).
const MAX_TRUSTED_ROOT: u64 = 4 * 1024 * 1024;
/// Bound on the small bookkeeping files.
const MAX_SMALL: u64 = 4096;
/// Most root rotations kept (TUF clients walk at most 32 per refresh).
const MAX_ROOTS: u64 = 1024;
/// The longest a refresh's requests may take, each.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// When a generation was verified.
#[derive(Debug, Serialize, Deserialize)]
struct Stamp {
    verified_at: i64,
}

/// The TUF states kept for one or more repositories under a folder of the data
/// directory.
#[derive(Debug, Clone)]
pub struct TufCache {
    dir: PathBuf,
}

impl TufCache {
    /// States kept under `dir` (created on the first refresh).
    pub fn new(dir: impl Into<PathBuf>) -> TufCache {
        TufCache { dir: dir.into() }
    }

    fn repo_dir(&self, repo: &TufRepository) -> PathBuf {
        self.dir.join(repo.folder())
    }

    /// The generation in force for `repo`, verified again from its initial root at the
    /// time it was verified; `None` when nothing was ever kept.
    pub fn held(&self, repo: &TufRepository) -> Result<Option<Verified>, TufError> {
        Ok(self.held_files(repo)?.map(|(_, v)| v))
    }

    /// [`TufCache::held`], with the files that verified (what an archive carries).
    /// A generation another process replaced while it was read is read again (its
    /// folder may be gone).
    pub fn held_files(&self, repo: &TufRepository) -> Result<Option<(Files, Verified)>, TufError> {
        let dir = self.repo_dir(repo);
        let mut attempts = 0;
        loop {
            let Some(generation) = current(&dir)? else {
                return Ok(None);
            };
            let read = stamp(&generation).and_then(|at| {
                let files = read_files(&generation, repo)?;
                let verified = verify(repo.initial_root(), &files, at)?;
                Ok((files, verified))
            });
            attempts += 1;
            match read {
                Ok(held) => return Ok(Some(held)),
                Err(e) if attempts >= 3 || current(&dir)?.as_ref() == Some(&generation) => {
                    return Err(e);
                }
                Err(_) => continue,
            }
        }
    }

    /// Adopts a state carried from elsewhere (an air-gap archive): `files` verified from
    /// the initial root at `at`, the time the carrier says it was verified. Adopted only
    /// when no version in it is older than what is held; returns `None` when it is (or
    /// is what is held already), the state adopted otherwise.
    pub fn adopt(
        &self,
        repo: &TufRepository,
        files: &Files,
        at: i64,
    ) -> Result<Option<Verified>, TufError> {
        let verified = verify(repo.initial_root(), files, at)?;
        if let Ok(Some(held)) = self.held(repo) {
            let same = held.info.trusted_root_sha256 == verified.info.trusted_root_sha256
                && held.info.timestamp_version == verified.info.timestamp_version;
            if same || !verified.info.not_older_than(&held.info) {
                return Ok(None);
            }
        }
        let work = self.begin(repo)?;
        write_files(work.path(), files, repo)?;
        // Verified again as written: what is committed is what was checked.
        let written = read_files(work.path(), repo)?;
        let verified = verify(repo.initial_root(), &written, at)?;
        self.commit(repo, work, at, &verified.info)?;
        Ok(Some(verified))
    }

    /// A new refresh's folder in `repo`'s, which is created.
    fn begin(&self, repo: &TufRepository) -> Result<tempfile::TempDir, TufError> {
        let dir = self.repo_dir(repo);
        std::fs::create_dir_all(&dir).map_err(TufError::io(&dir))?;
        tempfile::Builder::new()
            .prefix("tmp-")
            .tempdir_in(&dir)
            .map_err(TufError::io(&dir))
    }

    /// Refreshes `repo`'s state over HTTP at `now` (Unix seconds): the newest roots
    /// (each signed by the one before), timestamp, snapshot, targets and
    /// `trusted_root.json`, none older than what is held. What verifies becomes the
    /// generation in force; on any failure the one in force stays.
    pub async fn refresh(&self, repo: &TufRepository, now: i64) -> Result<Verified, TufError> {
        let work = self.begin(repo)?;
        // The state in force seeds the refresh: the TUF client starts from its roots and
        // takes its versions as the floor. One that does not verify is no floor: the
        // repository is followed again from the initial root, which repairs it.
        if let Ok(Some((files, _))) = self.held_files(repo) {
            write_files(work.path(), &files, repo)?;
        }
        fetch(repo, work.path(), now).await?;
        let files = read_files(work.path(), repo)?;
        let verified = verify(repo.initial_root(), &files, now)?;
        self.commit(repo, work, now, &verified.info)?;
        Ok(verified)
    }
}

impl TufCache {
    /// Makes `work` (verified at `at`, saying `info`) the generation in force: stamped,
    /// renamed to a generation's name, pointed at by `current` (atomically), the older
    /// ones removed. Under the repository folder's lock, so that two processes
    /// refreshing at once cannot point `current` at a folder the other removed; and not
    /// at all when the state in force is newer than `info` (the other process won).
    fn commit(
        &self,
        repo: &TufRepository,
        work: tempfile::TempDir,
        at: i64,
        info: &Info,
    ) -> Result<(), TufError> {
        let dir = self.repo_dir(repo);
        let lock_path = dir.join("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(TufError::io(&lock_path))?;
        lock.lock().map_err(TufError::io(&lock_path))?;
        if let Ok(Some(held)) = self.held(repo)
            && !info.not_older_than(&held.info)
        {
            return Ok(());
        }
        let url_file = dir.join("url");
        if !url_file.exists() {
            latch_oci::fsutil::atomic_write(&url_file, repo.url().as_bytes())
                .map_err(TufError::io(&url_file))?;
        }
        commit_locked(&dir, work, at)
    }
}

/// [`TufCache::commit`], the lock held.
fn commit_locked(dir: &Path, work: tempfile::TempDir, at: i64) -> Result<(), TufError> {
    let stamp_file = work.path().join("verified.json");
    let stamp = serde_json::to_vec(&Stamp { verified_at: at }).unwrap_or_default();
    latch_oci::fsutil::atomic_write(&stamp_file, &stamp).map_err(TufError::io(&stamp_file))?;
    let work = work.keep();
    let name = work
        .file_name()
        .map(|n| n.to_string_lossy().replacen("tmp-", "g-", 1))
        .unwrap_or_else(|| "g-0".into());
    let generation = dir.join(&name);
    latch_oci::fsutil::durable_rename(&work, &generation).map_err(TufError::io(&generation))?;
    let pointer = dir.join("current");
    latch_oci::fsutil::atomic_write(&pointer, name.as_bytes()).map_err(TufError::io(&pointer))?;
    prune(dir, &name);
    Ok(())
}

/// Writes `files` in a generation's layout (the roots named by version, after the
/// initial root's).
fn write_files(dir: &Path, files: &Files, repo: &TufRepository) -> Result<(), TufError> {
    for (name, bytes) in files.named(repo.initial_version()) {
        let to = kept_at(dir, &name);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(TufError::io(parent))?;
        }
        std::fs::write(&to, bytes).map_err(TufError::io(&to))?;
    }
    Ok(())
}

/// The generation `current` names, if any; a name that is not a generation's is refused.
fn current(dir: &Path) -> Result<Option<PathBuf>, TufError> {
    let pointer = dir.join("current");
    let bytes = match latch_oci::layout::read_bounded(&pointer, MAX_SMALL) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TufError::io(&pointer)(e)),
    };
    let name = String::from_utf8_lossy(&bytes).trim().to_owned();
    let valid = name.starts_with("g-")
        && name[2..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(TufError::io(&pointer)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{name:?} is not a generation's name"),
        )));
    }
    Ok(Some(dir.join(name)))
}

fn stamp(generation: &Path) -> Result<i64, TufError> {
    let path = generation.join("verified.json");
    let bytes = read(&path, MAX_SMALL, generation, "verified.json")?;
    serde_json::from_slice::<Stamp>(&bytes)
        .map(|s| s.verified_at)
        .map_err(|e| TufError::io(&path)(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// A file of a generation, bounded; a missing one is [`TufError::Missing`].
fn read(path: &Path, max: u64, dir: &Path, file: &str) -> Result<Vec<u8>, TufError> {
    match latch_oci::layout::read_bounded(path, max) {
        Ok(b) if b.len() as u64 > max => Err(TufError::io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ))),
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(TufError::Missing {
            dir: dir.to_owned(),
            file: file.to_owned(),
        }),
        Err(e) => Err(TufError::io(path)(e)),
    }
}

/// Where the file a repository names `name` ([`Files::named`]) is kept in a generation:
/// sigstore-tuf's cache layout, roots under `root_history/`, targets under `targets/`.
fn kept_at(dir: &Path, name: &str) -> PathBuf {
    if name.ends_with(".root.json") {
        dir.join("root_history").join(name)
    } else if name == TRUSTED_ROOT_TARGET {
        dir.join("targets").join(name)
    } else {
        dir.join(name)
    }
}

/// The roots after the initial one that a generation keeps.
fn root_paths(dir: &Path, repo: &TufRepository) -> Vec<(PathBuf, String)> {
    let first = repo.initial_version();
    (first + 1..first + 1 + MAX_ROOTS)
        .map(|n| {
            let name = format!("{n}.root.json");
            (kept_at(dir, &name), name)
        })
        .take_while(|(p, _)| p.exists())
        .collect()
}

/// Reads a generation's files, each bounded.
fn read_files(dir: &Path, repo: &TufRepository) -> Result<Files, TufError> {
    let roots = root_paths(dir, repo)
        .into_iter()
        .map(|(path, name)| read(&path, MAX_ROOT, dir, &name))
        .collect::<Result<_, _>>()?;
    let file = |name: &str, max| read(&kept_at(dir, name), max, dir, name);
    Ok(Files {
        roots,
        timestamp: file("timestamp.json", MAX_TIMESTAMP)?,
        snapshot: file("snapshot.json", MAX_SNAPSHOT)?,
        targets: file("targets.json", MAX_TARGETS)?,
        trusted_root: file(TRUSTED_ROOT_TARGET, MAX_TRUSTED_ROOT)?,
    })
}

/// Runs the TUF client workflow against the repository, writing what verifies into
/// `work`.
async fn fetch(repo: &TufRepository, work: &Path, now: i64) -> Result<(), TufError> {
    let refused = |source| TufError::Refresh {
        url: repo.url().to_owned(),
        source,
    };
    let now = jiff::Timestamp::from_second(now).map_err(|e| {
        refused(sigstore_tuf::Error::Malformed(format!(
            "refresh time {now}: {e}"
        )))
    })?;
    let client = reqwest::Client::builder()
        .user_agent(format!("latch/{}", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(REQUEST_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| refused(sigstore_tuf::Error::transport(e.to_string())))?;
    let http = HttpRepository::new(repo.url())
        .map_err(refused)?
        .with_http_client(client);
    let mut config = UpdaterConfig::default();
    config.root_max_length = MAX_ROOT;
    config.timestamp_max_length = MAX_TIMESTAMP;
    config.snapshot_max_length = MAX_SNAPSHOT;
    config.targets_max_length = MAX_TARGETS;
    config.target_max_length = MAX_TRUSTED_ROOT;
    let mut updater = Updater::new(http, repo.initial_root())
        .map_err(refused)?
        .with_config(config)
        .with_store(FileStore::new(work));
    updater.refresh(now).await.map_err(refused)?;
    updater
        .get_target(TRUSTED_ROOT_TARGET, now)
        .await
        .map_err(refused)?;
    Ok(())
}

/// Removes the generations other than `keep`, and refreshes abandoned over an hour ago
/// (a crash's); best effort: what cannot be removed now is removed by a later refresh.
fn prune(dir: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let abandoned = |entry: &std::fs::DirEntry| {
        entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600))
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let old_generation = name != keep && name.starts_with("g-");
        if old_generation || (name.starts_with("tmp-") && abandoned(&entry)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
