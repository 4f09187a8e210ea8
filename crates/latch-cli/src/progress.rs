//! Progress: bars on a terminal (silence when piped), or, under `--json --events`, one
//! JSON event per line on stdout for a program to draw its own (docs/json.md, "Events").

use std::collections::HashMap;
use std::future::Future;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use latch::oci::Digest;
use latch::registry::Progress;
use serde::Serialize;
use tokio::sync::Notify;

use crate::output::{
    self, AnyError, JSON_VERSION, StdoutError, errln, json_document, json_error_document, outln,
};

/// One bar for all bytes of a transfer, drawn on stderr only when it is a terminal.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar labelled `message`; hidden unless stderr is a terminal and `quiet` is false.
    pub fn new(message: &str, quiet: bool) -> Bar {
        let target = if !quiet && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        Bar { bar }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn blob_started(&self, _digest: &Digest, size: u64) {
        self.bar.inc_length(size);
    }
    fn blob_progress(&self, _digest: &Digest, bytes: u64) {
        self.bar.inc(bytes);
    }
}

/// The shortest time between two progress events of one blob; its first and its last
/// are printed whatever the time.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// The step announced when the first blob transfer starts.
const STEP_DOWNLOADING: &str = "downloading";

/// The step announced right before the report.
const STEP_DONE: &str = "done";

/// The event stream of `--json --events` (docs/json.md, "Events"): steps, rate-limited
/// progress per blob, then the report or the error as the last line. Disabled (every
/// method a no-op or the plain `--json` behaviour) without `--events`.
///
/// A line that cannot be written (the reader went away) stops the stream and the library
/// call it watches ([`Reporter::during`]); the write error is then the command's result.
#[derive(Clone)]
pub struct Events {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    state: Mutex<State>,
    /// Told when a line could not be written.
    broken: Notify,
}

#[derive(Default)]
struct State {
    blobs: HashMap<Digest, Blob>,
    /// Whether [`STEP_DOWNLOADING`] was announced.
    downloading: bool,
    /// A line could not be written: nothing more is.
    closed: bool,
    /// The write error, until taken.
    failure: Option<StdoutError>,
}

/// One blob's transfer as reported so far.
struct Blob {
    total: u64,
    done: u64,
    /// `done` as last printed.
    shown: u64,
    /// When it was last printed.
    at: Instant,
    finished: bool,
}

#[derive(Serialize)]
struct StepEvent<'a> {
    event: &'static str,
    step: &'a str,
    json_version: u32,
}

#[derive(Serialize)]
struct ProgressEvent {
    event: &'static str,
    blob: String,
    done: u64,
    total: u64,
    json_version: u32,
}

impl Events {
    /// The stream when `enabled` (`--events`), else a disabled one.
    pub fn new(enabled: bool) -> Events {
        Events {
            inner: enabled.then(|| {
                Arc::new(Inner {
                    state: Mutex::new(State::default()),
                    broken: Notify::new(),
                })
            }),
        }
    }

    /// What shows the progress of a library call: this stream when enabled, else a bar
    /// labelled `bar` (none when `None`: the call reports no progress), hidden under
    /// `--json` (`json`) or when stderr is not a terminal.
    pub fn reporter(&self, bar: Option<&str>, json: bool) -> Reporter {
        match (&self.inner, bar) {
            (Some(_), _) => Reporter::Events(self.clone()),
            (None, Some(message)) => Reporter::Bar(Bar::new(message, json)),
            (None, None) => Reporter::Silent,
        }
    }

    /// Announces `step` (`{"event": "step", "step": …}`); nothing when disabled.
    pub fn step(&self, step: &str) -> Result<(), StdoutError> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let mut state = inner.lock();
        inner.emit(&mut state, &step_event(step));
        state.failure.take().map_or(Ok(()), Err)
    }

    /// Prints the command's report: under `--events` the step `done` and then the
    /// document of `--json` on one line with `"event": "report"`; else the `--json`
    /// document as it always was.
    pub fn print_report<T: Serialize>(&self, report: &T) -> Result<(), AnyError> {
        if self.inner.is_none() {
            return output::print_json(report);
        }
        self.step(STEP_DONE)?;
        let mut doc = json_document(report)?;
        if let serde_json::Value::Object(map) = &mut doc {
            map.insert("event".into(), "report".into());
        }
        outln!("{}", serde_json::to_string(&doc)?)?;
        Ok(())
    }

    /// Ends a command under `--events`: a failure becomes the last line, the error
    /// document of `--json` on one line with `"event": "error"`, reported on stderr as
    /// `main` reports any failure, and the exit status 1. A failed write to stdout is
    /// returned as it is, for `main` (a closed pipe ends quietly). Disabled: `result`.
    pub fn conclude(&self, result: Result<ExitCode, AnyError>) -> Result<ExitCode, AnyError> {
        let Some(inner) = &self.inner else {
            return result;
        };
        let e = match result {
            Ok(code) => return Ok(code),
            Err(e) => e,
        };
        if output::stdout_error(&e).is_some() {
            return Err(e);
        }
        if let Some(w) = inner.lock().failure.take() {
            // An event could not be written: that ended the command.
            return Err(w.into());
        }
        let mut doc = json_error_document(&e);
        if let serde_json::Value::Object(map) = &mut doc {
            map.insert("event".into(), "error".into());
        }
        let unwritten = outln!("{}", serde_json::to_string(&doc).unwrap_or_default())
            .and_then(|()| output::flush_stdout())
            .err();
        output::print_error(&e);
        if let Some(w) = unwritten.filter(|w| !w.is_broken_pipe()) {
            errln!("latch: {w}: {}", w.0);
        }
        Ok(ExitCode::FAILURE)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `event` as one line, unless the stream is closed; a failure closes it.
    fn emit(&self, state: &mut State, event: &impl Serialize) {
        if state.closed {
            return;
        }
        let Ok(line) = serde_json::to_string(event) else {
            return;
        };
        if let Err(w) = outln!("{line}") {
            state.closed = true;
            state.failure = Some(w);
            self.broken.notify_one();
        }
    }
}

fn step_event(step: &str) -> StepEvent<'_> {
    StepEvent {
        event: "step",
        step,
        json_version: JSON_VERSION,
    }
}

fn progress_event(digest: &Digest, done: u64, total: u64) -> ProgressEvent {
    ProgressEvent {
        event: "progress",
        blob: digest.to_string(),
        done,
        total,
        json_version: JSON_VERSION,
    }
}

impl Progress for Events {
    fn blob_started(&self, digest: &Digest, size: u64) {
        let Some(inner) = &self.inner else { return };
        let mut state = inner.lock();
        if !state.downloading {
            state.downloading = true;
            inner.emit(&mut state, &step_event(STEP_DOWNLOADING));
        }
        // Each blob is reported once: a second transfer of it adds nothing.
        if state.blobs.contains_key(digest) {
            return;
        }
        state.blobs.insert(
            digest.clone(),
            Blob {
                total: size,
                done: 0,
                shown: 0,
                at: Instant::now(),
                finished: false,
            },
        );
        inner.emit(&mut state, &progress_event(digest, 0, size));
    }

    fn blob_progress(&self, digest: &Digest, bytes: u64) {
        let Some(inner) = &self.inner else { return };
        let mut state = inner.lock();
        let Some(blob) = state.blobs.get_mut(digest) else {
            return;
        };
        if blob.finished {
            return;
        }
        // A transfer started over counts its bytes again: never past the total.
        blob.done = blob.done.saturating_add(bytes).min(blob.total);
        if blob.done == blob.shown
            || (blob.done < blob.total && blob.at.elapsed() < PROGRESS_INTERVAL)
        {
            return;
        }
        blob.shown = blob.done;
        blob.at = Instant::now();
        let event = progress_event(digest, blob.done, blob.total);
        inner.emit(&mut state, &event);
    }

    fn blob_finished(&self, digest: &Digest) {
        let Some(inner) = &self.inner else { return };
        let mut state = inner.lock();
        let Some(blob) = state.blobs.get_mut(digest) else {
            return;
        };
        if blob.finished {
            return;
        }
        blob.finished = true;
        blob.done = blob.total;
        if blob.shown == blob.total {
            return;
        }
        blob.shown = blob.total;
        let event = progress_event(digest, blob.total, blob.total);
        inner.emit(&mut state, &event);
    }
}

/// What shows the progress of one library call: a bar, events, or nothing.
pub enum Reporter {
    /// A bar on stderr (drawn only on a terminal, and not under `--json`).
    Bar(Bar),
    /// `--json --events`.
    Events(Events),
    /// Nothing: the call reports no progress.
    Silent,
}

impl Reporter {
    /// Runs a library call: under `--events` announces `step` first, and stops the call
    /// when a line cannot be written (the reader went away), returning that error.
    pub async fn during<F: Future>(&self, step: &str, call: F) -> Result<F::Output, StdoutError> {
        let Reporter::Events(events) = self else {
            return Ok(call.await);
        };
        let Some(inner) = &events.inner else {
            return Ok(call.await);
        };
        events.step(step)?;
        let out = tokio::select! {
            out = call => Some(out),
            () = inner.broken.notified() => None,
        };
        match (inner.lock().failure.take(), out) {
            (None, Some(out)) => Ok(out),
            (Some(w), _) => Err(w),
            // Told only after a failure was recorded.
            (None, None) => Err(StdoutError(std::io::ErrorKind::BrokenPipe.into())),
        }
    }

    /// Removes the bar, if any.
    pub fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish();
        }
    }
}

impl Progress for Reporter {
    fn blob_started(&self, digest: &Digest, size: u64) {
        match self {
            Reporter::Bar(b) => b.blob_started(digest, size),
            Reporter::Events(e) => e.blob_started(digest, size),
            Reporter::Silent => {}
        }
    }
    fn blob_progress(&self, digest: &Digest, bytes: u64) {
        match self {
            Reporter::Bar(b) => b.blob_progress(digest, bytes),
            Reporter::Events(e) => e.blob_progress(digest, bytes),
            Reporter::Silent => {}
        }
    }
    fn blob_finished(&self, digest: &Digest) {
        match self {
            Reporter::Bar(b) => b.blob_finished(digest),
            Reporter::Events(e) => e.blob_finished(digest),
            Reporter::Silent => {}
        }
    }
}
