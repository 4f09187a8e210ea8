//! The simple-signing payload parser. Properties: no panic; an accepted payload rebuilt
//! with cosign's writer parses back to the same value.
#![no_main]

use latch_trust::SimpleSigning;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match SimpleSigning::parse(data) {
        Ok(p) => {
            let bytes = p.to_bytes();
            let again = SimpleSigning::parse(&bytes).expect("rebuilt payload parses");
            assert_eq!(again.docker_reference(), p.docker_reference());
            assert_eq!(again.manifest_digest(), p.manifest_digest());
            assert_eq!(again.timestamp(), p.timestamp());
            let keys =
                |s: &SimpleSigning| s.optional().map(|o| o.keys().cloned().collect::<Vec<_>>());
            assert_eq!(keys(&again), keys(&p));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
