//! Rendering: errors with their causes, JSON documents, and the only way to write to
//! stdout and stderr.
//!
//! Nothing here panics when a stream cannot be written to (`println!` does): a write to
//! stdout returns a [`StdoutError`] that the command propagates with `?` and `main` turns
//! into an exit code (a closed pipe ends quietly, anything else is one line on stderr); a
//! write to stderr that fails is ignored, there is nowhere left to report it.

use std::error::Error;
use std::fmt;
use std::io::{self, Write as _};
use std::sync::{Mutex, MutexGuard};

/// An error from any layer, rendered with its chain of causes.
pub type AnyError = Box<dyn Error + Send + Sync>;

/// Writes to stdout like `print!`; evaluates to `Result<(), StdoutError>`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        write!(::std::io::stdout().lock(), $($arg)*).map_err($crate::output::StdoutError)
    }};
}

/// Writes a line to stdout like `println!`; evaluates to `Result<(), StdoutError>`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        writeln!(::std::io::stdout().lock(), $($arg)*).map_err($crate::output::StdoutError)
    }};
}

/// Writes a line to stderr like `eprintln!`, ignoring a failure instead of panicking.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = writeln!(::std::io::stderr().lock(), $($arg)*);
    }};
}

pub(crate) use {errln, out, outln};

/// The warnings printed by this run, in order: the error document carries them.
static WARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn warned() -> MutexGuard<'static, Vec<String>> {
    WARNED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Prints a warning to stderr as `latch: warning: …`, once: the updater calls this the
/// moment a warning arises ([`latch::Updater::on_warning`]), so that one that comes before
/// a failure is neither lost nor printed again from the report.
pub(crate) fn warn(warning: &str) {
    let mut warned = warned();
    if warned.iter().any(|w| w == warning) {
        return;
    }
    errln!("latch: warning: {warning}");
    warned.push(warning.to_owned());
}

/// Prints a report's warnings that were not printed yet (also with `--json`, whose
/// report carries them all).
pub(crate) fn warn_all(warnings: &[String]) {
    for w in warnings {
        warn(w);
    }
}

/// Stdout could not be written to: a closed pipe (`latch status | head -1`), a full
/// disk, … `main` ends quietly with [`EXIT_BROKEN_PIPE`] on a closed pipe, and otherwise
/// prints `latch: cannot write to standard output: <error>` and exits 1.
#[derive(Debug)]
pub struct StdoutError(pub io::Error);

impl StdoutError {
    /// The reader went away (EPIPE): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == io::ErrorKind::BrokenPipe
    }
}

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot write to standard output")
    }
}

impl Error for StdoutError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

/// The exit code after a closed pipe: what a shell shows for a process killed by SIGPIPE
/// (128 + 13). Rust ignores SIGPIPE, so the write fails with EPIPE instead.
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// Flushes stdout (line-buffered: a last line without a newline may still be pending).
pub fn flush_stdout() -> Result<(), StdoutError> {
    io::stdout().lock().flush().map_err(StdoutError)
}

/// The [`StdoutError`] in `e` or its chain of causes, if any.
pub fn stdout_error(e: &AnyError) -> Option<&StdoutError> {
    let mut current: Option<&(dyn Error + 'static)> = Some(e.as_ref());
    while let Some(c) = current {
        if let Some(w) = c.downcast_ref::<StdoutError>() {
            return Some(w);
        }
        current = c.source();
    }
    None
}

/// Reports a failed write to stdout and returns the exit code: [`EXIT_BROKEN_PIPE`]
/// without a word for a closed pipe, else one line on stderr and 1.
pub fn stdout_failure(w: &StdoutError) -> std::process::ExitCode {
    if w.is_broken_pipe() {
        return std::process::ExitCode::from(EXIT_BROKEN_PIPE);
    }
    errln!("latch: {w}: {}", w.0);
    std::process::ExitCode::FAILURE
}

/// Prints `latch: error` and each cause on its own line, on stderr.
pub fn print_error(e: &AnyError) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "latch: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        let _ = writeln!(err, "  caused by: {s}");
        source = s.source();
    }
}

/// Version of the `--json` contract (docs/json.md). Every document carries it as
/// `json_version`; it changes only when a field is removed or changes meaning.
pub const JSON_VERSION: u32 = 2;

/// Prints a value as pretty JSON on stdout, with `json_version` added.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), AnyError> {
    let v = json_document(value)?;
    outln!("{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}

/// The document [`print_json`] prints: `value` with `json_version` added.
pub fn json_document<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, AnyError> {
    let mut v = serde_json::to_value(value)?;
    if let serde_json::Value::Object(map) = &mut v {
        map.insert("json_version".into(), JSON_VERSION.into());
    }
    Ok(v)
}

/// The error document printed on stdout under `--json`: `{"json_version", "error":
/// {"kind", "message", "causes", "details"}}`; `details` is the error's data when it has
/// some (a rollback's reasons, a freeze's figures, a refusal's verdict); `warnings`, when
/// any were printed before the failure (a Sigstore root that could not be refreshed).
pub fn print_json_error(e: &AnyError) -> Result<(), StdoutError> {
    let doc = json_error_document(e);
    outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default())
}

/// The error document [`print_json_error`] prints.
pub fn json_error_document(e: &AnyError) -> serde_json::Value {
    let latch_error = e.downcast_ref::<latch::Error>();
    let kind = latch_error.map(latch::Error::kind).unwrap_or("invalid");
    let details = latch_error.and_then(latch::Error::details);
    let mut causes = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let mut error = serde_json::json!({
        "kind": kind, "message": e.to_string(), "causes": causes, "details": details,
    });
    let warnings = warned().clone();
    if let (false, serde_json::Value::Object(map)) = (warnings.is_empty(), &mut error) {
        map.insert("warnings".into(), warnings.into());
    }
    serde_json::json!({"json_version": JSON_VERSION, "error": error})
}

/// `1234567` → `1.2 MB`.
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < units.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}
