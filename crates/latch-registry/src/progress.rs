//! Progress of blob transfers, reported to whoever shows it (a progress bar, a Python
//! callback). Calls come from several tasks at once.

use std::sync::atomic::{AtomicU64, Ordering};

use latch_oci::Digest;

/// Receives transfer progress. Every method has an empty default.
pub trait Progress: Send + Sync {
    /// A transfer of `size` bytes starts.
    fn blob_started(&self, _digest: &Digest, _size: u64) {}
    /// `bytes` more bytes arrived (or were found already present).
    fn blob_progress(&self, _digest: &Digest, _bytes: u64) {}
    /// The blob is complete and verified.
    fn blob_finished(&self, _digest: &Digest) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Totals over all blobs: what a single bar or a `(done, total)` callback needs.
#[derive(Debug, Default)]
pub struct Totals {
    /// Bytes announced by started transfers.
    pub total: AtomicU64,
    /// Bytes done.
    pub done: AtomicU64,
}

impl Progress for Totals {
    fn blob_started(&self, _digest: &Digest, size: u64) {
        self.total.fetch_add(size, Ordering::Relaxed);
    }
    fn blob_progress(&self, _digest: &Digest, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
    }
}
