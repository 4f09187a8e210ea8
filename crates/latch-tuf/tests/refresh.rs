//! The TUF client against a repository served over loopback (latch-testkit's, signed with
//! its own code): refreshes, root rotations, refusals that leave the state in force as it
//! was, and the kept state verifying offline.

use latch_testkit::tuf::TufServer;
use latch_tuf::{Files, TufCache, TufError, TufRepository, verify::verify};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Fixture {
    server: TufServer,
    repo: TufRepository,
    cache: TufCache,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let server = TufServer::start(b"{\"first\": true}");
    let repo = TufRepository::new(&server.url(), server.initial_root(), "test root").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = TufCache::new(dir.path().join("tuf"));
    Fixture {
        server,
        repo,
        cache,
        dir,
    }
}

/// The generation folders kept for the repository.
fn generations(f: &Fixture) -> Vec<std::path::PathBuf> {
    let dir = f.dir.path().join("tuf").join(f.repo.folder());
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("g-"))
        .collect();
    out.sort();
    out
}

fn refresh(f: &Fixture) -> Result<latch_tuf::Verified, TufError> {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(f.cache.refresh(&f.repo, now()))
}

#[test]
fn refresh_follows_new_targets_and_root_rotations_and_keeps_them_offline() {
    let f = fixture();
    assert!(f.cache.held(&f.repo).unwrap().is_none(), "nothing kept yet");

    let first = refresh(&f).unwrap();
    assert_eq!(first.trusted_root, b"{\"first\": true}");
    assert_eq!(first.info.root_version, 1);
    assert!(!first.info.is_stale(now()));

    f.server.publish(b"{\"second\": true}");
    f.server.rotate_root(true);
    f.server.rotate_root(true);
    let third = refresh(&f).unwrap();
    assert_eq!(third.trusted_root, b"{\"second\": true}");
    assert_eq!(third.info.root_version, 3, "two rotations followed");
    assert!(third.info.targets_version > first.info.targets_version);
    assert_eq!(generations(&f).len(), 1, "the older generation is removed");

    // Offline: the repository is gone, what is kept verifies again from the initial root.
    f.server.refuse(Some(503));
    let held = f.cache.held(&f.repo).unwrap().unwrap();
    assert_eq!(held.trusted_root, b"{\"second\": true}");
    assert_eq!(held.info, third.info);
    let e = refresh(&f).unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    assert!(e.to_string().contains("503"), "{e}");
    assert_eq!(f.cache.held(&f.repo).unwrap().unwrap().info, third.info);
}

/// Every refusal leaves the generation in force as it was.
#[test]
fn forged_expired_and_replayed_metadata_is_refused_and_nothing_changes() {
    let f = fixture();
    let held = refresh(&f).unwrap();
    let old_timestamp = f.server.timestamp();
    let unchanged = |what: &str, e: TufError| {
        assert!(!e.is_unreachable(), "{what}: {e}");
        let now_held = f.cache.held(&f.repo).unwrap().unwrap();
        assert_eq!(
            now_held.info, held.info,
            "{what}: the state in force changed"
        );
        assert_eq!(generations(&f).len(), 1, "{what}");
        e.to_string()
    };

    f.server.publish(b"{\"new\": 1}");
    f.server.publish_expired_timestamp();
    let e = unchanged("expired", refresh(&f).unwrap_err());
    assert!(e.contains("timestamp metadata expired"), "{e}");

    f.server.publish_forged_timestamp();
    let e = unchanged("forged", refresh(&f).unwrap_err());
    assert!(e.contains("threshold not met for role timestamp"), "{e}");

    // A newer state is adopted, then the older timestamp replayed: a rollback.
    f.server.publish(b"{\"newer\": 1}");
    let newer = refresh(&f).unwrap();
    f.server.serve_timestamp(&old_timestamp);
    let e = refresh(&f).unwrap_err().to_string();
    assert!(e.contains("rollback detected for timestamp"), "{e}");
    assert_eq!(f.cache.held(&f.repo).unwrap().unwrap().info, newer.info);
}

#[test]
fn a_root_rotation_not_signed_by_the_old_keys_is_refused() {
    let f = fixture();
    let held = refresh(&f).unwrap();
    f.server.rotate_root(false);
    let e = refresh(&f).unwrap_err();
    assert!(
        e.to_string().contains("2.root.json") || e.to_string().contains("role root"),
        "{e}"
    );
    assert_eq!(f.cache.held(&f.repo).unwrap().unwrap().info, held.info);
}

/// The kept files, read back as an archive would carry them.
fn kept_files(f: &Fixture) -> Files {
    let g = &generations(f)[0];
    let read = |n: &str| std::fs::read(g.join(n)).unwrap();
    let mut roots = Vec::new();
    for n in 2.. {
        match std::fs::read(g.join(format!("root_history/{n}.root.json"))) {
            Ok(b) => roots.push(b),
            Err(_) => break,
        }
    }
    Files {
        roots,
        timestamp: read("timestamp.json"),
        snapshot: read("snapshot.json"),
        targets: read("targets.json"),
        trusted_root: read("targets/trusted_root.json"),
    }
}

/// Past its expiry the state is stale: verifying it at a later time fails, while the kept
/// generation, verified at the time it was fetched, still serves.
#[test]
fn stale_state_is_reported_and_still_held() {
    let f = fixture();
    let held = refresh(&f).unwrap();
    let later = held.info.expires() + 1;
    assert!(held.info.is_stale(later));
    let e = verify(f.repo.initial_root(), &kept_files(&f), later).unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
    assert_eq!(f.cache.held(&f.repo).unwrap().unwrap().info, held.info);
}

/// What the data directory holds is not trusted: each tampered file is caught on read.
#[test]
fn tampered_state_is_refused_on_read() {
    let f = fixture();
    f.server.rotate_root(true);
    let held = refresh(&f).unwrap();
    let good = kept_files(&f);
    let initial = f.repo.initial_root();
    let at = held.info.verified_at;
    assert_eq!(verify(initial, &good, at).unwrap().info, held.info);

    let flip = |b: &[u8]| {
        let mut b = b.to_vec();
        let i = b.iter().position(|&c| c == b'"').unwrap() + 1;
        b[i] ^= 0x20;
        b
    };
    let cases: Vec<(&str, Files)> = vec![
        (
            "trusted root",
            Files {
                trusted_root: b"{\"forged\": 1}".to_vec(),
                ..good.clone()
            },
        ),
        (
            "timestamp",
            Files {
                timestamp: flip(&good.timestamp),
                ..good.clone()
            },
        ),
        (
            "snapshot",
            Files {
                snapshot: flip(&good.snapshot),
                ..good.clone()
            },
        ),
        (
            "targets",
            Files {
                targets: flip(&good.targets),
                ..good.clone()
            },
        ),
        (
            "root",
            Files {
                roots: vec![flip(&good.roots[0])],
                ..good.clone()
            },
        ),
        (
            "no rotation",
            Files {
                roots: vec![],
                ..good.clone()
            },
        ),
        (
            "garbage",
            Files {
                timestamp: vec![0xff; 64],
                ..good.clone()
            },
        ),
        ("empty", Files::default()),
    ];
    for (what, files) in cases {
        assert!(verify(initial, &files, now()).is_err(), "{what} accepted");
    }
    let e = verify(
        initial,
        &Files {
            trusted_root: b"{}".to_vec(),
            ..good.clone()
        },
        now(),
    )
    .unwrap_err();
    assert!(matches!(e, TufError::TargetMismatch { .. }), "{e}");

    // On disk: a tampered target, then a pointer out of the folder.
    let g = generations(&f)[0].clone();
    std::fs::write(g.join("targets/trusted_root.json"), b"{\"forged\": 1}").unwrap();
    let e = f.cache.held(&f.repo).unwrap_err();
    assert!(matches!(e, TufError::TargetMismatch { .. }), "{e}");
    let pointer = f
        .dir
        .path()
        .join("tuf")
        .join(f.repo.folder())
        .join("current");
    std::fs::write(&pointer, "../../etc").unwrap();
    assert!(f.cache.held(&f.repo).is_err());
    // A refresh repairs it: the repository is followed again from the initial root.
    assert_eq!(refresh(&f).unwrap().info.root_version, 2);
}

/// Every truncation and every single-byte change of every file is refused (or, for bytes
/// outside what is signed, such as whitespace, still gives the same trusted root), and
/// nothing panics.
#[test]
fn every_truncation_and_byte_change_is_refused_without_panic() {
    let f = fixture();
    f.server.rotate_root(true);
    refresh(&f).unwrap();
    let good = kept_files(&f);
    let initial = f.repo.initial_root();
    let expected = verify(initial, &good, now()).unwrap().trusted_root;
    type Field = fn(&mut Files) -> &mut Vec<u8>;
    let fields: [(&str, Field); 5] = [
        ("root", |f| &mut f.roots[0]),
        ("timestamp", |f| &mut f.timestamp),
        ("snapshot", |f| &mut f.snapshot),
        ("targets", |f| &mut f.targets),
        ("trusted root", |f| &mut f.trusted_root),
    ];
    let mut tried = 0;
    for (what, field) in fields {
        let len = field(&mut good.clone()).len();
        let step = (len / 97).max(1);
        for at in (0..len).step_by(step) {
            let mut cut = good.clone();
            field(&mut cut).truncate(at);
            assert!(verify(initial, &cut, now()).is_err(), "{what} cut at {at}");
            for flip in [0x01u8, 0x20, 0x80] {
                let mut changed = good.clone();
                field(&mut changed)[at] ^= flip;
                if let Ok(v) = verify(initial, &changed, now()) {
                    assert_eq!(v.trusted_root, expected, "{what}: byte {at} ^ {flip:#x}");
                    assert_ne!(what, "trusted root", "a changed trusted root was accepted");
                }
                tried += 1;
            }
        }
    }
    assert!(tried > 1000, "{tried}");
}

/// Processes refreshing at once (here threads) never leave `current` naming a folder
/// another one removed, and never go back to an older state.
#[test]
fn concurrent_refreshes_leave_a_state_that_verifies() {
    let f = fixture();
    for round in 0..3 {
        f.server
            .publish(format!("{{\"round\": {round}}}").as_bytes());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| refresh(&f).unwrap());
            }
        });
        let held = f.cache.held(&f.repo).unwrap().unwrap();
        assert_eq!(
            held.trusted_root,
            format!("{{\"round\": {round}}}").as_bytes()
        );
        assert!(!generations(&f).is_empty());
    }
}
