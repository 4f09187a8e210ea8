//! latch-sign against real parts: a real registry, the peer cosign 2.5 and skopeo 1.18,
//! and the test Rekor server.

mod bundle;
mod concurrent;
mod keyless;
mod keys;
mod nightlies;
mod promote;
mod sign;
mod tlog;

use std::path::{Path, PathBuf};

use latch_decide::{Candidates, Trust, Verdict};
use latch_oci::{Digest, Reference};
use latch_registry::{Client, ClientOptions};
use latch_sign::{Password, PasswordError, PrivateKey};
use latch_testkit::{ImageBuilder, Peers, Registry, try_run};
use latch_trust::{Candidate, PublicKey, TlogMode};

/// A client for loopback registries.
pub fn client() -> Client {
    Client::new(ClientOptions::default()).expect("a registry client")
}

/// Pushes a small image (distinct per seed) as `repo:tag` and returns its reference by
/// digest, and the digest.
pub fn push_image(reg: &Registry, repo_tag: &str, seed: u64) -> (Reference, Digest) {
    let dir = tempfile::tempdir().unwrap();
    let img = ImageBuilder::new()
        .seed(seed)
        .gzip_layer(2000)
        .build(dir.path(), "v1");
    img.push(&reg.reference(repo_tag));
    let repo = repo_tag.split(':').next().unwrap();
    let r = Reference::parse(&format!("{}/{repo}@{}", reg.host(), img.digest())).unwrap();
    (r, img.digest().clone())
}

/// A password closure for `PrivateKey::load`.
pub fn pw(p: &str) -> impl FnMut() -> Result<Password, PasswordError> + '_ {
    move || Ok(Password::new(p))
}

/// A fresh Latch key.
pub fn latch_key() -> PrivateKey {
    PrivateKey::generate().unwrap()
}

/// The peers, with HOME pointed at a scratch directory (cosign writes under it).
pub fn peers() -> &'static Peers {
    Peers::get()
}

/// Runs cosign with a scratch HOME and `COSIGN_PASSWORD`.
pub fn cosign(args: &[&str], password: &str, home: &Path) -> Result<String, String> {
    let mut c = peers().command("cosign");
    c.args(args)
        .env("HOME", home)
        .env("COSIGN_PASSWORD", password)
        .env("COSIGN_YES", "true")
        .env_remove("SIGSTORE_REKOR_PUBLIC_KEY");
    try_run(&mut c)
}

/// `cosign verify --key PUB --insecure-ignore-tlog=true --allow-http-registry IMAGE`.
pub fn cosign_verify(public: &Path, image: &Reference, home: &Path) -> Result<String, String> {
    cosign(
        &[
            "verify",
            "--key",
            public.to_str().unwrap(),
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            &image.to_string(),
        ],
        "",
        home,
    )
}

/// A skopeo policy check: `skopeo copy` of `image` with a policy.json that requires a
/// sigstore signature by `public` (matchRepository), optionally with a Rekor key, and a
/// registries.d that turns on sigstore attachments for the registry.
pub fn skopeo_policy_copy(
    reg: &Registry,
    image: &Reference,
    public: &Path,
    rekor_public: Option<&Path>,
) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut req = serde_json::json!({
        "type": "sigstoreSigned",
        "keyPath": public,
        "signedIdentity": {"type": "matchRepository"},
    });
    if let Some(r) = rekor_public {
        req["rekorPublicKeyPath"] = serde_json::json!(r);
    }
    let policy = serde_json::json!({
        "default": [{"type": "reject"}],
        "transports": {"docker": {image.name(): [req]}},
    });
    let policy_path = dir.path().join("policy.json");
    std::fs::write(&policy_path, policy.to_string()).unwrap();
    let regd = dir.path().join("registries.d");
    std::fs::create_dir(&regd).unwrap();
    std::fs::write(
        regd.join("latch-test.yaml"),
        format!(
            "docker:\n  {}:\n    use-sigstore-attachments: true\n",
            reg.host()
        ),
    )
    .unwrap();
    let mut c = peers().command("skopeo");
    c.arg("--policy")
        .arg(&policy_path)
        .arg("--registries.d")
        .arg(&regd)
        .args([
            "copy",
            "--quiet",
            "--remove-signatures",
            "--src-tls-verify=false",
        ])
        .arg(format!("docker://{image}"))
        .arg(format!("oci:{}:x", dir.path().join("out").display()));
    try_run(&mut c)
}

/// Writes `key`'s public PEM to a file in `dir` and returns its path.
pub fn write_public(dir: &Path, name: &str, key: &PublicKey) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, latch_trust::spki_to_pem(key.der())).unwrap();
    p
}

/// A k-of-n trust without a transparency log.
pub fn policy(keys: &[&PublicKey], threshold: usize) -> Trust {
    Trust::builder()
        .keys(keys.iter().map(|k| (*k).clone()))
        .threshold(threshold)
        .tlog(TlogMode::Ignored)
        .build()
        .unwrap()
}

/// The legacy signatures of `image` in the registry.
pub async fn signatures(image: &Reference) -> Vec<Candidate> {
    latch_sources::registry::fetch_sigs(&client(), image, image.digest().unwrap())
        .await
        .unwrap()
        .sigs
        .into_iter()
        .map(|c| c.signature)
        .collect()
}

/// The cosign v3 signatures (bundle referrers) of `image` (which names its digest) in its
/// registry.
pub async fn signature_bundles(image: &Reference) -> Candidates {
    latch_sources::registry::fetch_signature_bundles(&client(), image, image.digest().unwrap())
        .await
        .unwrap()
}

/// The one decision over `sigs`: the verdict when trusted, else the refused verdict.
pub fn verify(
    trust: &Trust,
    digest: &Digest,
    sigs: &[Candidate],
    now: i64,
) -> Result<Verdict, Box<Verdict>> {
    let candidates = Candidates::from_sigs("test", sigs.to_vec());
    let verdict = latch_decide::decide(trust, &candidates, digest, now);
    if verdict.trusted {
        Ok(verdict)
    } else {
        Err(Box::new(verdict))
    }
}

/// Now, unix seconds.
pub fn now() -> i64 {
    latch_sign::now_unix()
}
