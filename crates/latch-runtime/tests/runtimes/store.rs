//! The built-in store, filled from a real docker-registry and from OCI layouts.

use std::fs;
use std::time::Instant;

use latch_oci::manifest::ANNOTATION_REF_NAME;
use latch_oci::{OciLayout, Platform, Reference};
use latch_registry::{NoProgress, Totals};
use latch_runtime::store::{ANNOTATION_PLATFORM, ANNOTATION_PLATFORM_MANIFEST};
use latch_runtime::{BuiltinStore, Runtime, RuntimeError};
use latch_testkit::{ImageBuilder, Registry};

use crate::common::{client, foreign_str, host_str};

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

fn store() -> (tempfile::TempDir, Runtime, BuiltinStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let rt = Runtime::parse(&format!("store:{}", path.display())).unwrap();
    (dir, rt, BuiltinStore::new(path))
}

fn blob_count(store: &BuiltinStore) -> usize {
    fs::read_dir(store.dir().join("blobs/sha256"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Pull of a multi-arch index by digest: the entry keeps the index digest (what is
/// signed) and records the platform manifest; only the host's platform is downloaded;
/// `verify` re-hashes everything and catches a flipped byte that `verify_sizes` cannot.
#[tokio::test]
async fn pull_multi_arch_keeps_both_digests_and_verify_catches_tampering() {
    let reg = Registry::start();
    let src = tempfile::tempdir().unwrap();
    let idx = ImageBuilder::new()
        .gzip_layer(300_000)
        .gzip_layer(2_000)
        .build_multi_arch(src.path(), "v1");
    let index_digest = idx.push(&reg.reference("app/multi:v1"));
    let mine = idx.image(&host_str());
    let other = idx.image(foreign_str());
    let (_d, rt, store) = store();
    assert_eq!(rt.check_available().await.unwrap().name, "store");
    assert!(rt.images(&r("x.io/none")).await.unwrap().is_empty());
    assert_eq!(rt.installed_digest(&r("x.io/none")).await.unwrap(), None);

    let repo = r(&reg.reference("app/multi"));
    let totals = Totals::default();
    let img = rt
        .pull(
            &repo.with_digest(index_digest.clone()),
            &client(),
            None,
            &totals,
        )
        .await
        .unwrap();
    assert_eq!(img.repository, repo.name());
    assert_eq!(
        img.digests,
        vec![index_digest.clone(), mine.digest().clone()]
    );
    assert_eq!(img.pinned, vec![index_digest.clone()]);
    assert!(img.tags.is_empty());
    assert_eq!(img.config_digest(), Some(mine.config_digest()));
    assert!(
        totals.done.load(std::sync::atomic::Ordering::Relaxed) >= mine.layers_size(),
        "progress was reported"
    );
    assert_eq!(
        rt.installed_digest(&repo).await.unwrap(),
        Some(index_digest.clone())
    );
    // Only the host's platform came down.
    let layout = store.layout().unwrap();
    for l in &mine.layers {
        assert!(layout.has_blob(&l.descriptor.digest, l.descriptor.size));
    }
    for l in &other.layers {
        assert!(!layout.blob_path(&l.descriptor.digest).exists());
    }
    // The entry, as another tool sees it.
    let entry = store.descriptor(&index_digest).unwrap();
    assert_eq!(
        entry.annotation(ANNOTATION_REF_NAME),
        Some(repo.with_digest(index_digest.clone()).to_string().as_str())
    );
    assert_eq!(
        entry.annotation(ANNOTATION_PLATFORM_MANIFEST),
        Some(mine.digest().to_string().as_str())
    );
    assert_eq!(
        entry.annotation(ANNOTATION_PLATFORM),
        Some(host_str().as_str())
    );
    assert_eq!(store.descriptor(mine.digest()).unwrap(), entry);

    let full = store.verify(&index_digest).await.unwrap();
    assert_eq!(full.platform_manifest, *mine.digest());
    assert_eq!(full.blobs, 2 + 1 + 2);
    assert_eq!(full.hashed_bytes, full.bytes);
    let fast = store.verify_sizes(mine.digest()).await.unwrap();
    assert_eq!(fast.digest, index_digest);
    assert!(fast.hashed_bytes < fast.bytes);

    // One flipped byte in a layer: the full check names the blob; the size check
    // cannot see it (documented).
    let layer = &mine.layers[0].descriptor;
    let path = layout.blob_path(&layer.digest);
    let mut bytes = fs::read(&path).unwrap();
    bytes[1000] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let err = store.verify(&index_digest).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Corrupt { digest, .. } if digest == &layer.digest),
        "{err}"
    );
    assert!(err.to_string().contains("hashes to"), "{err}");
    store.verify_sizes(&index_digest).await.unwrap();
    // Truncation is caught by both.
    fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let err = store.verify_sizes(&index_digest).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Corrupt { .. }), "{err}");
    // A tampered manifest is caught by both.
    let m = layout.blob_path(mine.digest());
    let mut mb = fs::read(&m).unwrap();
    mb[5] ^= 0x20;
    fs::write(&m, &mb).unwrap();
    assert!(store.verify_sizes(&index_digest).await.is_err());

    // A pull of the other platform of the same index replaces the entry's platform.
    let img2 = rt
        .pull(
            &repo.with_digest(index_digest.clone()),
            &client(),
            Some(&Platform::parse(foreign_str()).unwrap()),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(
        img2.digests,
        vec![index_digest.clone(), other.digest().clone()]
    );
    assert_eq!(rt.images(&repo).await.unwrap().len(), 1);
    store.verify(other.digest()).await.unwrap();
}

/// An upgrade as Dangerzone does it: two images, `installed` refuses the ambiguity,
/// `remove_others` keeps the new one, `gc` frees the old blobs; tags and removal.
#[tokio::test]
async fn upgrade_tag_remove_and_gc() {
    let reg = Registry::start();
    let src = tempfile::tempdir().unwrap();
    let v1 = ImageBuilder::new()
        .gzip_layer(50_000)
        .build(src.path(), "v1");
    let v2 = ImageBuilder::new()
        .gzip_layer(60_000)
        .build(src.path(), "v2");
    let d1 = v1.push(&reg.reference("app:v1"));
    let d2 = v2.push(&reg.reference("app:v2"));
    let (_d, rt, store) = store();
    let repo = r(&reg.reference("app"));
    let c = client();
    let i1 = rt
        .pull(&repo.with_digest(d1.clone()), &c, None, &NoProgress)
        .await
        .unwrap();
    assert_eq!(i1.digests, vec![d1.clone()]);
    rt.tag(&i1, &repo.with_tag("latest").unwrap())
        .await
        .unwrap();
    let i1 = rt.installed(&repo).await.unwrap().unwrap();
    assert_eq!(i1.tags, vec!["latest".to_owned()]);
    assert_eq!(i1.pinned, vec![d1.clone()]);
    // Tagging needs a tag and no digest.
    assert!(matches!(
        rt.tag(&i1, &repo).await,
        Err(RuntimeError::InvalidArgument(_))
    ));
    // Pull by tag is refused: runtimes pull by digest only.
    assert!(matches!(
        rt.pull(&repo.with_tag("v2").unwrap(), &c, None, &NoProgress)
            .await,
        Err(RuntimeError::InvalidArgument(_))
    ));
    rt.pull(&repo.with_digest(d2.clone()), &c, None, &NoProgress)
        .await
        .unwrap();
    let err = rt.installed_digest(&repo).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::SeveralImages { count: 2, .. }),
        "{err}"
    );
    let before = blob_count(&store);
    let removed = rt.remove_others(&repo, &d2).await.unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].pinned, vec![d1.clone()]);
    assert_eq!(rt.installed_digest(&repo).await.unwrap(), Some(d2.clone()));
    // v1's manifest, config and layer are gone.
    assert_eq!(blob_count(&store), before - 3);
    let layout = store.layout().unwrap();
    assert!(!layout.blob_path(&v1.layers[0].descriptor.digest).exists());
    store.verify(&d2).await.unwrap();
    assert!(matches!(
        store.verify(&d1).await,
        Err(RuntimeError::NotInstalled { .. })
    ));
    // Nothing more to collect.
    assert_eq!(rt.gc().await.unwrap().blobs_removed, 0);
    let i2 = rt.installed(&repo).await.unwrap().unwrap();
    rt.remove(&i2).await.unwrap();
    assert!(rt.images(&repo).await.unwrap().is_empty());
    assert_eq!(blob_count(&store), 0);
}

/// Loading from an OCI layout (air gap, layout mirror): an index gives the same entry
/// as a pull; a platform manifest gives an entry under its own digest; a corrupt source
/// blob is refused and nothing is installed.
#[tokio::test]
async fn load_oci_layout_index_platform_and_corrupt_source() {
    let src = tempfile::tempdir().unwrap();
    let idx = ImageBuilder::new()
        .gzip_layer(40_000)
        .build_multi_arch(src.path(), "v1");
    let layout = OciLayout::open(src.path()).unwrap();
    let (_d, rt, store) = store();
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
    let mine = idx.image(&host_str());
    assert_eq!(
        img.digests,
        vec![idx.digest().clone(), mine.digest().clone()]
    );
    assert_eq!(img.pinned, vec![idx.digest().clone()]);
    assert_eq!(img.tags, vec!["1.0".to_owned()]);
    assert_eq!(img.config_digest(), Some(mine.config_digest()));
    store.verify(idx.digest()).await.unwrap();

    // The foreign platform's manifest, loaded as such (what a Dangerzone archive holds).
    let other = idx.image(foreign_str());
    let img2 = rt
        .load_oci_layout(&layout, &other.descriptor(), &repo, None)
        .await
        .unwrap();
    assert_eq!(img2.digests, vec![other.digest().clone()]);
    assert_eq!(img2.pinned, vec![other.digest().clone()]);
    assert_eq!(rt.images(&repo).await.unwrap().len(), 2);
    // A target digest that is not the descriptor's is refused.
    assert!(matches!(
        rt.load_oci_layout(
            &layout,
            &other.descriptor(),
            &repo.with_digest(idx.digest().clone()),
            None
        )
        .await,
        Err(RuntimeError::InvalidArgument(_))
    ));

    // A corrupt layer in the source layout: refused, nothing named, store unchanged.
    let src2 = tempfile::tempdir().unwrap();
    let bad = ImageBuilder::new()
        .gzip_layer(10_000)
        .build(src2.path(), "bad");
    let p = &bad.layers[0].path;
    let mut b = fs::read(p).unwrap();
    let last = b.len() - 1;
    b[last] ^= 0xff;
    fs::write(p, &b).unwrap();
    let before = fs::read(store.dir().join("index.json")).unwrap();
    let err = rt
        .load_oci_layout(
            &OciLayout::open(src2.path()).unwrap(),
            &bad.manifest.descriptor(),
            &r("ghcr.io/example/bad:1"),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RuntimeError::Corrupt { .. }), "{err}");
    assert_eq!(fs::read(store.dir().join("index.json")).unwrap(), before);
    assert!(
        !store
            .layout()
            .unwrap()
            .blob_path(&bad.layers[0].descriptor.digest)
            .exists()
    );
    assert!(
        rt.images(&r("ghcr.io/example/bad"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// What an interrupted pull leaves (a staging entry, a partial download, an orphan
/// blob) is invisible to readers and removed by `gc`; foreign entries are kept.
#[tokio::test]
async fn gc_cleans_interrupted_pulls_and_keeps_foreign_entries() {
    let src = tempfile::tempdir().unwrap();
    let (_d, rt, store) = store();
    let a = ImageBuilder::new().gzip_layer(5_000).build(src.path(), "a");
    let repo = r("example.org/app");
    rt.load_oci_layout(
        &OciLayout::open(src.path()).unwrap(),
        &a.manifest.descriptor(),
        &repo,
        None,
    )
    .await
    .unwrap();
    let layout = store.layout().unwrap();
    // A foreign entry (another tool's name) with its own image.
    let f = ImageBuilder::new().gzip_layer(3_000).write(&layout);
    layout.set_ref(f.descriptor(), Some("other-tool")).unwrap();
    // An interrupted pull: staging entry, its blobs, a partial file, an orphan blob.
    let s = ImageBuilder::new().gzip_layer(4_000).write(&layout);
    layout
        .set_ref(s.descriptor(), Some("latch-staging/123-abc"))
        .unwrap();
    let orphan = layout.write_blob(b"orphan").unwrap();
    fs::write(layout.partial_dir().unwrap().join("x"), b"partial").unwrap();

    let imgs = rt.images(&repo).await.unwrap();
    assert_eq!(imgs.len(), 1);
    let report = rt.gc().await.unwrap();
    assert_eq!(report.entries_dropped, 1);
    assert_eq!(report.blobs_removed, 3 + 1, "{report:?}");
    assert!(!layout.blob_path(&orphan).exists());
    assert!(layout.blob_path(f.digest()).exists());
    assert!(layout.blob_path(&f.layers[0].descriptor.digest).exists());
    assert_eq!(
        fs::read_dir(layout.root().join(".partial"))
            .unwrap()
            .count(),
        0
    );
    store.verify(a.digest()).await.unwrap();
    // A corrupt manifest that an entry needs stops gc before it deletes anything.
    let orphan2 = layout.write_blob(b"orphan2").unwrap();
    let m = layout.blob_path(a.digest());
    let mut mb = fs::read(&m).unwrap();
    mb[3] ^= 1;
    fs::write(&m, mb).unwrap();
    let err = rt.gc().await.unwrap_err();
    assert!(err.to_string().contains("gc refused"), "{err}");
    assert!(layout.blob_path(&orphan2).exists());
}

/// A directory that is not a store is never turned into one; the store is cheap to
/// query (what `verify-local` does with the built-in store).
#[tokio::test]
async fn refuses_foreign_directories_and_opens_cheaply() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let rt = Runtime::parse(&format!("store:{}", dir.path().display())).unwrap();
    assert!(rt.images(&r("a.io/b")).await.is_err());
    assert!(rt.check_available().await.is_err());
    let src = tempfile::tempdir().unwrap();
    let a = ImageBuilder::new().gzip_layer(1_000).build(src.path(), "a");
    let err = rt
        .load_oci_layout(
            &OciLayout::open(src.path()).unwrap(),
            &a.manifest.descriptor(),
            &r("a.io/b"),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RuntimeError::BadStore { .. }), "{err}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

    // Cheap: installed_digest + verify_sizes of a 30 MB image.
    let (_d, rt, store) = store();
    let big = ImageBuilder::new()
        .tar_layer(30 << 20)
        .build_multi_arch(src.path(), "big");
    let repo = r("a.io/big");
    rt.load_oci_layout(
        &OciLayout::open(src.path()).unwrap(),
        &big.index.descriptor(),
        &repo,
        None,
    )
    .await
    .unwrap();
    let t = Instant::now();
    let rt2 = Runtime::parse(&format!("store:{}", store.dir().display())).unwrap();
    let d = rt2.installed_digest(&repo).await.unwrap().unwrap();
    let Runtime::Store(s2) = &rt2 else {
        unreachable!()
    };
    s2.verify_sizes(&d).await.unwrap();
    let fast = t.elapsed();
    let t = Instant::now();
    s2.verify(&d).await.unwrap();
    let full = t.elapsed();
    eprintln!("store: installed_digest + verify_sizes {fast:?}; full verify of 30 MB {full:?}");
    assert!(fast.as_millis() < 50, "{fast:?}");
    assert_eq!(d, *big.digest());
}

/// Two pulls into one store at once are serialised by its lock; a pull cancelled in the
/// middle of a download (its future dropped, as when the process is killed) leaves the
/// previous image installed and verifiable, and `gc` removes what it left.
#[tokio::test]
async fn concurrent_pulls_and_a_cancelled_pull_leave_the_store_consistent() {
    struct Trip(tokio::sync::Notify);
    impl latch_registry::Progress for Trip {
        fn blob_progress(&self, _: &latch_oci::Digest, _: u64) {
            self.0.notify_one();
        }
    }
    let reg = Registry::start();
    let src = tempfile::tempdir().unwrap();
    let a = ImageBuilder::new()
        .gzip_layer(30_000)
        .build(src.path(), "a");
    let b = ImageBuilder::new()
        .gzip_layer(40_000)
        .build(src.path(), "b");
    let big = ImageBuilder::new()
        .tar_layer(64 << 20)
        .build(src.path(), "big");
    let da = a.push(&reg.reference("app:a"));
    let db = b.push(&reg.reference("app:b"));
    let dbig = big.push(&reg.reference("app:big"));
    let (_d, rt, store) = store();
    let repo = r(&reg.reference("app"));
    let (c1, c2) = (client(), client());
    let ra = repo.with_digest(da.clone());
    let rb = repo.with_digest(db.clone());
    let (x, y) = tokio::join!(
        rt.pull(&ra, &c1, None, &NoProgress),
        rt.pull(&rb, &c2, None, &NoProgress)
    );
    x.unwrap();
    y.unwrap();
    assert_eq!(rt.images(&repo).await.unwrap().len(), 2);
    rt.remove_others(&repo, &da).await.unwrap();
    let index_before = fs::read(store.dir().join("index.json")).unwrap();

    let trip = Trip(tokio::sync::Notify::new());
    let rbig = repo.with_digest(dbig.clone());
    let cancelled = tokio::select! {
        biased;
        _ = trip.0.notified() => true,
        r = rt.pull(&rbig, &c1, None, &trip) => { r.unwrap(); false }
    };
    assert!(cancelled, "the pull finished before it could be cancelled");
    assert_eq!(
        fs::read(store.dir().join("index.json")).unwrap(),
        index_before
    );
    assert_eq!(rt.installed_digest(&repo).await.unwrap(), Some(da.clone()));
    store.verify(&da).await.unwrap();
    rt.gc().await.unwrap();
    let layout = store.layout().unwrap();
    assert!(!layout.blob_path(&big.layers[0].descriptor.digest).exists());
    // The lock was released with the dropped future: the next pull goes through.
    let img = rt.pull(&rbig, &c1, None, &NoProgress).await.unwrap();
    assert_eq!(img.pinned, vec![dbig]);
}
