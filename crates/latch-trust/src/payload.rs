//! The simple-signing payload of a cosign image signature (FORMATS.md 5.1).
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"ghcr.io/org/img"},
//!  "image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},
//!  "optional":null}
//! ```
//!
//! [`SimpleSigning::parse`] is strict, as containers/image is: exactly the fields above,
//! no duplicate keys, the type string exact, the digest valid, `optional` null or an object
//! whose `timestamp`, if present, is an integer. Parse only bytes whose signature has
//! already verified; [`crate::verify()`] does so.

use latch_oci::{Digest, DigestError};
use serde_json::{Map, Value};

use crate::json::{Strict, write_go, write_go_string};

/// The `critical.type` of a cosign image signature.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";

/// Bound on a payload (real ones are about 250 bytes).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Why a payload is not a simple-signing payload Latch accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Over [`MAX_PAYLOAD_BYTES`].
    #[error("payload is {size} bytes, over the bound of {max}")]
    TooLarge {
        /// Size seen.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// Not JSON.
    #[error("payload is not JSON: {reason}")]
    NotJson {
        /// The parser's message.
        reason: String,
    },
    /// A key appears twice in an object.
    #[error("payload has the key {key:?} twice")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A value of the wrong JSON type.
    #[error("payload field {field} is {found}, expected {expected}")]
    WrongType {
        /// Path of the field (`critical.identity`…).
        field: &'static str,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// A required field is absent.
    #[error("payload lacks the field {field}")]
    MissingField {
        /// Path of the field.
        field: &'static str,
    },
    /// A field that the format does not have.
    #[error("payload object {object} has the unexpected field {field:?}")]
    UnexpectedField {
        /// Path of the object.
        object: &'static str,
        /// The unexpected key.
        field: String,
    },
    /// `critical.type` is not [`SIMPLE_SIGNING_TYPE`].
    #[error("payload critical.type is {found:?}, expected {SIMPLE_SIGNING_TYPE:?}")]
    WrongSignatureType {
        /// The type found.
        found: String,
    },
    /// `critical.image.docker-manifest-digest` is not a digest.
    #[error("payload critical.image.docker-manifest-digest: {source}")]
    BadDigest {
        /// Why.
        source: DigestError,
    },
    /// `optional.timestamp` is not an integer.
    #[error("payload optional.timestamp is not an integer")]
    BadTimestamp,
}

/// A parsed simple-signing payload, or one being built to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    docker_reference: String,
    manifest_digest: Digest,
    optional: Option<Map<String, Value>>,
}

impl SimpleSigning {
    /// A payload naming `docker_reference` (cosign writes the bare repository,
    /// `registry/path`, no tag) and `manifest_digest`, with `"optional":null`.
    pub fn new(docker_reference: impl Into<String>, manifest_digest: Digest) -> SimpleSigning {
        SimpleSigning {
            docker_reference: docker_reference.into(),
            manifest_digest,
            optional: None,
        }
    }

    /// Sets the `optional` map (cosign's `-a key=value` annotations).
    pub fn with_optional(mut self, optional: Map<String, Value>) -> SimpleSigning {
        self.optional = Some(optional);
        self
    }

    /// Adds one string annotation to `optional`.
    pub fn with_annotation(mut self, key: &str, value: &str) -> SimpleSigning {
        self.optional
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), Value::String(value.to_owned()));
        self
    }

    /// Parses payload bytes strictly (see the module documentation).
    pub fn parse(bytes: &[u8]) -> Result<SimpleSigning, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge {
                size: bytes.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let doc = Strict::parse(bytes).map_err(|e| PayloadError::NotJson {
            reason: e.to_string(),
        })?;
        if let Some(key) = doc.duplicate_key() {
            return Err(PayloadError::DuplicateKey {
                key: key.to_owned(),
            });
        }
        let [critical, optional] = exact_fields(&doc, "payload", ["critical", "optional"])?;
        let [identity, image, kind] =
            exact_fields(critical, "critical", ["identity", "image", "type"])?;
        let [reference] = exact_fields(identity, "critical.identity", ["docker-reference"])?;
        let [digest] = exact_fields(image, "critical.image", ["docker-manifest-digest"])?;
        let kind = string(kind, "critical.type")?;
        if kind != SIMPLE_SIGNING_TYPE {
            return Err(PayloadError::WrongSignatureType { found: clip(kind) });
        }
        let reference = string(reference, "critical.identity.docker-reference")?;
        let digest = string(digest, "critical.image.docker-manifest-digest")?;
        let manifest_digest =
            Digest::parse(digest).map_err(|source| PayloadError::BadDigest { source })?;
        let optional = match optional {
            Strict::Null => None,
            Strict::Object(_) => match optional.clone().into_value() {
                Value::Object(map) => Some(map),
                _ => None,
            },
            other => {
                return Err(PayloadError::WrongType {
                    field: "optional",
                    expected: "null or an object",
                    found: other.type_name(),
                });
            }
        };
        if let Some(ts) = optional.as_ref().and_then(|o| o.get("timestamp"))
            && ts.as_i64().is_none()
        {
            return Err(PayloadError::BadTimestamp);
        }
        Ok(SimpleSigning {
            docker_reference: reference.to_owned(),
            manifest_digest,
            optional,
        })
    }

    /// The exact bytes cosign writes for this payload: Go's `json.Marshal` of
    /// `SimpleContainerImage` (field order critical{identity, image, type}, optional;
    /// no whitespace; `"optional":null` or a map with sorted keys).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256);
        out.push_str(r#"{"critical":{"identity":{"docker-reference":"#);
        write_go_string(&mut out, &self.docker_reference);
        out.push_str(r#"},"image":{"docker-manifest-digest":"#);
        write_go_string(&mut out, &self.manifest_digest.to_string());
        out.push_str(r#"},"type":"#);
        write_go_string(&mut out, SIMPLE_SIGNING_TYPE);
        out.push_str(r#"},"optional":"#);
        match &self.optional {
            None => out.push_str("null"),
            Some(map) => write_go(&mut out, &Value::Object(map.clone())),
        }
        out.push('}');
        out.into_bytes()
    }

    /// `critical.identity.docker-reference`, as signed (not normalised).
    pub fn docker_reference(&self) -> &str {
        &self.docker_reference
    }

    /// `critical.image.docker-manifest-digest`.
    pub fn manifest_digest(&self) -> &Digest {
        &self.manifest_digest
    }

    /// The `optional` map, if not null (signed, so usable for a signed version).
    pub fn optional(&self) -> Option<&Map<String, Value>> {
        self.optional.as_ref()
    }

    /// One string value of `optional`.
    pub fn optional_str(&self, key: &str) -> Option<&str> {
        self.optional.as_ref()?.get(key)?.as_str()
    }

    /// `optional.timestamp` (unix seconds), if present.
    pub fn timestamp(&self) -> Option<i64> {
        self.optional.as_ref()?.get("timestamp")?.as_i64()
    }
}

/// The values of exactly the members `names` of the object `value`, in that order.
fn exact_fields<'a, const N: usize>(
    value: &'a Strict,
    object: &'static str,
    names: [&'static str; N],
) -> Result<[&'a Strict; N], PayloadError> {
    let Strict::Object(members) = value else {
        return Err(PayloadError::WrongType {
            field: object,
            expected: "an object",
            found: value.type_name(),
        });
    };
    if let Some((k, _)) = members.iter().find(|(k, _)| !names.contains(&k.as_str())) {
        return Err(PayloadError::UnexpectedField {
            object,
            field: clip(k),
        });
    }
    let mut out = [value; N];
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = value.get(name).ok_or(PayloadError::MissingField {
            field: field_path(object, name),
        })?;
    }
    Ok(out)
}

fn string<'a>(value: &'a Strict, field: &'static str) -> Result<&'a str, PayloadError> {
    value.as_str().ok_or(PayloadError::WrongType {
        field,
        expected: "a string",
        found: value.type_name(),
    })
}

/// The dotted path of a member, for errors (a fixed set, so `'static`).
fn field_path(object: &'static str, name: &'static str) -> &'static str {
    match (object, name) {
        ("payload", "critical") => "critical",
        ("payload", "optional") => "optional",
        ("critical", "identity") => "critical.identity",
        ("critical", "image") => "critical.image",
        ("critical", "type") => "critical.type",
        ("critical.identity", _) => "critical.identity.docker-reference",
        ("critical.image", _) => "critical.image.docker-manifest-digest",
        _ => name,
    }
}

/// Echoed input is cut to 120 characters: error messages stay readable under attack.
pub(crate) fn clip(s: &str) -> String {
    latch_oci::text::clip(s, 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67";

    fn fixture() -> String {
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"ghcr.io/almet/dangerzone/dangerzone"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"}},"optional":null}}"#
        )
    }

    #[test]
    fn parses_and_rebuilds_cosign_bytes() {
        let bytes = fixture();
        let p = SimpleSigning::parse(bytes.as_bytes()).unwrap();
        assert_eq!(p.docker_reference(), "ghcr.io/almet/dangerzone/dangerzone");
        assert_eq!(p.manifest_digest().to_string(), D);
        assert_eq!(p.optional(), None);
        assert_eq!(p.to_bytes(), bytes.as_bytes());
        let built = SimpleSigning::new(
            "ghcr.io/almet/dangerzone/dangerzone",
            Digest::parse(D).unwrap(),
        );
        assert_eq!(built.to_bytes(), bytes.as_bytes());
    }

    #[test]
    fn optional_map_sorted_like_go() {
        let p = SimpleSigning::new("r.example/a", Digest::parse(D).unwrap())
            .with_annotation("zz", "1")
            .with_annotation("a<b", "x&y");
        let bytes = p.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.ends_with(r#""optional":{"a\u003cb":"x\u0026y","zz":"1"}}"#),
            "{text}"
        );
        let back = SimpleSigning::parse(&bytes).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.optional_str("zz"), Some("1"));
        let ts = SimpleSigning::new("r.example/a", Digest::parse(D).unwrap()).with_optional(
            serde_json::json!({"timestamp": 1700000000})
                .as_object()
                .cloned()
                .unwrap(),
        );
        let back = SimpleSigning::parse(&ts.to_bytes()).unwrap();
        assert_eq!(back.timestamp(), Some(1_700_000_000));
    }

    #[test]
    fn strictness() {
        type Check = fn(&PayloadError) -> bool;
        let f = fixture();
        let cases: Vec<(String, Check)> = vec![
            (String::new(), |e| matches!(e, PayloadError::NotJson { .. })),
            (f[..f.len() - 1].to_owned(), |e| {
                matches!(e, PayloadError::NotJson { .. })
            }),
            ("[]".into(), |e| {
                matches!(
                    e,
                    PayloadError::WrongType {
                        field: "payload",
                        ..
                    }
                )
            }),
            (f.replace(r#","optional":null"#, ""), |e| {
                matches!(e, PayloadError::MissingField { field: "optional" })
            }),
            (
                f.replace(r#""optional":null"#, r#""optional":null,"extra":1"#),
                |e| {
                    matches!(
                        e,
                        PayloadError::UnexpectedField {
                            object: "payload",
                            ..
                        }
                    )
                },
            ),
            (
                f.replace(r#""optional":null"#, r#""optional":null,"optional":{}"#),
                |e| matches!(e, PayloadError::DuplicateKey { .. }),
            ),
            (
                f.replace(
                    r#""type":"cosign container image signature""#,
                    r#""type":"atomic container signature""#,
                ),
                |e| matches!(e, PayloadError::WrongSignatureType { .. }),
            ),
            (
                f.replace(r#","type":"cosign container image signature""#, ""),
                |e| {
                    matches!(
                        e,
                        PayloadError::MissingField {
                            field: "critical.type"
                        }
                    )
                },
            ),
            (f.replace(r#""type":"#, r#""creator":"x","type":"#), |e| {
                matches!(
                    e,
                    PayloadError::UnexpectedField {
                        object: "critical",
                        ..
                    }
                )
            }),
            (
                f.replace(r#""docker-reference":"#, r#""docker-reference":"a","x":"#),
                |e| {
                    matches!(
                        e,
                        PayloadError::UnexpectedField {
                            object: "critical.identity",
                            ..
                        }
                    )
                },
            ),
            (
                f.replace(
                    r#"{"docker-manifest-digest""#,
                    r#"{"a":1,"docker-manifest-digest""#,
                ),
                |e| {
                    matches!(
                        e,
                        PayloadError::UnexpectedField {
                            object: "critical.image",
                            ..
                        }
                    )
                },
            ),
            (f.replace("sha256:19e8", "sha256:19E8"), |e| {
                matches!(e, PayloadError::BadDigest { .. })
            }),
            (
                f.replace(
                    r#""docker-reference":"ghcr.io/almet/dangerzone/dangerzone""#,
                    r#""docker-reference":7"#,
                ),
                |e| {
                    matches!(
                        e,
                        PayloadError::WrongType {
                            field: "critical.identity.docker-reference",
                            ..
                        }
                    )
                },
            ),
            (f.replace(r#""optional":null"#, r#""optional":[]"#), |e| {
                matches!(
                    e,
                    PayloadError::WrongType {
                        field: "optional",
                        ..
                    }
                )
            }),
            (
                f.replace(r#""optional":null"#, r#""optional":{"timestamp":"1"}"#),
                |e| matches!(e, PayloadError::BadTimestamp),
            ),
            (
                f.replace(r#""optional":null"#, r#""optional":{"timestamp":1.5}"#),
                |e| matches!(e, PayloadError::BadTimestamp),
            ),
            (
                f.replace(r#""identity":{"#, r#""identity":{"docker-reference":"x","#),
                |e| matches!(e, PayloadError::DuplicateKey { .. }),
            ),
            (format!("{f} x"), |e| {
                matches!(e, PayloadError::NotJson { .. })
            }),
            (" ".repeat(MAX_PAYLOAD_BYTES + 1), |e| {
                matches!(e, PayloadError::TooLarge { .. })
            }),
        ];
        for (input, check) in cases {
            let err = SimpleSigning::parse(input.as_bytes()).expect_err(&clip(&input));
            assert!(check(&err), "{} gave {err:?}", clip(&input));
        }
        // Whitespace is allowed (skopeo and other signers may write it), and optional may be {}.
        let spaced = f.replace(r#""optional":null"#, r#" "optional" : { } "#);
        assert!(SimpleSigning::parse(spaced.as_bytes()).is_ok());
    }
}
