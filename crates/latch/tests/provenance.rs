//! Double verification at update time: the release key AND the provenance from the
//! expected workflow. With `[provenance]` in the profile, an image signed by the release
//! key alone (the scenario of a stolen key) is refused by every command, naming the
//! missing half; provenance from another repository, another workflow or a disallowed
//! ref is refused the same way; with both, the image is accepted, the attestation is
//! stored and re-verified offline by `verify-local`, and it travels in air-gap archives.
//!
//! Attestations are minted by the testkit's Sigstore (its own CA and Rekor key, in a
//! `trusted_root.json` the profile names) and published both ways they are in the wild:
//! a GitHub `attest-build-provenance` bundle as an OCI referrer (SLSA v1), and an
//! slsa-github-generator `.att` layer (SLSA v0.2), on the real local registry.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{World, now};
use latch::oci::{Digest, ImageManifest, ManifestBytes, media_types as mt};
use latch::profile::ProvenanceSection;
use latch::registry::NoProgress;
use latch::sigstore::provenance::{SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02};
use latch::{Error, Overrides, Updater, UpgradeOptions};
use latch_testkit::sigstore::{
    Leaf, TestSigstore, slsa_v1_predicate, slsa_v02_predicate, statement,
};

const REPO: &str = "freedomofpress/dangerzone-image";
const WORKFLOW: &str = ".github/workflows/release.yml";
const MAIN: &str = "refs/heads/main";
const GENERATOR: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0";

struct Prov {
    w: World,
    sigstore: TestSigstore,
    root: PathBuf,
}

impl Prov {
    fn new() -> Prov {
        let w = World::new();
        let sigstore = TestSigstore::new();
        let root = w.tmp.path().join("trusted_root.json");
        std::fs::write(&root, sigstore.trusted_root_json()).unwrap();
        Prov { w, sigstore, root }
    }

    fn requirement(&self) -> ProvenanceSection {
        ProvenanceSection {
            repository: REPO.into(),
            workflow: WORKFLOW.into(),
            refs: vec![MAIN.into()],
            ref_pattern: Some("refs/tags/v[0-9]+\\.[0-9]+\\.[0-9]+".into()),
            builder_id: None,
            trusted_root: Some(self.root.display().to_string()),
            issuer: None,
        }
    }

    fn overrides(&self, data: &str) -> Overrides {
        Overrides {
            data_dir: Some(self.w.tmp.path().join(data)),
            provenance: Some(self.requirement()),
            ..self.w.overrides()
        }
    }

    fn updater(&self, data: &str) -> Updater {
        self.w.updater_with(self.overrides(data))
    }

    /// Attaches SLSA v1 provenance for `digest` as a referrer, built by `repo`'s
    /// `workflow` at `git_ref`.
    async fn attest(&self, digest: &Digest, repo: &str, workflow: &str, git_ref: &str) {
        let payload = statement(
            &digest.to_string(),
            SLSA_PROVENANCE_V1,
            slsa_v1_predicate(repo, workflow, git_ref),
        );
        let leaf = Leaf::github(repo, workflow, git_ref, "push", now() - 3700, None);
        let bundle = self.sigstore.dsse_bundle(&leaf, &payload, now() - 3600);
        let reference = self.w.reference("latest").with_digest(digest.clone());
        let subject = self
            .w
            .client
            .get_manifest(&reference)
            .await
            .unwrap()
            .descriptor();
        latch::sources::attach::attach_bundle(
            &self.w.client,
            &reference,
            &subject,
            &latch::sources::attach::BundleArtifact::dsse(
                bundle.as_bytes(),
                SLSA_PROVENANCE_V1,
                "2026-01-01T00:00:00Z",
            ),
            latch::sources::contention::Contention::default(),
        )
        .await
        .unwrap();
    }

    /// Pushes slsa-github-generator's `.att` manifest for `digest` (SLSA v0.2, signed by
    /// the generator's reusable workflow in the caller's name) at `git_ref`.
    async fn attest_att(&self, digest: &Digest, git_ref: &str) {
        let payload = statement(
            &digest.to_string(),
            SLSA_PROVENANCE_V02,
            slsa_v02_predicate(REPO, WORKFLOW, git_ref, GENERATOR),
        );
        let leaf = Leaf::github(
            REPO,
            WORKFLOW,
            git_ref,
            "push",
            now() - 3700,
            Some(GENERATOR),
        );
        let (blob, annotations) =
            self.sigstore
                .att_layer(&leaf, &payload, now() - 3600, SLSA_PROVENANCE_V02);
        let repo = self.w.reference("latest").repository_only();
        let client = &self.w.client;
        let config = client
            .push_blob_bytes(&repo, mt::OCI_CONFIG, bytes::Bytes::from_static(b"{\"architecture\":\"\",\"os\":\"\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{}}"))
            .await
            .unwrap();
        let mut layer = client
            .push_blob_bytes(
                &repo,
                "application/vnd.dsse.envelope.v1+json",
                bytes::Bytes::from(blob),
            )
            .await
            .unwrap();
        layer.annotations = Some(annotations.into_iter().collect::<BTreeMap<_, _>>());
        let m = ManifestBytes::from_image(&ImageManifest {
            schema_version: 2,
            media_type: Some(mt::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config,
            layers: vec![layer],
            subject: None,
            annotations: None,
        });
        client
            .put_manifest(&repo, &format!("{}.att", digest.tag_form()), &m)
            .await
            .unwrap();
    }
}

/// The refusal of the provenance half: signed well enough, provenance missing; the
/// message and the verdict say which half and why.
fn missing_provenance(result: Result<impl std::fmt::Debug, Error>, why: &str, what: &str) {
    match result {
        Err(e @ Error::NoProvenance { .. }) => {
            assert_eq!(e.kind(), "no-provenance");
            let msg = e.to_string();
            assert!(msg.contains("not built where required"), "{what}: {msg}");
            assert!(msg.contains(why), "{what}: expected {why:?} in {msg}");
            let verdict = e.verdict().unwrap();
            assert!(verdict.signed(), "{what}: the signature half held");
            assert!(!verdict.trusted);
            let p = verdict.provenance.as_ref().unwrap();
            assert!(!p.satisfied);
            assert!(p.required[0].contains(REPO), "{:?}", p.required);
            assert_eq!(e.details().unwrap()["provenance"]["satisfied"], false);
        }
        other => panic!("{what}: expected a provenance refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_release_key_alone_is_refused_by_every_command() {
    let p = Prov::new();
    let v1 = p.w.publish(1, 100, "1").await;
    let u = p.updater("data");
    missing_provenance(
        u.upgrade(&UpgradeOptions::default(), &NoProgress).await,
        "none found",
        "upgrade",
    );
    missing_provenance(u.check(true).await, "none found", "check");
    missing_provenance(u.store_signatures().await, "none found", "store-signatures");
    let archive = p.w.tmp.path().join("a.tar");
    missing_provenance(
        u.prepare_archive(None, &archive, false, &NoProgress).await,
        "none found",
        "prepare-archive",
    );
    assert!(!archive.exists());
    // `install` looks at the registry, is refused, and installs nothing.
    let r = u.install(true, &NoProgress).await.unwrap();
    assert_eq!(r.choice, "installed");
    assert!(
        r.remote_skipped
            .as_deref()
            .is_some_and(|s| s.contains("not built where required")),
        "{r:?}"
    );
    assert!(matches!(
        u.verify_local(false).await,
        Err(Error::NotInstalled { .. })
    ));
    // An archive prepared by an installation that does not require provenance is
    // refused by one that does.
    let lax = p.w.updater_with(Overrides {
        data_dir: Some(p.w.tmp.path().join("lax")),
        ..p.w.overrides()
    });
    lax.prepare_archive(None, &archive, false, &NoProgress)
        .await
        .unwrap();
    missing_provenance(
        u.load_archive(&archive, &UpgradeOptions::default()).await,
        "none found",
        "load-archive",
    );
    // status says what is required.
    let s = u.status().await.unwrap();
    assert_eq!(s.provenance.len(), 2, "{:?}", s.provenance);
    assert!(s.provenance[0].contains(&format!(
        "repository {REPO}, workflow {WORKFLOW}, ref {MAIN}"
    )));
    assert!(
        s.provenance[1].contains("/refs/tags/v"),
        "{:?}",
        s.provenance
    );
    let _ = v1;
}

#[tokio::test]
async fn provenance_from_elsewhere_is_refused_naming_the_claim() {
    let p = Prov::new();
    let u = p.updater("data");
    for (seed, repo, workflow, git_ref, claim) in [
        (
            1,
            "freedomofpress/dangerzone",
            WORKFLOW,
            MAIN,
            "certificate identity (SAN)",
        ),
        (
            2,
            REPO,
            ".github/workflows/other.yml",
            MAIN,
            "certificate identity (SAN)",
        ),
        (
            3,
            REPO,
            WORKFLOW,
            "refs/heads/dev",
            "certificate identity (SAN)",
        ),
        (
            4,
            REPO,
            WORKFLOW,
            "refs/tags/v1.2",
            "certificate identity (SAN)",
        ),
    ] {
        let d =
            p.w.publish(seed, 100 + seed as i64, &seed.to_string())
                .await;
        p.attest(&d, repo, workflow, git_ref).await;
        missing_provenance(
            u.upgrade(&UpgradeOptions::default(), &NoProgress).await,
            claim,
            &format!("{repo} {workflow} {git_ref}"),
        );
        missing_provenance(u.check(true).await, claim, "check");
    }
    // Provenance for another digest (the platform manifest, say) does not count for the
    // signed one.
    let d = p.w.publish(9, 109, "9").await;
    let other = p.w.publish(10, 110, "10").await;
    p.w.retag_latest(&d).await;
    let payload = statement(
        &other.to_string(),
        SLSA_PROVENANCE_V1,
        slsa_v1_predicate(REPO, WORKFLOW, MAIN),
    );
    let leaf = Leaf::github(REPO, WORKFLOW, MAIN, "push", now() - 3700, None);
    let bundle = p.sigstore.dsse_bundle(&leaf, &payload, now() - 3600);
    let reference = p.w.reference("latest").with_digest(d.clone());
    let subject =
        p.w.client
            .get_manifest(&reference)
            .await
            .unwrap()
            .descriptor();
    latch::sources::attach::attach_bundle(
        &p.w.client,
        &reference,
        &subject,
        &latch::sources::attach::BundleArtifact::dsse(
            bundle.as_bytes(),
            SLSA_PROVENANCE_V1,
            "2026-01-01T00:00:00Z",
        ),
        latch::sources::contention::Contention::default(),
    )
    .await
    .unwrap();
    missing_provenance(
        u.upgrade(&UpgradeOptions::default(), &NoProgress).await,
        "statement subject",
        "another digest",
    );
}

#[tokio::test]
async fn both_halves_install_verify_offline_and_travel_in_archives() {
    let p = Prov::new();
    let v1 = p.w.publish(1, 100, "1").await;
    p.attest(&v1, REPO, WORKFLOW, MAIN).await;
    // Another OIDC issuer required (a GitHub Enterprise Server's): GitHub's workflow
    // certificate does not do.
    let mut elsewhere = p.overrides("ghes");
    if let Some(req) = elsewhere.provenance.as_mut() {
        req.issuer = Some("https://ghe.example.com/_services/token".into());
    }
    missing_provenance(
        p.w.updater_with(elsewhere)
            .upgrade(&UpgradeOptions::default(), &NoProgress)
            .await,
        "issuer",
        "another issuer",
    );
    let u = p.updater("data");
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, v1);
    let prov = r.verdict.provenance.as_ref().unwrap();
    assert!(prov.satisfied);
    let accepted = prov.accepted.as_ref().unwrap();
    assert!(
        accepted
            .claims
            .iter()
            .any(|c| c.name.ends_with("workflow.ref") && c.value == MAIN),
        "{:?}",
        accepted.claims
    );
    // verify-local re-verifies the stored attestation, offline.
    let local = u.verify_local(true).await.unwrap();
    assert!(local.verdict.provenance.as_ref().unwrap().satisfied);
    let stored =
        p.w.tmp
            .path()
            .join("data/signatures/attestations")
            .join(format!("{}.json", v1.hex()));
    assert!(stored.exists());
    let kept = std::fs::read(&stored).unwrap();
    // Without it (or with it damaged), verify-local refuses naming the provenance.
    std::fs::remove_file(&stored).unwrap();
    missing_provenance(u.verify_local(false).await, "none found", "verify-local");
    std::fs::write(&stored, &kept).unwrap();
    u.verify_local(false).await.unwrap();

    // v2 with slsa-github-generator's `.att` on a release tag (the ref pattern).
    let v2 = p.w.publish(2, 200, "2").await;
    p.attest_att(&v2, "refs/tags/v1.2.3").await;
    let r = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(r.digest, v2);
    assert!(
        r.verdict
            .provenance
            .as_ref()
            .unwrap()
            .accepted
            .as_ref()
            .unwrap()
            .location
            .contains(".att layer 0")
    );
    u.verify_local(true).await.unwrap();

    // The air gap: prepared by a connected installation, loaded by one that requires
    // provenance and has never seen the registry.
    let archive = p.w.tmp.path().join("v2.tar");
    let report = u
        .prepare_archive(None, &archive, false, &NoProgress)
        .await
        .unwrap();
    assert!(report.attestations);
    let offline = p.updater("offline");
    let r = offline
        .load_archive(&archive, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!(r.digest, v2);
    offline.verify_local(true).await.unwrap();

    // A referrer attestation travels too.
    let v3 = p.w.publish(3, 300, "3").await;
    p.attest(&v3, REPO, WORKFLOW, MAIN).await;
    let archive3 = p.w.tmp.path().join("v3.tar");
    u.prepare_archive(None, &archive3, false, &NoProgress)
        .await
        .unwrap();
    let r = offline
        .load_archive(&archive3, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!(r.digest, v3);
    assert!(
        offline
            .verify_local(true)
            .await
            .unwrap()
            .verdict
            .provenance
            .unwrap()
            .satisfied
    );
}
