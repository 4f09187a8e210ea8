"""Latch: keep an application's sandbox container image current from a registry you do
not trust.

    import latch

    updater = latch.Updater(
        image="ghcr.io/freedomofpress/dangerzone/v1:latest",
        keys=["freedomofpress-dangerzone.pub"],
        rekor_keys=["rekor.pub"],
        runtime="podman",
    )
    updater.upgrade(progress=lambda done, total: print(done, total))
    updater.verify_local()  # before every use: raises latch.LatchError if not proven

Every long call releases the GIL. Failures raise subclasses of :class:`LatchError`; see
``latch._errors`` (re-exported here) for the hierarchy.
"""

from ._errors import (
    ArchiveError,
    ConfigurationError,
    ContainerRuntimeError,
    FileError,
    FreezeError,
    ImageIntegrityError,
    LatchError,
    LockedError,
    NoSignaturesError,
    NotInstalledError,
    RegistryError,
    RollbackError,
    StoreCorruptError,
    StoreError,
    VerificationError,
)
from ._latch import (
    ArchiveResult,
    CheckResult,
    InstallResult,
    StatusResult,
    StoreResult,
    Updater,
    UpgradeResult,
    VerifyResult,
    __version__,
)

__all__ = [
    "Updater",
    "CheckResult",
    "UpgradeResult",
    "VerifyResult",
    "StoreResult",
    "StatusResult",
    "ArchiveResult",
    "InstallResult",
    "LatchError",
    "ConfigurationError",
    "VerificationError",
    "NoSignaturesError",
    "RollbackError",
    "FreezeError",
    "ImageIntegrityError",
    "RegistryError",
    "ContainerRuntimeError",
    "StoreError",
    "StoreCorruptError",
    "LockedError",
    "NotInstalledError",
    "ArchiveError",
    "FileError",
    "__version__",
]
