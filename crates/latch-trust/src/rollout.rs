//! Staged rollouts: a schedule signed into the payload's `optional` map (so cosign and
//! containers/image still accept the signature) under [`ROLLOUT_ANNOTATION`], as
//! `10%@0h,50%@24h,100%@72h`: the share of installations that may take the image, from
//! a time measured from the signature's log time. Each installation has a bucket (0-99),
//! a stable hash of its random install ID and the digest, and takes the image once the
//! share is above its bucket. Pure: the caller passes the times.

use sha2::{Digest as _, Sha256};

/// The payload annotation holding the schedule.
pub const ROLLOUT_ANNOTATION: &str = "dev.latch.rollout";

/// Bound on the steps of a schedule.
const MAX_STEPS: usize = 32;

/// A rollout schedule: `(percent, seconds after the start)`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    steps: Vec<(u8, u64)>,
}

/// Why a schedule does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rollout schedule {schedule:?}: {reason} (expected e.g. 10%@0h,50%@24h,100%@72h)")]
pub struct ScheduleError {
    /// The schedule, clipped.
    pub schedule: String,
    /// What is wrong.
    pub reason: String,
}

impl Schedule {
    /// Parses `P%@DURATION,...`: percentages 0 to 100, durations (`0h`, `24h`, `3d`,
    /// `1d12h`) not decreasing.
    pub fn parse(s: &str) -> Result<Schedule, ScheduleError> {
        let bad = |reason: String| ScheduleError {
            schedule: s.chars().take(200).collect(),
            reason,
        };
        let mut steps = Vec::new();
        for part in s.split(',').map(str::trim) {
            if steps.len() == MAX_STEPS {
                return Err(bad(format!("more than {MAX_STEPS} steps")));
            }
            let (pct, at) = part
                .split_once("%@")
                .ok_or_else(|| bad(format!("step {part:?} is not P%@DURATION")))?;
            let pct: u8 = pct
                .trim()
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| bad(format!("{pct:?} is not a percentage from 0 to 100")))?;
            let at = latch_oci::duration::parse_duration(at.trim())
                .map_err(|e| bad(format!("{at:?}: {e}")))?
                .as_secs();
            if steps.last().is_some_and(|(_, prev)| at < *prev) {
                return Err(bad("the times go backwards".into()));
            }
            steps.push((pct, at));
        }
        Ok(Schedule { steps })
    }

    /// The share (percent) allowed `elapsed` seconds after the start: the last step
    /// reached (0 before the first).
    pub fn share_at(&self, elapsed: i64) -> u8 {
        self.steps
            .iter()
            .take_while(|(_, at)| i64::try_from(*at).is_ok_and(|at| at <= elapsed))
            .last()
            .map_or(0, |(p, _)| *p)
    }

    /// Whether `bucket` may take the image at `now`, for a rollout started at `start`.
    pub fn decide(&self, bucket: u8, start: i64, now: i64) -> Rollout {
        let elapsed = now.saturating_sub(start);
        let share = self.share_at(elapsed);
        if bucket < share {
            return Rollout::Ready { share };
        }
        let next = self
            .steps
            .iter()
            .find(|(p, at)| bucket < *p && i64::try_from(*at).is_ok_and(|at| at > elapsed));
        match next {
            Some((_, at)) => Rollout::HeldUntil {
                share,
                until: start.saturating_add(i64::try_from(*at).unwrap_or(i64::MAX)),
            },
            None => Rollout::Paused { share },
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .steps
            .iter()
            .map(|(p, at)| {
                format!(
                    "{p}%@{}",
                    latch_oci::duration::format_duration(std::time::Duration::from_secs(*at))
                )
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// What a schedule says for one installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    /// Its bucket is within the share.
    Ready {
        /// The share now.
        share: u8,
    },
    /// Not yet: a later step takes it.
    HeldUntil {
        /// The share now.
        share: u8,
        /// When a step will include its bucket (Unix time).
        until: i64,
    },
    /// No step of the schedule takes it (a paused rollout).
    Paused {
        /// The share now.
        share: u8,
    },
}

/// The bucket (0-99) of an installation for an image: a stable hash of its install ID
/// and the digest, so that each image is rolled out to a different sample.
pub fn bucket(install_id: &str, digest: &str) -> u8 {
    let h = Sha256::new()
        .chain_update(install_id.as_bytes())
        .chain_update(b"\n")
        .chain_update(digest.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    (u64::from_be_bytes(first) % 100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_refuse_clearly() {
        let s = Schedule::parse("10%@0h,50%@24h,100%@72h").unwrap();
        assert_eq!(s.to_string(), "10%@0s,50%@1d,100%@3d");
        for (bad, why) in [
            ("", "not P%@DURATION"),
            ("10@0h", "not P%@DURATION"),
            ("101%@0h", "percentage"),
            ("-1%@0h", "percentage"),
            ("10%@x", "\"x\""),
            ("50%@24h,100%@1h", "backwards"),
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
        let many = vec!["1%@0h"; 40].join(",");
        assert!(
            Schedule::parse(&many)
                .unwrap_err()
                .reason
                .contains("more than")
        );
    }

    #[test]
    fn shares_grow_with_time_and_pauses_hold() {
        let s = Schedule::parse("10%@0h,50%@24h,100%@72h").unwrap();
        let day = 86_400;
        assert_eq!(s.share_at(-1), 0);
        assert_eq!(s.share_at(0), 10);
        assert_eq!(s.share_at(day), 50);
        assert_eq!(s.decide(5, 1000, 1000), Rollout::Ready { share: 10 });
        assert_eq!(
            s.decide(30, 1000, 1000),
            Rollout::HeldUntil {
                share: 10,
                until: 1000 + day
            }
        );
        assert_eq!(
            s.decide(70, 1000, 1000 + day),
            Rollout::HeldUntil {
                share: 50,
                until: 1000 + 3 * day
            }
        );
        assert_eq!(s.decide(99, 0, 3 * day), Rollout::Ready { share: 100 });
        let paused = Schedule::parse("20%@0h,0%@1h").unwrap();
        assert_eq!(paused.decide(5, 0, 7200), Rollout::Paused { share: 0 });
        assert_eq!(
            Schedule::parse("0%@0h").unwrap().decide(0, 0, 0),
            Rollout::Paused { share: 0 }
        );
    }

    #[test]
    fn buckets_are_stable_and_spread() {
        let d = "sha256:aa";
        assert_eq!(bucket("id-1", d), bucket("id-1", d));
        let mut counts = [0u32; 100];
        for i in 0..10_000 {
            counts[bucket(&format!("install-{i}"), d) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (50..=150).contains(c)), "{counts:?}");
        // Another image, another sample.
        let moved = (0..100)
            .filter(|i| {
                let id = format!("install-{i}");
                bucket(&id, d) != bucket(&id, "sha256:bb")
            })
            .count();
        assert!(moved > 80, "{moved}");
    }
}
