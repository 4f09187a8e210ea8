//! The ratchets: an installation never goes back to an older image (rollback) and notices
//! when the registry stops serving new ones (freeze). Pure functions over what was
//! accepted before (the state and the profile's floor) and what a verdict proves, each
//! refusal a typed reason an application can match on.
//!
//! Rollback: once anything has been accepted, or a floor is set, a candidate must prove it
//! is not older (a log index or time from a verified log entry, or a signed version),
//! otherwise it is refused as a possible rollback. Each proof is compared with what was
//! accepted: the floor (Dangerzone's `last_log_index`, applied to the log it was recorded
//! from), the index per log, the integration time across logs, the signed version.

use std::collections::BTreeMap;
use std::time::Duration;

use latch_decide::{LogEntry, Verdict};
use latch_oci::format_duration;
use latch_store::State;
use serde::Serialize;

/// Why an image was refused as a possible rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RollbackReason {
    /// Its highest log index is below the floor (the last one accepted, or the profile's).
    BelowFloor {
        /// The floor.
        floor: u64,
        /// The highest log index offered.
        offered: u64,
    },
    /// In one log, its highest index is below the one accepted before.
    OlderLogIndex {
        /// The log (hex SHA-256 of its key).
        log_id: String,
        /// The index accepted before in that log.
        accepted: u64,
        /// The highest index offered in that log.
        offered: u64,
    },
    /// It was logged before the image accepted before.
    OlderTime {
        /// The newest log time accepted before.
        accepted: i64,
        /// The newest log time offered.
        offered: i64,
    },
    /// Its signed version is older than the one accepted before.
    OlderVersion {
        /// The payload annotation holding the version.
        annotation: String,
        /// The version accepted before.
        accepted: String,
        /// The version offered.
        offered: String,
    },
    /// The profile ratchets on a signed version, and no accepted signature carries one.
    MissingVersion {
        /// The payload annotation the profile names.
        annotation: String,
    },
    /// Something was accepted before (or a floor is set), and nothing in the accepted
    /// signatures can be compared with it: no verified log entry in a known log, no log
    /// time, no signed version.
    Unprovable {
        /// The floor in force, if any.
        floor: Option<u64>,
        /// Whether an image was installed before.
        installed: bool,
    },
}

impl RollbackReason {
    /// Whether the reason shows the image is older (rather than that nothing shows it is
    /// not).
    pub fn proves_older(&self) -> bool {
        matches!(
            self,
            RollbackReason::BelowFloor { .. }
                | RollbackReason::OlderLogIndex { .. }
                | RollbackReason::OlderTime { .. }
                | RollbackReason::OlderVersion { .. }
        )
    }
}

impl std::fmt::Display for RollbackReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RollbackReason::BelowFloor { floor, offered } => {
                write!(
                    f,
                    "its highest log index {offered} is below the floor {floor}"
                )
            }
            RollbackReason::OlderLogIndex {
                log_id,
                accepted,
                offered,
            } => write!(
                f,
                "log {}: index {offered} is below the accepted {accepted}",
                log_id.get(..12).unwrap_or(log_id)
            ),
            RollbackReason::OlderTime { accepted, offered } => write!(
                f,
                "it was logged at {offered}, before the accepted image ({accepted})"
            ),
            RollbackReason::OlderVersion {
                accepted, offered, ..
            } => write!(
                f,
                "signed version {offered} is older than the accepted {accepted}"
            ),
            RollbackReason::MissingVersion { annotation } => write!(
                f,
                "no accepted signature carries the signed version {annotation:?} that the profile ratchets on"
            ),
            RollbackReason::Unprovable { floor, installed } => {
                let what = match (floor, installed) {
                    (Some(fl), true) => format!("an image was accepted and the floor is {fl}"),
                    (Some(fl), false) => format!("the rollback floor is {fl}"),
                    (None, _) => "an image was accepted before".to_owned(),
                };
                write!(
                    f,
                    "{what}, but no accepted signature carries a verified log entry or a signed version to compare (pin a Rekor key with tlog \"required\", or set version_annotation)"
                )
            }
        }
    }
}

/// What a verdict proves about an image's age: only authenticated values (a log index
/// and time a SET covers, an RFC 3161 timestamp, a signed version or timestamp).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The verified log entries of the accepted signatures.
    pub log_entries: Vec<LogEntry>,
    /// The newest authenticated signing time: log integration times, RFC 3161
    /// timestamps, a legacy payload's signed `timestamp`.
    pub newest_time: Option<i64>,
    /// The highest signed version among the accepted signatures, when the profile names
    /// the annotation holding it.
    pub version: Option<String>,
}

impl Evidence {
    /// The evidence of `verdict`, reading the signed version from `version_key`.
    pub fn of(verdict: &Verdict, version_key: Option<&str>) -> Evidence {
        Evidence {
            log_entries: verdict.log_entries(),
            newest_time: verdict.newest_signed_time(),
            version: version_key.and_then(|k| {
                verdict
                    .signed_annotations(k)
                    .max_by(|a, b| compare_versions(a, b))
                    .map(str::to_owned)
            }),
        }
    }

    /// The highest log index.
    pub fn max_log_index(&self) -> Option<u64> {
        self.log_entries.iter().map(|e| e.log_index).max()
    }
}

/// What was accepted before: the state, the floor in force (the higher of
/// `last_log_index` and the profile's), and the annotation of the signed version.
#[derive(Debug, Clone, Copy)]
pub struct Accepted<'a> {
    /// The updater's state.
    pub state: &'a State,
    /// The floor in force.
    pub floor: Option<u64>,
    /// The payload annotation holding a signed version, when the profile ratchets on one.
    pub version_key: Option<&'a str>,
}

/// Every reason to refuse `evidence` as a possible rollback; empty when it may be taken.
/// `reinstall` says the digest is the one already accepted (it cannot be older than
/// itself, so proof of age is not asked of it).
pub fn check_rollback(
    accepted: Accepted<'_>,
    evidence: &Evidence,
    reinstall: bool,
) -> Vec<RollbackReason> {
    let state = accepted.state;
    let entries = &evidence.log_entries;
    let mut reasons = Vec::new();
    let mut compared = false;
    if let Some(floor) = accepted.floor {
        // The floor applies to the log it was recorded from (Dangerzone's file has no log
        // id: then to every log), so a new shard does not trip it.
        let floor_log = state.log_indexes.keys().next();
        let relevant = entries
            .iter()
            .filter(|e| floor_log.is_none_or(|l| state.log_indexes.len() > 1 || *l == e.log_id))
            .map(|e| e.log_index)
            .max();
        if let Some(offered) = relevant {
            compared = true;
            if offered < floor {
                reasons.push(RollbackReason::BelowFloor { floor, offered });
            }
        }
    }
    for (log_id, stored) in &state.log_indexes {
        if let Some(offered) = entries
            .iter()
            .filter(|e| &e.log_id == log_id)
            .map(|e| e.log_index)
            .max()
        {
            compared = true;
            if offered < *stored {
                reasons.push(RollbackReason::OlderLogIndex {
                    log_id: log_id.clone(),
                    accepted: *stored,
                    offered,
                });
            }
        }
    }
    if let (Some(stored), Some(offered)) = (state.integrated_time, evidence.newest_time) {
        compared = true;
        if offered < stored {
            reasons.push(RollbackReason::OlderTime {
                accepted: stored,
                offered,
            });
        }
    }
    if let Some(key) = accepted.version_key {
        match &evidence.version {
            None => reasons.push(RollbackReason::MissingVersion {
                annotation: key.to_owned(),
            }),
            Some(offered) => {
                if let Some(stored) = &state.signed_version {
                    compared = true;
                    if compare_versions(offered, stored) == std::cmp::Ordering::Less {
                        reasons.push(RollbackReason::OlderVersion {
                            annotation: key.to_owned(),
                            accepted: stored.clone(),
                            offered: offered.clone(),
                        });
                    }
                }
            }
        }
    }
    let history = accepted.floor.is_some()
        || state.installed.is_some()
        || !state.log_indexes.is_empty()
        || state.integrated_time.is_some()
        || state.signed_version.is_some();
    if history && !compared && !reinstall && reasons.is_empty() {
        reasons.push(RollbackReason::Unprovable {
            floor: accepted.floor,
            installed: state.installed.is_some(),
        });
    }
    reasons
}

/// Moves every ratchet of `state` forward to what `evidence` proves: never backward,
/// unless `force`, where (as Dangerzone overwrites its floor with a forced image's) the
/// forced image's values replace the old ones.
pub fn advance(state: &mut State, evidence: &Evidence, force: bool) {
    let mut per_log: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &evidence.log_entries {
        let slot = per_log.entry(&e.log_id).or_insert(e.log_index);
        *slot = (*slot).max(e.log_index);
    }
    for (log, index) in per_log {
        let slot = state.log_indexes.entry(log.to_owned()).or_insert(index);
        *slot = if force { index } else { (*slot).max(index) };
    }
    if let Some(t) = evidence.newest_time {
        state.integrated_time = Some(match state.integrated_time {
            Some(s) if !force => s.max(t),
            _ => t,
        });
    }
    if let Some(v) = &evidence.version {
        let keep_old = !force
            && state
                .signed_version
                .as_ref()
                .is_some_and(|s| compare_versions(s, v) == std::cmp::Ordering::Greater);
        if !keep_old {
            state.signed_version = Some(v.clone());
        }
    }
}

/// A possible freeze attack: the newest signature of what the registry serves is older
/// than the profile allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freeze {
    /// The image.
    pub image: String,
    /// The newest authenticated signing time of its accepted signatures (`None`: none
    /// carries one).
    pub newest_signed_time: Option<i64>,
    /// The time of the check.
    pub now: i64,
    /// The profile's maximum age, in seconds.
    pub max_age_secs: u64,
    /// Whether the registry still serves the installed image (checked against the log
    /// time kept in the state).
    pub still_installed: bool,
}

impl std::fmt::Display for Freeze {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let max = format_duration(Duration::from_secs(self.max_age_secs));
        match self.newest_signed_time {
            None => write!(
                f,
                "no accepted signature of {} carries a signed time, so its age cannot be checked against the maximum of {max}",
                self.image
            ),
            Some(t) => {
                let age = format_duration(Duration::from_secs(
                    u64::try_from(self.now.saturating_sub(t)).unwrap_or(0),
                ));
                let what = if self.still_installed {
                    format!(
                        "{} still serves the installed image, whose newest signature was logged",
                        self.image
                    )
                } else {
                    format!("the newest signature of {} was made", self.image)
                };
                write!(
                    f,
                    "{what} {age} ago, more than the maximum of {max}: the registry may be withholding updates"
                )
            }
        }
    }
}

/// Refuses a newest signing time older than `max_age` at `now` (nothing to check without
/// a maximum).
pub fn check_freeze(
    image: &str,
    max_age: Option<Duration>,
    newest: Option<i64>,
    now: i64,
    still_installed: bool,
) -> Result<(), Freeze> {
    let Some(max_age) = max_age else {
        return Ok(());
    };
    let too_old = match newest {
        None => true,
        Some(t) => now.saturating_sub(t) > i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
    };
    if !too_old {
        return Ok(());
    }
    Err(Freeze {
        image: image.to_owned(),
        newest_signed_time: newest,
        now,
        max_age_secs: max_age.as_secs(),
        still_installed,
    })
}

/// Orders versions and nightly tags naturally: runs of digits compare as numbers, other
/// runs as text (`0.10.0` > `0.9.1`, `20250101-…` > `20241219-…`).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(rb.iter()) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ra.len().cmp(&rb.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    const L1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const L2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

    fn entry(log: &str, index: u64, time: Option<i64>) -> LogEntry {
        LogEntry {
            log_id: log.to_owned(),
            log_index: index,
            integrated_time: time,
        }
    }

    fn evidence(entries: Vec<LogEntry>, version: Option<&str>) -> Evidence {
        Evidence {
            newest_time: entries.iter().filter_map(|e| e.integrated_time).max(),
            log_entries: entries,
            version: version.map(str::to_owned),
        }
    }

    fn accepted(state: &State, floor: Option<u64>) -> Accepted<'_> {
        Accepted {
            state,
            floor,
            version_key: None,
        }
    }

    fn installed() -> State {
        let mut s = State::default();
        advance(
            &mut s,
            &evidence(vec![entry(L1, 100, Some(1000))], None),
            false,
        );
        s.installed = Some(latch_store::Installed {
            repository: "r".into(),
            signed_digest: latch_oci::Digest::sha256_of(b"x"),
            platform_digest: None,
            log_index: Some(100),
            installed_at: 0,
        });
        s
    }

    #[test]
    fn a_fresh_installation_takes_anything_proven_or_not() {
        let s = State::default();
        assert!(check_rollback(accepted(&s, None), &Evidence::default(), false).is_empty());
        let e = evidence(vec![entry(L1, 5, Some(10))], None);
        assert!(check_rollback(accepted(&s, None), &e, false).is_empty());
    }

    #[test]
    fn the_floor_refuses_lower_indexes_with_both_values() {
        let s = State::default();
        let e = evidence(vec![entry(L1, 5, Some(10))], None);
        assert_eq!(
            check_rollback(accepted(&s, Some(6)), &e, false),
            vec![RollbackReason::BelowFloor {
                floor: 6,
                offered: 5
            }]
        );
        assert!(check_rollback(accepted(&s, Some(5)), &e, false).is_empty());
    }

    #[test]
    fn a_floor_without_any_log_index_is_never_lost_silently() {
        // No Rekor key: nothing to compare with the floor.
        let s = State::default();
        let reasons = check_rollback(accepted(&s, Some(6)), &Evidence::default(), false);
        assert_eq!(
            reasons,
            vec![RollbackReason::Unprovable {
                floor: Some(6),
                installed: false
            }]
        );
        assert!(!reasons[0].proves_older());
    }

    #[test]
    fn after_an_install_an_image_without_proof_is_refused() {
        // tlog optional: an older image whose signature simply omits its Rekor bundle.
        let s = installed();
        let reasons = check_rollback(accepted(&s, Some(100)), &Evidence::default(), false);
        assert!(
            matches!(reasons[..], [RollbackReason::Unprovable { .. }]),
            "{reasons:?}"
        );
        // ...unless it is the image already accepted.
        assert!(check_rollback(accepted(&s, Some(100)), &Evidence::default(), true).is_empty());
    }

    #[test]
    fn per_log_index_and_time_with_both_values() {
        let s = installed();
        let older = evidence(vec![entry(L1, 99, Some(999))], None);
        let r = check_rollback(accepted(&s, None), &older, false);
        assert!(r.contains(&RollbackReason::OlderLogIndex {
            log_id: L1.into(),
            accepted: 100,
            offered: 99
        }));
        assert!(r.contains(&RollbackReason::OlderTime {
            accepted: 1000,
            offered: 999
        }));
        // A new shard (another log) with a later time is proven newer.
        let shard = evidence(vec![entry(L2, 1, Some(2000))], None);
        assert!(check_rollback(accepted(&s, Some(100)), &shard, false).is_empty());
        // A new shard without a time (Rekor v2) proves nothing.
        let v2 = evidence(vec![entry(L2, 1, None)], None);
        assert!(matches!(
            check_rollback(accepted(&s, Some(100)), &v2, false)[..],
            [RollbackReason::Unprovable { .. }]
        ));
    }

    #[test]
    fn signed_versions_ratchet_and_are_proof() {
        let mut s = State::default();
        fn a(s: &State) -> Accepted<'_> {
            Accepted {
                state: s,
                floor: None,
                version_key: Some("v"),
            }
        }
        assert_eq!(
            check_rollback(a(&s), &Evidence::default(), false),
            vec![RollbackReason::MissingVersion {
                annotation: "v".into()
            }]
        );
        advance(&mut s, &evidence(vec![], Some("0.10.0")), false);
        s.installed = installed().installed;
        assert!(check_rollback(a(&s), &evidence(vec![], Some("0.10.1")), false).is_empty());
        assert_eq!(
            check_rollback(a(&s), &evidence(vec![], Some("0.9.9")), false),
            vec![RollbackReason::OlderVersion {
                annotation: "v".into(),
                accepted: "0.10.0".into(),
                offered: "0.9.9".into()
            }]
        );
    }

    #[test]
    fn advance_moves_forward_only_unless_forced() {
        let mut s = installed();
        advance(
            &mut s,
            &evidence(vec![entry(L1, 50, Some(500))], Some("1")),
            false,
        );
        assert_eq!(s.log_indexes[L1], 100);
        assert_eq!(s.integrated_time, Some(1000));
        advance(
            &mut s,
            &evidence(vec![entry(L1, 50, Some(500))], Some("0")),
            true,
        );
        assert_eq!(s.log_indexes[L1], 50);
        assert_eq!(s.integrated_time, Some(500));
        assert_eq!(s.signed_version.as_deref(), Some("0"));
    }

    #[test]
    fn freeze_with_the_figures() {
        let day = Duration::from_secs(86_400);
        assert!(check_freeze("i", None, None, 0, false).is_ok());
        assert!(check_freeze("i", Some(day), Some(100), 100 + 86_400, false).is_ok());
        let f = check_freeze("i", Some(day), Some(100), 100 + 86_401, false).unwrap_err();
        assert_eq!(f.newest_signed_time, Some(100));
        assert_eq!(f.max_age_secs, 86_400);
        assert!(f.to_string().contains("1d"), "{f}");
        let none = check_freeze("i", Some(day), None, 5, true).unwrap_err();
        assert!(none.to_string().contains("cannot be checked"), "{none}");
    }

    #[test]
    fn versions_order_naturally() {
        assert_eq!(compare_versions("0.10.0", "0.9.1"), Greater);
        assert_eq!(
            compare_versions("20250101-0.9.0-1-gabc", "20241219-0.8.0-77-g06a9117"),
            Greater
        );
        assert_eq!(compare_versions("1.2", "1.2"), Equal);
        assert_eq!(compare_versions("1.2", "1.2.1"), Less);
        assert_eq!(compare_versions("007", "7"), Equal);
        assert_eq!(compare_versions("", "1"), Less);
    }
}
