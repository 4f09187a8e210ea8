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

/// Version of the `--json` contract (docs/json.md). Every document carries it as
/// `json_version`; it changes only when a field is removed or changes meaning.
pub const JSON_VERSION: u32 = 2;

/// Prints a value as pretty JSON on stdout, with `json_version` added.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), AnyError> {
    let mut v = serde_json::to_value(value)?;
    if let serde_json::Value::Object(map) = &mut v {
        map.insert("json_version".into(), JSON_VERSION.into());
    }
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// The error document printed on stdout under `--json`: `{"json_version", "error":
/// {"kind", "message", "causes", "details"}}`; `details` is the error's data when it has
/// some (a rollback's reasons, a freeze's figures, a refusal's verdict).
pub fn print_json_error(e: &AnyError) {
    let latch_error = e.downcast_ref::<latch::Error>();
    let kind = latch_error.map(latch::Error::kind).unwrap_or("invalid");
    let details = latch_error.and_then(latch::Error::details);
    let mut causes = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let doc = serde_json::json!({
        "json_version": JSON_VERSION,
        "error": {"kind": kind, "message": e.to_string(), "causes": causes, "details": details},
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
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
