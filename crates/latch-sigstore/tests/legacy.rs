//! Cosign 2.x keyless `.sig` signatures (certificate, chain and Rekor bundle in layer
//! annotations) minted by the test Sigstore and verified against its custom
//! `trusted_root.json`: accepted for the right identity, refused with the failed check
//! named for everything else.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latch_sigstore::legacy::legacy_to_bundle;
use latch_sigstore::sigstore_verify::{self, CertificateError, TransparencyLogError};
use latch_sigstore::{
    Error, GithubClaims, IdentityPolicy, LegacyRekorEntry, LegacySignature, SanMatcher, Signer,
    SignerInfo, TrustRoot, verify_legacy_keyless,
};
use latch_testkit::sigstore::{GITHUB_ISSUER, Leaf, LegacyEntry, LegacySig, TestSigstore};

const REPO: &str = "freedomofpress/dangerzone";
const WORKFLOW: &str = ".github/workflows/release.yml";
const MAIN: &str = "refs/heads/main";
const PAYLOAD: &[u8] = br#"{"critical":{"identity":{"docker-reference":"ghcr.io/freedomofpress/dangerzone/dangerzone"},"image":{"docker-manifest-digest":"sha256:19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67"},"type":"cosign container image signature"},"optional":null}"#;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn san() -> String {
    format!("https://github.com/{REPO}/{WORKFLOW}@{MAIN}")
}

/// A GitHub Actions certificate valid from 100 s before the integrated time.
fn leaf(integrated_time: i64) -> Leaf {
    Leaf::github(REPO, WORKFLOW, MAIN, "push", integrated_time - 100, None)
}

fn identity() -> Signer {
    Signer::Identity(IdentityPolicy::github_workflow(REPO, WORKFLOW, Some(MAIN)).unwrap())
}

struct Fixture {
    sigstore: TestSigstore,
    root: TrustRoot,
    time: i64,
}

fn fixture() -> Fixture {
    let sigstore = TestSigstore::new();
    let root = TrustRoot::from_json(sigstore.trusted_root_json().as_bytes(), "test root").unwrap();
    Fixture {
        sigstore,
        root,
        time: now() - 3600,
    }
}

impl Fixture {
    fn sig(&self) -> LegacySig {
        self.sigstore
            .legacy_sig(&leaf(self.time), PAYLOAD, self.time, 4242)
    }

    /// A signature by a fresh certificate of this CA whose Rekor entry is `entry`.
    fn altered(&self, entry: LegacyEntry) -> LegacySig {
        let signer = self.sigstore.issue(&leaf(self.time));
        self.sigstore.legacy_sig_by(
            &signer,
            &self.sigstore.ca_cert_pem(),
            PAYLOAD,
            self.time,
            4242,
            &entry,
        )
    }
}

/// The signature as read from its layer, with or without the chain annotation.
fn as_read(s: &LegacySig, chain: bool) -> LegacySignature<'_> {
    LegacySignature {
        payload: &s.payload,
        signature: &s.signature,
        certificate: s.certificate_pem.as_bytes(),
        chain: chain.then_some(s.chain_pem.as_bytes()),
        rekor: Some(LegacyRekorEntry {
            signed_entry_timestamp: &s.set,
            body: &s.body,
            integrated_time: s.integrated_time,
            log_index: s.log_index,
            log_id_hex: &s.log_id_hex,
        }),
    }
}

fn verify(
    f: &Fixture,
    sig: &LegacySignature<'_>,
) -> Result<latch_sigstore::BundleVerification, Error> {
    verify_legacy_keyless(&f.root, sig, "x.sig layer 0", &[identity()])
}

fn claim(r: Result<latch_sigstore::BundleVerification, Error>) -> (String, String) {
    let e = r.expect_err("must be refused");
    (
        e.failed_claim().unwrap_or_default().to_owned(),
        e.to_string(),
    )
}

fn source(r: Result<latch_sigstore::BundleVerification, Error>) -> sigstore_verify::Error {
    match r.expect_err("must be refused") {
        Error::Verification { source, location } => {
            assert_eq!(location, "x.sig layer 0");
            source
        }
        other => panic!("expected a verification error, got {other}"),
    }
}

#[test]
fn accepted_for_the_right_identity_with_and_without_the_chain() {
    let f = fixture();
    let s = f.sig();
    for chain in [true, false] {
        let v = verify(&f, &as_read(&s, chain)).unwrap();
        assert!(v.certificate_verified && v.log_verified && !v.inclusion_proof_verified);
        assert_eq!(v.signed_times, vec![f.time]);
        assert_eq!(v.max_log_index(), Some(4242));
        assert_eq!(v.log_entries[0].kind, "hashedrekord/0.0.1");
        assert_eq!(v.log_entries[0].log_id, s.log_id_hex);
        assert_eq!(v.log_entries[0].integrated_time, Some(f.time));
        assert!(v.statement.is_none());
        match &v.signer {
            SignerInfo::Certificate { identity, issuer } => {
                assert_eq!(identity.as_deref(), Some(san().as_str()));
                assert_eq!(issuer.as_deref(), Some(GITHUB_ISSUER));
            }
            other => panic!("{other:?}"),
        }
        let claims: Vec<&str> = v.claims.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            claims,
            [
                "certificate OIDC issuer",
                "certificate identity (SAN)",
                "certificate source repository",
                "certificate workflow (build config)",
                "certificate source ref"
            ]
        );
    }
}

#[test]
fn a_blank_chain_annotation_is_no_chain() {
    let f = fixture();
    let s = f.sig();
    let v = verify(
        &f,
        &LegacySignature {
            chain: Some(b" \n"),
            ..as_read(&s, true)
        },
    )
    .unwrap();
    assert!(v.certificate_verified);
}

#[test]
fn the_annotations_are_what_cosign_writes() {
    let f = fixture();
    let s = f.sig();
    let a = s.annotations();
    assert_eq!(
        a["dev.cosignproject.cosign/signature"],
        STANDARD.encode(&s.signature)
    );
    assert!(a["dev.sigstore.cosign/certificate"].starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(a["dev.sigstore.cosign/chain"], f.sigstore.ca_cert_pem());
    // Read the Rekor bundle annotation back as a caller would, and verify from it.
    let rb: serde_json::Value = serde_json::from_str(&a["dev.sigstore.cosign/bundle"]).unwrap();
    let set = STANDARD
        .decode(rb["SignedEntryTimestamp"].as_str().unwrap())
        .unwrap();
    let body = STANDARD
        .decode(rb["Payload"]["body"].as_str().unwrap())
        .unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(entry["kind"], "hashedrekord");
    assert_eq!(entry["apiVersion"], "0.0.1");
    let logged_cert = STANDARD
        .decode(
            entry["spec"]["signature"]["publicKey"]["content"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(logged_cert, a["dev.sigstore.cosign/certificate"].as_bytes());
    let sig = STANDARD
        .decode(&a["dev.cosignproject.cosign/signature"])
        .unwrap();
    let read = LegacySignature {
        payload: PAYLOAD,
        signature: &sig,
        certificate: a["dev.sigstore.cosign/certificate"].as_bytes(),
        chain: Some(a["dev.sigstore.cosign/chain"].as_bytes()),
        rekor: Some(LegacyRekorEntry {
            signed_entry_timestamp: &set,
            body: &body,
            integrated_time: rb["Payload"]["integratedTime"].as_i64().unwrap(),
            log_index: rb["Payload"]["logIndex"].as_i64().unwrap(),
            log_id_hex: rb["Payload"]["logID"].as_str().unwrap(),
        }),
    };
    verify(&f, &read).unwrap();
    // The certificate in DER is accepted as well as PEM.
    let der = STANDARD
        .decode(
            s.certificate_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    verify(
        &f,
        &LegacySignature {
            certificate: &der,
            ..as_read(&s, false)
        },
    )
    .unwrap();
}

#[test]
fn the_bundle_is_a_v01_message_signature() {
    let f = fixture();
    let s = f.sig();
    let b = legacy_to_bundle(&as_read(&s, true), "l").unwrap();
    let json: serde_json::Value = serde_json::from_str(&b.to_json().unwrap()).unwrap();
    assert_eq!(
        json["mediaType"],
        "application/vnd.dev.sigstore.bundle+json;version=0.1"
    );
    assert_eq!(
        json["verificationMaterial"]["x509CertificateChain"]["certificates"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "the leaf, then the chain's CA certificate"
    );
    let entry = &json["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord");
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert!(entry.get("inclusionProof").is_none());
    assert_eq!(
        json["messageSignature"]["messageDigest"]["digest"],
        STANDARD.encode(latch_sigstore::sigstore_verify::crypto::sha256(PAYLOAD).as_bytes())
    );
}

#[test]
fn refused_for_a_wrong_san_issuer_or_github_claim() {
    let f = fixture();
    let s = f.sig();
    let sig = as_read(&s, true);
    let check = |policy: IdentityPolicy| {
        claim(verify_legacy_keyless(
            &f.root,
            &sig,
            "l",
            &[Signer::Identity(policy)],
        ))
    };
    let (c, text) = check(IdentityPolicy::new(
        GITHUB_ISSUER,
        SanMatcher::exact(format!("https://github.com/{REPO}-image/{WORKFLOW}@{MAIN}")),
    ));
    assert_eq!(c, "certificate identity (SAN)", "{text}");
    let (c, text) = check(IdentityPolicy::new(
        GITHUB_ISSUER,
        SanMatcher::regex("https://github\\.com/freedomofpress/dangerzone-image/.*").unwrap(),
    ));
    assert_eq!(c, "certificate identity (SAN)", "{text}");
    let (c, text) = check(IdentityPolicy::new(
        "https://accounts.google.com",
        SanMatcher::exact(san()),
    ));
    assert_eq!(c, "certificate OIDC issuer", "{text}");
    for (github, want) in [
        (
            GithubClaims {
                repository: Some("evil/repo".into()),
                ..GithubClaims::default()
            },
            "certificate source repository",
        ),
        (
            GithubClaims {
                git_ref: Some("refs/heads/dev".into()),
                ..GithubClaims::default()
            },
            "certificate source ref",
        ),
        (
            GithubClaims {
                workflow: Some(".github/workflows/other.yml".into()),
                ..GithubClaims::default()
            },
            "certificate workflow (build config)",
        ),
        (
            GithubClaims {
                trigger: Some("workflow_dispatch".into()),
                ..GithubClaims::default()
            },
            "certificate build trigger",
        ),
    ] {
        let mut p = IdentityPolicy::new(GITHUB_ISSUER, SanMatcher::exact(san()));
        p.github = github;
        let (c, text) = check(p);
        assert_eq!(c, want, "{text}");
    }
    // Only keys trusted: a keyless signature is not theirs to vouch for.
    let key = Signer::key_from_der(&f.sigstore.rekor_key_der(), "k");
    let e = verify_legacy_keyless(&f.root, &sig, "l", &[key]).unwrap_err();
    assert!(matches!(e, Error::UntrustedSigner { .. }), "{e}");
}

#[test]
fn refused_for_a_certificate_from_another_ca_even_with_its_chain() {
    let f = fixture();
    let other = TestSigstore::new();
    let signer = other.issue(&leaf(f.time));
    // Logged by the trusted Rekor, with the other CA offered in the chain annotation.
    let s = f.sigstore.legacy_sig_by(
        &signer,
        &other.ca_cert_pem(),
        PAYLOAD,
        f.time,
        1,
        &LegacyEntry::default(),
    );
    for chain in [true, false] {
        let e = source(verify(&f, &as_read(&s, chain)));
        assert!(
            matches!(
                e,
                sigstore_verify::Error::Certificate(CertificateError::ChainInvalid(_))
            ),
            "{e}"
        );
    }
}

#[test]
fn an_intermediate_not_in_the_root_is_taken_from_the_chain_annotation() {
    let f = fixture();
    let intermediate = f.sigstore.intermediate();
    let signer = f.sigstore.issue_under(&intermediate, &leaf(f.time));
    // cosign writes the intermediate, then the root.
    let chain = format!("{}{}", intermediate.cert_pem(), f.sigstore.ca_cert_pem());
    let s = f
        .sigstore
        .legacy_sig_by(&signer, &chain, PAYLOAD, f.time, 2, &LegacyEntry::default());
    let v = verify(&f, &as_read(&s, true)).unwrap();
    assert!(v.certificate_verified);
    // Without the annotation the leaf does not chain to the root.
    let e = source(verify(&f, &as_read(&s, false)));
    assert!(
        matches!(
            e,
            sigstore_verify::Error::Certificate(CertificateError::ChainInvalid(_))
        ),
        "{e}"
    );
    // The annotation only offers intermediates: an intermediate of another CA, with that
    // CA as the chain's root, does not make a leaf it issued trusted.
    let other = TestSigstore::new();
    let rogue = other.intermediate();
    let signer = other.issue_under(&rogue, &leaf(f.time));
    let chain = format!("{}{}", rogue.cert_pem(), other.ca_cert_pem());
    let s = f
        .sigstore
        .legacy_sig_by(&signer, &chain, PAYLOAD, f.time, 3, &LegacyEntry::default());
    let e = source(verify(&f, &as_read(&s, true)));
    assert!(
        matches!(
            e,
            sigstore_verify::Error::Certificate(CertificateError::ChainInvalid(_))
        ),
        "{e}"
    );
}

#[test]
fn refused_for_a_certificate_not_valid_at_the_integrated_time() {
    let f = fixture();
    // Expired: valid for ten minutes from an hour before the entry was integrated.
    let expired = Leaf::github(REPO, WORKFLOW, MAIN, "push", f.time - 3600, None);
    // Not yet valid: issued after the entry was integrated.
    let early = Leaf::github(REPO, WORKFLOW, MAIN, "push", f.time + 60, None);
    for l in [expired, early] {
        let s = f.sigstore.legacy_sig(&l, PAYLOAD, f.time, 5);
        let (c, text) = claim(verify(&f, &as_read(&s, true)));
        assert_eq!(c, "certificate validity", "{text}");
        assert!(text.contains("logged at"), "{text}");
    }
}

#[test]
fn refused_without_a_set() {
    let f = fixture();
    let s = f.sig();
    let (c, text) = claim(verify(
        &f,
        &LegacySignature {
            rekor: None,
            ..as_read(&s, true)
        },
    ));
    assert_eq!(c, "Rekor SET", "{text}");
    assert!(text.contains("found none"), "{text}");
}

#[test]
fn refused_for_a_set_by_an_untrusted_key_or_over_other_values() {
    let f = fixture();
    let s = f.altered(LegacyEntry {
        untrusted_log: true,
        ..LegacyEntry::default()
    });
    let e = source(verify(&f, &as_read(&s, true)));
    assert!(
        matches!(
            e,
            sigstore_verify::Error::TransparencyLog(TransparencyLogError::InclusionPromise(_))
        ),
        "{e}"
    );
    // The trusted log's ID, but the SET by another key.
    let good = f.sig();
    let mut mixed = as_read(&s, true);
    let mut entry = mixed.rekor.unwrap();
    entry.log_id_hex = &good.log_id_hex;
    mixed.rekor = Some(entry);
    let e = source(verify(&f, &mixed));
    assert!(
        matches!(
            e,
            sigstore_verify::Error::TransparencyLog(TransparencyLogError::InclusionPromise(_))
        ),
        "{e}"
    );
    // A genuine SET, but another integrated time or log index than it signed.
    for (dt, di) in [(-60, 0), (0, 1)] {
        let mut sig = as_read(&good, true);
        let mut entry = sig.rekor.unwrap();
        entry.integrated_time += dt;
        entry.log_index += di;
        sig.rekor = Some(entry);
        let e = source(verify(&f, &sig));
        assert!(
            matches!(
                e,
                sigstore_verify::Error::TransparencyLog(TransparencyLogError::InclusionPromise(_))
            ),
            "{e}"
        );
    }
    // A genuine SET over another body.
    let other = f.sig();
    let mut sig = as_read(&good, true);
    let mut entry = sig.rekor.unwrap();
    entry.body = &other.body;
    sig.rekor = Some(entry);
    let e = source(verify(&f, &sig));
    assert!(
        matches!(
            e,
            sigstore_verify::Error::TransparencyLog(TransparencyLogError::InclusionPromise(_))
        ),
        "{e}"
    );
}

#[test]
fn refused_for_an_entry_bound_to_another_payload_signature_or_certificate() {
    let f = fixture();
    let s = f.altered(LegacyEntry {
        payload: Some(b"another payload".to_vec()),
        ..LegacyEntry::default()
    });
    let (c, text) = claim(verify(&f, &as_read(&s, true)));
    assert_eq!(c, "Rekor entry payload hash", "{text}");

    let another = f.sig();
    let s = f.altered(LegacyEntry {
        signature: Some(another.signature.clone()),
        ..LegacyEntry::default()
    });
    let (c, text) = claim(verify(&f, &as_read(&s, true)));
    assert_eq!(c, "Rekor entry signature", "{text}");

    let s = f.altered(LegacyEntry {
        certificate_pem: Some(another.certificate_pem.clone()),
        ..LegacyEntry::default()
    });
    let (c, text) = claim(verify(&f, &as_read(&s, true)));
    assert_eq!(c, "Rekor entry certificate", "{text}");
}

#[test]
fn refused_for_a_tampered_payload_or_signature() {
    let f = fixture();
    let s = f.sig();
    let tampered = String::from_utf8(PAYLOAD.to_vec())
        .unwrap()
        .replace("19e8eacd", "29e8eacd");
    let e = source(verify(
        &f,
        &LegacySignature {
            payload: tampered.as_bytes(),
            ..as_read(&s, true)
        },
    ));
    assert!(
        matches!(e, sigstore_verify::Error::SignatureInvalid(_)),
        "{e}"
    );
    let mut bad = s.signature.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let e = source(verify(
        &f,
        &LegacySignature {
            signature: &bad,
            ..as_read(&s, true)
        },
    ));
    assert!(
        matches!(e, sigstore_verify::Error::SignatureInvalid(_)),
        "{e}"
    );
}

#[test]
fn malformed_material_is_refused_by_name() {
    let f = fixture();
    let s = f.sig();
    let cases: [(LegacySignature<'_>, &str); 4] = [
        (
            LegacySignature {
                certificate: b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----",
                ..as_read(&s, true)
            },
            "dev.sigstore.cosign/certificate",
        ),
        (
            LegacySignature {
                certificate: b"\x30\x03\x02\x01\x01",
                ..as_read(&s, true)
            },
            "dev.sigstore.cosign/certificate",
        ),
        (
            LegacySignature {
                chain: Some(b"garbage"),
                ..as_read(&s, true)
            },
            "dev.sigstore.cosign/chain",
        ),
        (
            LegacySignature {
                rekor: Some(LegacyRekorEntry {
                    log_id_hex: "abc",
                    ..as_read(&s, true).rekor.unwrap()
                }),
                ..as_read(&s, true)
            },
            "dev.sigstore.cosign/bundle",
        ),
    ];
    for (sig, want) in cases {
        let e = verify(&f, &sig).unwrap_err();
        assert!(matches!(e, Error::Cosign { .. }), "{e}");
        assert!(e.to_string().contains(want), "{e}");
    }
    // Two certificates where one is expected.
    let two = format!("{}{}", s.certificate_pem, s.certificate_pem);
    let e = verify(
        &f,
        &LegacySignature {
            certificate: two.as_bytes(),
            ..as_read(&s, true)
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("expected exactly one"), "{e}");
    // Another kind of entry than hashedrekord 0.0.1.
    let body = String::from_utf8(s.body.clone())
        .unwrap()
        .replace("\"hashedrekord\"", "\"rekord\"");
    let e = verify(
        &f,
        &LegacySignature {
            rekor: Some(LegacyRekorEntry {
                body: body.as_bytes(),
                ..as_read(&s, true).rekor.unwrap()
            }),
            ..as_read(&s, true)
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("entry rekord/0.0.1"), "{e}");
}

#[test]
fn the_production_root_refuses_the_test_ca() {
    let f = fixture();
    let s = f.sig();
    let prod = TrustRoot::production().unwrap();
    // Outright: the test log is not one of its logs.
    let e = verify_legacy_keyless(&prod, &as_read(&s, true), "l", &[identity()]).unwrap_err();
    assert!(matches!(e, Error::Verification { .. }), "{e}");
    // With the test log added, the production CAs still refuse the test CA's certificate.
    let mut doc: serde_json::Value = serde_json::from_str(
        latch_sigstore::sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT,
    )
    .unwrap();
    let test: serde_json::Value = serde_json::from_str(&f.sigstore.trusted_root_json()).unwrap();
    doc["tlogs"] = test["tlogs"].clone();
    let root =
        TrustRoot::from_json(doc.to_string().as_bytes(), "production CAs, test log").unwrap();
    let e = verify_legacy_keyless(&root, &as_read(&s, true), "l", &[identity()]).unwrap_err();
    match e {
        Error::Verification {
            source: sigstore_verify::Error::Certificate(CertificateError::ChainInvalid(_)),
            ..
        } => {}
        other => panic!("expected an untrusted chain, got {other}"),
    }
}
