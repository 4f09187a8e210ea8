//! The Rekor bundle JSON and the logged entry body. Properties: no panic; a parsed bundle
//! round-trips through cosign's JSON; verification against fixed keys never panics.
#![no_main]

use std::sync::LazyLock;

use latch_trust::{PublicKey, RekorBundle, RekorEntry};
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

static KEYS: LazyLock<Option<(PublicKey, PublicKey)>> = LazyLock::new(|| {
    Some((
        PublicKey::from_pem(KEY.as_bytes()).ok()?,
        PublicKey::from_pem(REKOR.as_bytes()).ok()?,
    ))
});

fuzz_target!(|data: &[u8]| {
    let Some((key, rekor)) = KEYS.as_ref() else {
        return;
    };
    if let Ok(bundle) = RekorBundle::from_json(data) {
        let again = RekorBundle::from_json(bundle.to_json().as_bytes()).expect("round trip");
        assert_eq!(again, bundle);
        let canonical = bundle.canonical_payload();
        assert!(canonical.starts_with(b"{\"body\":\""));
        let _ = bundle.verify(
            b"payload",
            b"sig",
            key,
            std::slice::from_ref(rekor),
            1_800_000_000,
            0,
        );
    }
    // The same bytes as an entry body.
    if let Ok(entry) = RekorEntry::parse(data) {
        let _ = entry.check_binding(b"payload", b"sig", key);
    }
});
