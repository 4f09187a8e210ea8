//! Writing a tag that other writers may write at the same moment.
//!
//! The registry API has no compare-and-swap on a tag, so every writer that extends what a
//! tag holds (a signature appended to a `.sig` manifest, a referrer added to the
//! `sha256-<hex>` tag index) does the same: read, build the new document with everything
//! read kept, check with [`tag_digest`] that the tag still holds what was read, write,
//! [`Contention::settle`], read back, and start again after [`Contention::pause`] when its
//! own addition is not there. The loop is bounded by [`Contention::attempts`]. A writer
//! whose read-back succeeded can still be overwritten by one that passed its check in the
//! same instant; the settle delay makes that window smaller than any real race, it does
//! not close it.

use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use latch_oci::{Digest, Reference};
use latch_registry::{Client, RegistryError};

use crate::registry::get_optional_manifest;

/// How a contended write is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contention {
    /// Attempts before giving up (at least one is made).
    pub max_attempts: u32,
    /// Wait between the write and the read-back that confirms it.
    pub settle: Duration,
}

impl Default for Contention {
    fn default() -> Self {
        Contention {
            max_attempts: 10,
            settle: Duration::from_millis(150),
        }
    }
}

impl Contention {
    /// The attempts to make: `1..=attempts()`.
    pub fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// Waits before attempt `attempt` (nothing before the first): a random backoff that
    /// grows with the attempts, so that writers that collided do not collide again.
    pub async fn pause(&self, attempt: u32) {
        if attempt > 1 {
            let ceiling = 40u64.saturating_mul(u64::from(attempt.min(10)));
            tokio::time::sleep(Duration::from_millis(10 + random_u64() % ceiling.max(1))).await;
        }
    }

    /// Waits after a write, before its read-back: the settle delay and up to half of it
    /// again at random.
    pub async fn settle(&self) {
        let half = u64::try_from(self.settle.as_millis()).unwrap_or(u64::MAX) / 2;
        let jitter = if half == 0 { 0 } else { random_u64() % half };
        tokio::time::sleep(self.settle + Duration::from_millis(jitter)).await;
    }
}

/// The digest the tag `reference` holds now (`HEAD`, or a `GET` when the registry's answer
/// names no digest); `None` when the tag does not exist.
pub async fn tag_digest(
    client: &Client,
    reference: &Reference,
) -> Result<Option<Digest>, RegistryError> {
    match client.head_manifest(reference).await? {
        None => Ok(None),
        Some(h) => match h.digest {
            Some(d) => Ok(Some(d)),
            None => Ok(get_optional_manifest(client, reference)
                .await?
                .map(|m| m.digest().clone())),
        },
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // On failure the delay is merely not random.
    let _ = SystemRandom::new().fill(&mut b);
    u64::from_le_bytes(b)
}
