//! A TUF repository shaped like Sigstore's (consistent snapshots, a `trusted_root.json`
//! target, separate root, timestamp, snapshot and targets keys), served over HTTP on
//! 127.0.0.1. Its metadata is written and signed here, with its own canonical JSON and
//! ed25519 keys from aws-lc-rs, so the client under test shares no code with it.
//!
//! A test publishes a new trusted root, rotates the root keys, or serves what a client
//! must refuse: an expired timestamp, a timestamp signed by a key the root does not
//! list, a root rotation signed by the new keys only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::now;
use crate::server::{BackgroundServer, Handler, Refusal, full, lock};

/// How long metadata is valid for unless a test says otherwise (seconds).
const VALID_FOR: i64 = 30 * 86_400;

struct Key {
    pair: Ed25519KeyPair,
    id: String,
    public: Value,
}

impl Key {
    fn generate() -> Key {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate an ed25519 key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("read the ed25519 key");
        let public = json!({
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": {"public": hex(pair.public_key().as_ref())},
        });
        let id = hex(&Sha256::digest(canonical(&public)));
        Key { pair, id, public }
    }

    fn sign(&self, signed: &Value) -> Value {
        json!({"keyid": self.id, "sig": hex(self.pair.sign(&canonical(signed)).as_ref())})
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Canonical JSON as TUF signs it (securesystemslib's): object keys sorted, no
/// whitespace, strings escaping only `"` and `\`, integers only.
fn canonical(v: &Value) -> Vec<u8> {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::String(s) => {
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let sorted: BTreeMap<&String, &Value> = map.iter().collect();
                out.push('{');
                for (i, (k, item)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(&Value::String(k.clone()), out);
                    out.push(':');
                    write(item, out);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out.into_bytes()
}

fn expires(in_secs: i64) -> String {
    latch_oci::time::rfc3339(now() + in_secs)
}

fn envelope(signed: &Value, keys: &[&Key]) -> Vec<u8> {
    let signatures: Vec<Value> = keys.iter().map(|k| k.sign(signed)).collect();
    serde_json::to_vec_pretty(&json!({"signed": signed, "signatures": signatures}))
        .expect("serialize metadata")
}

struct Repo {
    root_version: u64,
    root_keys: Vec<Key>,
    timestamp_key: Key,
    snapshot_key: Key,
    targets_key: Key,
    timestamp_version: u64,
    snapshot_version: u64,
    targets_version: u64,
    trusted_root: Vec<u8>,
    files: HashMap<String, Vec<u8>>,
}

impl Repo {
    fn root_signed(&self) -> Value {
        let mut keys = serde_json::Map::new();
        for k in self.root_keys.iter().chain([
            &self.timestamp_key,
            &self.snapshot_key,
            &self.targets_key,
        ]) {
            keys.insert(k.id.clone(), k.public.clone());
        }
        let role =
            |ids: Vec<&str>, threshold: usize| json!({"keyids": ids, "threshold": threshold});
        json!({
            "_type": "root",
            "spec_version": "1.0",
            "version": self.root_version,
            "expires": expires(365 * 86_400),
            "consistent_snapshot": true,
            "keys": keys,
            "roles": {
                "root": role(self.root_keys.iter().map(|k| k.id.as_str()).collect(), 2),
                "timestamp": role(vec![&self.timestamp_key.id], 1),
                "snapshot": role(vec![&self.snapshot_key.id], 1),
                "targets": role(vec![&self.targets_key.id], 1),
            },
        })
    }

    /// Writes targets (with the trusted root), snapshot and a timestamp valid for
    /// `valid_for` seconds, signed by `timestamp_key` (the root's, unless a test forges).
    fn publish(&mut self, valid_for: i64, timestamp_key: Option<&Key>) {
        let digest = hex(&Sha256::digest(&self.trusted_root));
        self.targets_version += 1;
        let targets = json!({
            "_type": "targets",
            "spec_version": "1.0",
            "version": self.targets_version,
            "expires": expires(VALID_FOR),
            "targets": {"trusted_root.json": {
                "length": self.trusted_root.len(),
                "hashes": {"sha256": digest},
            }},
        });
        let targets = envelope(&targets, &[&self.targets_key]);
        self.snapshot_version += 1;
        let snapshot = json!({
            "_type": "snapshot",
            "spec_version": "1.0",
            "version": self.snapshot_version,
            "expires": expires(VALID_FOR),
            "meta": {"targets.json": {"version": self.targets_version}},
        });
        let snapshot = envelope(&snapshot, &[&self.snapshot_key]);
        self.timestamp_version += 1;
        let timestamp = json!({
            "_type": "timestamp",
            "spec_version": "1.0",
            "version": self.timestamp_version,
            "expires": expires(valid_for),
            "meta": {"snapshot.json": {
                "version": self.snapshot_version,
                "length": snapshot.len(),
                "hashes": {"sha256": hex(&Sha256::digest(&snapshot))},
            }},
        });
        let timestamp = envelope(&timestamp, &[timestamp_key.unwrap_or(&self.timestamp_key)]);
        self.files.insert(
            format!("targets/{digest}.trusted_root.json"),
            self.trusted_root.clone(),
        );
        self.files
            .insert(format!("{}.targets.json", self.targets_version), targets);
        self.files
            .insert(format!("{}.snapshot.json", self.snapshot_version), snapshot);
        self.files.insert("timestamp.json".into(), timestamp);
    }
}

/// A running TUF repository. Dropping it stops it.
pub struct TufServer {
    server: BackgroundServer,
    repo: Arc<Mutex<Repo>>,
    refuse: Arc<Refusal>,
}

impl TufServer {
    /// A repository at root version 1 (two root keys, threshold 2) whose
    /// `trusted_root.json` target is `trusted_root`.
    pub fn start(trusted_root: &[u8]) -> TufServer {
        let mut repo = Repo {
            root_version: 1,
            root_keys: vec![Key::generate(), Key::generate()],
            timestamp_key: Key::generate(),
            snapshot_key: Key::generate(),
            targets_key: Key::generate(),
            timestamp_version: 0,
            snapshot_version: 0,
            targets_version: 0,
            trusted_root: trusted_root.to_vec(),
            files: HashMap::new(),
        };
        let root = repo.root_signed();
        let keys: Vec<&Key> = repo.root_keys.iter().collect();
        let root = envelope(&root, &keys);
        repo.files.insert("1.root.json".into(), root);
        repo.publish(VALID_FOR, None);
        let repo = Arc::new(Mutex::new(repo));
        let refuse = Arc::new(Refusal::default());
        let (r, f) = (repo.clone(), refuse.clone());
        let handler: Handler = Arc::new(move |req| {
            let answer = f.answer().unwrap_or_else(|| {
                let path = req.uri().path().trim_start_matches('/').to_owned();
                match lock(&r).files.get(&path) {
                    Some(bytes) => Response::new(full(bytes.clone())),
                    None => Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .body(full("not found"))
                        .expect("a valid response"),
                }
            });
            Box::pin(async move { answer })
        });
        TufServer {
            server: BackgroundServer::start("tuf", handler),
            repo,
            refuse,
        }
    }

    /// `http://127.0.0.1:PORT`, the repository's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// `1.root.json`: the initial root an application ships.
    pub fn initial_root(&self) -> Vec<u8> {
        lock(&self.repo).files["1.root.json"].clone()
    }

    /// The root version served now.
    pub fn root_version(&self) -> u64 {
        lock(&self.repo).root_version
    }

    /// Publishes `trusted_root` as the new target (new targets, snapshot and timestamp).
    pub fn publish(&self, trusted_root: &[u8]) {
        let mut repo = lock(&self.repo);
        repo.trusted_root = trusted_root.to_vec();
        repo.publish(VALID_FOR, None);
    }

    /// Rotates the root: version N+1 with new root keys and a new timestamp key, signed
    /// by the old root keys and the new ones (with `by_old_keys` false, by the new ones
    /// only: a rotation a client must refuse); metadata republished under the new keys.
    pub fn rotate_root(&self, by_old_keys: bool) {
        let mut repo = lock(&self.repo);
        let old = std::mem::replace(&mut repo.root_keys, vec![Key::generate(), Key::generate()]);
        repo.timestamp_key = Key::generate();
        repo.root_version += 1;
        let signed = repo.root_signed();
        let mut signers: Vec<&Key> = repo.root_keys.iter().collect();
        if by_old_keys {
            signers.extend(old.iter());
        }
        let root = envelope(&signed, &signers);
        let name = format!("{}.root.json", repo.root_version);
        repo.files.insert(name, root);
        repo.publish(VALID_FOR, None);
    }

    /// Publishes a new timestamp that expired an hour ago.
    pub fn publish_expired_timestamp(&self) {
        lock(&self.repo).publish(-3600, None);
    }

    /// Publishes a new timestamp signed by a key the root does not list.
    pub fn publish_forged_timestamp(&self) {
        let forger = Key::generate();
        lock(&self.repo).publish(VALID_FOR, Some(&forger));
    }

    /// The `timestamp.json` served now.
    pub fn timestamp(&self) -> Vec<u8> {
        lock(&self.repo).files["timestamp.json"].clone()
    }

    /// Serves `timestamp` (an older one, replayed) as `timestamp.json`.
    pub fn serve_timestamp(&self, timestamp: &[u8]) {
        lock(&self.repo)
            .files
            .insert("timestamp.json".into(), timestamp.to_vec());
    }

    /// From now on answer every request with `status` (`None`: serve again).
    pub fn refuse(&self, status: Option<u16>) {
        self.refuse.set(status.map(|s| (s, "refused by the test")));
    }
}
