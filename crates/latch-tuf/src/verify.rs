//! The one check of a TUF state, pure: the initial root, the files and a time in; the
//! `trusted_root.json` they vouch for (and what they say of themselves) out. Run on what a
//! refresh kept, on every later read of it, and on what an archive carries.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256, Sha512};
use sigstore_tuf::{Role as _, TrustedMetadataSet};

use crate::error::TufError;

/// The target a Sigstore TUF repository publishes its trusted root as.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";

/// The files of one TUF repository state.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// The roots after the initial one, in version order (`N.root.json`).
    pub roots: Vec<Vec<u8>>,
    /// `timestamp.json`.
    pub timestamp: Vec<u8>,
    /// `snapshot.json`.
    pub snapshot: Vec<u8>,
    /// `targets.json`.
    pub targets: Vec<u8>,
    /// The `trusted_root.json` target.
    pub trusted_root: Vec<u8>,
}

impl Files {
    /// Each file with its name in a TUF repository (`N.root.json` for the roots, numbered
    /// from `initial + 1`; `timestamp.json`, `snapshot.json`, `targets.json`;
    /// [`TRUSTED_ROOT_TARGET`]).
    pub fn named(&self, initial: u64) -> Vec<(String, &[u8])> {
        let mut named: Vec<(String, &[u8])> = (initial + 1..)
            .zip(&self.roots)
            .map(|(n, b)| (format!("{n}.root.json"), b.as_slice()))
            .collect();
        named.extend([
            ("timestamp.json".to_owned(), self.timestamp.as_slice()),
            ("snapshot.json".to_owned(), self.snapshot.as_slice()),
            ("targets.json".to_owned(), self.targets.as_slice()),
            (TRUSTED_ROOT_TARGET.to_owned(), self.trusted_root.as_slice()),
        ]);
        named
    }
}

/// What a verified state says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// The TUF root's version (1 for a repository never rotated).
    pub root_version: u64,
    /// When that root expires (Unix seconds).
    pub root_expires: i64,
    /// The timestamp metadata's version.
    pub timestamp_version: u64,
    /// When it expires (Unix seconds): past it, the state cannot show it is current.
    pub timestamp_expires: i64,
    /// When the snapshot metadata expires.
    pub snapshot_expires: i64,
    /// The targets metadata's version.
    pub targets_version: u64,
    /// When it expires.
    pub targets_expires: i64,
    /// The time the state was verified at (Unix seconds): when it was fetched, or the
    /// time an archive says it was.
    pub verified_at: i64,
    /// sha256 of `trusted_root.json`, hex.
    pub trusted_root_sha256: String,
}

impl Info {
    /// The first expiry among the metadata: past it, the state is stale (still used to
    /// verify what it vouched for, but it cannot show that nothing newer exists).
    pub fn expires(&self) -> i64 {
        self.root_expires
            .min(self.timestamp_expires)
            .min(self.snapshot_expires)
            .min(self.targets_expires)
    }

    /// Whether the state is stale at `now`.
    pub fn is_stale(&self, now: i64) -> bool {
        now > self.expires()
    }

    /// Whether `self` is no older than `held`: no version goes back. What an archive
    /// carries is adopted only then.
    pub fn not_older_than(&self, held: &Info) -> bool {
        self.root_version >= held.root_version
            && self.timestamp_version >= held.timestamp_version
            && self.targets_version >= held.targets_version
    }
}

/// A verified state: the trusted root and what vouched for it.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The `trusted_root.json` bytes, as the targets metadata names them.
    pub trusted_root: Vec<u8>,
    /// The metadata's versions and expiries.
    pub info: Info,
}

/// Verifies `files` from `initial_root` as TUF's client workflow does, with every expiry
/// checked at `at` (Unix seconds): each root signed by its predecessor's threshold and its
/// own, timestamp, snapshot and targets signed by the newest root's roles and pinned to
/// each other by version and hash, and `trusted_root.json` of the length and hashes the
/// targets metadata lists.
pub fn verify(initial_root: &[u8], files: &Files, at: i64) -> Result<Verified, TufError> {
    let at_ts = jiff::Timestamp::from_second(at).map_err(|e| TufError::Metadata {
        file: "timestamp.json".into(),
        source: sigstore_tuf::Error::Malformed(format!("verification time {at}: {e}")),
    })?;
    let mut set =
        TrustedMetadataSet::from_root(initial_root).map_err(|source| TufError::InitialRoot {
            origin: "initial root".into(),
            source,
        })?;
    for root in &files.roots {
        let next = set.root().version.saturating_add(1);
        set.update_root(root).map_err(|source| TufError::Metadata {
            file: format!("{next}.root.json"),
            source,
        })?;
    }
    let meta = |file: &str| {
        let file = file.to_owned();
        move |source| TufError::Metadata { file, source }
    };
    set.check_root_expired(at_ts).map_err(meta("root.json"))?;
    set.update_timestamp(&files.timestamp, at_ts)
        .map_err(meta("timestamp.json"))?;
    set.update_snapshot(&files.snapshot, at_ts)
        .map_err(meta("snapshot.json"))?;
    let targets = set
        .update_targets(&files.targets, at_ts)
        .map_err(meta("targets.json"))?
        .clone();
    let Some(target) = targets.target(TRUSTED_ROOT_TARGET) else {
        return Err(TufError::NoTarget {
            targets_version: targets.version,
            target: TRUSTED_ROOT_TARGET,
        });
    };
    check_target(&files.trusted_root, target)?;
    let (Some(timestamp), Some(snapshot)) = (set.timestamp(), set.snapshot()) else {
        return Err(TufError::Metadata {
            file: "timestamp.json".into(),
            source: sigstore_tuf::Error::NotRefreshed,
        });
    };
    Ok(Verified {
        trusted_root: files.trusted_root.clone(),
        info: Info {
            root_version: set.root().version,
            root_expires: set.root().expires.as_second(),
            timestamp_version: timestamp.version,
            timestamp_expires: timestamp.expires().as_second(),
            snapshot_expires: snapshot.expires().as_second(),
            targets_version: targets.version,
            targets_expires: targets.expires().as_second(),
            verified_at: at,
            trusted_root_sha256: hex::encode(Sha256::digest(&files.trusted_root)),
        },
    })
}

/// `bytes` is the target the metadata lists: its length, and every hash it gives that
/// Latch can compute (at least one).
fn check_target(bytes: &[u8], target: &sigstore_tuf::TargetFile) -> Result<(), TufError> {
    let mismatch = |detail: String| TufError::TargetMismatch {
        target: TRUSTED_ROOT_TARGET,
        detail,
    };
    if bytes.len() as u64 != target.length {
        return Err(mismatch(format!(
            "{} bytes, the metadata says {}",
            bytes.len(),
            target.length
        )));
    }
    let mut checked = 0;
    for (algorithm, expected) in &target.hashes {
        let actual = match algorithm.as_str() {
            "sha256" => hex::encode(Sha256::digest(bytes)),
            "sha512" => hex::encode(Sha512::digest(bytes)),
            _ => continue,
        };
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(mismatch(format!(
                "{algorithm} {actual}, the metadata says {expected}"
            )));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(mismatch("the metadata gives no sha256 or sha512".into()));
    }
    Ok(())
}
