//! Durations as people write them in profiles and flags: `90`, `90s`, `30m`, `12h`, `2d`,
//! `1w`, and sums of them such as `1d12h` or `1h30m`. One parser for every place Latch
//! reads a duration.

use std::time::Duration;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Empty, or a part without its number or with an unknown unit.
    #[error("{input:?} is not a duration (e.g. 90, 90s, 30m, 12h, 2d, 1w, 1d12h)")]
    Malformed {
        /// The text (clipped).
        input: String,
    },
    /// A unit other than `s`, `m`, `h`, `d` or `w`.
    #[error("{input:?}: unknown unit {unit:?} (use s, m, h, d or w)")]
    UnknownUnit {
        /// The text (clipped).
        input: String,
        /// The unit found (clipped).
        unit: String,
    },
    /// More seconds than a `u64` holds.
    #[error("{input:?} is too long")]
    TooLong {
        /// The text (clipped).
        input: String,
    },
}

/// Parses `90`, `90s`, `30m`, `12h`, `2d`, `1w`, or a sum written without spaces, each
/// unit once or more in any order (`1d12h`, `1h30m`). A bare number is seconds; a bare
/// number may only stand alone. Surrounding whitespace is ignored.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let clipped = || crate::text::clip(input, 40);
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Malformed { input: clipped() });
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let n: u64 = text
            .parse()
            .map_err(|_| DurationError::TooLong { input: clipped() })?;
        return Ok(Duration::from_secs(n));
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(DurationError::Malformed { input: clipped() });
        }
        let (num, after) = rest.split_at(digits);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let mult: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            "" => return Err(DurationError::Malformed { input: clipped() }),
            other => {
                return Err(DurationError::UnknownUnit {
                    input: clipped(),
                    unit: crate::text::clip(other, 10),
                });
            }
        };
        let n: u64 = num
            .parse()
            .map_err(|_| DurationError::TooLong { input: clipped() })?;
        total = n
            .checked_mul(mult)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| DurationError::TooLong { input: clipped() })?;
        rest = next;
    }
    Ok(Duration::from_secs(total))
}

/// `172800 s` → `2d`, `5400 s` → `1h30m`, for messages (what [`parse_duration`] reads).
pub fn format_duration(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_compound_durations() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("90"), Ok(90));
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("12h"), Ok(43_200));
        assert_eq!(secs("2d"), Ok(172_800));
        assert_eq!(secs(" 1w "), Ok(604_800));
        assert_eq!(secs("1d12h"), Ok(129_600));
        assert_eq!(secs("1h30m"), Ok(5_400));
        assert_eq!(secs("90m"), Ok(5_400));
        assert_eq!(secs("0s"), Ok(0));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in [
            "", " ", "h", "2x", "-1d", "1.5h", "1d 12h", "d1", "1dh", "12h3",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse_duration("2x"),
            Err(DurationError::UnknownUnit { unit, .. }) if unit == "x"
        ));
        assert!(matches!(
            parse_duration("99999999999999999999d"),
            Err(DurationError::TooLong { .. })
        ));
        assert!(matches!(
            parse_duration("300000000000000w300000000000000w"),
            Err(DurationError::TooLong { .. })
        ));
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(172_800)), "2d");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        for s in [1, 59, 61, 3601, 90_061, 1_000_000] {
            let d = Duration::from_secs(s);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
