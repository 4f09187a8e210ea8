//! The small, immutable result objects the methods return.
//!
//! Each carries the fields an application decides on as attributes, and the whole report
//! (the same JSON the CLI prints with `--json` for the same command) through `json()` and
//! `to_dict()`.

use latch::archive::PrepareReport;
use latch::{CheckReport, InstallReport, LocalReport, StatusReport, StoreReport, UpgradeReport};
use pyo3::prelude::*;
use serde::Serialize;

/// Parses JSON text into Python objects (dicts, lists, str, int, float, bool, None) with
/// the standard library's parser, so that integers of any size stay exact.
pub(crate) fn json_to_py<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}

/// A report as JSON text. Serialising these plain structs cannot fail; should it ever,
/// the error is said in the text rather than lost.
fn to_json<T: Serialize>(report: &T) -> String {
    serde_json::to_string(report)
        .unwrap_or_else(|e| format!("{{\"error\":{:?}}}", format!("cannot serialise: {e}")))
}

fn opt_string<T: ToString>(v: Option<&T>) -> Option<String> {
    v.map(ToString::to_string)
}

/// Python's `repr` of a field's value.
trait PyRepr {
    fn py_repr(&self) -> String;
}

impl PyRepr for String {
    fn py_repr(&self) -> String {
        format!("'{}'", self.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

impl PyRepr for bool {
    fn py_repr(&self) -> String {
        if *self { "True".into() } else { "False".into() }
    }
}

impl PyRepr for u64 {
    fn py_repr(&self) -> String {
        self.to_string()
    }
}

impl<T: PyRepr> PyRepr for Option<T> {
    fn py_repr(&self) -> String {
        match self {
            Some(v) => v.py_repr(),
            None => "None".into(),
        }
    }
}

impl<T: PyRepr> PyRepr for Vec<T> {
    fn py_repr(&self) -> String {
        let items: Vec<String> = self.iter().map(PyRepr::py_repr).collect();
        format!("[{}]", items.join(", "))
    }
}

/// `json()`, `to_dict()` and `__repr__` for a result class with a `report` field holding
/// its JSON text.
macro_rules! report_methods {
    ($ty:ident, [$($field:ident),+] $(, { $($extra:tt)* })?) => {
        #[pymethods]
        impl $ty {
            $($($extra)*)?

            /// The whole report as JSON text (what the CLI prints with `--json`).
            fn json(&self) -> String {
                self.report.clone()
            }

            /// The whole report as a dict.
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                json_to_py(py, &self.report)
            }

            fn __repr__(&self) -> String {
                let mut out = format!("{}(", stringify!($ty));
                $(
                    out.push_str(concat!(stringify!($field), "="));
                    out.push_str(&PyRepr::py_repr(&self.$field));
                    out.push_str(", ");
                )+
                out.truncate(out.len().saturating_sub(2));
                out.push(')');
                out
            }
        }
    };
}

/// What `Updater.check()` found.
#[pyclass(frozen, module = "latch")]
pub struct CheckResult {
    /// `disabled`, `cooldown`, `up-to-date`, `update-available` or `not-installed`.
    #[pyo3(get)]
    status: String,
    /// The image followed.
    #[pyo3(get)]
    image: String,
    /// The installed digest.
    #[pyo3(get)]
    installed: Option<String>,
    /// The remote digest, when the registry was asked.
    #[pyo3(get)]
    remote: Option<String>,
    /// Log index of the remote image's signatures, when they were verified.
    #[pyo3(get)]
    log_index: Option<u64>,
    /// Unix time before which an automatic check will not run again.
    #[pyo3(get)]
    next_check: Option<u64>,
    /// Whether the registry was contacted.
    #[pyo3(get)]
    contacted_registry: bool,
    report: String,
}

impl CheckResult {
    pub(crate) fn new(r: &CheckReport) -> CheckResult {
        CheckResult {
            status: r.status.to_owned(),
            image: r.image.clone(),
            installed: opt_string(r.installed.as_ref()),
            remote: opt_string(r.remote.as_ref()),
            log_index: r.log_index,
            next_check: r.next_check,
            contacted_registry: r.contacted_registry,
            report: to_json(r),
        }
    }
}

report_methods!(CheckResult, [status, installed, remote, log_index], {
    /// True when the registry serves the installed image.
    #[getter]
    fn up_to_date(&self) -> bool {
        self.status == "up-to-date"
    }

    /// True when `upgrade()` would install a newer verified image (or a first one).
    #[getter]
    fn update_available(&self) -> bool {
        self.status == "update-available" || self.status == "not-installed"
    }
});

/// What `Updater.upgrade()` or `Updater.load_archive()` did.
#[pyclass(frozen, module = "latch")]
pub struct UpgradeResult {
    /// `upgraded` or `up-to-date`.
    #[pyo3(get)]
    status: String,
    /// The image followed.
    #[pyo3(get)]
    image: String,
    /// The digest the signatures name (often an index).
    #[pyo3(get)]
    digest: String,
    /// The platform manifest installed, when `digest` is an index.
    #[pyo3(get)]
    platform_digest: Option<String>,
    /// The digest installed before, if any.
    #[pyo3(get)]
    previous: Option<String>,
    /// Highest log index of the accepted signatures.
    #[pyo3(get)]
    log_index: Option<u64>,
    /// Whether the rollback check was bypassed (`force=True` on an older image).
    #[pyo3(get)]
    forced: bool,
    /// What deserves the user's attention.
    #[pyo3(get)]
    warnings: Vec<String>,
    /// Image ids removed after the upgrade.
    #[pyo3(get)]
    removed: Vec<String>,
    report: String,
}

impl UpgradeResult {
    pub(crate) fn new(r: &UpgradeReport) -> UpgradeResult {
        UpgradeResult {
            status: r.status.to_owned(),
            image: r.image.clone(),
            digest: r.digest.to_string(),
            platform_digest: opt_string(r.platform_digest.as_ref()),
            previous: opt_string(r.previous.as_ref()),
            log_index: r.log_index,
            forced: r.forced,
            warnings: r.warnings.clone(),
            removed: r.removed.clone(),
            report: to_json(r),
        }
    }
}

report_methods!(
    UpgradeResult,
    [status, digest, previous, log_index, forced],
    {
        /// True when the newest verified image was already installed (nothing was pulled).
        #[getter]
        fn up_to_date(&self) -> bool {
            self.status == "up-to-date"
        }

        /// True when a new image was installed.
        #[getter]
        fn upgraded(&self) -> bool {
            self.status == "upgraded"
        }
    }
);

/// What `Updater.verify_local()` proved.
#[pyclass(frozen, module = "latch")]
pub struct VerifyResult {
    /// The image followed.
    #[pyo3(get)]
    image: String,
    /// The digest verified.
    #[pyo3(get)]
    digest: String,
    /// The runtime's id of the image verified: run the image by it.
    #[pyo3(get)]
    image_id: String,
    /// The runtime (`podman`, `docker`, `store:DIR`).
    #[pyo3(get)]
    runtime: String,
    /// Whether every blob was re-hashed (built-in store with `deep=True`).
    #[pyo3(get)]
    deep: bool,
    /// Highest log index of the stored signatures.
    #[pyo3(get)]
    log_index: Option<u64>,
    report: String,
}

impl VerifyResult {
    pub(crate) fn new(r: &LocalReport) -> VerifyResult {
        VerifyResult {
            image: r.image.clone(),
            digest: r.digest.to_string(),
            image_id: r.image_id.clone(),
            runtime: r.runtime.clone(),
            deep: r.deep,
            log_index: r.log_index,
            report: to_json(r),
        }
    }
}

report_methods!(VerifyResult, [digest, image_id, runtime, deep, log_index]);

/// What `Updater.store_signatures()` wrote.
#[pyclass(frozen, module = "latch")]
pub struct StoreResult {
    /// The digest whose signatures were stored.
    #[pyo3(get)]
    digest: String,
    /// Files written (one per trusted key with accepted signatures).
    #[pyo3(get)]
    files: Vec<String>,
    /// Highest log index.
    #[pyo3(get)]
    log_index: Option<u64>,
    report: String,
}

impl StoreResult {
    pub(crate) fn new(r: &StoreReport) -> StoreResult {
        StoreResult {
            digest: r.digest.to_string(),
            files: r.files.iter().map(|p| p.display().to_string()).collect(),
            log_index: r.log_index,
            report: to_json(r),
        }
    }
}

report_methods!(StoreResult, [digest, files, log_index]);

/// What `Updater.status()` shows.
#[pyclass(frozen, module = "latch")]
pub struct StatusResult {
    /// Profile name and where it came from.
    #[pyo3(get)]
    profile: String,
    /// The image followed.
    #[pyo3(get)]
    image: String,
    /// The runtime.
    #[pyo3(get)]
    runtime: String,
    /// The data directory.
    #[pyo3(get)]
    data_dir: String,
    /// `registry` or `oci:DIR`.
    #[pyo3(get)]
    source: String,
    /// Store ids (folder names under `signatures/`) of the trusted keys.
    #[pyo3(get)]
    keys: Vec<String>,
    /// Distinct keys required.
    #[pyo3(get)]
    threshold: usize,
    /// `required`, `optional` or `ignored`.
    #[pyo3(get)]
    tlog: String,
    /// The installed digest, as Latch recorded it.
    #[pyo3(get)]
    digest: Option<String>,
    /// Log index of the installed image.
    #[pyo3(get)]
    log_index: Option<u64>,
    /// Digests the runtime reports for the repository.
    #[pyo3(get)]
    runtime_digests: Vec<String>,
    /// `signatures/last_log_index`.
    #[pyo3(get)]
    last_log_index: Option<u64>,
    /// The rollback floor in force.
    #[pyo3(get)]
    rollback_floor: Option<u64>,
    /// The key rotation version in force (1: the profile's keys), when rotations are
    /// followed.
    #[pyo3(get)]
    trust_version: Option<u64>,
    /// Where the keys in force come from: `profile`, or `trust document version N`.
    #[pyo3(get)]
    keys_from: String,
    /// The TUF root version of each Sigstore trusted root kept current over TUF that the
    /// trust reads (`None` for one never read); `to_dict()["sigstore_roots"]` has the
    /// repositories, metadata expiries and warnings.
    #[pyo3(get)]
    sigstore_root_versions: Vec<Option<u64>>,
    /// Whether update checks are on.
    #[pyo3(get)]
    updates_enabled: bool,
    /// Unix time of the last check.
    #[pyo3(get)]
    last_check: Option<u64>,
    /// Unix time of the next automatic check.
    #[pyo3(get)]
    next_check: Option<u64>,
    report: String,
}

impl StatusResult {
    pub(crate) fn new(r: &StatusReport) -> StatusResult {
        StatusResult {
            profile: r.profile.clone(),
            image: r.image.clone(),
            runtime: r.runtime.clone(),
            data_dir: r.data_dir.display().to_string(),
            source: r.source.clone(),
            keys: r.keys.clone(),
            threshold: r.threshold,
            tlog: r.tlog.clone(),
            digest: r.installed.as_ref().map(|i| i.signed_digest.to_string()),
            log_index: r.installed.as_ref().and_then(|i| i.log_index),
            runtime_digests: r.runtime_digests.iter().map(ToString::to_string).collect(),
            last_log_index: r.last_log_index,
            rollback_floor: r.rollback_floor,
            updates_enabled: r.updates_enabled,
            last_check: r.last_check,
            next_check: r.next_check,
            trust_version: r.trust.as_ref().map(|t| t.version),
            keys_from: r.keys_from.clone(),
            sigstore_root_versions: r
                .sigstore_roots
                .iter()
                .map(|s| s.held.as_ref().map(|h| h.root_version))
                .collect(),
            report: to_json(r),
        }
    }
}

report_methods!(StatusResult, [image, digest, log_index, updates_enabled]);

/// What `Updater.prepare_archive()` wrote.
#[pyclass(frozen, module = "latch")]
pub struct ArchiveResult {
    /// The archive's path.
    #[pyo3(get)]
    output: String,
    /// Its size in bytes.
    #[pyo3(get)]
    size: u64,
    /// sha256 of the archive file.
    #[pyo3(get)]
    archive_digest: String,
    /// The digest the signatures name.
    #[pyo3(get)]
    digest: String,
    /// `image` or `imageIndex`.
    #[pyo3(get)]
    kind: String,
    /// The platform carried.
    #[pyo3(get)]
    platform: String,
    /// Highest log index of the accepted signatures.
    #[pyo3(get)]
    log_index: Option<u64>,
    /// Signatures carried.
    #[pyo3(get)]
    signatures: usize,
    /// Whether attestations were carried.
    #[pyo3(get)]
    attestations: bool,
    report: String,
}

impl ArchiveResult {
    pub(crate) fn new(r: &PrepareReport) -> ArchiveResult {
        ArchiveResult {
            output: r.output.display().to_string(),
            size: r.size,
            archive_digest: r.archive_digest.to_string(),
            digest: r.digest.to_string(),
            kind: r.kind.to_owned(),
            platform: r.platform.clone(),
            log_index: r.log_index,
            signatures: r.signatures,
            attestations: r.attestations,
            report: to_json(r),
        }
    }
}

report_methods!(ArchiveResult, [output, digest, kind, platform, log_index]);

/// What `Updater.install()` chose.
#[pyclass(frozen, module = "latch")]
pub struct InstallResult {
    /// `installed` (kept), `bundled` (loaded the bundled archive) or `remote` (upgraded).
    #[pyo3(get)]
    choice: String,
    /// Log index of what was installed before.
    #[pyo3(get)]
    installed: Option<u64>,
    /// Log index of the bundled archive.
    #[pyo3(get)]
    bundled: Option<u64>,
    /// Log index of the remote image, when looked at.
    #[pyo3(get)]
    remote: Option<u64>,
    /// Why the remote image was not considered.
    #[pyo3(get)]
    remote_skipped: Option<String>,
    /// The installation, when one happened.
    #[pyo3(get)]
    upgrade: Option<Py<UpgradeResult>>,
    report: String,
}

impl InstallResult {
    pub(crate) fn new(py: Python<'_>, r: &InstallReport) -> PyResult<InstallResult> {
        let upgrade = match &r.report {
            Some(u) => Some(Py::new(py, UpgradeResult::new(u))?),
            None => None,
        };
        Ok(InstallResult {
            choice: r.choice.to_owned(),
            installed: r.installed,
            bundled: r.bundled,
            remote: r.remote,
            remote_skipped: r.remote_skipped.clone(),
            upgrade,
            report: to_json(r),
        })
    }
}

report_methods!(InstallResult, [choice, installed, bundled, remote]);
