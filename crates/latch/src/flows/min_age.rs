//! The minimum age: a newer image is installed only once its newest accepted signature
//! was logged at least `min_age` ago, by the log's clock (a Rekor integrated time or an
//! RFC 3161 timestamp, as the verdict authenticated them), never the registry's or the
//! image's own `created`. Until then it is held: a status, not an error. This leaves a
//! release team time to revoke a stolen key before installations take its images.

use std::time::Duration;

/// Whether an image may be installed now under the minimum age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    /// Old enough (or no minimum age).
    Ready,
    /// Too young: held until this Unix time.
    HeldUntil(i64),
    /// No authenticated log time at all: its age cannot be measured, so it is held.
    Unmeasurable,
}

/// The decision over the newest authenticated signing time `newest` at `now`.
pub fn age(min_age: Option<Duration>, newest: Option<i64>, now: i64) -> Age {
    let Some(min) = min_age else {
        return Age::Ready;
    };
    let Some(newest) = newest else {
        return Age::Unmeasurable;
    };
    let until = newest.saturating_add(i64::try_from(min.as_secs()).unwrap_or(i64::MAX));
    if now >= until {
        Age::Ready
    } else {
        Age::HeldUntil(until)
    }
}

impl Age {
    /// Whether it is held.
    pub fn held(self) -> bool {
        self != Age::Ready
    }

    /// When it will be ready, if that is known.
    pub fn until(self) -> Option<i64> {
        match self {
            Age::HeldUntil(t) => Some(t),
            _ => None,
        }
    }

    /// Why it is held, for a warning.
    pub fn explain(self, min_age: Option<Duration>) -> Option<String> {
        let min = latch_oci::duration::format_duration(min_age.unwrap_or_default());
        match self {
            Age::Ready => None,
            Age::HeldUntil(t) => Some(format!(
                "held by the minimum age ({min}) until {t} (Unix time, by the log's clock); --now installs it anyway"
            )),
            Age::Unmeasurable => Some(format!(
                "held by the minimum age ({min}): no accepted signature carries a log time to measure its age; --now installs it anyway"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_until_old_enough_by_the_log_time() {
        let h = Some(Duration::from_secs(3600));
        assert_eq!(age(None, None, 100), Age::Ready);
        assert_eq!(age(h, Some(1000), 4599), Age::HeldUntil(4600));
        assert_eq!(age(h, Some(1000), 4600), Age::Ready);
        assert_eq!(age(h, None, 4600), Age::Unmeasurable);
        assert!(age(h, None, 0).held() && age(h, None, 0).until().is_none());
        assert_eq!(age(h, Some(i64::MAX - 1), 0), Age::HeldUntil(i64::MAX));
        assert!(Age::HeldUntil(5).explain(h).unwrap().contains("until 5"));
        assert!(Age::Ready.explain(h).is_none());
    }
}
