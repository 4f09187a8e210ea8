//! Rendering: errors with their causes, JSON documents.

use std::error::Error;

/// An error from any layer, rendered with its chain of causes.
pub type AnyError = Box<dyn Error + Send + Sync>;

/// Prints `latch: error` and each cause on its own line.
pub fn print_error(e: &AnyError) {
    eprintln!("latch: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), AnyError> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
