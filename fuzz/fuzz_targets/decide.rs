//! The one decision over arbitrary candidates: the bytes read as `cosign download
//! signature` entries (keyed or keyless) and as a Sigstore bundle, under a trust of a key
//! and a keyless identity (the public-good root). Properties: no panic; one outcome per
//! candidate; never more signers counted than are trusted; trusted exactly when the count
//! reaches the threshold. The same bytes as attestations (a bundle and a `.att` layer's
//! envelope) through `decide_attestations`, with the same properties.
#![no_main]

use std::sync::LazyLock;

use latch_decide::{
    AttestationCandidate, AttestationForm, BundleCandidate, Candidates, Trust, decide,
    decide_attestations,
};
use latch_oci::Digest;
use latch_sigstore::{IdentityPolicy, SanMatcher, TrustRoot};
use latch_trust::{PublicKey, TlogMode, parse_cosign_download};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoE0CXLGff79fR8KyPnSvOY74UBkt
2sLi+aVFUzS1Qwt4wosxHhcDN2B6QSsLlvgsH82q6qcA6PL2SdS/p4jWGA==
-----END PUBLIC KEY-----
";
const REKOR: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwr
kBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==
-----END PUBLIC KEY-----
";
const DIGEST: &str = "sha256:19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67";

/// A key and a workflow identity, threshold 1; built once.
static TRUST: LazyLock<Option<Trust>> = LazyLock::new(|| {
    let san = SanMatcher::regex("https://github\\.com/freedomofpress/.+").ok()?;
    Trust::builder()
        .key(PublicKey::from_pem(KEY.as_bytes()).ok()?)
        .rekor_key(PublicKey::from_pem(REKOR.as_bytes()).ok()?)
        .tlog(TlogMode::Optional)
        .identity(IdentityPolicy::new(
            "https://token.actions.githubusercontent.com",
            san,
        ))
        .identity_root(TrustRoot::production().ok()?)
        .build()
        .ok()
});

fuzz_target!(|data: &[u8]| {
    let (Some(trust), Ok(digest)) = (TRUST.as_ref(), Digest::parse(DIGEST)) else {
        return;
    };
    let mut candidates = match parse_cosign_download(data) {
        Ok(entries) => Candidates::from_sigs("fuzz", entries),
        Err(_) => Candidates::default(),
    };
    candidates.bundles.push(BundleCandidate {
        location: "fuzz".into(),
        manifest_digest: None,
        bytes: data.to_vec(),
    });
    let v = decide(trust, &candidates, &digest, 1_800_000_000);
    assert_eq!(
        v.outcomes.len(),
        candidates.sigs.len() + candidates.bundles.len()
    );
    assert!(v.count() <= 2);
    assert_eq!(v.trusted, v.count() >= v.threshold);
    let _ = v.summary();

    let attestations = [
        AttestationCandidate {
            location: "fuzz bundle".into(),
            manifest_digest: None,
            form: AttestationForm::Bundle(data.to_vec()),
        },
        AttestationCandidate {
            location: "fuzz .att".into(),
            manifest_digest: None,
            form: AttestationForm::AttLayer {
                envelope: data.to_vec(),
                annotations: Default::default(),
            },
        },
    ];
    let a = decide_attestations(
        trust,
        &attestations,
        &digest,
        "https://slsa.dev/provenance/v1",
    );
    assert_eq!(a.outcomes.len(), attestations.len());
    assert!(a.count() <= 2);
    assert_eq!(a.trusted, a.count() >= a.threshold);
    assert!(a.provenance.is_none());
    let _ = a.summary();
});
