//! A chain v1 → v2 → v3 followed, and every forged or broken link refused with its own
//! typed error, nothing adopted.

use latch_rotation::{
    ChainError, Envelope, Problem, RevokedEntry, Succession, TrustDocument, signing_message,
};
use latch_testkit::cosign::TestKey;
use latch_trust::PublicKey;

const REPO: &str = "ghcr.io/freedomofpress/dangerzone/v1";
const NOW: i64 = 1_800_000_000;
const YEAR: i64 = 365 * 86_400;

fn public(k: &TestKey) -> PublicKey {
    PublicKey::from_pem(k.public_pem.as_bytes()).unwrap()
}

fn pems(keys: &[&TestKey]) -> Vec<String> {
    keys.iter().map(|k| k.public_pem.clone()).collect()
}

/// `doc` in an envelope signed by `signers`.
fn sealed(doc: &TrustDocument, signers: &[&TestKey]) -> Vec<u8> {
    let payload = doc.to_bytes();
    let mut e = Envelope::new(&payload);
    for k in signers {
        e.add_signature(&k.log_id(), &k.sign(&signing_message(&payload)));
    }
    e.to_bytes()
}

struct Keys {
    a: TestKey,
    b: TestKey,
    c: TestKey,
    d: TestKey,
}

fn keys() -> Keys {
    Keys {
        a: TestKey::generate(),
        b: TestKey::generate(),
        c: TestKey::generate(),
        d: TestKey::generate(),
    }
}

/// Version 1: a and b, both needed.
fn anchor(k: &Keys) -> Succession {
    Succession::anchor(REPO, vec![public(&k.a), public(&k.b)], 2)
}

fn doc(held: &Succession, keys: &[&TestKey], threshold: usize, expires: i64) -> TrustDocument {
    TrustDocument::next_of(held, pems(keys), threshold, Vec::new(), expires)
}

fn follow(held: &Succession, links: &[&Vec<u8>]) -> Result<latch_rotation::Followed, ChainError> {
    let bytes: Vec<&[u8]> = links.iter().map(|l| l.as_slice()).collect();
    held.follow(&bytes, NOW)
}

#[test]
fn a_chain_is_followed_link_by_link_from_the_applications_keys() {
    let k = keys();
    let v1 = anchor(&k);
    // v2: b and c (c cosigns, proving it is held), one needed; a revoked.
    let mut d2 = doc(&v1, &[&k.b, &k.c], 1, NOW + YEAR);
    d2.revoked = vec![RevokedEntry {
        key: k.a.public_pem.clone(),
        distrust_after: NOW - 100,
    }];
    let l2 = sealed(&d2, &[&k.a, &k.b, &k.c]);
    let v2 = follow(&v1, &[&l2]).unwrap().succession;
    assert_eq!(
        v2.proven(),
        &[k.b.log_id(), k.c.log_id()],
        "b and c signed v2 too"
    );
    // A link signed by the old keys alone proves no new key.
    let quiet = sealed(&doc(&v1, &[&k.c], 1, NOW + YEAR), &[&k.a, &k.b]);
    assert!(
        follow(&v1, &[&quiet])
            .unwrap()
            .succession
            .proven()
            .is_empty()
    );
    // v3: d alone, signed by c (v2's threshold is 1).
    let l3 = sealed(&doc(&v2, &[&k.d], 1, NOW + YEAR), &[&k.c]);

    // Offered in any order, from version 1: both adopted.
    let f = follow(&v1, &[&l3, &l2]).unwrap();
    assert_eq!(f.adopted, vec![2, 3]);
    let s = f.succession;
    assert_eq!(s.version(), 3);
    assert_eq!(s.keys(), &[public(&k.d)]);
    assert_eq!(s.threshold(), 1);
    assert_eq!(s.expires(), Some(NOW + YEAR));
    assert_eq!(s.chain(), &[l2.clone(), l3.clone()]);
    // The revocation carries on: a's signatures count only for what was logged before.
    assert_eq!(s.revoked().len(), 1);
    assert_eq!(s.keys_at(NOW - 101), vec![&public(&k.d), &public(&k.a)]);
    assert_eq!(s.keys_at(NOW - 100), vec![&public(&k.d)]);

    // The persisted chain, followed again from version 1, gives the same trust.
    let chain: Vec<&[u8]> = s.chain().iter().map(|c| c.as_slice()).collect();
    let again = v1.follow(&chain, NOW).unwrap().succession;
    assert_eq!(again.version(), 3);
    assert_eq!(again.keys(), s.keys());

    // From version 3, the old links are ignored, not refused, and change nothing.
    let f = follow(&s, &[&l2, &l3]).unwrap();
    assert!(f.adopted.is_empty());
    assert_eq!(f.ignored, vec![2, 3]);
    assert_eq!(f.succession.version(), 3);
    assert_eq!(f.succession.keys(), &[public(&k.d)]);
}

#[test]
fn links_not_signed_by_the_held_keys_are_refused() {
    let k = keys();
    let v1 = anchor(&k);
    let d2 = doc(&v1, &[&k.c], 1, NOW + YEAR);
    // Signed by the new key alone: unknown to version 1.
    assert_eq!(
        follow(&v1, &[&sealed(&d2, &[&k.c, &k.d])]).unwrap_err(),
        ChainError::UnknownSigners {
            version: 2,
            previous: 1
        }
    );
    // One of the two keys version 1 requires.
    assert_eq!(
        follow(&v1, &[&sealed(&d2, &[&k.a, &k.c])]).unwrap_err(),
        ChainError::BelowThreshold {
            version: 2,
            previous: 1,
            signed: 1,
            threshold: 2
        }
    );
    // The same key's signature twice is one key.
    assert!(matches!(
        follow(&v1, &[&sealed(&d2, &[&k.a, &k.a])]).unwrap_err(),
        ChainError::BelowThreshold { signed: 1, .. }
    ));
    // A signature over other bytes (the payload changed after signing) counts for none.
    let l2 = sealed(&d2, &[&k.a, &k.b]);
    let mut e: Envelope = serde_json::from_slice(&l2).unwrap();
    let mut changed = d2.clone();
    changed.threshold = 1;
    changed.keys.push(k.d.public_pem.clone());
    e.payload = Envelope::new(&changed.to_bytes()).payload;
    assert!(matches!(
        follow(&v1, &[&e.to_bytes()]).unwrap_err(),
        ChainError::UnknownSigners { version: 2, .. }
    ));
    // A signature over the document without DSSE's encoding counts for none either.
    let payload = d2.to_bytes();
    let mut raw = Envelope::new(&payload);
    raw.add_signature(&k.a.log_id(), &k.a.sign(&payload));
    raw.add_signature(&k.b.log_id(), &k.b.sign(&payload));
    assert!(matches!(
        follow(&v1, &[&raw.to_bytes()]).unwrap_err(),
        ChainError::UnknownSigners { .. }
    ));
}

#[test]
fn a_revoked_key_signs_no_new_version() {
    let k = keys();
    let v1 = Succession::anchor(REPO, vec![public(&k.a), public(&k.b)], 1);
    let mut d2 = doc(&v1, &[&k.b], 1, NOW + YEAR);
    d2.revoked = vec![RevokedEntry {
        key: k.a.public_pem.clone(),
        distrust_after: NOW,
    }];
    let v2 = follow(&v1, &[&sealed(&d2, &[&k.b])]).unwrap().succession;
    // The thief of a signs a version 3 that trusts the thief's key: refused.
    let l3 = sealed(&doc(&v2, &[&k.d], 1, NOW + YEAR), &[&k.a]);
    assert!(matches!(
        follow(&v2, &[&l3]).unwrap_err(),
        ChainError::UnknownSigners { version: 3, .. }
    ));
    // Nor can a later version trust a again.
    let l3 = sealed(&doc(&v2, &[&k.a, &k.b], 1, NOW + YEAR), &[&k.b]);
    assert!(matches!(
        follow(&v2, &[&l3]).unwrap_err(),
        ChainError::Unrevoked { version: 3, .. }
    ));
    // A later revocation of the same key keeps the earliest distrust time.
    let mut d3 = doc(&v2, &[&k.b], 1, NOW + YEAR);
    d3.revoked = vec![RevokedEntry {
        key: k.a.public_pem.clone(),
        distrust_after: NOW + 1000,
    }];
    let v3 = follow(&v2, &[&sealed(&d3, &[&k.b])]).unwrap().succession;
    assert_eq!(v3.revoked()[0].distrust_after, NOW);
}

#[test]
fn gaps_forks_expiry_and_other_repositories_are_refused() {
    let k = keys();
    let v1 = Succession::anchor(REPO, vec![public(&k.a)], 1);
    let l2 = sealed(&doc(&v1, &[&k.b], 1, NOW + YEAR), &[&k.a]);
    let v2 = follow(&v1, &[&l2]).unwrap().succession;
    let l3 = sealed(&doc(&v2, &[&k.c], 1, NOW + YEAR), &[&k.b]);
    let v3 = follow(&v2, &[&l3]).unwrap().succession;
    let l4 = sealed(&doc(&v3, &[&k.d], 1, NOW + YEAR), &[&k.c]);

    // Version 3 missing.
    assert_eq!(
        follow(&v1, &[&l2, &l4]).unwrap_err(),
        ChainError::Gap { held: 2, next: 4 }
    );
    assert_eq!(
        follow(&v1, &[&l4]).unwrap_err(),
        ChainError::Gap { held: 1, next: 4 }
    );

    // Two different versions 2, both signed: the keys signed two futures.
    let other = sealed(&doc(&v1, &[&k.c], 1, NOW + YEAR), &[&k.a]);
    assert_eq!(
        follow(&v1, &[&l2, &other]).unwrap_err(),
        ChainError::Fork { version: 2 }
    );
    // The same document offered twice (with other signatures) is not a fork.
    let twice = sealed(&doc(&v1, &[&k.b], 1, NOW + YEAR), &[&k.a, &k.b]);
    assert_eq!(follow(&v1, &[&l2, &twice]).unwrap().adopted, vec![2]);
    // A forged version 2 beside the real one is passed over.
    let forged = sealed(&doc(&v1, &[&k.d], 1, NOW + YEAR), &[&k.d]);
    assert_eq!(follow(&v1, &[&forged, &l2]).unwrap().adopted, vec![2]);

    // The newest version followed has expired: refused (a freeze). An expired version
    // that a newer one replaced is fine: an installation catches up after a year.
    let old = sealed(&doc(&v1, &[&k.b], 1, NOW - 1), &[&k.a]);
    assert_eq!(
        follow(&v1, &[&old]).unwrap_err(),
        ChainError::Expired {
            version: 2,
            expires: NOW - 1,
            now: NOW
        }
    );
    let v2_old = v1.follow(&[&old], NOW - 10).unwrap().succession;
    // Adopted before it expired, it stays in force offline (restored, not re-adopted).
    let kept: Vec<&[u8]> = v2_old.chain().iter().map(|c| c.as_slice()).collect();
    assert_eq!(v1.restore(&kept).unwrap().version(), 2);
    let newer = sealed(&doc(&v2_old, &[&k.c], 1, NOW + YEAR), &[&k.b]);
    assert_eq!(follow(&v1, &[&old, &newer]).unwrap().adopted, vec![2, 3]);

    // A document for another repository.
    let mut elsewhere = doc(&v1, &[&k.b], 1, NOW + YEAR);
    elsewhere.repository = "ghcr.io/someone/else".into();
    assert!(matches!(
        follow(&v1, &[&sealed(&elsewhere, &[&k.a])]).unwrap_err(),
        ChainError::WrongRepository { version: 2, .. }
    ));
}

#[test]
fn incoherent_or_hostile_documents_are_malformed() {
    let k = keys();
    let v1 = Succession::anchor(REPO, vec![public(&k.a)], 1);
    let malformed = |d: &TrustDocument| match follow(&v1, &[&sealed(d, &[&k.a])]) {
        Err(ChainError::Malformed { problem, .. }) => problem,
        other => panic!("expected a malformed document, got {other:?}"),
    };
    let good = doc(&v1, &[&k.b], 1, NOW + YEAR);
    let mut d = good.clone();
    d.keys.clear();
    assert_eq!(malformed(&d), Problem::NoKeys);
    let mut d = good.clone();
    d.threshold = 2;
    assert_eq!(
        malformed(&d),
        Problem::Threshold {
            threshold: 2,
            keys: 1
        }
    );
    let mut d = good.clone();
    d.threshold = 0;
    assert!(matches!(malformed(&d), Problem::Threshold { .. }));
    let mut d = good.clone();
    d.keys.push(k.b.public_pem.replace('\n', "\r\n"));
    assert!(matches!(malformed(&d), Problem::DuplicateKey(_)));
    let mut d = good.clone();
    d.revoked.push(RevokedEntry {
        key: k.b.public_pem.clone(),
        distrust_after: NOW,
    });
    assert!(matches!(malformed(&d), Problem::TrustedAndRevoked(_)));
    let mut d = good.clone();
    d.keys.push("not a key".into());
    assert!(matches!(malformed(&d), Problem::Key(_)));
    let mut d = good.clone();
    d.kind = "something/else".into();
    assert!(matches!(malformed(&d), Problem::Type(_)));
    let mut d = good.clone();
    d.keys = (0..40).map(|_| TestKey::generate().public_pem).collect();
    assert!(matches!(malformed(&d), Problem::TooManyKeys { count: 40 }));

    // Envelopes: wrong type, not base64, not JSON, too large, too many signatures.
    let bad = |bytes: &[u8]| match v1.follow(&[bytes], NOW) {
        Err(ChainError::Malformed { problem, .. }) => problem,
        other => panic!("expected a malformed envelope, got {other:?}"),
    };
    let mut e = Envelope::new(&good.to_bytes());
    e.payload_type = "application/vnd.in-toto+json".into();
    assert!(matches!(bad(&e.to_bytes()), Problem::Type(_)));
    let mut e = Envelope::new(&good.to_bytes());
    e.payload = "%%%".into();
    assert_eq!(bad(&e.to_bytes()), Problem::Base64("payload"));
    assert!(matches!(bad(b"{\"payloadType\": 1"), Problem::Json(_)));
    assert!(matches!(bad(&[b' '; 300 * 1024]), Problem::TooLarge { .. }));
    let mut e = Envelope::new(&good.to_bytes());
    for _ in 0..33 {
        e.add_signature("", b"x");
    }
    assert!(matches!(
        bad(&e.to_bytes()),
        Problem::TooManySignatures { count: 33 }
    ));
    // An unknown field in the document is refused, not ignored.
    let mut json: serde_json::Value = serde_json::from_slice(&good.to_bytes()).unwrap();
    json["trust_everyone"] = true.into();
    let payload = serde_json::to_vec(&json).unwrap();
    let mut e = Envelope::new(&payload);
    e.add_signature("", &k.a.sign(&signing_message(&payload)));
    assert!(matches!(bad(&e.to_bytes()), Problem::Json(_)));
}

/// Every single-byte change to a valid link either is refused or changes nothing that
/// matters (JSON whitespace, a keyid hint): never a panic, never other keys trusted.
#[test]
fn no_byte_changed_in_a_link_trusts_anything_else() {
    let k = keys();
    let v1 = Succession::anchor(REPO, vec![public(&k.a)], 1);
    let l2 = sealed(&doc(&v1, &[&k.b], 1, NOW + YEAR), &[&k.a]);
    let want = follow(&v1, &[&l2]).unwrap().succession;
    for i in 0..l2.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut m = l2.clone();
            m[i] ^= flip;
            if let Ok(f) = v1.follow(&[&m], NOW) {
                let s = f.succession;
                assert_eq!(
                    (s.version(), s.keys(), s.threshold()),
                    (want.version(), want.keys(), want.threshold()),
                    "byte {i} ^ {flip:#x}"
                );
            }
        }
    }
}
