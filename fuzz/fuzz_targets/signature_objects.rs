//! `cosign download signature` output (a list, or one object per line), then the verifier.
//! Properties: no panic; every parsed signature survives a round trip through the
//! cosign-download shape and through a `.sig` layer.
#![no_main]

use std::sync::LazyLock;

use latch_oci::Digest;
use latch_trust::{Policy, PublicKey, Signature, TlogMode, parse_cosign_download, verify};
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

/// One policy per transparency-log mode, built once.
static POLICIES: LazyLock<Option<Vec<Policy>>> = LazyLock::new(|| {
    let key = PublicKey::from_pem(KEY.as_bytes()).ok()?;
    let rekor = PublicKey::from_pem(REKOR.as_bytes()).ok()?;
    [TlogMode::Required, TlogMode::Optional, TlogMode::Ignored]
        .into_iter()
        .map(|mode| {
            Policy::builder()
                .key(key.clone())
                .rekor_key(rekor.clone())
                .tlog(mode)
                .build()
                .ok()
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = parse_cosign_download(data) else {
        return;
    };
    for sig in entries.iter().flatten() {
        // Cert, Chain and RFC3161Timestamp are kept as arbitrary JSON, where a float may
        // not survive a round trip to the last bit: compare what is verified.
        let again = Signature::from_cosign_json(sig.to_cosign_json().as_bytes())
            .expect("cosign-download round trip");
        assert_eq!(again.payload(), sig.payload());
        assert_eq!(again.signature(), sig.signature());
        assert_eq!(again.bundle(), sig.bundle());
        assert_eq!(again.cert().is_some(), sig.cert().is_some());
        let (layer, blob) = sig.to_layer();
        let from_layer = Signature::from_layer(&layer, &blob).expect("layer round trip");
        assert_eq!(from_layer.payload(), sig.payload());
        assert_eq!(from_layer.signature(), sig.signature());
        assert_eq!(from_layer.bundle(), sig.bundle());
    }
    let (Some(policies), Ok(digest)) = (POLICIES.as_ref(), Digest::parse(DIGEST)) else {
        return;
    };
    for policy in policies {
        match verify(policy, &digest, &entries, 1_800_000_000) {
            // One outcome per entry, in order.
            Ok(checked) => {
                assert_eq!(checked.outcomes.len(), entries.len());
                for (i, o) in checked.outcomes.iter().enumerate() {
                    assert_eq!(o.index(), i);
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
