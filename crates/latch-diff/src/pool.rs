//! A few worker threads over a list of jobs: results in job order, the first error wins
//! and stops the others early.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::{DiffError, Result};

/// The error a job returns when it saw `stop` set (not reported).
pub(crate) fn stopped() -> DiffError {
    DiffError::Incomparable("stopped".to_owned())
}

fn is_stopped(e: &DiffError) -> bool {
    matches!(e, DiffError::Incomparable(m) if m == "stopped")
}

/// Runs `job(i)` for `i` in `0..jobs` on `threads` threads. `stop` is set on the first
/// error; jobs should check it and return [`stopped`].
pub(crate) fn run<T: Send>(
    jobs: usize,
    threads: usize,
    stop: &AtomicBool,
    job: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let results: Vec<Mutex<Option<Result<T>>>> = (0..jobs).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let threads = threads.min(jobs).max(1);
    let panicked = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= jobs || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let r = job(i);
                        if r.is_err() {
                            stop.store(true, Ordering::Relaxed);
                        }
                        *results[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().is_err())
            .fold(false, |a, b| a | b)
    });
    if panicked {
        return Err(DiffError::WorkerPanicked);
    }
    let mut out = Vec::with_capacity(jobs);
    let mut first_err = None;
    for r in results {
        match r.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) if is_stopped(&e) => {}
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    if out.len() != jobs {
        return Err(DiffError::Incomparable(
            "a job did not run (stopped early)".to_owned(),
        ));
    }
    Ok(out)
}
