//! How a one-shot verification is shown (`verify`, `verify-signatures`): one JSON shape
//! whatever signed the image (legacy `.sig`, keyless, cosign v3 bundles, mixed), or a
//! verdict line, one line per signature and the highest log index. Not verified exits 1.

use std::process::ExitCode;

use latch::sources::Decided;

use crate::output::{AnyError, errln, outln, print_json};

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
        lines(v, "signatures")?;
    }
    Ok(if v.trusted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The verdict as text: a line saying whether it is verified and by whom, one per
/// candidate with the claims of those accepted, and the highest log index; on stdout when
/// verified, else on stderr. `what` names the candidates (`signatures`).
pub fn lines(v: &latch::decide::Verdict, what: &str) -> Result<(), AnyError> {
    // Verified: the report is the output. Not verified: it explains the failure.
    let line = |line: String| -> Result<(), AnyError> {
        if v.trusted {
            outln!("{line}")?;
        } else {
            errln!("{line}");
        }
        Ok(())
    };
    line(format!(
        "{} {}: {}",
        if v.trusted {
            "Verified"
        } else {
            "latch: NOT verified"
        },
        v.digest,
        super::signed_by(v)
    ))?;
    for o in &v.outcomes {
        line(format!("  {o}"))?;
        if let Ok(a) = &o.result {
            for (claim, value) in &a.claims {
                line(format!("    {claim}: {value}"))?;
            }
        }
    }
    if v.outcomes.is_empty() {
        line(format!("  no {what} found"))?;
    }
    if let Some(i) = v.max_log_index {
        line(format!("Highest log index: {i}"))?;
    }
    Ok(())
}
