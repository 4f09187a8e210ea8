//! A Python callable as a [`Progress`]: called with `(done, total)` bytes.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use latch::oci::Digest;
use latch::registry::Progress;
use pyo3::prelude::*;
use tokio::sync::Notify;

/// Least time between two calls while bytes flow (the first and last are always made).
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// `(done, total)` last reported, and when.
type Reported = (Option<(u64, u64)>, Option<Instant>);

/// Reports transfer totals to a Python callable, from whichever thread the transfer runs
/// on, attaching to the interpreter for each call. If the callable raises, the exception
/// is kept, no further call is made, and [`PyProgress::cancelled`] fires: the operation is
/// then abandoned and the exception raised to the caller.
pub(crate) struct PyProgress {
    callback: Py<PyAny>,
    total: AtomicU64,
    done: AtomicU64,
    /// What was last reported, and when.
    last: Mutex<Reported>,
    failed: AtomicBool,
    error: Mutex<Option<PyErr>>,
    cancel: Notify,
}

impl PyProgress {
    pub(crate) fn new(callback: Py<PyAny>) -> PyProgress {
        PyProgress {
            callback,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            last: Mutex::new((None, None)),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
            cancel: Notify::new(),
        }
    }

    /// Resolves once the callable has raised.
    pub(crate) async fn cancelled(&self) {
        if self.failed.load(Ordering::SeqCst) {
            return;
        }
        self.cancel.notified().await;
    }

    /// The exception the callable raised, if it did.
    pub(crate) fn take_error(&self) -> Option<PyErr> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    /// Calls the callable with the current totals, unless they were just reported (a call
    /// at most every [`MIN_INTERVAL`] while bytes flow; `force` at a blob's start and end).
    pub(crate) fn report(&self, force: bool) {
        if self.failed.load(Ordering::SeqCst) {
            return;
        }
        // Held across the call, so that calls never overlap and `done` never goes back.
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if self.failed.load(Ordering::SeqCst) {
            return;
        }
        let done = self.done.load(Ordering::SeqCst);
        let total = self.total.load(Ordering::SeqCst).max(done);
        let now = Instant::now();
        if last.0 == Some((done, total)) {
            return;
        }
        let recent = last.1.is_some_and(|t| now.duration_since(t) < MIN_INTERVAL);
        if recent && !force && done < total {
            return;
        }
        *last = (Some((done, total)), Some(now));
        // Not attachable (the interpreter is shutting down): the call is skipped. A panic
        // (pyo3 resumes one when the callable raises its `PanicException`) is kept as a
        // `LatchError` like any exception of the callable, instead of unwinding through
        // the transfer on whichever thread runs it.
        let outcome = Python::try_attach(|py| {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                self.callback.call1(py, (done, total)).map(drop)
            }))
            .unwrap_or_else(|panic| {
                Err(crate::errors::internal(
                    py,
                    "the call of the progress callable",
                    panic.as_ref(),
                ))
            })
        });
        if let Some(Err(e)) = outcome {
            if let Ok(mut slot) = self.error.lock()
                && slot.is_none()
            {
                *slot = Some(e);
            }
            self.failed.store(true, Ordering::SeqCst);
            self.cancel.notify_one();
        }
    }
}

impl Progress for PyProgress {
    fn blob_started(&self, _digest: &Digest, size: u64) {
        self.total.fetch_add(size, Ordering::SeqCst);
        self.report(true);
    }

    fn blob_progress(&self, _digest: &Digest, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::SeqCst);
        self.report(false);
    }

    fn blob_finished(&self, _digest: &Digest) {
        self.report(true);
    }
}
