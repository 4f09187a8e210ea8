//! Holding a verified image back (a status, not an error) until the profile's minimum age
//! has passed and this installation's turn in a staged rollout has come. Both are
//! measured from times a third party witnessed (the log's, a timestamp authority's);
//! `check` and `upgrade` ask the same question here.

use latch_decide::Verdict;
use latch_store::State;
use latch_trust::rollout::{ROLLOUT_ANNOTATION, Rollout, Schedule, bucket};

use crate::error::Result;
use crate::flows::min_age::age;
use crate::updater::Updater;

/// Bound on the digests whose first sighting is remembered.
const MAX_FIRST_SEEN: usize = 16;

/// Whether (and until when) an image is held back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hold {
    /// Held at all.
    pub held: bool,
    /// When every reason to hold it will have passed (`None`: unknown, or never without
    /// a new signature).
    pub until: Option<i64>,
    /// Why, one sentence each.
    pub reasons: Vec<String>,
    /// A first sighting to remember (a schedule without a log time starts there).
    pub first_seen: Option<(String, i64)>,
}

impl Hold {
    fn add(&mut self, until: Option<i64>, reason: String) {
        self.until = match (self.held, self.until, until) {
            (false, _, u) => u,
            (true, Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        self.held = true;
        self.reasons.push(reason);
    }

    /// Records the first sighting in `state` (the caller saves it), forgetting the
    /// oldest beyond the bound.
    pub fn remember(&self, state: &mut State) {
        let Some((digest, at)) = &self.first_seen else {
            return;
        };
        state.first_seen.insert(digest.clone(), *at);
        while state.first_seen.len() > MAX_FIRST_SEEN {
            let oldest = state
                .first_seen
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(d, _)| d.clone());
            match oldest {
                Some(d) => state.first_seen.remove(&d),
                None => break,
            };
        }
    }
}

/// The schedule of the newest accepted signature that carries one (signing the digest
/// again with a new schedule changes it), with the time it was witnessed.
fn schedule_of(verdict: &Verdict) -> Option<(std::result::Result<Schedule, String>, Option<i64>)> {
    verdict
        .outcomes
        .iter()
        .filter_map(|o| {
            let text = o.accepted()?.annotations.get(ROLLOUT_ANNOTATION)?;
            Some((o.newest_witnessed_time(), text))
        })
        .max_by_key(|(t, _)| *t)
        .map(|(t, text)| (Schedule::parse(text).map_err(|e| e.to_string()), t))
}

impl Updater {
    /// Whether `verdict`'s image is held back at `now`: by the minimum age, by a staged
    /// rollout schedule signed into its payload.
    pub(crate) fn hold(&self, state: &State, verdict: &Verdict, now: i64) -> Result<Hold> {
        let mut hold = Hold::default();
        let a = age(self.profile.min_age, verdict.newest_witnessed_time(), now);
        if a.held() {
            hold.add(
                a.until(),
                a.explain(self.profile.min_age).unwrap_or_default(),
            );
        }
        let Some((schedule, witnessed)) = schedule_of(verdict) else {
            return Ok(hold);
        };
        let schedule = match schedule {
            Ok(s) => s,
            Err(e) => {
                hold.add(
                    None,
                    format!("held: the signed rollout schedule cannot be read ({e}); --now installs it anyway"),
                );
                return Ok(hold);
            }
        };
        let digest = verdict.digest.to_string();
        let start = match (witnessed, state.first_seen.get(&digest)) {
            (Some(t), _) => t,
            (None, Some(t)) => *t,
            (None, None) => {
                hold.first_seen = Some((digest.clone(), now));
                now
            }
        };
        let b = bucket(&self.store.install_id()?, &digest);
        match schedule.decide(b, start, now) {
            Rollout::Ready { .. } => {}
            Rollout::HeldUntil { share, until } => hold.add(
                Some(until),
                format!(
                    "held by the staged rollout {schedule} (now at {share}%): this installation (bucket {b}) takes it at {until} (Unix time); --now installs it anyway"
                ),
            ),
            Rollout::Paused { share } => hold.add(
                None,
                format!(
                    "held by the staged rollout {schedule}: paused at {share}%, this installation (bucket {b}) waits for a new schedule; --now installs it anyway"
                ),
            ),
        }
        Ok(hold)
    }
}
