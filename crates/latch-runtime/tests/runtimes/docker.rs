//! A private dockerd 20.10 (Debian's docker.io), driven by both docker clients on this
//! machine: Debian's 20.10 (`/usr/bin/docker`, the engine's own) and a 28.x client in
//! `/usr/local/bin` (what a user with a newer CLI has).

use std::path::{Path, PathBuf};

use latch_oci::{OciLayout, Reference};
use latch_registry::NoProgress;
use latch_runtime::{CliKind, CliRuntime, Runtime, RuntimeError};
use latch_testkit::{ImageBuilder, Registry};

use crate::common::{Dockerd, client, docker_cli, host_str, need};

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

fn clients() -> Vec<PathBuf> {
    ["/usr/bin/docker", "/usr/local/bin/docker"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect()
}

/// Pull by digest, RepoDigests, load (docker-archive for 20.10), tag, remove, with each
/// docker client against one private daemon.
#[tokio::test]
async fn docker_pull_load_tag_remove() {
    let cl = clients();
    if !need(
        !cl.is_empty(),
        "no docker client (apt-get install docker.io)",
    ) {
        return;
    }
    let Some(daemon) = Dockerd::start() else {
        return;
    };
    let reg = Registry::start();
    let src = tempfile::tempdir().unwrap();
    let idx = ImageBuilder::new()
        .gzip_layer(80_000)
        .build_multi_arch(src.path(), "v1");
    let index_digest = idx.push(&reg.reference("app/multi:v1"));
    let mine = idx.image(&host_str());
    for (n, program) in cl.iter().enumerate() {
        let rt = Runtime::Docker(docker_cli(&daemon, program));
        scenario(&rt, program, n, &reg, &idx, &index_digest, mine, src.path()).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn scenario(
    rt: &Runtime,
    program: &Path,
    n: usize,
    reg: &Registry,
    idx: &latch_testkit::BuiltIndex,
    index_digest: &latch_oci::Digest,
    mine: &latch_testkit::BuiltImage,
    src: &Path,
) {
    let info = rt.check_available().await.unwrap();
    eprintln!("{}: daemon {}", program.display(), info.version);
    assert_eq!(info.name, "docker");
    // Each client gets its own repositories.
    let repo = r(&reg.reference(&format!("c{n}/multi")));
    // The registry serves the image under this repository too.
    idx.push(&reg.reference(&format!("c{n}/multi:v1")));
    let img = rt
        .pull(
            &repo.with_digest(index_digest.clone()),
            &client(),
            None,
            &NoProgress,
        )
        .await
        .unwrap();
    eprintln!("docker after pull of the index: {img:?}");
    // Docker records the digest pulled by, and only that one (not the platform's).
    assert_eq!(img.digests, vec![index_digest.clone()]);
    assert_eq!(img.pinned, vec![index_digest.clone()]);
    assert_eq!(img.config_digest(), Some(mine.config_digest()));
    assert_eq!(
        rt.installed_digest(&repo).await.unwrap(),
        Some(index_digest.clone())
    );

    // Load from an OCI layout: Docker 20.10 gets a docker-archive and records NO digest.
    let layout = OciLayout::open(src).unwrap();
    let loaded_repo = r(&format!("example.org/c{n}/loaded"));
    let loaded = rt
        .load_oci_layout(&layout, &idx.index.descriptor(), &loaded_repo, None)
        .await
        .unwrap();
    eprintln!("docker after load of an index: {loaded:?}");
    assert!(loaded.digests.is_empty());
    assert!(loaded.pinned.is_empty());
    assert_eq!(loaded.tags, vec![idx.digest().tag_form()]);
    assert_eq!(loaded.config_digest(), Some(mine.config_digest()));
    let err = rt.installed_digest(&loaded_repo).await.unwrap_err();
    assert!(matches!(err, RuntimeError::NoDigest { .. }), "{err}");
    // With a tag.
    let single = ImageBuilder::new()
        .gzip_layer(5_000)
        .build(src, &format!("s{n}"));
    let tagged = rt
        .load_oci_layout(
            &OciLayout::open(src).unwrap(),
            &single.manifest.descriptor(),
            &loaded_repo.with_tag("2.0").unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(tagged.tags, vec!["2.0".to_owned()]);
    assert_eq!(tagged.config_digest(), Some(single.config_digest()));
    assert!(matches!(
        rt.installed(&loaded_repo).await,
        Err(RuntimeError::SeveralImages { count: 2, .. })
    ));
    rt.remove(&loaded).await.unwrap();
    assert_eq!(rt.installed(&loaded_repo).await.unwrap().unwrap(), tagged);

    // Tag the pulled image; a second image in the repository; remove_others.
    rt.tag(&img, &repo.with_tag("latest").unwrap())
        .await
        .unwrap();
    let img = rt.installed(&repo).await.unwrap().unwrap();
    assert_eq!(img.tags, vec!["latest".to_owned()]);
    rt.load_oci_layout(
        &OciLayout::open(src).unwrap(),
        &single.manifest.descriptor(),
        &repo.with_tag("old").unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(rt.images(&repo).await.unwrap().len(), 2);
    let removed = rt.remove_others(&repo, index_digest).await.unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].tags, vec!["old".to_owned()]);
    let img = rt.installed(&repo).await.unwrap().unwrap();
    assert_eq!(img.pinned, vec![index_digest.clone()]);
    // The same image id is still referenced from the loaded repository: removal from
    // one repository leaves the other alone.
    rt.remove(&img).await.unwrap();
    assert!(rt.images(&repo).await.unwrap().is_empty());
    assert_eq!(rt.images(&loaded_repo).await.unwrap().len(), 1);
}

/// A docker whose daemon does not answer is a typed error.
#[tokio::test]
async fn unreachable_daemon_is_reported() {
    let cl = clients();
    if !need(
        !cl.is_empty(),
        "no docker client (apt-get install docker.io)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::Docker(
        CliRuntime::new(CliKind::Docker, &cl[0])
            .with_env(
                "DOCKER_HOST",
                format!("unix://{}", dir.path().join("none.sock").display()),
            )
            .with_env("DOCKER_CONFIG", dir.path()),
    );
    let err = rt.check_available().await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::DaemonUnreachable { .. }),
        "{err}"
    );
}
