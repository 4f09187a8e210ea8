//! The one decision, without a registry: signatures made here (keys the test owns, a test
//! Rekor log, a test Sigstore with its own CA and log), candidates as any source would
//! hand them, and the verdict checked: every candidate's outcome and the distinct trusted
//! signers counted.

use latch_decide::{
    BundleCandidate, CandidateKind, Candidates, Refusal, SigCandidate, Trust, TrustError,
    TrustedSigner, Unusable, UnusableKind, Verdict, decide,
};
use latch_oci::{Digest, Reference};
use latch_sigstore::cosign::COSIGN_SIGN_PREDICATE;
use latch_sigstore::{IdentityPolicy, SanMatcher, TrustRoot};
use latch_testkit::cosign::{LogPosition, TestKey, cosign_signature, simple_signing};
use latch_testkit::sigstore::{GITHUB_ISSUER, Leaf, TestSigstore, statement};
use latch_trust::{PublicKey, Rejection, Signature, TlogMode};

const REPO: &str = "ghcr.io/freedomofpress/dangerzone/v1";
const GH_REPO: &str = "freedomofpress/dangerzone";
const WORKFLOW: &str = ".github/workflows/release.yml";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn digest(n: u8) -> Digest {
    Digest::sha256_of(&[n])
}

fn public(k: &TestKey) -> PublicKey {
    PublicKey::from_pem(k.public_pem.as_bytes()).unwrap()
}

/// A key signature of `d`, optionally logged by `log` at `index`.
fn sig(k: &TestKey, d: &Digest, log: Option<(&TestKey, i64)>) -> Signature {
    let log = log.map(|(l, index)| {
        (
            l,
            LogPosition {
                index,
                time: now() - 60,
            },
        )
    });
    Signature::from_cosign_json(cosign_signature(k, REPO, &d.to_string(), log, &[]).as_bytes())
        .unwrap()
}

fn sigs(list: Vec<Signature>) -> Candidates {
    Candidates::from_sigs("test", list.into_iter().map(Ok).collect())
}

fn keys_trust(keys: &[&TestKey], threshold: usize) -> Trust {
    Trust::builder()
        .keys(keys.iter().map(|k| public(k)))
        .threshold(threshold)
        .tlog(TlogMode::Ignored)
        .repository(Reference::parse(REPO).unwrap())
        .build()
        .unwrap()
}

fn leaf(git_ref: &str) -> Leaf {
    Leaf::github(GH_REPO, WORKFLOW, git_ref, "push", now() - 3700, None)
}

fn san(git_ref: &str) -> String {
    format!("https://github.com/{GH_REPO}/{WORKFLOW}@{git_ref}")
}

/// A cosign v3 signature of `d` by the workflow at `git_ref`, logged at `index`.
fn keyless_bundle(s: &TestSigstore, d: &Digest, git_ref: &str, index: u64) -> BundleCandidate {
    let payload = statement(&d.to_string(), COSIGN_SIGN_PREDICATE, serde_json::json!({}));
    BundleCandidate {
        location: format!("bundle@{git_ref}#{index}"),
        manifest_digest: None,
        bytes: s
            .dsse_bundle_at(&leaf(git_ref), &payload, now() - 3600, index)
            .into_bytes(),
    }
}

fn root(s: &TestSigstore) -> TrustRoot {
    TrustRoot::from_json(s.trusted_root_json().as_bytes(), "test").unwrap()
}

fn exact(git_ref: &str) -> IdentityPolicy {
    IdentityPolicy::new(GITHUB_ISSUER, SanMatcher::exact(san(git_ref)))
}

fn refusal(v: &Verdict, kind: CandidateKind, index: usize) -> &Refusal {
    v.outcomes
        .iter()
        .find(|o| o.kind == kind && o.index == index)
        .and_then(|o| o.result.as_ref().err())
        .unwrap_or_else(|| panic!("no refusal for {kind:?} {index}: {}", v.summary()))
}

#[test]
fn the_threshold_counts_distinct_keys_not_signatures() {
    let (a, b, c) = (
        TestKey::generate(),
        TestKey::generate(),
        TestKey::generate(),
    );
    let d = digest(3);
    // 2 of {a, b}, a signed twice: both signatures accepted, one signer.
    let v = decide(
        &keys_trust(&[&a, &b], 2),
        &sigs(vec![sig(&a, &d, None), sig(&a, &d, None)]),
        &d,
        now(),
    );
    assert!(!v.trusted);
    assert_eq!(v.count(), 1);
    assert_eq!(v.accepted().count(), 2);
    assert!(
        v.summary().starts_with("1 of the 2 required"),
        "{}",
        v.summary()
    );
    // a and b each signed: 2 of 2.
    let v = decide(
        &keys_trust(&[&a, &b], 2),
        &sigs(vec![sig(&a, &d, None), sig(&b, &d, None)]),
        &d,
        now(),
    );
    assert!(v.trusted);
    assert_eq!(v.count(), 2);
    // 2 of {a, b, c}: c signed another digest, a and b this one.
    let v = decide(
        &keys_trust(&[&a, &b, &c], 2),
        &sigs(vec![
            sig(&c, &digest(99), None),
            sig(&a, &d, None),
            sig(&b, &d, None),
        ]),
        &d,
        now(),
    );
    assert!(v.trusted);
    assert!(matches!(
        refusal(&v, CandidateKind::Sig, 0),
        Refusal::Sig(Rejection::DigestMismatch { .. })
    ));
    // a and a stranger: 1 of 2, the stranger refused for its signature.
    let stranger = TestKey::generate();
    let v = decide(
        &keys_trust(&[&a, &b, &c], 2),
        &sigs(vec![sig(&a, &d, None), sig(&stranger, &d, None)]),
        &d,
        now(),
    );
    assert!(!v.trusted);
    assert_eq!(
        refusal(&v, CandidateKind::Sig, 1),
        &Refusal::Sig(Rejection::SignatureNotVerified)
    );
    assert_eq!(v.outcomes.len(), 2);
}

#[test]
fn thresholds_must_be_possible_and_nothing_found_says_so() {
    let a = TestKey::generate();
    for t in [0, 2] {
        let e = Trust::builder()
            .key(public(&a))
            .threshold(t)
            .build()
            .unwrap_err();
        assert!(
            matches!(e, TrustError::BadThreshold { threshold, signers: 1 } if threshold == t),
            "{e}"
        );
    }
    assert!(matches!(
        Trust::builder().build().unwrap_err(),
        TrustError::NoSigners
    ));
    let t = Trust::builder().key(public(&a)).build().unwrap();
    assert_eq!(t.threshold(), 1);
    assert_eq!(
        t.tlog(),
        TlogMode::Ignored,
        "no Rekor key: the log is ignored"
    );
    let logged = Trust::builder()
        .key(public(&a))
        .rekor_key(public(&TestKey::generate()))
        .build()
        .unwrap();
    assert_eq!(logged.tlog(), TlogMode::Required, "a Rekor key: required");
    let v = decide(&t, &Candidates::default(), &digest(10), now());
    assert!(!v.trusted);
    assert!(
        v.summary().contains("no signatures found"),
        "{}",
        v.summary()
    );
}

#[test]
fn a_key_counts_once_whatever_its_encoding() {
    let a = TestKey::generate();
    let crlf = PublicKey::from_pem(a.public_pem.replace('\n', "\r\n").as_bytes()).unwrap();
    // The same key twice in two encodings is refused: it would count twice.
    let e = Trust::builder()
        .key(public(&a))
        .key(crlf.clone())
        .threshold(2)
        .build()
        .unwrap_err();
    assert!(matches!(e, TrustError::Keys(_)), "{e}");
    // Trusted in its CRLF encoding, it verifies and counts once for many signatures.
    let d = digest(4);
    let t = Trust::builder().key(crlf.clone()).build().unwrap();
    let v = decide(
        &t,
        &sigs(vec![sig(&a, &d, None), sig(&a, &d, None)]),
        &d,
        now(),
    );
    assert!(v.trusted);
    assert_eq!(v.count(), 1);
    assert_eq!(
        v.signers[0].trusted,
        TrustedSigner::Key {
            log_id: crlf.log_id().to_owned(),
            store_id: crlf.store_id().to_owned()
        }
    );
}

#[test]
fn one_workflow_on_two_refs_is_one_signer_so_key_and_ci_needs_the_key() {
    let s = TestSigstore::new();
    let key = TestKey::generate();
    let d = digest(5);
    // A key AND a workflow identity (any ref), threshold 2.
    let workflow = IdentityPolicy::github_workflow(GH_REPO, WORKFLOW, None).unwrap();
    let trust = Trust::builder()
        .key(public(&key))
        .identity(workflow)
        .threshold(2)
        .tlog(TlogMode::Ignored)
        .identity_root(root(&s))
        .build()
        .unwrap();
    let mut c = Candidates::default();
    c.bundles
        .push(keyless_bundle(&s, &d, "refs/heads/main", 10));
    c.bundles
        .push(keyless_bundle(&s, &d, "refs/tags/anything", 11));
    let v = decide(&trust, &c, &d, now());
    assert_eq!(v.accepted().count(), 2, "{}", v.summary());
    assert!(
        !v.trusted,
        "two certificates of one workflow are one signer"
    );
    assert!(
        v.summary().starts_with("1 of the 2 required"),
        "{}",
        v.summary()
    );
    // With the key's signature too: 2 of 2.
    c.sigs.push(SigCandidate {
        location: "sig".into(),
        signature: Ok(sig(&key, &d, None)),
    });
    let v = decide(&trust, &c, &d, now());
    assert!(v.trusted, "{}", v.summary());
    assert_eq!(v.count(), 2);
    assert!(
        matches!(v.signers[0].trusted, TrustedSigner::Identity { .. })
            || matches!(v.signers[1].trusted, TrustedSigner::Identity { .. })
    );
}

#[test]
fn one_certificate_matching_two_identities_counts_once() {
    let s = TestSigstore::new();
    let d = digest(6);
    let main = exact("refs/heads/main");
    let any = IdentityPolicy::new(
        GITHUB_ISSUER,
        SanMatcher::regex(&format!("https://github\\.com/{GH_REPO}/.*")).unwrap(),
    );
    let trust = Trust::builder()
        .identity(main)
        .identity(any)
        .threshold(2)
        .identity_root(root(&s))
        .build()
        .unwrap();
    let mut c = Candidates::default();
    c.bundles
        .push(keyless_bundle(&s, &d, "refs/heads/main", 20));
    let v = decide(&trust, &c, &d, now());
    let (_, accepted) = v.accepted().next().unwrap();
    assert_eq!(accepted.satisfies.len(), 2, "it matches both identities");
    assert!(!v.trusted);
    assert_eq!(v.count(), 1);
    // Another certificate of the same workflow on a tag matches only the pattern: now
    // each identity has its own signer.
    c.bundles.push(keyless_bundle(&s, &d, "refs/tags/v1", 21));
    let v = decide(&trust, &c, &d, now());
    assert!(v.trusted, "{}", v.summary());
    assert_eq!(v.count(), 2);
}

#[test]
fn a_key_and_an_identity_count_two() {
    let s = TestSigstore::new();
    let key = TestKey::generate();
    let d = digest(7);
    let trust = Trust::builder()
        .key(public(&key))
        .identity(exact("refs/heads/main"))
        .threshold(2)
        .tlog(TlogMode::Ignored)
        .identity_root(root(&s))
        .build()
        .unwrap();
    let mut c = sigs(vec![sig(&key, &d, None)]);
    c.bundles
        .push(keyless_bundle(&s, &d, "refs/heads/main", 30));
    let v = decide(&trust, &c, &d, now());
    assert!(v.trusted, "{}", v.summary());
    assert_eq!(v.count(), 2);
    assert_eq!(v.max_log_index, Some(30));
}

/// A cosign 2.x keyless `.sig` signature of `d` for `repository` by the workflow at
/// `git_ref`.
fn keyless_sig(
    s: &TestSigstore,
    d: &Digest,
    repository: &str,
    git_ref: &str,
    chain: bool,
    set: bool,
) -> Signature {
    let payload = simple_signing(repository, &d.to_string(), &[]);
    let minted = s.legacy_sig(&leaf(git_ref), &payload, now() - 3600, 40);
    Signature::from_cosign_json(minted.to_cosign_json(chain, set).as_bytes()).unwrap()
}

#[test]
fn keyless_legacy_signatures_are_verified_by_identity() {
    let s = TestSigstore::new();
    let d = digest(8);
    let trust = |identity: IdentityPolicy, root_of: &TestSigstore| {
        Trust::builder()
            .identity(identity)
            .repository(Reference::parse(REPO).unwrap())
            .identity_root(root(root_of))
            .build()
            .unwrap()
    };
    let main = || exact("refs/heads/main");
    // With and without the chain annotation (the root holds the CA).
    for chain in [true, false] {
        let c = sigs(vec![keyless_sig(
            &s,
            &d,
            REPO,
            "refs/heads/main",
            chain,
            true,
        )]);
        let v = decide(&trust(main(), &s), &c, &d, now());
        assert!(v.trusted, "chain {chain}: {}", v.summary());
        assert_eq!(v.max_log_index, Some(40));
        let (_, a) = v.accepted().next().unwrap();
        assert_eq!(a.docker_reference.as_deref(), Some(REPO));
    }
    let good = || {
        sigs(vec![keyless_sig(
            &s,
            &d,
            REPO,
            "refs/heads/main",
            true,
            true,
        )])
    };
    // Another SAN, another issuer.
    let v = decide(&trust(exact("refs/heads/dev"), &s), &good(), &d, now());
    assert!(!v.trusted);
    assert_eq!(
        refusal(&v, CandidateKind::Sig, 0).claim(),
        Some("certificate identity (SAN)")
    );
    let other_issuer = IdentityPolicy::new(
        "https://accounts.example.org",
        SanMatcher::exact(san("refs/heads/main")),
    );
    let v = decide(&trust(other_issuer, &s), &good(), &d, now());
    assert_eq!(
        refusal(&v, CandidateKind::Sig, 0).claim(),
        Some("certificate OIDC issuer")
    );
    // A certificate of another CA (and another log) than the root's.
    let rogue = TestSigstore::new();
    let v = decide(&trust(main(), &rogue), &good(), &d, now());
    assert!(!v.trusted);
    assert_eq!(refusal(&v, CandidateKind::Sig, 0).check(), "keyless");
    // No SET: no authenticated time to check the certificate against.
    let c = sigs(vec![keyless_sig(
        &s,
        &d,
        REPO,
        "refs/heads/main",
        true,
        false,
    )]);
    let v = decide(&trust(main(), &s), &c, &d, now());
    assert_eq!(
        refusal(&v, CandidateKind::Sig, 0).claim(),
        Some("Rekor SET")
    );
    // A SET signed by a log the root does not know.
    let payload = simple_signing(REPO, &d.to_string(), &[]);
    let signer = s.issue(&leaf("refs/heads/main"));
    let untrusted = s.legacy_sig_by(
        &signer,
        &s.ca_cert_pem(),
        &payload,
        now() - 3600,
        41,
        &latch_testkit::sigstore::LegacyEntry {
            untrusted_log: true,
            ..Default::default()
        },
    );
    let c = sigs(vec![
        Signature::from_cosign_json(untrusted.to_cosign_json(true, true).as_bytes()).unwrap(),
    ]);
    let v = decide(&trust(main(), &s), &c, &d, now());
    assert!(!v.trusted);
    assert_eq!(refusal(&v, CandidateKind::Sig, 0).check(), "keyless");
    // Signed for another repository: the payload checks every `.sig` gets.
    let c = sigs(vec![keyless_sig(
        &s,
        &d,
        "ghcr.io/evil/other",
        "refs/heads/main",
        true,
        true,
    )]);
    let v = decide(&trust(main(), &s), &c, &d, now());
    assert!(matches!(
        refusal(&v, CandidateKind::Sig, 0),
        Refusal::Sig(Rejection::RepositoryMismatch { .. })
    ));
    // Another digest's signature.
    let v = decide(&trust(main(), &s), &good(), &digest(9), now());
    assert!(matches!(
        refusal(&v, CandidateKind::Sig, 0),
        Refusal::Sig(Rejection::DigestMismatch { .. })
    ));
}

#[test]
fn a_signature_kind_that_cannot_be_used_is_named_for_what_it_is() {
    let s = TestSigstore::new();
    let key = TestKey::generate();
    let d = digest(11);
    // Keys only: a keyless signature is not "no signature".
    let c = sigs(vec![keyless_sig(
        &s,
        &d,
        REPO,
        "refs/heads/main",
        true,
        true,
    )]);
    let v = decide(&keys_trust(&[&key], 1), &c, &d, now());
    assert_eq!(
        refusal(&v, CandidateKind::Sig, 0),
        &Refusal::NoIdentityTrusted
    );
    assert!(
        v.summary().contains("no keyless identity is trusted"),
        "{}",
        v.summary()
    );
    // Identities only: a key signature.
    let identities = Trust::builder()
        .identity(exact("refs/heads/main"))
        .identity_root(root(&s))
        .build()
        .unwrap();
    let v = decide(&identities, &sigs(vec![sig(&key, &d, None)]), &d, now());
    assert_eq!(refusal(&v, CandidateKind::Sig, 0), &Refusal::NoKeyTrusted);
    // Junk and unusable finds are outcomes too.
    let mut c = Candidates::from_sigs(
        "junk",
        vec![Signature::from_cosign_json(b"{\"Base64Signature\": 1}")],
    );
    c.unusable.push(Unusable {
        location: "ref@sha256:…".into(),
        what: UnusableKind::NotASignature {
            predicate_type: "https://slsa.dev/provenance/v1".into(),
        },
    });
    let v = decide(&identities, &c, &d, now());
    assert_eq!(refusal(&v, CandidateKind::Sig, 0).check(), "malformed");
    assert_eq!(refusal(&v, CandidateKind::Unusable, 0).check(), "unusable");
    assert!(v.summary().contains("an attestation"), "{}", v.summary());
}

#[test]
fn logs_required_optional_and_ignored() {
    let key = TestKey::generate();
    let log = TestKey::generate();
    let other_log = TestKey::generate();
    let d = digest(12);
    let trust = |mode: TlogMode| {
        Trust::builder()
            .key(public(&key))
            .rekor_key(public(&log))
            .tlog(mode)
            .build()
            .unwrap()
    };
    let logged = sig(&key, &d, Some((&log, 500)));
    let unlogged = sig(&key, &d, None);
    let by_other_log = sig(&key, &d, Some((&other_log, 501)));
    // Required: only the logged one.
    let v = decide(
        &trust(TlogMode::Required),
        &sigs(vec![logged.clone(), unlogged.clone(), by_other_log.clone()]),
        &d,
        now(),
    );
    assert!(v.trusted);
    assert_eq!(v.max_log_index, Some(500));
    assert_eq!(
        refusal(&v, CandidateKind::Sig, 1),
        &Refusal::Sig(Rejection::MissingTlogEntry)
    );
    assert_eq!(refusal(&v, CandidateKind::Sig, 2).check(), "rekor.log_id");
    // Optional: the unlogged one is accepted without a log entry (the ratchets then
    // have nothing to compare: see latch's ratchet), an untrusted log still refuses.
    let v = decide(
        &trust(TlogMode::Optional),
        &sigs(vec![unlogged.clone(), by_other_log.clone()]),
        &d,
        now(),
    );
    assert!(v.trusted);
    assert_eq!(v.max_log_index, None);
    assert_eq!(refusal(&v, CandidateKind::Sig, 1).check(), "rekor.log_id");
    // Ignored: log entries are not looked at.
    let v = decide(
        &trust(TlogMode::Ignored),
        &sigs(vec![by_other_log]),
        &d,
        now(),
    );
    assert!(v.trusted);
    assert_eq!(v.max_log_index, None);
}

/// A key signature of `d` logged by `log` at `time`.
fn sig_logged_at(k: &TestKey, d: &Digest, log: &TestKey, time: i64) -> Signature {
    let log = Some((log, LogPosition { index: 7, time }));
    Signature::from_cosign_json(cosign_signature(k, REPO, &d.to_string(), log, &[]).as_bytes())
        .unwrap()
}

#[test]
fn a_revoked_key_counts_only_for_what_was_logged_before_its_distrust_time() {
    let (old, new, log) = (
        TestKey::generate(),
        TestKey::generate(),
        TestKey::generate(),
    );
    let cutoff = now() - 1000;
    let trust = |tlog| {
        Trust::builder()
            .key(public(&new))
            .revoked_key(public(&old), cutoff)
            .rekor_key(public(&log))
            .tlog(tlog)
            .repository(Reference::parse(REPO).unwrap())
            .build()
            .unwrap()
    };
    let logged = trust(TlogMode::Required);
    assert_eq!(logged.distrust_after(public(&old).log_id()), Some(cutoff));
    let d = digest(40);

    // Logged before the distrust time: still counts (an installed image stays valid).
    let v = decide(
        &logged,
        &sigs(vec![sig_logged_at(&old, &d, &log, cutoff - 1)]),
        &d,
        now(),
    );
    assert!(v.trusted, "{}", v.summary());

    // Logged at or after it: refused, saying why, and counted for nothing.
    for t in [cutoff, cutoff + 1] {
        let v = decide(
            &logged,
            &sigs(vec![sig_logged_at(&old, &d, &log, t)]),
            &d,
            now(),
        );
        assert!(!v.trusted);
        match refusal(&v, CandidateKind::Sig, 0) {
            Refusal::Revoked {
                key,
                distrust_after,
                logged,
            } => {
                assert_eq!(key, public(&old).log_id());
                assert_eq!((*distrust_after, *logged), (cutoff, Some(t)));
            }
            other => panic!("expected a revoked key, got {other}"),
        }
        assert_eq!(refusal(&v, CandidateKind::Sig, 0).check(), "revoked");
    }

    // With no log time (the log not required, no SET): the signer's own claim of a time
    // does not count.
    let unlogged = trust(TlogMode::Optional);
    let v = decide(&unlogged, &sigs(vec![sig(&old, &d, None)]), &d, now());
    assert!(!v.trusted);
    assert!(matches!(
        refusal(&v, CandidateKind::Sig, 0),
        Refusal::Revoked { logged: None, .. }
    ));

    // The key in force is not affected, logged or not.
    let v = decide(&unlogged, &sigs(vec![sig(&new, &d, None)]), &d, now());
    assert!(v.trusted, "{}", v.summary());
}
