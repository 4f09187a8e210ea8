//! Two small JSON helpers the signed formats need.
//!
//! - [`Strict`]: a JSON value that keeps an object's members in order *with* duplicates,
//!   so a parser can refuse `{"a":1,"a":2}` (Go keeps the last, others the first: a
//!   parser differential on signed data is a vulnerability).
//! - [`write_go`]: serialises a `serde_json::Value` the way Go's `json.Marshal` does (map
//!   keys sorted, HTML-safe escaping), so payload bytes match what cosign writes.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value whose objects keep every member, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Strict {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Strict>),
    Object(Vec<(String, Strict)>),
}

impl Strict {
    /// Parses one JSON document (serde_json bounds nesting at 128 levels).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Strict, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// A short name of the JSON type, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Strict::Null => "null",
            Strict::Bool(_) => "a boolean",
            Strict::Number(_) => "a number",
            Strict::String(_) => "a string",
            Strict::Array(_) => "an array",
            Strict::Object(_) => "an object",
        }
    }

    /// The first key that appears twice in this value or any value inside it.
    pub(crate) fn duplicate_key(&self) -> Option<&str> {
        match self {
            Strict::Array(items) => items.iter().find_map(Strict::duplicate_key),
            Strict::Object(members) => {
                let mut seen = BTreeSet::new();
                for (k, v) in members {
                    if !seen.insert(k.as_str()) {
                        return Some(k);
                    }
                    if let Some(d) = v.duplicate_key() {
                        return Some(d);
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// Converts to a `serde_json::Value` (call [`Strict::duplicate_key`] first: here a
    /// later duplicate would replace an earlier one).
    pub(crate) fn into_value(self) -> Value {
        match self {
            Strict::Null => Value::Null,
            Strict::Bool(b) => Value::Bool(b),
            Strict::Number(n) => Value::Number(n),
            Strict::String(s) => Value::String(s),
            Strict::Array(items) => {
                Value::Array(items.into_iter().map(Strict::into_value).collect())
            }
            Strict::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }

    /// The member `key` of an object (the first, if duplicated).
    pub(crate) fn get(&self, key: &str) -> Option<&Strict> {
        match self {
            Strict::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Strict::String(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict::Null)
    }
    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Strict, E> {
        Ok(Strict::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Strict, E> {
        Ok(Strict::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Strict, E> {
        Ok(Strict::Number(n.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Strict, E> {
        Number::from_f64(n)
            .map(Strict::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, s: &str) -> Result<Strict, E> {
        Ok(Strict::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Strict, E> {
        Ok(Strict::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Strict::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut members = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Strict>()? {
            members.push((k, v));
        }
        Ok(Strict::Object(members))
    }
}

/// Appends `value` as Go's `encoding/json` marshals it: no whitespace, object keys in
/// sorted (byte) order, strings escaped with `\u003c`, `\u003e`, `\u0026`, `\u2028` and
/// `\u2029` (HTML-safe). Integers are written as-is; floats as serde_json writes them
/// (cosign annotations are strings, so floats do not occur in practice).
pub(crate) fn write_go(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_go_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map keeps insertion order when another crate
            // of the build enables `preserve_order`.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(out, k);
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_go(out, v);
                }
            }
            out.push('}');
        }
    }
}

/// Appends a string as Go's `encoding/json` (1.22 and later) escapes it.
pub(crate) fn write_go_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
                let n = c as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((n >> shift) & 0xf) as usize] as char);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_keeps_duplicates() {
        let v = Strict::parse(br#"{"a":{"b":1,"b":2},"c":[1,"x",null,true,1.5]}"#).unwrap();
        assert_eq!(v.duplicate_key(), Some("b"));
        let v = Strict::parse(br#"{"a":1,"c":[{"d":1,"d":1}]}"#).unwrap();
        assert_eq!(v.duplicate_key(), Some("d"));
        let v = Strict::parse(br#"{"a":1,"b":[1,2]}"#).unwrap();
        assert_eq!(v.duplicate_key(), None);
        assert_eq!(v.get("a"), Some(&Strict::Number(1.into())));
        assert_eq!(v.into_value(), serde_json::json!({"a": 1, "b": [1, 2]}));
        assert!(Strict::parse(b"{").is_err());
        let deep = "[".repeat(10_000);
        assert!(Strict::parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn go_marshal_escaping_and_order() {
        let v = serde_json::json!({"z": "<a&b>\u{2028}\n\u{1}é", "a": [1, -2, null, false], "m": {"y": 1, "b": true}});
        let mut out = String::new();
        write_go(&mut out, &v);
        assert_eq!(
            out,
            r#"{"a":[1,-2,null,false],"m":{"b":true,"y":1},"z":"\u003ca\u0026b\u003e\u2028\n\u0001é"}"#
        );
        let mut del = String::new();
        write_go_string(&mut del, "\u{7f}\u{8}\u{c}\"\\");
        assert_eq!(del, "\"\u{7f}\\b\\f\\\"\\\\\"");
    }
}
