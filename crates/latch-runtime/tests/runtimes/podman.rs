//! podman 4.3 with isolated storage, pulling from a loopback docker-registry and loading
//! oci-archives.

use latch_oci::{OciLayout, Reference};
use latch_registry::NoProgress;
use latch_runtime::{CliKind, CliRuntime, Runtime, RuntimeError};
use latch_testkit::{ImageBuilder, Registry};

use crate::common::{IsolatedPodman, client, foreign_str, host_str, need, runs};

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

/// Pull of a multi-arch index by digest: podman reports the index digest as the
/// image's digest and both the index and the platform manifest in `RepoDigests`; the
/// image is untagged and named `repo@index`, as Dangerzone expects.
#[tokio::test]
async fn pull_multi_arch_by_digest_reports_both_digests() {
    let Some(p) = IsolatedPodman::new() else {
        return;
    };
    let rt = &p.runtime;
    let info = rt.check_available().await.unwrap();
    eprintln!("podman {}", info.version);
    assert_eq!(info.name, "podman");
    let reg = Registry::start();
    let src = tempfile::tempdir().unwrap();
    let idx = ImageBuilder::new()
        .gzip_layer(100_000)
        .build_multi_arch(src.path(), "v1");
    let index_digest = idx.push(&reg.reference("app/multi:v1"));
    let mine = idx.image(&host_str());
    let repo = r(&reg.reference("app/multi"));
    assert_eq!(rt.installed_digest(&repo).await.unwrap(), None);
    let img = rt
        .pull(
            &repo.with_digest(index_digest.clone()),
            &client(),
            None,
            &NoProgress,
        )
        .await
        .unwrap();
    eprintln!("podman after pull of the index: {img:?}");
    assert_eq!(
        img.digests,
        vec![index_digest.clone(), mine.digest().clone()]
    );
    assert_eq!(img.pinned, vec![index_digest.clone()]);
    assert!(img.tags.is_empty());
    assert_eq!(img.config_digest(), Some(mine.config_digest()));
    assert_eq!(
        rt.installed_digest(&repo).await.unwrap(),
        Some(index_digest.clone())
    );
    // Pulling the platform manifest's digest too: same image (same config), now
    // pinned by both, so the Dangerzone-style check refuses the ambiguity.
    rt.pull(
        &repo.with_digest(mine.digest().clone()),
        &client(),
        None,
        &NoProgress,
    )
    .await
    .unwrap();
    let all = rt.images(&repo).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].pinned.len(), 2);
    assert!(matches!(
        rt.installed_digest(&repo).await,
        Err(RuntimeError::SeveralDigests { .. })
    ));
    rt.remove_others(&repo, &index_digest).await.unwrap();
    assert_eq!(
        rt.installed_digest(&repo).await.unwrap(),
        Some(index_digest.clone())
    );
    // A digest the registry does not have: podman's error, with its command line.
    let missing = repo.with_digest(latch_oci::Digest::sha256_of(b"nope"));
    let err = rt
        .pull(&missing, &client(), None, &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, RuntimeError::Failed { .. }), "{err}");
    assert!(err.to_string().contains("podman --root"), "{err}");
}

/// Podman keys images by config: a second manifest with the same config (here: same
/// layers, another annotation) merges into the old image, whose `Digest` stays the OLD
/// digest even after the old name is removed. Dangerzone's `podman images --format
/// {{.Digest}}` would report the old digest; Latch's `pinned` gives the new one.
#[tokio::test]
async fn same_config_merges_and_podman_digest_goes_stale() {
    let Some(p) = IsolatedPodman::new() else {
        return;
    };
    let rt = &p.runtime;
    let reg = Registry::start();
    let src = tempfile::tempdir().unwrap();
    let base = ImageBuilder::new().seed(42).gzip_layer(20_000);
    let a = base
        .clone()
        .annotation("release", "1")
        .build(src.path(), "a");
    let b = base.annotation("release", "2").build(src.path(), "b");
    assert_eq!(a.config_digest(), b.config_digest());
    assert_ne!(a.digest(), b.digest());
    let da = a.push(&reg.reference("app:a"));
    let db = b.push(&reg.reference("app:b"));
    let repo = r(&reg.reference("app"));
    let c = client();
    rt.pull(&repo.with_digest(da.clone()), &c, None, &NoProgress)
        .await
        .unwrap();
    let img = rt
        .pull(&repo.with_digest(db.clone()), &c, None, &NoProgress)
        .await
        .unwrap();
    eprintln!("podman after pulls of two manifests with one config: {img:?}");
    assert_eq!(
        img.digests[0], da,
        "podman's Digest is the first one pulled"
    );
    assert!(img.holds(&db));
    assert_eq!(rt.images(&repo).await.unwrap().len(), 1);
    let removed = rt.remove_others(&repo, &db).await.unwrap();
    assert_eq!(removed.len(), 1);
    let img = rt.installed(&repo).await.unwrap().unwrap();
    eprintln!("podman after removing the old name: {img:?}");
    assert_eq!(img.pinned, vec![db.clone()]);
    assert_eq!(
        img.digests[0], da,
        "podman still reports the old digest first"
    );
    assert_eq!(rt.installed_digest(&repo).await.unwrap(), Some(db));
}

/// Loads from an OCI layout: an index (host platform) ends up exactly as after a pull
/// (both digests, pinned by the index); tagging works; a foreign platform is loaded as
/// its platform manifest; a single-image layout is pinned by its manifest digest.
#[tokio::test]
async fn load_oci_layout_like_a_pull() {
    let Some(p) = IsolatedPodman::new() else {
        return;
    };
    let rt = &p.runtime;
    let src = tempfile::tempdir().unwrap();
    let idx = ImageBuilder::new()
        .gzip_layer(30_000)
        .build_multi_arch(src.path(), "v1");
    let layout = OciLayout::open(src.path()).unwrap();
    let repo = r("ghcr.io/example/app");
    let img = rt
        .load_oci_layout(
            &layout,
            &idx.index.descriptor(),
            &repo.with_tag("1.0").unwrap(),
            None,
        )
        .await
        .unwrap();
    eprintln!("podman after load of an index: {img:?}");
    let mine = idx.image(&host_str());
    assert_eq!(
        img.digests,
        vec![idx.digest().clone(), mine.digest().clone()]
    );
    assert_eq!(img.pinned, vec![idx.digest().clone()]);
    assert_eq!(img.tags, vec!["1.0".to_owned()]);
    assert_eq!(img.config_digest(), Some(mine.config_digest()));
    assert_eq!(
        rt.installed_digest(&repo).await.unwrap(),
        Some(idx.digest().clone())
    );

    let other = idx.image(foreign_str());
    let repo2 = r("ghcr.io/example/foreign");
    let img = rt
        .load_oci_layout(
            &layout,
            &idx.index.descriptor(),
            &repo2,
            Some(&other.platform),
        )
        .await
        .unwrap();
    eprintln!("podman after load of a foreign platform: {img:?}");
    assert_eq!(img.digests, vec![other.digest().clone()]);
    assert_eq!(img.pinned, vec![other.digest().clone()]);
    assert_eq!(img.config_digest(), Some(other.config_digest()));

    let single = ImageBuilder::new().gzip_layer(1_000).build(src.path(), "s");
    let repo3 = r("ghcr.io/example/single");
    let img = rt
        .load_oci_layout(
            &OciLayout::open(src.path()).unwrap(),
            &single.manifest.descriptor(),
            &repo3,
            None,
        )
        .await
        .unwrap();
    assert_eq!(img.digests, vec![single.digest().clone()]);
    assert!(img.tags.is_empty());
    // `podman load -i` of what Latch wrote needs nothing else: tag, then remove.
    rt.tag(&img, &repo3.with_tag("latest").unwrap())
        .await
        .unwrap();
    let img = rt.installed(&repo3).await.unwrap().unwrap();
    assert_eq!(img.tags, vec!["latest".to_owned()]);
    rt.remove(&img).await.unwrap();
    assert!(rt.images(&repo3).await.unwrap().is_empty());
    // The other repositories are untouched.
    assert_eq!(rt.images(&repo).await.unwrap().len(), 1);
}

/// Two different images in one repository: `installed` refuses, `remove_others` keeps
/// the one asked for and deletes the other with its tag; `remove` then empties it.
#[tokio::test]
async fn tag_remove_and_remove_others() {
    let Some(p) = IsolatedPodman::new() else {
        return;
    };
    let rt = &p.runtime;
    let reg = Registry::start();
    let src = tempfile::tempdir().unwrap();
    let v1 = ImageBuilder::new()
        .gzip_layer(10_000)
        .build(src.path(), "v1");
    let v2 = ImageBuilder::new()
        .gzip_layer(11_000)
        .build(src.path(), "v2");
    let d1 = v1.push(&reg.reference("app:v1"));
    let d2 = v2.push(&reg.reference("app:v2"));
    let repo = r(&reg.reference("app"));
    let c = client();
    let i1 = rt
        .pull(&repo.with_digest(d1.clone()), &c, None, &NoProgress)
        .await
        .unwrap();
    rt.tag(&i1, &repo.with_tag("latest").unwrap())
        .await
        .unwrap();
    rt.pull(&repo.with_digest(d2.clone()), &c, None, &NoProgress)
        .await
        .unwrap();
    let err = rt.installed(&repo).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::SeveralImages { count: 2, .. }),
        "{err}"
    );
    let removed = rt.remove_others(&repo, &d2).await.unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].tags, vec!["latest".to_owned()]);
    let i2 = rt.installed(&repo).await.unwrap().unwrap();
    assert_eq!(i2.pinned, vec![d2.clone()]);
    assert!(i2.tags.is_empty());
    rt.remove(&i2).await.unwrap();
    assert!(rt.images(&repo).await.unwrap().is_empty());
}

/// A missing program is a typed error with a clear message.
#[tokio::test]
async fn missing_program_is_reported() {
    let rt = Runtime::Podman(CliRuntime::new(CliKind::Podman, "latch-no-podman-here"));
    let err = rt.check_available().await.unwrap_err();
    assert!(matches!(err, RuntimeError::NotFound { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("latch-no-podman-here not found on PATH"),
        "{err}"
    );
    // And podman itself, when present, says its version.
    if need(runs("podman"), "podman is not installed") {
        let v = Runtime::parse("podman")
            .unwrap()
            .check_available()
            .await
            .unwrap();
        assert!(!v.version.is_empty());
    }
}
