//! Air-gapped updates: archives prepared from a real registry load with the registry gone,
//! into the built-in store and into podman; Dangerzone's own archives load; hostile
//! archives are refused before anything reaches the runtime.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::{LogPosition, TestKey, World, make_signature, now, push_signatures};
use latch::oci::{Digest, Platform};
use latch::registry::NoProgress;
use latch::runtime::{CliRuntime, Runtime};
use latch::{Error, Overrides, Updater, UpgradeOptions};
use latch_testkit::{ImageBuilder, Peers, PodmanStorage, run};

/// Publishes a multi-platform image as `latest`, signing the index and (recursively) each
/// platform manifest, as Dangerzone's CI does.
async fn publish_recursive(w: &World, seed: u64, index: i64) -> (Digest, Vec<Digest>) {
    let dir = w.tmp.path().join(format!("rimg-{seed}"));
    let built = ImageBuilder::new()
        .seed(seed)
        .gzip_layer(30_000)
        .build_multi_arch(&dir, "latest");
    w.push_index(&built, &w.reference("latest").to_string());
    let mut platforms = Vec::new();
    for (i, d) in std::iter::once(built.digest().clone())
        .chain(
            ["linux/amd64", "linux/arm64"]
                .iter()
                .map(|p| built.image(p).digest().clone()),
        )
        .enumerate()
    {
        let sig = make_signature(
            &w.key,
            &w.repo,
            &d,
            Some((
                &w.log,
                LogPosition {
                    index: index + i as i64,
                    time: now() - 60,
                },
            )),
            &[],
        );
        push_signatures(&w.client, &w.reference("latest"), &d, &[sig]).await;
        if i > 0 {
            platforms.push(d);
        }
    }
    (built.digest().clone(), platforms)
}

fn fresh_updater(w: &World, name: &str) -> Updater {
    let mut o = w.overrides();
    o.data_dir = Some(w.tmp.path().join(name));
    w.updater_with(o)
}

fn host_platform_digest(built: &[Digest]) -> Digest {
    if Platform::host().architecture == "arm64" {
        built[1].clone()
    } else {
        built[0].clone()
    }
}

#[tokio::test]
async fn round_trip_without_network_into_the_store_and_podman() {
    let mut w = World::new();
    let (_index, platforms) = publish_recursive(&w, 1, 100).await;
    let u = w.updater();
    let archive = w.tmp.path().join("dz.tar");
    let report = u
        .prepare_archive(None, &archive, false, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        report.kind, "image",
        "the platform manifest is signed: carried alone"
    );
    assert_eq!(report.digest, host_platform_digest(&platforms));
    assert_eq!(report.signatures, 1);
    // Deterministic: the same inputs give the same bytes.
    let again = w.tmp.path().join("dz2.tar");
    let r2 = u
        .prepare_archive(None, &again, false, &NoProgress)
        .await
        .unwrap();
    assert_eq!(r2.archive_digest, report.archive_digest);
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        std::fs::read(&again).unwrap()
    );
    // Entries named ./…, as Dangerzone's tarfile writes them.
    let names = tar_names(&archive);
    assert!(names.iter().all(|n| n.starts_with("./")), "{names:?}");
    assert!(
        names.contains(&"./dangerzone.json".to_owned())
            && names.contains(&"./index.json".to_owned())
    );

    // No network from here on.
    w.reg.stop();
    let store_side = fresh_updater(&w, "airgapped-store");
    let r = store_side
        .load_archive(&archive, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!(r.status, "upgraded");
    assert_eq!(r.digest, report.digest);
    assert_eq!(
        store_side.verify_local(true).await.unwrap().digest,
        report.digest
    );
    // Loading it again: already installed.
    assert_eq!(
        store_side
            .load_archive(&archive, &UpgradeOptions::default())
            .await
            .unwrap()
            .status,
        "up-to-date"
    );

    // The same archive into podman (a Linux fixture here: elsewhere, the store half only).
    if cfg!(target_os = "linux")
        && let Some(storage) = PodmanStorage::new()
    {
        let podman = CliRuntime::podman()
            .with_global_args(storage.global_args())
            .with_temp_dir(storage.dir());
        let podman_side =
            fresh_updater(&w, "airgapped-podman").with_runtime(Runtime::Podman(podman.clone()));
        let r = podman_side
            .load_archive(&archive, &UpgradeOptions::default())
            .await
            .unwrap();
        assert_eq!(r.digest, report.digest);
        assert_eq!(
            podman_side.verify_local(false).await.unwrap().digest,
            report.digest
        );
        // `podman load -i` of the archive works on its own too.
        let other = PodmanStorage::new().unwrap();
        let mut c = std::process::Command::new("podman");
        c.args(other.global_args())
            .arg("load")
            .arg("-i")
            .arg(&archive);
        let out = run(&mut c);
        assert!(out.contains("Loaded image"), "{out}");
    }
}

#[tokio::test]
async fn an_index_signed_alone_travels_with_its_one_platform() {
    let w = World::new();
    let index = w.publish(1, 100, "1").await;
    let u = w.updater();
    let archive = w.tmp.path().join("idx.tar");
    let report = u
        .prepare_archive(
            Some(&Platform::parse("linux/arm64").unwrap()),
            &archive,
            false,
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!((report.kind, &report.digest), ("imageIndex", &index));
    let mut o = w.overrides();
    o.data_dir = Some(w.tmp.path().join("arm"));
    o.platform = Some("linux/arm64".into());
    let arm = w.updater_with(o);
    let r = arm
        .load_archive(&archive, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!(r.digest, index);
    assert!(r.platform_digest.is_some());
    arm.verify_local(true).await.unwrap();
}

// ---- hostile archives -------------------------------------------------------------

/// A tar as (header, data) pairs, to edit and write back.
fn read_tar(path: &Path) -> Vec<(tar::Header, Vec<u8>)> {
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (e.header().clone(), data)
        })
        .collect()
}

fn write_tar(path: &Path, entries: &[(tar::Header, Vec<u8>)]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (h, data) in entries {
        let mut h = h.clone();
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data.as_slice()).unwrap();
    }
    b.finish().unwrap();
}

fn tar_names(path: &Path) -> Vec<String> {
    read_tar(path)
        .iter()
        .map(|(h, _)| String::from_utf8_lossy(&h.path_bytes()).into_owned())
        .collect()
}

fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    // Raw bytes: set_path itself refuses `..`, and a hostile archive need not.
    let bytes = name.as_bytes();
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    h.set_cksum();
    h
}

fn edit_json(
    entries: &mut [(tar::Header, Vec<u8>)],
    name: &str,
    f: impl Fn(&mut serde_json::Value),
) {
    let e = entries
        .iter_mut()
        .find(|(h, _)| h.path_bytes().as_ref() == name.as_bytes())
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&e.1).unwrap();
    f(&mut v);
    e.1 = serde_json::to_vec(&v).unwrap();
}

struct Hostile {
    w: World,
    good: PathBuf,
    u: Updater,
    installed: Digest,
}

/// A good archive of image v2 (installed beforehand from v1's archive? no: v1 installed
/// from the registry), and an updater with v1 installed.
async fn hostile_setup() -> Hostile {
    let w = World::new();
    let (_, _v1_platforms) = publish_recursive(&w, 1, 100).await;
    let u = w.updater();
    let installed = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap()
        .digest;
    let (_, _) = publish_recursive(&w, 2, 200).await;
    let good = w.tmp.path().join("good.tar");
    u.prepare_archive(None, &good, false, &NoProgress)
        .await
        .unwrap();
    Hostile {
        w,
        good,
        u,
        installed,
    }
}

/// Loads `entries` as an archive: refused with an error containing `needle`; nothing
/// loaded; the installed image still verifies.
async fn refused(
    h: &Hostile,
    name: &str,
    entries: &[(tar::Header, Vec<u8>)],
    needle: &str,
) -> Error {
    let path = h.w.tmp.path().join(name);
    write_tar(&path, entries);
    refused_file(h, &path, needle).await
}

async fn refused_file(h: &Hostile, path: &Path, needle: &str) -> Error {
    let store = h.w.data().join("store");
    let before = std::fs::read(store.join("index.json")).unwrap();
    let err =
        h.u.load_archive(path, &UpgradeOptions::default())
            .await
            .unwrap_err();
    assert!(
        err.to_string().contains(needle),
        "{}: {err}",
        path.display()
    );
    assert_eq!(
        std::fs::read(store.join("index.json")).unwrap(),
        before,
        "nothing loaded"
    );
    assert_eq!(h.u.verify_local(true).await.unwrap().digest, h.installed);
    err
}

#[tokio::test]
async fn hostile_archives_are_refused_before_anything_is_loaded() {
    let h = hostile_setup().await;
    let good = read_tar(&h.good);

    // Path traversal.
    let mut e = good.clone();
    e.push((
        header("../escape", tar::EntryType::Regular, 1),
        b"x".to_vec(),
    ));
    refused(&h, "traversal.tar", &e, "climbs out").await;
    let mut e = good.clone();
    e.insert(
        3,
        (
            header("/etc/latch-owned", tar::EntryType::Regular, 1),
            b"x".to_vec(),
        ),
    );
    refused(&h, "absolute.tar", &e, "absolute").await;

    // Symlink and hardlink escapes.
    for (kind, name) in [
        (tar::EntryType::Symlink, "symlink.tar"),
        (tar::EntryType::Link, "hardlink.tar"),
    ] {
        let mut e = good.clone();
        let mut l = header("./blobs/sha256/evil", kind, 0);
        l.set_link_name("../../../etc/passwd").unwrap();
        l.set_cksum();
        e.insert(3, (l, Vec::new()));
        refused(&h, name, &e, "links are not allowed").await;
    }

    // A device file.
    let mut e = good.clone();
    e.insert(
        3,
        (
            header("./blobs/sha256/dev", tar::EntryType::Char, 0),
            Vec::new(),
        ),
    );
    refused(&h, "device.tar", &e, "not allowed").await;

    // A duplicate entry.
    let mut e = good.clone();
    let dup = e
        .iter()
        .find(|(hd, _)| {
            hd.path_bytes().len() > b"./blobs/sha256/".len()
                && hd.path_bytes().starts_with(b"./blobs/sha256/")
        })
        .unwrap()
        .clone();
    e.push(dup);
    refused(&h, "duplicate.tar", &e, "twice").await;

    // index.json that differs from dangerzone.json.
    let mut e = good.clone();
    edit_json(&mut e, "./index.json", |v| {
        v["manifests"][0]["annotations"]["extra"] = serde_json::json!("x");
    });
    refused(&h, "index-differs.tar", &e, "tampered").await;

    // Two images.
    let mut e = good.clone();
    for name in ["./index.json", "./dangerzone.json"] {
        edit_json(&mut e, name, |v| {
            let first = v["manifests"][0].clone();
            v["manifests"].as_array_mut().unwrap().push(first);
        });
    }
    refused(&h, "two-images.tar", &e, "2 images").await;

    // A blob whose content does not match its name.
    let mut e = good.clone();
    let blob = e
        .iter_mut()
        .filter(|(hd, _)| {
            hd.path_bytes().len() > b"./blobs/sha256/".len()
                && hd.path_bytes().starts_with(b"./blobs/sha256/")
        })
        .max_by_key(|(_, d)| d.len())
        .unwrap();
    blob.1[10] ^= 1;
    refused(&h, "corrupt-blob.tar", &e, "hashes to").await;

    // Signatures for another digest: the sigs manifest replaced by one signing something else.
    let stranger_sig = make_signature(
        &h.w.key,
        &h.w.repo,
        &Digest::sha256_of(b"another image"),
        Some((
            &h.w.log,
            LogPosition {
                index: 999,
                time: now(),
            },
        )),
        &[],
    );
    let (sig_manifest, sig_blobs) = common::sig_manifest(&[stranger_sig]);
    let mut e = good.clone();
    for (_, bytes) in sig_blobs.iter().chain(std::iter::once(&(
        sig_manifest.descriptor(),
        sig_manifest.bytes().to_vec(),
    ))) {
        let d = Digest::sha256_of(bytes);
        let name = format!("./blobs/sha256/{}", d.hex());
        if e.iter()
            .any(|(hd, _)| hd.path_bytes().as_ref() == name.as_bytes())
        {
            continue;
        }
        let mut hd = tar::Header::new_ustar();
        hd.set_path(&name).unwrap();
        hd.set_mode(0o644);
        e.insert(3, (hd, bytes.clone()));
    }
    edit_json(&mut e, "./dangerzone.json", |v| {
        for m in v["manifests"].as_array_mut().unwrap() {
            if m["annotations"]["kind"] == "dev.cosignproject.cosign/sigs" {
                m["digest"] = serde_json::json!(sig_manifest.digest().to_string());
                m["size"] = serde_json::json!(sig_manifest.bytes().len());
            }
        }
    });
    let err = refused(&h, "other-digest.tar", &e, "refused (digest)").await;
    assert!(matches!(err, Error::NotVerified { .. }), "{err}");

    // A truncated tar.
    let bytes = std::fs::read(&h.good).unwrap();
    let cut = h.w.tmp.path().join("truncated.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    refused_file(&h, &cut, "").await;

    // A declared size far beyond the bound: refused from the header, before reading.
    let mut e = good.clone();
    let mut big = header(
        "./blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000",
        tar::EntryType::Regular,
        0,
    );
    big.set_size(1 << 40);
    big.set_cksum();
    let path = h.w.tmp.path().join("huge.tar");
    {
        // Write the headers only: the claimed terabyte never exists.
        let mut f = std::fs::File::create(&path).unwrap();
        use std::io::Write as _;
        f.write_all(big.as_bytes()).unwrap();
        f.write_all(&[0u8; 4096]).unwrap();
    }
    refused_file(&h, &path, "over the bound").await;
    e.clear();

    // A 64 MiB PAX extended header (the `tar` crate would buffer it whole): refused from
    // its header by the bounded reader, before its data is read. The file is sparse, so
    // the 64 MiB never exist on disk either.
    let mut pax = latch_tar::ustar_file("./PaxHeaders/x", 64 << 20, 0o644).unwrap();
    pax[156] = b'x';
    latch_tar::set_checksum(&mut pax);
    let path = h.w.tmp.path().join("pax.tar");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&pax).unwrap();
        f.set_len(512 + (64 << 20) + 1024).unwrap();
    }
    let err = refused_file(&h, &path, "PAX").await;
    assert!(
        matches!(
            &err,
            Error::Archive(a) if matches!(
                a.as_ref(),
                latch::ArchiveError::Tar {
                    source: latch_tar::TarError::ExtensionTooLarge { .. },
                    ..
                }
            )
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_older_archive_is_a_rollback_unless_forced() {
    let w = World::new();
    publish_recursive(&w, 1, 100).await;
    let u = w.updater();
    let old = w.tmp.path().join("old.tar");
    u.prepare_archive(None, &old, false, &NoProgress)
        .await
        .unwrap();
    publish_recursive(&w, 2, 200).await;
    let newer = u
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap()
        .digest;
    let err = u
        .load_archive(&old, &UpgradeOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rollback { .. }), "{err}");
    assert_eq!(u.verify_local(true).await.unwrap().digest, newer);
    let r = u
        .load_archive(
            &old,
            &UpgradeOptions {
                force: true,
                ..UpgradeOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(r.forced, "{r:?}");
    u.verify_local(true).await.unwrap();
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "cosign and skopeo (the peer tools) are Linux programs"
)]
async fn archives_made_by_dangerzones_tooling_load() {
    let Some(peers) = Peers::require() else {
        return;
    };
    let w = World::new();
    let dir = w.tmp.path().join("img");
    let built = ImageBuilder::new()
        .seed(5)
        .gzip_layer(10_000)
        .build_multi_arch(&dir, "latest");
    built.push(&w.reference("latest").to_string());
    let platform = Platform::host();
    let arch_digest = built.image(&platform.to_string()).digest().clone();
    // Dangerzone: cosign signs (recursively) and `cosign save`s the per-arch digest.
    let keys = w.tmp.path().join("cosign-keys");
    std::fs::create_dir_all(&keys).unwrap();
    let mut c = peers.command("cosign");
    c.arg("generate-key-pair")
        .current_dir(&keys)
        .env("COSIGN_PASSWORD", "")
        .env("HOME", &keys);
    run(&mut c);
    let by_digest = format!("{}@{arch_digest}", w.repo);
    let mut c = peers.command("cosign");
    c.args(["sign", "--key"])
        .arg(keys.join("cosign.key"))
        .args([
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            &by_digest,
        ])
        .env("COSIGN_PASSWORD", "")
        .env("HOME", &keys);
    run(&mut c);
    let saved = w.tmp.path().join("saved");
    let mut c = peers.command("cosign");
    c.args(["save", "--allow-http-registry", "--dir"])
        .arg(&saved)
        .arg(&by_digest)
        .env("HOME", &keys);
    run(&mut c);
    // prepare_airgapped_archive: dangerzone.json = index.json; index.json filtered to
    // images; tar with arcname '.'.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(saved.join("index.json")).unwrap()).unwrap();
    std::fs::write(
        saved.join("dangerzone.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let mut cut = index.clone();
    cut["manifests"].as_array_mut().unwrap().retain(|m| {
        matches!(
            m["annotations"]["kind"].as_str(),
            Some("dev.cosignproject.cosign/image" | "dev.cosignproject.cosign/imageIndex")
        )
    });
    std::fs::write(saved.join("index.json"), serde_json::to_vec(&cut).unwrap()).unwrap();
    let archive = w.tmp.path().join("dangerzone.tar");
    run(std::process::Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(&saved)
        .arg("."));

    let u = w.updater_with(Overrides {
        keys: vec![keys.join("cosign.pub")],
        rekor_keys: vec![],
        ..w.overrides()
    });
    let r = u
        .load_archive(&archive, &UpgradeOptions::default())
        .await
        .unwrap();
    assert_eq!(r.digest, arch_digest);
    assert_eq!(u.verify_local(true).await.unwrap().digest, arch_digest);
    let _ = TestKey::generate;
}

#[tokio::test]
async fn full_packages_install_the_newest_of_installed_bundled_and_remote() {
    let w = World::new();
    publish_recursive(&w, 1, 100).await;
    let u = w.updater();
    let bundled = w.tmp.path().join("bundled.tar");
    let shipped = u
        .prepare_archive(None, &bundled, false, &NoProgress)
        .await
        .unwrap();
    let mut o = w.overrides();
    o.bundled_archive = Some(bundled.clone());
    o.data_dir = Some(w.tmp.path().join("app"));
    let app = w.updater_with(o);
    // First run, offline: the bundled archive is installed.
    let r = app.install(false, &NoProgress).await.unwrap();
    assert_eq!(
        (r.choice, r.installed, r.bundled),
        ("bundled", None, shipped.log_index)
    );
    assert_eq!(app.verify_local(true).await.unwrap().digest, shipped.digest);
    // Again: nothing newer anywhere.
    let r = app.install(true, &NoProgress).await.unwrap();
    assert_eq!(r.choice, "installed", "{r:?}");
    // A newer image in the registry wins when online.
    publish_recursive(&w, 2, 300).await;
    let r = app.install(false, &NoProgress).await.unwrap();
    assert_eq!(r.choice, "installed");
    let r = app.install(true, &NoProgress).await.unwrap();
    assert_eq!((r.choice, r.remote), ("remote", Some(300)));
    // The bundled archive is now older than what is installed: kept as is.
    let r = app.install(false, &NoProgress).await.unwrap();
    assert_eq!((r.choice, r.installed), ("installed", Some(300)));
}
