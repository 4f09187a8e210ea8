//! The embedded demo works end to end, offline; and how it is (re)made.

mod common;

use std::path::Path;

use base64::Engine as _;
use common::{LogPosition, TestKey, make_signature, write_layout_signatures};
use latch::registry::NoProgress;
use latch::{Overrides, Updater, UpgradeOptions};
use latch_testkit::{ImageBuilder, IndexBuilder};

#[tokio::test]
async fn demo_upgrades_and_verifies_offline_into_the_builtin_store() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = latch::demo::profile(Overrides {
        data_dir: Some(tmp.path().to_path_buf()),
        ..Overrides::default()
    })
    .unwrap();
    assert!(profile.runtime.starts_with("store:"));
    let updater = Updater::new(profile).unwrap();
    let report = updater
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(report.status, "upgraded");
    assert!(
        report.log_index.is_some(),
        "the demo is logged in its (demo) transparency log"
    );
    assert!(
        report.platform_digest.is_some(),
        "the demo is a multi-platform index"
    );
    let local = updater.verify_local(true).await.unwrap();
    assert_eq!(local.digest, report.digest);
    let again = updater
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(again.status, "up-to-date");
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn read_pkcs8(path: &Path) -> Option<Vec<u8>> {
    let text = std::fs::read_to_string(path).ok()?;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Re-creates `crates/latch/demo`: `cargo test -p latch --test demo -- --ignored`.
/// Keys are kept when present (so the published demo keys stay the same).
#[test]
#[ignore]
fn regenerate_demo() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
    std::fs::create_dir_all(&demo).unwrap();
    let key_for = |name: &str| {
        let private = demo.join(format!("{name}.pem"));
        match read_pkcs8(&private) {
            Some(pkcs8) => TestKey::from_pkcs8(&demo, name, &pkcs8),
            None => {
                let k = TestKey::generate(&demo, name);
                std::fs::write(&private, pem("PRIVATE KEY", &k.pkcs8)).unwrap();
                k
            }
        }
    };
    let signer = key_for("DEMO-ONLY-signing-key");
    let log = key_for("DEMO-ONLY-rekor-key");

    let layout_dir = demo.join("layout");
    let _ = std::fs::remove_dir_all(&layout_dir);
    let text: &[u8] = b"This is Latch's demo sandbox image. DEMO ONLY: signed with a key whose private half is public.\n";
    let index = IndexBuilder::new()
        .image(
            ImageBuilder::new()
                .platform("linux/amd64")
                .seed(1)
                .file_layer(&[("etc/latch-demo.txt", text)]),
        )
        .image(
            ImageBuilder::new()
                .platform("linux/arm64")
                .seed(2)
                .file_layer(&[("etc/latch-demo.txt", text)]),
        )
        .build(&layout_dir, "latest");
    let layout = latch::oci::OciLayout::open(&layout_dir).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let sig = make_signature(
        &signer,
        "localhost/latch-demo/sandbox",
        index.digest(),
        Some((
            &log,
            LogPosition {
                index: 1,
                time: now,
            },
        )),
        &[(latch::demo::DEMO_VERSION_ANNOTATION, "1.0.0")],
    );
    write_layout_signatures(&layout, index.digest(), &[sig]);
    println!(
        "demo image {} written to {}",
        index.digest(),
        layout_dir.display()
    );
}
