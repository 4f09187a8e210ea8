//! Every kind of source: OCI layouts, oci-archive and docker-archive tars, the built-in
//! store, a registry.

mod common;

use std::path::Path;

use common::*;
use latch_diff::source::SourceKind;
use latch_diff::{Mode, Source};

fn content() -> Vec<E> {
    vec![
        dir("etc"),
        file("etc/a", b"alpha\n"),
        file("bin/b", b"beta").mode(0o755),
    ]
}

/// Tars a directory (an OCI layout) into an oci-archive.
fn oci_archive(layout: &Path, out: &Path) {
    let f = std::fs::File::create(out).unwrap();
    let mut b = tar::Builder::new(f);
    b.append_dir_all(".", layout).unwrap();
    b.into_inner().unwrap();
}

/// A docker-archive of an image written by [`Img`], with uncompressed layers named
/// the old way (`<id>/layer.tar`) or the podman way (`<hex>.tar`).
fn docker_archive(img: &Img, out: &Path, legacy_names: bool) {
    let dir = tempfile::tempdir().unwrap();
    let layout = latch_oci::OciLayout::create(dir.path()).unwrap();
    let m = img.write(&layout);
    let m = m.as_image().unwrap();
    let config = layout.read_blob(&m.config.digest, 1 << 20).unwrap();
    let f = std::fs::File::create(out).unwrap();
    let mut b = tar::Builder::new(f);
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    let config_name = format!("{}.json", m.config.digest.hex());
    add(&config_name, &config);
    let mut layers = Vec::new();
    for (i, (t, _)) in img.layers.iter().enumerate() {
        let name = if legacy_names {
            format!("{:064x}/layer.tar", i + 1)
        } else {
            format!("{}.tar", latch_oci::Digest::sha256_of(t).hex())
        };
        add(&name, t);
        layers.push(name);
    }
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": ["localhost/app:v1"], "Layers": layers}]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap();
}

#[test]
fn archives_read_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let img = Img::new()
        .layer(&content(), Comp::Gzip)
        .layer(&[file("etc/b", b"2")], Comp::Zstd);
    img.build(&dir.path().join("layout"), "v1");
    let layout = open(&layout_arg(&dir.path().join("layout"), "v1"));
    assert_eq!(layout.kind, SourceKind::OciLayout);
    // oci-archive: by prefix, by detection, with a name.
    let oa = dir.path().join("img.oci.tar");
    oci_archive(&dir.path().join("layout"), &oa);
    for arg in [
        format!("oci-archive:{}", oa.display()),
        oa.display().to_string(),
        format!("oci-archive:{}:v1", oa.display()),
    ] {
        let a = open(&arg);
        assert_eq!(a.kind, SourceKind::OciArchive, "{arg}");
        let r = diff_mode(&layout, &a, Mode::Strict);
        assert!(r.equal, "{arg}: {}", r.table());
    }
    // docker-archive: layers uncompressed, no manifest; semantic equal, strict not.
    for legacy in [false, true] {
        let da = dir.path().join(format!("img-{legacy}.docker.tar"));
        let unc = Img {
            layers: img
                .layers
                .iter()
                .map(|(t, _)| (t.clone(), Comp::None))
                .collect(),
            ..img.clone()
        };
        docker_archive(&unc, &da, legacy);
        for arg in [
            format!("docker-archive:{}", da.display()),
            da.display().to_string(),
            format!("docker-archive:{}:app:v1", da.display()),
        ] {
            let d = open(&arg);
            assert_eq!(d.kind, SourceKind::DockerArchive);
            assert!(d.top.is_none());
            let layer = &d.entries[0].image.as_ref().unwrap().layers[0];
            assert_eq!(layer.digest.is_some(), !legacy, "{arg}");
            let r = diff_mode(&layout, &d, Mode::Semantic);
            assert!(r.equal, "{arg}: {}", r.table());
            let r = diff_mode(&layout, &d, Mode::Strict);
            assert!(
                r.of_kind(latch_diff::Kind::Manifest)
                    .any(|x| x.b.as_deref() == Some("none (docker-archive)")),
                "{}",
                r.table()
            );
        }
        let e = try_open(&format!("docker-archive:{}:other:v2", da.display())).unwrap_err();
        assert!(e.to_string().contains("no image tagged"), "{e}");
    }
    // A corrupt member of an archive is caught by its digest.
    let bytes = std::fs::read(&oa).unwrap();
    let config_pos = bytes.windows(8).position(|w| w == b"\"os\":\"li").unwrap();
    let mut bad = bytes.clone();
    bad[config_pos + 6] = b'L';
    let ob = dir.path().join("bad.tar");
    std::fs::write(&ob, bad).unwrap();
    let e = try_open(ob.to_str().unwrap()).unwrap_err();
    assert!(
        matches!(e, latch_diff::DiffError::DigestMismatch { .. }),
        "{e}"
    );
}

#[test]
fn builtin_store() {
    let dir = tempfile::tempdir().unwrap();
    let img = Img::new().layer(&content(), Comp::Gzip);
    let m = img.build(&dir.path().join("layout"), "v1");
    let store_dir = dir.path().join("store");
    let store = latch_runtime::BuiltinStore::new(&store_dir);
    let layout = latch_oci::OciLayout::open(dir.path().join("layout")).unwrap();
    let target = latch_oci::Reference::parse("example.org/app:v1").unwrap();
    rt().block_on(store.load_oci_layout(&layout, &m.descriptor(), &target, None))
        .unwrap();
    let src = open(&layout_arg(&dir.path().join("layout"), "v1"));
    let name = format!("example.org/app@{}", m.digest());
    for arg in [
        format!("store:{}", store_dir.display()),
        format!("store:{}:{name}", store_dir.display()),
        format!("store:{}:{}", store_dir.display(), m.digest()),
        format!("store:{}:example.org/app", store_dir.display()),
        format!("store:{}:example.org/app:v1", store_dir.display()),
    ] {
        let s = open(&arg);
        assert_eq!(s.kind, SourceKind::Store);
        let r = diff_mode(&src, &s, Mode::Semantic);
        assert!(r.equal, "{arg}: {}", r.table());
    }
    // A second image: the store must be told which.
    let other = Img::new().layer(&[file("x", b"y")], Comp::Gzip);
    let m2 = other.build(&dir.path().join("layout2"), "v2");
    let layout2 = latch_oci::OciLayout::open(dir.path().join("layout2")).unwrap();
    let target2 = latch_oci::Reference::parse("example.org/app:v2").unwrap();
    rt().block_on(store.load_oci_layout(&layout2, &m2.descriptor(), &target2, None))
        .unwrap();
    let e = try_open(&format!("store:{}", store_dir.display())).unwrap_err();
    assert!(e.to_string().contains("holds 2 images"), "{e}");
    let e = try_open(&format!("store:{}:example.org/app", store_dir.display())).unwrap_err();
    assert!(e.to_string().contains("name one by digest"), "{e}");
    let s2 = open(&format!("store:{}:example.org/app:v2", store_dir.display()));
    let r = diff_mode(&src, &s2, Mode::Semantic);
    assert!(!r.equal);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "the image is pushed with skopeo, a Linux program here"
)]
fn registry_source() {
    let reg = latch_testkit::Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let idx = latch_testkit::ImageBuilder::new()
        .seed(11)
        .file_layer(&[("etc/hostname", b"box\n")])
        .gzip_layer(50_000)
        .build_multi_arch(&dir.path().join("l"), "v1");
    idx.push(&reg.reference("diff/app:v1"));
    let remote = Source::parse(&reg.reference("diff/app:v1")).unwrap();
    assert!(remote.is_registry());
    let local = Source::parse(&layout_arg(&dir.path().join("l"), "v1")).unwrap();
    // Both platforms, pulled.
    let (a, b) = rt()
        .block_on(latch_diff::open_pair(
            &remote,
            &local,
            &latch_diff::OpenOptions::default(),
        ))
        .unwrap();
    assert_eq!(a.kind, SourceKind::Registry);
    assert_eq!(a.digest().as_ref(), Some(idx.digest()));
    let r = diff_mode(&a, &b, Mode::Strict);
    assert!(r.equal, "{}", r.table());
    assert_eq!(r.stats.platforms, 2);
    // Against a single image, only its platform is pulled.
    let single = latch_testkit::ImageBuilder::new()
        .seed(11)
        .file_layer(&[("etc/hostname", b"box\n")])
        .gzip_layer(50_000)
        .platform("linux/amd64")
        .build(&dir.path().join("s"), "one");
    let _ = single;
    let s = Source::parse(&layout_arg(&dir.path().join("s"), "one")).unwrap();
    let (a, b) = rt()
        .block_on(latch_diff::open_pair(
            &remote,
            &s,
            &latch_diff::OpenOptions::default(),
        ))
        .unwrap();
    assert_eq!(a.index_digest.as_ref(), Some(idx.digest()));
    assert_eq!(a.platforms(), ["linux/amd64"]);
    let r = diff_mode(&a, &b, Mode::Semantic);
    assert!(r.equal, "{}", r.table());
    // A reference that is not there.
    let e = try_open(&reg.reference("diff/app:nope")).unwrap_err();
    assert!(matches!(e, latch_diff::DiffError::Registry(_)), "{e}");
}
