//! Relative paths given to the library (overrides, a profile file's path) are relative to
//! the current directory; the paths inside a profile file to the file's folder; each is
//! resolved once. This binary has one test because it changes the current directory.

use std::path::Path;

use latch::demo::{DEMO_REKOR_KEY, DEMO_SIGNING_KEY, DEMO_VERSION_ANNOTATION, write_layout};
use latch::registry::NoProgress;
use latch::trust::KeySource;
use latch::{Overrides, Profile, Source, Updater, UpgradeOptions};

#[tokio::test]
async fn relative_paths_resolve_once_against_the_current_dir_or_the_profiles_folder() {
    let tmp = tempfile::tempdir().unwrap();
    std::env::set_current_dir(tmp.path()).unwrap();
    let cwd = std::env::current_dir().unwrap();

    // The demo with a relative data directory: the mirror and the store inside it, once.
    let profile = latch::demo::profile(Overrides {
        data_dir: Some("rel".into()),
        ..Overrides::default()
    })
    .unwrap();
    let data = cwd.join("rel");
    assert_eq!(profile.data_dir, data);
    assert_eq!(profile.source, Source::Layout(data.join("demo-mirror")));
    assert_eq!(
        profile.runtime,
        format!("store:{}", data.join("store").display())
    );
    assert!(data.join("demo-mirror/oci-layout").is_file());
    let updater = Updater::new(profile).unwrap();
    let up = updater
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(up.status, "upgraded");
    assert_eq!(updater.verify_local(true).await.unwrap().digest, up.digest);
    assert!(!data.join("rel").exists());

    // A profile file in a sub-folder, named relative to the current directory.
    let conf = cwd.join("conf");
    std::fs::create_dir_all(conf.join("keys")).unwrap();
    write_layout(&conf.join("mirror")).unwrap();
    std::fs::write(conf.join("keys/signing.pub"), DEMO_SIGNING_KEY).unwrap();
    std::fs::write(conf.join("keys/rekor.pub"), DEMO_REKOR_KEY).unwrap();
    std::fs::write(
        conf.join("app.toml"),
        format!(
            "image = \"localhost/latch-demo/sandbox:latest\"\ndata_dir = \"data\"\n\
             [source]\nlayout = \"mirror\"\n\
             [trust]\nkeys = [\"keys/signing.pub\"]\nrekor_keys = [\"./keys/rekor.pub\"]\n\
             version_annotation = \"{DEMO_VERSION_ANNOTATION}\"\n"
        ),
    )
    .unwrap();
    let p = Profile::from_file(Path::new("conf/app.toml"), Overrides::default()).unwrap();
    assert_eq!(p.data_dir, conf.join("data"));
    assert_eq!(p.source, Source::Layout(conf.join("mirror")));
    assert_eq!(
        p.runtime,
        format!("store:{}", conf.join("data").join("store").display())
    );
    assert_eq!(
        p.trust.keys,
        vec![KeySource::File(conf.join("keys/signing.pub"))]
    );
    assert_eq!(
        p.trust.rekor_keys,
        vec![KeySource::File(conf.join("keys/rekor.pub"))]
    );
    let updater = Updater::new(p).unwrap();
    let up2 = updater
        .upgrade(&UpgradeOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(up2.digest, up.digest);

    // Overrides beside the file: the current directory, not conf/.
    let p = Profile::from_file(
        Path::new("conf/app.toml"),
        Overrides {
            data_dir: Some("other".into()),
            keys: vec!["conf/keys/signing.pub".into()],
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(p.data_dir, cwd.join("other"));
    assert_eq!(
        p.trust.keys,
        vec![KeySource::File(conf.join("keys/signing.pub"))]
    );

    // Leave the temporary directory before it is removed.
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
}
