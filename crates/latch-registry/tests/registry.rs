//! The registry client against a real registry (Debian's docker-registry), an independent
//! client (skopeo) and a proxy that misbehaves on purpose.

use std::time::Duration;

use latch_oci::{Digest, OciLayout, Platform, Reference};
use latch_registry::{
    Client, ClientOptions, CredentialSource, Credentials, NoProgress, PullOptions, RegistryError,
    Totals, pull_to_layout, push_from_layout,
};
use latch_testkit::{DigestHeader, Fault, ImageBuilder, Proxy, Registry, Skopeo, TokenAuth, run};

fn client() -> Client {
    Client::new(ClientOptions {
        credentials: CredentialSource::None,
        initial_backoff: Duration::from_millis(10),
        ..ClientOptions::default()
    })
    .unwrap()
}

fn client_with(creds: CredentialSource) -> Client {
    Client::new(ClientOptions {
        credentials: creds,
        initial_backoff: Duration::from_millis(10),
        ..ClientOptions::default()
    })
    .unwrap()
}

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

/// Every blob file in the layout hashes to its name.
fn assert_layout_sound(layout: &OciLayout) {
    let dir = layout.root().join("blobs/sha256");
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let d = Digest::from_sha256_hex(&name).unwrap();
        layout.verify_blob(&d).unwrap();
    }
}

#[tokio::test]
async fn pulls_what_skopeo_pushed_to_identical_digests() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .gzip_layer(200_000)
        .tar_layer(300_000)
        .gzip_layer(1)
        .build(&tmp.path().join("src"), "v1");
    img.push(&reg.reference("app/one:v1"));

    let layout = OciLayout::create(tmp.path().join("out")).unwrap();
    let totals = Totals::default();
    let report = pull_to_layout(
        &client(),
        &r(&reg.reference("app/one:v1")),
        &layout,
        &PullOptions::default(),
        &totals,
    )
    .await
    .unwrap();
    assert_eq!(&report.digest, img.digest());
    assert_eq!(report.blobs_downloaded, 4);
    assert_eq!(
        totals.done.load(std::sync::atomic::Ordering::Relaxed),
        img.layers_size()
    );
    assert_layout_sound(&layout);
    // skopeo reads the layout Latch wrote and sees the same manifest bytes.
    let raw = run(Skopeo::system()
        .command()
        .args(["inspect", "--raw"])
        .arg(format!("oci:{}:v1", layout.root().display())));
    assert_eq!(raw.as_bytes(), img.manifest.bytes());

    // A second pull finds everything present and downloads nothing.
    let again = pull_to_layout(
        &client(),
        &r(&reg.reference("app/one:v1")),
        &layout,
        &PullOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!((again.blobs_downloaded, again.blobs_present), (0, 4));
}

#[tokio::test]
async fn pulls_a_multi_arch_index_whole_or_one_platform() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let index = ImageBuilder::new()
        .gzip_layer(10_000)
        .build_multi_arch(&tmp.path().join("src"), "v1");
    index.push(&reg.reference("multi:v1"));

    let whole = OciLayout::create(tmp.path().join("whole")).unwrap();
    let rep = pull_to_layout(
        &client(),
        &r(&reg.reference("multi:v1")),
        &whole,
        &PullOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(&rep.digest, index.digest());
    assert_eq!(rep.manifests, 2);
    assert_eq!(rep.index_digest, None);

    let arm = OciLayout::create(tmp.path().join("arm")).unwrap();
    let opts = PullOptions {
        platform: Some(Platform::parse("linux/arm64").unwrap()),
        name: Some("arm".into()),
    };
    let rep = pull_to_layout(
        &client(),
        &r(&reg.reference("multi:v1")),
        &arm,
        &opts,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(&rep.digest, index.image("linux/arm64").digest());
    assert_eq!(rep.index_digest.as_ref(), Some(index.digest()));
    assert_eq!(arm.resolve(Some("arm")).unwrap().digest, rep.digest);

    let opts = PullOptions {
        platform: Some(Platform::parse("linux/s390x").unwrap()),
        name: None,
    };
    let err = pull_to_layout(
        &client(),
        &r(&reg.reference("multi:v1")),
        &arm,
        &opts,
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RegistryError::NoSuchPlatform { .. }), "{err}");
    assert!(err.to_string().contains("linux/amd64"), "{err}");
}

#[tokio::test]
async fn what_latch_pushes_skopeo_reads_and_copies() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .gzip_layer(300_000)
        .tar_layer(150_000)
        .build(&tmp.path().join("src"), "v1");
    let layout = OciLayout::open(tmp.path().join("src")).unwrap();
    let c = client();
    // Monolithic upload.
    let target = r(&reg.reference("pushed/mono:v1"));
    let d = push_from_layout(&c, &layout, &img.descriptor(), &target, None, &NoProgress)
        .await
        .unwrap();
    assert_eq!(&d, img.digest());
    // Chunked upload (64 KiB chunks), into another repository.
    let target = r(&reg.reference("pushed/chunked:v1"));
    push_from_layout(
        &c,
        &layout,
        &img.descriptor(),
        &target,
        Some(64 * 1024),
        &NoProgress,
    )
    .await
    .unwrap();

    let sk = Skopeo::system();
    for repo in ["pushed/mono:v1", "pushed/chunked:v1"] {
        let src = format!("docker://{}", reg.reference(repo));
        let raw = run(sk
            .command()
            .args(["inspect", "--raw", "--tls-verify=false", &src]));
        assert_eq!(raw.as_bytes(), img.manifest.bytes(), "{repo}");
        let dest = tmp.path().join(repo.replace([':', '/'], "_"));
        let dest_s = format!("oci:{}:x", dest.display());
        run(sk.command().args([
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            &src,
            &dest_s,
        ]));
        let copied = OciLayout::open(&dest).unwrap();
        assert_eq!(&copied.resolve(Some("x")).unwrap().digest, img.digest());
        assert_layout_sound(&copied);
    }
    // Pushing again finds every blob present.
    let target = r(&reg.reference("pushed/mono:v2"));
    push_from_layout(&c, &layout, &img.descriptor(), &target, None, &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        c.head_manifest(&target)
            .await
            .unwrap()
            .unwrap()
            .digest
            .as_ref(),
        Some(img.digest())
    );
}

#[tokio::test]
async fn basic_auth_from_an_auth_file() {
    let reg = Registry::with_basic_auth("alice", "s3cret");
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .gzip_layer(1000)
        .build(&tmp.path().join("src"), "v1");
    run(Skopeo::system()
        .command()
        .args([
            "copy",
            "--insecure-policy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "alice:s3cret",
        ])
        .arg(format!("oci:{}:v1", tmp.path().join("src").display()))
        .arg(format!("docker://{}", reg.reference("private:v1"))));
    let reference = r(&reg.reference("private:v1"));

    let err = client().get_manifest(&reference).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");

    let auth = tmp.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6czNjcmV0"}}}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    let c = client_with(CredentialSource::Files(vec![auth]));
    let m = c.get_manifest(&reference).await.unwrap();
    assert_eq!(m.digest(), img.digest());

    let wrong = client_with(CredentialSource::Static(Credentials {
        username: "alice".into(),
        secret: "wrong".into(),
    }));
    let err = wrong.get_manifest(&reference).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    assert!(!err.to_string().contains("wrong"), "secret leaked: {err}");
}

#[tokio::test]
async fn bearer_tokens_come_from_the_challenged_realm_and_are_reused() {
    let reg = Registry::with_token_auth(
        TokenAuth::new()
            .realm_path("/not/the/usual/path")
            .credentials("bob", "pw"),
    );
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .gzip_layer(5000)
        .tar_layer(5000)
        .build(&tmp.path().join("src"), "v1");
    let layout = OciLayout::open(tmp.path().join("src")).unwrap();
    let creds = CredentialSource::Static(Credentials {
        username: "bob".into(),
        secret: "pw".into(),
    });
    let c = client_with(creds);
    let target = r(&reg.reference("tok/app:v1"));
    push_from_layout(&c, &layout, &img.descriptor(), &target, None, &NoProgress)
        .await
        .unwrap();
    let server = reg.token_server().unwrap();
    let pushes = server.request_count();
    assert!(
        server
            .requests()
            .iter()
            .all(|q| q.path.starts_with("/not/the/usual/path"))
    );
    // One token for push on this repository, reused for every blob and the manifest.
    assert_eq!(pushes, 1, "{:?}", server.requests());

    server.clear_requests();
    let out = OciLayout::create(tmp.path().join("out")).unwrap();
    pull_to_layout(&c, &target, &out, &PullOptions::default(), &NoProgress)
        .await
        .unwrap();
    c.get_manifest(&target).await.unwrap();
    c.list_tags(&target).await.unwrap();
    assert_eq!(
        server.request_count(),
        1,
        "one pull token for all reads: {:?}",
        server.requests()
    );

    // Wrong password: a clear error naming the registry, never the secret.
    let bad = client_with(CredentialSource::Static(Credentials {
        username: "bob".into(),
        secret: "nope".into(),
    }));
    let err = bad.get_manifest(&target).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    assert!(!err.to_string().contains("nope"));
}

#[tokio::test]
async fn expired_tokens_are_renewed() {
    let reg = Registry::with_token_auth(TokenAuth::new().anonymous_pull().expires_in(1));
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .gzip_layer(100)
        .build(&tmp.path().join("src"), "v1");
    let server = reg.token_server().unwrap();
    // Anonymous clients may only pull here: push with a token minted for the test.
    let token = server.mint("repository:exp:pull,push", 300);
    run(Skopeo::system()
        .command()
        .args([
            "copy",
            "--insecure-policy",
            "--dest-tls-verify=false",
            "--dest-registry-token",
            &token,
        ])
        .arg(format!("oci:{}:v1", tmp.path().join("src").display()))
        .arg(format!("docker://{}", reg.reference("exp:v1"))));
    let c = client();
    let reference = r(&reg.reference("exp:v1"));
    assert_eq!(
        c.get_manifest(&reference).await.unwrap().digest(),
        img.digest()
    );
    assert_eq!(server.request_count(), 1);
    // distribution allows 60 s of leeway on exp; the client's own expiry (1 s) makes it
    // ask again rather than send a token it knows is stale.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.get_manifest(&reference).await.unwrap();
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn a_lying_registry_is_caught() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .gzip_layer(50_000)
        .build(&tmp.path().join("src"), "v1");
    img.push(&reg.reference("lie:v1"));
    let proxy = Proxy::start(&reg);
    let by_tag = r(&proxy.reference("lie:v1"));
    let by_digest = by_tag.with_digest(img.digest().clone());
    let c = client();

    // Changed manifest bytes, digest header left as it was: caught by the header check.
    proxy.set_faults(vec![
        Fault::flip_byte(40, DigestHeader::Keep).on("GET", "/manifests/"),
    ]);
    let err = c.get_manifest(&by_tag).await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::HeaderMismatch { .. } | RegistryError::Manifest { .. }
        ),
        "{err}"
    );
    // Changed bytes with a consistent header: caught when asked by digest.
    proxy.set_faults(vec![
        Fault::replace_in_body("\"size\"", "\"size\" ", DigestHeader::Recompute)
            .on("GET", "/manifests/"),
    ]);
    let err = c.get_manifest(&by_digest).await.unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");

    // A manifest over the 4 MiB bound, announced or not.
    for content_length in [true, false] {
        proxy.set_faults(vec![
            Fault::OversizedManifest {
                size: 5 * 1024 * 1024,
                content_length,
            }
            .on("GET", "/manifests/"),
        ]);
        let err = c.get_manifest(&by_tag).await.unwrap_err();
        assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
    }

    // A blob whose bytes were changed: refused, and nothing enters blobs/.
    proxy.set_faults(vec![
        Fault::flip_byte(100, DigestHeader::Keep).on("GET", "/blobs/sha256:"),
    ]);
    let layout = OciLayout::create(tmp.path().join("out")).unwrap();
    let err = pull_to_layout(&c, &by_tag, &layout, &PullOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }), "{err}");
    assert!(
        layout.index().unwrap().manifests.is_empty(),
        "index.json untouched"
    );
    for l in &img.manifest.as_image().unwrap().layers {
        assert!(
            !layout.blob_path(&l.digest).exists(),
            "corrupt layer entered blobs/"
        );
    }
}

#[tokio::test]
async fn truncated_blobs_are_refused_and_dropped_connections_resume() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .tar_layer(3 * 1024 * 1024)
        .build(&tmp.path().join("src"), "v1");
    img.push(&reg.reference("cut:v1"));
    let layer = img.manifest.as_image().unwrap().layers[0].clone();
    let proxy = Proxy::start(&reg);
    let reference = r(&proxy.reference("cut:v1"));
    let c = client();

    // Cut on every attempt: the retries run out; the blob never counts as present.
    proxy.set_faults(vec![
        Fault::cut_body_after(100_000).on("GET", &format!("/blobs/{}", layer.digest)),
    ]);
    let layout = OciLayout::create(tmp.path().join("always")).unwrap();
    let err = pull_to_layout(
        &c,
        &reference,
        &layout,
        &PullOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Transfer { .. } | RegistryError::SizeMismatch { .. }
        ),
        "{err}"
    );
    assert!(!layout.blob_path(&layer.digest).exists());
    assert!(layout.index().unwrap().manifests.is_empty());

    // Cut twice, then behave: the download resumes with Range where it stopped.
    proxy.clear_log();
    proxy.set_faults(vec![
        Fault::cut_body_after(1_000_000)
            .on("GET", &format!("/blobs/{}", layer.digest))
            .times(2),
    ]);
    let layout = OciLayout::create(tmp.path().join("resumed")).unwrap();
    let rep = pull_to_layout(
        &c,
        &reference,
        &layout,
        &PullOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(&rep.digest, img.digest());
    layout.verify_blob(&layer.digest).unwrap();
    let gets: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|e| e.method == "GET" && e.path.contains(&layer.digest.to_string()))
        .collect();
    assert_eq!(gets.len(), 3, "{gets:?}");
    assert_eq!(gets[0].range, None);
    assert!(
        gets[1]
            .range
            .as_deref()
            .is_some_and(|r| r.starts_with("bytes=") && r != "bytes=0-"),
        "{gets:?}"
    );
    assert_eq!(gets[2].status, 206);
    // Only the missing part was sent again.
    let total: u64 = gets.iter().map(|e| e.bytes).sum();
    assert!(
        total < layer.size + 100_000,
        "resent too much: {total} for {}",
        layer.size
    );
}

#[tokio::test]
async fn transient_errors_are_retried_with_backoff() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .gzip_layer(1000)
        .build(&tmp.path().join("src"), "v1");
    img.push(&reg.reference("flaky:v1"));
    let proxy = Proxy::start(&reg);
    proxy.set_faults(vec![
        Fault::status(503).on("GET", "/manifests/").times(2),
        Fault::status(500).on("GET", "/blobs/").times(1),
    ]);
    let layout = OciLayout::create(tmp.path().join("out")).unwrap();
    let rep = pull_to_layout(
        &client(),
        &r(&proxy.reference("flaky:v1")),
        &layout,
        &PullOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(&rep.digest, img.digest());
    assert_eq!(proxy.count("GET", "/manifests/"), 3);

    // A registry that keeps failing: a bounded number of attempts, then the error.
    proxy.set_faults(vec![Fault::status(503).on("GET", "/manifests/")]);
    proxy.clear_log();
    let err = client()
        .get_manifest(&r(&proxy.reference("flaky:v1")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Status { status: 503, .. }),
        "{err}"
    );
    assert_eq!(proxy.count("GET", "/manifests/"), 5);
}

#[tokio::test]
async fn tags_follow_links_on_the_same_host_only() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .gzip_layer(10)
        .build(&tmp.path().join("src"), "v1");
    let layout = OciLayout::open(tmp.path().join("src")).unwrap();
    let c = client();
    for t in ["b", "a", "20241219-0.8.0-77-g06a9117"] {
        push_from_layout(
            &c,
            &layout,
            &img.descriptor(),
            &r(&reg.reference(&format!("t:{t}"))),
            None,
            &NoProgress,
        )
        .await
        .unwrap();
    }
    let proxy = Proxy::start(&reg);
    let reference = r(&proxy.reference("t"));
    let mut tags = c.list_tags(&reference).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["20241219-0.8.0-77-g06a9117", "a", "b"]);

    // A Link to another host is refused.
    proxy.set_faults(vec![
        Fault::link_next("http://evil.example/v2/t/tags/list?last=b").on("GET", "/tags/list"),
    ]);
    let err = c.list_tags(&reference).await.unwrap_err();
    assert!(matches!(err, RegistryError::ForeignLink { .. }), "{err}");

    // A Link on the same host is followed (once: the second page carries no Link).
    proxy.set_faults(vec![
        Fault::link_next("/v2/t/tags/list?n=1&last=a")
            .on("GET", "/tags/list")
            .times(1),
    ]);
    proxy.clear_log();
    let tags = c.list_tags(&reference).await.unwrap();
    assert_eq!(tags.len(), 6, "both pages concatenated: {tags:?}");
    assert_eq!(proxy.count("GET", "/tags/list"), 2);
}

#[tokio::test]
async fn head_and_referrers_fallback() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .gzip_layer(10)
        .build(&tmp.path().join("src"), "v1");
    img.push(&reg.reference("ref:v1"));
    let c = client();
    let reference = r(&reg.reference("ref:v1"));
    let head = c.head_manifest(&reference).await.unwrap().unwrap();
    assert_eq!(head.digest.as_ref(), Some(img.digest()));
    assert_eq!(head.size, Some(img.manifest.bytes().len() as u64));
    assert!(
        c.head_manifest(&r(&reg.reference("ref:absent")))
            .await
            .unwrap()
            .is_none()
    );

    // No referrers yet: distribution 2.8 has no referrers API and no fallback tag.
    assert!(
        c.referrers(&reference, img.digest(), None)
            .await
            .unwrap()
            .is_empty()
    );

    // Publish an artifact and the sha256-<hex> fallback index, as cosign v3 does.
    let art = ImageBuilder::new()
        .gzip_layer(5)
        .build(&tmp.path().join("art"), "a");
    let art_layout = OciLayout::open(tmp.path().join("art")).unwrap();
    push_from_layout(
        &c,
        &art_layout,
        &art.descriptor(),
        &reference.with_digest(art.digest().clone()),
        None,
        &NoProgress,
    )
    .await
    .unwrap();
    let mut entry = art.descriptor();
    entry.artifact_type = Some("application/vnd.dev.sigstore.bundle.v0.3+json".into());
    let mut index = latch_oci::ImageIndex::empty();
    index.manifests.push(entry);
    let index_bytes = latch_oci::ManifestBytes::from_index(&index);
    c.put_manifest(&reference, &img.digest().tag_form(), &index_bytes)
        .await
        .unwrap();

    let found = c.referrers(&reference, img.digest(), None).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(&found[0].digest, art.digest());
    let bundles = c
        .referrers(
            &reference,
            img.digest(),
            Some("application/vnd.dev.sigstore.bundle.v0.3+json"),
        )
        .await
        .unwrap();
    assert_eq!(bundles.len(), 1);
    assert!(
        c.referrers(&reference, img.digest(), Some("text/other"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_unreachable_registry_is_named() {
    let mut reg = Registry::start();
    let reference = r(&reg.reference("gone:v1"));
    reg.stop();
    let c = Client::new(ClientOptions {
        credentials: CredentialSource::None,
        max_retries: 1,
        initial_backoff: Duration::from_millis(1),
        ..ClientOptions::default()
    })
    .unwrap();
    let err = c.get_manifest(&reference).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&reg.host()), "{err}");
}
