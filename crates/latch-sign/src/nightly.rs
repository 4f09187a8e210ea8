//! Nightly tags, `YYYYMMDD-<version>-<n>-g<commit>` (e.g. `20241219-0.8.0-77-g06a9117`,
//! the date of the build and `git describe` of its commit): parsed, ordered by date then
//! describe count, and the candidate for a commit picked, refused when older than a
//! maximum age.
//!
//! A tag without the count (`YYYYMMDD-<version>-g<commit>`, a commit exactly at a release)
//! counts 0. Anything else (`latest`, `sha256-….sig`, a bad date) is ignored and listed as
//! such. The age of a nightly is measured from the start (00:00 UTC) of its date: the
//! oldest its build can be.

use std::cmp::Ordering;

use latch_oci::{Digest, Reference};
use latch_registry::{Client, RegistryError};
use serde::Serialize;

/// Bound on the nightlies and ignored tags listed in a report (the newest are kept).
pub const MAX_LISTED: usize = 10_000;
/// A nightly may be dated at most this far past `now` (time zones of build machines).
pub const FUTURE_SLACK_SECS: i64 = 86_400;

/// A parsed nightly tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NightlyTag {
    /// The tag as found.
    pub tag: String,
    /// The date, `YYYY-MM-DD`.
    pub date: String,
    /// The version part (`0.8.0`).
    pub version: String,
    /// Commits since the version (`git describe` count; 0 when absent).
    pub count: u64,
    /// The abbreviated commit (lowercase hex).
    pub commit: String,
    /// Unix time of 00:00 UTC on the date.
    pub day_start: i64,
}

impl NightlyTag {
    /// Parses a tag; `None` when it is not a nightly tag.
    pub fn parse(tag: &str) -> Option<NightlyTag> {
        let (date, rest) = tag.split_once('-')?;
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let year: i64 = date[0..4].parse().ok()?;
        let month: u32 = date[4..6].parse().ok()?;
        let day: u32 = date[6..8].parse().ok()?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let (head, commit) = rest.rsplit_once("-g")?;
        if !(4..=40).contains(&commit.len()) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        // `<version>-<n>` or just `<version>`.
        let (version, count) = match head.rsplit_once('-') {
            Some((v, n))
                if !v.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (v, n.parse::<u64>().ok()?)
            }
            _ => (head, 0),
        };
        let bare = version.strip_prefix('v').unwrap_or(version);
        if !bare.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(NightlyTag {
            tag: tag.to_owned(),
            date: format!("{year:04}-{month:02}-{day:02}"),
            version: version.to_owned(),
            count,
            commit: commit.to_ascii_lowercase(),
            day_start: days_from_civil(year, month, day) * 86_400,
        })
    }

    /// Seconds from the start of this nightly's date to `now` (negative if in the future).
    pub fn age_secs(&self, now: i64) -> i64 {
        now.saturating_sub(self.day_start)
    }

    /// Whether this nightly was built from `commit` (a prefix of at least 4 hex digits, or
    /// a full id): one is a prefix of the other, both read from the start.
    pub fn matches_commit(&self, commit: &str) -> bool {
        let c = commit.to_ascii_lowercase();
        self.commit.starts_with(&c) || c.starts_with(&self.commit)
    }

    /// Newest first: later date, then higher count, then the tag (for a stable order).
    fn newest_first(a: &NightlyTag, b: &NightlyTag) -> Ordering {
        b.day_start
            .cmp(&a.day_start)
            .then(b.count.cmp(&a.count))
            .then(b.tag.cmp(&a.tag))
    }
}

/// Tags split into nightlies (newest first) and the ones ignored (sorted).
pub fn classify(tags: impl IntoIterator<Item = String>) -> (Vec<NightlyTag>, Vec<String>) {
    let mut nightlies = Vec::new();
    let mut ignored = Vec::new();
    for t in tags {
        match NightlyTag::parse(&t) {
            Some(n) => nightlies.push(n),
            None => ignored.push(t),
        }
    }
    nightlies.sort_by(NightlyTag::newest_first);
    nightlies.dedup_by(|a, b| a.tag == b.tag);
    ignored.sort();
    ignored.dedup();
    (nightlies, ignored)
}

/// Why no candidate can be given.
#[derive(Debug, thiserror::Error)]
pub enum NightlyError {
    /// A duration that does not parse.
    #[error("duration {input:?}: {reason} (examples: 2d, 12h, 1d12h, 90m, 1w)")]
    BadDuration {
        /// The input (clipped).
        input: String,
        /// Why.
        reason: String,
    },
    /// A commit that is not 4 to 40 hex digits.
    #[error("commit {commit:?} is not 4 to 40 hexadecimal digits")]
    BadCommit {
        /// The commit given (clipped).
        commit: String,
    },
    /// The registry failed.
    #[error("{doing} {location}: {source}")]
    Registry {
        /// What was being done.
        doing: &'static str,
        /// The reference.
        location: String,
        /// The client's error.
        #[source]
        source: Box<RegistryError>,
    },
    /// No nightly tag for this commit (or none at all).
    #[error("{repository} has no nightly tag{}", .commit.as_ref().map(|c| format!(" for commit {c}")).unwrap_or_default())]
    NoCandidate {
        /// The repository.
        repository: String,
        /// The commit asked for.
        commit: Option<String>,
    },
    /// The commit prefix matches nightlies of different commits.
    #[error("commit {commit} is ambiguous: nightlies exist for {}", .commits.join(", "))]
    AmbiguousCommit {
        /// The prefix given.
        commit: String,
        /// The commits it matches.
        commits: Vec<String>,
    },
    /// The newest candidate is older than the maximum age.
    #[error(
        "the newest candidate {tag} is {} old, over the maximum age of {}",
        human_duration(*.age_secs), human_duration(*.max_age_secs)
    )]
    TooOld {
        /// The candidate.
        tag: String,
        /// Its age.
        age_secs: i64,
        /// The maximum.
        max_age_secs: i64,
    },
    /// The candidate is dated more than a day after now.
    #[error(
        "the candidate {tag} is dated {date}, after today: check the clock, or the tag is not genuine"
    )]
    FutureDated {
        /// The candidate.
        tag: String,
        /// Its date.
        date: String,
    },
}

/// Parses a duration as every Latch command reads one (`90`, `90s`, `12h`, `2d`, `1w`, sums
/// like `1d12h`: [`latch_oci::parse_duration`]) into seconds, more than zero.
pub fn parse_duration(input: &str) -> Result<i64, NightlyError> {
    let bad = |reason: String| NightlyError::BadDuration {
        input: latch_oci::text::clip(input, 40),
        reason,
    };
    let d = latch_oci::parse_duration(input).map_err(|e| bad(e.to_string()))?;
    let secs = i64::try_from(d.as_secs()).map_err(|_| bad("too large".into()))?;
    if secs == 0 {
        return Err(bad("must be more than zero".into()));
    }
    Ok(secs)
}

/// Checks a commit argument: 4 to 40 hex digits; returned lowercase.
pub fn check_commit(commit: &str) -> Result<String, NightlyError> {
    if !(4..=40).contains(&commit.len()) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NightlyError::BadCommit {
            commit: commit.chars().take(64).collect(),
        });
    }
    Ok(commit.to_ascii_lowercase())
}

/// Picks the newest nightly (of `commit`, when given) from `nightlies` (newest first), and
/// refuses it when it is older than `max_age_secs` or dated after tomorrow.
pub fn select<'a>(
    repository: &str,
    nightlies: &'a [NightlyTag],
    commit: Option<&str>,
    max_age_secs: Option<i64>,
    now: i64,
) -> Result<&'a NightlyTag, NightlyError> {
    let commit = commit.map(check_commit).transpose()?;
    let mut matching = nightlies
        .iter()
        .filter(|n| commit.as_deref().is_none_or(|c| n.matches_commit(c)));
    let Some(newest) = matching.next() else {
        return Err(NightlyError::NoCandidate {
            repository: repository.to_owned(),
            commit,
        });
    };
    if let Some(c) = &commit {
        let mut commits: Vec<String> = nightlies
            .iter()
            .filter(|n| n.matches_commit(c))
            .map(|n| n.commit.clone())
            .collect();
        commits.sort();
        commits.dedup();
        // Abbreviations of one commit are prefixes of each other; two that are not name
        // different commits.
        let one_commit = commits.iter().all(|a| {
            commits
                .iter()
                .all(|b| a.starts_with(b.as_str()) || b.starts_with(a.as_str()))
        });
        if !one_commit {
            return Err(NightlyError::AmbiguousCommit {
                commit: c.clone(),
                commits,
            });
        }
    }
    if newest.day_start > now.saturating_add(FUTURE_SLACK_SECS) {
        return Err(NightlyError::FutureDated {
            tag: newest.tag.clone(),
            date: newest.date.clone(),
        });
    }
    if let Some(max) = max_age_secs {
        let age = newest.age_secs(now);
        if age > max {
            return Err(NightlyError::TooOld {
                tag: newest.tag.clone(),
                age_secs: age,
                max_age_secs: max,
            });
        }
    }
    Ok(newest)
}

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct NightlyQuery {
    /// Only nightlies of this commit (prefix, 4 to 40 hex digits).
    pub commit: Option<String>,
    /// Refuse a candidate older than this many seconds.
    pub max_age_secs: Option<i64>,
    /// Unix seconds.
    pub now: i64,
}

/// The chosen nightly, resolved to a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NightlyCandidate {
    /// The nightly.
    #[serde(flatten)]
    pub nightly: NightlyTag,
    /// The digest the tag resolves to now (hash of the manifest bytes received).
    pub digest: Digest,
    /// `repository@digest`, what to sign and promote.
    pub reference: String,
    /// Seconds since the start of its date.
    pub age_secs: i64,
}

/// The nightlies of a repository and the candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NightlyReport {
    /// The repository.
    pub repository: String,
    /// Nightlies, newest first.
    pub nightlies: Vec<NightlyTag>,
    /// Tags that are not nightlies.
    pub ignored: Vec<String>,
    /// The newest nightly (of the commit, when asked), within the maximum age.
    pub candidate: Option<NightlyCandidate>,
}

/// Lists `repository`'s tags, parses the nightlies and resolves the candidate. Without a
/// commit or a maximum age an empty repository gives a report with no candidate; with
/// either, no acceptable candidate is an error.
pub async fn nightlies(
    client: &Client,
    repository: &Reference,
    query: &NightlyQuery,
) -> Result<NightlyReport, NightlyError> {
    let name = repository.name();
    let tags = client
        .list_tags(repository)
        .await
        .map_err(|source| NightlyError::Registry {
            doing: "listing the tags of",
            location: name.clone(),
            source: Box::new(source),
        })?;
    let (mut all, mut ignored) = classify(tags);
    let strict = query.commit.is_some() || query.max_age_secs.is_some();
    let chosen = match select(
        &name,
        &all,
        query.commit.as_deref(),
        query.max_age_secs,
        query.now,
    ) {
        Ok(n) => Some(n.clone()),
        Err(NightlyError::NoCandidate { .. }) if !strict => None,
        Err(e) => return Err(e),
    };
    let candidate = match chosen {
        None => None,
        Some(n) => {
            let tagged = repository
                .with_tag(&n.tag)
                .map_err(|_| NightlyError::NoCandidate {
                    repository: name.clone(),
                    commit: query.commit.clone(),
                })?;
            let m =
                client
                    .get_manifest(&tagged)
                    .await
                    .map_err(|source| NightlyError::Registry {
                        doing: "resolving",
                        location: tagged.to_string(),
                        source: Box::new(source),
                    })?;
            let digest = m.digest().clone();
            Some(NightlyCandidate {
                reference: repository.with_digest(digest.clone()).to_string(),
                digest,
                age_secs: n.age_secs(query.now),
                nightly: n,
            })
        }
    };
    all.truncate(MAX_LISTED);
    ignored.truncate(MAX_LISTED);
    Ok(NightlyReport {
        repository: name,
        nightlies: all,
        ignored,
        candidate,
    })
}

/// `93784` → `1d2h3m` (whole minutes; seconds only under a minute).
pub fn human_duration(secs: i64) -> String {
    if secs < 60 {
        return format!("{secs}s");
    }
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let mut out = String::new();
    if d > 0 {
        out.push_str(&format!("{d}d"));
    }
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 && d == 0 {
        out.push_str(&format!("{m}m"));
    }
    if out.is_empty() {
        out.push_str("0m");
    }
    out
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_dangerzone_example() {
        let n = NightlyTag::parse("20241219-0.8.0-77-g06a9117").unwrap();
        assert_eq!(n.date, "2024-12-19");
        assert_eq!(n.version, "0.8.0");
        assert_eq!(n.count, 77);
        assert_eq!(n.commit, "06a9117");
        assert_eq!(n.day_start, 1_734_566_400);
        let n = NightlyTag::parse("20250101-0.9.0-rc1-3-gABCDEF0").unwrap();
        assert_eq!(
            (n.version.as_str(), n.count, n.commit.as_str()),
            ("0.9.0-rc1", 3, "abcdef0")
        );
        let n = NightlyTag::parse("20240229-0.8.0-g06a9117").unwrap();
        assert_eq!((n.version.as_str(), n.count), ("0.8.0", 0));
    }

    #[test]
    fn ignores_junk() {
        for t in [
            "latest",
            "sha256-0000.sig",
            "2024121-0.8.0-77-g06a9117",
            "20241319-0.8.0-77-g06a9117",
            "20230229-0.8.0-77-g06a9117",
            "20241219-0.8.0-77-g06a91",
            "20241219-0.8.0-77-gxyz1234",
            "20241219--77-g06a9117",
            "20241219-0.8.0-77-g",
            "20241219-v-1-g06a9117",
            "20241219-0.8.0-77-g06a9117-dirty",
        ] {
            if t == "20241219-0.8.0-77-g06a91" {
                // five hex digits is a valid abbreviation
                assert!(NightlyTag::parse(t).is_some());
                continue;
            }
            assert!(NightlyTag::parse(t).is_none(), "{t}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2d").unwrap(), 172_800);
        assert_eq!(parse_duration("12h").unwrap(), 43_200);
        assert_eq!(parse_duration("1d12h").unwrap(), 129_600);
        assert_eq!(parse_duration("90m").unwrap(), 5_400);
        assert_eq!(parse_duration("1w").unwrap(), 604_800);
        assert_eq!(parse_duration("90").unwrap(), 90);
        for bad in [
            "",
            "0",
            "d",
            "2x",
            "0d",
            "-1d",
            "99999999999999999999d",
            "1.5d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(human_duration(93_784), "1d2h");
        assert_eq!(human_duration(3_720), "1h2m");
    }

    #[test]
    fn orders_and_selects() {
        let tags = [
            "20241218-0.8.0-76-gaaaaaaa",
            "20241219-0.8.0-77-g06a9117",
            "20241219-0.8.0-78-gbbbbbbb",
            "20241217-0.8.0-77-g06a9117",
            "latest",
        ]
        .map(String::from);
        let (n, ignored) = classify(tags);
        let order: Vec<&str> = n.iter().map(|t| t.tag.as_str()).collect();
        assert_eq!(
            order,
            [
                "20241219-0.8.0-78-gbbbbbbb",
                "20241219-0.8.0-77-g06a9117",
                "20241218-0.8.0-76-gaaaaaaa",
                "20241217-0.8.0-77-g06a9117"
            ]
        );
        assert_eq!(ignored, ["latest"]);
        let now = 1_734_566_400 + 3_600; // 2024-12-19 01:00 UTC
        let c = select("r", &n, Some("06a9117"), None, now).unwrap();
        assert_eq!(c.tag, "20241219-0.8.0-77-g06a9117");
        let c = select("r", &n, Some("06A9117cafe00000"), Some(86_400), now).unwrap();
        assert_eq!(c.tag, "20241219-0.8.0-77-g06a9117");
        assert!(matches!(
            select("r", &n, Some("06a9118"), None, now),
            Err(NightlyError::NoCandidate { .. })
        ));
        // Anchored: a substring is not a prefix.
        assert!(select("r", &n, Some("a9117"), None, now).is_err());
        assert!(matches!(
            select("r", &n, Some("aaaaaaa"), Some(86_400), now),
            Err(NightlyError::TooOld { .. })
        ));
        assert!(matches!(
            select("r", &n, Some("zz"), None, now),
            Err(NightlyError::BadCommit { .. })
        ));
        let (n2, _) =
            classify(["20241219-0.8.0-1-g06a9117", "20241219-0.8.0-2-g06a9abc"].map(String::from));
        assert!(matches!(
            select("r", &n2, Some("06a9"), None, now),
            Err(NightlyError::AmbiguousCommit { .. })
        ));
        assert!(matches!(
            select("r", &n, None, None, 1_734_566_400 - 3 * 86_400),
            Err(NightlyError::FutureDated { .. })
        ));
    }
}
