//! A test Sigstore: a Fulcio-like certificate authority, a CT log and a Rekor log, all
//! with keys made here, described by a `trusted_root.json` of the same structure as the
//! public-good one (the conformance suite's custom-root cases show it).
//!
//! It mints leaf certificates the way Fulcio does for GitHub Actions (empty subject, a
//! critical URI SAN, code-signing EKU, the OIDC issuer and the CI claims in the
//! `1.3.6.1.4.1.57264.1` extensions, an embedded SCT over the precertificate), signs DSSE
//! envelopes with them, and logs each one as a Rekor v1 `dsse` entry with a real
//! inclusion proof (a one-leaf tree), a signed checkpoint and a SET. Nothing is skipped:
//! the bundles verify with sigstore-verify's full checks against the custom root.
//!
//! It also mints what cosign 2.x pushes for a keyless image signature: a legacy `.sig`
//! layer ([`TestSigstore::legacy_sig`]: signature, certificate, chain and a Rekor bundle
//! whose `hashedrekord` entry carries the certificate, with its SET), faithful or with
//! the entry altered ([`LegacyEntry`]), and leaves issued by an intermediate CA that the
//! trusted root does not list ([`TestSigstore::intermediate`]).
//!
//! Certificates are built with `x509-cert` (already in the tree through sigstore-verify)
//! and signed with aws-lc-rs, rather than with a certificate-generation crate.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use x509_cert::der::asn1::{BitString, Ia5String, OctetString, UtcTime, Utf8StringRef};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
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
const FULCIO_ARC: &str = "1.3.6.1.4.1.57264.1";

/// The GitHub Actions OIDC issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// What a leaf certificate says.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The URI SAN (for GitHub: `https://github.com/<repo>/<workflow>@<ref>`).
    pub san: String,
    /// The OIDC issuer (extension `.1.8`).
    pub issuer: String,
    /// `notBefore`, unix seconds.
    pub not_before: i64,
    /// `notAfter`, unix seconds.
    pub not_after: i64,
    /// Fulcio claims by extension number (`.1.9` to `.1.24`), as DER UTF8Strings.
    pub claims: BTreeMap<u32, String>,
}

impl Leaf {
    /// A GitHub Actions certificate for `workflow` (a path) of `repo` (`owner/repo`) at
    /// `git_ref`, triggered by `trigger`, valid for ten minutes from `not_before`. The SAN
    /// and the build-signer claim are `signer` when given (a reusable workflow), else the
    /// workflow itself.
    pub fn github(
        repo: &str,
        workflow: &str,
        git_ref: &str,
        trigger: &str,
        not_before: i64,
        signer: Option<&str>,
    ) -> Leaf {
        let own = format!("https://github.com/{repo}/{workflow}@{git_ref}");
        let san = signer.map(str::to_owned).unwrap_or_else(|| own.clone());
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let claims = BTreeMap::from([
            (9, san.clone()),
            (10, sha.to_owned()),
            (11, "github-hosted".to_owned()),
            (12, format!("https://github.com/{repo}")),
            (13, sha.to_owned()),
            (14, git_ref.to_owned()),
            (18, own),
            (19, sha.to_owned()),
            (20, trigger.to_owned()),
            (
                21,
                format!("https://github.com/{repo}/actions/runs/1/attempts/1"),
            ),
            (22, "public".to_owned()),
        ]);
        Leaf {
            san,
            issuer: GITHUB_ISSUER.to_owned(),
            not_before,
            not_after: not_before + 600,
            claims,
        }
    }
}

/// The test Sigstore's keys. Each instance has fresh keys.
pub struct TestSigstore {
    ca: EcdsaKeyPair,
    ca_cert: Vec<u8>,
    ct: EcdsaKeyPair,
    rekor: EcdsaKeyPair,
    rekor_pkcs8: Vec<u8>,
    rng: SystemRandom,
}

/// A signing key and its certificate, as made by [`TestSigstore::issue`].
pub struct Issued {
    key: EcdsaKeyPair,
    /// The certificate (DER).
    pub cert: Vec<u8>,
}

impl Issued {
    /// The certificate in PEM.
    pub fn cert_pem(&self) -> String {
        crate::der::pem("CERTIFICATE", &self.cert)
    }
}

/// An intermediate CA made by [`TestSigstore::intermediate`].
pub struct Intermediate {
    key: EcdsaKeyPair,
    name: Name,
    /// The certificate (DER), signed by the root CA.
    pub cert: Vec<u8>,
}

impl Intermediate {
    /// The certificate in PEM.
    pub fn cert_pem(&self) -> String {
        crate::der::pem("CERTIFICATE", &self.cert)
    }
}

/// A cosign 2.x keyless `.sig` signature as [`TestSigstore::legacy_sig`] mints it: what
/// cosign writes in the layer (the payload as the blob; the signature, certificate,
/// chain and Rekor bundle annotations), with the Rekor bundle's parts decoded too.
#[derive(Debug, Clone)]
pub struct LegacySig {
    /// The simple-signing payload (the layer blob).
    pub payload: Vec<u8>,
    /// The ECDSA signature over the payload (DER).
    pub signature: Vec<u8>,
    /// The leaf certificate, PEM (`dev.sigstore.cosign/certificate`).
    pub certificate_pem: String,
    /// The chain, PEM (`dev.sigstore.cosign/chain`): the issuing CA certificates.
    pub chain_pem: String,
    /// The SET (DER ECDSA signature by the log key).
    pub set: Vec<u8>,
    /// The logged `hashedrekord` 0.0.1 body (decoded JSON bytes).
    pub body: Vec<u8>,
    /// `integratedTime`, unix seconds.
    pub integrated_time: i64,
    /// `logIndex`.
    pub log_index: i64,
    /// `logID`: hex SHA-256 of the log key's DER.
    pub log_id_hex: String,
}

impl LegacySig {
    /// The signature in base64 (`dev.cosignproject.cosign/signature`).
    pub fn signature_base64(&self) -> String {
        STANDARD.encode(&self.signature)
    }

    /// The `dev.sigstore.cosign/bundle` annotation, in cosign's member order.
    pub fn rekor_bundle_json(&self) -> String {
        format!(
            "{{\"SignedEntryTimestamp\":\"{}\",\"Payload\":{{\"body\":\"{}\",\"integratedTime\":{},\"logIndex\":{},\"logID\":\"{}\"}}}}",
            STANDARD.encode(&self.set),
            STANDARD.encode(&self.body),
            self.integrated_time,
            self.log_index,
            self.log_id_hex
        )
    }

    /// The signature as `cosign download signature` prints it (certificate and chain as
    /// PEM text, as Latch stores them), with or without the chain; without the SET when
    /// `with_set` is false.
    pub fn to_cosign_json(&self, with_chain: bool, with_set: bool) -> String {
        let bundle: serde_json::Value = if with_set {
            serde_json::from_str(&self.rekor_bundle_json()).expect("Rekor bundle JSON")
        } else {
            serde_json::Value::Null
        };
        serde_json::json!({
            "Base64Signature": self.signature_base64(),
            "Payload": STANDARD.encode(&self.payload),
            "Cert": self.certificate_pem,
            "Chain": if with_chain { serde_json::Value::from(self.chain_pem.clone()) } else { serde_json::Value::Null },
            "Bundle": bundle,
            "RFC3161Timestamp": null,
        })
        .to_string()
    }

    /// The layer annotations cosign 2.x writes for a keyless signature.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "dev.cosignproject.cosign/signature".to_owned(),
                self.signature_base64(),
            ),
            (
                "dev.sigstore.cosign/certificate".to_owned(),
                self.certificate_pem.clone(),
            ),
            (
                "dev.sigstore.cosign/chain".to_owned(),
                self.chain_pem.clone(),
            ),
            (
                "dev.sigstore.cosign/bundle".to_owned(),
                self.rekor_bundle_json(),
            ),
        ])
    }
}

/// What the Rekor entry of a minted legacy signature says, for refusal tests. The
/// default is the faithful entry, with a SET by the test Rekor key.
#[derive(Debug, Clone, Default)]
pub struct LegacyEntry {
    /// Sign the SET with a fresh key no root trusts (the `logID` is that key's).
    pub untrusted_log: bool,
    /// Log the hash of these bytes instead of the signed payload's.
    pub payload: Option<Vec<u8>>,
    /// Log this signature instead of the real one.
    pub signature: Option<Vec<u8>>,
    /// Log this certificate (PEM) instead of the signing one.
    pub certificate_pem: Option<String>,
}

fn ca_name() -> Name {
    "CN=latch-test-fulcio,O=latch.test"
        .parse()
        .expect("CA name")
}

fn keypair(rng: &SystemRandom) -> EcdsaKeyPair {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, rng)
        .expect("generate a P-256 key");
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
        .expect("read back the P-256 key")
}

fn spki_der(key: &EcdsaKeyPair) -> Vec<u8> {
    crate::der::p256_spki(key.public_key().as_ref())
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn time(unix: i64) -> Time {
    Time::UtcTime(
        UtcTime::from_unix_duration(Duration::from_secs(unix.max(0) as u64))
            .expect("a time between 1970 and 2049"),
    )
}

fn ext<T: Encode>(oid: ObjectIdentifier, critical: bool, value: &T) -> Extension {
    Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der().expect("encode extension"))
            .expect("octet string"),
    }
}

fn utf8_ext(number: u32, value: &str) -> Extension {
    let oid = ObjectIdentifier::new(&format!("{FULCIO_ARC}.{number}")).expect("Fulcio OID");
    ext(
        oid,
        false,
        &Utf8StringRef::new(value).expect("UTF-8 string"),
    )
}

impl TestSigstore {
    /// Fresh keys and a self-signed CA certificate valid from 2000 to 2049.
    pub fn new() -> TestSigstore {
        let rng = SystemRandom::new();
        let ca = keypair(&rng);
        let ct = keypair(&rng);
        let rekor_pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("generate a P-256 key")
            .as_ref()
            .to_vec();
        let rekor = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rekor_pkcs8)
            .expect("read back the P-256 key");
        let name = ca_name();
        let spki = SubjectPublicKeyInfoOwned::from_der(&spki_der(&ca)).expect("CA SPKI");
        let usage = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
        let basic = BasicConstraints {
            ca: true,
            path_len_constraint: Some(1),
        };
        let extensions = vec![
            basic.to_extension(&name, &[]).expect("basic constraints"),
            usage.to_extension(&name, &[]).expect("key usage"),
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
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        let ca_cert = sign_cert(&ca, &rng, tbs);
        TestSigstore {
            ca,
            ca_cert,
            ct,
            rekor,
            rekor_pkcs8,
            rng,
        }
    }

    /// The CA certificate (DER).
    pub fn ca_cert(&self) -> &[u8] {
        &self.ca_cert
    }

    /// A running Rekor v1-compatible log that signs with this Sigstore's Rekor key, so that
    /// what it logs verifies under [`TestSigstore::trusted_root_json`].
    pub fn rekor_server(&self) -> crate::RekorServer {
        crate::RekorServer::start_with_key(&self.rekor_pkcs8)
    }

    /// The Rekor key (DER SubjectPublicKeyInfo).
    pub fn rekor_key_der(&self) -> Vec<u8> {
        spki_der(&self.rekor)
    }

    /// The `trusted_root.json` that trusts this CA, CT log and Rekor log.
    pub fn trusted_root_json(&self) -> String {
        let key = |k: &EcdsaKeyPair| {
            let der = spki_der(k);
            serde_json::json!({
                "baseUrl": "https://latch.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(&der),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2000-01-01T00:00:00Z"}
                },
                "logId": {"keyId": STANDARD.encode(sha256(&der))}
            })
        };
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [key(&self.rekor)],
            "certificateAuthorities": [{
                "subject": {"organization": "latch.test", "commonName": "latch-test-fulcio"},
                "uri": "https://fulcio.latch.test",
                "certChain": {"certificates": [{"rawBytes": STANDARD.encode(&self.ca_cert)}]},
                "validFor": {"start": "2000-01-01T00:00:00Z"}
            }],
            "ctlogs": [key(&self.ct)],
            "timestampAuthorities": []
        })
        .to_string()
    }

    /// A fresh key and a leaf certificate for it, as Fulcio would issue, with an SCT from
    /// the test CT log.
    pub fn issue(&self, leaf: &Leaf) -> Issued {
        self.issue_by(&self.ca, ca_name(), leaf)
    }

    /// An intermediate CA under this Sigstore's root CA (as a private Fulcio might run
    /// one), whose certificate is *not* in [`TestSigstore::trusted_root_json`]: a leaf it
    /// issues chains to the root only with the intermediate supplied beside it.
    pub fn intermediate(&self) -> Intermediate {
        let key = keypair(&self.rng);
        let name: Name = "CN=latch-test-fulcio-intermediate,O=latch.test"
            .parse()
            .expect("intermediate name");
        let spki = SubjectPublicKeyInfoOwned::from_der(&spki_der(&key)).expect("SPKI");
        let usage = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
        let basic = BasicConstraints {
            ca: true,
            path_len_constraint: Some(0),
        };
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&[2]).expect("serial"),
            signature: alg(),
            issuer: ca_name(),
            validity: Validity {
                not_before: time(946_684_800),
                not_after: time(2_524_607_999),
            },
            subject: name.clone(),
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            // Like Fulcio's intermediate, it carries the code-signing EKU (webpki
            // requires it along the path).
            extensions: Some(vec![
                basic.to_extension(&name, &[]).expect("basic constraints"),
                usage.to_extension(&name, &[]).expect("key usage"),
                ExtendedKeyUsage(vec![CODE_SIGNING])
                    .to_extension(&name, &[])
                    .expect("EKU"),
            ]),
        };
        let cert = sign_cert(&self.ca, &self.rng, tbs);
        Intermediate { key, name, cert }
    }

    /// [`TestSigstore::issue`] by `intermediate` instead of the root CA (the SCT, from
    /// the test CT log, names the intermediate's key as issuer).
    pub fn issue_under(&self, intermediate: &Intermediate, leaf: &Leaf) -> Issued {
        self.issue_by(&intermediate.key, intermediate.name.clone(), leaf)
    }

    fn issue_by(&self, issuer_key: &EcdsaKeyPair, issuer: Name, leaf: &Leaf) -> Issued {
        let key = keypair(&self.rng);
        let cert = self.certify(issuer_key, issuer, &spki_der(&key), leaf);
        Issued { key, cert }
    }

    /// A leaf certificate (DER) for the key `spki` (DER SubjectPublicKeyInfo) held by
    /// someone else, issued by the root CA as Fulcio issues one for a signing request.
    pub fn issue_for_key(&self, spki: &[u8], leaf: &Leaf) -> Vec<u8> {
        self.certify(&self.ca, ca_name(), spki, leaf)
    }

    fn certify(
        &self,
        issuer_key: &EcdsaKeyPair,
        issuer: Name,
        spki: &[u8],
        leaf: &Leaf,
    ) -> Vec<u8> {
        let subject = Name::default();
        let spki = SubjectPublicKeyInfoOwned::from_der(spki).expect("leaf SPKI");
        let san = SubjectAltName(vec![GeneralName::UniformResourceIdentifier(
            Ia5String::new(&leaf.san).expect("ASCII SAN"),
        )]);
        let mut extensions = vec![
            KeyUsage(KeyUsages::DigitalSignature.into())
                .to_extension(&subject, &[])
                .expect("key usage"),
            ExtendedKeyUsage(vec![CODE_SIGNING])
                .to_extension(&subject, &[])
                .expect("EKU"),
            ext(ObjectIdentifier::new_unwrap("2.5.29.17"), true, &san),
            utf8_ext(8, &leaf.issuer),
        ];
        for (n, v) in &leaf.claims {
            extensions.push(utf8_ext(*n, v));
        }
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&self.rng, &mut serial).expect("random serial");
        serial[0] &= 0x7f;
        serial[0] |= 0x01;
        let mut tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&serial).expect("serial"),
            signature: alg(),
            issuer,
            validity: Validity {
                not_before: time(leaf.not_before),
                not_after: time(leaf.not_after),
            },
            subject,
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        // The SCT signs the precertificate: this TBS without the SCT extension.
        let precert = tbs.to_der().expect("encode precert TBS");
        let sct = self.sct(issuer_key, &precert, leaf.not_before * 1000);
        let mut list = Vec::new();
        list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
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
        sign_cert(issuer_key, &self.rng, tbs)
    }

    fn sct(&self, issuer: &EcdsaKeyPair, precert_tbs: &[u8], timestamp_ms: i64) -> Vec<u8> {
        let issuer_key_hash = sha256(&spki_der(issuer));
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&(timestamp_ms as u64).to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes());
        signed.extend_from_slice(&issuer_key_hash);
        let len = precert_tbs.len() as u32;
        signed.extend_from_slice(&len.to_be_bytes()[1..]);
        signed.extend_from_slice(precert_tbs);
        signed.extend_from_slice(&0u16.to_be_bytes());
        let sig = self
            .ct
            .sign(&self.rng, &signed)
            .expect("CT signature")
            .as_ref()
            .to_vec();
        let mut sct = vec![0u8];
        sct.extend_from_slice(&sha256(&spki_der(&self.ct)));
        sct.extend_from_slice(&(timestamp_ms as u64).to_be_bytes());
        sct.extend_from_slice(&0u16.to_be_bytes());
        sct.extend_from_slice(&[4, 3]);
        sct.extend_from_slice(&(sig.len() as u16).to_be_bytes());
        sct.extend_from_slice(&sig);
        sct
    }

    /// A DSSE envelope over `payload` (`application/vnd.in-toto+json`) signed by `signer`,
    /// as JSON.
    pub fn dsse_envelope(&self, signer: &Issued, payload: &[u8]) -> serde_json::Value {
        let payload_type = "application/vnd.in-toto+json";
        let sig = signer
            .key
            .sign(&self.rng, &pae(payload_type, payload))
            .expect("DSSE signature");
        serde_json::json!({
            "payloadType": payload_type,
            "payload": STANDARD.encode(payload),
            "signatures": [{"sig": STANDARD.encode(sig.as_ref()), "keyid": ""}]
        })
    }

    /// A Rekor v1 `dsse` 0.0.1 entry for `envelope` by `signer`, integrated at
    /// `integrated_time`: the canonical body, its SET, and a one-leaf inclusion proof with
    /// a signed checkpoint. Returned as a bundle `tlogEntries` item.
    pub fn log_entry(
        &self,
        signer: &Issued,
        envelope: &serde_json::Value,
        integrated_time: i64,
        log_index: u64,
    ) -> serde_json::Value {
        let payload = STANDARD
            .decode(envelope["payload"].as_str().expect("payload"))
            .expect("payload base64");
        let sig = envelope["signatures"][0]["sig"].as_str().expect("sig");
        let envelope_bytes = serde_json::to_vec(envelope).expect("envelope JSON");
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hex(&sha256(&envelope_bytes))},
                "payloadHash": {"algorithm": "sha256", "value": hex(&sha256(&payload))},
                "signatures": [{
                    "signature": sig,
                    "verifier": STANDARD.encode(signer.cert_pem()),
                }]
            }
        });
        let body = serde_json::to_vec(&body).expect("body JSON");
        let body_b64 = STANDARD.encode(&body);
        let log_id = sha256(&self.rekor_key_der());
        let (set, _) = self.set(&self.rekor, &body, integrated_time, log_index);
        // A tree of one leaf: the root is the leaf hash, the proof is empty.
        let root = crate::merkle::leaf_hash(&body);
        let checkpoint = crate::merkle::checkpoint(
            "latch.test - 1",
            1,
            &root,
            &self.rekor,
            &self.rekor_key_der(),
            &self.rng,
        );
        serde_json::json!({
            "logIndex": log_index.to_string(),
            "logId": {"keyId": STANDARD.encode(log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(&set)},
            "inclusionProof": {
                "logIndex": "0",
                "rootHash": STANDARD.encode(root),
                "treeSize": "1",
                "hashes": [],
                "checkpoint": {"envelope": checkpoint}
            },
            "canonicalizedBody": body_b64
        })
    }

    /// A v0.3 bundle: `payload` (an in-toto statement) in a DSSE envelope signed by a fresh
    /// certificate for `leaf`, logged at `integrated_time`.
    pub fn dsse_bundle(&self, leaf: &Leaf, payload: &[u8], integrated_time: i64) -> String {
        self.dsse_bundle_at(leaf, payload, integrated_time, 7)
    }

    /// [`TestSigstore::dsse_bundle`] with the entry at `log_index` (for rollback tests).
    pub fn dsse_bundle_at(
        &self,
        leaf: &Leaf,
        payload: &[u8],
        integrated_time: i64,
        log_index: u64,
    ) -> String {
        let signer = self.issue(leaf);
        let envelope = self.dsse_envelope(&signer, payload);
        let entry = self.log_entry(&signer, &envelope, integrated_time, log_index);
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": STANDARD.encode(&signer.cert)},
                "tlogEntries": [entry],
                "timestampVerificationData": {}
            },
            "dsseEnvelope": envelope
        })
        .to_string()
    }

    /// A cosign `.att` layer as cosign writes it: the DSSE envelope (the blob) and the
    /// layer annotations (certificate, Rekor bundle with the SET, predicate type).
    pub fn att_layer(
        &self,
        leaf: &Leaf,
        payload: &[u8],
        integrated_time: i64,
        predicate_type: &str,
    ) -> (Vec<u8>, BTreeMap<String, String>) {
        let signer = self.issue(leaf);
        let envelope = self.dsse_envelope(&signer, payload);
        let entry = self.log_entry(&signer, &envelope, integrated_time, 11);
        let rekor_bundle = serde_json::json!({
            "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
            "Payload": {
                "body": entry["canonicalizedBody"],
                "integratedTime": integrated_time,
                "logIndex": 11,
                "logID": hex(&sha256(&self.rekor_key_der())),
            }
        });
        let annotations = BTreeMap::from([
            (
                "dev.cosignproject.cosign/signature".to_owned(),
                String::new(),
            ),
            (
                "dev.sigstore.cosign/certificate".to_owned(),
                signer.cert_pem(),
            ),
            ("dev.sigstore.cosign/chain".to_owned(), self.ca_cert_pem()),
            (
                "dev.sigstore.cosign/bundle".to_owned(),
                rekor_bundle.to_string(),
            ),
            ("predicateType".to_owned(), predicate_type.to_owned()),
        ]);
        (
            serde_json::to_vec(&envelope).expect("envelope JSON"),
            annotations,
        )
    }
}

impl TestSigstore {
    /// The CA certificate in PEM (what cosign writes as the chain of a leaf it issued).
    pub fn ca_cert_pem(&self) -> String {
        crate::der::pem("CERTIFICATE", &self.ca_cert)
    }

    /// A cosign 2.x keyless `.sig` signature over `payload`: a fresh certificate for
    /// `leaf` (chain: the CA certificate), its signature, and a `hashedrekord` 0.0.1 entry
    /// with the certificate PEM as `publicKey.content`, integrated at `integrated_time`
    /// at `log_index`, with a SET by the test Rekor key.
    pub fn legacy_sig(
        &self,
        leaf: &Leaf,
        payload: &[u8],
        integrated_time: i64,
        log_index: u64,
    ) -> LegacySig {
        let signer = self.issue(leaf);
        self.legacy_sig_by(
            &signer,
            &self.ca_cert_pem(),
            payload,
            integrated_time,
            log_index,
            &LegacyEntry::default(),
        )
    }

    /// [`TestSigstore::legacy_sig`] signed by `signer` (issued by this Sigstore, by an
    /// intermediate, or by another Sigstore's CA), with `chain_pem` as the chain
    /// annotation and the entry altered as `entry` says. The SET is by this Sigstore's
    /// Rekor key unless `entry.untrusted_log`.
    pub fn legacy_sig_by(
        &self,
        signer: &Issued,
        chain_pem: &str,
        payload: &[u8],
        integrated_time: i64,
        log_index: u64,
        entry: &LegacyEntry,
    ) -> LegacySig {
        let signature = signer
            .key
            .sign(&self.rng, payload)
            .expect("payload signature")
            .as_ref()
            .to_vec();
        let certificate_pem = signer.cert_pem();
        let logged_hash = sha256(entry.payload.as_deref().unwrap_or(payload));
        let logged_sig = entry.signature.as_deref().unwrap_or(&signature);
        let logged_cert = entry.certificate_pem.as_deref().unwrap_or(&certificate_pem);
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex(&logged_hash)}},
                "signature": {
                    "content": STANDARD.encode(logged_sig),
                    "publicKey": {"content": STANDARD.encode(logged_cert)}
                }
            }
        });
        let body = serde_json::to_vec(&body).expect("body JSON");
        let other;
        let log_key = if entry.untrusted_log {
            other = keypair(&self.rng);
            &other
        } else {
            &self.rekor
        };
        let (set, log_id_hex) = self.set(log_key, &body, integrated_time, log_index);
        LegacySig {
            payload: payload.to_vec(),
            signature,
            certificate_pem,
            chain_pem: chain_pem.to_owned(),
            set,
            body,
            integrated_time,
            log_index: log_index as i64,
            log_id_hex,
        }
    }

    /// A SET by `log_key` over the canonical `{body, integratedTime, logID, logIndex}`,
    /// and the `logID` (hex SHA-256 of the key's DER).
    fn set(
        &self,
        log_key: &EcdsaKeyPair,
        body: &[u8],
        integrated_time: i64,
        log_index: u64,
    ) -> (Vec<u8>, String) {
        let log_id = hex(&sha256(&spki_der(log_key)));
        let set_payload = format!(
            "{{\"body\":\"{}\",\"integratedTime\":{integrated_time},\"logID\":\"{log_id}\",\"logIndex\":{log_index}}}",
            STANDARD.encode(body)
        );
        let set = log_key
            .sign(&self.rng, set_payload.as_bytes())
            .expect("SET")
            .as_ref()
            .to_vec();
        (set, log_id)
    }
}

impl Default for TestSigstore {
    fn default() -> Self {
        TestSigstore::new()
    }
}

fn alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA256,
        parameters: None,
    }
}

fn sign_cert(key: &EcdsaKeyPair, rng: &SystemRandom, tbs: TbsCertificate) -> Vec<u8> {
    let tbs_der = tbs.to_der().expect("encode TBS");
    let sig = key.sign(rng, &tbs_der).expect("sign certificate");
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg(),
        signature: BitString::from_bytes(sig.as_ref()).expect("signature bits"),
    }
    .to_der()
    .expect("encode certificate")
}

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An in-toto statement v1 about `digest` (`sha256:<hex>`).
pub fn statement(digest: &str, predicate_type: &str, predicate: serde_json::Value) -> Vec<u8> {
    let (alg, hex) = digest.split_once(':').expect("alg:hex");
    serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "image", "digest": {alg: hex}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }))
    .expect("statement JSON")
}

/// A SLSA v1 predicate as GitHub's `attest-build-provenance` writes it.
pub fn slsa_v1_predicate(repo: &str, workflow: &str, git_ref: &str) -> serde_json::Value {
    serde_json::json!({
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {"workflow": {
                "ref": git_ref,
                "repository": format!("https://github.com/{repo}"),
                "path": workflow
            }},
            "internalParameters": {"github": {"event_name": "push"}},
            "resolvedDependencies": [{
                "uri": format!("git+https://github.com/{repo}@{git_ref}"),
                "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}
            }]
        },
        "runDetails": {
            "builder": {"id": "https://github.com/actions/runner/github-hosted"},
            "metadata": {"invocationId": format!("https://github.com/{repo}/actions/runs/1/attempts/1")}
        }
    })
}

/// A SLSA v0.2 predicate as slsa-github-generator's container workflow writes it.
pub fn slsa_v02_predicate(
    repo: &str,
    workflow: &str,
    git_ref: &str,
    builder: &str,
) -> serde_json::Value {
    serde_json::json!({
        "builder": {"id": builder},
        "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
        "invocation": {"configSource": {
            "uri": format!("git+https://github.com/{repo}@{git_ref}"),
            "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"},
            "entryPoint": workflow
        }},
        "metadata": {"buildInvocationID": "1-1"}
    })
}
