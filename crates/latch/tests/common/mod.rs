//! Test signers: cosign-format signatures made in-process with keys the test owns, and
//! Rekor SETs made with a test log key, so that tests choose log indexes and times.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latch::oci::{
    Descriptor, Digest, ImageManifest, ManifestBytes, OciLayout, Reference, media_types as mt,
};
use latch::registry::{Client, ClientOptions, CredentialSource};
use latch::trust::{RekorBundle, Signature, SimpleSigning, spki_to_pem};
use latch::{Overrides, Profile, Updater};
use latch_testkit::{ImageBuilder, Registry, Skopeo};

/// A P-256 key pair with its PEM files written to a directory.
pub struct TestKey {
    pair: EcdsaKeyPair,
    pub public_pem: String,
    pub public_path: PathBuf,
    pub pkcs8: Vec<u8>,
}

impl TestKey {
    pub fn generate(dir: &Path, name: &str) -> TestKey {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        TestKey::from_pkcs8(dir, name, doc.as_ref())
    }

    pub fn from_pkcs8(dir: &Path, name: &str, pkcs8: &[u8]) -> TestKey {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8).unwrap();
        let der = spki_der_of(&pair);
        let public_pem = spki_to_pem(&der);
        let public_path = dir.join(format!("{name}.pub"));
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(&public_path, &public_pem).unwrap();
        TestKey {
            pair,
            public_pem,
            public_path,
            pkcs8: pkcs8.to_vec(),
        }
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec()
    }

    pub fn log_id(&self) -> String {
        let der = spki_der_of(&self.pair);
        Digest::sha256_of(&der).hex().to_owned()
    }
}

/// SubjectPublicKeyInfo DER of a P-256 key: the fixed prefix and the uncompressed point.
fn spki_der_of(pair: &EcdsaKeyPair) -> Vec<u8> {
    const P256_SPKI_PREFIX: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let mut der = P256_SPKI_PREFIX.to_vec();
    der.extend_from_slice(pair.public_key().as_ref());
    der
}

/// Where and when a test log says it recorded a signature.
#[derive(Clone, Copy)]
pub struct LogPosition {
    pub index: i64,
    pub time: i64,
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
    let mut payload = SimpleSigning::new(repository, digest.clone());
    for (k, v) in annotations {
        payload = payload.with_annotation(k, v);
    }
    let payload = payload.to_bytes();
    let sig = key.sign(&payload);
    let mut signature = Signature::new(payload.clone(), sig.clone()).unwrap();
    if let Some((log_key, pos)) = log {
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": Digest::sha256_of(&payload).hex()}},
                "signature": {
                    "content": STANDARD.encode(&sig),
                    "publicKey": {"content": STANDARD.encode(key.public_pem.as_bytes())}
                }
            }
        });
        let body = serde_json::to_vec(&body).unwrap();
        let unsigned = RekorBundle::new(
            Vec::new(),
            body.clone(),
            pos.time,
            pos.index,
            log_key.log_id(),
        );
        let set = log_key.sign(&unsigned.canonical_payload());
        signature = signature.with_bundle(RekorBundle::new(
            set,
            body,
            pos.time,
            pos.index,
            log_key.log_id(),
        ));
    }
    signature
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
        index.push_with(&self.skopeo, &self.reference(tag).to_string());
        index.digest().clone()
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
