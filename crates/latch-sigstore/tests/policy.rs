//! Identity and provenance policies over bundles minted by a test Sigstore (its own CA,
//! CT log and Rekor log in a custom `trusted_root.json`), verified with every check on:
//! certificate chain, SCT, inclusion proof, checkpoint, SET. Each refusal names the claim.

use std::time::{SystemTime, UNIX_EPOCH};

use latch_sigstore::provenance::{ProvenancePolicy, SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02};
use latch_sigstore::{
    Artifact, Error, GithubClaims, IdentityPolicy, SanMatcher, Signer, TlogRequirement, TrustRoot,
    verify_bundle,
};
use latch_testkit::sigstore::{
    Leaf, TestSigstore, slsa_v1_predicate, slsa_v02_predicate, statement,
};

const REPO: &str = "freedomofpress/dangerzone";
const WORKFLOW: &str = ".github/workflows/release.yml";
const MAIN: &str = "refs/heads/main";
const DIGEST_HEX: &str = "19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67";
const GENERATOR: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn digest() -> String {
    format!("sha256:{DIGEST_HEX}")
}

fn raw(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

struct Fixture {
    sigstore: TestSigstore,
    root: TrustRoot,
}

fn fixture() -> Fixture {
    let sigstore = TestSigstore::new();
    let root = TrustRoot::from_json(sigstore.trusted_root_json().as_bytes(), "test root").unwrap();
    Fixture { sigstore, root }
}

impl Fixture {
    /// A GitHub attest-build-provenance style bundle: the certificate says `cert_repo`,
    /// `cert_workflow`, `cert_ref`; the SLSA v1 predicate says `pred_repo` etc.
    fn v1_bundle(&self, leaf: &Leaf, pred: (&str, &str, &str), subject: &str) -> String {
        let payload = statement(
            subject,
            SLSA_PROVENANCE_V1,
            slsa_v1_predicate(pred.0, pred.1, pred.2),
        );
        self.sigstore.dsse_bundle(leaf, &payload, now() - 3600)
    }

    fn check(&self, bundle: &str, policy: &ProvenancePolicy) -> Result<Vec<String>, Error> {
        let signers = [Signer::Identity(policy.identity()?)];
        let v = verify_bundle(
            &self.root,
            bundle.as_bytes(),
            "bundle",
            Artifact::Sha256(raw(DIGEST_HEX)),
            &signers,
            TlogRequirement::Required,
        )?;
        let st = v.statement.as_ref().expect("a DSSE statement");
        let mut claims: Vec<String> = v.claims.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        claims.extend(
            policy
                .check_statement(st, &digest(), "bundle")?
                .iter()
                .map(|c| c.to_string()),
        );
        Ok(claims)
    }
}

fn leaf(repo: &str, workflow: &str, git_ref: &str) -> Leaf {
    Leaf::github(repo, workflow, git_ref, "push", now() - 3700, None)
}

fn policy(git_ref: Option<&str>) -> ProvenancePolicy {
    ProvenancePolicy::new(REPO, WORKFLOW, git_ref, None).unwrap()
}

fn failed(r: Result<Vec<String>, Error>) -> (String, String) {
    let e = r.expect_err("must be refused");
    (e.failed_claim().unwrap_or("").to_owned(), e.to_string())
}

#[test]
fn github_provenance_verifies_with_every_check_and_lists_its_claims() {
    let f = fixture();
    let bundle = f.v1_bundle(
        &leaf(REPO, WORKFLOW, MAIN),
        (REPO, WORKFLOW, MAIN),
        &digest(),
    );
    let claims = f.check(&bundle, &policy(Some(MAIN))).unwrap();
    let text = claims.join("\n");
    for want in [
        "certificate OIDC issuer: https://token.actions.githubusercontent.com",
        "certificate identity (SAN): https://github.com/freedomofpress/dangerzone/.github/workflows/release.yml@refs/heads/main",
        "certificate source repository: https://github.com/freedomofpress/dangerzone",
        "certificate workflow (build config): https://github.com/freedomofpress/dangerzone/.github/workflows/release.yml@refs/heads/main",
        "certificate source ref: refs/heads/main",
        "statement subject: sha256:19e8",
        "predicate.buildDefinition.externalParameters.workflow.repository: https://github.com/freedomofpress/dangerzone",
        "predicate.buildDefinition.externalParameters.workflow.path: .github/workflows/release.yml",
        "predicate.buildDefinition.externalParameters.workflow.ref: refs/heads/main",
        "predicate.runDetails.builder.id: https://github.com/actions/runner/github-hosted",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    // Every check ran: chain, SCT, inclusion proof and checkpoint.
    let signers = [Signer::Identity(policy(None).identity().unwrap())];
    let v = verify_bundle(
        &f.root,
        bundle.as_bytes(),
        "b",
        Artifact::Sha256(raw(DIGEST_HEX)),
        &signers,
        TlogRequirement::Required,
    )
    .unwrap();
    assert!(v.certificate_verified && v.inclusion_proof_verified);
    assert_eq!(v.max_log_index(), Some(7));
    assert_eq!(v.signed_times.len(), 1);
}

#[test]
fn a_repository_that_only_shares_a_prefix_is_refused() {
    let f = fixture();
    // Certificate and predicate both from dangerzone-image.
    let other = "freedomofpress/dangerzone-image";
    let bundle = f.v1_bundle(
        &leaf(other, WORKFLOW, MAIN),
        (other, WORKFLOW, MAIN),
        &digest(),
    );
    let (claim, msg) = failed(f.check(&bundle, &policy(None)));
    assert_eq!(claim, "certificate identity (SAN)", "{msg}");
    assert!(msg.contains("dangerzone-image"), "{msg}");
    // A certificate from the right repository with a predicate naming the longer one.
    let bundle = f.v1_bundle(
        &leaf(REPO, WORKFLOW, MAIN),
        (other, WORKFLOW, MAIN),
        &digest(),
    );
    let (claim, msg) = failed(f.check(&bundle, &policy(None)));
    assert_eq!(
        claim, "predicate.buildDefinition.externalParameters.workflow.repository",
        "{msg}"
    );
    // And the Fulcio claim itself, when the SAN is left open.
    let open = IdentityPolicy {
        issuer: latch_sigstore::GITHUB_ACTIONS_ISSUER.into(),
        san: SanMatcher::regex(".*").unwrap(),
        github: GithubClaims {
            repository: Some(REPO.into()),
            ..GithubClaims::default()
        },
    };
    let bundle = f.v1_bundle(
        &leaf(other, WORKFLOW, MAIN),
        (other, WORKFLOW, MAIN),
        &digest(),
    );
    let e = verify_bundle(
        &f.root,
        bundle.as_bytes(),
        "b",
        Artifact::Sha256(raw(DIGEST_HEX)),
        &[Signer::Identity(open)],
        TlogRequirement::Required,
    )
    .unwrap_err();
    assert_eq!(
        e.failed_claim(),
        Some("certificate source repository"),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("found https://github.com/freedomofpress/dangerzone-image"),
        "{e}"
    );
}

#[test]
fn another_workflow_is_refused() {
    let f = fixture();
    let ci = ".github/workflows/ci.yml";
    let bundle = f.v1_bundle(&leaf(REPO, ci, MAIN), (REPO, ci, MAIN), &digest());
    let (claim, msg) = failed(f.check(&bundle, &policy(None)));
    assert_eq!(claim, "certificate identity (SAN)", "{msg}");
    // Right certificate, predicate naming another workflow.
    let bundle = f.v1_bundle(&leaf(REPO, WORKFLOW, MAIN), (REPO, ci, MAIN), &digest());
    let (claim, msg) = failed(f.check(&bundle, &policy(None)));
    assert_eq!(
        claim, "predicate.buildDefinition.externalParameters.workflow.path",
        "{msg}"
    );
    // The Fulcio build-config claim, SAN left open.
    let open = IdentityPolicy {
        issuer: latch_sigstore::GITHUB_ACTIONS_ISSUER.into(),
        san: SanMatcher::regex(".*").unwrap(),
        github: GithubClaims {
            workflow: Some(WORKFLOW.into()),
            ..GithubClaims::default()
        },
    };
    let bundle = f.v1_bundle(&leaf(REPO, ci, MAIN), (REPO, ci, MAIN), &digest());
    let e = verify_bundle(
        &f.root,
        bundle.as_bytes(),
        "b",
        Artifact::Sha256(raw(DIGEST_HEX)),
        &[Signer::Identity(open)],
        TlogRequirement::Required,
    )
    .unwrap_err();
    assert_eq!(
        e.failed_claim(),
        Some("certificate workflow (build config)"),
        "{e}"
    );
}

#[test]
fn another_ref_is_refused() {
    let f = fixture();
    let feature = "refs/heads/feature";
    let bundle = f.v1_bundle(
        &leaf(REPO, WORKFLOW, feature),
        (REPO, WORKFLOW, feature),
        &digest(),
    );
    // Without --ref, any ref is accepted (and shown).
    let claims = f.check(&bundle, &policy(None)).unwrap();
    assert!(
        claims
            .iter()
            .any(|c| c.ends_with("workflow.ref: refs/heads/feature"))
    );
    let (claim, msg) = failed(f.check(&bundle, &policy(Some(MAIN))));
    assert_eq!(claim, "certificate identity (SAN)", "{msg}");
    // Certificate on main, predicate on another ref.
    let bundle = f.v1_bundle(
        &leaf(REPO, WORKFLOW, MAIN),
        (REPO, WORKFLOW, feature),
        &digest(),
    );
    let (claim, msg) = failed(f.check(&bundle, &policy(Some(MAIN))));
    assert_eq!(
        claim, "predicate.buildDefinition.externalParameters.workflow.ref",
        "{msg}"
    );
    // The Fulcio ref and trigger claims, SAN left open.
    for (github, name) in [
        (
            GithubClaims {
                git_ref: Some(MAIN.into()),
                ..GithubClaims::default()
            },
            "certificate source ref",
        ),
        (
            GithubClaims {
                trigger: Some("release".into()),
                ..GithubClaims::default()
            },
            "certificate build trigger",
        ),
    ] {
        let open = IdentityPolicy {
            issuer: latch_sigstore::GITHUB_ACTIONS_ISSUER.into(),
            san: SanMatcher::regex(".*").unwrap(),
            github,
        };
        let bundle = f.v1_bundle(
            &leaf(REPO, WORKFLOW, feature),
            (REPO, WORKFLOW, feature),
            &digest(),
        );
        let e = verify_bundle(
            &f.root,
            bundle.as_bytes(),
            "b",
            Artifact::Sha256(raw(DIGEST_HEX)),
            &[Signer::Identity(open)],
            TlogRequirement::Required,
        )
        .unwrap_err();
        assert_eq!(e.failed_claim(), Some(name), "{e}");
    }
}

#[test]
fn an_expired_certificate_is_refused() {
    let f = fixture();
    // Valid for ten minutes two hours ago; logged an hour ago.
    let old = Leaf::github(REPO, WORKFLOW, MAIN, "push", now() - 7200, None);
    let bundle = f.v1_bundle(&old, (REPO, WORKFLOW, MAIN), &digest());
    let (claim, msg) = failed(f.check(&bundle, &policy(None)));
    assert_eq!(claim, "certificate validity", "{msg}");
    assert!(
        msg.contains("notAfter") && msg.contains("CertExpired"),
        "{msg}"
    );
}

#[test]
fn a_statement_about_another_digest_is_refused() {
    let f = fixture();
    let other = format!("sha256:{}", "2".repeat(64));
    let bundle = f.v1_bundle(&leaf(REPO, WORKFLOW, MAIN), (REPO, WORKFLOW, MAIN), &other);
    let (claim, msg) = failed(f.check(&bundle, &policy(None)));
    assert_eq!(claim, "statement subject", "{msg}");
    assert!(msg.contains(&other) && msg.contains(DIGEST_HEX), "{msg}");
}

#[test]
fn a_root_that_does_not_trust_the_ca_refuses_and_tampering_is_caught() {
    let f = fixture();
    let bundle = f.v1_bundle(
        &leaf(REPO, WORKFLOW, MAIN),
        (REPO, WORKFLOW, MAIN),
        &digest(),
    );
    let signers = [Signer::Identity(policy(None).identity().unwrap())];
    let prod = TrustRoot::production().unwrap();
    let e = verify_bundle(
        &prod,
        bundle.as_bytes(),
        "b",
        Artifact::Sha256(raw(DIGEST_HEX)),
        &signers,
        TlogRequirement::Required,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Verification { .. }), "{e}");
    // Another test Sigstore's root: chain refused.
    let other =
        TrustRoot::from_json(TestSigstore::new().trusted_root_json().as_bytes(), "o").unwrap();
    assert!(
        verify_bundle(
            &other,
            bundle.as_bytes(),
            "b",
            Artifact::Sha256(raw(DIGEST_HEX)),
            &signers,
            TlogRequirement::Required
        )
        .is_err()
    );
    // A payload changed after signing.
    let mut doc: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    let forged = statement(
        &digest(),
        SLSA_PROVENANCE_V1,
        slsa_v1_predicate("evil/repo", WORKFLOW, MAIN),
    );
    doc["dsseEnvelope"]["payload"] = serde_json::Value::String(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        &forged,
    ));
    let e = f.check(&doc.to_string(), &policy(None)).unwrap_err();
    assert!(matches!(e, Error::Verification { .. }), "{e}");
}

#[test]
fn slsa_generator_att_layers_verify_with_their_set() {
    let f = fixture();
    // slsa-github-generator signs as its reusable workflow, in the caller's repository.
    let signer_leaf = Leaf::github(
        REPO,
        WORKFLOW,
        "refs/tags/v0.10.0",
        "push",
        now() - 3700,
        Some(GENERATOR),
    );
    let payload = statement(
        &digest(),
        SLSA_PROVENANCE_V02,
        slsa_v02_predicate(REPO, WORKFLOW, "refs/tags/v0.10.0", GENERATOR),
    );
    let (envelope, annotations) =
        f.sigstore
            .att_layer(&signer_leaf, &payload, now() - 3600, SLSA_PROVENANCE_V02);
    let bundle =
        latch_sigstore::cosign::att_layer_to_bundle(&envelope, &annotations, "x.att layer 0")
            .unwrap();
    let p = policy(None);
    let signers = [Signer::Identity(p.identity().unwrap())];
    let v = latch_sigstore::verify_parsed_bundle(
        &f.root,
        &bundle,
        "x.att layer 0",
        Artifact::Sha256(raw(DIGEST_HEX)),
        &signers,
        TlogRequirement::Required,
    )
    .unwrap();
    assert!(!v.inclusion_proof_verified && v.certificate_verified);
    let claims = p
        .check_statement(v.statement.as_ref().unwrap(), &digest(), "x")
        .unwrap();
    assert!(
        claims
            .iter()
            .any(|c| c.name == "predicate.builder.id" && c.value == GENERATOR)
    );
    assert!(v.log_verified, "the SET was verified");
    // A forged SET is refused.
    let mut bad = annotations.clone();
    let rb = bad.get_mut("dev.sigstore.cosign/bundle").unwrap();
    let mut v: serde_json::Value = serde_json::from_str(rb).unwrap();
    v["Payload"]["integratedTime"] = serde_json::json!(now() - 3500);
    *rb = v.to_string();
    let bundle = latch_sigstore::cosign::att_layer_to_bundle(&envelope, &bad, "x").unwrap();
    let e = latch_sigstore::verify_parsed_bundle(
        &f.root,
        &bundle,
        "x",
        Artifact::Sha256(raw(DIGEST_HEX)),
        &signers,
        TlogRequirement::Required,
    )
    .unwrap_err();
    assert!(e.to_string().contains("SET"), "{e}");
}

#[test]
fn a_keyless_bundle_needs_an_identity_and_a_key_bundle_needs_a_key() {
    let f = fixture();
    let bundle = f.v1_bundle(
        &leaf(REPO, WORKFLOW, MAIN),
        (REPO, WORKFLOW, MAIN),
        &digest(),
    );
    let key = Signer::key_from_der(&f.sigstore.rekor_key_der(), "some key");
    let e = verify_bundle(
        &f.root,
        bundle.as_bytes(),
        "b",
        Artifact::Sha256(raw(DIGEST_HEX)),
        &[key],
        TlogRequirement::Required,
    )
    .unwrap_err();
    assert!(e.to_string().contains("only keys are trusted"), "{e}");
    // Two identities: the second matches.
    let stranger = IdentityPolicy::new(
        "https://accounts.google.com",
        SanMatcher::exact("someone@example.com"),
    );
    let signers = [
        Signer::Identity(stranger),
        Signer::Identity(policy(None).identity().unwrap()),
    ];
    verify_bundle(
        &f.root,
        bundle.as_bytes(),
        "b",
        Artifact::Sha256(raw(DIGEST_HEX)),
        &signers,
        TlogRequirement::Required,
    )
    .unwrap();
    assert!(
        verify_bundle(
            &f.root,
            bundle.as_bytes(),
            "b",
            Artifact::Sha256(raw(DIGEST_HEX)),
            &[],
            TlogRequirement::Required
        )
        .is_err()
    );
}
