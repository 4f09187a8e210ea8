//! Test signers: cosign-format signatures made in-process with keys the test owns, and
//! Rekor SETs made with a test log key, so that tests choose log indexes and times.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use latch::oci::{
    Descriptor, Digest, ImageManifest, ManifestBytes, OciLayout, Reference, media_types as mt,
};
use latch::registry::{Client, ClientOptions, CredentialSource};
use latch::trust::Signature;
use latch::{Overrides, Profile, Updater};
pub use latch_testkit::cosign::LogPosition;
use latch_testkit::cosign::cosign_signature;
use latch_testkit::{BuiltIndex, ImageBuilder, Registry, Skopeo};

/// A P-256 key pair with its public PEM written to a directory.
pub struct TestKey {
    pub key: latch_testkit::cosign::TestKey,
    pub public_pem: String,
    pub public_path: PathBuf,
    pub pkcs8: Vec<u8>,
}

impl TestKey {
    pub fn generate(dir: &Path, name: &str) -> TestKey {
        TestKey::wrap(latch_testkit::cosign::TestKey::generate(), dir, name)
    }

    pub fn from_pkcs8(dir: &Path, name: &str, pkcs8: &[u8]) -> TestKey {
        TestKey::wrap(latch_testkit::cosign::TestKey::from_pkcs8(pkcs8), dir, name)
    }

    fn wrap(key: latch_testkit::cosign::TestKey, dir: &Path, name: &str) -> TestKey {
        let public_path = key.write_public(dir, name);
        TestKey {
            public_pem: key.public_pem.clone(),
            pkcs8: key.pkcs8.clone(),
            public_path,
            key,
        }
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message)
    }

    pub fn log_id(&self) -> String {
        self.key.log_id()
    }
}

/// Signs `digest` for `repository` with `key`; with a log, adds a SET for a hashedrekord
/// entry at `position`. `annotations` go in the payload's `optional` section.
pub fn make_signature(
    key: &TestKey,
    repository: &str,
    digest: &Digest,
    log: Option<(&TestKey, LogPosition)>,
    annotations: &[(&str, &str)],
) -> Signature {
    let json = cosign_signature(
        &key.key,
        repository,
        &digest.to_string(),
        log.map(|(k, p)| (&k.key, p)),
        annotations,
    );
    Signature::from_cosign_json(json.as_bytes()).unwrap()
}

/// The `.sig` manifest holding `signatures` (one layer each), and its blobs.
pub fn sig_manifest(signatures: &[Signature]) -> (ManifestBytes, Vec<(Descriptor, Vec<u8>)>) {
    let config = b"{}".to_vec();
    let layers: Vec<(Descriptor, Vec<u8>)> = signatures.iter().map(|s| s.to_layer()).collect();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(mt::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::for_bytes(mt::OCI_CONFIG, &config),
        layers: layers.iter().map(|(d, _)| d.clone()).collect(),
        subject: None,
        annotations: None,
    };
    let mut blobs = layers;
    blobs.push((manifest.config.clone(), config));
    (ManifestBytes::from_image(&manifest), blobs)
}

/// Pushes the `.sig` manifest for `digest` (replacing any).
pub async fn push_signatures(
    client: &Client,
    repository: &Reference,
    digest: &Digest,
    signatures: &[Signature],
) {
    let (manifest, blobs) = sig_manifest(signatures);
    for (d, bytes) in blobs {
        client
            .push_blob_bytes(repository, &d.media_type, bytes.into())
            .await
            .unwrap();
    }
    client
        .put_manifest(repository, &format!("{}.sig", digest.tag_form()), &manifest)
        .await
        .unwrap();
}

/// Writes the `.sig` manifest for `digest` into a layout, named as the registry tag.
pub fn write_layout_signatures(layout: &OciLayout, digest: &Digest, signatures: &[Signature]) {
    let (manifest, blobs) = sig_manifest(signatures);
    for (_, bytes) in blobs {
        layout.write_blob(&bytes).unwrap();
    }
    layout.write_blob(manifest.bytes()).unwrap();
    layout
        .set_ref(
            manifest.descriptor(),
            Some(&format!("{}.sig", digest.tag_form())),
        )
        .unwrap();
}

/// A registry, a trusted key, a test log, and a data directory: what updater tests share.
pub struct World {
    pub reg: Registry,
    pub tmp: tempfile::TempDir,
    pub client: Client,
    pub skopeo: Skopeo,
    pub key: TestKey,
    pub log: TestKey,
    pub repo: String,
    /// The credentials pushes use.
    pub creds: Option<(String, String)>,
}

pub const VERSION: &str = "org.opencontainers.image.version";

impl World {
    pub fn new() -> World {
        World::with_registry(Registry::start(), None)
    }

    /// A world around `reg`, pushing with `creds` when it needs them.
    pub fn with_registry(reg: Registry, creds: Option<(&str, &str)>) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let key = TestKey::generate(&tmp.path().join("keys"), "signer");
        let log = TestKey::generate(&tmp.path().join("keys"), "rekor");
        let credentials = match creds {
            Some((u, p)) => CredentialSource::Static(latch::registry::Credentials {
                username: u.into(),
                secret: p.into(),
            }),
            None => CredentialSource::None,
        };
        let client = Client::new(ClientOptions {
            credentials,
            ..ClientOptions::default()
        })
        .unwrap();
        let skopeo = match creds {
            Some((u, p)) => Skopeo::system().creds(u, p),
            None => Skopeo::system(),
        };
        let repo = format!("{}/app/sandbox", reg.host());
        World {
            reg,
            tmp,
            client,
            skopeo,
            key,
            log,
            repo,
            creds: creds.map(|(u, p)| (u.to_owned(), p.to_owned())),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.tmp.path().join("data")
    }

    pub fn overrides(&self) -> Overrides {
        Overrides {
            image: Some(format!("{}:latest", self.repo)),
            keys: vec![self.key.public_path.clone()],
            rekor_keys: vec![self.log.public_path.clone()],
            data_dir: Some(self.data()),
            ..Overrides::default()
        }
    }

    pub fn updater(&self) -> Updater {
        self.updater_with(self.overrides())
    }

    pub fn updater_with(&self, o: Overrides) -> Updater {
        self.updater_for(Profile::from_overrides(o).unwrap())
    }

    /// An updater for `profile`, with no credentials.
    pub fn updater_for(&self, profile: Profile) -> Updater {
        let opts = ClientOptions {
            credentials: CredentialSource::None,
            ..ClientOptions::default()
        };
        Updater::with_client_options(profile, opts).unwrap()
    }

    pub fn reference(&self, tag: &str) -> Reference {
        Reference::parse(&format!("{}:{tag}", self.repo)).unwrap()
    }

    /// Builds a multi-platform image (distinct per `seed`), pushes it as `tag`, and
    /// returns its index digest (unsigned).
    pub fn push_image(&self, seed: u64, tag: &str) -> Digest {
        let dir = self.tmp.path().join(format!("img-{seed}"));
        let index = ImageBuilder::new()
            .seed(seed)
            .gzip_layer(20_000)
            .build_multi_arch(&dir, tag);
        self.push_index(&index, &self.reference(tag).to_string());
        index.digest().clone()
    }

    /// Pushes a built index to `reference`: with skopeo (a real peer) where it runs; on
    /// Windows (tests under Wine), where the Linux skopeo cannot read the test's files,
    /// with Latch's own registry client.
    pub fn push_index(&self, index: &BuiltIndex, reference: &str) {
        #[cfg(unix)]
        index.push_with(&self.skopeo, reference);
        #[cfg(not(unix))]
        {
            let layout = OciLayout::open(&index.layout_dir).unwrap();
            let top = layout.resolve(Some(&index.tag)).unwrap();
            let target = Reference::parse(reference).unwrap();
            let credentials = match &self.creds {
                Some((u, p)) => CredentialSource::Static(latch::registry::Credentials {
                    username: u.clone(),
                    secret: p.clone().into(),
                }),
                None => CredentialSource::None,
            };
            // The caller may be inside a runtime: push from a thread with its own (and a
            // client of its own: pooled connections belong to the runtime that made them).
            std::thread::scope(|s| {
                s.spawn(|| {
                    let client = &Client::new(ClientOptions {
                        credentials,
                        ..ClientOptions::default()
                    })
                    .unwrap();
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(latch::registry::push_from_layout(
                            client,
                            &layout,
                            &top,
                            &target,
                            None,
                            &latch::registry::NoProgress,
                        ))
                        .unwrap();
                })
                .join()
                .unwrap();
            });
        }
    }

    /// Signs `digest` with the trusted key, logged at `index`/`time`, with a version.
    pub async fn sign(&self, digest: &Digest, index: i64, time: i64, version: &str) {
        let sig = make_signature(
            &self.key,
            &self.repo,
            digest,
            Some((&self.log, LogPosition { index, time })),
            &[(VERSION, version)],
        );
        push_signatures(&self.client, &self.reference("latest"), digest, &[sig]).await;
    }

    /// A signed image published as `latest`.
    pub async fn publish(&self, seed: u64, index: i64, version: &str) -> Digest {
        let d = self.push_image(seed, "latest");
        self.sign(&d, index, now() - 60, version).await;
        d
    }

    /// Points `latest` at the manifest of `digest`.
    pub async fn retag_latest(&self, digest: &Digest) {
        let m = self
            .client
            .get_manifest(&self.reference("latest").with_digest(digest.clone()))
            .await
            .unwrap();
        self.client
            .put_manifest(&self.reference("latest"), "latest", &m)
            .await
            .unwrap();
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
