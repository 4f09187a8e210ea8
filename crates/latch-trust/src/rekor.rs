//! Rekor bundles of cosign legacy signatures: the Signed Entry Timestamp (SET) checked
//! offline against pinned log keys, and the logged entry bound to the signature
//! (FORMATS.md 5.3 and 5.4).
//!
//! The SET is an ECDSA signature by the log over the RFC 8785 canonical JSON of
//! `{body, integratedTime, logID, logIndex}`. For these four members that is exactly
//! `{"body":"…","integratedTime":N,"logID":"…","logIndex":N}` with serde_json's string
//! escaping, which [`RekorBundle::canonical_payload`] builds from the parsed values; the
//! body that is then parsed is the one inside those bytes, never the delivered JSON text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::json::Strict;
use crate::keys::{KeyError, PublicKey, decode_public_key_pem};
use crate::payload::clip;

/// Why a bundle (`dev.sigstore.cosign/bundle` or a `Bundle` member) cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not JSON.
    #[error("bundle is not JSON: {reason}")]
    NotJson {
        /// The parser's message.
        reason: String,
    },
    /// A member is missing or of the wrong JSON type.
    #[error("bundle field {field} is missing or not {expected}")]
    Field {
        /// Path of the member (`Payload.logIndex`…).
        field: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A base64 member that does not decode.
    #[error("bundle field {field} is not valid base64: {reason}")]
    BadBase64 {
        /// Path of the member.
        field: &'static str,
        /// The decoder's message.
        reason: String,
    },
}

/// Why a Rekor bundle does not vouch for a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RekorError {
    /// No pinned Rekor key has this `logID`.
    #[error(
        "bundle logID {log_id} matches no pinned Rekor key (a logID is the sha256 of the log key's DER)"
    )]
    UnknownLogId {
        /// The bundle's logID.
        log_id: String,
    },
    /// The log key that signed the SET was not valid when the entry was integrated.
    #[error(
        "the Rekor key {log_id} was not valid at the entry's integratedTime {integrated_time} (its window: {} to {})",
        .valid_from.map_or("the beginning".to_owned(), |t| t.to_string()),
        .valid_until.map_or("now".to_owned(), |t| t.to_string())
    )]
    LogKeyNotValid {
        /// The key's logID.
        log_id: String,
        /// The entry's integrated time.
        integrated_time: i64,
        /// Its window's start.
        valid_from: Option<i64>,
        /// Its window's end.
        valid_until: Option<i64>,
    },
    /// The SET does not verify with the pinned key.
    #[error("bundle SignedEntryTimestamp does not verify with the pinned Rekor key {log_id}")]
    SetInvalid {
        /// The key's logID.
        log_id: String,
    },
    /// `logIndex` below zero.
    #[error("bundle logIndex {log_index} is negative")]
    NegativeLogIndex {
        /// The value.
        log_index: i64,
    },
    /// `integratedTime` after the caller's `now` (plus the allowed skew).
    #[error(
        "bundle integratedTime {integrated_time} is in the future (now is {now}, allowed skew {skew_secs} s)"
    )]
    IntegratedTimeInFuture {
        /// The value.
        integrated_time: i64,
        /// The caller's time.
        now: i64,
        /// The allowed clock skew.
        skew_secs: u32,
    },
    /// The logged body is not JSON.
    #[error("Rekor entry body is not JSON: {reason}")]
    BodyNotJson {
        /// The parser's message.
        reason: String,
    },
    /// The logged body has a key twice.
    #[error("Rekor entry body has the key {key:?} twice")]
    BodyDuplicateKey {
        /// The key.
        key: String,
    },
    /// A member of the body is missing or of the wrong type.
    #[error("Rekor entry body field {field} is missing or not {expected}")]
    BodyField {
        /// Path of the member.
        field: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// An entry kind or version other than hashedrekord 0.0.1 and rekord 0.0.1.
    #[error(
        "Rekor entry kind {kind:?} apiVersion {api_version:?} is not supported (hashedrekord 0.0.1 and rekord 0.0.1 are)"
    )]
    UnsupportedEntry {
        /// The kind.
        kind: String,
        /// The apiVersion.
        api_version: String,
    },
    /// A rekord entry whose signature format is not `x509`.
    #[error("rekord entry signature format {format:?} is not supported (x509 is)")]
    UnsupportedRekordFormat {
        /// The format.
        format: String,
    },
    /// A hash algorithm other than sha256.
    #[error("Rekor entry hash algorithm {algorithm:?} is not supported (sha256 is)")]
    UnsupportedHashAlgorithm {
        /// The algorithm.
        algorithm: String,
    },
    /// The logged hash is not the sha256 of this payload.
    #[error("Rekor entry logs hash {logged}, but the payload's sha256 is {actual}")]
    PayloadHashMismatch {
        /// Hash in the entry.
        logged: String,
        /// Hash of the payload.
        actual: String,
    },
    /// The logged signature is not this signature.
    #[error("Rekor entry logs a different signature than this one")]
    SignatureMismatch,
    /// A base64 member of the body that does not decode.
    #[error("Rekor entry body field {field} is not valid base64: {reason}")]
    BodyBadBase64 {
        /// Path of the member.
        field: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The logged public key is not a PEM public key.
    #[error("Rekor entry public key is unreadable: {source}")]
    BodyKeyUnreadable {
        /// Why.
        source: KeyError,
    },
    /// The logged public key is not the key that verified the signature.
    #[error("Rekor entry logs a different public key than the trusted key {key_log_id}")]
    KeyMismatch {
        /// sha256 of the trusted key's DER.
        key_log_id: String,
    },
}

impl RekorError {
    /// A stable short name of the check that failed (`rekor.set`, `rekor.body.key`…).
    pub fn check(&self) -> &'static str {
        match self {
            RekorError::UnknownLogId { .. } => "rekor.log_id",
            RekorError::SetInvalid { .. } => "rekor.set",
            RekorError::LogKeyNotValid { .. } => "rekor.key_validity",
            RekorError::NegativeLogIndex { .. } => "rekor.log_index",
            RekorError::IntegratedTimeInFuture { .. } => "rekor.integrated_time",
            RekorError::BodyNotJson { .. }
            | RekorError::BodyDuplicateKey { .. }
            | RekorError::BodyField { .. }
            | RekorError::BodyBadBase64 { .. } => "rekor.body",
            RekorError::UnsupportedEntry { .. } | RekorError::UnsupportedRekordFormat { .. } => {
                "rekor.body.kind"
            }
            RekorError::UnsupportedHashAlgorithm { .. }
            | RekorError::PayloadHashMismatch { .. } => "rekor.body.hash",
            RekorError::SignatureMismatch => "rekor.body.signature",
            RekorError::BodyKeyUnreadable { .. } | RekorError::KeyMismatch { .. } => {
                "rekor.body.key"
            }
        }
    }
}

/// What a verified bundle proves: where and when the log recorded the signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogEntry {
    /// The log's id (hex sha256 of its key's DER).
    pub log_id: String,
    /// Index in the log (past 2^31 on the public instance).
    pub log_index: u64,
    /// When the log integrated the entry (unix seconds).
    pub integrated_time: i64,
}

/// A Rekor bundle as cosign attaches it to a legacy signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekorBundle {
    set: Vec<u8>,
    body: Vec<u8>,
    integrated_time: i64,
    log_index: i64,
    log_id: String,
}

impl RekorBundle {
    /// A bundle from its parts: the SET (DER signature), the entry body (decoded JSON
    /// bytes), and the three log coordinates.
    pub fn new(
        signed_entry_timestamp: Vec<u8>,
        body: Vec<u8>,
        integrated_time: i64,
        log_index: i64,
        log_id: impl Into<String>,
    ) -> RekorBundle {
        RekorBundle {
            set: signed_entry_timestamp,
            body,
            integrated_time,
            log_index,
            log_id: log_id.into(),
        }
    }

    /// Reads the JSON of the `dev.sigstore.cosign/bundle` annotation.
    pub fn from_json(bytes: &[u8]) -> Result<RekorBundle, BundleError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| BundleError::NotJson {
            reason: e.to_string(),
        })?;
        RekorBundle::from_value(&value)
    }

    /// Reads `{"SignedEntryTimestamp": b64, "Payload": {"body": b64, "integratedTime": int,
    /// "logIndex": int, "logID": string}}`.
    pub(crate) fn from_value(value: &Value) -> Result<RekorBundle, BundleError> {
        let set = b64_member(value, "SignedEntryTimestamp", "SignedEntryTimestamp")?;
        let payload = value
            .get("Payload")
            .filter(|p| p.is_object())
            .ok_or(BundleError::Field {
                field: "Payload",
                expected: "an object",
            })?;
        let body = b64_member(payload, "body", "Payload.body")?;
        let int = |key: &str, field: &'static str| {
            payload
                .get(key)
                .and_then(Value::as_i64)
                .ok_or(BundleError::Field {
                    field,
                    expected: "an integer",
                })
        };
        let integrated_time = int("integratedTime", "Payload.integratedTime")?;
        let log_index = int("logIndex", "Payload.logIndex")?;
        let log_id = payload
            .get("logID")
            .and_then(Value::as_str)
            .ok_or(BundleError::Field {
                field: "Payload.logID",
                expected: "a string",
            })?;
        Ok(RekorBundle {
            set,
            body,
            integrated_time,
            log_index,
            log_id: log_id.to_owned(),
        })
    }

    /// The JSON value cosign writes: `{"SignedEntryTimestamp":…,"Payload":{"body":…,
    /// "integratedTime":…,"logIndex":…,"logID":…}}` (members in this order).
    pub fn to_value(&self) -> Value {
        // serde_json's map may or may not keep order; the cosign shape is fixed by
        // `to_json`, and as a value only membership matters.
        serde_json::json!({
            "SignedEntryTimestamp": STANDARD.encode(&self.set),
            "Payload": {
                "body": STANDARD.encode(&self.body),
                "integratedTime": self.integrated_time,
                "logIndex": self.log_index,
                "logID": self.log_id,
            }
        })
    }

    /// The bytes of the `dev.sigstore.cosign/bundle` annotation, in cosign's member order.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.body.len() * 4 / 3 + 256);
        self.write_json(&mut out);
        out
    }

    pub(crate) fn write_json(&self, out: &mut String) {
        out.push_str("{\"SignedEntryTimestamp\":");
        push_json_str(out, &STANDARD.encode(&self.set));
        out.push_str(",\"Payload\":{\"body\":");
        push_json_str(out, &STANDARD.encode(&self.body));
        out.push_str(&format!(
            ",\"integratedTime\":{},\"logIndex\":{},\"logID\":",
            self.integrated_time, self.log_index
        ));
        push_json_str(out, &self.log_id);
        out.push_str("}}");
    }

    /// The message the SET signs: RFC 8785 canonical JSON of
    /// `{body, integratedTime, logID, logIndex}`.
    pub fn canonical_payload(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.body.len() * 4 / 3 + 160);
        out.push_str("{\"body\":");
        push_json_str(&mut out, &STANDARD.encode(&self.body));
        out.push_str(&format!(
            ",\"integratedTime\":{},\"logID\":",
            self.integrated_time
        ));
        push_json_str(&mut out, &self.log_id);
        out.push_str(&format!(",\"logIndex\":{}}}", self.log_index));
        out.into_bytes()
    }

    /// The SET (DER ECDSA signature by the log).
    pub fn signed_entry_timestamp(&self) -> &[u8] {
        &self.set
    }

    /// The logged entry (decoded JSON bytes).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// `integratedTime`, unix seconds.
    pub fn integrated_time(&self) -> i64 {
        self.integrated_time
    }

    /// `logIndex`, as delivered (checked non-negative by [`RekorBundle::verify`]).
    pub fn log_index(&self) -> i64 {
        self.log_index
    }

    /// `logID`, as delivered.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// Verifies the bundle as evidence for one signature: the SET with the pinned key whose
    /// logID is the bundle's, a non-negative index, an `integratedTime` no later than
    /// `now + skew_secs`, and the logged entry bound to this `payload`, `signature` and
    /// signing `key` (hash, signature bytes and public key DER all equal).
    pub fn verify(
        &self,
        payload: &[u8],
        signature: &[u8],
        key: &PublicKey,
        rekor_keys: &[PublicKey],
        now: i64,
        skew_secs: u32,
    ) -> Result<LogEntry, RekorError> {
        let log_key = rekor_keys
            .iter()
            .find(|k| k.log_id() == self.log_id)
            .ok_or_else(|| RekorError::UnknownLogId {
                log_id: clip(&self.log_id),
            })?;
        let canonical = self.canonical_payload();
        log_key
            .verify(&canonical, &self.set)
            .map_err(|_| RekorError::SetInvalid {
                log_id: log_key.log_id().to_owned(),
            })?;
        let log_index =
            u64::try_from(self.log_index).map_err(|_| RekorError::NegativeLogIndex {
                log_index: self.log_index,
            })?;
        if self.integrated_time > now.saturating_add(i64::from(skew_secs)) {
            return Err(RekorError::IntegratedTimeInFuture {
                integrated_time: self.integrated_time,
                now,
                skew_secs,
            });
        }
        // `self.body` is exactly the body inside `canonical`: base64 is decoded strictly,
        // so encoding it again gives back the string the SET covers.
        let entry = RekorEntry::parse(&self.body)?;
        entry.check_binding(payload, signature, key)?;
        Ok(LogEntry {
            log_id: log_key.log_id().to_owned(),
            log_index,
            integrated_time: self.integrated_time,
        })
    }
}

/// The kinds of Rekor entry accepted in a legacy bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// `hashedrekord` 0.0.1 (what cosign logs for image signatures).
    HashedRekord,
    /// `rekord` 0.0.1 with an `x509` signature (older cosign).
    Rekord,
}

/// A logged entry, read from a bundle body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekorEntry {
    kind: EntryKind,
    hash_algorithm: String,
    hash_value: String,
    signature: Vec<u8>,
    public_key: Vec<u8>,
}

impl RekorEntry {
    /// Parses a body: `{"apiVersion","kind","spec":{"data":{"hash":{"algorithm","value"}},
    /// "signature":{"content","publicKey":{"content"}}}}` (rekord adds `signature.format`).
    pub fn parse(body: &[u8]) -> Result<RekorEntry, RekorError> {
        let doc = Strict::parse(body).map_err(|e| RekorError::BodyNotJson {
            reason: e.to_string(),
        })?;
        if let Some(key) = doc.duplicate_key() {
            return Err(RekorError::BodyDuplicateKey { key: clip(key) });
        }
        let api_version = text(doc.get("apiVersion"), "apiVersion")?;
        let kind_name = text(doc.get("kind"), "kind")?;
        let kind = match (kind_name, api_version) {
            ("hashedrekord", "0.0.1") => EntryKind::HashedRekord,
            ("rekord", "0.0.1") => EntryKind::Rekord,
            _ => {
                return Err(RekorError::UnsupportedEntry {
                    kind: clip(kind_name),
                    api_version: clip(api_version),
                });
            }
        };
        let spec = doc.get("spec");
        let hash = spec.and_then(|s| s.get("data")).and_then(|d| d.get("hash"));
        let hash_algorithm = text(
            hash.and_then(|h| h.get("algorithm")),
            "spec.data.hash.algorithm",
        )?;
        let hash_value = text(hash.and_then(|h| h.get("value")), "spec.data.hash.value")?;
        let sig = spec.and_then(|s| s.get("signature"));
        if kind == EntryKind::Rekord {
            let format = text(sig.and_then(|s| s.get("format")), "spec.signature.format")?;
            if format != "x509" {
                return Err(RekorError::UnsupportedRekordFormat {
                    format: clip(format),
                });
            }
        }
        let content = text(sig.and_then(|s| s.get("content")), "spec.signature.content")?;
        let key = text(
            sig.and_then(|s| s.get("publicKey"))
                .and_then(|k| k.get("content")),
            "spec.signature.publicKey.content",
        )?;
        let decode = |value: &str, field: &'static str| {
            STANDARD
                .decode(value)
                .map_err(|e| RekorError::BodyBadBase64 {
                    field,
                    reason: e.to_string(),
                })
        };
        Ok(RekorEntry {
            kind,
            hash_algorithm: hash_algorithm.to_owned(),
            hash_value: hash_value.to_owned(),
            signature: decode(content, "spec.signature.content")?,
            public_key: decode(key, "spec.signature.publicKey.content")?,
        })
    }

    /// The entry kind.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// Checks that this entry logs `signature` by `key` over `payload`.
    pub fn check_binding(
        &self,
        payload: &[u8],
        signature: &[u8],
        key: &PublicKey,
    ) -> Result<(), RekorError> {
        if self.hash_algorithm != "sha256" {
            return Err(RekorError::UnsupportedHashAlgorithm {
                algorithm: clip(&self.hash_algorithm),
            });
        }
        let actual = hex::encode(Sha256::digest(payload));
        if self.hash_value != actual {
            return Err(RekorError::PayloadHashMismatch {
                logged: clip(&self.hash_value),
                actual,
            });
        }
        if self.signature != signature {
            return Err(RekorError::SignatureMismatch);
        }
        let der = decode_public_key_pem(&self.public_key)
            .map_err(|source| RekorError::BodyKeyUnreadable { source })?;
        // Compared as canonical keys: the log may have recorded another encoding of the
        // same point (compressed, or RSA with other DER choices).
        let same = der == key.der()
            || crate::keys::PublicKey::from_der(&der).is_ok_and(|logged| logged.der() == key.der());
        if !same {
            return Err(RekorError::KeyMismatch {
                key_log_id: key.log_id().to_owned(),
            });
        }
        Ok(())
    }
}

fn text<'a>(v: Option<&'a Strict>, field: &'static str) -> Result<&'a str, RekorError> {
    v.and_then(Strict::as_str).ok_or(RekorError::BodyField {
        field,
        expected: "a string",
    })
}

fn b64_member(value: &Value, key: &str, field: &'static str) -> Result<Vec<u8>, BundleError> {
    let text = value
        .get(key)
        .and_then(Value::as_str)
        .ok_or(BundleError::Field {
            field,
            expected: "a base64 string",
        })?;
    STANDARD.decode(text).map_err(|e| BundleError::BadBase64 {
        field,
        reason: e.to_string(),
    })
}

/// Appends a JSON string with serde_json's escaping (identical to RFC 8785's).
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        // Serialising a &str cannot fail; keep the output well-formed regardless.
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_and_escapes() {
        let b = RekorBundle::new(
            vec![1],
            b"{}".to_vec(),
            1738752154,
            168898587,
            "ab\"\n\u{1}é",
        );
        assert_eq!(
            String::from_utf8(b.canonical_payload()).unwrap(),
            "{\"body\":\"e30=\",\"integratedTime\":1738752154,\"logID\":\"ab\\\"\\n\\u0001é\",\"logIndex\":168898587}"
        );
        let json = b.to_json();
        assert_eq!(
            json,
            "{\"SignedEntryTimestamp\":\"AQ==\",\"Payload\":{\"body\":\"e30=\",\"integratedTime\":1738752154,\"logIndex\":168898587,\"logID\":\"ab\\\"\\n\\u0001é\"}}"
        );
        assert_eq!(RekorBundle::from_json(json.as_bytes()).unwrap(), b);
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), b.to_value());
    }

    #[test]
    fn bundle_parse_errors_name_the_field() {
        type Check = fn(&BundleError) -> bool;
        let cases: Vec<(&str, Check)> = vec![
            ("{", |e| matches!(e, BundleError::NotJson { .. })),
            ("{}", |e| {
                matches!(
                    e,
                    BundleError::Field {
                        field: "SignedEntryTimestamp",
                        ..
                    }
                )
            }),
            (r#"{"SignedEntryTimestamp":"%%"}"#, |e| {
                matches!(
                    e,
                    BundleError::BadBase64 {
                        field: "SignedEntryTimestamp",
                        ..
                    }
                )
            }),
            (r#"{"SignedEntryTimestamp":"AQ==","Payload":1}"#, |e| {
                matches!(
                    e,
                    BundleError::Field {
                        field: "Payload",
                        ..
                    }
                )
            }),
            (
                r#"{"SignedEntryTimestamp":"AQ==","Payload":{"body":"not base64"}}"#,
                |e| {
                    matches!(
                        e,
                        BundleError::BadBase64 {
                            field: "Payload.body",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"SignedEntryTimestamp":"AQ==","Payload":{"body":"e30=","integratedTime":1.5}}"#,
                |e| {
                    matches!(
                        e,
                        BundleError::Field {
                            field: "Payload.integratedTime",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"SignedEntryTimestamp":"AQ==","Payload":{"body":"e30=","integratedTime":1,"logIndex":"1"}}"#,
                |e| {
                    matches!(
                        e,
                        BundleError::Field {
                            field: "Payload.logIndex",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"SignedEntryTimestamp":"AQ==","Payload":{"body":"e30=","integratedTime":1,"logIndex":18446744073709551615}}"#,
                |e| {
                    matches!(
                        e,
                        BundleError::Field {
                            field: "Payload.logIndex",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"SignedEntryTimestamp":"AQ==","Payload":{"body":"e30=","integratedTime":1,"logIndex":1,"logID":null}}"#,
                |e| {
                    matches!(
                        e,
                        BundleError::Field {
                            field: "Payload.logID",
                            ..
                        }
                    )
                },
            ),
        ];
        for (input, check) in cases {
            let err = RekorBundle::from_json(input.as_bytes()).expect_err(input);
            assert!(check(&err), "{input} gave {err:?}");
        }
    }

    #[test]
    fn body_kinds_and_fields() {
        type Check = fn(&RekorError) -> bool;
        let cases: Vec<(&str, Check)> = vec![
            ("nope", |e| matches!(e, RekorError::BodyNotJson { .. })),
            (r#"{"kind":"hashedrekord"}"#, |e| {
                matches!(
                    e,
                    RekorError::BodyField {
                        field: "apiVersion",
                        ..
                    }
                )
            }),
            (
                r#"{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{}}"#,
                |e| matches!(e, RekorError::UnsupportedEntry { .. }),
            ),
            (r#"{"apiVersion":"0.0.1","kind":"intoto","spec":{}}"#, |e| {
                matches!(e, RekorError::UnsupportedEntry { .. })
            }),
            (
                r#"{"apiVersion":"0.0.1","kind":"hashedrekord","kind":"rekord","spec":{}}"#,
                |e| matches!(e, RekorError::BodyDuplicateKey { .. }),
            ),
            (
                r#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#,
                |e| {
                    matches!(
                        e,
                        RekorError::BodyField {
                            field: "spec.data.hash.algorithm",
                            ..
                        }
                    )
                },
            ),
            (
                r#"{"apiVersion":"0.0.1","kind":"rekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"00"}},"signature":{"format":"minisign","content":"","publicKey":{"content":""}}}}"#,
                |e| matches!(e, RekorError::UnsupportedRekordFormat { .. }),
            ),
            (
                r#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"00"}},"signature":{"content":"!!","publicKey":{"content":""}}}}"#,
                |e| {
                    matches!(
                        e,
                        RekorError::BodyBadBase64 {
                            field: "spec.signature.content",
                            ..
                        }
                    )
                },
            ),
        ];
        for (input, check) in cases {
            let err = RekorEntry::parse(input.as_bytes()).expect_err(input);
            assert!(check(&err), "{input} gave {err:?}");
            assert!(err.check().starts_with("rekor."));
        }
        let ok = RekorEntry::parse(br#"{"apiVersion":"0.0.1","kind":"rekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"00"}},"signature":{"format":"x509","content":"AQ==","publicKey":{"content":""}}}}"#).unwrap();
        assert_eq!(ok.kind(), EntryKind::Rekord);
    }
}
