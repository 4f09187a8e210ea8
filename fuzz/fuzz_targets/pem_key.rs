//! The PEM SubjectPublicKeyInfo reader. Properties: no panic; an accepted key re-reads
//! from its DER with the same identity and algorithm; verifying junk never panics.
#![no_main]

use latch_trust::PublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match PublicKey::from_pem(data) {
        Ok(key) => {
            let again = PublicKey::from_der(key.der()).expect("DER of an accepted key");
            assert_eq!(again.log_id(), key.log_id());
            assert_eq!(again.algorithm(), key.algorithm());
            let _ = key.verify(data, data);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // Raw DER too.
    if let Ok(key) = PublicKey::from_der(data) {
        assert_eq!(key.der(), data);
    }
});
