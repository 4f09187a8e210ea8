//! Running external commands with failures that explain themselves.

use std::process::{Command, Output};

/// Runs `cmd` and returns its stdout; panics with the command line, its exit status,
/// stdout and stderr if it cannot start or exits non-zero.
pub fn run(cmd: &mut Command) -> String {
    match try_run(cmd) {
        Ok(out) => out,
        Err(msg) => panic!("{msg}"),
    }
}

/// Runs `cmd`; `Ok(stdout)` if it exits zero, else `Err` with a message carrying the
/// command line, the exit status, stdout and stderr (for tests that expect a refusal).
pub fn try_run(cmd: &mut Command) -> Result<String, String> {
    let line = describe(cmd);
    let out: Output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "`{line}` failed ({})\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The program and its arguments, for messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
