//! Keys generated in the test (aws-lc-rs), payloads signed in the test, a test Rekor log:
//! key algorithms, several keys, key encodings, repositories, policies, junk, bounds and
//! bad input.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{NOW, Signer, TestLog, accepts, distinct_signers, hashedrekord_body, rejects};
use latch_oci::{Descriptor, Digest, ImageManifest, Reference, media_types};
use latch_trust::signature::{
    ANNOTATION_BUNDLE, ANNOTATION_RFC3161_TIMESTAMP, ANNOTATION_SIGNATURE, MAX_DOCUMENT_BYTES,
    MAX_SIGNATURES,
};
use latch_trust::{
    BundleError, Candidate, DocumentError, KeyAlgorithm, KeyError, PayloadError, Policy,
    PolicyError, PublicKey, Rejection, RekorError, Signature, SignatureParseError, SimpleSigning,
    TlogMode, VerifyError, parse_cosign_download, signatures_from_manifest, spki_to_pem,
    to_cosign_download_list, verify,
};

const REPO: &str = "ghcr.io/example/app";

fn digest(n: u8) -> Digest {
    Digest::sha256_of(&[n])
}

fn ignoring_log(keys: Vec<PublicKey>) -> Policy {
    Policy::builder()
        .keys(keys)
        .tlog(TlogMode::Ignored)
        .build()
        .unwrap()
}

fn ok(sigs: Vec<Signature>) -> Vec<Candidate> {
    sigs.into_iter().map(Ok).collect()
}

#[test]
fn every_supported_algorithm_signs_and_verifies() {
    type AlgCheck = fn(KeyAlgorithm) -> bool;
    let cases: Vec<(Signer, AlgCheck)> = vec![
        (Signer::p256(), |a| a == KeyAlgorithm::EcdsaP256Sha256),
        (Signer::p384(), |a| a == KeyAlgorithm::EcdsaP384Sha384),
        (Signer::ed25519(), |a| a == KeyAlgorithm::Ed25519),
        (Signer::rsa(false), |a| {
            a == KeyAlgorithm::RsaPkcs1Sha256 { bits: 2048 }
        }),
        (Signer::rsa(true), |a| {
            a == KeyAlgorithm::RsaPssSha256 { bits: 2048 }
        }),
    ];
    let log = TestLog::new();
    for (signer, expected) in cases {
        let key = signer.public_key();
        assert!(expected(key.algorithm()), "{:?}", key.algorithm());
        assert!(!key.algorithm().to_string().is_empty());
        let d = digest(1);
        let sig = signer.sign_image(REPO, &d);
        key.verify(sig.payload(), sig.signature()).unwrap();
        assert!(key.verify(b"other", sig.signature()).is_err());
        let v = accepts(
            &ignoring_log(vec![key.clone()]),
            &d,
            &ok(vec![sig.clone()]),
            NOW,
        );
        assert_eq!(v.accepted_by(key.log_id()), 1);
        // Logged in the test Rekor, with the log required.
        let logged = log.log(sig, signer.pem().as_bytes(), 42, NOW - 10);
        let policy = Policy::builder()
            .key(key)
            .rekor_key(log.key())
            .build()
            .unwrap();
        let v = accepts(&policy, &d, &ok(vec![logged]), NOW);
        assert_eq!(v.max_log_index, Some(42));
    }
}

#[test]
fn rsa_schemes_are_not_interchangeable() {
    let pss = Signer::rsa(true);
    let d = digest(2);
    let sig = pss.sign_image(REPO, &d);
    let pkcs1_key = PublicKey::from_pem(pss.pem().as_bytes()).unwrap();
    assert!(matches!(
        pkcs1_key.algorithm(),
        KeyAlgorithm::RsaPkcs1Sha256 { bits: 2048 }
    ));
    assert!(pkcs1_key.verify(sig.payload(), sig.signature()).is_err());
    let pss_key = pkcs1_key.with_rsa_pss().unwrap();
    pss_key.verify(sig.payload(), sig.signature()).unwrap();
    assert_eq!(
        pss_key.log_id(),
        PublicKey::from_pem(pss.pem().as_bytes()).unwrap().log_id()
    );
}

#[test]
fn unsupported_keys_are_typed_errors() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair};
    let curve = |alg| {
        let pair = EcdsaKeyPair::generate(alg).unwrap();
        latch_trust::spki_to_pem(pair.public_key().as_der().unwrap().as_ref())
    };
    match PublicKey::from_pem(curve(&sig::ECDSA_P521_SHA512_ASN1_SIGNING).as_bytes()) {
        Err(KeyError::UnsupportedCurve { oid }) => assert_eq!(oid, "1.3.132.0.35"),
        other => panic!("{other:?}"),
    }
    match PublicKey::from_pem(curve(&sig::ECDSA_P256K1_SHA256_ASN1_SIGNING).as_bytes()) {
        Err(KeyError::UnsupportedCurve { oid }) => assert_eq!(oid, "1.3.132.0.10"),
        other => panic!("{other:?}"),
    }
    // openssl genrsa 1024 | openssl rsa -pubout
    let rsa1024 = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDTE0u4J07He51XuGxeWWGXmvL2
OueJ6825yAq5ovFYPC2qkU+xjGYcB4UXs6kt2T8+nMJeIE+qr1i7mzXKlvgeAbKh
kokNRTfscyJ+2z3IKCh31rbXy6zm3JihVDuUdTFMr5HIb960D+fGVXk8IEAn2hRk
yAhoWfwFuPzOcgu7gwIDAQAB
-----END PUBLIC KEY-----
";
    assert_eq!(
        PublicKey::from_pem(rsa1024.as_bytes()).unwrap_err(),
        KeyError::RsaTooSmall { bits: 1024 }
    );
    // openssl genpkey -algorithm ed448 | openssl pkey -pubout
    let ed448 = "-----BEGIN PUBLIC KEY-----
MEMwBQYDK2VxAzoAO5gtn3UHCnBGSNQdRJtDFIEKy2tmLRGzixvR8ZNqfAISGsmf
ksqB+L2rOUNPFHMLKVQlpW/xiGcA
-----END PUBLIC KEY-----
";
    assert_eq!(
        PublicKey::from_pem(ed448.as_bytes()).unwrap_err(),
        KeyError::UnsupportedAlgorithm {
            oid: "1.3.101.113".into()
        }
    );
    // A P-256 point that is not on the curve.
    let mut der = Signer::p256().der();
    let last = der.len() - 1;
    der[last] ^= 1;
    assert!(matches!(
        PublicKey::from_pem(latch_trust::spki_to_pem(&der).as_bytes()),
        Err(KeyError::Rejected { .. })
    ));
    // Trailing bytes after the SubjectPublicKeyInfo.
    let mut der = Signer::p256().der();
    der.push(0);
    assert!(matches!(
        PublicKey::from_der(&der),
        Err(KeyError::BadDer { .. })
    ));
}

#[test]
fn each_trusted_key_accepts_its_own_signatures() {
    let (a, b, c) = (Signer::p256(), Signer::ed25519(), Signer::p384());
    let (ka, kb, kc) = (a.public_key(), b.public_key(), c.public_key());
    let d = digest(3);
    let two_keys = ignoring_log(vec![ka.clone(), kb.clone()]);

    // One key signing twice: both accepted, both its own, one distinct signer.
    let sigs = ok(vec![a.sign_image(REPO, &d), a.sign_image(REPO, &d)]);
    let v = accepts(&two_keys, &d, &sigs, NOW);
    assert_eq!(distinct_signers(&v), 1);
    assert_eq!(v.accepted_by(ka.log_id()), 2);
    assert_eq!(v.accepted_by(kb.log_id()), 0);
    assert!(v.accepted().all(|a| a.key_store_id == ka.store_id()));

    // Both keys: each signature is credited to the key that made it.
    let sigs = ok(vec![a.sign_image(REPO, &d), b.sign_image(REPO, &d)]);
    let v = accepts(&two_keys, &d, &sigs, NOW);
    assert_eq!(distinct_signers(&v), 2);
    assert_eq!(v.accepted_by(ka.log_id()), 1);
    assert_eq!(v.accepted_by(kb.log_id()), 1);
    let by: Vec<&str> = v.accepted().map(|a| a.key_log_id.as_str()).collect();
    assert_eq!(by, [ka.log_id(), kb.log_id()]);

    // Three keys, the third key's signature for another digest reported and skipped.
    let three_keys = ignoring_log(vec![ka.clone(), kb.clone(), kc.clone()]);
    let sigs = ok(vec![
        c.sign_image(REPO, &digest(99)),
        a.sign_image(REPO, &d),
        b.sign_image(REPO, &d),
    ]);
    let v = verify(&three_keys, &d, &sigs, NOW).unwrap();
    assert_eq!(v.outcomes.len(), 3);
    assert_eq!(distinct_signers(&v), 2);
    assert_eq!(v.accepted_by(ka.log_id()), 1);
    assert_eq!(v.accepted_by(kb.log_id()), 1);
    assert_eq!(v.accepted_by(kc.log_id()), 0);
    let rejected: Vec<_> = v.rejected().collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, 0);
    assert!(matches!(rejected[0].1, Rejection::DigestMismatch { .. }));

    // A trusted key beside an untrusted one: every outcome reported, in order.
    let sigs = ok(vec![
        a.sign_image(REPO, &d),
        Signer::p256().sign_image(REPO, &d),
    ]);
    let v = verify(&three_keys, &d, &sigs, NOW).unwrap();
    assert_eq!(v.outcomes.len(), 2);
    assert_eq!(distinct_signers(&v), 1);
    assert_eq!(v.accepted_by(ka.log_id()), 1);
    assert!(matches!(v.outcomes[0], latch_trust::Outcome::Accepted(_)));
    assert_eq!(
        v.rejected().collect::<Vec<_>>(),
        [(1, &Rejection::SignatureNotVerified)]
    );
    assert!(!v.all_accepted());
}

/// The same P-256 public key as a SubjectPublicKeyInfo with a compressed point:
/// `30 59 | 30 13 <alg id> | 03 42 00 04 X Y` becomes
/// `30 39 | 30 13 <alg id> | 03 22 00 (02 | (Y[31] & 1)) X`.
fn compressed_p256(der: &[u8]) -> Vec<u8> {
    assert_eq!(der.len(), 91);
    assert_eq!(&der[..4], [0x30, 0x59, 0x30, 0x13]);
    assert_eq!(&der[23..27], [0x03, 0x42, 0x00, 0x04]);
    let (x, y) = (&der[27..59], &der[59..91]);
    let mut out = vec![0x30, 0x39];
    out.extend_from_slice(&der[2..23]);
    out.extend_from_slice(&[0x03, 0x22, 0x00, 0x02 | (y[31] & 1)]);
    out.extend_from_slice(x);
    assert_eq!(out.len(), 59);
    out
}

#[test]
fn a_p256_key_is_one_key_whether_its_point_is_compressed_or_not() {
    use sha2::{Digest as _, Sha256};
    let signer = Signer::p256();
    let full_pem = signer.pem();
    let short_pem = spki_to_pem(&compressed_p256(&signer.der()));
    assert_ne!(full_pem, short_pem);
    let full = PublicKey::from_pem(full_pem.as_bytes()).unwrap();
    let short = PublicKey::from_pem(short_pem.as_bytes()).unwrap();
    assert_eq!(short.algorithm(), KeyAlgorithm::EcdsaP256Sha256);

    // One canonical DER (uncompressed, as aws-lc writes it), so one log id.
    assert_eq!(full.der(), signer.der().as_slice());
    assert_eq!(short.der(), full.der());
    assert_eq!(short.log_id(), full.log_id());
    assert_eq!(full.log_id(), hex::encode(Sha256::digest(signer.der())));
    assert_eq!(short, full);
    // The files differ, so do their store folders.
    assert_ne!(short.store_id(), full.store_id());

    // Both verify the same signature, and credit it to the same key.
    let d = digest(14);
    let sig = signer.sign_image(REPO, &d);
    full.verify(sig.payload(), sig.signature()).unwrap();
    short.verify(sig.payload(), sig.signature()).unwrap();
    for key in [&full, &short] {
        let v = accepts(
            &ignoring_log(vec![key.clone()]),
            &d,
            &ok(vec![sig.clone()]),
            NOW,
        );
        let a = v.accepted().next().unwrap();
        assert_eq!(a.key_log_id, full.log_id());
        assert_eq!(a.key_store_id, key.store_id());
        assert_eq!(v.accepted_by(full.log_id()), 1);
    }

    // The key given twice, once in each encoding, in either order: a duplicate.
    for (first, second) in [(&full, &short), (&short, &full)] {
        assert_eq!(
            Policy::builder()
                .key(first.clone())
                .key(second.clone())
                .tlog(TlogMode::Ignored)
                .build()
                .unwrap_err(),
            PolicyError::DuplicateKey {
                log_id: full.log_id().to_owned()
            }
        );
    }

    // A hashedrekord entry whose body logged the compressed encoding binds to the
    // signature, whichever encoding the policy trusts; and the other way round.
    let log = TestLog::new();
    let logged_short = log.log(sig.clone(), short_pem.as_bytes(), 77, NOW - 5);
    assert_eq!(
        logged_short.bundle().unwrap().body(),
        hashedrekord_body(sig.payload(), sig.signature(), short_pem.as_bytes()).as_slice()
    );
    let logged_full = log.log(sig.clone(), full_pem.as_bytes(), 78, NOW - 5);
    for key in [&full, &short] {
        let policy = Policy::builder()
            .key(key.clone())
            .rekor_key(log.key())
            .build()
            .unwrap();
        for (logged, index) in [(&logged_short, 77), (&logged_full, 78)] {
            let v = accepts(&policy, &d, &ok(vec![logged.clone()]), NOW);
            assert_eq!(v.max_log_index, Some(index));
            assert_eq!(v.accepted_by(full.log_id()), 1);
            let t = v.accepted().next().unwrap().tlog.clone().unwrap();
            assert_eq!((t.log_index, t.log_id), (index, log.log_id()));
        }
    }

    // Another key's compressed encoding in the body is still another key.
    let other = spki_to_pem(&compressed_p256(&Signer::p256().der()));
    let misbound = log.log(sig.clone(), other.as_bytes(), 79, NOW - 5);
    let policy = Policy::builder()
        .key(full.clone())
        .rekor_key(log.key())
        .build()
        .unwrap();
    let v = rejects(&policy, &d, &ok(vec![misbound]), NOW);
    assert_eq!(
        v.rejected().next().unwrap().1,
        &Rejection::Rekor(RekorError::KeyMismatch {
            key_log_id: full.log_id().to_owned()
        })
    );
}

#[test]
fn policies_must_be_coherent() {
    let a = Signer::p256();
    let err = |b: latch_trust::PolicyBuilder| b.build().unwrap_err();
    assert_eq!(
        err(Policy::builder().tlog(TlogMode::Ignored)),
        PolicyError::NoKeys
    );
    assert!(matches!(
        err(Policy::builder()
            .key(a.public_key())
            .key(a.public_key())
            .tlog(TlogMode::Ignored)),
        PolicyError::DuplicateKey { .. }
    ));
    // The same key as PSS and PKCS#1 is still one key.
    let r = Signer::rsa(false);
    assert!(matches!(
        err(Policy::builder()
            .key(r.public_key())
            .key(r.public_key().with_rsa_pss().unwrap())
            .tlog(TlogMode::Ignored)),
        PolicyError::DuplicateKey { .. }
    ));
    // The default mode is Required, which needs a Rekor key.
    assert_eq!(
        err(Policy::builder().key(a.public_key())),
        PolicyError::NoRekorKeys {
            mode: TlogMode::Required
        }
    );
    assert_eq!(
        err(Policy::builder()
            .key(a.public_key())
            .tlog(TlogMode::Optional)),
        PolicyError::NoRekorKeys {
            mode: TlogMode::Optional
        }
    );
    // Logs from a trusted root that lists none yet (kept over TUF, never read): the
    // policy builds, and a logged signature is refused, as is an unlogged one.
    let none_yet = Policy::builder()
        .key(a.public_key())
        .logs_from_root()
        .build()
        .unwrap();
    assert_eq!(
        (none_yet.tlog(), none_yet.rekor_keys().len()),
        (TlogMode::Required, 0)
    );
    let d = digest(3);
    let signed = a.sign_image(REPO, &d);
    let logged = TestLog::new().log(signed.clone(), a.pem().as_bytes(), 7, NOW - 10);
    for sig in [signed, logged] {
        rejects(&none_yet, &d, &ok(vec![sig]), NOW);
    }
    let p = Policy::builder()
        .key(a.public_key())
        .rekor_key(TestLog::new().key())
        .repository(Reference::parse(REPO).unwrap())
        .clock_skew_secs(5)
        .build()
        .unwrap();
    assert_eq!((p.tlog(), p.clock_skew_secs()), (TlogMode::Required, 5));
    assert_eq!(p.keys().len(), 1);
    assert_eq!(p.rekor_keys().len(), 1);
    assert_eq!(p.repository().unwrap().name(), REPO);
    for mode in [TlogMode::Required, TlogMode::Optional, TlogMode::Ignored] {
        assert_eq!(mode.to_string().parse::<TlogMode>(), Ok(mode));
    }
    assert!("sometimes".parse::<TlogMode>().is_err());
}

#[test]
fn docker_reference_is_compared_by_repository() {
    let s = Signer::p256();
    let d = digest(4);
    let policy_for = |repo: &str| {
        Policy::builder()
            .key(s.public_key())
            .tlog(TlogMode::Ignored)
            .repository(Reference::parse(repo).unwrap())
            .build()
            .unwrap()
    };
    let app = policy_for(&format!("{REPO}:latest"));
    let accepted = [
        REPO.to_owned(),                         // cosign: bare repository
        format!("{REPO}:20250101-0.9.0-1-gabc"), // skopeo: repository:tag
        format!("{REPO}@{d}"),                   // by digest
    ];
    for r in &accepted {
        let v = accepts(&app, &d, &ok(vec![s.sign_image(r, &d)]), NOW);
        assert_eq!(v.accepted().next().unwrap().docker_reference, *r);
    }
    for r in [
        "ghcr.io/example/other",
        "ghcr.io/example/app/sub",
        "docker.io/example/app",
    ] {
        let v = rejects(&app, &d, &ok(vec![s.sign_image(r, &d)]), NOW);
        let (_, reason) = v.rejected().next().unwrap();
        assert!(
            matches!(reason, Rejection::RepositoryMismatch { .. }),
            "{r}: {reason:?}"
        );
        assert_eq!(reason.check(), "repository");
    }
    let v = rejects(&app, &d, &ok(vec![s.sign_image("Not A Ref!", &d)]), NOW);
    assert!(matches!(
        v.rejected().next().unwrap().1,
        Rejection::BadDockerReference { .. }
    ));
    // Docker Hub: cosign writes index.docker.io/library/…, people write debian.
    let hub = policy_for("debian");
    for r in [
        "index.docker.io/library/debian",
        "docker.io/library/debian:12",
        "debian",
    ] {
        accepts(&hub, &d, &ok(vec![s.sign_image(r, &d)]), NOW);
    }
    // Without a repository in the policy, any reference is accepted.
    accepts(
        &ignoring_log(vec![s.public_key()]),
        &d,
        &ok(vec![s.sign_image("x.example/y", &d)]),
        NOW,
    );
}

#[test]
fn payload_is_parsed_strictly_after_the_signature() {
    let s = Signer::p256();
    let d = digest(5);
    let policy = ignoring_log(vec![s.public_key()]);
    let signed = |payload: &str| {
        Signature::new(payload.as_bytes().to_vec(), s.sign(payload.as_bytes())).unwrap()
    };
    let good = String::from_utf8(SimpleSigning::new(REPO, d.clone()).to_bytes()).unwrap();
    type Check = fn(&PayloadError) -> bool;
    let cases: Vec<(String, Check)> = vec![
        ("not json".into(), |e| {
            matches!(e, PayloadError::NotJson { .. })
        }),
        (
            good.replace("\"optional\":null", "\"optional\":null,\"x\":1"),
            |e| matches!(e, PayloadError::UnexpectedField { .. }),
        ),
        (
            good.replace("cosign container image signature", "something else"),
            |e| matches!(e, PayloadError::WrongSignatureType { .. }),
        ),
        (
            good.replace(
                "\"optional\":null",
                "\"optional\":{\"timestamp\":\"yesterday\"}",
            ),
            |e| matches!(e, PayloadError::BadTimestamp),
        ),
    ];
    for (payload, check) in cases {
        let v = rejects(&policy, &d, &ok(vec![signed(&payload)]), NOW);
        match v.rejected().next().unwrap().1 {
            Rejection::Payload(e) => assert!(check(e), "{payload}: {e:?}"),
            other => panic!("{payload}: {other:?}"),
        }
    }
    // Junk signed by an untrusted key is refused at the signature, before any parsing.
    let junk = Signature::new(b"not json".to_vec(), Signer::p256().sign(b"not json")).unwrap();
    let v = rejects(&policy, &d, &ok(vec![junk]), NOW);
    assert_eq!(
        v.rejected().next().unwrap().1,
        &Rejection::SignatureNotVerified
    );
}

#[test]
fn signed_optional_annotations_are_exposed() {
    let s = Signer::p256();
    let d = digest(6);
    let payload = SimpleSigning::new(REPO, d.clone())
        .with_annotation("version", "20250101-0.9.0-1-gabc")
        .to_bytes();
    let sig = Signature::new(payload.clone(), s.sign(&payload)).unwrap();
    let v = accepts(&ignoring_log(vec![s.public_key()]), &d, &ok(vec![sig]), NOW);
    let a = v.accepted().next().unwrap();
    assert_eq!(
        a.payload.optional_str("version"),
        Some("20250101-0.9.0-1-gabc")
    );
}

#[test]
fn junk_is_reported_and_skipped() {
    let s = Signer::p256();
    let d = digest(7);
    let good = s.sign_image(REPO, &d);
    let doc = format!(
        "[1, \"x\", null, {{}}, {{\"Base64Signature\": \"!!\", \"Payload\": \"\"}}, {}, {}, {}]",
        Signer::p256().sign_image(REPO, &d).to_cosign_json(),
        s.sign_image(REPO, &digest(8)).to_cosign_json(),
        good.to_cosign_json(),
    );
    let sigs = parse_cosign_download(doc.as_bytes()).unwrap();
    assert_eq!(sigs.len(), 8);
    let v = verify(&ignoring_log(vec![s.public_key()]), &d, &sigs, NOW).unwrap();
    let checks: Vec<&str> = v
        .outcomes
        .iter()
        .map(|o| match o {
            latch_trust::Outcome::Accepted(_) => "accepted",
            latch_trust::Outcome::Rejected { reason, .. } => reason.check(),
        })
        .collect();
    assert_eq!(
        checks,
        [
            "malformed",
            "malformed",
            "malformed",
            "malformed",
            "malformed",
            "signature",
            "digest",
            "accepted"
        ]
    );
    assert_eq!(v.outcomes[7].index(), 7);
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["outcomes"][6]["check"], "digest");
    assert_eq!(json["outcomes"][7]["accepted"], true);
}

#[test]
fn cosign_download_entry_errors_name_the_field() {
    type Check = fn(&SignatureParseError) -> bool;
    let s = Signer::p256().sign_image(REPO, &digest(9));
    let good: serde_json::Value = serde_json::from_str(&s.to_cosign_json()).unwrap();
    let with = |k: &str, v: serde_json::Value| {
        let mut g = good.clone();
        g[k] = v;
        g.to_string()
    };
    let without = |k: &str| {
        let mut g = good.clone();
        g.as_object_mut().unwrap().remove(k);
        g.to_string()
    };
    let cases: Vec<(String, Check)> = vec![
        ("7".into(), |e| {
            matches!(e, SignatureParseError::NotAnObject)
        }),
        (without("Payload"), |e| {
            matches!(
                e,
                SignatureParseError::Field {
                    field: "Payload",
                    ..
                }
            )
        }),
        (with("Base64Signature", 5.into()), |e| {
            matches!(
                e,
                SignatureParseError::Field {
                    field: "Base64Signature",
                    ..
                }
            )
        }),
        (with("Payload", "eyJ".into()), |e| {
            matches!(
                e,
                SignatureParseError::BadBase64 {
                    field: "Payload",
                    ..
                }
            )
        }),
        (with("Base64Signature", "MEUC IQ==".into()), |e| {
            matches!(
                e,
                SignatureParseError::BadBase64 {
                    field: "Base64Signature",
                    ..
                }
            )
        }),
        (
            with(
                "Bundle",
                serde_json::json!({"SignedEntryTimestamp": "AA=="}),
            ),
            |e| {
                matches!(
                    e,
                    SignatureParseError::Bundle(BundleError::Field {
                        field: "Payload",
                        ..
                    })
                )
            },
        ),
        (with("Bundle", 3.into()), |e| {
            matches!(
                e,
                SignatureParseError::Bundle(BundleError::Field {
                    field: "SignedEntryTimestamp",
                    ..
                })
            )
        }),
    ];
    for (doc, check) in cases {
        let list = parse_cosign_download(format!("[{doc}]").as_bytes()).unwrap();
        let err = list[0].clone().unwrap_err();
        assert!(check(&err), "{doc}: {err:?}");
        // Same through the one-object-per-line form.
        let lines =
            parse_cosign_download(format!("{doc}\n{}\n", s.to_cosign_json()).as_bytes()).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].clone().unwrap_err(), err);
        assert_eq!(lines[1].clone().unwrap(), s);
    }
    // Missing optional members are fine (cosign always writes them; others may not).
    let minimal = without("Cert");
    assert!(parse_cosign_download(minimal.as_bytes()).unwrap()[0].is_ok());
}

#[test]
fn malformed_documents_fail_whole_and_cleanly() {
    let s = Signer::p256().sign_image(REPO, &digest(10));
    let list = to_cosign_download_list(&[s.clone(), s.clone()]);
    // Every truncation of a list: a clean error or fewer entries, never a panic.
    for cut in 0..list.len() {
        match parse_cosign_download(&list.as_bytes()[..cut]) {
            Ok(v) => assert!(v.is_empty(), "cut {cut}"),
            Err(DocumentError::NotJson { .. }) => {}
            Err(e) => panic!("cut {cut}: {e:?}"),
        }
    }
    assert_eq!(
        parse_cosign_download(b"hello"),
        Err(DocumentError::NotSignatures)
    );
    assert_eq!(
        parse_cosign_download(b"\xff\xfe["),
        Err(DocumentError::NotSignatures)
    );
    assert_eq!(parse_cosign_download(b" \n\t "), Ok(Vec::new()));
    let deep = "[".repeat(100_000);
    assert!(matches!(
        parse_cosign_download(deep.as_bytes()),
        Err(DocumentError::NotJson { .. })
    ));
    let deep_obj = format!("{}{}", "{\"a\":".repeat(50_000), "1");
    assert_eq!(
        parse_cosign_download(deep_obj.as_bytes()),
        Err(DocumentError::NotSignatures)
    );
    let truncated = &s.to_cosign_json()[..40];
    assert_eq!(
        parse_cosign_download(truncated.as_bytes()),
        Err(DocumentError::NotSignatures)
    );
    // A line that is JSON but not an object, and a broken line, among good ones.
    let lines = format!(
        "{}\n[1]\n{{\"Base64\n{}\n",
        s.to_cosign_json(),
        s.to_cosign_json()
    );
    let r = parse_cosign_download(lines.as_bytes()).unwrap();
    assert_eq!(r.len(), 4);
    assert!(r[0].is_ok() && r[3].is_ok());
    assert_eq!(r[1], Err(SignatureParseError::NotAnObject));
    assert!(matches!(r[2], Err(SignatureParseError::NotJson { .. })));
    // No signatures at all: nothing accepted, nothing logged.
    let policy = ignoring_log(vec![Signer::p256().public_key()]);
    let none = verify(&policy, &digest(10), &[], NOW).unwrap();
    assert!(none.outcomes.is_empty());
    assert_eq!(none.accepted().count(), 0);
    assert_eq!(none.max_log_index, None);
    assert_eq!(none.digest, digest(10));
}

#[test]
fn random_corruption_never_panics_nor_forges() {
    let signer = Signer::p256();
    let log = TestLog::new();
    let d = digest(11);
    let sig = log.log(
        signer.sign_image(REPO, &d),
        signer.pem().as_bytes(),
        3,
        NOW - 1,
    );
    let policy = Policy::builder()
        .key(signer.public_key())
        .rekor_key(log.key())
        .build()
        .unwrap();
    let doc = to_cosign_download_list(std::slice::from_ref(&sig)).into_bytes();
    accepts(&policy, &d, &parse_cosign_download(&doc).unwrap(), NOW);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut m = doc.clone();
        for _ in 0..(1 + next() % 3) {
            let i = (next() % m.len() as u64) as usize;
            m[i] = (next() & 0xff) as u8;
        }
        let Ok(sigs) = parse_cosign_download(&m) else {
            continue;
        };
        let v = verify(&policy, &d, &sigs, NOW).unwrap();
        assert_eq!(v.outcomes.len(), sigs.len());
        // Whatever was accepted is the original signature of the original payload,
        // logged at the original place.
        for a in v.accepted() {
            let Ok(got) = &sigs[a.index] else {
                panic!("accepted junk")
            };
            assert_eq!(got.payload(), sig.payload());
            assert_eq!(got.signature(), sig.signature());
            assert_eq!(a.tlog.as_ref().unwrap().log_index, 3);
        }
    }
}

#[test]
fn bounds_on_counts_and_sizes() {
    let s = Signer::p256().sign_image(REPO, &digest(12));
    let one = s.to_cosign_json();
    // 100 entries are fine; 101 are refused, as a list and as lines.
    let list = |n: usize| format!("[{}]", vec![one.as_str(); n].join(","));
    assert_eq!(
        parse_cosign_download(list(MAX_SIGNATURES).as_bytes())
            .unwrap()
            .len(),
        100
    );
    assert_eq!(
        parse_cosign_download(list(MAX_SIGNATURES + 1).as_bytes()),
        Err(DocumentError::TooManySignatures {
            count: 101,
            max: 100
        })
    );
    let lines = format!("{one}\n").repeat(MAX_SIGNATURES + 1);
    assert_eq!(
        parse_cosign_download(lines.as_bytes()),
        Err(DocumentError::TooManySignatures {
            count: 101,
            max: 100
        })
    );
    // The document size.
    let huge = vec![b' '; MAX_DOCUMENT_BYTES + 1];
    assert_eq!(
        parse_cosign_download(&huge),
        Err(DocumentError::TooLarge {
            size: MAX_DOCUMENT_BYTES + 1,
            max: MAX_DOCUMENT_BYTES
        })
    );
    // The payload size: refused before decoding, as one bad entry.
    let big_payload = STANDARD.encode(vec![b'x'; 1024 * 1024 + 1]);
    let doc = format!("[{{\"Base64Signature\":\"AA==\",\"Payload\":\"{big_payload}\"}},{one}]");
    let r = parse_cosign_download(doc.as_bytes()).unwrap();
    assert!(matches!(
        r[0],
        Err(SignatureParseError::PayloadTooLarge { .. })
    ));
    assert!(r[1].is_ok());
    assert!(matches!(
        Signature::new(vec![0; 1024 * 1024 + 1], vec![]),
        Err(SignatureParseError::PayloadTooLarge { .. })
    ));
    let (layer, _) = s.to_layer();
    let mut big_layer = layer.clone();
    big_layer.size = 2 * 1024 * 1024;
    assert!(matches!(
        Signature::from_layer(&big_layer, &vec![0; 2 * 1024 * 1024]),
        Err(SignatureParseError::PayloadTooLarge { .. })
    ));
    // Layers per manifest.
    let manifest = |n: usize| ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::for_bytes(media_types::OCI_CONFIG, b"{}"),
        layers: vec![layer.clone(); n],
        subject: None,
        annotations: None,
    };
    let blobs = vec![s.to_layer()];
    assert_eq!(
        signatures_from_manifest(&manifest(100), &blobs)
            .unwrap()
            .len(),
        100
    );
    assert_eq!(
        signatures_from_manifest(&manifest(101), &blobs),
        Err(DocumentError::TooManySignatures {
            count: 101,
            max: 100
        })
    );
    // And the verifier itself.
    let policy = ignoring_log(vec![Signer::p256().public_key()]);
    let many: Vec<Candidate> = vec![Ok(s.clone()); 101];
    assert_eq!(
        verify(&policy, &digest(12), &many, NOW),
        Err(VerifyError::TooManySignatures {
            count: 101,
            max: 100
        })
    );
}

#[test]
fn sig_layers_are_checked() {
    type Check = fn(&SignatureParseError) -> bool;
    let log = TestLog::new();
    let signer = Signer::p256();
    let s = log.log(
        signer.sign_image(REPO, &digest(13)),
        signer.pem().as_bytes(),
        1,
        NOW,
    );
    let (layer, blob) = s.to_layer();
    assert_eq!(Signature::from_layer(&layer, &blob).unwrap(), s);
    let edit = |f: fn(&mut Descriptor)| {
        let mut l = layer.clone();
        f(&mut l);
        l
    };
    let cases: Vec<(Descriptor, Vec<u8>, Check)> = vec![
        (layer.clone(), b"x".repeat(blob.len()), |e| {
            matches!(e, SignatureParseError::BlobDigestMismatch { .. })
        }),
        (layer.clone(), blob[1..].to_vec(), |e| {
            matches!(e, SignatureParseError::BlobSizeMismatch { .. })
        }),
        (
            edit(|l| l.media_type = media_types::OCI_LAYER_GZIP.into()),
            blob.clone(),
            |e| matches!(e, SignatureParseError::WrongMediaType { .. }),
        ),
        (
            edit(|l| {
                l.annotations.as_mut().unwrap().remove(ANNOTATION_SIGNATURE);
            }),
            blob.clone(),
            |e| {
                matches!(
                    e,
                    SignatureParseError::MissingAnnotation {
                        key: ANNOTATION_SIGNATURE
                    }
                )
            },
        ),
        (
            edit(|l| l.set_annotation(ANNOTATION_SIGNATURE, "%%%")),
            blob.clone(),
            |e| {
                matches!(
                    e,
                    SignatureParseError::BadBase64 {
                        field: ANNOTATION_SIGNATURE,
                        ..
                    }
                )
            },
        ),
        (
            edit(|l| l.set_annotation(ANNOTATION_BUNDLE, "{\"SignedEntryTimestamp\"")),
            blob.clone(),
            |e| matches!(e, SignatureParseError::Bundle(BundleError::NotJson { .. })),
        ),
        (
            edit(|l| l.set_annotation(ANNOTATION_RFC3161_TIMESTAMP, "nope")),
            blob.clone(),
            |e| {
                matches!(
                    e,
                    SignatureParseError::BadAnnotation {
                        key: ANNOTATION_RFC3161_TIMESTAMP,
                        ..
                    }
                )
            },
        ),
    ];
    for (l, b, check) in cases {
        let err = Signature::from_layer(&l, &b).unwrap_err();
        assert!(check(&err), "{err:?}");
        assert!(!err.to_string().is_empty());
    }
    // Keyless material is kept as delivered and written back to the same annotations.
    let mut l = layer.clone();
    l.set_annotation(
        latch_trust::signature::ANNOTATION_CERTIFICATE,
        "-----BEGIN CERTIFICATE-----\n",
    );
    l.set_annotation(
        ANNOTATION_RFC3161_TIMESTAMP,
        "{\"SignedRFC3161Timestamp\":\"AA==\"}",
    );
    let k = Signature::from_layer(&l, &blob).unwrap();
    assert!(k.cert().is_some() && k.chain().is_none() && k.rfc3161_timestamp().is_some());
    assert_eq!(Signature::from_layer(&k.to_layer().0, &blob).unwrap(), k);
}
