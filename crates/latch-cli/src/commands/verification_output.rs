//! How a one-shot verification is shown (`verify`, `verify-signatures`): one JSON shape
//! whatever signed the image (legacy `.sig`, keyless, cosign v3 bundles, mixed), or a
//! verdict line, one line per signature and the highest log index. Not verified exits 1.

use std::process::ExitCode;

use latch::sources::Decided;

use crate::output::{AnyError, print_json};

/// Renders a decision about `subject`.
pub fn report(decided: &Decided, subject: &str, json: bool) -> Result<ExitCode, AnyError> {
    let v = &decided.verdict;
    if json {
        print_json(&serde_json::json!({
            "verified": v.trusted,
            "subject": subject,
            "digest": v.digest,
            "max_log_index": v.max_log_index,
            "verdict": v,
        }))?;
    } else {
        let out = |line: String| {
            if v.trusted {
                println!("{line}")
            } else {
                eprintln!("{line}")
            }
        };
        out(format!(
            "{} {}: {}",
            if v.trusted {
                "Verified"
            } else {
                "latch: NOT verified"
            },
            v.digest,
            super::signed_by(v)
        ));
        for o in &v.outcomes {
            out(format!("  {o}"));
            if let Ok(a) = &o.result {
                for (claim, value) in &a.claims {
                    out(format!("    {claim}: {value}"));
                }
            }
        }
        if v.outcomes.is_empty() {
            out("  no signatures found".to_owned());
        }
        if let Some(i) = v.max_log_index {
            out(format!("Highest log index: {i}"));
        }
    }
    Ok(if v.trusted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
