//! Helpers shared by the integration tests: locating `../shared/testdata`, generating
//! keys, signing payloads and making Rekor bundles with a test log key.
#![allow(dead_code)]

use std::path::PathBuf;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latch_oci::Digest;
use latch_trust::{
    Candidate, Checked, Policy, PublicKey, RekorBundle, Signature, SimpleSigning, TlogMode,
    parse_cosign_download, spki_to_pem, verify,
};
use sha2::{Digest as _, Sha256};

/// A fixed "now", after every integratedTime of the fixtures (2027-01-15).
pub const NOW: i64 = 1_800_000_000;
/// The repository the Dangerzone fixtures name.
pub const DZ_REPO: &str = "ghcr.io/almet/dangerzone/dangerzone";
/// sha256 of test.pub.key: the store folder of the fixtures.
pub const DZ_STORE_ID: &str = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";
/// logID of the public-good Rekor key.
pub const REKOR_LOG_ID: &str = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d";

/// `verify` that must accept every one of `sigs` (at least one): what it checked.
pub fn accepts(policy: &Policy, digest: &Digest, sigs: &[Candidate], now: i64) -> Checked {
    let checked = verify(policy, digest, sigs, now).unwrap_or_else(|e| panic!("{e}"));
    assert!(!sigs.is_empty(), "nothing to accept");
    assert_eq!(checked.outcomes.len(), sigs.len(), "{checked:?}");
    assert!(checked.all_accepted(), "{checked:?}");
    checked
}

/// `verify` that must reject every one of `sigs`: what it checked.
pub fn rejects(policy: &Policy, digest: &Digest, sigs: &[Candidate], now: i64) -> Checked {
    let checked = verify(policy, digest, sigs, now).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(checked.outcomes.len(), sigs.len(), "{checked:?}");
    assert_eq!(checked.accepted().count(), 0, "accepted: {checked:?}");
    assert_eq!(checked.rejected().count(), sigs.len(), "{checked:?}");
    assert_eq!(checked.max_log_index, None, "{checked:?}");
    checked
}

/// How many distinct keys made at least one accepted signature.
pub fn distinct_signers(checked: &Checked) -> usize {
    checked
        .accepted()
        .map(|a| a.key_log_id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// `../shared/testdata`, or None (after saying so) when absent outside CI. In CI
/// (`CI=true`) a missing directory fails the test.
pub fn testdata() -> Option<PathBuf> {
    let dir = match std::env::var_os("LATCH_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    if dir.join("dangerzone").is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "test data not found at {} (set LATCH_TESTDATA to the shared testdata directory)",
        dir.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// The Dangerzone fixtures.
pub struct Dz {
    pub dir: PathBuf,
}

impl Dz {
    pub fn new(testdata: PathBuf) -> Dz {
        Dz {
            dir: testdata.join("dangerzone"),
        }
    }
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
    pub fn key(&self, name: &str) -> PublicKey {
        PublicKey::from_pem(&self.read(name)).unwrap()
    }
    pub fn test_key(&self) -> PublicKey {
        self.key("test.pub.key")
    }
    pub fn rekor_key(&self) -> PublicKey {
        self.key("rekor.pub")
    }
    /// (digest, file path relative to dangerzone/) of every file in a fixture set.
    pub fn files(&self, set: &str) -> Vec<(Digest, String)> {
        let sub = format!("signatures/{set}/{DZ_STORE_ID}");
        let mut out: Vec<(Digest, String)> = std::fs::read_dir(self.dir.join(&sub))
            .unwrap()
            .map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                let hex = name.strip_suffix(".json").unwrap().to_owned();
                (
                    Digest::from_sha256_hex(&hex).unwrap(),
                    format!("{sub}/{name}"),
                )
            })
            .collect();
        out.sort();
        out
    }
    pub fn signatures(&self, rel: &str) -> Vec<Candidate> {
        parse_cosign_download(&self.read(rel)).unwrap()
    }
    /// The first signature of valid/19e8….json.
    pub fn valid_19e8(&self) -> (Digest, Signature) {
        let (digest, file) = self
            .files("valid")
            .into_iter()
            .find(|(d, _)| d.hex().starts_with("19e8"))
            .unwrap();
        let sig = self.signatures(&file).remove(0).unwrap();
        (digest, sig)
    }
    /// test.pub.key trusted, rekor.pub pinned, log required.
    pub fn policy(&self) -> Policy {
        Policy::builder()
            .key(self.test_key())
            .rekor_key(self.rekor_key())
            .tlog(TlogMode::Required)
            .build()
            .unwrap()
    }
}

/// A signing key generated for the test.
pub enum Signer {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair, bool),
}

impl Signer {
    pub fn p256() -> Signer {
        Signer::Ecdsa(EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap())
    }
    pub fn p384() -> Signer {
        Signer::Ecdsa(EcdsaKeyPair::generate(&sig::ECDSA_P384_SHA384_ASN1_SIGNING).unwrap())
    }
    pub fn ed25519() -> Signer {
        Signer::Ed25519(Ed25519KeyPair::generate().unwrap())
    }
    pub fn rsa(pss: bool) -> Signer {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        Signer::Rsa(pair, pss)
    }
    pub fn der(&self) -> Vec<u8> {
        match self {
            Signer::Ecdsa(k) => k.public_key().as_der().unwrap().as_ref().to_vec(),
            Signer::Ed25519(k) => k.public_key().as_der().unwrap().as_ref().to_vec(),
            Signer::Rsa(k, _) => k.public_key().as_der().unwrap().as_ref().to_vec(),
        }
    }
    pub fn pem(&self) -> String {
        spki_to_pem(&self.der())
    }
    pub fn public_key(&self) -> PublicKey {
        let key = PublicKey::from_pem(self.pem().as_bytes()).unwrap();
        match self {
            Signer::Rsa(_, true) => key.with_rsa_pss().unwrap(),
            _ => key,
        }
    }
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Signer::Ecdsa(k) => k.sign(&rng, message).unwrap().as_ref().to_vec(),
            Signer::Ed25519(k) => k.sign(message).as_ref().to_vec(),
            Signer::Rsa(k, pss) => {
                let enc: &'static dyn sig::RsaEncoding = if *pss {
                    &sig::RSA_PSS_SHA256
                } else {
                    &sig::RSA_PKCS1_SHA256
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(enc, &rng, message, &mut out).unwrap();
                out
            }
        }
    }
    /// A cosign-style signature (no bundle) of `digest` naming `reference`.
    pub fn sign_image(&self, reference: &str, digest: &Digest) -> Signature {
        let payload = SimpleSigning::new(reference, digest.clone()).to_bytes();
        let s = self.sign(&payload);
        Signature::new(payload, s).unwrap()
    }
}

/// The hashedrekord 0.0.1 body Rekor would log for this signature by `key_pem`.
pub fn hashedrekord_body(payload: &[u8], signature: &[u8], key_pem: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{}"}}}}}}}}"#,
        hex::encode(Sha256::digest(payload)),
        STANDARD.encode(signature),
        STANDARD.encode(key_pem),
    )
    .into_bytes()
}

/// A test Rekor: a P-256 log key that signs SETs.
pub struct TestLog {
    pub signer: Signer,
}

impl TestLog {
    pub fn new() -> TestLog {
        TestLog {
            signer: Signer::p256(),
        }
    }
    pub fn key(&self) -> PublicKey {
        self.signer.public_key()
    }
    pub fn log_id(&self) -> String {
        self.key().log_id().to_owned()
    }
    /// Signs (or re-signs) the SET of a bundle with this log's key, whatever its logID.
    pub fn sign_bundle(
        &self,
        body: Vec<u8>,
        integrated_time: i64,
        log_index: i64,
        log_id: &str,
    ) -> RekorBundle {
        let unsigned = RekorBundle::new(Vec::new(), body, integrated_time, log_index, log_id);
        let set = self.signer.sign(&unsigned.canonical_payload());
        RekorBundle::new(
            set,
            unsigned.body().to_vec(),
            integrated_time,
            log_index,
            log_id,
        )
    }
    /// Logs `sig` (signed by `key_pem`) at `log_index`, `integrated_time`.
    pub fn log(
        &self,
        sig: Signature,
        key_pem: &[u8],
        log_index: i64,
        integrated_time: i64,
    ) -> Signature {
        let body = hashedrekord_body(sig.payload(), sig.signature(), key_pem);
        let bundle = self.sign_bundle(body, integrated_time, log_index, &self.log_id());
        sig.with_bundle(bundle)
    }
}
