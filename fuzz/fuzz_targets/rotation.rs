//! Following a chain of trust documents over arbitrary envelopes, from a version 1 whose
//! key nobody holds. Properties: no panic; nothing is ever adopted (no signature can be
//! forged), so an answer is either a refusal or version 1 unchanged.
#![no_main]

use std::sync::LazyLock;

use latch_rotation::Succession;
use latch_trust::PublicKey;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoE0CXLGff79fR8KyPnSvOY74UBkt
2sLi+aVFUzS1Qwt4wosxHhcDN2B6QSsLlvgsH82q6qcA6PL2SdS/p4jWGA==
-----END PUBLIC KEY-----
";

static V1: LazyLock<Option<Succession>> = LazyLock::new(|| {
    let key = PublicKey::from_pem(KEY.as_bytes()).ok()?;
    Some(Succession::anchor("ghcr.io/org/app", vec![key], 1))
});

fuzz_target!(|data: &[u8]| {
    let Some(v1) = V1.as_ref() else {
        return;
    };
    // The input whole, and split in two envelopes at its first newline.
    let mut offers: Vec<Vec<&[u8]>> = vec![vec![data]];
    if let Some(i) = data.iter().position(|b| *b == b'\n') {
        offers.push(vec![&data[..i], &data[i + 1..]]);
    }
    for offer in offers {
        if let Ok(f) = v1.follow(&offer, 1_800_000_000) {
            assert!(f.adopted.is_empty());
            assert_eq!(f.succession.version(), 1);
        }
    }
});
