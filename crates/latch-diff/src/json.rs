//! Structural comparison of JSON documents (configs, annotations).

use serde_json::Value;

/// Longest value rendering kept in a difference.
const MAX_VALUE: usize = 512;

/// Renders a value compactly, bounded.
pub(crate) fn render(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.len() <= MAX_VALUE {
        return s;
    }
    let mut end = MAX_VALUE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Receives a path and the two values there.
pub(crate) type LeafSink<'a> = dyn FnMut(String, Option<&Value>, Option<&Value>) + 'a;

/// Calls `out(path, a, b)` for each leaf where `a` and `b` differ. Objects are compared
/// key by key, arrays item by item.
pub(crate) fn diff_values(
    path: &str,
    a: Option<&Value>,
    b: Option<&Value>,
    out: &mut LeafSink<'_>,
) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if key_is_plain(k) {
                    format!("{path}.{k}")
                } else {
                    format!("{path}[{}]", Value::String(k.clone()))
                };
                diff_values(&p, x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                diff_values(&format!("{path}[{i}]"), x.get(i), y.get(i), out);
            }
        }
        (x, y) if x != y => out(
            if path.is_empty() {
                ".".to_owned()
            } else {
                path.to_owned()
            },
            x,
            y,
        ),
        _ => {}
    }
}

fn key_is_plain(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Drops `null` values and empty objects and arrays, recursively (Go's `omitempty`
/// makes them interchangeable with absence).
pub(crate) fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (_, x) in m.iter_mut() {
                prune(x);
            }
            m.retain(|_, x| !is_empty(x));
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                prune(x);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaf_paths() {
        let a = json!({"config": {"Env": ["A=1", "B=2"], "User": "root"}, "x": null});
        let b = json!({"config": {"Env": ["A=1", "B=3", "C"], "User": "root"}, "y.z": 1});
        let mut seen = Vec::new();
        diff_values("", Some(&a), Some(&b), &mut |p, x, y| {
            seen.push((p, x.map(render), y.map(render)))
        });
        assert_eq!(
            seen,
            vec![
                (
                    ".config.Env[1]".into(),
                    Some("B=2".into()),
                    Some("B=3".into())
                ),
                (".config.Env[2]".into(), None, Some("C".into())),
                (".x".into(), Some("null".into()), None),
                ("[\"y.z\"]".into(), None, Some("1".into())),
            ]
        );
        let mut p = a.clone();
        prune(&mut p);
        assert!(p.get("x").is_none());
    }
}
