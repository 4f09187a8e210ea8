//! Latch for Python: the native half of the `latch` package.
//!
//! `latch.Updater` wraps [`latch::Updater`]; each long call detaches from the interpreter
//! (other Python threads run meanwhile) and runs on a Tokio runtime owned by this module.
//! Results are small immutable objects (`results`), failures exceptions rooted at
//! `latch.LatchError` (`errors`), progress a Python callable called with `(done, total)`
//! bytes (`progress`).
//!
//! No Rust panic reaches Python: every method's body runs under [`guard`], which turns a
//! panic (a bug) into a `LatchError` of kind `internal` instead of pyo3's
//! `PanicException`; a method called from within a Latch call (the progress callable, a
//! signal handler) is refused with kind `reentrant-call` ([`not_reentrant`]) before it
//! could start a runtime inside the runtime or wait for a lock its caller holds.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod errors;
mod progress;
mod results;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latch::registry::{ClientOptions, NoProgress, Progress};
use latch::trust::TlogMode;
use latch::{Overrides, Profile, UpgradeOptions};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;

use crate::progress::PyProgress;
use crate::results::{
    ArchiveResult, CheckResult, InstallResult, StatusResult, StoreResult, UpgradeResult,
    VerifyResult,
};

/// How often a long call looks for a pending signal (Ctrl-C) while it waits.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// The module's Tokio runtime, with the id of the process that made it.
static RUNTIME: Mutex<Option<(u32, Arc<tokio::runtime::Runtime>)>> = Mutex::new(None);

/// The runtime, made on first use (not at import: an application that forks before using
/// Latch gets its runtime in the child). A child forked after a call gets a new one: the
/// parent's worker threads do not exist in it.
fn runtime() -> PyResult<Arc<tokio::runtime::Runtime>> {
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let pid = std::process::id();
    if let Some((owner, rt)) = slot.as_ref()
        && *owner == pid
    {
        return Ok(rt.clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("latch")
        .build()
        .map(Arc::new)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start Latch's runtime: {e}")))?;
    if let Some((_, inherited)) = slot.replace((pid, rt.clone())) {
        // Dropping it would wait for threads that were not forked: leak it instead.
        std::mem::forget(inherited);
    }
    Ok(rt)
}

/// Runs a method's body; a Rust panic in it (a bug, in Latch or a library it uses) is
/// raised as a `LatchError` of kind `internal`, not as pyo3's `PanicException` (a
/// `BaseException`, which an application catching `LatchError`, or even `Exception`,
/// would not expect). The state a panic interrupts is the same as a cancelled call's: the
/// operation is abandoned at the point it reached, as a killed process would stop.
fn guard<T>(py: Python<'_>, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    std::panic::catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|panic| Err(errors::internal(py, "an Updater method", panic.as_ref())))
}

/// Refuses a call made from within a Latch call, with a `LatchError` of kind
/// `reentrant-call`. Python code runs during a call only where Latch calls it: the
/// progress callable (on the calling thread or one of the runtime's threads) and signal
/// handlers (on the calling thread, while it waits). Both run inside the runtime's
/// context, where starting the runtime again would panic ("Cannot start a runtime from
/// within a runtime"), and while the outer call may hold the data directory's lock, which
/// the inner call would wait for forever. Outside a call no thread of this module's Tokio
/// is in a runtime context.
fn not_reentrant(py: Python<'_>) -> PyResult<()> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Err(errors::reentrant(py)),
        Err(_) => Ok(()),
    }
}

/// How a long call ended.
enum Outcome<T> {
    Done(latch::Result<T>),
    /// The progress callable raised.
    Cancelled,
    /// A signal handler raised (`KeyboardInterrupt`).
    Interrupted(PyErr),
}

/// Runs the future `make` returns to completion on the module's runtime, detached from
/// the interpreter (the future is made and polled inside, so it need not be `Send`).
///
/// Called from the main thread, every [`SIGNAL_POLL`] it attaches briefly to let Python
/// run its signal handlers: a `KeyboardInterrupt` abandons the operation (dropped at an
/// await point, as a killed process would stop: the previously installed image stays
/// installed) and is raised. If the progress callable raises, the operation is abandoned
/// the same way and that exception is raised; if it raises after the operation finished,
/// the result stands and the exception goes to `sys.unraisablehook`.
fn run<T, F, Fut>(py: Python<'_>, progress: Option<&PyProgress>, make: F) -> PyResult<T>
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = latch::Result<T>>,
    T: Send,
{
    not_reentrant(py)?;
    let rt = runtime()?;
    // Python runs signal handlers only in its main thread: elsewhere there is nothing to
    // poll for.
    let main_thread = is_main_thread(py)?;
    let outcome = py.detach(|| {
        rt.block_on(async {
            let fut = make();
            let cancelled = async {
                match progress {
                    Some(p) => p.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            let signals = async {
                if !main_thread {
                    return std::future::pending().await;
                }
                loop {
                    tokio::time::sleep(SIGNAL_POLL).await;
                    if let Some(Err(e)) = Python::try_attach(|py| py.check_signals()) {
                        return e;
                    }
                }
            };
            tokio::select! {
                biased;
                r = fut => Outcome::Done(r),
                () = cancelled => Outcome::Cancelled,
                e = signals => Outcome::Interrupted(e),
            }
        })
    });
    match outcome {
        Outcome::Done(result) => {
            if let Some(err) = progress.and_then(PyProgress::take_error) {
                err.write_unraisable(py, None);
            }
            result.map_err(|e| errors::to_py(py, e))
        }
        Outcome::Cancelled => Err(progress
            .and_then(PyProgress::take_error)
            .unwrap_or_else(|| {
                PyRuntimeError::new_err("the progress callable failed; operation abandoned")
            })),
        Outcome::Interrupted(e) => Err(e),
    }
}

/// Whether the calling thread is Python's main thread.
fn is_main_thread(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let current = threading.call_method0("current_thread")?;
    let main = threading.call_method0("main_thread")?;
    Ok(current.is(&main))
}

/// A progress callable, checked.
fn progress_of(py: Python<'_>, callable: Option<Py<PyAny>>) -> PyResult<Option<PyProgress>> {
    match callable {
        None => Ok(None),
        Some(c) if c.bind(py).is_none() => Ok(None),
        Some(c) if c.bind(py).is_callable() => Ok(Some(PyProgress::new(c))),
        Some(c) => Err(PyTypeError::new_err(format!(
            "progress must be a callable taking (done, total), not {}",
            c.bind(py).get_type().name()?
        ))),
    }
}

fn as_progress(p: &Option<PyProgress>) -> &dyn Progress {
    match p {
        Some(p) => p,
        None => &NoProgress,
    }
}

/// `provenance={"repository": ..., "workflow": ..., "refs": [...], "ref_pattern": ...,
/// "builder_id": ..., "trusted_root": ...}`: the same keys as a profile's `[provenance]`.
fn provenance_section(
    py: Python<'_>,
    d: &Bound<'_, pyo3::types::PyDict>,
) -> PyResult<latch::profile::ProvenanceSection> {
    use pyo3::types::PyDictMethods as _;
    const KEYS: [&str; 7] = [
        "repository",
        "workflow",
        "refs",
        "ref_pattern",
        "builder_id",
        "trusted_root",
        "issuer",
    ];
    for k in d.keys() {
        let k: String = k.extract()?;
        if !KEYS.contains(&k.as_str()) {
            return Err(errors::configuration(
                py,
                format!("provenance: unknown key {k:?} (known: {})", KEYS.join(", ")),
            ));
        }
    }
    let text = |k: &str| -> PyResult<Option<String>> {
        d.get_item(k)?.map(|v| v.extract::<String>()).transpose()
    };
    let required = |k: &str| -> PyResult<String> {
        text(k)?.ok_or_else(|| errors::configuration(py, format!("provenance: {k} is required")))
    };
    Ok(latch::profile::ProvenanceSection {
        repository: required("repository")?,
        workflow: required("workflow")?,
        refs: d
            .get_item("refs")?
            .map(|v| v.extract::<Vec<String>>())
            .transpose()?
            .unwrap_or_default(),
        ref_pattern: text("ref_pattern")?,
        builder_id: text("builder_id")?,
        trusted_root: text("trusted_root")?,
        issuer: text("issuer")?,
    })
}

/// A Python callable as a health check: called with `(image, digest)`; `False` or an
/// exception refuses the image (the exception's text is the reason).
fn python_health_check(callable: Py<PyAny>) -> latch::flows::health::HealthCheck {
    latch::flows::health::HealthCheck::callback(move |t| {
        let outcome = Python::try_attach(|py| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                match callable.call1(py, (t.image.clone(), t.digest.to_string())) {
                    Ok(v) => match v.extract::<bool>(py) {
                        Ok(false) => Err("the health check returned False".to_owned()),
                        _ => Ok(()),
                    },
                    Err(e) => Err(format!("the health check raised {e}")),
                }
            }))
            .unwrap_or_else(|_| Err("the health check panicked".to_owned()))
        });
        outcome.unwrap_or_else(|| Err("the Python interpreter is not available".to_owned()))
    })
}

/// Keeps one application's sandbox image current and proven. See the package
/// documentation (`help(latch)`) for the arguments.
#[pyclass(frozen, module = "latch", name = "Updater")]
struct PyUpdater {
    inner: latch::Updater,
    /// What the call in progress warned of (the updater's `on_warning`): a failure's
    /// exception carries it as `warnings`.
    warned: Arc<Mutex<Vec<String>>>,
}

impl PyUpdater {
    /// [`run`], with the warnings that came before a failure carried by its exception
    /// (`LatchError.warnings`, a tuple): a report carries them on success.
    fn run<T, F, Fut>(&self, py: Python<'_>, progress: Option<&PyProgress>, make: F) -> PyResult<T>
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = latch::Result<T>>,
        T: Send,
    {
        let take = || std::mem::take(&mut *self.warned.lock().unwrap_or_else(|e| e.into_inner()));
        take();
        let result = run(py, progress, make);
        let warned = take();
        result.inspect_err(|e| {
            if !warned.is_empty()
                && let Ok(warnings) = pyo3::types::PyTuple::new(py, warned)
            {
                // An exception that takes no attribute keeps its message and kind.
                let _ = e.value(py).setattr("warnings", warnings);
            }
        })
    }
}

#[pymethods]
impl PyUpdater {
    #[new]
    #[pyo3(signature = (
        image=None, keys=None, rekor_keys=None, runtime=None, data_dir=None, profile=None,
        threshold=None, tlog=None, insecure_registries=None, *, platform=None, repository=None,
        rollback_floor=None, max_signature_age=None, source_layout=None, bundled_archive=None,
        provenance=None, health_check=None, health_timeout=None, min_age=None, mirrors=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        image: Option<String>,
        keys: Option<Vec<PathBuf>>,
        rekor_keys: Option<Vec<PathBuf>>,
        runtime: Option<String>,
        data_dir: Option<PathBuf>,
        profile: Option<PathBuf>,
        threshold: Option<usize>,
        tlog: Option<String>,
        insecure_registries: Option<Vec<String>>,
        platform: Option<String>,
        repository: Option<String>,
        rollback_floor: Option<u64>,
        max_signature_age: Option<String>,
        source_layout: Option<PathBuf>,
        bundled_archive: Option<PathBuf>,
        provenance: Option<Bound<'_, pyo3::types::PyDict>>,
        health_check: Option<Bound<'_, PyAny>>,
        health_timeout: Option<String>,
        min_age: Option<String>,
        mirrors: Option<Vec<String>>,
    ) -> PyResult<PyUpdater> {
        guard(py, || {
            let provenance = provenance.map(|d| provenance_section(py, &d)).transpose()?;
            // A list of strings is a command; a callable is called with (image, digest).
            let (health_argv, health_callable) = match health_check {
                None => (None, None),
                Some(h) if h.is_callable() => (None, Some(h.unbind())),
                Some(h) => (
                    Some(h.extract::<Vec<String>>().map_err(|_| {
                        errors::configuration(
                            py,
                            "health_check: a list of strings (a command) or a callable".to_owned(),
                        )
                    })?),
                    None,
                ),
            };
            let tlog = match tlog {
                Some(t) => Some(t.parse::<TlogMode>().map_err(|e| {
                    errors::configuration(
                        py,
                        format!("tlog {t:?}: {e} (expected required, optional or ignored)"),
                    )
                })?),
                None => None,
            };
            if threshold == Some(0) {
                return Err(errors::configuration(
                    py,
                    "threshold must be at least 1".to_owned(),
                ));
            }
            let overrides = Overrides {
                image,
                keys: keys.unwrap_or_default(),
                threshold,
                rekor_keys: rekor_keys.unwrap_or_default(),
                tlog,
                repository,
                rollback_floor,
                max_signature_age,
                runtime,
                data_dir,
                platform,
                source_layout,
                bundled_archive,
                provenance,
                health_check: health_argv,
                health_timeout,
                min_age,
                mirrors: mirrors.unwrap_or_default(),
            };
            let profile = match profile {
                Some(p) if p.as_os_str() == "demo" => latch::demo::profile(overrides),
                Some(p) => Profile::from_file(&p, overrides),
                None => Profile::from_overrides(overrides),
            }
            .map_err(|e| errors::to_py(py, e))?;
            let mut profile = profile;
            if let Some(callable) = health_callable {
                profile.health_check = Some(python_health_check(callable));
            }
            let mut opts = ClientOptions::from_env();
            opts.insecure_registries
                .extend(insecure_registries.unwrap_or_default());
            let warned = Arc::new(Mutex::new(Vec::new()));
            let into = warned.clone();
            let inner = latch::Updater::with_client_options(profile, opts)
                .map_err(|e| errors::to_py(py, e))?
                .on_warning(move |w| {
                    into.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(w.to_owned())
                });
            Ok(PyUpdater { inner, warned })
        })
    }

    /// Is a newer verified image available? `explicit=False` (an automatic check) honours
    /// the user's opt-in and the cooldown.
    #[pyo3(signature = (explicit=true))]
    fn check(&self, py: Python<'_>, explicit: bool) -> PyResult<CheckResult> {
        guard(py, || {
            let r = self.run(py, None, || self.inner.check(explicit))?;
            Ok(CheckResult::new(&r))
        })
    }

    /// Upgrades to the newest verified image, or says it is already installed.
    #[pyo3(signature = (progress=None, force=false, wait=false, retry_failed=false, now=false))]
    fn upgrade(
        &self,
        py: Python<'_>,
        progress: Option<Py<PyAny>>,
        force: bool,
        wait: bool,
        retry_failed: bool,
        now: bool,
    ) -> PyResult<UpgradeResult> {
        guard(py, || {
            let progress = progress_of(py, progress)?;
            let opts = UpgradeOptions {
                force,
                wait,
                retry_failed,
                now,
                ..UpgradeOptions::default()
            };
            let r = self.run(py, progress.as_ref(), || {
                self.inner.upgrade(&opts, as_progress(&progress))
            })?;
            Ok(UpgradeResult::new(&r))
        })
    }

    /// Verifies the installed image before use.
    #[pyo3(signature = (deep=false))]
    fn verify_local(&self, py: Python<'_>, deep: bool) -> PyResult<VerifyResult> {
        guard(py, || {
            let r = self.run(py, None, || self.inner.verify_local(deep))?;
            Ok(VerifyResult::new(&r))
        })
    }

    /// Fetches, verifies and stores the remote image's signatures without pulling it.
    fn store_signatures(&self, py: Python<'_>) -> PyResult<StoreResult> {
        guard(py, || {
            let r = self.run(py, None, || self.inner.store_signatures())?;
            Ok(StoreResult::new(&r))
        })
    }

    /// Writes an air-gap archive of the newest verified image.
    #[pyo3(signature = (path, arch=None, force=false, progress=None))]
    fn prepare_archive(
        &self,
        py: Python<'_>,
        path: PathBuf,
        arch: Option<String>,
        force: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<ArchiveResult> {
        guard(py, || {
            let platform = match arch.as_deref() {
                Some(a) => Some(
                    latch::oci::Platform::parse(a)
                        .map_err(|e| errors::configuration(py, format!("arch {a:?}: {e}")))?,
                ),
                None => None,
            };
            let progress = progress_of(py, progress)?;
            let r = self.run(py, progress.as_ref(), || {
                self.inner
                    .prepare_archive(platform.as_ref(), &path, force, as_progress(&progress))
            })?;
            Ok(ArchiveResult::new(&r))
        })
    }

    /// Loads an air-gap archive, verified before anything reaches the runtime.
    #[pyo3(signature = (path, force=false, wait=false))]
    fn load_archive(
        &self,
        py: Python<'_>,
        path: PathBuf,
        force: bool,
        wait: bool,
    ) -> PyResult<UpgradeResult> {
        guard(py, || {
            let opts = UpgradeOptions {
                force,
                wait,
                ..UpgradeOptions::default()
            };
            let r = self.run(py, None, || self.inner.load_archive(&path, &opts))?;
            Ok(UpgradeResult::new(&r))
        })
    }

    /// Installs the best of: what is installed, the bundled archive, the registry's newest
    /// image (only when `online`).
    #[pyo3(signature = (online=false, progress=None))]
    fn install(
        &self,
        py: Python<'_>,
        online: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<InstallResult> {
        guard(py, || {
            let progress = progress_of(py, progress)?;
            let r = self.run(py, progress.as_ref(), || {
                self.inner.install(online, as_progress(&progress))
            })?;
            InstallResult::new(py, &r)
        })
    }

    /// What is installed and how Latch is set up.
    fn status(&self, py: Python<'_>) -> PyResult<StatusResult> {
        guard(py, || {
            let r = self.run(py, None, || self.inner.status())?;
            Ok(StatusResult::new(&r))
        })
    }

    /// Records the user's choice about automatic update checks.
    fn set_updates_enabled(&self, py: Python<'_>, enabled: bool) -> PyResult<()> {
        guard(py, || {
            // From the progress callable of an upgrade, the lock would never come.
            not_reentrant(py)?;
            // Waits for the store's lock (an upgrade in another process): detached.
            py.detach(|| self.inner.set_updates_enabled(enabled))
                .map_err(|e| errors::to_py(py, e))
        })
    }

    /// Whether automatic update checks are on (the user's choice, else the profile's).
    #[getter]
    fn updates_enabled(&self, py: Python<'_>) -> PyResult<bool> {
        guard(py, || {
            self.inner
                .updates_enabled()
                .map_err(|e| errors::to_py(py, e))
        })
    }

    /// The image followed (`registry/repository:tag`).
    #[getter]
    fn image(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || Ok(self.inner.profile().image.to_string()))
    }

    /// The data directory (signatures, `last_log_index`, state).
    #[getter]
    fn data_dir(&self) -> PathBuf {
        self.inner.profile().data_dir.clone()
    }

    /// The runtime (`podman`, `docker` or `store:DIR`).
    #[getter]
    fn runtime(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || Ok(self.inner.runtime().spec()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            let profile = self.inner.profile();
            Ok(format!(
                "Updater(image={:?}, runtime={:?}, data_dir={:?})",
                profile.image.to_string(),
                self.inner.runtime().spec(),
                profile.data_dir.display().to_string()
            ))
        })
    }
}

/// The native module `latch._latch`; the package `latch` re-exports it.
#[pymodule]
fn _latch(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyUpdater>()?;
    m.add_class::<CheckResult>()?;
    m.add_class::<UpgradeResult>()?;
    m.add_class::<VerifyResult>()?;
    m.add_class::<StoreResult>()?;
    m.add_class::<StatusResult>()?;
    m.add_class::<ArchiveResult>()?;
    m.add_class::<InstallResult>()?;
    Ok(())
}
