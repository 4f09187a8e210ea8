//! Uploading a signature to a Rekor v1-compatible transparency log and turning the
//! answer into the bundle cosign attaches (`dev.sigstore.cosign/bundle`).
//!
//! Request: `POST <url>/api/v1/log/entries` with a proposed `hashedrekord` 0.0.1 entry
//! (FORMATS.md 5.3): the sha256 of the payload, the base64 signature and the base64 of the
//! PEM public key. Answer (201, or 409 with a `Location` for an entry logged before): a map
//! `{uuid: {body, integratedTime, logID, logIndex, verification: {signedEntryTimestamp}}}`.
//! The returned entry is checked to log exactly this payload, signature and key, and, when
//! the log's key is given, the SET is verified before anything is stored.
//!
//! DSSE envelopes (cosign v3 bundles) are logged as `dsse` 0.0.1 entries
//! ([`TlogUploader::upload_dsse`]); the answer, with its inclusion proof and checkpoint,
//! becomes the bundle's `tlogEntries` item, and the whole bundle is verified before it is
//! attached.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latch_trust::{PublicKey, RekorBundle, RekorEntry, RekorError, spki_to_pem};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

/// Bound on a Rekor response (real ones are a few KiB).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Path of the entries endpoint.
pub const ENTRIES_PATH: &str = "/api/v1/log/entries";

/// Why an upload failed or its answer was refused.
#[derive(Debug, thiserror::Error)]
pub enum TlogError {
    /// The log URL is not an absolute http(s) URL.
    #[error("transparency log URL {url:?} is not usable: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The request failed (connection, timeout…).
    #[error("request to the transparency log {url} failed: {source}")]
    Http {
        /// The URL.
        url: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The log answered with an error status.
    #[error("transparency log {url} answered {status}: {message}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The log's `message` (clipped), or the start of its body.
        message: String,
    },
    /// The answer is over [`MAX_RESPONSE_BYTES`].
    #[error("transparency log {url} sent more than {max} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The bound.
        max: usize,
    },
    /// The answer is not the log-entry shape.
    #[error("transparency log {url} sent a malformed entry: {reason}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The logged entry is not this signature (another payload, signature or key).
    #[error("transparency log {url} logged something other than this signature: {source}")]
    NotBound {
        /// The URL.
        url: String,
        /// The failed binding check.
        #[source]
        source: RekorError,
    },
    /// The SET does not verify with the pinned log key.
    #[error(
        "the entry from transparency log {url} does not verify with the pinned log key: {source}"
    )]
    SetInvalid {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: RekorError,
    },
}

/// A Rekor v1 client that logs signatures.
#[derive(Debug, Clone)]
pub struct TlogUploader {
    base: Url,
    http: reqwest::Client,
    log_keys: Vec<PublicKey>,
}

impl TlogUploader {
    /// A client for the log at `url` (`https://rekor.sigstore.dev`, or
    /// `http://127.0.0.1:PORT` for a test log). Proxies come from the environment.
    pub fn new(url: &str) -> Result<TlogUploader, TlogError> {
        let bad = |reason: &str| TlogError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let base = crate::http::service_url(url).map_err(|e| bad(&e))?;
        let http =
            crate::http::client(Duration::from_secs(120)).map_err(|e| bad(&e.to_string()))?;
        Ok(TlogUploader {
            base,
            http,
            log_keys: Vec::new(),
        })
    }

    /// Pins the log's public key: every SET received is verified with it before use.
    pub fn with_log_key(mut self, key: PublicKey) -> TlogUploader {
        self.log_keys.push(key);
        self
    }

    /// The log's base URL.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    fn endpoint(&self) -> String {
        format!("{}{ENTRIES_PATH}", self.base.as_str().trim_end_matches('/'))
    }

    /// Logs `signature` over `payload` by `key` and returns the bundle to attach. `now`
    /// (unix seconds) bounds `integratedTime` when a log key is pinned (5 minutes of skew).
    pub async fn upload(
        &self,
        payload: &[u8],
        signature: &[u8],
        key: &PublicKey,
        now: i64,
    ) -> Result<RekorBundle, TlogError> {
        let (url, body) = self
            .post_entry(hashedrekord_entry(payload, signature, key))
            .await?;
        let bundle = parse_entry_response(&body).map_err(|reason| TlogError::BadResponse {
            url: url.clone(),
            reason,
        })?;
        let entry = RekorEntry::parse(bundle.body()).map_err(|source| TlogError::NotBound {
            url: url.clone(),
            source,
        })?;
        entry
            .check_binding(payload, signature, key)
            .map_err(|source| TlogError::NotBound {
                url: url.clone(),
                source,
            })?;
        if !self.log_keys.is_empty() {
            bundle
                .verify(payload, signature, key, &self.log_keys, now, 300)
                .map_err(|source| TlogError::SetInvalid {
                    url: url.clone(),
                    source,
                })?;
        }
        Ok(bundle)
    }

    /// Logs a DSSE envelope whose signatures `verifier_pem` (a PEM public key or
    /// certificate) verifies, as a `dsse` 0.0.1 entry, and returns the entry
    /// as a Sigstore bundle's `tlogEntries` item (protobuf JSON: SET, inclusion proof and
    /// checkpoint, canonical body). The caller verifies the bundle it goes into: see
    /// [`TlogUploader::log_keys`].
    pub async fn upload_dsse(
        &self,
        envelope: &Value,
        verifier_pem: &str,
    ) -> Result<Value, TlogError> {
        let proposed = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {
                "envelope": go_envelope_json(envelope),
                "verifiers": [STANDARD.encode(verifier_pem)],
            }},
        });
        let (url, body) = self.post_entry(proposed.to_string()).await?;
        bundle_tlog_entry(&body, "dsse").map_err(|reason| TlogError::BadResponse { url, reason })
    }

    /// The pinned log keys ([`TlogUploader::with_log_key`]).
    pub fn log_keys(&self) -> &[PublicKey] {
        &self.log_keys
    }

    /// The key the log publishes (`GET /api/v1/log/publicKey`), for checking what it
    /// returns when no key is pinned: it catches a broken log, not a lying one.
    pub async fn fetch_log_key(&self) -> Result<PublicKey, TlogError> {
        let url = format!(
            "{}/api/v1/log/publicKey",
            self.base.as_str().trim_end_matches('/')
        );
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|source| TlogError::Http {
                url: url.clone(),
                source,
            })?;
        if resp.status() != StatusCode::OK {
            return Err(status_error(resp, &url).await);
        }
        let pem = read_bounded(resp, &url).await?;
        PublicKey::from_pem(&pem).map_err(|e| TlogError::BadResponse {
            url,
            reason: format!("the log's public key: {e}"),
        })
    }

    /// `POST`s a proposed entry; on `409 Conflict` (logged before) fetches the existing
    /// entry from the `Location` given (same origin only). Returns the URL answered from
    /// and the body, bounded.
    async fn post_entry(&self, proposed: String) -> Result<(String, Vec<u8>), TlogError> {
        let url = self.endpoint();
        let http = |source| TlogError::Http {
            url: url.clone(),
            source,
        };
        let resp = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(proposed)
            .send()
            .await
            .map_err(http)?;
        match resp.status() {
            StatusCode::CREATED => Ok((url.clone(), read_bounded(resp, &url).await?)),
            StatusCode::CONFLICT => {
                // Logged before: Rekor points at the existing entry.
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .ok_or_else(|| TlogError::BadResponse {
                        url: url.clone(),
                        reason: "409 Conflict without a Location".into(),
                    })?;
                let existing = self.same_origin(&url, &location)?;
                let resp =
                    self.http
                        .get(&existing)
                        .send()
                        .await
                        .map_err(|source| TlogError::Http {
                            url: existing.clone(),
                            source,
                        })?;
                if resp.status() != StatusCode::OK {
                    return Err(status_error(resp, &existing).await);
                }
                let body = read_bounded(resp, &existing).await?;
                Ok((existing, body))
            }
            _ => Err(status_error(resp, &url).await),
        }
    }

    fn same_origin(&self, from: &str, location: &str) -> Result<String, TlogError> {
        let bad = |reason: String| TlogError::BadResponse {
            url: from.to_owned(),
            reason,
        };
        let abs = self
            .base
            .join(location)
            .map_err(|e| bad(format!("bad Location {:?}: {e}", clip(location))))?;
        if abs.origin() != self.base.origin() {
            return Err(bad(format!(
                "Location {:?} points at another host",
                clip(location)
            )));
        }
        Ok(abs.to_string())
    }
}

/// The proposed `hashedrekord` 0.0.1 entry for a signature, as cosign sends it.
pub fn hashedrekord_entry(payload: &[u8], signature: &[u8], key: &PublicKey) -> String {
    serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}},
            "signature": {
                "content": STANDARD.encode(signature),
                "publicKey": {"content": STANDARD.encode(spki_to_pem(key.der()))},
            },
        },
    })
    .to_string()
}

/// The envelope's JSON as Go's `dsse.Envelope` marshals it (`payloadType`, `payload`,
/// `signatures` of `keyid`, `sig`): the log hashes the exact string it is sent into the
/// entry (`envelopeHash`), and verifiers that rebuild the entry from the bundle
/// (sigstore-go, so cosign) marshal the envelope that way.
fn go_envelope_json(envelope: &Value) -> String {
    let text = |v: &Value| Value::from(v.as_str().unwrap_or_default()).to_string();
    let sigs: Vec<String> = envelope["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{{\"keyid\":{},\"sig\":{}}}",
                text(&s["keyid"]),
                text(&s["sig"])
            )
        })
        .collect();
    format!(
        "{{\"payloadType\":{},\"payload\":{},\"signatures\":[{}]}}",
        text(&envelope["payloadType"]),
        text(&envelope["payload"]),
        sigs.join(",")
    )
}

/// The members of Rekor's log-entry answer both readers need, checked: exactly one entry
/// `{uuid: {body, integratedTime, logID, logIndex, verification: {signedEntryTimestamp,
/// inclusionProof?}}}`.
struct Answer<'a> {
    entry: &'a Value,
    body_b64: &'a str,
    body: Vec<u8>,
    integrated_time: i64,
    log_index: i64,
    log_id: Vec<u8>,
    set_b64: &'a str,
    set: Vec<u8>,
}

fn read_answer(doc: &Value) -> Result<Answer<'_>, String> {
    let map = doc.as_object().ok_or("not a JSON object")?;
    let (Some((_uuid, entry)), 1) = (map.iter().next(), map.len()) else {
        return Err(format!("{} entries, expected exactly one", map.len()));
    };
    let field = |name: &str| entry.get(name).ok_or(format!("entry has no {name}"));
    fn text<'v>(v: &'v Value, name: &str) -> Result<&'v str, String> {
        v.as_str().ok_or(format!("{name} is not a string"))
    }
    let non_negative = |name: &str| {
        field(name)?
            .as_i64()
            .filter(|i| *i >= 0)
            .ok_or(format!("{name} is not a non-negative integer"))
    };
    let body_b64 = text(field("body")?, "body")?;
    let body = STANDARD
        .decode(body_b64)
        .map_err(|_| "body is not base64".to_owned())?;
    let log_id = field("logID")?
        .as_str()
        .filter(|s| s.len() == 64)
        .and_then(|s| hex::decode(s).ok())
        .ok_or("logID is not 64 hex digits")?;
    let set_b64 = text(
        field("verification")?
            .get("signedEntryTimestamp")
            .ok_or("verification has no signedEntryTimestamp")?,
        "verification.signedEntryTimestamp",
    )?;
    let set = STANDARD
        .decode(set_b64)
        .map_err(|_| "verification.signedEntryTimestamp is not base64".to_owned())?;
    Ok(Answer {
        entry,
        body_b64,
        body,
        integrated_time: non_negative("integratedTime")?,
        log_index: non_negative("logIndex")?,
        log_id,
        set_b64,
        set,
    })
}

/// Reads Rekor's log-entry answer (exactly one entry) into a legacy Rekor bundle.
pub fn parse_entry_response(bytes: &[u8]) -> Result<RekorBundle, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let a = read_answer(&doc)?;
    Ok(RekorBundle::new(
        a.set,
        a.body,
        a.integrated_time,
        a.log_index,
        hex::encode(a.log_id),
    ))
}

/// Rekor's log-entry answer (exactly one entry, with its inclusion proof) as a Sigstore
/// bundle `tlogEntries` item in protobuf JSON: integers as strings, hex as base64.
pub fn bundle_tlog_entry(bytes: &[u8], kind: &str) -> Result<Value, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let a = read_answer(&doc)?;
    let proof = &a.entry["verification"]["inclusionProof"];
    if proof.is_null() {
        return Err("the entry has no inclusion proof (a v0.3 bundle needs one)".into());
    }
    let int_at = |name: &str| -> Result<i64, String> {
        proof[name].as_i64().filter(|i| *i >= 0).ok_or(format!(
            "inclusionProof.{name} is not a non-negative integer"
        ))
    };
    let hex_b64 = |v: &Value, name: &str| -> Result<String, String> {
        v.as_str()
            .and_then(|h| hex::decode(h).ok())
            .map(|b| STANDARD.encode(b))
            .ok_or(format!("inclusionProof.{name} is not hex"))
    };
    let hashes = proof["hashes"]
        .as_array()
        .ok_or("inclusionProof.hashes is not an array")?
        .iter()
        .map(|h| hex_b64(h, "hashes[]"))
        .collect::<Result<Vec<_>, _>>()?;
    let checkpoint = proof["checkpoint"]
        .as_str()
        .ok_or("inclusionProof.checkpoint is not a string")?;
    Ok(serde_json::json!({
        "logIndex": a.log_index.to_string(),
        "logId": {"keyId": STANDARD.encode(&a.log_id)},
        "kindVersion": {"kind": kind, "version": "0.0.1"},
        "integratedTime": a.integrated_time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": a.set_b64},
        "inclusionProof": {
            "logIndex": int_at("logIndex")?.to_string(),
            "rootHash": hex_b64(&proof["rootHash"], "rootHash")?,
            "treeSize": int_at("treeSize")?.to_string(),
            "hashes": hashes,
            "checkpoint": {"envelope": checkpoint}
        },
        "canonicalizedBody": a.body_b64
    }))
}

async fn read_bounded(resp: reqwest::Response, url: &str) -> Result<Vec<u8>, TlogError> {
    crate::http::read_bounded(resp, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| match e {
            crate::http::BodyError::Http(source) => TlogError::Http {
                url: url.to_owned(),
                source,
            },
            crate::http::BodyError::TooLarge => TlogError::TooLarge {
                url: url.to_owned(),
                max: MAX_RESPONSE_BYTES,
            },
        })
}

async fn status_error(resp: reqwest::Response, url: &str) -> TlogError {
    let status = resp.status().as_u16();
    let body = read_bounded(resp, url).await.unwrap_or_default();
    TlogError::Status {
        url: url.to_owned(),
        status,
        message: crate::http::refusal_message(&body),
    }
}

fn clip(s: &str) -> String {
    latch_oci::text::clip(s, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_real_shape() {
        let body = STANDARD.encode(br#"{"apiVersion":"0.0.1"}"#);
        let doc = format!(
            r#"{{"24296fb24b8ad77a":{{"body":"{body}","integratedTime":1700000000,"logID":"{}","logIndex":42,"verification":{{"inclusionProof":{{}},"signedEntryTimestamp":"AQI="}}}}}}"#,
            "c0".repeat(32)
        );
        let b = parse_entry_response(doc.as_bytes()).unwrap();
        assert_eq!(b.log_index(), 42);
        assert_eq!(b.integrated_time(), 1700000000);
        assert_eq!(b.signed_entry_timestamp(), &[1, 2]);
        for bad in [
            "[]",
            "{}",
            r#"{"a":{},"b":{}}"#,
            r#"{"a":{"body":"e30=","integratedTime":1,"logID":"00","logIndex":1,"verification":{"signedEntryTimestamp":"AQ=="}}}"#,
            r#"{"a":{"body":"e30=","integratedTime":1,"logID":"c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0","logIndex":-1,"verification":{"signedEntryTimestamp":"AQ=="}}}"#,
            r#"{"a":{"body":"%%","integratedTime":1,"logID":"c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0","logIndex":1,"verification":{"signedEntryTimestamp":"AQ=="}}}"#,
            r#"{"a":{"body":"e30=","integratedTime":1,"logID":"c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0","logIndex":1,"verification":{}}}"#,
        ] {
            assert!(parse_entry_response(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_answers_become_bundle_entries_or_are_refused() {
        let body = STANDARD.encode(br#"{"apiVersion":"0.0.1","kind":"dsse"}"#);
        let good = serde_json::json!({"24296fb24b8ad77a": {
            "body": body, "integratedTime": 1700000000, "logID": "c0".repeat(32), "logIndex": 42,
            "verification": {
                "inclusionProof": {"checkpoint": "log - 1\n3\nroot\n\n— log sig\n", "hashes": ["ab".repeat(32), "cd".repeat(32)], "logIndex": 2, "rootHash": "ef".repeat(32), "treeSize": 3},
                "signedEntryTimestamp": "AQI="
            }
        }});
        let e = bundle_tlog_entry(good.to_string().as_bytes(), "dsse").unwrap();
        assert_eq!(e["logIndex"], "42");
        assert_eq!(e["integratedTime"], "1700000000");
        assert_eq!(e["kindVersion"]["kind"], "dsse");
        assert_eq!(e["logId"]["keyId"], STANDARD.encode([0xc0; 32]));
        assert_eq!(e["inclusionProof"]["logIndex"], "2");
        assert_eq!(e["inclusionProof"]["treeSize"], "3");
        assert_eq!(
            e["inclusionProof"]["hashes"][1],
            STANDARD.encode([0xcd; 32])
        );
        assert_eq!(e["inclusionProof"]["rootHash"], STANDARD.encode([0xef; 32]));
        assert_eq!(e["canonicalizedBody"], body);
        // Each member broken in turn is refused, never a panic.
        let breaks: [(&str, &[&str], serde_json::Value); 9] = [
            (
                "no proof",
                &["verification", "inclusionProof"],
                serde_json::Value::Null,
            ),
            (
                "no SET",
                &["verification", "signedEntryTimestamp"],
                serde_json::Value::Null,
            ),
            ("body", &["body"], serde_json::json!("%%")),
            ("log id", &["logID"], serde_json::json!("c0")),
            ("index", &["logIndex"], serde_json::json!(-1)),
            ("time", &["integratedTime"], serde_json::json!("now")),
            (
                "hash",
                &["verification", "inclusionProof", "hashes"],
                serde_json::json!(["zz"]),
            ),
            (
                "root",
                &["verification", "inclusionProof", "rootHash"],
                serde_json::json!(7),
            ),
            (
                "size",
                &["verification", "inclusionProof", "treeSize"],
                serde_json::json!(1.5),
            ),
        ];
        for (what, path, value) in breaks {
            let mut doc = good.clone();
            let mut at = &mut doc["24296fb24b8ad77a"];
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at[path[path.len() - 1]] = value;
            assert!(
                bundle_tlog_entry(doc.to_string().as_bytes(), "dsse").is_err(),
                "{what}"
            );
        }
        let text = good.to_string();
        for cut in 0..text.len() {
            let _ = bundle_tlog_entry(&text.as_bytes()[..cut], "dsse");
        }
        let two = serde_json::json!({"a": good["24296fb24b8ad77a"], "b": good["24296fb24b8ad77a"]});
        assert!(bundle_tlog_entry(two.to_string().as_bytes(), "dsse").is_err());
        assert!(bundle_tlog_entry(b"[]", "dsse").is_err());
    }

    #[test]
    fn envelopes_are_sent_in_gos_field_order() {
        let env = serde_json::json!({
            "payload": "cA==", "payloadType": "t", "signatures": [{"sig": "cw==", "keyid": ""}]
        });
        assert_eq!(
            go_envelope_json(&env),
            r#"{"payloadType":"t","payload":"cA==","signatures":[{"keyid":"","sig":"cw=="}]}"#
        );
    }

    #[test]
    fn bad_urls() {
        for u in ["", "rekor.example", "ftp://x/", "https://u:p@x/"] {
            assert!(TlogUploader::new(u).is_err(), "{u}");
        }
        assert!(TlogUploader::new("http://127.0.0.1:3000").is_ok());
    }
}
