//! In-process verification of one real Dangerzone signature with its Rekor SET
//! (`../shared/testdata/dangerzone`, valid/…/19e8….json): the payload signature, the SET,
//! the body binding, the strict payload parse. Run: `cargo bench -p latch-trust`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use latch_oci::Digest;
use latch_trust::{Policy, PublicKey, TlogMode, parse_cosign_download, verify};

const NOW: i64 = 1_800_000_000;
const DIGEST: &str = "sha256:19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67";
const STORE: &str = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";

fn dangerzone() -> Option<PathBuf> {
    let dir = match std::env::var_os("LATCH_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    }
    .join("dangerzone");
    dir.is_dir().then_some(dir)
}

fn bench(c: &mut Criterion) {
    let Some(dz) = dangerzone() else {
        eprintln!("SKIPPED: ../shared/testdata/dangerzone not found (set LATCH_TESTDATA)");
        return;
    };
    let read = |rel: &str| std::fs::read(dz.join(rel)).expect("fixture");
    let file = read(&format!(
        "signatures/valid/{STORE}/{}.json",
        DIGEST.trim_start_matches("sha256:")
    ));
    let key = PublicKey::from_pem(&read("test.pub.key")).expect("key");
    let key_log_id = key.log_id().to_owned();
    let rekor = PublicKey::from_pem(&read("rekor.pub")).expect("rekor key");
    let policy = Policy::builder()
        .key(key)
        .rekor_key(rekor)
        .tlog(TlogMode::Required)
        .build()
        .expect("policy");
    let digest = Digest::parse(DIGEST).expect("digest");
    let sigs = parse_cosign_download(&file).expect("parse");
    // What is measured is one signature accepted with its SET checked, not a refusal.
    let checked = verify(&policy, &digest, &sigs, NOW).expect("bounded");
    assert_eq!(sigs.len(), 1, "one signature in the fixture");
    assert!(checked.all_accepted(), "the fixture verifies: {checked:?}");
    assert_eq!(checked.accepted_by(key_log_id.as_str()), 1);
    assert_eq!(
        checked.max_log_index,
        Some(168_898_587),
        "its SET was checked"
    );

    c.bench_function("verify one signature with SET (parsed)", |b| {
        b.iter(|| {
            verify(
                black_box(&policy),
                black_box(&digest),
                black_box(&sigs),
                NOW,
            )
        })
    });
    c.bench_function("parse + verify one cosign download file", |b| {
        b.iter(|| {
            let sigs = parse_cosign_download(black_box(&file)).expect("parse");
            verify(&policy, &digest, &sigs, NOW)
        })
    });
    c.bench_function("parse the signing key (PEM)", |b| {
        let pem = read("test.pub.key");
        b.iter(|| PublicKey::from_pem(black_box(&pem)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
