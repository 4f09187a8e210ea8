//! One answer everywhere: a matrix of trusts (keys, identities, thresholds, log modes) and
//! of ways an image can be signed (legacy `.sig` by keys, logged or not, by a trusted or an
//! untrusted log; keyless `.sig` as cosign 2.x writes them, with and without the chain;
//! cosign v3 bundles by keys and by workflows; junk; a signature for another repository or
//! another digest; nothing at all), each decided by every path an image goes through:
//! `latch verify` (the registry), `upgrade`, `prepare-archive`, `load-archive` (an archive
//! prepared under a permissive trust, loaded under the case's), and `verify-local` (a
//! store written under the permissive trust, re-decided under the case's). Every path must
//! give the case's expected answer: trusted or not, and how many distinct signers.

mod common;

use common::{TestKey, make_signature, push_signatures};
use latch::oci::{Digest, Reference};
use latch::registry::{Client, ClientOptions, CredentialSource, NoProgress};
use latch::sigstore::cosign::COSIGN_SIGN_PREDICATE;
use latch::trust::{Signature, TlogMode};
use latch::{Error, Overrides, Profile, ProfileFile, Updater, UpgradeOptions};
use latch_testkit::cosign::{LogPosition, simple_signing};
use latch_testkit::sigstore::{GITHUB_ISSUER, Leaf, TestSigstore, statement};
use latch_testkit::{ImageBuilder, Registry, Skopeo};

const GH_REPO: &str = "freedomofpress/dangerzone";
const WORKFLOW: &str = ".github/workflows/release.yml";

fn now() -> i64 {
    common::now()
}

fn san(git_ref: &str) -> String {
    format!("https://github.com/{GH_REPO}/{WORKFLOW}@{git_ref}")
}

/// One way of signing the image.
#[derive(Clone, Copy, Debug)]
enum Sign {
    /// A legacy `.sig` by key `0` (A) or `1` (B), logged by the pinned log, by an
    /// untrusted one, or not at all.
    Key(usize, Log),
    /// Key A, for another repository.
    KeyOtherRepo,
    /// Key A's signature of another digest, moved here.
    KeyOtherDigest,
    /// A signature by a key nobody trusts.
    Stranger,
    /// A layer that is not a signature.
    Junk,
    /// A cosign v3 bundle by key `0`/`1`, without a log entry.
    KeyBundle(usize),
    /// A keyless cosign v3 bundle by the release workflow at a ref.
    Bundle(&'static str),
    /// A keyless cosign 2.x `.sig` by the release workflow at a ref: with the chain
    /// annotation, with the SET.
    KeylessSig(&'static str, bool, bool),
}

#[derive(Clone, Copy, Debug)]
enum Log {
    Pinned,
    Untrusted,
    None,
}

/// What is trusted.
struct TrustCase {
    keys: &'static [usize],
    /// Identities: exact SANs at these refs, or (`"*"`) the workflow at any ref.
    identities: &'static [&'static str],
    threshold: usize,
    tlog: Option<TlogMode>,
}

struct Case {
    name: &'static str,
    trust: TrustCase,
    signed: &'static [Sign],
    /// `None`: nothing at all is found; else (trusted, distinct signers counted).
    expect: Option<(bool, usize)>,
}

const A: usize = 0;
const B: usize = 1;

fn cases() -> Vec<Case> {
    let t = |keys, identities, threshold, tlog| TrustCase {
        keys,
        identities,
        threshold,
        tlog,
    };
    let req = Some(TlogMode::Required);
    vec![
        Case {
            name: "key logged",
            trust: t(&[A], &[], 1, req),
            signed: &[Sign::Key(A, Log::Pinned)],
            expect: Some((true, 1)),
        },
        Case {
            name: "key, SET missing, log required",
            trust: t(&[A], &[], 1, req),
            signed: &[Sign::Key(A, Log::None)],
            expect: Some((false, 0)),
        },
        Case {
            name: "key, SET missing, log optional",
            trust: t(&[A], &[], 1, Some(TlogMode::Optional)),
            signed: &[Sign::Key(A, Log::None)],
            expect: Some((true, 1)),
        },
        Case {
            name: "key, untrusted log, required",
            trust: t(&[A], &[], 1, req),
            signed: &[Sign::Key(A, Log::Untrusted)],
            expect: Some((false, 0)),
        },
        Case {
            name: "key, untrusted log, ignored",
            trust: t(&[A], &[], 1, Some(TlogMode::Ignored)),
            signed: &[Sign::Key(A, Log::Untrusted)],
            expect: Some((true, 1)),
        },
        Case {
            name: "two keys of two",
            trust: t(&[A, B], &[], 2, req),
            signed: &[Sign::Key(A, Log::Pinned), Sign::Key(B, Log::Pinned)],
            expect: Some((true, 2)),
        },
        Case {
            name: "one key twice, two required",
            trust: t(&[A, B], &[], 2, req),
            signed: &[Sign::Key(A, Log::Pinned), Sign::Key(A, Log::Pinned)],
            expect: Some((false, 1)),
        },
        Case {
            name: "key A on .sig, key B on a bundle, two required",
            trust: t(&[A, B], &[], 2, Some(TlogMode::Optional)),
            signed: &[Sign::Key(A, Log::Pinned), Sign::KeyBundle(B)],
            expect: Some((true, 2)),
        },
        Case {
            name: "junk and a stranger beside the key",
            trust: t(&[A], &[], 1, req),
            signed: &[Sign::Junk, Sign::Stranger, Sign::Key(A, Log::Pinned)],
            expect: Some((true, 1)),
        },
        Case {
            name: "another repository's name",
            trust: t(&[A], &[], 1, req),
            signed: &[Sign::KeyOtherRepo],
            expect: Some((false, 0)),
        },
        Case {
            name: "another digest's signature",
            trust: t(&[A], &[], 1, req),
            signed: &[Sign::KeyOtherDigest],
            expect: Some((false, 0)),
        },
        Case {
            name: "keyless bundle",
            trust: t(&[], &["refs/heads/main"], 1, None),
            signed: &[Sign::Bundle("refs/heads/main")],
            expect: Some((true, 1)),
        },
        Case {
            name: "key and CI, the workflow on two refs",
            trust: t(&[A], &["*"], 2, req),
            signed: &[
                Sign::Bundle("refs/heads/main"),
                Sign::Bundle("refs/tags/anything"),
            ],
            expect: Some((false, 1)),
        },
        Case {
            name: "key and CI, both",
            trust: t(&[A], &["*"], 2, req),
            signed: &[Sign::Key(A, Log::Pinned), Sign::Bundle("refs/heads/main")],
            expect: Some((true, 2)),
        },
        Case {
            name: "keyless .sig (cosign 2.x)",
            trust: t(&[], &["refs/heads/main"], 1, None),
            signed: &[Sign::KeylessSig("refs/heads/main", true, true)],
            expect: Some((true, 1)),
        },
        Case {
            name: "keyless .sig without the chain annotation",
            trust: t(&[], &["refs/heads/main"], 1, None),
            signed: &[Sign::KeylessSig("refs/heads/main", false, true)],
            expect: Some((true, 1)),
        },
        Case {
            name: "keyless .sig by another identity",
            trust: t(&[], &["refs/heads/main"], 1, None),
            signed: &[Sign::KeylessSig("refs/heads/dev", true, true)],
            expect: Some((false, 0)),
        },
        Case {
            name: "keyless .sig without its SET",
            trust: t(&[], &["refs/heads/main"], 1, None),
            signed: &[Sign::KeylessSig("refs/heads/main", true, false)],
            expect: Some((false, 0)),
        },
        Case {
            name: "key .sig and keyless .sig, two required",
            trust: t(&[A], &["refs/heads/main"], 2, req),
            signed: &[
                Sign::Key(A, Log::Pinned),
                Sign::KeylessSig("refs/heads/main", true, true),
            ],
            expect: Some((true, 2)),
        },
        Case {
            name: "nothing signed",
            trust: t(&[A], &[], 1, req),
            signed: &[],
            expect: None,
        },
    ]
}

struct Matrix {
    reg: Registry,
    tmp: tempfile::TempDir,
    client: Client,
    keys: [TestKey; 2],
    stranger: TestKey,
    log: TestKey,
    untrusted_log: TestKey,
    sigstore: TestSigstore,
    root: std::path::PathBuf,
}

impl Matrix {
    fn new() -> Matrix {
        let tmp = tempfile::tempdir().unwrap();
        let keys_dir = tmp.path().join("keys");
        let sigstore = TestSigstore::new();
        let root = tmp.path().join("trusted_root.json");
        std::fs::write(&root, sigstore.trusted_root_json()).unwrap();
        Matrix {
            reg: Registry::start(),
            client: Client::new(ClientOptions {
                credentials: CredentialSource::None,
                ..ClientOptions::default()
            })
            .unwrap(),
            keys: [
                TestKey::generate(&keys_dir, "a"),
                TestKey::generate(&keys_dir, "b"),
            ],
            stranger: TestKey::generate(&keys_dir, "stranger"),
            log: TestKey::generate(&keys_dir, "log"),
            untrusted_log: TestKey::generate(&keys_dir, "untrusted-log"),
            sigstore,
            root,
            tmp,
        }
    }

    fn repo(&self, n: usize) -> String {
        format!("{}/matrix/case{n}", self.reg.host())
    }

    /// A profile for `repo` trusting what `trust` says, its data in `data`.
    fn profile(&self, repo: &str, trust: &TrustCase, data: &str) -> Profile {
        let identities: Vec<String> = trust
            .identities
            .iter()
            .map(|r| match *r {
                "*" => format!(
                    "{{ issuer = \"{GITHUB_ISSUER}\", san_regex = \"https://github\\\\.com/{GH_REPO}/{WORKFLOW}@.+\" }}"
                ),
                r => format!("{{ issuer = \"{GITHUB_ISSUER}\", san = \"{}\" }}", san(r)),
            })
            .collect();
        let text = format!(
            "[trust]\nidentities = [{}]\ntrusted_root = {:?}\n",
            identities.join(", "),
            self.root.display().to_string()
        );
        let o = Overrides {
            image: Some(format!("{repo}:latest")),
            keys: trust
                .keys
                .iter()
                .map(|k| self.keys[*k].public_path.clone())
                .collect(),
            rekor_keys: if trust.tlog == Some(TlogMode::Ignored) {
                vec![]
            } else {
                vec![self.log.public_path.clone()]
            },
            tlog: trust.tlog,
            threshold: Some(trust.threshold),
            data_dir: Some(self.tmp.path().join(data)),
            ..Overrides::default()
        };
        Profile::resolve(
            ProfileFile::parse(&text, "matrix").unwrap(),
            self.tmp.path(),
            "matrix",
            o,
        )
        .unwrap()
    }

    fn updater(&self, profile: Profile) -> Updater {
        Updater::with_client_options(
            profile,
            ClientOptions {
                credentials: CredentialSource::None,
                ..ClientOptions::default()
            },
        )
        .unwrap()
    }

    /// Pushes a fresh multi-platform image to `repo:latest` and signs it as `signed` says.
    async fn publish(&self, n: usize, signed: &[Sign]) -> Digest {
        let repo = self.repo(n);
        let index = ImageBuilder::new()
            .seed(1000 + n as u64)
            .gzip_layer(5_000)
            .build_multi_arch(&self.tmp.path().join(format!("img-{n}")), "latest");
        index.push_with(&Skopeo::system(), &format!("{repo}:latest"));
        let digest = index.digest().clone();
        let other = Digest::sha256_of(format!("other {n}").as_bytes());
        let reference = Reference::parse(&format!("{repo}:latest")).unwrap();
        let pos = |i: i64| LogPosition {
            index: i,
            time: now() - 600 + i,
        };
        let mut sigs: Vec<Signature> = Vec::new();
        for (i, s) in signed.iter().enumerate() {
            let i = 100 + i as i64;
            match *s {
                Sign::Key(k, log) => {
                    let log = match log {
                        Log::Pinned => Some((&self.log, pos(i))),
                        Log::Untrusted => Some((&self.untrusted_log, pos(i))),
                        Log::None => None,
                    };
                    sigs.push(make_signature(&self.keys[k], &repo, &digest, log, &[]));
                }
                Sign::KeyOtherRepo => sigs.push(make_signature(
                    &self.keys[A],
                    "ghcr.io/someone/else",
                    &digest,
                    Some((&self.log, pos(i))),
                    &[],
                )),
                Sign::KeyOtherDigest => sigs.push(make_signature(
                    &self.keys[A],
                    &repo,
                    &other,
                    Some((&self.log, pos(i))),
                    &[],
                )),
                Sign::Stranger => sigs.push(make_signature(
                    &self.stranger,
                    &repo,
                    &digest,
                    Some((&self.log, pos(i))),
                    &[],
                )),
                Sign::Junk => sigs.push(Signature::new(b"{}".to_vec(), b"junk".to_vec()).unwrap()),
                Sign::KeyBundle(k) => {
                    self.attach(
                        &reference,
                        &digest,
                        &latch_testkit::cosign::key_bundle(&self.keys[k].key, &digest.to_string()),
                    )
                    .await;
                }
                Sign::Bundle(git_ref) => {
                    let payload = statement(
                        &digest.to_string(),
                        COSIGN_SIGN_PREDICATE,
                        serde_json::json!({}),
                    );
                    let bundle = self.sigstore.dsse_bundle_at(
                        &leaf(git_ref),
                        &payload,
                        now() - 3600,
                        i as u64,
                    );
                    self.attach(&reference, &digest, bundle.as_bytes()).await;
                }
                Sign::KeylessSig(git_ref, chain, set) => {
                    let payload = simple_signing(&repo, &digest.to_string(), &[]);
                    let minted =
                        self.sigstore
                            .legacy_sig(&leaf(git_ref), &payload, now() - 3600, i as u64);
                    sigs.push(
                        Signature::from_cosign_json(minted.to_cosign_json(chain, set).as_bytes())
                            .unwrap(),
                    );
                }
            }
        }
        if !sigs.is_empty() {
            push_signatures(&self.client, &reference, &digest, &sigs).await;
        }
        digest
    }

    async fn attach(&self, reference: &Reference, digest: &Digest, bundle: &[u8]) {
        let subject = self
            .client
            .get_manifest(&reference.with_digest(digest.clone()))
            .await
            .unwrap()
            .descriptor();
        latch::sources::attach::attach_bundle(
            &self.client,
            reference,
            &subject,
            &latch::sources::attach::BundleArtifact::dsse(
                bundle,
                COSIGN_SIGN_PREDICATE,
                "2026-01-01T00:00:00Z",
            ),
            latch::sources::contention::Contention::default(),
        )
        .await
        .unwrap();
    }
}

fn leaf(git_ref: &str) -> Leaf {
    Leaf::github(GH_REPO, WORKFLOW, git_ref, "push", now() - 3700, None)
}

/// What a path answered: `Some((trusted, count))`, or `None` for "no signatures found".
type Answer = Option<(bool, usize)>;

fn answer_of<T>(
    r: Result<T, Error>,
    verdict: impl FnOnce(&T) -> &latch::decide::Verdict,
) -> Answer {
    match r {
        Ok(t) => {
            let v = verdict(&t);
            Some((v.trusted, v.count()))
        }
        Err(Error::NotVerified { verdict }) => Some((verdict.trusted, verdict.count())),
        Err(Error::NoSignatures { .. }) => None,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "cosign, skopeo and podman are Linux programs here"
)]
async fn every_path_gives_the_same_answer() {
    let m = Matrix::new();
    let permissive = TrustCase {
        keys: &[A, B],
        identities: &["*"],
        threshold: 1,
        tlog: Some(TlogMode::Ignored),
    };
    let mut failures = Vec::new();
    let mut paths = 0;
    for (n, case) in cases().iter().enumerate() {
        let digest = m.publish(n, case.signed).await;
        let repo = m.repo(n);
        let reference = Reference::parse(&format!("{repo}:latest")).unwrap();
        let profile = m.profile(&repo, &case.trust, &format!("case{n}/upgrade"));
        let updater = m.updater(profile.clone());
        let mut answers: Vec<(&str, Answer)> = Vec::new();

        // `latch verify`: the registry, through the same decision.
        let verified = latch::verify::decide_remote(&m.client, &reference, &updater.trust(), now())
            .await
            .unwrap();
        let verify_answer = if verified.candidates.is_empty() {
            None
        } else {
            Some((verified.verdict.trusted, verified.verdict.count()))
        };
        answers.push(("verify", verify_answer));
        answers.push((
            "upgrade",
            answer_of(
                updater
                    .upgrade(&UpgradeOptions::default(), &NoProgress)
                    .await,
                |r| &r.verdict,
            ),
        ));
        let own_archive = m.tmp.path().join(format!("case{n}-own.tar"));
        answers.push((
            "prepare-archive",
            answer_of(
                updater
                    .prepare_archive(None, &own_archive, false, &NoProgress)
                    .await,
                |r| &r.verdict,
            ),
        ));

        if case.expect.is_some_and(|(trusted, _)| trusted) {
            // Trusted: the archive it prepared loads on the other side, and what it
            // installed verifies before use.
            let loader = m.updater(m.profile(&repo, &case.trust, &format!("case{n}/load")));
            answers.push((
                "load-archive",
                answer_of(
                    loader
                        .load_archive(&own_archive, &UpgradeOptions::default())
                        .await,
                    |r| &r.verdict,
                ),
            ));
            answers.push((
                "verify-local",
                answer_of(updater.verify_local(true).await, |r| &r.verdict),
            ));
        } else {
            // Refused: an archive prepared, and an image installed, under a permissive
            // trust are refused under the case's, before anything is loaded or used.
            let open = m.updater(m.profile(&repo, &permissive, &format!("case{n}/open")));
            let archive = m.tmp.path().join(format!("case{n}.tar"));
            if open
                .prepare_archive(None, &archive, false, &NoProgress)
                .await
                .is_ok()
            {
                let loader = m.updater(m.profile(&repo, &case.trust, &format!("case{n}/load")));
                answers.push((
                    "load-archive",
                    answer_of(
                        loader
                            .load_archive(&archive, &UpgradeOptions::default())
                            .await,
                        |r| &r.verdict,
                    ),
                ));
                assert!(
                    matches!(
                        loader.verify_local(false).await,
                        Err(Error::NotInstalled { .. })
                    ),
                    "{}: nothing loaded",
                    case.name
                );
                open.upgrade(&UpgradeOptions::default(), &NoProgress)
                    .await
                    .unwrap();
                let local = m.updater(m.profile(&repo, &case.trust, &format!("case{n}/open")));
                answers.push((
                    "verify-local",
                    answer_of(local.verify_local(true).await, |r| &r.verdict),
                ));
            }
        }
        for (path, got) in &answers {
            // A store or an archive holds what the permissive trust accepted: when the
            // case expects nothing at all, they may hold nothing, or something refused.
            let fine = match (case.expect, got) {
                (None, None) => true,
                (None, Some((false, 0))) => matches!(*path, "load-archive" | "verify-local"),
                (e, g) => e == *g,
            };
            if !fine {
                failures.push(format!(
                    "{} ({}): {path} answered {got:?}, expected {:?}",
                    case.name, digest, case.expect
                ));
            }
        }
        eprintln!("{}: {answers:?}", case.name);
        paths += answers.len();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every case went through verify, upgrade and prepare-archive at least, and the
    // trusted ones through load-archive and verify-local too.
    assert!(
        paths >= 3 * cases().len() + 2 * 10,
        "{paths} decisions compared"
    );
}
