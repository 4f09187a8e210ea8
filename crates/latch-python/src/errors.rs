//! `latch::Error` as Python exceptions.
//!
//! The classes are defined in Python (`latch/_errors.py`), where multiple inheritance is
//! natural (`ConfigurationError` is also a `ValueError`, `ImageIntegrityError` both a
//! `VerificationError` and a `ContainerRuntimeError`), and looked up here once each.
//! Every instance carries `kind` (a stable kebab-case name of what failed) and, when the
//! signatures were looked at, `verdict` (the verdict as a dict, as `--json` prints it). A
//! `RollbackError` carries `reasons` (each ratchet that refused, with the accepted and
//! offered values), a `FreezeError` the figures (`newest_signed_time`, `now`,
//! `max_age_secs`, `image`, `still_installed`).

use std::any::Any;

use latch::Error;
use latch::registry::RegistryError;
use latch::runtime::RuntimeError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The Python module that defines the exception classes.
const ERRORS_MODULE: &str = "latch._errors";

/// Every class, cached after its first use.
macro_rules! classes {
    ($($name:ident),* $(,)?) => {
        #[allow(clippy::enum_variant_names)]
        #[derive(Debug, Clone, Copy)]
        pub(crate) enum Class { $($name),* }

        impl Class {
            fn name(self) -> &'static str {
                match self { $(Class::$name => stringify!($name)),* }
            }

            fn cell(self) -> &'static PyOnceLock<Py<PyType>> {
                $(
                    #[allow(non_upper_case_globals)]
                    static $name: PyOnceLock<Py<PyType>> = PyOnceLock::new();
                )*
                match self { $(Class::$name => &$name),* }
            }
        }
    };
}

classes!(
    LatchError,
    ConfigurationError,
    VerificationError,
    NoSignaturesError,
    RollbackError,
    FreezeError,
    ImageIntegrityError,
    RegistryError,
    ContainerRuntimeError,
    StoreError,
    StoreCorruptError,
    LockedError,
    NotInstalledError,
    ArchiveError,
    FileError,
);

/// The class and `kind` for an error.
fn classify(e: &Error) -> (Class, &'static str) {
    match e {
        Error::NotVerified { .. } => (Class::VerificationError, "not-verified"),
        Error::NoProvenance { .. } => (Class::VerificationError, "no-provenance"),
        Error::NoSignatures { .. } => (Class::NoSignaturesError, "no-signatures"),
        Error::BadSignatures { .. } => (Class::VerificationError, "bad-signatures"),
        Error::Sigstore(_) => (Class::VerificationError, "sigstore"),
        Error::NotAttested { .. } => (Class::VerificationError, "not-attested"),
        Error::Rollback { .. } => (Class::RollbackError, "rollback"),
        Error::FreezeSuspected(_) => (Class::FreezeError, "freeze-suspected"),
        Error::Registry(r) => (Class::RegistryError, registry_kind(r)),
        Error::RuntimeMismatch { .. } => (Class::ImageIntegrityError, "runtime-mismatch"),
        Error::Runtime(r) => runtime_class(r),
        Error::Locked(_) => (Class::LockedError, "locked"),
        Error::StoreCorrupt { .. } => (Class::StoreCorruptError, "store-corrupt"),
        Error::Store(_) => (Class::StoreError, "store"),
        Error::NotInstalled { .. } => (Class::NotInstalledError, "not-installed"),
        Error::TagMismatch { .. } => (Class::ImageIntegrityError, "tag-mismatch"),
        Error::HealthCheckFailed { .. } => (Class::LatchError, "health-check-failed"),
        Error::Archive(_) => (Class::ArchiveError, "archive"),
        Error::Io { .. } => (Class::FileError, "io"),
        Error::Key { .. } => (Class::ConfigurationError, "key"),
        Error::Trust(_) => (Class::ConfigurationError, "policy"),
        Error::Layout { .. } => (Class::FileError, "layout"),
        Error::Reference(_) => (Class::ConfigurationError, "reference"),
        Error::Profile(_) => (Class::ConfigurationError, "profile"),
        Error::Invalid(_) => (Class::ConfigurationError, "invalid"),
        Error::Interrupted(_) => (Class::LatchError, "interrupted"),
        Error::TrustChain(_) => (Class::VerificationError, "trust-chain"),
        Error::Tuf(_) => (Class::ConfigurationError, "tuf"),
        // A variant added to `latch::Error` after this mapping was written.
        #[allow(unreachable_patterns)]
        _ => (Class::LatchError, "error"),
    }
}

fn registry_kind(e: &RegistryError) -> &'static str {
    match e {
        RegistryError::Unreachable { .. } => "registry-unreachable",
        RegistryError::Transfer { .. } => "registry-transfer",
        RegistryError::Status { .. } => "registry-status",
        RegistryError::NotFound { .. } => "registry-not-found",
        RegistryError::Unauthorized { .. } => "registry-unauthorized",
        RegistryError::TooLarge { .. } => "registry-too-large",
        RegistryError::DigestMismatch { .. }
        | RegistryError::HeaderMismatch { .. }
        | RegistryError::SizeMismatch { .. } => "registry-digest-mismatch",
        RegistryError::NoSuchPlatform { .. } => "registry-no-such-platform",
        RegistryError::Credentials(_) => "registry-credentials",
        RegistryError::Stalled { .. } => "registry-stalled",
        #[allow(unreachable_patterns)]
        _ => "registry",
    }
}

fn runtime_class(e: &RuntimeError) -> (Class, &'static str) {
    match e {
        // What the runtime holds is not the verified image.
        RuntimeError::Corrupt { .. } => (Class::ImageIntegrityError, "runtime-corrupt"),
        RuntimeError::WrongImageId { .. } => (Class::ImageIntegrityError, "runtime-wrong-image-id"),
        RuntimeError::NotReported { .. } => (Class::ImageIntegrityError, "runtime-not-reported"),
        RuntimeError::UnknownRuntime(_) => (Class::ConfigurationError, "unknown-runtime"),
        RuntimeError::NotFound { .. } => (Class::ContainerRuntimeError, "runtime-not-found"),
        RuntimeError::DaemonUnreachable { .. } => {
            (Class::ContainerRuntimeError, "runtime-unreachable")
        }
        RuntimeError::Registry(r) => (Class::RegistryError, registry_kind(r)),
        #[allow(unreachable_patterns)]
        _ => (Class::ContainerRuntimeError, "runtime"),
    }
}

/// The attributes an exception carries beyond `kind`: `verdict` for a refusal, `reasons`
/// for a rollback, the figures of a freeze; as a JSON object whose members become
/// attributes.
fn attributes(e: &Error) -> Option<String> {
    let details = e.details()?;
    let attrs = match e {
        Error::NotVerified { .. } | Error::NoProvenance { .. } => {
            serde_json::json!({ "verdict": details })
        }
        _ => details,
    };
    serde_json::to_string(&attrs).ok()
}

/// The exception class `class`, or `RuntimeError` if `latch._errors` cannot be imported
/// (the native module used without its package).
fn class_object<'py>(py: Python<'py>, class: Class) -> PyResult<Bound<'py, PyType>> {
    class
        .cell()
        .import(py, ERRORS_MODULE, class.name())
        .cloned()
}

/// Builds an exception of `class` with `message`, `kind` and, optionally, attributes
/// (a JSON object whose members are set on the exception, parsed into Python values).
pub(crate) fn make(
    py: Python<'_>,
    class: Class,
    message: String,
    kind: &str,
    attrs: Option<String>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let ty = class_object(py, class)?;
        let exc = ty.call1((message.clone(),))?;
        exc.setattr("kind", kind)?;
        if let Some(text) = attrs {
            let dict = crate::results::json_to_py(py, &text)?;
            for item in dict.call_method0("items")?.try_iter()? {
                let (name, value): (String, Bound<'_, PyAny>) = item?.extract()?;
                exc.setattr(name.as_str(), value)?;
            }
        }
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| {
        let fallback = PyRuntimeError::new_err(format!("{message} ({kind})"));
        fallback.set_cause(py, Some(e));
        fallback
    })
}

/// `latch::Error` as the matching Python exception. The message is the error's chain of
/// causes, as the CLI prints it.
pub(crate) fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let (class, kind) = classify(&e);
    let attrs = attributes(&e);
    make(py, class, chain(&e), kind, attrs)
}

/// An error and its sources, joined by ": " (skipping a source whose text the outer
/// message already contains).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A configuration mistake found before calling Latch (a bad argument).
pub(crate) fn configuration(py: Python<'_>, message: String) -> PyErr {
    make(py, Class::ConfigurationError, message, "invalid", None)
}

/// A method of an `Updater` called from code that Latch itself is running during a call:
/// the progress callable, or a signal handler run while a call waits. Latch is in the
/// middle of that call on this thread (holding its runtime and, for an upgrade, the data
/// directory's lock): the inner call could only panic or deadlock, so it is refused.
pub(crate) fn reentrant(py: Python<'_>) -> PyErr {
    make(
        py,
        Class::LatchError,
        "an Updater method was called from within a Latch call (from the progress \
         callable, or a signal handler run during a call); Latch cannot run a call inside \
         another: make it after the outer call returns"
            .to_owned(),
        "reentrant-call",
        None,
    )
}

/// A Rust panic (a bug in Latch or in a library it uses), caught before it reaches Python
/// as pyo3's `PanicException` (a `BaseException` an application does not expect). `what`
/// says where it was caught. The panic's message was also printed to stderr by the panic
/// hook, with a backtrace when `RUST_BACKTRACE` is set.
pub(crate) fn internal(py: Python<'_>, what: &str, panic: &(dyn Any + Send)) -> PyErr {
    let detail = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    make(
        py,
        Class::LatchError,
        format!("internal error in {what} (a bug in Latch; please report it): {detail}"),
        "internal",
        None,
    )
}
