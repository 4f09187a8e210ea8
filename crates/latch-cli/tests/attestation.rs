//! Provenance and cosign v3 signatures in a real registry (Debian's docker-registry, which
//! has no referrers API: the `sha256-<hex>` tag fallback is used):
//!
//! - `latch verify-attestation` against attestations minted by a test Sigstore (own CA,
//!   CT and Rekor keys in a custom `trusted_root.json`), published the two ways they are
//!   in the wild: GitHub `attest-build-provenance` bundles as OCI referrers (SLSA v1) and
//!   slsa-github-generator `.att` layers (SLSA v0.2). Every check runs; nothing is skipped.
//!   The policy cases: a repository that only shares a prefix, another workflow, another
//!   ref, an expired certificate, a statement about another digest; each refused naming
//!   the claim.
//! - cosign 2.5's `attest --new-bundle-format` (the peer) writing a `sign/v1` bundle
//!   referrer, found by `latch::signatures::fetch_bundles` and verified with its key.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use latch::oci::{Descriptor, ImageManifest, ManifestBytes, Reference, media_types as mt};
use latch::registry::{Client, ClientOptions};
use latch::sigstore::provenance::{SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02};
use latch_testkit::sigstore::{
    Leaf, TestSigstore, slsa_v1_predicate, slsa_v02_predicate, statement,
};
use latch_testkit::{ImageBuilder, Peers, Registry, run};

const REPO: &str = "freedomofpress/dangerzone";
const WORKFLOW: &str = ".github/workflows/release.yml";
const MAIN: &str = "refs/heads/main";
const GENERATOR: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn latch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latch"))
        .args(args)
        .output()
        .expect("run latch")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A registry with one image per test case, a test Sigstore and its root on disk.
struct World {
    reg: Registry,
    tmp: tempfile::TempDir,
    client: Client,
    sigstore: TestSigstore,
    root_file: PathBuf,
    seed: u64,
}

impl World {
    fn new() -> World {
        let reg = Registry::start();
        let tmp = tempfile::tempdir().unwrap();
        let sigstore = TestSigstore::new();
        let root_file = tmp.path().join("trusted_root.json");
        std::fs::write(&root_file, sigstore.trusted_root_json()).unwrap();
        let client = Client::new(ClientOptions::default()).unwrap();
        World {
            reg,
            tmp,
            client,
            sigstore,
            root_file,
            seed: 100,
        }
    }

    /// Pushes a fresh image; returns `(repo@digest, descriptor)`.
    fn image(&mut self, name: &str) -> (String, Descriptor) {
        self.seed += 1;
        let img = ImageBuilder::new()
            .seed(self.seed)
            .tar_layer(500)
            .build(&self.tmp.path().join(name), "v1");
        img.push(&self.reg.reference(&format!("{name}:v1")));
        (
            format!("{}/{name}@{}", self.reg.host(), img.digest()),
            img.manifest.descriptor(),
        )
    }

    async fn attach(&self, image: &str, subject: &Descriptor, bundle: &str, pt: &str) {
        let r = Reference::parse(image).unwrap();
        latch::sources::attach::attach_bundle(
            &self.client,
            &r,
            subject,
            &latch::sources::attach::BundleArtifact::dsse(
                bundle.as_bytes(),
                pt,
                "2026-01-01T00:00:00Z",
            ),
            latch::sources::contention::Contention::default(),
        )
        .await
        .unwrap();
    }

    /// Pushes a cosign-style `.att` manifest with one layer per attestation.
    async fn push_att(
        &self,
        image: &str,
        layers: Vec<(Vec<u8>, std::collections::BTreeMap<String, String>)>,
    ) {
        let r = Reference::parse(image).unwrap();
        let repo = r.repository_only();
        let digest = r.digest().unwrap().clone();
        let config = self
            .client
            .push_blob_bytes(&repo, mt::OCI_CONFIG, bytes::Bytes::from_static(b"{\"architecture\":\"\",\"os\":\"\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{}}"))
            .await
            .unwrap();
        let mut descs = Vec::new();
        for (blob, annotations) in layers {
            let mut d = self
                .client
                .push_blob_bytes(
                    &repo,
                    "application/vnd.dsse.envelope.v1+json",
                    bytes::Bytes::from(blob),
                )
                .await
                .unwrap();
            d.annotations = Some(annotations);
            descs.push(d);
        }
        let m = ManifestBytes::from_image(&ImageManifest {
            schema_version: 2,
            media_type: Some(mt::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config,
            layers: descs,
            subject: None,
            annotations: None,
        });
        self.client
            .put_manifest(&repo, &format!("{}.att", digest.tag_form()), &m)
            .await
            .unwrap();
    }

    fn verify(&self, image: &str, extra: &[&str]) -> Output {
        let root = self.root_file.to_str().unwrap();
        let mut args = vec![
            "verify-attestation",
            image,
            "--repository",
            REPO,
            "--workflow",
            WORKFLOW,
            "--trusted-root",
            root,
        ];
        args.extend_from_slice(extra);
        latch(&args)
    }
}

fn digest_of(image: &str) -> String {
    image.split_once('@').unwrap().1.to_owned()
}

fn gh_leaf(repo: &str, workflow: &str, git_ref: &str) -> Leaf {
    Leaf::github(repo, workflow, git_ref, "push", now() - 3700, None)
}

/// The refusal names the claim that failed.
fn refused(o: &Output, claim: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("claim {claim} failed")),
        "expected claim {claim:?} in: {err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn github_provenance_referrers_verify_and_each_policy_case_is_refused_by_name() {
    let mut w = World::new();

    // The good case: SLSA v1 by the expected workflow on main, as a referrer.
    let (good, desc) = w.image("app/good");
    let payload = statement(
        &digest_of(&good),
        SLSA_PROVENANCE_V1,
        slsa_v1_predicate(REPO, WORKFLOW, MAIN),
    );
    let bundle = w
        .sigstore
        .dsse_bundle(&gh_leaf(REPO, WORKFLOW, MAIN), &payload, now() - 3600);
    w.attach(&good, &desc, &bundle, SLSA_PROVENANCE_V1).await;
    let o = w.verify(&good, &["--ref", MAIN]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for line in [
        "signature: verified (certificate chain to trusted root",
        "Rekor inclusion proof and signed checkpoint",
        "certificate OIDC issuer: https://token.actions.githubusercontent.com",
        "certificate identity (SAN): https://github.com/freedomofpress/dangerzone/.github/workflows/release.yml@refs/heads/main",
        "certificate source repository: https://github.com/freedomofpress/dangerzone",
        "certificate source ref: refs/heads/main",
        &format!("statement subject: {}", digest_of(&good)),
        "predicateType: https://slsa.dev/provenance/v1",
        "predicate.buildDefinition.externalParameters.workflow.repository: https://github.com/freedomofpress/dangerzone",
        "predicate.buildDefinition.externalParameters.workflow.path: .github/workflows/release.yml",
        "predicate.buildDefinition.externalParameters.workflow.ref: refs/heads/main",
        "predicate.runDetails.builder.id: https://github.com/actions/runner/github-hosted",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // One claim per line.
    assert!(
        out.lines().filter(|l| l.contains(": ")).count() >= 12,
        "{out}"
    );
    let o = w.verify(&good, &["--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["digest"], digest_of(&good));
    assert!(v["claims"].as_array().unwrap().len() >= 12);

    // Without the test root (the built-in public-good root), the same attestation is refused.
    let o = latch(&[
        "verify-attestation",
        &good,
        "--repository",
        REPO,
        "--workflow",
        WORKFLOW,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // A repository that only shares a prefix with the expected one.
    let prefix = "freedomofpress/dangerzone-image";
    let (img, desc) = w.image("app/prefix");
    let payload = statement(
        &digest_of(&img),
        SLSA_PROVENANCE_V1,
        slsa_v1_predicate(prefix, WORKFLOW, MAIN),
    );
    let b = w
        .sigstore
        .dsse_bundle(&gh_leaf(prefix, WORKFLOW, MAIN), &payload, now() - 3600);
    w.attach(&img, &desc, &b, SLSA_PROVENANCE_V1).await;
    refused(&w.verify(&img, &[]), "certificate identity (SAN)");
    // … and its mirror: the right certificate, a predicate naming the longer repository.
    let (img, desc) = w.image("app/prefix2");
    let payload = statement(
        &digest_of(&img),
        SLSA_PROVENANCE_V1,
        slsa_v1_predicate(prefix, WORKFLOW, MAIN),
    );
    let b = w
        .sigstore
        .dsse_bundle(&gh_leaf(REPO, WORKFLOW, MAIN), &payload, now() - 3600);
    w.attach(&img, &desc, &b, SLSA_PROVENANCE_V1).await;
    refused(
        &w.verify(&img, &[]),
        "predicate.buildDefinition.externalParameters.workflow.repository",
    );

    // Another workflow.
    let ci = ".github/workflows/ci.yml";
    let (img, desc) = w.image("app/workflow");
    let payload = statement(
        &digest_of(&img),
        SLSA_PROVENANCE_V1,
        slsa_v1_predicate(REPO, ci, MAIN),
    );
    let b = w
        .sigstore
        .dsse_bundle(&gh_leaf(REPO, ci, MAIN), &payload, now() - 3600);
    w.attach(&img, &desc, &b, SLSA_PROVENANCE_V1).await;
    refused(&w.verify(&img, &[]), "certificate identity (SAN)");

    // Another ref: accepted without --ref, refused with it.
    let feature = "refs/heads/feature";
    let (img, desc) = w.image("app/ref");
    let payload = statement(
        &digest_of(&img),
        SLSA_PROVENANCE_V1,
        slsa_v1_predicate(REPO, WORKFLOW, feature),
    );
    let b = w
        .sigstore
        .dsse_bundle(&gh_leaf(REPO, WORKFLOW, feature), &payload, now() - 3600);
    w.attach(&img, &desc, &b, SLSA_PROVENANCE_V1).await;
    let o = w.verify(&img, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("workflow.ref: refs/heads/feature"));
    refused(
        &w.verify(&img, &["--ref", MAIN]),
        "certificate identity (SAN)",
    );

    // An expired certificate: valid for ten minutes two hours ago, logged an hour ago.
    let (img, desc) = w.image("app/expired");
    let payload = statement(
        &digest_of(&img),
        SLSA_PROVENANCE_V1,
        slsa_v1_predicate(REPO, WORKFLOW, MAIN),
    );
    let old = Leaf::github(REPO, WORKFLOW, MAIN, "push", now() - 7200, None);
    let b = w.sigstore.dsse_bundle(&old, &payload, now() - 3600);
    w.attach(&img, &desc, &b, SLSA_PROVENANCE_V1).await;
    refused(&w.verify(&img, &[]), "certificate validity");

    // A statement whose subject is another digest (attached to this image anyway).
    let (img, desc) = w.image("app/subject");
    let (other, _) = w.image("app/other");
    let payload = statement(
        &digest_of(&other),
        SLSA_PROVENANCE_V1,
        slsa_v1_predicate(REPO, WORKFLOW, MAIN),
    );
    let b = w
        .sigstore
        .dsse_bundle(&gh_leaf(REPO, WORKFLOW, MAIN), &payload, now() - 3600);
    w.attach(&img, &desc, &b, SLSA_PROVENANCE_V1).await;
    refused(&w.verify(&img, &[]), "statement subject");

    // No attestation at all.
    let o = w.verify(&other, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no attestation found"), "{}", text(&o));

    // An image given by tag is refused: provenance is about one digest.
    let o = w.verify(&w.reg.reference("app/good:v1"), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("by digest"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn slsa_generator_att_attestations_verify_with_anchored_matching() {
    let mut w = World::new();
    let tag_ref = "refs/tags/v0.10.0";
    // slsa-github-generator signs as its reusable workflow; claims name the caller.
    let signer = Leaf::github(
        REPO,
        WORKFLOW,
        tag_ref,
        "push",
        now() - 3700,
        Some(GENERATOR),
    );

    let (img, _) = w.image("app/att");
    let payload = statement(
        &digest_of(&img),
        SLSA_PROVENANCE_V02,
        slsa_v02_predicate(REPO, WORKFLOW, tag_ref, GENERATOR),
    );
    let layer = w
        .sigstore
        .att_layer(&signer, &payload, now() - 3600, SLSA_PROVENANCE_V02);
    w.push_att(&img, vec![layer]).await;
    let o = w.verify(&img, &["--ref", tag_ref]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for line in [
        "Rekor inclusion promise (SET)",
        &format!("certificate identity (SAN): {GENERATOR}"),
        "certificate source repository: https://github.com/freedomofpress/dangerzone",
        "predicateType: https://slsa.dev/provenance/v0.2",
        &format!("predicate.builder.id: {GENERATOR}"),
        "predicate.invocation.configSource.uri: git+https://github.com/freedomofpress/dangerzone@refs/tags/v0.10.0",
        "predicate.invocation.configSource.entryPoint: .github/workflows/release.yml",
        "predicate.invocation.configSource.digest.sha1: 0123456789abcdef0123456789abcdef01234567",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(out.contains(".att layer 0"), "{out}");

    // Dangerzone v0.10.0's policy would have accepted this: the generator ran for
    // dangerzone-image, whose configSource.uri starts with the expected repository's.
    let (img, _) = w.image("app/att-prefix");
    let prefix = "freedomofpress/dangerzone-image";
    let signer = Leaf::github(
        prefix,
        WORKFLOW,
        tag_ref,
        "push",
        now() - 3700,
        Some(GENERATOR),
    );
    let payload = statement(
        &digest_of(&img),
        SLSA_PROVENANCE_V02,
        slsa_v02_predicate(prefix, WORKFLOW, tag_ref, GENERATOR),
    );
    let layer = w
        .sigstore
        .att_layer(&signer, &payload, now() - 3600, SLSA_PROVENANCE_V02);
    w.push_att(&img, vec![layer]).await;
    refused(&w.verify(&img, &[]), "certificate source repository");

    // A forged layer (payload swapped after signing) beside a good one: the good one wins,
    // the forged one is reported.
    let (img, _) = w.image("app/att-two");
    let good = statement(
        &digest_of(&img),
        SLSA_PROVENANCE_V02,
        slsa_v02_predicate(REPO, WORKFLOW, tag_ref, GENERATOR),
    );
    let signer = Leaf::github(
        REPO,
        WORKFLOW,
        tag_ref,
        "push",
        now() - 3700,
        Some(GENERATOR),
    );
    let (env, ann) = w
        .sigstore
        .att_layer(&signer, &good, now() - 3600, SLSA_PROVENANCE_V02);
    let mut forged: serde_json::Value = serde_json::from_slice(&env).unwrap();
    forged["payload"] = serde_json::Value::String(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        statement(
            &digest_of(&img),
            SLSA_PROVENANCE_V02,
            slsa_v02_predicate("evil/repo", WORKFLOW, tag_ref, GENERATOR),
        ),
    ));
    w.push_att(
        &img,
        vec![
            (serde_json::to_vec(&forged).unwrap(), ann.clone()),
            (env, ann),
        ],
    )
    .await;
    let o = w.verify(&img, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("note: also found, not accepted"),
        "{}",
        text(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains(".att layer 1"));
}

/// cosign 2.5 has no `sign --new-bundle-format` (v3's default); its `attest
/// --new-bundle-format` writes the same artifact: a DSSE statement in a v0.3 bundle stored
/// as a referrer. With `--type https://sigstore.dev/cosign/sign/v1` and an empty predicate
/// that is exactly a cosign v3 image signature.
#[tokio::test(flavor = "multi_thread")]
async fn cosign_bundle_referrers_are_found_and_verified_with_the_key() {
    let Some(peers) = Peers::require() else {
        return;
    };
    let mut w = World::new();
    let (img, desc) = w.image("app/cosign");
    let keys = w.tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let mut c = peers.command("cosign");
    c.arg("generate-key-pair")
        .current_dir(&keys)
        .env("COSIGN_PASSWORD", "pw")
        .env("HOME", &keys);
    run(&mut c);
    let predicate = keys.join("predicate.json");
    std::fs::write(&predicate, "{}").unwrap();
    let mut c = peers.command("cosign");
    c.args(["attest", "--new-bundle-format", "--key"])
        .arg(keys.join("cosign.key"))
        .args([
            "--type",
            latch::sigstore::cosign::COSIGN_SIGN_PREDICATE,
            "--predicate",
        ])
        .arg(&predicate)
        .args([
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            &img,
        ])
        .env("COSIGN_PASSWORD", "pw")
        .env("HOME", &keys);
    run(&mut c);

    let reference = Reference::parse(&img).unwrap();
    let digest = reference.digest().unwrap().clone();
    let found = latch::sources::registry::fetch_signature_bundles(&w.client, &reference, &digest)
        .await
        .unwrap();
    assert_eq!(found.bundles.len(), 1, "{found:?}");
    assert!(found.unusable.is_empty(), "{:?}", found.unusable);
    let key_of = |der: &[u8]| latch::trust::PublicKey::from_der(der).unwrap();
    let key = latch::trust::PublicKey::from_pem(&std::fs::read(keys.join("cosign.pub")).unwrap())
        .unwrap();
    let trusting = |k: latch::trust::PublicKey| {
        latch::decide::Trust::builder()
            .key(k)
            .tlog(latch::trust::TlogMode::Ignored)
            .build()
            .unwrap()
    };
    let result = latch::decide::decide(&trusting(key.clone()), &found, &digest, now());
    assert!(result.trusted, "{}", result.summary());
    let (_, accepted) = result.accepted().next().unwrap();
    let st = accepted
        .bundle
        .as_ref()
        .unwrap()
        .statement
        .as_ref()
        .unwrap();
    assert_eq!(
        st.predicate_type,
        latch::sigstore::cosign::COSIGN_SIGN_PREDICATE
    );

    // The same bundle does not sign another image, and another key does not verify it.
    let (other, _) = w.image("app/cosign-other");
    let other_digest = Reference::parse(&other).unwrap().digest().unwrap().clone();
    let moved = latch::decide::decide(&trusting(key.clone()), &found, &other_digest, now());
    assert!(!moved.trusted);
    let (_, why) = moved.refused().next().unwrap();
    assert_eq!(why.claim(), Some("statement subject"), "{why}");
    let stranger = key_of(&w.sigstore.rekor_key_der());
    let wrong = latch::decide::decide(&trusting(stranger), &found, &digest, now());
    assert_eq!(wrong.count(), 0, "{}", wrong.summary());
    // Requiring a log refuses a bundle that has none.
    let strict = latch::decide::Trust::builder()
        .key(key)
        .rekor_key(key_of(&w.sigstore.rekor_key_der()))
        .tlog(latch::trust::TlogMode::Required)
        .build()
        .unwrap();
    let strict = latch::decide::decide(&strict, &found, &digest, now());
    assert_eq!(strict.count(), 0, "{}", strict.summary());
    let _ = desc;

    // `latch verify` falls back to these when the image has no `.sig`.
    let pub_key = keys.join("cosign.pub");
    let o = latch(&["verify", &img, "--key", pub_key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("cosign v3 signature 0") && text(&o).contains("accepted"),
        "{}",
        text(&o)
    );
    let o = latch(&["verify", &img, "--key", pub_key.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"], true);
    // Another key: refused, saying why.
    let mut c = peers.command("cosign");
    let other_keys = w.tmp.path().join("other-keys");
    std::fs::create_dir_all(&other_keys).unwrap();
    c.arg("generate-key-pair")
        .current_dir(&other_keys)
        .env("COSIGN_PASSWORD", "pw")
        .env("HOME", &other_keys);
    run(&mut c);
    let o = latch(&[
        "verify",
        &img,
        "--key",
        other_keys.join("cosign.pub").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("NOT verified"), "{}", text(&o));
    // A legacy `.sig` by that other key beside the bundle: the `.sig` does not verify
    // with the trusted key, the bundle beside it does.
    let mut c = peers.command("cosign");
    c.args(["sign", "--key"])
        .arg(other_keys.join("cosign.key"))
        .args([
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            &img,
        ])
        .env("COSIGN_PASSWORD", "pw")
        .env("HOME", &other_keys);
    run(&mut c);
    let o = latch(&["verify", &img, "--key", pub_key.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("cosign v3 signature 0") && text(&o).contains("accepted"),
        "{}",
        text(&o)
    );
    // A third key: neither verifies, and the `.sig` verdict is what is shown.
    let third = w.tmp.path().join("third.pub");
    std::fs::write(&third, pem_public_key(&w.sigstore.rekor_key_der())).unwrap();
    let o = latch(&["verify", &img, "--key", third.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("0 of 1"), "{}", text(&o));
    // A pinned Rekor key makes a log entry required: this bundle has none.
    let rekor = w.tmp.path().join("rekor.pub");
    std::fs::write(&rekor, pem_public_key(&w.sigstore.rekor_key_der())).unwrap();
    let o = latch(&[
        "verify",
        &img,
        "--key",
        pub_key.to_str().unwrap(),
        "--rekor-key",
        rekor.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // cosign 2.5's legacy `attest` (a `.att` layer, no bundle format), key-signed without
    // a log: the layer converts to a v0.1 bundle that verifies with the key.
    let mut c = peers.command("cosign");
    c.args(["attest", "--key"])
        .arg(keys.join("cosign.key"))
        .args(["--type", "https://latch.test/predicate/v1", "--predicate"])
        .arg(&predicate)
        .args([
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            &img,
        ])
        .env("COSIGN_PASSWORD", "pw")
        .env("HOME", &keys);
    run(&mut c);
    let att = reference
        .repository_only()
        .with_tag(&format!("{}.att", digest.tag_form()))
        .unwrap();
    let m = w.client.get_manifest(&att).await.unwrap();
    let layer = m.as_image().unwrap().layers[0].clone();
    assert_eq!(
        layer.media_type,
        latch::sigstore::cosign::DSSE_LAYER_MEDIA_TYPE
    );
    let blob = w
        .client
        .get_blob_bytes(&att, &layer, 1 << 20)
        .await
        .unwrap();
    let bundle = latch::sigstore::cosign::att_layer_to_bundle(
        &blob,
        &layer.annotations.clone().unwrap_or_default(),
        "att",
    )
    .unwrap();
    let raw = digest.sha256_bytes().unwrap();
    let root = latch::sigstore::TrustRoot::from_rekor_keys(&[]).unwrap();
    let key = latch::bundle::load_key(&keys.join("cosign.pub")).unwrap();
    let v = latch::sigstore::verify_parsed_bundle(
        &root,
        &bundle,
        "att",
        latch::sigstore::Artifact::Sha256(raw),
        std::slice::from_ref(&key),
        latch::sigstore::TlogRequirement::None,
    )
    .unwrap();
    assert_eq!(
        v.statement.unwrap().predicate_type,
        "https://latch.test/predicate/v1"
    );

    // An image with neither `.sig` nor bundles: no signatures.
    let o = latch(&["verify", &other, "--key", pub_key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no signatures found"), "{}", text(&o));
}

fn pem_public_key(der: &[u8]) -> String {
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}

/// `latch verify` with a keyless identity: a cosign v3 signature by a GitHub workflow
/// (a `sign/v1` statement in a bundle referrer, certificate from the test CA), verified
/// against the custom root; the identity must match exactly or by anchored pattern.
#[tokio::test(flavor = "multi_thread")]
async fn verify_accepts_keyless_cosign_v3_signatures_by_the_given_identity() {
    let mut w = World::new();
    let (img, desc) = w.image("app/keyless");
    let payload = statement(
        &digest_of(&img),
        latch::sigstore::cosign::COSIGN_SIGN_PREDICATE,
        serde_json::json!({}),
    );
    let bundle = w
        .sigstore
        .dsse_bundle(&gh_leaf(REPO, WORKFLOW, MAIN), &payload, now() - 3600);
    w.attach(
        &img,
        &desc,
        &bundle,
        latch::sigstore::cosign::COSIGN_SIGN_PREDICATE,
    )
    .await;
    let san = format!("https://github.com/{REPO}/{WORKFLOW}@{MAIN}");
    let root = w.root_file.to_str().unwrap().to_owned();
    let issuer = latch_testkit::sigstore::GITHUB_ISSUER;
    let verify = |identity_flag: &str, identity: &str, json: bool| {
        let mut args = vec![
            "verify",
            &img,
            identity_flag,
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
            &root,
        ];
        if json {
            args.push("--json");
        }
        latch(&args)
    };
    let o = verify("--certificate-identity", &san, false);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("cosign v3 signature"), "{out}");
    assert!(out.contains(&san), "{out}");
    let o = verify("--certificate-identity", &san, true);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"], true);
    let outcome = &v["verdict"]["outcomes"][0];
    assert_eq!(outcome["kind"], "bundle");
    assert_eq!(outcome["signer"]["identity"], san.as_str());
    assert_eq!(v["verdict"]["signers"][0]["trusted"]["kind"], "identity");
    assert_eq!(v["max_log_index"], 7);
    // An anchored pattern over the repository's workflows.
    let o = verify(
        "--certificate-identity-regexp",
        &format!("https://github.com/{REPO}/.*"),
        false,
    );
    assert!(o.status.success(), "{}", text(&o));
    // A repository that only shares a prefix: refused, naming the SAN.
    let o = verify(
        "--certificate-identity",
        &format!("https://github.com/{REPO}-image/{WORKFLOW}@{MAIN}"),
        false,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("NOT verified") && err.contains("SAN"), "{err}");
    let o = verify(
        "--certificate-identity-regexp",
        "https://github.com/freedomofpress/dangerzone-image/.*",
        true,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verified"], false);
    // The public-good root (no --trusted-root) does not know the test CA.
    let o = latch(&[
        "verify",
        &img,
        "--certificate-identity",
        &san,
        "--certificate-oidc-issuer",
        issuer,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

/// `latch attest` and `latch verify-attestation --key`: an attestation on top, by the
/// release keys, found among others and decided on like a signature (k of n keys, the
/// type asked for, this digest); cosign's legacy `.att` attestation by a key counts too.
#[tokio::test(flavor = "multi_thread")]
async fn attestations_by_keys_are_written_and_decided_on() {
    let Some(peers) = Peers::require() else {
        return;
    };
    let mut w = World::new();
    let (img, _) = w.image("app/attested");
    let dir = w.tmp.path().to_path_buf();
    let env_pw = |c: &mut Command| {
        c.env("LATCH_PASSWORD", "pw");
    };
    let run_latch = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_latch"));
        c.args(args);
        env_pw(&mut c);
        c.output().expect("run latch")
    };
    for name in ["alice", "bob"] {
        let prefix = dir.join(name);
        let o = run_latch(&[
            "generate-key-pair",
            "--output-key-prefix",
            prefix.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let key = |n: &str, ext: &str| dir.join(format!("{n}.{ext}")).display().to_string();
    let review = "https://latch.test/release-review/v1";
    let predicate = dir.join("review.json");
    std::fs::write(&predicate, r#"{"reviewed_by":"alice"}"#).unwrap();
    let p = predicate.to_str().unwrap();

    // Refusals that write nothing.
    let o = run_latch(&[
        "attest",
        &img,
        "--key",
        &key("alice", "key"),
        "--type",
        "review",
        "--predicate",
        p,
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("not an absolute URI"), "{}", text(&o));
    let notjson = dir.join("notjson");
    std::fs::write(&notjson, "reviewed").unwrap();
    let o = run_latch(&[
        "attest",
        &img,
        "--key",
        &key("alice", "key"),
        "--type",
        review,
        "--predicate",
        notjson.to_str().unwrap(),
    ]);
    assert!(
        text(&o).contains("the predicate is not JSON"),
        "{}",
        text(&o)
    );
    let by_tag = img.split('@').next().unwrap().to_owned() + ":v1";
    let o = run_latch(&[
        "attest",
        &by_tag,
        "--key",
        &key("alice", "key"),
        "--type",
        review,
        "--predicate",
        p,
    ]);
    assert!(text(&o).contains("names no digest"), "{}", text(&o));
    let verify = |keys: &[&str], threshold: &str, kind: &str| {
        let mut args = vec![
            "verify-attestation".to_owned(),
            img.clone(),
            "--type".into(),
            kind.into(),
            "--threshold".into(),
            threshold.into(),
        ];
        for k in keys {
            args.push("--key".into());
            args.push(key(k, "pub"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_latch(&args)
    };
    let o = verify(&["alice"], "1", review);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no attestations found"), "{}", text(&o));
    // --key without --type is a usage error.
    let o = run_latch(&["verify-attestation", &img, "--key", &key("alice", "pub")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // Alice attests; an image signature by Bob (another type) is not an attestation.
    let o = run_latch(&[
        "attest",
        &img,
        "--key",
        &key("alice", "key"),
        "--type",
        review,
        "--predicate",
        p,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run_latch(&["sign", "--bundle", &img, "--key", &key("bob", "key")]);
    assert!(o.status.success(), "{}", text(&o));
    let o = verify(&["alice"], "1", review);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(r#"Predicate: {"reviewed_by":"alice"}"#),
        "{}",
        text(&o)
    );
    // Bob's key alone: Alice's attestation is refused, Bob's signature is not looked at.
    let o = verify(&["bob"], "1", review);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("NOT verified"), "{}", text(&o));
    // Another type: none.
    let o = verify(&["alice"], "1", "https://latch.test/other/v1");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Two of two: Bob must attest too; cosign's legacy `.att` (by Bob's key, exported
    // for cosign) counts as his.
    let o = verify(&["alice", "bob"], "2", review);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("1 of 2"), "{}", text(&o));
    let mut c = peers.command("cosign");
    c.args(["attest", "--key"])
        .arg(key("bob", "key"))
        .args([
            "--type",
            review,
            "--predicate",
            p,
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            &img,
        ])
        .env("COSIGN_PASSWORD", "pw")
        .env("HOME", &dir);
    run(&mut c);
    let o = verify(&["alice", "bob"], "2", review);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2 of 2"), "{}", text(&o));
    // A pinned Rekor key requires a log entry, which these do not have.
    let rekor = dir.join("rekor.pub");
    std::fs::write(&rekor, pem_public_key(&w.sigstore.rekor_key_der())).unwrap();
    let o = run_latch(&[
        "verify-attestation",
        &img,
        "--type",
        review,
        "--key",
        &key("alice", "pub"),
        "--rekor-key",
        rekor.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}
