//! A test Sigstore for message-signature bundles by ECDSA P-256, P-384 and P-521 signers:
//! a Fulcio-like CA (P-256), a CT log (P-256) and a Rekor log (P-256), all with keys made
//! here and described by a `trusted_root.json` of the public-good structure.
//!
//! It follows the patterns of `latch_testkit::sigstore` (certificates built with
//! `x509-cert` and signed with aws-lc-rs, an embedded SCT over the precertificate, SETs
//! and checkpoints signed by the log key) and adds what those tests need: leaf keys on
//! other curves, otherName SANs, `hashedrekord` 0.0.1 entries with sha256/sha384/sha512
//! data hashes, a two-leaf Merkle tree (so the inclusion proof has a hash to check), and
//! key-signed bundles (a `publicKey` hint, the key in the log entry).
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
    EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latch_sigstore::TrustRoot;
use x509_cert::der::asn1::{BitString, Ia5String, OctetString, UtcTime, Utf8StringRef};
use x509_cert::der::{Any, Decode, Encode};
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
};
use x509_cert::ext::{AsExtension as _, Extension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const CT_PRECERT_SCTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// Fulcio's otherName type for username identities.
pub const FULCIO_USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

/// A test OIDC issuer.
pub const ISSUER: &str = "https://oidc.latch.test";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `sha256`, `sha384` or `sha512` of `data`.
pub fn hash(algorithm: &str, data: &[u8]) -> Vec<u8> {
    let alg = match algorithm {
        "sha256" => &digest::SHA256,
        "sha384" => &digest::SHA384,
        "sha512" => &digest::SHA512,
        other => panic!("no hash {other}"),
    };
    digest::digest(alg, data).as_ref().to_vec()
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The curves a signer can be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Curve::P256 => &ECDSA_P256_SHA256_ASN1_SIGNING,
            Curve::P384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
            Curve::P521 => &ECDSA_P521_SHA512_ASN1_SIGNING,
        }
    }

    /// The hash this curve signs with, as Rekor names it.
    pub fn hash(self) -> &'static str {
        match self {
            Curve::P256 => "sha256",
            Curve::P384 => "sha384",
            Curve::P521 => "sha512",
        }
    }
}

/// The bundle's name (`messageDigest.algorithm`) of a Rekor hash name.
pub fn bundle_hash_name(rekor: &str) -> &'static str {
    match rekor {
        "sha256" => "SHA2_256",
        "sha384" => "SHA2_384",
        "sha512" => "SHA2_512",
        other => panic!("no hash {other}"),
    }
}

/// An ECDSA key pair (signing hashes with its curve's hash).
pub struct Key {
    pair: EcdsaKeyPair,
    pub curve: Curve,
    rng: SystemRandom,
}

impl Key {
    pub fn new(curve: Curve) -> Key {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(curve.signing(), &rng).expect("generate key");
        let pair = EcdsaKeyPair::from_pkcs8(curve.signing(), pkcs8.as_ref()).expect("read key");
        Key { pair, curve, rng }
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .as_der()
            .expect("SPKI")
            .as_ref()
            .to_vec()
    }

    pub fn pem(&self) -> String {
        pem("PUBLIC KEY", &self.spki())
    }

    /// An ASN.1 ECDSA signature over `message` (hashed with the curve's hash).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&self.rng, message)
            .expect("sign")
            .as_ref()
            .to_vec()
    }
}

/// A certificate's SAN.
#[derive(Debug, Clone)]
pub enum San {
    Uri(String),
    Email(String),
    /// Fulcio's username identity: otherName 1.3.6.1.4.1.57264.1.7, a UTF8String.
    Username(String),
}

/// How a bundle names its signer.
#[derive(Debug, Clone)]
pub enum Material {
    /// A key (the bundle carries its hint).
    Key(Vec<u8>),
    /// A leaf certificate (DER).
    Cert(Vec<u8>),
}

impl Material {
    /// The PEM a log entry carries for it.
    pub fn pem(&self) -> String {
        match self {
            Material::Key(der) => pem("PUBLIC KEY", der),
            Material::Cert(der) => pem("CERTIFICATE", der),
        }
    }
}

fn time(unix: i64) -> Time {
    Time::UtcTime(
        UtcTime::from_unix_duration(Duration::from_secs(unix.max(0) as u64)).expect("UTC time"),
    )
}

fn ext<T: Encode>(oid: ObjectIdentifier, critical: bool, value: &T) -> Extension {
    Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der().expect("encode")).expect("octets"),
    }
}

fn alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA256,
        parameters: None,
    }
}

fn sign_cert(key: &Key, tbs: TbsCertificate) -> Vec<u8> {
    let sig = key.sign(&tbs.to_der().expect("TBS"));
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg(),
        signature: BitString::from_bytes(&sig).expect("bits"),
    }
    .to_der()
    .expect("certificate")
}

fn ca_name() -> Name {
    "CN=latch-ec-test-fulcio,O=latch.test"
        .parse()
        .expect("CA name")
}

/// The test Sigstore. Each instance has fresh keys.
pub struct Sigstore {
    pub ca: Key,
    pub ca_cert: Vec<u8>,
    pub ct: Key,
    pub rekor: Key,
}

impl Default for Sigstore {
    fn default() -> Self {
        Sigstore::new()
    }
}

impl Sigstore {
    pub fn new() -> Sigstore {
        let ca = Key::new(Curve::P256);
        let ct = Key::new(Curve::P256);
        let rekor = Key::new(Curve::P256);
        let name = ca_name();
        let extensions = vec![
            BasicConstraints {
                ca: true,
                path_len_constraint: Some(1),
            }
            .to_extension(&name, &[])
            .expect("basic constraints"),
            KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)
                .to_extension(&name, &[])
                .expect("key usage"),
        ];
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&[1]).expect("serial"),
            signature: alg(),
            issuer: name.clone(),
            validity: Validity {
                not_before: time(946_684_800),
                not_after: time(2_524_607_999),
            },
            subject: name,
            subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&ca.spki()).expect("SPKI"),
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        let ca_cert = sign_cert(&ca, tbs);
        Sigstore {
            ca,
            ca_cert,
            ct,
            rekor,
        }
    }

    /// The Rekor log's ID: SHA-256 of its key.
    pub fn log_id(&self) -> [u8; 32] {
        sha256(&self.rekor.spki())
    }

    /// `trusted_root.json` trusting this CA, CT log and Rekor log (the Rekor key valid from
    /// `tlog_start`, an RFC 3339 time).
    pub fn trusted_root_json_with_tlog_start(&self, tlog_start: &str) -> String {
        let key = |k: &Key, start: &str| {
            let der = k.spki();
            serde_json::json!({
                "baseUrl": "https://latch.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(&der),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start}
                },
                "logId": {"keyId": STANDARD.encode(sha256(&der))}
            })
        };
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [key(&self.rekor, tlog_start)],
            "certificateAuthorities": [{
                "subject": {"organization": "latch.test", "commonName": "latch-ec-test-fulcio"},
                "uri": "https://fulcio.latch.test",
                "certChain": {"certificates": [{"rawBytes": STANDARD.encode(&self.ca_cert)}]},
                "validFor": {"start": "2000-01-01T00:00:00Z"}
            }],
            "ctlogs": [key(&self.ct, "2000-01-01T00:00:00Z")],
            "timestampAuthorities": []
        })
        .to_string()
    }

    pub fn trusted_root_json(&self) -> String {
        self.trusted_root_json_with_tlog_start("2000-01-01T00:00:00Z")
    }

    pub fn root(&self) -> TrustRoot {
        TrustRoot::from_json(self.trusted_root_json().as_bytes(), "ec test root")
            .expect("test root")
    }

    /// A root of the Rekor key alone (what `latch verify --key` uses).
    pub fn rekor_root(&self) -> TrustRoot {
        TrustRoot::from_rekor_keys(&[self.rekor.spki()]).expect("pinned Rekor key")
    }

    /// A Fulcio-like leaf certificate for `key` (valid ten minutes from `not_before`),
    /// with `san`, OIDC issuer `issuer` and an SCT from the CT log.
    pub fn issue(&self, key: &Key, san: &San, issuer: &str, not_before: i64) -> Vec<u8> {
        let subject = Name::default();
        let name = match san {
            San::Uri(u) => {
                GeneralName::UniformResourceIdentifier(Ia5String::new(u).expect("ASCII"))
            }
            San::Email(e) => GeneralName::Rfc822Name(Ia5String::new(e).expect("ASCII")),
            San::Username(u) => GeneralName::OtherName(OtherName {
                type_id: FULCIO_USERNAME,
                value: Any::encode_from(&Utf8StringRef::new(u).expect("UTF-8")).expect("any"),
            }),
        };
        let issuer_ext = Extension {
            extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8"),
            critical: false,
            extn_value: OctetString::new(
                Utf8StringRef::new(issuer)
                    .expect("UTF-8")
                    .to_der()
                    .expect("issuer"),
            )
            .expect("octets"),
        };
        let extensions = vec![
            KeyUsage(KeyUsages::DigitalSignature.into())
                .to_extension(&subject, &[])
                .expect("key usage"),
            ExtendedKeyUsage(vec![CODE_SIGNING])
                .to_extension(&subject, &[])
                .expect("EKU"),
            ext(
                ObjectIdentifier::new_unwrap("2.5.29.17"),
                true,
                &SubjectAltName(vec![name]),
            ),
            issuer_ext,
        ];
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&SystemRandom::new(), &mut serial).expect("random");
        serial[0] &= 0x7f;
        serial[0] |= 0x01;
        let mut tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&serial).expect("serial"),
            signature: alg(),
            issuer: ca_name(),
            validity: Validity {
                not_before: time(not_before),
                not_after: time(not_before + 600),
            },
            subject,
            subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&key.spki())
                .expect("leaf SPKI"),
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        let precert = tbs.to_der().expect("precert TBS");
        let sct = self.sct(&precert, not_before * 1000);
        let mut list = (sct.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&sct);
        let mut tls = (list.len() as u16).to_be_bytes().to_vec();
        tls.extend_from_slice(&list);
        if let Some(exts) = tbs.extensions.as_mut() {
            exts.push(ext(
                CT_PRECERT_SCTS,
                false,
                &OctetString::new(tls).expect("SCT list"),
            ));
        }
        sign_cert(&self.ca, tbs)
    }

    fn sct(&self, precert_tbs: &[u8], timestamp_ms: i64) -> Vec<u8> {
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&(timestamp_ms as u64).to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes());
        signed.extend_from_slice(&sha256(&self.ca.spki()));
        signed.extend_from_slice(&(precert_tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend_from_slice(precert_tbs);
        signed.extend_from_slice(&0u16.to_be_bytes());
        let sig = self.ct.sign(&signed);
        let mut sct = vec![0u8];
        sct.extend_from_slice(&sha256(&self.ct.spki()));
        sct.extend_from_slice(&(timestamp_ms as u64).to_be_bytes());
        sct.extend_from_slice(&0u16.to_be_bytes());
        sct.extend_from_slice(&[4, 3]);
        sct.extend_from_slice(&(sig.len() as u16).to_be_bytes());
        sct.extend_from_slice(&sig);
        sct
    }

    /// A Rekor v1 entry for `body` (`kind`/`version`) at `log_index`, integrated at
    /// `integrated_time`: its SET, and an inclusion proof in a two-leaf tree (the entry is
    /// leaf 1) with a checkpoint signed by the log.
    pub fn log(
        &self,
        body: &[u8],
        kind: &str,
        version: &str,
        integrated_time: i64,
        log_index: u64,
    ) -> serde_json::Value {
        let body_b64 = STANDARD.encode(body);
        let log_id = self.log_id();
        let set_payload = format!(
            "{{\"body\":\"{body_b64}\",\"integratedTime\":{integrated_time},\"logID\":\"{}\",\"logIndex\":{log_index}}}",
            hex(&log_id)
        );
        let set = self.rekor.sign(set_payload.as_bytes());
        let leaf = |data: &[u8]| {
            let mut l = vec![0u8];
            l.extend_from_slice(data);
            sha256(&l)
        };
        let sibling = leaf(b"an earlier entry");
        let ours = leaf(body);
        let mut node = vec![1u8];
        node.extend_from_slice(&sibling);
        node.extend_from_slice(&ours);
        let root = sha256(&node);
        let note = format!("latch.test - 1\n2\n{}\n", STANDARD.encode(root));
        let mut hinted = log_id[..4].to_vec();
        hinted.extend_from_slice(&self.rekor.sign(note.as_bytes()));
        let checkpoint = format!("{note}\n\u{2014} latch.test {}\n", STANDARD.encode(hinted));
        serde_json::json!({
            "logIndex": log_index.to_string(),
            "logId": {"keyId": STANDARD.encode(log_id)},
            "kindVersion": {"kind": kind, "version": version},
            "integratedTime": integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(set)},
            "inclusionProof": {
                "logIndex": "1",
                "rootHash": STANDARD.encode(root),
                "treeSize": "2",
                "hashes": [STANDARD.encode(sibling)],
                "checkpoint": {"envelope": checkpoint}
            },
            "canonicalizedBody": body_b64
        })
    }
}

impl Sigstore {
    /// A Rekor v2 entry for `body` (`hashedrekord` 0.0.2): no SET and no integrated time;
    /// leaf 1 of a two-leaf tree (its log index), with a checkpoint signed by the log.
    pub fn log_v2(&self, body: &[u8]) -> serde_json::Value {
        let mut entry = self.log(body, "hashedrekord", "0.0.2", 0, 1);
        let o = entry.as_object_mut().expect("entry object");
        o.remove("inclusionPromise");
        o.remove("integratedTime");
        entry
    }
}

/// A `hashedrekord` 0.0.2 (Rekor v2) body by a key.
pub fn hashedrekord_v2(
    algorithm: &str,
    digest: &[u8],
    signature: &[u8],
    spki: &[u8],
    key_details: &str,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": algorithm, "digest": STANDARD.encode(digest)},
            "signature": {
                "content": STANDARD.encode(signature),
                "verifier": {
                    "publicKey": {"rawBytes": STANDARD.encode(spki)},
                    "keyDetails": key_details
                }
            }
        }}
    }))
    .expect("body JSON")
}

/// A `hashedrekord` 0.0.1 body.
pub fn hashedrekord(
    algorithm: &str,
    digest: &[u8],
    signature: &[u8],
    verifier_pem: &str,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": algorithm, "value": hex(digest)}},
            "signature": {
                "content": STANDARD.encode(signature),
                "publicKey": {"content": STANDARD.encode(verifier_pem)}
            }
        }
    }))
    .expect("body JSON")
}

/// A message-signature bundle over an artifact, built step by step so that tests can
/// change any part of it.
#[derive(Debug, Clone)]
pub struct MessageBundle {
    /// `0.1`, `0.2` or `0.3`.
    pub version: &'static str,
    pub material: Material,
    /// `messageDigest` (Rekor hash name, digest), if any.
    pub message_digest: Option<(String, Vec<u8>)>,
    pub signature: Vec<u8>,
    /// The entries, as bundle JSON.
    pub entries: Vec<serde_json::Value>,
}

/// What to log and how.
#[derive(Debug, Clone)]
pub struct Logged {
    /// The entry's `data.hash.algorithm`.
    pub algorithm: String,
    /// The entry's `data.hash.value`.
    pub digest: Vec<u8>,
    /// The signature the entry carries.
    pub signature: Vec<u8>,
    pub integrated_time: i64,
    pub log_index: u64,
}

impl Sigstore {
    /// A correct bundle: `key` signs `artifact` (with its curve's hash); the entry and the
    /// message digest carry that hash of the artifact.
    pub fn message_bundle(&self, key: &Key, material: Material, artifact: &[u8]) -> MessageBundle {
        let alg = key.curve.hash();
        let signature = key.sign(artifact);
        let logged = Logged {
            algorithm: alg.to_owned(),
            digest: hash(alg, artifact),
            signature: signature.clone(),
            integrated_time: now() - 3600,
            log_index: 42,
        };
        let entry = self.hashedrekord_entry(&material, &logged);
        MessageBundle {
            version: "0.3",
            message_digest: Some((alg.to_owned(), hash(alg, artifact))),
            material,
            signature,
            entries: vec![entry],
        }
    }

    /// A logged `hashedrekord` 0.0.1 entry for `logged` by `material`.
    pub fn hashedrekord_entry(&self, material: &Material, logged: &Logged) -> serde_json::Value {
        let body = hashedrekord(
            &logged.algorithm,
            &logged.digest,
            &logged.signature,
            &material.pem(),
        );
        self.log(
            &body,
            "hashedrekord",
            "0.0.1",
            logged.integrated_time,
            logged.log_index,
        )
    }
}

impl MessageBundle {
    pub fn json(&self) -> String {
        let media_type = match self.version {
            "0.3" => "application/vnd.dev.sigstore.bundle.v0.3+json".to_owned(),
            v => format!("application/vnd.dev.sigstore.bundle+json;version={v}"),
        };
        let material = match (&self.material, self.version) {
            (Material::Key(der), _) => serde_json::json!({
                "publicKey": {"hint": STANDARD.encode(sha256(der))}
            }),
            (Material::Cert(der), "0.3") => serde_json::json!({
                "certificate": {"rawBytes": STANDARD.encode(der)}
            }),
            (Material::Cert(der), _) => serde_json::json!({
                "x509CertificateChain": {"certificates": [{"rawBytes": STANDARD.encode(der)}]}
            }),
        };
        let mut vm = material;
        vm["tlogEntries"] = serde_json::Value::Array(self.entries.clone());
        vm["timestampVerificationData"] = serde_json::json!({});
        let mut message = serde_json::json!({"signature": STANDARD.encode(&self.signature)});
        if let Some((alg, digest)) = &self.message_digest {
            message["messageDigest"] = serde_json::json!({
                "algorithm": bundle_hash_name(alg),
                "digest": STANDARD.encode(digest)
            });
        }
        serde_json::json!({
            "mediaType": media_type,
            "verificationMaterial": vm,
            "messageSignature": message
        })
        .to_string()
    }

    /// Without inclusion proofs (a v0.1 bundle carries only the SET).
    pub fn without_proofs(mut self) -> MessageBundle {
        for e in &mut self.entries {
            if let Some(o) = e.as_object_mut() {
                o.remove("inclusionProof");
            }
        }
        self
    }
}
