//! Message-signature bundles by ECDSA P-384 and P-521 signers (their `hashedrekord`
//! entries carry SHA-384 / SHA-512 hashes of the artifact), otherName (username) SANs,
//! and bundles listing one log entry twice. All material is made by `support`: keys,
//! a CA with an SCT-issuing CT log, and a Rekor log signing SETs and checkpoints.

mod support;

use latch_sigstore::sigstore_verify;
use latch_sigstore::{
    Artifact, Error, IdentityPolicy, SanMatcher, Signer, TlogRequirement, TrustRoot, verify_bundle,
};
use sigstore_verify::{Error as SvError, TransparencyLogError};
use support::{Curve, Key, Logged, Material, MessageBundle, San, Sigstore, hash, now};

const ARTIFACT: &[u8] = b"a release of something, signed\n";

fn key_signer(key: &Key, name: &str) -> Signer {
    Signer::key_from_der(&key.spki(), name)
}

fn verify(
    root: &TrustRoot,
    bundle: &str,
    signers: &[Signer],
) -> Result<latch_sigstore::BundleVerification, Error> {
    verify_bundle(
        root,
        bundle.as_bytes(),
        "bundle.json",
        Artifact::Bytes(ARTIFACT),
        signers,
        TlogRequirement::Required,
    )
}

fn username_policy(san: SanMatcher) -> Signer {
    Signer::Identity(IdentityPolicy::new(support::ISSUER, san))
}

fn uri() -> String {
    "https://ci.latch.test/release@refs/heads/main".to_owned()
}

fn uri_policy() -> Signer {
    Signer::Identity(IdentityPolicy::new(
        support::ISSUER,
        SanMatcher::exact(uri()),
    ))
}

// ----- P-384 / P-521, key-signed -----------------------------------------------------

fn key_bundle(s: &Sigstore, key: &Key) -> MessageBundle {
    s.message_bundle(key, Material::Key(key.spki()), ARTIFACT)
}

#[test]
fn a_p384_key_signed_bundle_verifies() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P384);
    let bundle = key_bundle(&s, &key).json();
    for root in [s.root(), s.rekor_root()] {
        let v = verify(&root, &bundle, &[key_signer(&key, "p384.pub")]).unwrap();
        assert!(v.log_verified && v.inclusion_proof_verified, "{v:?}");
        assert!(!v.certificate_verified);
        assert_eq!(v.max_log_index(), Some(42));
        assert_eq!(v.log_entries[0].kind, "hashedrekord/0.0.1");
        assert_eq!(v.signed_times.len(), 1, "the SET's integrated time");
        assert!(
            matches!(&v.signer, latch_sigstore::SignerInfo::Key { name } if name == "p384.pub")
        );
    }
}

#[test]
fn a_p521_key_signed_bundle_verifies() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P521);
    let bundle = key_bundle(&s, &key).json();
    for root in [s.root(), s.rekor_root()] {
        let v = verify(&root, &bundle, &[key_signer(&key, "p521.pub")]).unwrap();
        assert!(v.log_verified && v.inclusion_proof_verified, "{v:?}");
        assert_eq!(v.signed_times.len(), 1);
    }
}

#[test]
fn a_v01_p384_bundle_with_only_its_set_verifies() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P384);
    let mut b = key_bundle(&s, &key).without_proofs();
    b.version = "0.1";
    let v = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap();
    assert!(v.log_verified && !v.inclusion_proof_verified, "{v:?}");
    // A forged SET is refused.
    let mut forged = b.clone();
    forged.entries[0]["integratedTime"] = serde_json::json!((now() - 3000).to_string());
    let e = verify(&s.root(), &forged.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(e.to_string().contains("SET"), "{e}");
}

#[test]
fn a_p384_bundle_whose_entry_says_sha256_is_refused() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P384);
    let mut b = key_bundle(&s, &key);
    let material = b.material.clone();
    // The log says sha256 (with the right SHA-256 of the artifact): it does not bind the
    // SHA-384 digest the key signed.
    b.entries = vec![s.hashedrekord_entry(
        &material,
        &Logged {
            algorithm: "sha256".into(),
            digest: hash("sha256", ARTIFACT),
            signature: b.signature.clone(),
            integrated_time: now() - 3600,
            log_index: 42,
        },
    )];
    let e = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    match &e {
        Error::LogEntryMismatch {
            log_index,
            field,
            expected,
            found,
            ..
        } => {
            assert_eq!(
                (*log_index, field.as_str(), found.as_str()),
                (42, "hash algorithm", "sha256")
            );
            assert!(expected.starts_with("sha384"), "{e}");
        }
        other => panic!("{other}"),
    }
    // The same with the bundle's message digest saying SHA-256 too.
    b.message_digest = Some(("sha256".into(), hash("sha256", ARTIFACT)));
    let e = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert_eq!(e.failed_claim(), Some("message digest algorithm"), "{e}");
    assert!(e.to_string().contains("found SHA2_256"), "{e}");
}

#[test]
fn a_p384_bundle_with_a_wrong_hash_is_refused() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P384);
    let mut b = key_bundle(&s, &key);
    let material = b.material.clone();
    b.entries = vec![s.hashedrekord_entry(
        &material,
        &Logged {
            algorithm: "sha384".into(),
            digest: hash("sha384", b"another artifact"),
            signature: b.signature.clone(),
            integrated_time: now() - 3600,
            log_index: 42,
        },
    )];
    let e = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        matches!(&e, Error::LogEntryMismatch { field, .. } if field == "artifact hash"),
        "{e}"
    );
    // The right entry, another artifact.
    let good = key_bundle(&s, &key).json();
    let e = verify_bundle(
        &s.root(),
        good.as_bytes(),
        "b",
        Artifact::Bytes(b"another artifact"),
        &[key_signer(&key, "k")],
        TlogRequirement::Required,
    )
    .unwrap_err();
    assert!(
        is_sigstore(&e, |s| matches!(s, SvError::ArtifactMismatch(_))),
        "{e}"
    );
}

/// Whether `e` is a verification failure of this kind.
fn is_sigstore(e: &Error, kind: impl Fn(&SvError) -> bool) -> bool {
    matches!(e, Error::Verification { source, .. } if kind(source))
}

#[test]
fn a_p384_bundle_with_a_tampered_signature_is_refused() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P384);
    let good = key_bundle(&s, &key);
    // The bundle's signature changed after logging: it no longer matches the entry.
    let mut b = good.clone();
    let last = b.signature.len() - 1;
    b.signature[last] ^= 1;
    let e = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        is_sigstore(&e, |s| matches!(s, SvError::SignatureInvalid(_))),
        "{e}"
    );
    // A bad signature that was logged as such: the entry binds it, the key refuses it.
    let mut bad = b.signature.clone();
    bad[8] ^= 0x40;
    b.signature = bad.clone();
    b.entries = vec![s.hashedrekord_entry(
        &b.material.clone(),
        &Logged {
            algorithm: "sha384".into(),
            digest: hash("sha384", ARTIFACT),
            signature: bad,
            integrated_time: now() - 3600,
            log_index: 42,
        },
    )];
    let e = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        is_sigstore(&e, |s| matches!(s, SvError::SignatureInvalid(_))),
        "{e}"
    );
    // The signature is right but the log entry records another one.
    let mut other_sig = good.clone();
    let material = other_sig.material.clone();
    other_sig.entries = vec![s.hashedrekord_entry(
        &material,
        &Logged {
            algorithm: "sha384".into(),
            digest: hash("sha384", ARTIFACT),
            signature: key.sign(ARTIFACT),
            integrated_time: now() - 3600,
            log_index: 42,
        },
    )];
    let e = verify(&s.root(), &other_sig.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        matches!(&e, Error::LogEntryMismatch { field, .. } if field == "signature"),
        "{e}"
    );
    // Another P-384 key is refused.
    let other = Key::new(Curve::P384);
    let e = verify(&s.root(), &good.json(), &[key_signer(&other, "other")]).unwrap_err();
    assert!(
        is_sigstore(&e, |s| matches!(s, SvError::SignatureInvalid(_))),
        "{e}"
    );
    // The entry names another key (the signature is right).
    let mut other_key = good.clone();
    other_key.entries = vec![s.hashedrekord_entry(
        &Material::Key(other.spki()),
        &Logged {
            algorithm: "sha384".into(),
            digest: hash("sha384", ARTIFACT),
            signature: good.signature.clone(),
            integrated_time: now() - 3600,
            log_index: 42,
        },
    )];
    let e = verify(&s.root(), &other_key.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        matches!(&e, Error::LogEntryMismatch { field, .. } if field == "verifier"),
        "{e}"
    );
}

#[test]
fn a_p384_bundle_needs_the_artifact_bytes_not_its_sha256() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P384);
    let bundle = key_bundle(&s, &key).json();
    let mut d = [0u8; 32];
    d.copy_from_slice(&hash("sha256", ARTIFACT));
    let e = verify_bundle(
        &s.root(),
        bundle.as_bytes(),
        "b",
        Artifact::Sha256(d),
        &[key_signer(&key, "k")],
        TlogRequirement::Required,
    )
    .unwrap_err();
    assert!(
        is_sigstore(&e, |s| matches!(s, SvError::UnsupportedArtifact(_))),
        "{e}"
    );
    assert!(e.to_string().contains("SHA-384"), "{e}");
}

#[test]
fn a_p384_bundle_with_a_bad_proof_or_a_log_key_not_yet_valid_is_refused() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P384);
    let b = key_bundle(&s, &key);
    // The proof's sibling hash corrupted.
    let mut bad = b.clone();
    bad.entries[0]["inclusionProof"]["hashes"][0] = serde_json::json!(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [7u8; 32]
    ));
    let e = verify(&s.root(), &bad.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        is_sigstore(&e, |s| matches!(
            s,
            SvError::TransparencyLog(TransparencyLogError::InclusionProof(_))
        )),
        "{e}"
    );
    // A checkpoint that is not signed by the log.
    let mut unsigned = b.clone();
    let other_log = Sigstore::new();
    let body = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        b.entries[0]["canonicalizedBody"].as_str().unwrap(),
    )
    .unwrap();
    let forged = other_log.log(&body, "hashedrekord", "0.0.1", now() - 3600, 42);
    unsigned.entries[0]["inclusionProof"]["checkpoint"] =
        forged["inclusionProof"]["checkpoint"].clone();
    let e = verify(&s.root(), &unsigned.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        is_sigstore(&e, |s| matches!(s, SvError::TransparencyLog(_))),
        "{e}"
    );
    // A log key whose validity starts after the entry was integrated.
    let later = TrustRoot::from_json(
        s.trusted_root_json_with_tlog_start("2099-01-01T00:00:00Z")
            .as_bytes(),
        "later",
    )
    .unwrap();
    let e = verify(&later, &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        e.to_string()
            .contains("no log key valid at integrated time"),
        "{e}"
    );
    // Without the SET, the integrated time is still checked against the key's validity.
    let no_set = {
        let mut c = b.clone();
        c.entries[0]
            .as_object_mut()
            .unwrap()
            .remove("inclusionPromise");
        c
    };
    verify(&s.root(), &no_set.json(), &[key_signer(&key, "k")]).unwrap();
    let start = jiff::Timestamp::from_second(now() - 1800)
        .unwrap()
        .to_string();
    let recent = TrustRoot::from_json(
        s.trusted_root_json_with_tlog_start(&start).as_bytes(),
        "recent",
    )
    .unwrap();
    let e = verify(&recent, &no_set.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        is_sigstore(&e, |s| matches!(
            s,
            SvError::TransparencyLog(TransparencyLogError::IntegratedTime(_))
        )),
        "{e}"
    );
    let e = verify(&recent, &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        e.to_string()
            .contains("no log key valid at integrated time"),
        "{e}"
    );
    // Another log's root.
    let other = Sigstore::new();
    assert!(verify(&other.root(), &b.json(), &[key_signer(&key, "k")]).is_err());
}

// ----- P-384 / P-521, certificate-signed ----------------------------------------------

fn cert_bundle(s: &Sigstore, curve: Curve, san: &San) -> (MessageBundle, Key) {
    let key = Key::new(curve);
    let cert = s.issue(&key, san, support::ISSUER, now() - 3700);
    (s.message_bundle(&key, Material::Cert(cert), ARTIFACT), key)
}

#[test]
fn p384_and_p521_certificate_bundles_verify() {
    let s = Sigstore::new();
    for curve in [Curve::P384, Curve::P521] {
        let (b, _) = cert_bundle(&s, curve, &San::Uri(uri()));
        let v = verify(&s.root(), &b.json(), &[uri_policy()])
            .unwrap_or_else(|e| panic!("{curve:?}: {e}"));
        assert!(
            v.certificate_verified && v.log_verified && v.inclusion_proof_verified,
            "{v:?}"
        );
        match &v.signer {
            latch_sigstore::SignerInfo::Certificate { identity, issuer } => {
                assert_eq!(identity.as_deref(), Some(uri().as_str()));
                assert_eq!(issuer.as_deref(), Some(support::ISSUER));
            }
            other => panic!("{other:?}"),
        }
        // v0.1 with a chain and only a SET.
        let mut v01 = b.clone().without_proofs();
        v01.version = "0.1";
        verify(&s.root(), &v01.json(), &[uri_policy()]).unwrap();
    }
}

#[test]
fn p384_certificate_bundles_are_refused_for_the_wrong_identity_ca_or_time() {
    let s = Sigstore::new();
    let (b, _) = cert_bundle(&s, Curve::P384, &San::Uri(uri()));
    let wrong = Signer::Identity(IdentityPolicy::new(
        support::ISSUER,
        SanMatcher::exact("https://ci.latch.test/other@refs/heads/main"),
    ));
    let e = verify(&s.root(), &b.json(), &[wrong]).unwrap_err();
    assert_eq!(e.failed_claim(), Some("certificate identity (SAN)"), "{e}");
    // Another CA.
    let other = Sigstore::new();
    assert!(verify(&other.root(), &b.json(), &[uri_policy()]).is_err());
    // Logged after the certificate expired.
    let key = Key::new(Curve::P384);
    let cert = s.issue(&key, &San::Uri(uri()), support::ISSUER, now() - 7200);
    let late = s.message_bundle(&key, Material::Cert(cert), ARTIFACT);
    let e = verify(&s.root(), &late.json(), &[uri_policy()]).unwrap_err();
    assert!(
        e.to_string().contains("not after") || e.to_string().contains("notAfter"),
        "{e}"
    );
    // A key bundle's entry for a certificate-signed bundle (the entry names the key).
    let (mut b2, key2) = cert_bundle(&s, Curve::P384, &San::Uri(uri()));
    b2.entries = vec![s.hashedrekord_entry(
        &Material::Key(key2.spki()),
        &Logged {
            algorithm: "sha384".into(),
            digest: hash("sha384", ARTIFACT),
            signature: b2.signature.clone(),
            integrated_time: now() - 3600,
            log_index: 42,
        },
    )];
    assert!(verify(&s.root(), &b2.json(), &[uri_policy()]).is_err());
}

// ----- otherName (username) SANs ------------------------------------------------------

#[test]
fn an_othername_san_matches_exact_and_regex_policies() {
    let s = Sigstore::new();
    for curve in [Curve::P256, Curve::P384] {
        let (b, _) = cert_bundle(&s, curve, &San::Username("foo!oidc.local".into()));
        for policy in [
            username_policy(SanMatcher::exact("foo!oidc.local")),
            username_policy(SanMatcher::regex("[a-z]+!oidc\\.local").unwrap()),
        ] {
            let v = verify(&s.root(), &b.json(), &[policy])
                .unwrap_or_else(|e| panic!("{curve:?}: {e}"));
            assert!(
                v.claims
                    .iter()
                    .any(|(k, v)| k == "certificate identity (SAN)" && v == "foo!oidc.local"),
                "{:?}",
                v.claims
            );
            match &v.signer {
                latch_sigstore::SignerInfo::Certificate { identity, .. } => {
                    assert_eq!(identity.as_deref(), Some("foo!oidc.local"))
                }
                other => panic!("{other:?}"),
            }
        }
        // Another username, and a prefix of this one, are refused and name what was found.
        for policy in [
            username_policy(SanMatcher::exact("bar!oidc.local")),
            username_policy(SanMatcher::regex("foo").unwrap()),
        ] {
            let e = verify(&s.root(), &b.json(), &[policy]).unwrap_err();
            assert_eq!(e.failed_claim(), Some("certificate identity (SAN)"), "{e}");
            assert!(e.to_string().contains("found foo!oidc.local"), "{e}");
        }
    }
}

// ----- the same log entry twice -------------------------------------------------------

#[test]
fn a_bundle_listing_one_log_entry_twice_is_refused() {
    let s = Sigstore::new();
    for curve in [Curve::P256, Curve::P384] {
        let key = Key::new(curve);
        let b = key_bundle(&s, &key);
        verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap();
        // Two identical entries.
        let mut twice = b.clone();
        twice.entries.push(b.entries[0].clone());
        let e = verify(&s.root(), &twice.json(), &[key_signer(&key, "k")]).unwrap_err();
        match &e {
            Error::DuplicateLogEntry {
                log_id, log_index, ..
            } => {
                assert_eq!(*log_index, 42);
                assert_eq!(log_id, &support::hex(&s.log_id()));
            }
            other => panic!("{curve:?}: {other}"),
        }
        assert!(e.to_string().contains("twice"), "{curve:?}: {e}");
        // The same log and index, the second copy without its SET (each verifies alone).
        let mut same = b.clone();
        let mut copy = b.entries[0].clone();
        copy.as_object_mut().unwrap().remove("inclusionPromise");
        same.entries.push(copy);
        let e = verify(&s.root(), &same.json(), &[key_signer(&key, "k")]).unwrap_err();
        assert!(
            matches!(e, Error::DuplicateLogEntry { .. }),
            "{curve:?}: {e}"
        );
        // The same body listed again at another index (a relabelled copy) is the same
        // entry: refused too.
        let mut two = b.clone();
        let material = two.material.clone();
        two.entries.push(s.hashedrekord_entry(
            &material,
            &Logged {
                algorithm: curve_hash(curve).into(),
                digest: hash(curve_hash(curve), ARTIFACT),
                signature: b.signature.clone(),
                integrated_time: now() - 3500,
                log_index: 43,
            },
        ));
        let e = verify(&s.root(), &two.json(), &[key_signer(&key, "k")]).unwrap_err();
        assert!(
            matches!(e, Error::DuplicateLogEntry { .. }),
            "{curve:?}: {e}"
        );
    }
    // A certificate-signed bundle too.
    let (b, _) = cert_bundle(&s, Curve::P256, &San::Uri(uri()));
    let mut twice = b.clone();
    twice.entries.push(b.entries[0].clone());
    let e = verify(&s.root(), &twice.json(), &[uri_policy()]).unwrap_err();
    assert!(matches!(e, Error::DuplicateLogEntry { .. }), "{e}");
}

fn curve_hash(curve: Curve) -> &'static str {
    curve.hash()
}

// ----- what sigstore-verify still verifies --------------------------------------------

#[test]
fn a_p256_entry_must_say_sha256() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P256);
    let mut b = key_bundle(&s, &key);
    verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap();
    // sigstore-verify compares the value as a SHA-256 whatever the entry says.
    let material = b.material.clone();
    b.entries = vec![s.hashedrekord_entry(
        &material,
        &Logged {
            algorithm: "sha512".into(),
            digest: hash("sha256", ARTIFACT),
            signature: b.signature.clone(),
            integrated_time: now() - 3600,
            log_index: 42,
        },
    )];
    let e = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        matches!(&e, Error::LogEntryMismatch { field, found, .. }
            if field == "hash algorithm" && found == "sha512"),
        "{e}"
    );
}

// ----- Rekor v2 -------------------------------------------------------------------------

#[test]
fn a_p384_key_signed_bundle_in_rekor_v2_verifies() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P384);
    let signature = key.sign(ARTIFACT);
    let entry = |details: &str| {
        s.log_v2(&support::hashedrekord_v2(
            "SHA2_384",
            &hash("sha384", ARTIFACT),
            &signature,
            &key.spki(),
            details,
        ))
    };
    let mut b = key_bundle(&s, &key);
    b.signature = signature.clone();
    b.entries = vec![entry("PKIX_ECDSA_P384_SHA_384")];
    let v = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap();
    assert!(v.log_verified && v.inclusion_proof_verified, "{v:?}");
    // A Rekor v2 entry has no SET: its index, log id and time are not reported as
    // evidence (the checkpoint that authenticates the proof is not tied to them).
    assert!(v.log_entries.is_empty(), "{:?}", v.log_entries);
    b.entries = vec![entry("PKIX_ECDSA_P256_SHA_256")];
    let e = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(
        matches!(&e, Error::LogEntryMismatch { field, .. } if field == "key details"),
        "{e}"
    );
}

/// The log index, log id and integration time of an entry whose SET was removed are the
/// attacker's to write (its inclusion proof covers only the body): they are never
/// reported as evidence, so no rollback ratchet can be moved with them. For P-256
/// (sigstore-verify's path) and P-384 (Latch's own).
#[test]
fn an_entry_without_its_set_reports_no_forgeable_index_or_time() {
    let s = Sigstore::new();
    for curve in [Curve::P256, Curve::P384] {
        let key = Key::new(curve);
        let mut b = key_bundle(&s, &key);
        let genuine = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap();
        assert_eq!(genuine.max_log_index(), Some(42), "{curve:?}");
        let entry = b.entries[0].as_object_mut().unwrap();
        entry.remove("inclusionPromise");
        entry.insert("integratedTime".into(), serde_json::json!("4102444800"));
        entry.insert("logIndex".into(), serde_json::json!("999999999"));
        let v = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap();
        assert!(v.log_verified, "{curve:?}: the proof still verifies");
        assert!(v.log_entries.is_empty(), "{curve:?}: {:?}", v.log_entries);
        assert_eq!(v.max_log_index(), None);
        assert!(
            !v.signed_times.contains(&4_102_444_800),
            "{curve:?}: {:?}",
            v.signed_times
        );
    }
}

/// More log entries than sigstore-go allows are refused before anything is verified.
#[test]
fn a_bundle_with_too_many_log_entries_is_refused() {
    let s = Sigstore::new();
    let key = Key::new(Curve::P256);
    let mut b = key_bundle(&s, &key);
    let first = b.entries[0].clone();
    for i in 0..40 {
        let mut e = first.clone();
        e["logIndex"] = serde_json::json!((1000 + i).to_string());
        e["canonicalizedBody"] = serde_json::json!(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("entry {i}")
        ));
        b.entries.push(e);
    }
    let e = verify(&s.root(), &b.json(), &[key_signer(&key, "k")]).unwrap_err();
    assert!(e.to_string().contains("more than the 32 allowed"), "{e}");
}
