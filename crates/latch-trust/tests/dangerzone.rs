//! Real cosign signatures with real Rekor SETs (Dangerzone's test assets, read from
//! `../shared/testdata/dangerzone`): valid ones verify, invalid and tampered ones are
//! refused for the specific reason, and every single mutation of a valid one is refused.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{
    DZ_REPO, DZ_STORE_ID, Dz, NOW, REKOR_LOG_ID, Signer, TestLog, accepts, distinct_signers,
    rejects,
};
use latch_oci::{Descriptor, Digest, ImageManifest, Reference, media_types};
use latch_trust::{
    BundleError, Candidate, Checked, Outcome, Policy, Rejection, RekorBundle, RekorError,
    Signature, SignatureParseError, TlogMode, parse_cosign_download, signatures_from_manifest,
    to_cosign_download_list, verify,
};
use serde_json::Value;

fn dz() -> Option<Dz> {
    common::testdata().map(Dz::new)
}

/// The first rejection of a verification in which every signature must be rejected.
fn only_rejection(policy: &Policy, digest: &Digest, sigs: &[Candidate], now: i64) -> Rejection {
    let checked = rejects(policy, digest, sigs, now);
    let (index, reason) = checked.rejected().next().expect("at least one signature");
    assert_eq!(index, 0);
    reason.clone()
}

fn refuse_one(policy: &Policy, digest: &Digest, sig: Signature) -> Rejection {
    only_rejection(policy, digest, &[Ok(sig)], NOW)
}

#[test]
fn key_identities_match_the_store_layout() {
    let Some(dz) = dz() else { return };
    assert_eq!(dz.test_key().store_id(), DZ_STORE_ID);
    assert_eq!(dz.rekor_key().log_id(), REKOR_LOG_ID);
    assert_ne!(
        dz.key("freedomofpress-dangerzone.pub").log_id(),
        dz.test_key().log_id()
    );
}

#[test]
fn the_five_valid_files_verify() {
    let Some(dz) = dz() else { return };
    let files = dz.files("valid");
    assert_eq!(files.len(), 5);
    for (digest, file) in files {
        let sigs = dz.signatures(&file);
        let checked: Checked =
            verify(&dz.policy(), &digest, &sigs, NOW).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!sigs.is_empty(), "{file}");
        assert!(checked.all_accepted(), "{file}: {checked:?}");
        assert_eq!(distinct_signers(&checked), 1);
        assert_eq!(checked.accepted_by(dz.test_key().log_id()), sigs.len());
        for a in checked.accepted() {
            assert_eq!(a.key_store_id, DZ_STORE_ID);
            assert_eq!(a.key_log_id, dz.test_key().log_id());
            let t = a.tlog.as_ref().unwrap();
            assert_eq!(t.log_id, REKOR_LOG_ID);
            assert!(t.log_index > 160_000_000);
        }
        let max = checked
            .accepted()
            .filter_map(|a| a.tlog.as_ref())
            .map(|t| t.log_index)
            .max();
        assert_eq!(checked.max_log_index, max);
        // The outcomes serialise for `--json`.
        let json = serde_json::to_value(&checked).unwrap();
        assert_eq!(json["outcomes"][0]["accepted"], Value::Bool(true));
    }
}

#[test]
fn the_19e8_signature_gives_the_documented_coordinates() {
    let Some(dz) = dz() else { return };
    let (digest, sig) = dz.valid_19e8();
    let checked = accepts(&dz.policy(), &digest, &[Ok(sig)], NOW);
    let a = checked.accepted().next().unwrap();
    let t = a.tlog.as_ref().unwrap();
    assert_eq!(t.log_index, 168_898_587);
    assert_eq!(t.integrated_time, 1_738_752_154);
    assert_eq!(a.docker_reference, DZ_REPO);
    assert_eq!(a.payload.manifest_digest(), &digest);
    assert_eq!(a.payload.optional(), None);
    assert_eq!(checked.max_log_index, Some(168_898_587));
}

#[test]
fn fa94_max_log_index_is_over_its_three_signatures() {
    let Some(dz) = dz() else { return };
    let (digest, file) = dz
        .files("valid")
        .into_iter()
        .find(|(d, _)| d.hex().starts_with("fa94"))
        .unwrap();
    let checked = accepts(&dz.policy(), &digest, &dz.signatures(&file), NOW);
    assert_eq!(checked.outcomes.len(), 3);
    assert_eq!(checked.accepted_by(dz.test_key().log_id()), 3);
    assert_eq!(checked.max_log_index, Some(164_484_602));
}

#[test]
fn repository_policy_separates_the_fixture_repositories() {
    let Some(dz) = dz() else { return };
    let policy = Policy::builder()
        .key(dz.test_key())
        .rekor_key(dz.rekor_key())
        .repository(Reference::parse(&format!("{DZ_REPO}:latest")).unwrap())
        .build()
        .unwrap();
    for (digest, file) in dz.files("valid") {
        let sigs = dz.signatures(&file);
        if digest.hex().starts_with("4da4") {
            // Signed for ghcr.io/apyrgio/dangerzone/dangerzone.
            match only_rejection(&policy, &digest, &sigs, NOW) {
                Rejection::RepositoryMismatch { expected, found } => {
                    assert_eq!(expected, DZ_REPO);
                    assert_eq!(found, "ghcr.io/apyrgio/dangerzone/dangerzone");
                }
                other => panic!("{other:?}"),
            }
        } else {
            accepts(&policy, &digest, &sigs, NOW);
        }
    }
    // Dangerzone's production image name is not the fixtures' repository.
    let prod = String::from_utf8(dz.read("image-name.txt")).unwrap();
    let policy = Policy::builder()
        .key(dz.test_key())
        .rekor_key(dz.rekor_key())
        .repository(Reference::parse(prod.trim()).unwrap())
        .build()
        .unwrap();
    let (digest, sig) = dz.valid_19e8();
    assert!(matches!(
        refuse_one(&policy, &digest, sig),
        Rejection::RepositoryMismatch { .. }
    ));
}

#[test]
fn integrated_time_is_checked_against_now() {
    let Some(dz) = dz() else { return };
    let (digest, sig) = dz.valid_19e8();
    let t = 1_738_752_154;
    accepts(&dz.policy(), &digest, &[Ok(sig.clone())], t);
    match only_rejection(&dz.policy(), &digest, &[Ok(sig.clone())], t - 1) {
        Rejection::Rekor(RekorError::IntegratedTimeInFuture {
            integrated_time,
            now,
            skew_secs: 0,
        }) => assert_eq!((integrated_time, now), (t, t - 1)),
        other => panic!("{other:?}"),
    }
    let lenient = Policy::builder()
        .key(dz.test_key())
        .rekor_key(dz.rekor_key())
        .clock_skew_secs(60)
        .build()
        .unwrap();
    accepts(&lenient, &digest, &[Ok(sig)], t - 60);
}

#[test]
fn the_four_invalid_files_are_refused_for_their_fault() {
    let Some(dz) = dz() else { return };
    let files = dz.files("invalid");
    assert_eq!(files.len(), 4);
    for (digest, file) in files {
        let sigs = parse_cosign_download(&dz.read(&file)).unwrap();
        assert_eq!(sigs.len(), 1);
        let err = sigs[0].clone().expect_err(&file);
        let expected_field = match &digest.hex()[..4] {
            "19e8" => "Base64Signature",
            "220b" => "Payload",
            "4da4" => "SignedEntryTimestamp",
            "7b21" => "Payload.body",
            other => panic!("unexpected fixture {other}"),
        };
        let field = match &err {
            SignatureParseError::BadBase64 { field, .. } => *field,
            SignatureParseError::Bundle(BundleError::BadBase64 { field, .. }) => *field,
            other => panic!("{file}: {other:?}"),
        };
        assert_eq!(field, expected_field, "{file}");
        let reason = only_rejection(&dz.policy(), &digest, &sigs, NOW);
        assert_eq!(reason, Rejection::Malformed(err.clone()));
        assert_eq!(reason.check(), "malformed");
        assert!(reason.to_string().contains(expected_field), "{reason}");
        // The outcome printed for the signature names the signature and the field.
        let checked = verify(&dz.policy(), &digest, &sigs, NOW).unwrap();
        let shown = checked.outcomes[0].to_string();
        assert!(
            shown.starts_with("signature 0: refused (malformed)"),
            "{shown}"
        );
        assert!(shown.contains(expected_field), "{shown}");
    }
}

#[test]
fn the_two_tampered_files_are_refused_for_their_fault() {
    let Some(dz) = dz() else { return };
    let files = dz.files("tampered");
    assert_eq!(files.len(), 2);
    for (digest, file) in files {
        let sigs = dz.signatures(&file);
        let sig = sigs[0].clone().unwrap();
        // Well-formed, but the signature does not cover what is delivered.
        assert_eq!(
            only_rejection(&dz.policy(), &digest, &sigs, NOW),
            Rejection::SignatureNotVerified,
            "{file}"
        );
        let bundle = sig.bundle().unwrap();
        let key = dz.test_key();
        let bundle_alone = bundle.verify(
            sig.payload(),
            sig.signature(),
            &key,
            &[dz.rekor_key()],
            NOW,
            0,
        );
        if digest.hex().starts_with("220b") {
            // Payload rewritten for another repository, body rewritten to apiVersion 6.6.6:
            // the SET no longer verifies either.
            assert!(String::from_utf8_lossy(sig.payload()).contains("h4xx0r"));
            assert_eq!(
                bundle_alone,
                Err(RekorError::SetInvalid {
                    log_id: REKOR_LOG_ID.into()
                })
            );
        } else {
            // Only the signature was altered: the log entry still verifies, and logs the
            // original signature, not this one.
            assert_eq!(bundle_alone, Err(RekorError::SignatureMismatch));
        }
    }
}

#[test]
fn valid_files_are_refused_with_the_wrong_signing_key() {
    let Some(dz) = dz() else { return };
    let policy = Policy::builder()
        .key(dz.key("freedomofpress-dangerzone.pub"))
        .rekor_key(dz.rekor_key())
        .build()
        .unwrap();
    for (digest, file) in dz.files("valid") {
        let sigs = dz.signatures(&file);
        let checked = rejects(&policy, &digest, &sigs, NOW);
        assert_eq!(
            distinct_signers(&checked),
            0,
            "{file} accepted with the wrong key"
        );
        assert_eq!(checked.accepted_by(dz.test_key().log_id()), 0);
        assert!(
            checked
                .rejected()
                .all(|(_, r)| *r == Rejection::SignatureNotVerified),
            "{checked:?}"
        );
    }
}

#[test]
fn valid_files_are_refused_with_a_rekor_key_that_did_not_sign() {
    let Some(dz) = dz() else { return };
    let other_log = TestLog::new();
    for pinned in [other_log.key(), dz.key("freedomofpress-dangerzone.pub")] {
        let policy = Policy::builder()
            .key(dz.test_key())
            .rekor_key(pinned)
            .build()
            .unwrap();
        for (digest, file) in dz.files("valid") {
            let sigs = dz.signatures(&file);
            match only_rejection(&policy, &digest, &sigs, NOW) {
                Rejection::Rekor(RekorError::UnknownLogId { log_id }) => {
                    assert_eq!(log_id, REKOR_LOG_ID)
                }
                other => panic!("{file}: {other:?}"),
            }
        }
    }
    // Several pinned keys (rotation): the one with the bundle's logID is used.
    let policy = Policy::builder()
        .key(dz.test_key())
        .rekor_key(other_log.key())
        .rekor_key(dz.rekor_key())
        .build()
        .unwrap();
    let (digest, sig) = dz.valid_19e8();
    let v = accepts(&policy, &digest, &[Ok(sig)], NOW);
    assert_eq!(v.max_log_index, Some(168_898_587));
}

#[test]
fn tlog_modes_on_real_signatures() {
    let Some(dz) = dz() else { return };
    let (digest, sig) = dz.valid_19e8();
    let mut unlogged = Signature::new(sig.payload().to_vec(), sig.signature().to_vec()).unwrap();
    let with = |mode| {
        Policy::builder()
            .key(dz.test_key())
            .rekor_key(dz.rekor_key())
            .tlog(mode)
            .build()
            .unwrap()
    };
    assert_eq!(
        refuse_one(&with(TlogMode::Required), &digest, unlogged.clone()),
        Rejection::MissingTlogEntry
    );
    let v = accepts(
        &with(TlogMode::Optional),
        &digest,
        &[Ok(unlogged.clone())],
        NOW,
    );
    assert_eq!(v.max_log_index, None);
    let v = accepts(&with(TlogMode::Optional), &digest, &[Ok(sig.clone())], NOW);
    assert_eq!(v.max_log_index, Some(168_898_587));
    // Optional: a present but invalid bundle rejects the signature.
    let b = sig.bundle().unwrap();
    let bad = RekorBundle::new(
        b.signed_entry_timestamp().to_vec(),
        b.body().to_vec(),
        b.integrated_time(),
        b.log_index() + 1,
        b.log_id(),
    );
    unlogged = unlogged.with_bundle(bad);
    assert!(matches!(
        refuse_one(&with(TlogMode::Optional), &digest, unlogged.clone()),
        Rejection::Rekor(RekorError::SetInvalid { .. })
    ));
    // Ignored: the bundle is not looked at.
    let ignored = Policy::builder()
        .key(dz.test_key())
        .tlog(TlogMode::Ignored)
        .build()
        .unwrap();
    let v = accepts(&ignored, &digest, &[Ok(unlogged)], NOW);
    assert_eq!(v.max_log_index, None);
    assert_eq!(v.accepted().next().unwrap().tlog, None);
}

#[test]
fn store_format_round_trips() {
    let Some(dz) = dz() else { return };
    for (digest, file) in dz.files("valid") {
        let original = dz.read(&file);
        let sigs: Vec<Signature> = parse_cosign_download(&original)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let written = to_cosign_download_list(&sigs);
        // Same JSON as Dangerzone stored (it used Python's separators; we write Go's).
        let a: Value = serde_json::from_slice(&original).unwrap();
        let b: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(a, b, "{file}");
        for entry in b.as_array().unwrap() {
            let keys: Vec<&str> = entry
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            for k in [
                "Base64Signature",
                "Payload",
                "Cert",
                "Chain",
                "Bundle",
                "RFC3161Timestamp",
            ] {
                assert!(keys.contains(&k), "{k} missing");
            }
        }
        let again: Vec<Signature> = parse_cosign_download(written.as_bytes())
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(again, sigs);
        // One object per line, as `cosign download signature` prints them.
        let lines: String = sigs.iter().map(|s| s.to_cosign_json() + "\n").collect();
        let from_lines: Vec<Signature> = parse_cosign_download(lines.as_bytes())
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(from_lines, sigs);
        // Cosign's field order, no whitespace.
        assert!(
            sigs[0]
                .to_cosign_json()
                .starts_with("{\"Base64Signature\":\"")
        );
        let one = sigs[0].to_cosign_json();
        assert!(
            one.contains("\",\"Cert\":null,\"Chain\":null,\"Bundle\":{\"SignedEntryTimestamp\":\""),
            "{one}"
        );
        assert!(one.contains("\",\"Payload\":{\"body\":\""), "{one}");
        assert!(one.ends_with("\"}},\"RFC3161Timestamp\":null}"), "{one}");
        accepts(
            &dz.policy(),
            &digest,
            &parse_cosign_download(written.as_bytes()).unwrap(),
            NOW,
        );
    }
}

#[test]
fn sig_manifest_layers_round_trip_and_verify() {
    let Some(dz) = dz() else { return };
    let (digest, file) = dz
        .files("valid")
        .into_iter()
        .find(|(d, _)| d.hex().starts_with("fa94"))
        .unwrap();
    let sigs: Vec<Signature> = dz
        .signatures(&file)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut layers = Vec::new();
    let mut blobs = Vec::new();
    for s in &sigs {
        let (d, blob) = s.to_layer();
        assert_eq!(d.media_type, media_types::COSIGN_SIMPLE_SIGNING);
        assert_eq!(Signature::from_layer(&d, &blob).unwrap(), *s);
        layers.push(d.clone());
        blobs.push((d, blob));
    }
    // Junk appended by someone else: a layer of another type, and one with no blob.
    let junk = Descriptor::for_bytes("application/octet-stream", b"junk");
    layers.push(junk.clone());
    blobs.push((junk, b"junk".to_vec()));
    let orphan = Descriptor::for_bytes(media_types::COSIGN_SIMPLE_SIGNING, b"{}");
    layers.push(orphan);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::for_bytes(media_types::OCI_CONFIG, b"{}"),
        layers,
        subject: None,
        annotations: None,
    };
    let candidates = signatures_from_manifest(&manifest, &blobs).unwrap();
    assert_eq!(candidates.len(), 5);
    assert!(matches!(
        candidates[3],
        Err(SignatureParseError::WrongMediaType { .. })
    ));
    assert!(matches!(
        candidates[4],
        Err(SignatureParseError::MissingBlob { .. })
    ));
    let checked = verify(&dz.policy(), &digest, &candidates, NOW).unwrap();
    assert_eq!(checked.accepted().count(), 3);
    assert_eq!(checked.accepted_by(dz.test_key().log_id()), 3);
    assert_eq!(checked.rejected().count(), 2);
    assert!(!checked.all_accepted());
    assert_eq!(checked.max_log_index, Some(164_484_602));
    let text: Vec<String> = checked.outcomes.iter().map(Outcome::to_string).collect();
    assert!(
        text[3].starts_with("signature 3: refused (malformed)"),
        "{}",
        text[3]
    );
}

#[test]
fn a_signature_moved_to_another_image_is_refused() {
    let Some(dz) = dz() else { return };
    let (_, sig) = dz.valid_19e8();
    let other = dz.files("valid")[1].0.clone();
    match refuse_one(&dz.policy(), &other, sig) {
        Rejection::DigestMismatch { expected, found } => {
            assert_eq!(expected, other);
            assert!(found.hex().starts_with("19e8"));
        }
        r => panic!("{r:?}"),
    }
}

// ---- Mutations of a valid signature, one at a time -------------------------------------

fn body_text(sig: &Signature) -> String {
    String::from_utf8(sig.bundle().unwrap().body().to_vec()).unwrap()
}

/// A bundle's parts: SET, body, integratedTime, logIndex, logID.
type Parts = (Vec<u8>, Vec<u8>, i64, i64, String);
type Mutation<'a> = Box<dyn Fn(&mut Parts) + 'a>;

/// The same signature with a bundle rebuilt from `f(parts)`, keeping the real SET.
fn with_bundle_parts(sig: &Signature, f: impl FnOnce(&mut Parts)) -> Signature {
    let b = sig.bundle().unwrap();
    let mut parts = (
        b.signed_entry_timestamp().to_vec(),
        b.body().to_vec(),
        b.integrated_time(),
        b.log_index(),
        b.log_id().to_owned(),
    );
    f(&mut parts);
    let (set, body, t, i, id) = parts;
    Signature::new(sig.payload().to_vec(), sig.signature().to_vec())
        .unwrap()
        .with_bundle(RekorBundle::new(set, body, t, i, id))
}

#[test]
fn mutations_of_a_real_signature_are_each_refused() {
    let Some(dz) = dz() else { return };
    let (digest, sig) = dz.valid_19e8();
    let policy = dz.policy();
    accepts(&policy, &digest, &[Ok(sig.clone())], NOW);

    // The signature bytes.
    let mut s = sig.signature().to_vec();
    s[10] ^= 1;
    let m = Signature::new(sig.payload().to_vec(), s)
        .unwrap()
        .with_bundle(sig.bundle().unwrap().clone());
    assert_eq!(
        refuse_one(&policy, &digest, m),
        Rejection::SignatureNotVerified
    );

    // The payload's digest, edited in the payload: the signature no longer covers it.
    let text = String::from_utf8(sig.payload().to_vec()).unwrap();
    let edited = text.replace("sha256:19e8", "sha256:29e8");
    let m = Signature::new(edited.into_bytes(), sig.signature().to_vec()).unwrap();
    assert_eq!(
        refuse_one(&policy, &digest, m),
        Rejection::SignatureNotVerified
    );

    // The docker-reference, edited in the payload.
    let edited = text.replace("almet", "evil0");
    let m = Signature::new(edited.into_bytes(), sig.signature().to_vec()).unwrap();
    assert_eq!(
        refuse_one(&policy, &digest, m),
        Rejection::SignatureNotVerified
    );

    // The SET.
    let m = with_bundle_parts(&sig, |p| p.0[12] ^= 1);
    assert_eq!(
        refuse_one(&policy, &digest, m),
        Rejection::Rekor(RekorError::SetInvalid {
            log_id: REKOR_LOG_ID.into()
        })
    );
    // The body's hash, the body's key, the log index, the integrated time: all under the
    // SET, so each breaks it.
    let body = body_text(&sig);
    let hash = "f21042ccdc8e4f05da36a9f588892aedde363e46eccdfc3c2702190d54a7ffee";
    assert!(body.contains(hash));
    let other_key = STANDARD.encode(Signer::p256().pem());
    let key_b64 =
        serde_json::from_str::<Value>(&body).unwrap()["spec"]["signature"]["publicKey"]["content"]
            .as_str()
            .unwrap()
            .to_owned();
    let mutations: Vec<Mutation> = vec![
        Box::new(|p| p.1 = body.replace(hash, &"0".repeat(64)).into_bytes()),
        Box::new(|p| p.1 = body.replace(&key_b64, &other_key).into_bytes()),
        Box::new(|p| p.3 += 1),
        Box::new(|p| p.2 -= 1),
    ];
    for (i, mutate) in mutations.into_iter().enumerate() {
        let m = with_bundle_parts(&sig, mutate);
        assert_eq!(
            refuse_one(&policy, &digest, m),
            Rejection::Rekor(RekorError::SetInvalid {
                log_id: REKOR_LOG_ID.into()
            }),
            "mutation {i}"
        );
    }
    // The log id.
    let m = with_bundle_parts(&sig, |p| p.4 = "0".repeat(64));
    assert_eq!(
        refuse_one(&policy, &digest, m),
        Rejection::Rekor(RekorError::UnknownLogId {
            log_id: "0".repeat(64)
        })
    );
}

/// The same mutations, with the SET re-signed by a pinned test log, so that each reaches
/// the check behind the SET: what a compromised or buggy log could present.
#[test]
fn mutations_behind_a_valid_set_are_each_refused_by_their_own_check() {
    let Some(dz) = dz() else { return };
    let (digest, sig) = dz.valid_19e8();
    let log = TestLog::new();
    let policy = Policy::builder()
        .key(dz.test_key())
        .rekor_key(log.key())
        .build()
        .unwrap();
    let real = sig.bundle().unwrap();
    let body = body_text(&sig);
    let resigned = |body: String, t: i64, i: i64, id: &str| {
        Signature::new(sig.payload().to_vec(), sig.signature().to_vec())
            .unwrap()
            .with_bundle(log.sign_bundle(body.into_bytes(), t, i, id))
    };
    let (t, i, id) = (real.integrated_time(), real.log_index(), log.log_id());
    // Unchanged but re-signed: accepted, so each refusal below is the mutation's doing.
    let ok = accepts(
        &policy,
        &digest,
        &[Ok(resigned(body.clone(), t, i, &id))],
        NOW,
    );
    assert_eq!(ok.max_log_index, Some(i as u64));
    // A different (signed) index is what is reported.
    let v = accepts(
        &policy,
        &digest,
        &[Ok(resigned(body.clone(), t, 5_000_000_000, &id))],
        NOW,
    );
    assert_eq!(v.max_log_index, Some(5_000_000_000));

    let hash = "f21042ccdc8e4f05da36a9f588892aedde363e46eccdfc3c2702190d54a7ffee";
    let parsed: Value = serde_json::from_str(&body).unwrap();
    let key_b64 = parsed["spec"]["signature"]["publicKey"]["content"]
        .as_str()
        .unwrap();
    let sig_b64 = parsed["spec"]["signature"]["content"].as_str().unwrap();
    let other = Signer::p256();
    let other_sig = STANDARD.encode(other.sign(sig.payload()));

    let cases: Vec<(Signature, Rejection)> = vec![
        (
            resigned(body.replace(hash, &"0".repeat(64)), t, i, &id),
            Rejection::Rekor(RekorError::PayloadHashMismatch {
                logged: "0".repeat(64),
                actual: hash.into(),
            }),
        ),
        (
            resigned(body.replace("\"sha256\"", "\"sha512\""), t, i, &id),
            Rejection::Rekor(RekorError::UnsupportedHashAlgorithm {
                algorithm: "sha512".into(),
            }),
        ),
        (
            resigned(
                body.replace(key_b64, &STANDARD.encode(other.pem())),
                t,
                i,
                &id,
            ),
            Rejection::Rekor(RekorError::KeyMismatch {
                key_log_id: dz.test_key().log_id().into(),
            }),
        ),
        (
            resigned(
                body.replace(key_b64, &STANDARD.encode("not a key")),
                t,
                i,
                &id,
            ),
            Rejection::Rekor(RekorError::BodyKeyUnreadable {
                source: latch_trust::KeyError::NotPem {
                    reason: "no -----BEGIN line",
                },
            }),
        ),
        (
            resigned(body.replace(sig_b64, &other_sig), t, i, &id),
            Rejection::Rekor(RekorError::SignatureMismatch),
        ),
        (
            resigned(body.replace("\"0.0.1\"", "\"0.0.2\""), t, i, &id),
            Rejection::Rekor(RekorError::UnsupportedEntry {
                kind: "hashedrekord".into(),
                api_version: "0.0.2".into(),
            }),
        ),
        (
            resigned(body.replace("hashedrekord", "intoto"), t, i, &id),
            Rejection::Rekor(RekorError::UnsupportedEntry {
                kind: "intoto".into(),
                api_version: "0.0.1".into(),
            }),
        ),
        (
            resigned(body.clone(), t, -1, &id),
            Rejection::Rekor(RekorError::NegativeLogIndex { log_index: -1 }),
        ),
        (
            resigned(body.clone(), NOW + 1, i, &id),
            Rejection::Rekor(RekorError::IntegratedTimeInFuture {
                integrated_time: NOW + 1,
                now: NOW,
                skew_secs: 0,
            }),
        ),
        (
            resigned(body.clone(), t, i, REKOR_LOG_ID),
            Rejection::Rekor(RekorError::UnknownLogId {
                log_id: REKOR_LOG_ID.into(),
            }),
        ),
        (
            resigned("{\"apiVersion\":".into(), t, i, &id),
            Rejection::Rekor(RekorError::BodyNotJson {
                reason: "EOF while parsing a value at line 1 column 14".into(),
            }),
        ),
    ];
    for (n, (m, expected)) in cases.into_iter().enumerate() {
        assert_eq!(refuse_one(&policy, &digest, m), expected, "case {n}");
    }
}

#[test]
fn rekord_entries_bind_too() {
    let Some(dz) = dz() else { return };
    let (digest, sig) = dz.valid_19e8();
    let log = TestLog::new();
    let policy = Policy::builder()
        .key(dz.test_key())
        .rekor_key(log.key())
        .build()
        .unwrap();
    let rekord = |format: &str| {
        format!(
            r#"{{"apiVersion":"0.0.1","kind":"rekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"f21042ccdc8e4f05da36a9f588892aedde363e46eccdfc3c2702190d54a7ffee"}}}},"signature":{{"content":"{}","format":"{format}","publicKey":{{"content":"{}"}}}}}}}}"#,
            STANDARD.encode(sig.signature()),
            STANDARD.encode(dz.read("test.pub.key")),
        )
    };
    let make = |body: String| {
        Signature::new(sig.payload().to_vec(), sig.signature().to_vec())
            .unwrap()
            .with_bundle(log.sign_bundle(body.into_bytes(), 1_700_000_000, 7, &log.log_id()))
    };
    let v = accepts(&policy, &digest, &[Ok(make(rekord("x509")))], NOW);
    assert_eq!(v.max_log_index, Some(7));
    assert_eq!(
        refuse_one(&policy, &digest, make(rekord("ssh"))),
        Rejection::Rekor(RekorError::UnsupportedRekordFormat {
            format: "ssh".into()
        })
    );
}
