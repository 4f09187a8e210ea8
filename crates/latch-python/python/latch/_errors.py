"""The exceptions Latch raises, rooted at :class:`LatchError`.

Every exception carries ``kind``, a stable kebab-case name of what failed (such as
``"not-verified"``, ``"rollback"``, ``"registry-unreachable"``), and ``verdict``: when
signatures were looked at and refused, the verdict as a dict (every signature and why it
was refused, and the distinct trusted signers counted), else ``None``. A
:class:`RollbackError` also carries ``reasons`` and a :class:`FreezeError` the figures
of the freeze. ``warnings`` is what the call warned of before it failed (a tuple of
sentences, often empty). The message is the whole chain of causes, in words.

The rule for an application: if ``Updater.verify_local()`` raises *any* ``LatchError``,
do not use the image.
"""

# `import typing`, not `from typing import Any, ...`: this module is also its own type
# stub, and names imported into it would count as its exports, which stubtest checks
# against the runtime (on Python 3.9 `typing.Any` is no class and fails that check).
import typing

__all__ = [
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
]


class LatchError(Exception):
    """Base class of every error Latch raises.

    Raised as itself (not a subclass) with ``kind``:

    - ``"reentrant-call"``: an ``Updater`` method was called from within a Latch call
      (from the ``progress`` callable, or a signal handler run while a call waits), on the
      same or another ``Updater``. Latch cannot run a call inside another (the outer one
      may hold the data directory's lock): make the call after the outer one returns.
      Raised from the callable, it abandons the outer call like any exception there.
      Constructing an ``Updater`` and reading its attributes work anywhere.
    - ``"internal"``: a bug in Latch (a Rust panic, caught; the message says where).
      The operation was abandoned as if cancelled: what was installed before still is.
    - ``"error"``: a failure this version of the package does not classify.
    """

    #: A stable, kebab-case name of what failed (``"rollback"``, ``"not-verified"``...).
    kind: str = "error"
    #: The verdict on every signature, when signatures were refused; else ``None``.
    verdict: typing.Optional[typing.Dict[str, typing.Any]] = None
    #: What the call warned of before it failed, in words (a Sigstore trusted root that
    #: could not be refreshed, or that an archive carried and was refused, often explains
    #: a ``VerificationError``); a result carries its warnings instead.
    warnings: typing.Tuple[str, ...] = ()


class ConfigurationError(LatchError, ValueError):
    """The settings cannot work: no image or no key, an unreadable key or profile, a
    threshold above the number of keys, an unknown runtime or ``tlog`` mode."""


class VerificationError(LatchError):
    """The image is not proven: too few distinct trusted signers (keys and keyless
    identities) validly signed its digest (see ``verdict``), the signatures are
    malformed, or a signature check failed. Nothing was installed; what was installed
    before still is."""


class NoSignaturesError(VerificationError):
    """No signature at all was found for the image's digest (in the registry, the
    archive, or the local signature store)."""


class RollbackError(VerificationError):
    """The image is validly signed but may be older than one already accepted: its log
    index, log time or signed version is lower, it is below the rollback floor, or
    nothing in its signatures proves it is not older (no verified log entry, no signed
    version). A rollback attack, or a mirror lagging behind. ``upgrade(force=True)``
    accepts it anyway, saying so."""

    #: Each ratchet that refused, as a dict with ``kind`` (``"below-floor"``,
    #: ``"older-log-index"``, ``"older-time"``, ``"older-version"``,
    #: ``"missing-version"``, ``"unprovable"``) and the values compared (``floor``,
    #: ``log_id``, ``accepted``, ``offered``, ``annotation``, ``installed``).
    reasons: typing.List[typing.Dict[str, typing.Any]] = []


class FreezeError(VerificationError):
    """The newest signature the registry offers is older than the profile's
    ``max_signature_age``: the registry may be withholding updates (a freeze attack)."""

    #: The image.
    image: typing.Optional[str] = None
    #: The newest authenticated signing time of its signatures (unix seconds), or
    #: ``None`` when none carries one.
    newest_signed_time: typing.Optional[int] = None
    #: The time of the check (unix seconds).
    now: typing.Optional[int] = None
    #: The profile's maximum age, in seconds.
    max_age_secs: typing.Optional[int] = None
    #: Whether the registry still serves the installed image.
    still_installed: typing.Optional[bool] = None


class RegistryError(LatchError):
    """The registry could not be reached, refused the request, or sent bytes that do not
    match their digest. ``kind`` says which (``registry-unreachable``,
    ``registry-not-found``, ``registry-unauthorized``, ``registry-digest-mismatch``...)."""


class ContainerRuntimeError(LatchError):
    """The container runtime (podman, docker, or the built-in store) failed: not
    installed, daemon not running, a command that failed."""


class ImageIntegrityError(VerificationError, ContainerRuntimeError):
    """What the runtime holds is not the verified image: a blob of the built-in store
    altered on disk (``verify_local(deep=True)``), or another digest reported after a pull
    or load."""


class StoreError(LatchError):
    """The signature store or Latch's state (under ``data_dir``) could not be read or
    written."""


class StoreCorruptError(StoreError):
    """A file of the store is corrupt (a signatures file that is not JSON, a
    ``last_log_index`` that is not a number). It is left in place and never trusted."""


class LockedError(StoreError):
    """Another Latch process (or thread) is updating the same data directory. Retry
    later, or pass ``wait=True``."""


class NotInstalledError(LatchError):
    """No image is installed (or the runtime no longer holds the one Latch installed):
    call ``upgrade()``, ``load_archive()`` or ``install()``."""


class ArchiveError(LatchError):
    """An air-gap archive was refused before anything was loaded: not a readable tar, an
    entry that could escape the directory, or a layout that is not a Latch/Dangerzone
    archive."""


class FileError(LatchError, OSError):
    """A file Latch was asked to read or write could not be (a missing archive, an
    output directory that does not exist)."""
