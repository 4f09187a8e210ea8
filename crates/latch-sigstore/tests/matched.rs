//! `BundleVerification::matched`: every trusted signer a bundle satisfies, as indices
//! into the signers given, so that a trust decision can count distinct signers.

mod support;

use latch_sigstore::{
    Artifact, GithubClaims, IdentityPolicy, SanMatcher, Signer, TlogRequirement, TrustRoot,
    verify_bundle,
};
use latch_testkit::sigstore::{Leaf, TestSigstore, slsa_v1_predicate, statement};
use support::{Curve, Key, Material, San, Sigstore, now};

const ARTIFACT: &[u8] = b"an artifact\n";

fn uri() -> String {
    "https://ci.latch.test/release@refs/heads/main".to_owned()
}

fn identity(issuer: &str, san: SanMatcher) -> Signer {
    Signer::Identity(IdentityPolicy::new(issuer, san))
}

#[test]
fn a_certificate_matching_two_identities_reports_both() {
    let s = Sigstore::new();
    // P-256 (verified by sigstore-verify) and P-384 (verified by Latch).
    for curve in [Curve::P256, Curve::P384] {
        let key = Key::new(curve);
        let cert = s.issue(&key, &San::Uri(uri()), support::ISSUER, now() - 3700);
        let bundle = s
            .message_bundle(&key, Material::Cert(cert), ARTIFACT)
            .json();
        let signers = [
            identity(support::ISSUER, SanMatcher::exact("someone@latch.test")),
            Signer::key_from_der(&key.spki(), "the leaf's key, not a signer of certificates"),
            identity(support::ISSUER, SanMatcher::exact(uri())),
            identity("https://other.issuer", SanMatcher::exact(uri())),
            identity(
                support::ISSUER,
                SanMatcher::regex("https://ci\\.latch\\.test/.*").unwrap(),
            ),
        ];
        let v = verify_bundle(
            &s.root(),
            bundle.as_bytes(),
            "b",
            Artifact::Bytes(ARTIFACT),
            &signers,
            TlogRequirement::Required,
        )
        .unwrap_or_else(|e| panic!("{curve:?}: {e}"));
        assert_eq!(v.matched, vec![2, 4], "{curve:?}");
        // The claims are those of the first identity matched.
        assert!(
            v.claims
                .iter()
                .any(|(k, val)| k == "certificate identity (SAN)" && *val == uri()),
            "{:?}",
            v.claims
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["matched"], serde_json::json!([2, 4]));
    }
}

#[test]
fn github_claims_decide_which_identities_a_certificate_satisfies() {
    let ts = TestSigstore::new();
    let root = TrustRoot::from_json(ts.trusted_root_json().as_bytes(), "test root").unwrap();
    let repo = "freedomofpress/dangerzone";
    let workflow = ".github/workflows/release.yml";
    let digest_hex = "19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67";
    let leaf = Leaf::github(
        repo,
        workflow,
        "refs/heads/main",
        "push",
        now() - 3700,
        None,
    );
    let payload = statement(
        &format!("sha256:{digest_hex}"),
        "https://slsa.dev/provenance/v1",
        slsa_v1_predicate(repo, workflow, "refs/heads/main"),
    );
    let bundle = ts.dsse_bundle(&leaf, &payload, now() - 3600);
    let any_san = |github: GithubClaims| {
        Signer::Identity(IdentityPolicy {
            issuer: latch_sigstore::GITHUB_ACTIONS_ISSUER.into(),
            san: SanMatcher::regex(".*").unwrap(),
            github,
        })
    };
    let signers = [
        Signer::Identity(IdentityPolicy::github_workflow(repo, workflow, None).unwrap()),
        // The SAN matches, the repository claim does not.
        any_san(GithubClaims {
            repository: Some("freedomofpress/dangerzone-image".into()),
            ..GithubClaims::default()
        }),
        Signer::Identity(
            IdentityPolicy::github_workflow(repo, workflow, Some("refs/heads/main")).unwrap(),
        ),
        // The ref claim does not match.
        any_san(GithubClaims {
            git_ref: Some("refs/tags/v1".into()),
            ..GithubClaims::default()
        }),
        any_san(GithubClaims {
            trigger: Some("push".into()),
            ..GithubClaims::default()
        }),
    ];
    let mut raw = [0u8; 32];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = u8::from_str_radix(&digest_hex[2 * i..2 * i + 2], 16).unwrap();
    }
    let v = verify_bundle(
        &root,
        bundle.as_bytes(),
        "b",
        Artifact::Sha256(raw),
        &signers,
        TlogRequirement::Required,
    )
    .unwrap();
    assert_eq!(v.matched, vec![0, 2, 4]);
}

#[test]
fn a_key_bundle_reports_its_keys_index() {
    let s = Sigstore::new();
    for curve in [Curve::P256, Curve::P384, Curve::P521] {
        let key = Key::new(curve);
        let bundle = s
            .message_bundle(&key, Material::Key(key.spki()), ARTIFACT)
            .json();
        let stranger = Key::new(curve);
        let signers = [
            identity(support::ISSUER, SanMatcher::exact(uri())),
            Signer::key_from_der(&stranger.spki(), "stranger"),
            Signer::key_from_der(&key.spki(), "signer"),
            Signer::key_from_der(&Key::new(Curve::P256).spki(), "another"),
        ];
        let v = verify_bundle(
            &s.root(),
            bundle.as_bytes(),
            "b",
            Artifact::Bytes(ARTIFACT),
            &signers,
            TlogRequirement::Required,
        )
        .unwrap_or_else(|e| panic!("{curve:?}: {e}"));
        assert_eq!(v.matched, vec![2], "{curve:?}");
        assert_eq!(
            serde_json::to_value(&v).unwrap()["matched"],
            serde_json::json!([2])
        );
        // The same key listed twice under two names: both entries are satisfied.
        let twice = [
            Signer::key_from_der(&key.spki(), "first name"),
            Signer::key_from_der(&stranger.spki(), "stranger"),
            Signer::key_from_der(&key.spki(), "second name"),
        ];
        let v = verify_bundle(
            &s.root(),
            bundle.as_bytes(),
            "b",
            Artifact::Bytes(ARTIFACT),
            &twice,
            TlogRequirement::Required,
        )
        .unwrap();
        assert_eq!(v.matched, vec![0, 2], "{curve:?}");
        assert!(
            matches!(&v.signer, latch_sigstore::SignerInfo::Key { name } if name == "first name")
        );
    }
}

#[test]
fn an_unlogged_key_bundle_reports_its_keys_index() {
    let s = Sigstore::new();
    for curve in [Curve::P256, Curve::P384, Curve::P521] {
        let key = Key::new(curve);
        let mut b = s.message_bundle(&key, Material::Key(key.spki()), ARTIFACT);
        b.entries.clear();
        let signers = [
            Signer::key_from_der(&Key::new(curve).spki(), "stranger"),
            Signer::key_from_der(&key.spki(), "signer"),
        ];
        let v = verify_bundle(
            &s.root(),
            b.json().as_bytes(),
            "b",
            Artifact::Bytes(ARTIFACT),
            &signers,
            TlogRequirement::None,
        )
        .unwrap_or_else(|e| panic!("{curve:?}: {e}"));
        assert_eq!(v.matched, vec![1], "{curve:?}");
        assert!(!v.log_verified);
        // A tampered artifact is refused.
        assert!(
            verify_bundle(
                &s.root(),
                b.json().as_bytes(),
                "b",
                Artifact::Bytes(b"another artifact"),
                &signers,
                TlogRequirement::None,
            )
            .is_err()
        );
    }
}
