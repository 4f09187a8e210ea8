//! A small Rekor v1-compatible transparency log for tests: the public Rekor cannot be
//! reached here, so signing with `--tlog-upload` is tested against this.
//!
//! It speaks the real API for `hashedrekord` 0.0.1 and `dsse` 0.0.1 entries:
//!
//! - `POST /api/v1/log/entries` with a proposed entry: checks its shape, verifies the
//!   signature (ECDSA P-256: over the given sha256 for `hashedrekord`; over each DSSE
//!   signature's pre-authentication encoding for `dsse`, with the public keys or
//!   certificates given as verifiers), assigns the next log index, and answers `201
//!   Created` with `Location`, `ETag` and the real body shape `{uuid: {body,
//!   integratedTime, logID, logIndex, verification: {inclusionProof, signedEntryTimestamp}}}`.
//!   An entry logged before gets `409 Conflict` with the `Location` of the existing one, as
//!   Rekor does. The entries form one RFC 6962 Merkle tree: the inclusion proof is real,
//!   against a checkpoint of the current tree signed with the log's key.
//! - `GET /api/v1/log/entries/{uuid}`: the same shape for one entry.
//! - `GET /api/v1/log/publicKey`: the log's PEM public key.
//!
//! `body` is the canonical entry (members in Go's order, no whitespace). The SET is an
//! ECDSA P-256 SHA-256 signature by a key made for each server over the RFC 8785 canonical
//! JSON of `{body, integratedTime, logID, logIndex}`; `logID` is the hex sha256 of the
//! key's DER SubjectPublicKeyInfo. Errors are `{"code": N, "message": "…"}`.

use std::sync::{Arc, Mutex};

use aws_lc_rs::digest::{Digest as AwsDigest, SHA256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use sha2::Digest as _;

use crate::server::{BackgroundServer, Body, Handler, Refusal, full, json_error as error, lock};

/// Bound on a proposed entry.
const MAX_REQUEST: usize = 1024 * 1024;
/// The tree id that prefixes entry UUIDs (a fixed 8 bytes, as Rekor's shards have).
const TREE_ID: &str = "6c61746368746b74";

struct Entry {
    uuid: String,
    leaf: [u8; 32],
    body_b64: String,
    integrated_time: i64,
    log_id: String,
    log_index: i64,
    set_b64: String,
}

struct State {
    key: EcdsaKeyPair,
    /// Refuse every new entry with this status and message (a log that is down or
    /// refuses this signer).
    refuse: Refusal,
    spki: Vec<u8>,
    log_id: String,
    first_index: i64,
    rng: SystemRandom,
    entries: Mutex<Vec<Entry>>,
}

/// A running test transparency log. Dropping it stops it.
pub struct RekorServer {
    server: BackgroundServer,
    state: Arc<State>,
}

impl RekorServer {
    /// Starts a log on 127.0.0.1 with a free port and a fresh P-256 key; indexes start at 0.
    pub fn start() -> RekorServer {
        RekorServer::start_at(0)
    }

    /// Starts a log whose first entry gets `first_index` (real logs are past 10^8).
    pub fn start_at(first_index: i64) -> RekorServer {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .expect("generate the log's P-256 key");
        RekorServer::start_with(pkcs8.as_ref(), first_index)
    }

    /// Starts a log that signs with this P-256 key (PKCS#8 DER); indexes start at 0.
    pub fn start_with_key(pkcs8: &[u8]) -> RekorServer {
        RekorServer::start_with(pkcs8, 0)
    }

    fn start_with(pkcs8: &[u8], first_index: i64) -> RekorServer {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
            .expect("read the log's key");
        let spki = crate::der::p256_spki(key.public_key().as_ref());
        let log_id = hex(&sha2::Sha256::digest(&spki));
        let state = Arc::new(State {
            key,
            refuse: Refusal::default(),
            spki,
            log_id,
            first_index,
            rng,
            entries: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let handler: Handler = Arc::new(move |req| {
            let st = st.clone();
            Box::pin(async move { handle(&st, req).await })
        });
        RekorServer {
            server: BackgroundServer::start("rekor", handler),
            state,
        }
    }

    /// `http://127.0.0.1:PORT`, what `--tlog-upload` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The log's public key, PEM (a `PUBLIC KEY` block, 64-column lines).
    pub fn public_key_pem(&self) -> String {
        pem("PUBLIC KEY", &self.state.spki)
    }

    /// The log's public key, DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.state.spki.clone()
    }

    /// The log id: hex sha256 of the key's DER.
    pub fn log_id(&self) -> String {
        self.state.log_id.clone()
    }

    /// From now on, refuse every new entry with `status` and `message` (as a log that is
    /// down or refuses the signer answers); `None` accepts again.
    pub fn refuse(&self, refusal: Option<(u16, &str)>) {
        self.state.refuse.set(refusal);
    }

    /// Entries logged so far.
    pub fn entry_count(&self) -> usize {
        lock(&self.state.entries).len()
    }

    /// Stops the server (also done on drop).
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

async fn handle(st: &State, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (&Method::POST, "/api/v1/log/entries") => {
            let body = match Limited::new(req.into_body(), MAX_REQUEST).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            };
            create(st, &body)
        }
        (&Method::GET, "/api/v1/log/publicKey") => Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/x-pem-file")
            .body(full(pem("PUBLIC KEY", &st.spki)))
            .expect("a valid response"),
        (&Method::GET, p) if p.starts_with("/api/v1/log/entries/") => {
            let uuid = &p["/api/v1/log/entries/".len()..];
            let entries = lock(&st.entries);
            // Rekor accepts the UUID with or without the tree id.
            match entries
                .iter()
                .position(|e| e.uuid == uuid || e.uuid.ends_with(uuid) && uuid.len() == 64)
            {
                Some(i) => entry_response(st, StatusCode::OK, &entries, i),
                None => error(StatusCode::NOT_FOUND, "entry not found"),
            }
        }
        _ => error(StatusCode::NOT_FOUND, &format!("path {path} was not found")),
    }
}

fn create(st: &State, body: &[u8]) -> Response<Body> {
    if let Some(refused) = st.refuse.answer() {
        return refused;
    }
    let canonical = match canonical_entry(body) {
        Ok(c) => c,
        Err(msg) => return error(StatusCode::BAD_REQUEST, &msg),
    };
    let leaf = crate::merkle::leaf_hash(canonical.as_bytes());
    let mut entries = lock(&st.entries);
    if let Some(existing) = entries.iter().find(|e| e.leaf == leaf) {
        let mut r = error(
            StatusCode::CONFLICT,
            &format!(
                "an equivalent entry already exists in the transparency log with UUID {}",
                existing.uuid
            ),
        );
        r.headers_mut().insert(
            hyper::header::LOCATION,
            format!("/api/v1/log/entries/{}", existing.uuid)
                .parse()
                .expect("a valid header"),
        );
        return r;
    }
    let log_index = st.first_index + entries.len() as i64;
    let integrated_time = crate::now();
    let body_b64 = STANDARD.encode(canonical.as_bytes());
    let set_message = format!(
        "{{\"body\":{},\"integratedTime\":{integrated_time},\"logID\":{},\"logIndex\":{log_index}}}",
        json_str(&body_b64),
        json_str(&st.log_id)
    );
    let set = st
        .key
        .sign(&st.rng, set_message.as_bytes())
        .expect("sign the SET");
    let entry = Entry {
        uuid: format!("{TREE_ID}{}", hex(&leaf)),
        leaf,
        body_b64,
        integrated_time,
        log_id: st.log_id.clone(),
        log_index,
        set_b64: STANDARD.encode(set.as_ref()),
    };
    let uuid = entry.uuid.clone();
    entries.push(entry);
    let mut r = entry_response(st, StatusCode::CREATED, &entries, entries.len() - 1);
    for (name, value) in [
        ("location", format!("/api/v1/log/entries/{uuid}")),
        ("etag", uuid),
    ] {
        r.headers_mut()
            .insert(name, value.parse().expect("a valid header"));
    }
    r
}

/// Entry `i` of `entries`, with its inclusion proof in the current tree and a checkpoint
/// of that tree.
fn entry_response(st: &State, status: StatusCode, entries: &[Entry], i: usize) -> Response<Body> {
    let e = &entries[i];
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| e.leaf).collect();
    let root = crate::merkle::root(&leaves);
    let hashes: Vec<String> = crate::merkle::inclusion_proof(i, &leaves)
        .iter()
        .map(|h| hex(h))
        .collect();
    let checkpoint = crate::merkle::checkpoint(
        "latch.test - 1",
        leaves.len(),
        &root,
        &st.key,
        &st.spki,
        &st.rng,
    );
    // Go's field order: body, integratedTime, logID, logIndex, verification.
    let doc = format!(
        "{{{}:{{\"body\":{},\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{},\"verification\":{{\"inclusionProof\":{{\"checkpoint\":{},\"hashes\":{},\"logIndex\":{i},\"rootHash\":\"{}\",\"treeSize\":{}}},\"signedEntryTimestamp\":\"{}\"}}}}}}\n",
        json_str(&e.uuid),
        json_str(&e.body_b64),
        e.integrated_time,
        e.log_id,
        e.log_index,
        json_str(&checkpoint),
        serde_json::Value::from(hashes),
        hex(&root),
        leaves.len(),
        e.set_b64
    );
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(doc))
        .expect("a valid response")
}

struct Proposed {
    hash_hex: String,
    signature_b64: String,
    key_b64: String,
    signature: Vec<u8>,
    key_der: Vec<u8>,
    hash: Vec<u8>,
}

impl Proposed {
    fn verify(&self) -> Result<(), String> {
        let digest = AwsDigest::import_less_safe(&self.hash, &SHA256)
            .map_err(|_| "spec.data.hash.value is not a sha256".to_owned())?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.key_der)
            .verify_digest(&digest, &self.signature)
            .map_err(|_| {
                "verifying signature: invalid signature when validating ASN.1 encoded signature"
                    .to_owned()
            })
    }

    /// The entry as Rekor stores it (Go's `json.Marshal` of the hashedrekord type).
    fn canonical(&self) -> String {
        format!(
            "{{\"apiVersion\":\"0.0.1\",\"kind\":\"hashedrekord\",\"spec\":{{\"data\":{{\"hash\":{{\"algorithm\":\"sha256\",\"value\":{}}}}},\"signature\":{{\"content\":{},\"publicKey\":{{\"content\":{}}}}}}}}}",
            json_str(&self.hash_hex),
            json_str(&self.signature_b64),
            json_str(&self.key_b64)
        )
    }
}

/// The entry as the log stores it, once its signature verified.
fn canonical_entry(body: &[u8]) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("parsing the entry: {e}"))?;
    match (v["kind"].as_str(), v["apiVersion"].as_str()) {
        (Some("dsse"), Some("0.0.1")) => dsse_entry(&v),
        _ => {
            let proposed = parse_hashedrekord(body)?;
            proposed.verify()?;
            Ok(proposed.canonical())
        }
    }
}

/// A `dsse` 0.0.1 entry: `spec.proposedContent.envelope` (the envelope's JSON, as a
/// string) and `.verifiers` (base64 PEM public keys or certificates); every signature must
/// verify with one of them. Stored as Rekor does: the envelope's and payload's hashes and
/// each signature with its verifier.
fn dsse_entry(v: &serde_json::Value) -> Result<String, String> {
    let content = &v["spec"]["proposedContent"];
    let envelope_text = content["envelope"]
        .as_str()
        .ok_or("spec.proposedContent.envelope is not a string")?;
    let envelope: serde_json::Value = serde_json::from_str(envelope_text)
        .map_err(|e| format!("spec.proposedContent.envelope is not JSON: {e}"))?;
    let payload_type = envelope["payloadType"]
        .as_str()
        .ok_or("envelope has no payloadType")?;
    let payload = STANDARD
        .decode(
            envelope["payload"]
                .as_str()
                .ok_or("envelope has no payload")?,
        )
        .map_err(|_| "envelope payload is not base64".to_owned())?;
    let verifiers: Vec<(String, Vec<u8>)> = content["verifiers"]
        .as_array()
        .ok_or("spec.proposedContent.verifiers is not an array")?
        .iter()
        .map(|b64| {
            let b64 = b64.as_str().ok_or("a verifier is not a string")?;
            let pem = STANDARD
                .decode(b64)
                .map_err(|_| "a verifier is not base64".to_owned())?;
            Ok((b64.to_owned(), verifier_key(&pem)?))
        })
        .collect::<Result<_, String>>()?;
    let signatures = envelope["signatures"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or("envelope has no signatures")?;
    let mut pae = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(&payload);
    let mut logged = Vec::new();
    for s in signatures {
        let sig_b64 = s["sig"].as_str().ok_or("a signature has no sig")?;
        let sig = STANDARD
            .decode(sig_b64)
            .map_err(|_| "a signature is not base64".to_owned())?;
        let verifier = verifiers
            .iter()
            .find(|(_, key)| {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key)
                    .verify(&pae, &sig)
                    .is_ok()
            })
            .ok_or("verifying envelope: no verifier verifies a signature of the envelope")?;
        logged.push(serde_json::json!({"signature": sig_b64, "verifier": verifier.0}));
    }
    let body = serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hex(&sha2::Sha256::digest(envelope_text.as_bytes()))},
            "payloadHash": {"algorithm": "sha256", "value": hex(&sha2::Sha256::digest(&payload))},
            "signatures": logged,
        }
    });
    Ok(body.to_string())
}

/// The SubjectPublicKeyInfo DER of a PEM public key or certificate.
fn verifier_key(pem: &[u8]) -> Result<Vec<u8>, String> {
    if let Some(der) = pem_body(pem) {
        return Ok(der);
    }
    let text = std::str::from_utf8(pem).map_err(|_| "a verifier is not PEM".to_owned())?;
    let b64: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN CERTIFICATE-----")
        .skip(1)
        .take_while(|l| *l != "-----END CERTIFICATE-----")
        .collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| "a verifier is neither a PEM public key nor a certificate".to_owned())?;
    use x509_cert::der::{Decode as _, Encode as _};
    let cert = x509_cert::Certificate::from_der(&der)
        .map_err(|e| format!("a verifier certificate cannot be read: {e}"))?;
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("a verifier certificate's key: {e}"))
}

fn parse_hashedrekord(body: &[u8]) -> Result<Proposed, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("parsing the entry: {e}"))?;
    let text = |path: &[&str]| -> Result<String, String> {
        let mut cur = &v;
        for p in path {
            cur = cur
                .get(p)
                .ok_or_else(|| format!("missing {}", path.join(".")))?;
        }
        cur.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{} is not a string", path.join(".")))
    };
    let kind = text(&["kind"])?;
    let version = text(&["apiVersion"])?;
    if kind != "hashedrekord" || version != "0.0.1" {
        return Err(format!(
            "this test log accepts hashedrekord and dsse 0.0.1 only, not {kind} {version}"
        ));
    }
    let algorithm = text(&["spec", "data", "hash", "algorithm"])?;
    if algorithm != "sha256" {
        return Err(format!("unsupported hash algorithm {algorithm}"));
    }
    let hash_hex = text(&["spec", "data", "hash", "value"])?;
    let hash = unhex(&hash_hex)
        .filter(|h| h.len() == 32)
        .ok_or("spec.data.hash.value is not 64 hex digits")?;
    let signature_b64 = text(&["spec", "signature", "content"])?;
    let signature = STANDARD
        .decode(&signature_b64)
        .map_err(|_| "spec.signature.content is not base64".to_owned())?;
    let key_b64 = text(&["spec", "signature", "publicKey", "content"])?;
    let key_pem = STANDARD
        .decode(&key_b64)
        .map_err(|_| "spec.signature.publicKey.content is not base64".to_owned())?;
    let key_der = pem_body(&key_pem).ok_or("spec.signature.publicKey.content is not a PEM key")?;
    Ok(Proposed {
        hash_hex,
        signature_b64,
        key_b64,
        signature,
        key_der,
        hash,
    })
}

fn pem_body(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?.trim();
    let mut lines = text.lines();
    if lines.next()?.trim() != "-----BEGIN PUBLIC KEY-----" {
        return None;
    }
    let mut b64 = String::new();
    for line in lines {
        let line = line.trim();
        if line == "-----END PUBLIC KEY-----" {
            return STANDARD.decode(b64).ok();
        }
        b64.push_str(line);
    }
    None
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
