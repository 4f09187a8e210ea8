//! Signers appending to the same `.sig` manifest at the same time all end up in it.

use std::sync::Arc;

use latch_sign::{PrivateKey, SignOptions, sign};
use latch_testkit::Registry;

use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_signers_all_land() {
    let reg = Registry::start();
    let keys: Vec<Arc<PrivateKey>> = (0..4).map(|_| Arc::new(latch_key())).collect();
    for round in 0..3u64 {
        let (image, digest) = push_image(&reg, &format!("race/app{round}:v1"), 40 + round);
        // Two signers in the first rounds, four in the last.
        let n = if round < 2 { 2 } else { 4 };
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let mut tasks = Vec::new();
        for key in keys.iter().take(n) {
            let (key, image, barrier) = (key.clone(), image.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                sign(&client(), key.as_ref(), &image, &SignOptions::default()).await
            }));
        }
        let mut attempts = Vec::new();
        for t in tasks {
            let r = t.await.unwrap().expect("every signer succeeds");
            attempts.push(r.signed[0].attempts);
        }
        eprintln!("round {round}: {n} signers, attempts {attempts:?}");
        let sigs = signatures(&image).await;
        assert_eq!(sigs.len(), n, "round {round}: attempts {attempts:?}");
        let publics: Vec<&PublicKey> = keys.iter().take(n).map(|k| k.public_key()).collect();
        let verdict = verify(&policy(&publics, n), &digest, &sigs, now()).unwrap();
        assert!(verdict.all_accepted());
    }
}
