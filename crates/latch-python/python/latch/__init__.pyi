"""Type stubs for the ``latch`` package (the native ``latch._latch`` module and the
exceptions of ``latch._errors``)."""

import os
import pathlib
from typing import Any, Callable, Dict, List, Optional, Sequence, Union, final

from ._errors import ArchiveError as ArchiveError
from ._errors import ConfigurationError as ConfigurationError
from ._errors import ContainerRuntimeError as ContainerRuntimeError
from ._errors import FileError as FileError
from ._errors import FreezeError as FreezeError
from ._errors import ImageIntegrityError as ImageIntegrityError
from ._errors import LatchError as LatchError
from ._errors import LockedError as LockedError
from ._errors import NoSignaturesError as NoSignaturesError
from ._errors import NotInstalledError as NotInstalledError
from ._errors import RegistryError as RegistryError
from ._errors import RollbackError as RollbackError
from ._errors import StoreCorruptError as StoreCorruptError
from ._errors import StoreError as StoreError
from ._errors import VerificationError as VerificationError

__version__: str

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

_StrPath = Union[str, "os.PathLike[str]"]
#: Called with (bytes done, bytes total) while blobs transfer. Raising stops the call. It
#: must not call Latch: an ``Updater`` method called from it (this one or another) raises
#: :class:`LatchError` with ``kind == "reentrant-call"``.
_Progress = Callable[[int, int], Any]

@final
class CheckResult:
    """What :meth:`Updater.check` found."""

    #: ``"disabled"`` (automatic checks are off), ``"cooldown"`` (checked recently),
    #: ``"up-to-date"``, ``"update-available"``, or ``"not-installed"``.
    status: str
    image: str
    #: The installed digest (``sha256:...``), if any.
    installed: Optional[str]
    #: The digest the registry serves, when it was asked.
    remote: Optional[str]
    #: Log index of the remote image's signatures, when they were verified.
    log_index: Optional[int]
    #: Unix time before which an automatic check does not run again.
    next_check: Optional[int]
    #: Whether the registry was contacted.
    contacted_registry: bool
    #: ``status == "up-to-date"``.
    @property
    def up_to_date(self) -> bool: ...
    #: ``status`` is ``"update-available"`` or ``"not-installed"``: ``upgrade()`` would
    #: install something.
    @property
    def update_available(self) -> bool: ...
    def json(self) -> str:
        """The whole report as JSON (what ``latch check --json`` prints)."""
    def to_dict(self) -> Dict[str, Any]:
        """The whole report as a dict."""

@final
class UpgradeResult:
    """What :meth:`Updater.upgrade` or :meth:`Updater.load_archive` did."""

    #: ``"upgraded"`` or ``"up-to-date"`` (the newest verified image was installed
    #: already; nothing was pulled).
    status: str
    image: str
    #: The digest the signatures name (an index for a multi-platform image).
    digest: str
    #: The platform manifest installed, when ``digest`` is an index.
    platform_digest: Optional[str]
    #: The digest installed before, if any.
    previous: Optional[str]
    #: Highest Rekor log index of the accepted signatures.
    log_index: Optional[int]
    #: Whether the rollback check was bypassed (``force=True`` on an older image).
    forced: bool
    #: Things for the user to know (a forced rollback, refused signatures skipped).
    warnings: List[str]
    #: Image ids removed from the runtime after the upgrade.
    removed: List[str]
    @property
    def up_to_date(self) -> bool: ...
    @property
    def upgraded(self) -> bool: ...
    def json(self) -> str:
        """The whole report (with the verdict on every signature) as JSON."""
    def to_dict(self) -> Dict[str, Any]: ...

@final
class VerifyResult:
    """What :meth:`Updater.verify_local` proved."""

    image: str
    #: The digest verified.
    digest: str
    #: The runtime's id of the image verified (podman: the config digest's hex; docker
    #: and the built-in store: ``sha256:<hex>``): run the image by it
    #: (``podman run <image_id>``) to run exactly what was verified.
    image_id: str
    #: ``podman``, ``docker`` or ``store:DIR``.
    runtime: str
    #: Whether every blob was re-hashed.
    deep: bool
    #: Highest log index of the stored signatures.
    log_index: Optional[int]
    def json(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class StoreResult:
    """What :meth:`Updater.store_signatures` wrote."""

    digest: str
    #: ``<data_dir>/signatures/<key id>/<digest hex>.json`` files written.
    files: List[str]
    log_index: Optional[int]
    def json(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class StatusResult:
    """What :meth:`Updater.status` shows."""

    #: Profile name and where it came from.
    profile: str
    image: str
    runtime: str
    data_dir: str
    #: ``"registry"`` or ``"oci:DIR"``.
    source: str
    #: Folder names under ``signatures/`` of the trusted keys (sha256 of each key file).
    keys: List[str]
    threshold: int
    #: ``"required"``, ``"optional"`` or ``"ignored"``.
    tlog: str
    #: The installed digest, as Latch recorded it.
    digest: Optional[str]
    #: Log index of the installed image.
    log_index: Optional[int]
    #: Digests the runtime holds for the repository.
    runtime_digests: List[str]
    #: ``signatures/last_log_index``.
    last_log_index: Optional[int]
    #: The rollback floor in force.
    rollback_floor: Optional[int]
    updates_enabled: bool
    last_check: Optional[int]
    next_check: Optional[int]
    #: The key rotation version in force (1: the profile's keys), or None when the
    #: profile does not follow rotations.
    trust_version: Optional[int]
    #: Where the keys in force come from: ``profile``, or ``trust document version N``.
    keys_from: str
    #: The TUF root version of each Sigstore trusted root kept current over TUF that the
    #: trust reads (None: never read); ``to_dict()["sigstore_roots"]`` has the details.
    sigstore_root_versions: List[Optional[int]]
    def json(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class ArchiveResult:
    """What :meth:`Updater.prepare_archive` wrote."""

    output: str
    size: int
    #: sha256 of the archive file.
    archive_digest: str
    #: The digest the signatures name.
    digest: str
    #: ``"image"`` or ``"imageIndex"``.
    kind: str
    #: The platform carried (``linux/amd64``).
    platform: str
    log_index: Optional[int]
    #: Signatures carried.
    signatures: int
    attestations: bool
    def json(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class InstallResult:
    """What :meth:`Updater.install` chose."""

    #: ``"installed"`` (kept), ``"bundled"`` (loaded the bundled archive) or ``"remote"``.
    choice: str
    installed: Optional[int]
    bundled: Optional[int]
    remote: Optional[int]
    remote_skipped: Optional[str]
    #: The installation, when one happened.
    upgrade: Optional[UpgradeResult]
    def json(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...

@final
class Updater:
    """Keeps one application's sandbox image current and proven.

    Settings come from a TOML ``profile`` (a path, or ``"demo"`` for the embedded offline
    demo), and every argument given overrides the profile's. Without a profile, ``image``
    and ``keys`` are required.

    :param image: the image and the tag to follow (``ghcr.io/org/app:latest``).
    :param keys: trusted public keys (PEM files; cosign's ``cosign.pub`` works).
    :param rekor_keys: pinned Rekor public keys, to check each signature's log entry
        offline.
    :param runtime: ``"podman"``, ``"docker"`` or ``"store:DIR"`` (the built-in OCI-layout
        store; the default is ``store:<data_dir>/store``).
    :param data_dir: where signatures and state live (Dangerzone's layout:
        ``signatures/<key id>/<digest>.json``, ``signatures/last_log_index``). Default: the
        platform's data directory, ``latch/<profile name>``.
    :param profile: a TOML profile's path, or ``"demo"``.
    :param threshold: distinct trusted keys that must have signed (default 1).
    :param tlog: ``"required"``, ``"optional"`` or ``"ignored"`` (default: ``required``
        when ``rekor_keys`` are given, else ``ignored``).
    :param insecure_registries: hosts (``host:port``) reached over plain HTTP besides
        loopback ones (added to ``$LATCH_INSECURE_REGISTRIES``).
    :param platform: the platform to install from a multi-platform image (default: this
        machine's).
    :param repository: the repository the signatures must name (default: the image's).
    :param rollback_floor: the lowest log index acceptable (the one this application
        release shipped with).
    :param max_signature_age: e.g. ``"30d"``: an older newest signature raises
        :class:`FreezeError`.
    :param source_layout: an OCI layout used as a mirror instead of the registry.
    :param bundled_archive: an archive shipped with the application, for :meth:`install`.
    :param provenance: SLSA provenance required on top of the signatures, as a profile's
        ``[provenance]``: ``{"repository": "OWNER/REPO", "workflow":
        ".github/workflows/release.yml", "refs": ["refs/heads/main"], "ref_pattern":
        "refs/tags/v[0-9.]+", "builder_id": REGEX, "trusted_root": PATH, "issuer": URL}``
        (``repository`` and ``workflow`` required). An image signed but without it
        raises :class:`VerificationError` with ``kind == "no-provenance"``.
    :param health_check: run on a new image before it replaces the old one: a command
        (``["podman", "run", "--rm", "--network=none", "{image}", "true"]``; ``{image}``
        and ``$LATCH_IMAGE`` the image to run, ``$LATCH_DIGEST`` its digest) or a callable
        ``(image, digest)`` that returns ``False`` or raises to refuse it. A refused image
        is removed, the old one stays, and :meth:`upgrade` raises :class:`LatchError` with
        ``kind == "health-check-failed"``; it is not tried again until a newer one is
        signed (``status == "failed-before"``).
    :param health_timeout: how long the command may take (default ``"2m"``).
    :param min_age: e.g. ``"2d"``: a newer image is installed only once its newest
        signature was logged that long ago, by the log's clock; until then
        :meth:`upgrade` and :meth:`check` report ``status == "held"``.
    :param mirrors: registry repositories (``host/path``) or OCI layouts (``oci:DIR``)
        holding the same image, tried in order when the registry is unreachable, refuses
        or stalls; signatures must still name the profile's repository.
    :raises ConfigurationError: settings that cannot work.
    """

    def __new__(
        cls,
        image: Optional[str] = None,
        keys: Optional[Sequence[_StrPath]] = None,
        rekor_keys: Optional[Sequence[_StrPath]] = None,
        runtime: Optional[str] = None,
        data_dir: Optional[_StrPath] = None,
        profile: Optional[_StrPath] = None,
        threshold: Optional[int] = None,
        tlog: Optional[str] = None,
        insecure_registries: Optional[Sequence[str]] = None,
        *,
        platform: Optional[str] = None,
        repository: Optional[str] = None,
        rollback_floor: Optional[int] = None,
        max_signature_age: Optional[str] = None,
        source_layout: Optional[_StrPath] = None,
        bundled_archive: Optional[_StrPath] = None,
        provenance: Optional[Dict[str, Any]] = None,
        health_check: Union[Sequence[str], Callable[[str, str], Optional[bool]], None] = None,
        health_timeout: Optional[str] = None,
        min_age: Optional[str] = None,
        mirrors: Optional[Sequence[str]] = None,
    ) -> "Updater": ...
    @property
    def image(self) -> str: ...
    @property
    def data_dir(self) -> pathlib.Path: ...
    @property
    def runtime(self) -> str: ...
    @property
    def updates_enabled(self) -> bool:
        """Whether automatic checks are on (the user's choice, else the profile's)."""
    def check(self, explicit: bool = True) -> CheckResult:
        """Is a newer verified image available? When nothing changed this costs the
        registry one ``HEAD`` request. ``explicit=False`` (an automatic check) returns
        ``status="disabled"`` unless the user opted in, and ``"cooldown"`` until
        ``next_check``.

        :raises RegistryError, VerificationError, RollbackError, FreezeError: as
            :meth:`upgrade`.
        """
    def upgrade(
        self,
        progress: Optional[_Progress] = None,
        force: bool = False,
        wait: bool = False,
        retry_failed: bool = False,
        now: bool = False,
    ) -> UpgradeResult:
        """Upgrades to the newest verified image, or returns ``status="up-to-date"``
        (or ``"failed-before"``: the newest image failed the health check before; pass
        ``retry_failed=True``) to try it again; or ``"held"``: younger than ``min_age``,
        ``now=True`` takes it anyway).

        The image's signatures are verified (keys, digest, repository, Rekor entry), the
        rollback and freeze checks passed, and only then is it pulled by digest; the
        runtime's digest is checked again; the signatures and ``last_log_index`` are
        written last, atomically. Interrupted at any point (an exception, Ctrl-C, a
        killed process), the previous image stays installed and verifying.

        :param progress: called with ``(done, total)`` bytes as blobs transfer (the
            built-in store reports them; podman and docker pull on their own). If it
            raises, the upgrade is abandoned and the exception re-raised here. It must
            not call Latch (see :class:`LatchError`, kind ``"reentrant-call"``).
        :param force: accept an image older than the installed one (the rollback check
            is skipped; ``forced`` and ``warnings`` say so).
        :param wait: wait for another Latch process instead of raising
            :class:`LockedError`.
        :raises NoSignaturesError: the image has no signature.
        :raises VerificationError: not signed by enough trusted keys (see ``verdict``).
        :raises RollbackError: older than the image already accepted.
        :raises FreezeError: the newest signature is older than ``max_signature_age``.
        :raises RegistryError: the registry is unreachable or misbehaves.
        :raises ContainerRuntimeError: the runtime failed.
        :raises LockedError: another Latch process is updating.
        :raises StoreCorruptError: a store file is corrupt (left in place).
        :raises LatchError: ``kind == "reentrant-call"``: called from within a Latch
            call (a ``progress`` callable, a signal handler); ``kind == "internal"``: a
            bug in Latch (a Rust panic, caught), as from every method.
        """
    def verify_local(self, deep: bool = False) -> VerifyResult:
        """Verifies the installed image before use: the runtime holds the digest Latch
        installed, its stored signatures verify with the trusted keys, and it is not
        older than the rollback floor. ``deep`` re-hashes every blob (built-in store).

        :raises NotInstalledError: nothing is installed.
        :raises NoSignaturesError: no stored signature for the installed digest.
        :raises VerificationError: the stored signatures do not prove the digest.
        :raises ImageIntegrityError: the runtime's bytes are not the verified image.
        :raises StoreCorruptError: a stored signatures file is unreadable.
        """
    def store_signatures(self) -> StoreResult:
        """Fetches, verifies and stores the remote image's signatures without pulling
        the image (for an image installed by other means)."""
    def prepare_archive(
        self,
        path: _StrPath,
        arch: Optional[str] = None,
        force: bool = False,
        progress: Optional[_Progress] = None,
    ) -> ArchiveResult:
        """Writes an air-gap archive (a ``cosign save`` layout in a tar, with
        ``dangerzone.json``) of the newest verified image, for ``arch`` (``"amd64"``,
        ``"linux/arm64"``; default: the profile's platform). Written to a temporary file
        and renamed into place when complete.

        :raises VerificationError, RollbackError, RegistryError: as :meth:`upgrade`.
        :raises FileError: the output cannot be written.
        """
    def load_archive(
        self, path: _StrPath, force: bool = False, wait: bool = False
    ) -> UpgradeResult:
        """Loads an air-gap archive: unpacked, every blob checked, the signatures
        verified and the rollback check passed before anything reaches the runtime; then
        installed as :meth:`upgrade` installs. No network is used.

        :raises ArchiveError: not a valid archive.
        :raises NoSignaturesError, VerificationError, RollbackError: as :meth:`upgrade`.
        :raises FileError: the archive cannot be read.
        """
    def install(
        self, online: bool = False, progress: Optional[_Progress] = None
    ) -> InstallResult:
        """Installs the best of: what is installed, the bundled archive, and (only when
        ``online``) the registry's newest image, by highest verified log index."""
    def status(self) -> StatusResult:
        """What is installed and how Latch is set up."""
    def set_updates_enabled(self, enabled: bool) -> None:
        """Records the user's choice about automatic update checks."""
