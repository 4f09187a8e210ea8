//! How a verification is shown: a verdict line, one line per signature, the highest log
//! index; or one JSON document. Failures exit 1 and say which signature failed which check.

use std::process::ExitCode;

use latch::Error;
use latch::trust::{Verdict, VerifyError};
use latch::verify::Verification;

use crate::output::{AnyError, print_json};

/// Renders the result of a verification.
pub fn report(
    result: Result<Verification, Error>,
    subject: &str,
    digest: &str,
    json: bool,
) -> Result<ExitCode, AnyError> {
    match result {
        Ok(v) => {
            if json {
                print_json(&serde_json::json!({
                    "verified": true,
                    "subject": subject,
                    "digest": v.digest,
                    "max_log_index": v.verdict.max_log_index,
                    "verdict": v.verdict,
                }))?;
            } else {
                println!(
                    "Verified {}: {} of {} required key(s) signed it",
                    v.digest,
                    v.verdict.keys_satisfied(),
                    v.verdict.threshold
                );
                print_outcomes(&v.verdict);
                if let Some(i) = v.verdict.max_log_index {
                    println!("Highest log index: {i}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let verdict = match &e {
                Error::NotVerified(VerifyError::ThresholdNotMet { verdict }) => {
                    Some(verdict.as_ref())
                }
                _ => None,
            };
            if json {
                print_json(&serde_json::json!({
                    "verified": false,
                    "subject": subject,
                    "digest": digest,
                    "error": e.to_string(),
                    "verdict": verdict,
                }))?;
                return Ok(ExitCode::FAILURE);
            }
            match verdict {
                Some(v) => {
                    eprintln!(
                        "latch: NOT verified {}: {} of {} required key(s) validly signed it",
                        v.digest,
                        v.keys_satisfied(),
                        v.threshold
                    );
                    for o in &v.outcomes {
                        eprintln!("  {o}");
                    }
                    if v.outcomes.is_empty() {
                        eprintln!("  no signatures found");
                    }
                    Ok(ExitCode::FAILURE)
                }
                None => Err(Box::new(e)),
            }
        }
    }
}

fn print_outcomes(v: &Verdict) {
    for o in &v.outcomes {
        println!("  {o}");
    }
}
