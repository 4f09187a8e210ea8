"""The `latch` wheel driven from Python against a real registry (Debian's
docker-registry), with real signatures (ECDSA P-256 cosign signatures with Rekor SETs
from a test log key; and one image signed by the real cosign), installing into the
built-in store.

Each test states what it proves; every refusal is checked to leave the previously
installed image in place and verifying."""

import fcntl
import hashlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import latch
from conftest import LAYER_BYTES, REPO_ROOT, Key, World, latch_cli, peer_cosign


def still_installed(u: "latch.Updater", digest: str) -> None:
    """After a refusal: the previous image is still what verify-local proves."""
    assert u.verify_local(deep=True).digest == digest


# --- the whole flow ------------------------------------------------------------------


def test_upgrade_verify_local_and_dangerzone_store(world: World):
    """upgrade installs the newest signed image and reports progress as (done, total);
    verify_local proves it; the signature store is Dangerzone's layout; a second upgrade
    says up-to-date; a newer image is found by check() and installed by upgrade()."""
    v1 = world.publish(100)
    u = world.updater()
    with pytest.raises(latch.NotInstalledError) as e:
        u.verify_local()
    assert e.value.kind == "not-installed"

    c = u.check()
    assert (c.status, c.remote, c.log_index, c.update_available) == (
        "not-installed",
        v1,
        100,
        True,
    )

    calls = []
    r = u.upgrade(progress=lambda done, total: calls.append((done, total)))
    assert isinstance(r, latch.UpgradeResult)
    assert (r.status, r.upgraded, r.up_to_date) == ("upgraded", True, False)
    assert (r.digest, r.log_index, r.previous, r.forced) == (v1, 100, None, False)
    assert r.platform_digest is not None and r.platform_digest != v1

    # Progress: called, never going back, ending complete, covering the layer.
    assert calls, "the progress callable was never called"
    assert all(isinstance(d, int) and isinstance(t, int) for d, t in calls)
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(calls, calls[1:])), calls
    assert all(d <= t for d, t in calls), calls
    done, total = calls[-1]
    assert done == total >= LAYER_BYTES, calls

    local = u.verify_local(deep=True)
    assert (local.digest, local.log_index, local.deep) == (v1, 100, True)
    assert local.runtime == "store:" + str(world.data / "store")

    # Dangerzone's store: signatures/<sha256 of the key file>/<hex>.json (a list of
    # `cosign download signature` objects) and signatures/last_log_index.
    entries = json.loads(world.signatures_file(v1).read_text())
    assert len(entries) == 1
    assert list(entries[0]) == [
        "Base64Signature",
        "Payload",
        "Cert",
        "Chain",
        "Bundle",
        "RFC3161Timestamp",
    ]
    assert entries[0]["Bundle"]["Payload"]["logIndex"] == 100
    assert (world.data / "signatures" / "last_log_index").read_text() == "100"

    again = u.upgrade()
    assert (again.status, again.up_to_date, again.digest) == ("up-to-date", True, v1)
    assert u.check().up_to_date

    v2 = world.publish(200)
    c = u.check()
    assert (c.status, c.installed, c.remote, c.log_index) == ("update-available", v1, v2, 200)
    r = u.upgrade()
    assert (r.status, r.digest, r.previous, r.log_index) == ("upgraded", v2, v1, 200)
    assert len(r.removed) == 1, r.removed
    assert world.signatures_file(v1).exists(), "old signatures are never deleted"
    local = u.verify_local()
    assert local.digest == v2
    # The id to run: the built-in store's `sha256:<config hex>`, in the JSON too.
    assert local.image_id.startswith("sha256:") and len(local.image_id) == 71, local.image_id
    assert local.to_dict()["image_id"] == local.image_id

    s = u.status()
    assert (s.digest, s.log_index, s.last_log_index, s.runtime_digests) == (v2, 200, 200, [v2])
    assert s.keys == [world.key.store_id]
    assert (s.threshold, s.tlog) == (1, "required")
    # A pinned Rekor key: no Sigstore root is read, none is kept current over TUF.
    assert s.keys_from == "profile" and s.sigstore_root_versions == []
    assert "sigstore_roots" not in s.to_dict()

    # The full report, as `latch upgrade --json` prints it.
    report = r.to_dict()
    assert report["digest"] == v2 and report["status"] == "upgraded"
    assert report["verdict"]["max_log_index"] == 200
    assert json.loads(r.json()) == report


def test_rollback_is_refused_unless_forced(world: World):
    """An older signed image served as `latest` is refused by check() and upgrade() with
    RollbackError (a VerificationError); the newer image stays installed; force=True
    accepts it, saying so."""
    v1 = world.publish(100)
    v2 = world.publish(200)
    u = world.updater()
    assert u.upgrade().digest == v2

    world.retag_latest(v1)
    with pytest.raises(latch.RollbackError) as e:
        u.upgrade()
    assert isinstance(e.value, latch.VerificationError)
    assert e.value.kind == "rollback"
    assert "100" in str(e.value) and "200" in str(e.value), str(e.value)
    # Each ratchet that refused, with the accepted and the offered values.
    kinds = {r["kind"]: r for r in e.value.reasons}
    assert kinds["older-log-index"]["accepted"] == 200, e.value.reasons
    assert kinds["older-log-index"]["offered"] == 100, e.value.reasons
    assert kinds["below-floor"] == {"kind": "below-floor", "floor": 200, "offered": 100}
    with pytest.raises(latch.RollbackError):
        u.check()
    still_installed(u, v2)
    assert (world.data / "signatures" / "last_log_index").read_text() == "200"

    r = u.upgrade(force=True)
    assert (r.digest, r.forced, r.previous) == (v1, True, v2)
    assert any("ROLLBACK" in w for w in r.warnings), r.warnings
    still_installed(u, v1)


def test_attacks_are_refused_and_the_previous_image_still_verifies(world: World):
    """Unsigned, signed by a stranger, a signature moved from another image, a SET from
    an unknown log: each refused with the right exception, nothing installed."""
    v1 = world.publish(100)
    u = world.updater()
    u.upgrade()

    world.push_image()  # unsigned
    with pytest.raises(latch.NoSignaturesError) as e:
        u.upgrade()
    assert isinstance(e.value, latch.VerificationError)
    assert e.value.kind == "no-signatures"
    still_installed(u, v1)

    stranger = Key(world.tmp / "keys", "stranger")
    d = world.push_image()
    world.sign(d, 300, key=stranger)
    with pytest.raises(latch.VerificationError) as e:
        u.upgrade()
    assert not isinstance(e.value, latch.NoSignaturesError)
    assert e.value.kind == "not-verified"
    assert e.value.verdict is not None and e.value.verdict["digest"] == d
    assert len(e.value.verdict["outcomes"]) == 1
    still_installed(u, v1)

    # Mix and match: the trusted key's signature over v1, served as the new image's.
    d = world.push_image()
    world.sign(d, 400, signed_digest=v1)
    with pytest.raises(latch.VerificationError) as e:
        u.upgrade()
    assert e.value.kind == "not-verified"
    still_installed(u, v1)

    # Logged in a log whose key is not pinned.
    other_log = Key(world.tmp / "keys", "other-log")
    d = world.push_image()
    world.sign(d, 500, log=other_log)
    with pytest.raises(latch.VerificationError):
        u.upgrade()
    still_installed(u, v1)
    assert u.status().digest == v1


def test_a_tampered_store_is_refused(world: World):
    """verify_local refuses a signatures file swapped for another digest's
    (VerificationError), garbage (StoreCorruptError, left in place), and a store blob
    altered on disk (ImageIntegrityError with deep=True); the restored file verifies."""
    v1 = world.publish(100)
    u = world.updater()
    u.upgrade()
    path = world.signatures_file(v1)
    original = path.read_bytes()

    # A valid signature by the trusted key, but of another image.
    v2 = world.publish(200)
    u2 = world.updater(data_dir=world.tmp / "other-data")
    u2.store_signatures()
    other = (world.tmp / "other-data" / "signatures" / world.key.store_id) / (
        v2.split(":")[1] + ".json"
    )
    path.write_bytes(other.read_bytes())
    with pytest.raises(latch.VerificationError) as e:
        u.verify_local()
    assert e.value.kind == "not-verified"

    path.write_bytes(b"{garbage")
    with pytest.raises(latch.StoreCorruptError) as e:
        u.verify_local()
    assert isinstance(e.value, latch.StoreError)
    assert path.read_bytes() == b"{garbage", "a corrupt file is left in place"

    path.write_bytes(original)
    assert u.verify_local().digest == v1

    # One bit of the layer flipped, its size unchanged: only a deep check sees it.
    blobs = world.data / "store" / "blobs" / "sha256"
    layer = max(blobs.iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 1
    layer.write_bytes(bytes(data))
    assert u.verify_local(deep=False).digest == v1
    with pytest.raises(latch.ImageIntegrityError) as e:
        u.verify_local(deep=True)
    assert isinstance(e.value, latch.VerificationError)
    assert isinstance(e.value, latch.ContainerRuntimeError)


# --- air gap -------------------------------------------------------------------------


def test_air_gap_round_trip(world: World):
    """prepare_archive writes a verified archive; load_archive installs it into a fresh
    data directory with the built-in store, proven by verify_local; a damaged archive is
    refused with nothing installed; an older archive after a newer one is a rollback."""
    v1 = world.publish(100)
    online = world.updater(data_dir=world.tmp / "online")
    old_archive = world.tmp / "v1.tar"
    calls = []
    a1 = online.prepare_archive(old_archive, progress=lambda d, t: calls.append((d, t)))
    assert (a1.digest, a1.kind, a1.log_index, a1.signatures) == (v1, "imageIndex", 100, 1)
    assert a1.output == str(old_archive) and a1.size == old_archive.stat().st_size
    assert a1.archive_digest == "sha256:" + hashlib.sha256(old_archive.read_bytes()).hexdigest()
    assert calls and calls[-1][0] == calls[-1][1] >= LAYER_BYTES
    v2 = world.publish(200)
    archive = world.tmp / "v2.tar"
    a2 = online.prepare_archive(archive, arch="linux/" + a1.platform.split("/")[1])
    assert (a2.digest, a2.log_index) == (v2, 200)

    offline = world.updater(data_dir=world.tmp / "offline")
    r = offline.load_archive(archive)
    assert (r.status, r.digest, r.log_index) == ("upgraded", v2, 200)
    local = offline.verify_local(deep=True)
    assert (local.digest, local.log_index) == (v2, 200)
    assert (world.tmp / "offline" / "signatures" / "last_log_index").read_text() == "200"
    assert offline.load_archive(archive).status == "up-to-date"

    with pytest.raises(latch.RollbackError):
        offline.load_archive(old_archive)
    still_installed(offline, v2)

    # One byte changed in the middle of the archive (inside the layer blob).
    damaged = world.tmp / "damaged.tar"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    fresh = world.updater(data_dir=world.tmp / "fresh")
    with pytest.raises(latch.LatchError) as e:
        fresh.load_archive(damaged)
    assert isinstance(e.value, (latch.ArchiveError, latch.VerificationError)), repr(e.value)
    with pytest.raises(latch.NotInstalledError):
        fresh.verify_local()

    with pytest.raises(latch.FileError) as e:
        fresh.load_archive(world.tmp / "missing.tar")
    assert isinstance(e.value, OSError)


# --- the Python side: progress, GIL, locks, checks, errors ---------------------------


class Stop(Exception):
    pass


def test_an_exception_in_the_progress_callable_abandons_the_upgrade(world: World):
    """A callable that raises stops the upgrade: that very exception reaches the caller,
    the process lives on, nothing is installed, and the next upgrade works."""
    v1 = world.publish(100)
    u = world.updater()
    stop = Stop("user cancelled")
    seen = []

    def progress(done, total):
        seen.append(done)
        raise stop

    with pytest.raises(Stop) as e:
        u.upgrade(progress=progress)
    assert e.value is stop
    assert len(seen) == 1, "no call after the one that raised"
    with pytest.raises(latch.NotInstalledError):
        u.verify_local()
    assert not (world.data / "signatures" / "last_log_index").exists()

    with pytest.raises(TypeError):
        u.upgrade(progress=42)
    assert u.upgrade().digest == v1
    still_installed(u, v1)


def test_calling_latch_from_the_progress_callable_raises_a_latch_error(world: World):
    """Every Updater method called from within the progress callable, on the same or
    another Updater, raises LatchError kind "reentrant-call": never a Rust panic (pyo3's
    PanicException, a BaseException), never a deadlock on the lock the upgrade holds.
    Uncaught, it abandons the upgrade like any exception of the callable; caught, the
    upgrade completes. Constructing an Updater and reading attributes work there."""
    v1 = world.publish(100)
    u = world.updater()

    # Uncaught: the upgrade is abandoned and that LatchError is raised from it.
    try:
        u.upgrade(progress=lambda done, total: u.status())
    except latch.LatchError as e:
        assert type(e) is latch.LatchError and e.kind == "reentrant-call", (type(e), e.kind)
        assert "progress" in str(e), str(e)
    except BaseException as e:  # pyo3_runtime.PanicException is a BaseException
        pytest.fail(f"raised {type(e).__module__}.{type(e).__name__}, not a LatchError: {e}")
    else:
        pytest.fail("the re-entrant call did not raise")
    with pytest.raises(latch.NotInstalledError):
        u.verify_local()

    # Caught: each method of this Updater and of another raises, and the upgrade goes on.
    other = world.updater(data_dir=world.tmp / "other-data")
    archive = world.tmp / "inner.tar"
    calls = [
        (f"{name}.{method}", getattr(target, method), args)
        for name, target in (("u", u), ("other", other))
        for method, args in (
            ("status", ()),
            ("check", ()),
            ("verify_local", ()),
            ("store_signatures", ()),
            ("upgrade", ()),
            ("prepare_archive", (archive,)),
            ("load_archive", (archive,)),
            ("install", ()),
            # Would wait forever for the lock this upgrade holds, if it were let through.
            ("set_updates_enabled", (True,)),
        )
    ]
    raised = {}
    readable = []

    def progress(done, total):
        if raised:
            return
        fresh = world.updater(data_dir=world.tmp / "fresh-data")
        readable.append((u.image, u.data_dir, u.runtime, u.updates_enabled, fresh.image))
        for name, call, args in calls:
            try:
                call(*args)
            except latch.LatchError as e:
                raised[name] = e
            except BaseException as e:
                raised[name] = e
                return  # a panic: stop before anything could hang
            else:
                raised[name] = AssertionError("returned")

    r = u.upgrade(progress=progress)
    wrong = {
        n: f"{type(e).__module__}.{type(e).__name__}: {e}"
        for n, e in raised.items()
        if not (type(e) is latch.LatchError and e.kind == "reentrant-call")
    }
    assert not wrong, wrong
    assert sorted(raised) == sorted(n for n, _, _ in calls)
    assert readable == [(u.image, world.data, u.runtime, False, u.image)]
    assert (r.status, r.digest) == ("upgraded", v1)
    still_installed(u, v1)
    assert not archive.exists()
    assert not (world.tmp / "other-data" / "signatures").exists()


def test_long_calls_release_the_gil(world: World):
    """check() against a registry served by a Python thread of this process: it can
    only answer while check() waits in Rust if the GIL was released. Its 404 becomes a
    RegistryError."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(("GET", self.path))
            self.send_response(200 if self.path == "/v2/" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self):
            requests.append(("HEAD", self.path))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        u = world.updater(image=f"127.0.0.1:{server.server_port}/app/sandbox:latest")
        started = time.monotonic()
        with pytest.raises(latch.RegistryError) as e:
            u.check()
        assert time.monotonic() - started < 20
        assert e.value.kind == "registry-not-found", e.value.kind
        assert any("/manifests/latest" in p for _, p in requests), requests
    finally:
        server.shutdown()
        server.server_close()

    # And a second Python thread keeps running during a real upgrade.
    world.publish(100)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    begin = time.monotonic()
    world.updater().upgrade()
    end = time.monotonic()
    stop.set()
    t.join()
    during = [x for x in ticks if begin < x < end]
    assert len(during) >= min(5, int((end - begin) / 0.01)), (len(during), end - begin)


def test_ctrl_c_abandons_a_long_call(world: World):
    """A KeyboardInterrupt (SIGINT, simulated with _thread.interrupt_main) during a call
    blocked on a registry that does not answer is raised within a fraction of a second,
    instead of after the registry's read timeout."""
    import _thread

    release = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            release.wait(30)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    timer = threading.Timer(0.3, _thread.interrupt_main)
    # Python turns SIGINT into KeyboardInterrupt only when its parent left SIGINT alone: a
    # suite started in the background of a script (SIGINT ignored) would see nothing.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        u = world.updater(image=f"127.0.0.1:{server.server_port}/app/sandbox:latest")
        started = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            u.check()
        assert time.monotonic() - started < 5
    finally:
        signal.signal(signal.SIGINT, previous)
        timer.cancel()
        release.set()
        server.shutdown()
        server.server_close()


def test_another_process_holding_the_lock(world: World):
    """While another process holds the data directory's lock, upgrade() raises
    LockedError (a StoreError) and changes nothing; once released it proceeds."""
    v1 = world.publish(100)
    u = world.updater()
    lock = world.data / "latch" / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(latch.LockedError) as e:
            u.upgrade()
        assert isinstance(e.value, latch.StoreError) and e.value.kind == "locked"
        fcntl.flock(f, fcntl.LOCK_UN)
    assert u.upgrade().digest == v1


def test_automatic_checks_are_opt_in_with_a_cooldown(world: World):
    """check(explicit=False) does not contact the registry until the user opts in, then
    once per cooldown; an explicit check always does."""
    v1 = world.publish(100)
    u = world.updater()
    u.upgrade()
    assert u.updates_enabled is False
    c = u.check(explicit=False)
    assert (c.status, c.contacted_registry) == ("disabled", False)

    u.set_updates_enabled(True)
    assert u.updates_enabled is True and u.status().updates_enabled is True
    c = u.check(explicit=False)
    assert (c.status, c.contacted_registry, c.remote) == ("up-to-date", True, v1)
    assert c.next_check is not None and c.next_check > time.time()
    c = u.check(explicit=False)
    assert (c.status, c.contacted_registry) == ("cooldown", False)
    assert u.check(explicit=True).contacted_registry is True


def test_store_signatures_for_an_image_installed_otherwise(world: World):
    """store_signatures() fetches, verifies and stores the signatures of the remote
    image without pulling it (Dangerzone's store layout)."""
    v1 = world.publish(100)
    r = world.updater().store_signatures()
    assert (r.digest, r.log_index) == (v1, 100)
    assert r.files == [str(world.signatures_file(v1))]
    assert world.signatures_file(v1).exists()


def test_configuration_errors_and_profiles(world: World, tmp_path: Path):
    """Bad settings raise ConfigurationError (also a ValueError); a TOML profile works,
    with arguments overriding it."""
    with pytest.raises(latch.ConfigurationError) as e:
        latch.Updater(image=world.image, data_dir=tmp_path)
    assert isinstance(e.value, ValueError) and "no trusted key" in str(e.value)
    with pytest.raises(latch.ConfigurationError):
        world.updater(tlog="sometimes")
    with pytest.raises(latch.ConfigurationError) as e:
        world.updater(runtime="bogus")
    assert e.value.kind == "unknown-runtime"
    with pytest.raises(latch.ConfigurationError):
        world.updater(threshold=2)
    with pytest.raises(latch.ConfigurationError):
        world.updater(image="Not A Reference")
    with pytest.raises(latch.ConfigurationError):
        world.updater(threshold=0)
    with pytest.raises(TypeError):
        world.updater(keys="signer.pub")  # a string, not a list

    v1 = world.publish(100)
    profile = tmp_path / "app.toml"
    profile.write_text(
        f'name = "app"\nimage = "{world.image}"\ndata_dir = "profile-data"\n'
        '[trust]\nkeys = ["keys/signer.pub"]\nrekor_keys = ["keys/rekor.pub"]\n'
    )
    u = latch.Updater(profile=profile)
    assert u.data_dir == tmp_path / "profile-data"
    assert u.upgrade().digest == v1
    assert u.status().profile.startswith("app (")
    override = latch.Updater(profile=str(profile), data_dir=tmp_path / "elsewhere")
    assert override.data_dir == tmp_path / "elsewhere"
    with pytest.raises(latch.NotInstalledError):
        override.verify_local()


def test_unreachable_registry(world: World):
    """A registry that refuses connections raises RegistryError, kind
    registry-unreachable."""
    from conftest import free_port

    u = world.updater(image=f"127.0.0.1:{free_port()}/app/sandbox:latest")
    with pytest.raises(latch.RegistryError) as e:
        u.check()
    assert e.value.kind == "registry-unreachable", (e.value.kind, str(e.value))


def test_results_are_immutable_and_typed(world: World):
    """Result objects are frozen; their repr names the fields."""
    world.publish(100)
    r = world.updater().upgrade()
    with pytest.raises(AttributeError):
        r.digest = "sha256:" + "0" * 64
    assert repr(r).startswith("UpgradeResult(status='upgraded', digest='sha256:")
    assert isinstance(r.log_index, int) and isinstance(r.warnings, list)


def test_embedded_demo_runs_offline(tmp_path: Path):
    """profile='demo': the embedded signed image installs and verifies with no network;
    a forked child can still use the updater."""
    u = latch.Updater(profile="demo", data_dir=tmp_path)
    r = u.upgrade()
    assert r.upgraded and r.log_index is not None
    assert u.verify_local(deep=True).digest == r.digest

    # A child forked after a call (multiprocessing's default on Linux) gets a working
    # runtime of its own.
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            code = 0 if u.verify_local(deep=True).digest == r.digest else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


def test_warnings_before_a_failure_ride_on_the_exception(world: World):
    """A warning that comes before a failure (here the Sigstore root could not be
    refreshed: nothing answers at its TUF repository's address) is carried by the
    exception as ``warnings``, since a failure has no result to carry it."""
    testdata = Path(os.environ.get("LATCH_TESTDATA", REPO_ROOT.parent / "shared" / "testdata"))
    tuf_root = testdata / "sigstore-trust" / "prod" / "root.json"
    if not tuf_root.exists():
        pytest.skip(f"no shared test data at {testdata}")
    world.push_image()  # unsigned
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # A key profile that takes its logs from the Sigstore root (no pinned Rekor key).
    profile = world.tmp / "tuf-profile.toml"
    profile.write_text(
        f"""name = "app"
image = "{world.repository}:latest"
data_dir = "{world.tmp / 'tuf-data'}"

[trust]
keys = ["{world.key.path}"]
tlog = "required"
tuf_url = "http://127.0.0.1:{port}"
tuf_root = "{tuf_root}"
"""
    )
    u = latch.Updater(profile=str(profile))
    with pytest.raises(latch.NoSignaturesError) as e:
        u.check()
    warnings = e.value.warnings
    assert isinstance(warnings, tuple) and len(warnings) == 1, warnings
    assert "not refreshed" in warnings[0] and "starting root" in warnings[0], warnings
    # Each call's own: an error from a call that warned of nothing carries none.
    with pytest.raises(latch.NotInstalledError) as e:
        world.updater().verify_local()
    assert e.value.warnings == ()


# --- an independent signer -----------------------------------------------------------


def test_an_image_signed_by_cosign_upgrades(world: World):
    """The real cosign (2.x, the peer tools) signs an image with its own key format and
    no transparency log; Latch verifies and installs it (tlog='ignored')."""
    cosign = peer_cosign()
    if cosign is None:
        pytest.skip("the peer tools (shared/tools/peer-tools.sh) are not available")
    digest = world.push_image()
    env = dict(os.environ, COSIGN_PASSWORD="", COSIGN_YES="true")
    keys = world.tmp / "cosign"
    keys.mkdir()
    subprocess.run(
        [str(cosign), "generate-key-pair"], cwd=keys, env=env, check=True, capture_output=True
    )
    subprocess.run(
        [
            str(cosign),
            "sign",
            "--key",
            str(keys / "cosign.key"),
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
            f"{world.repository}@{digest}",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    u = world.updater(keys=[keys / "cosign.pub"], rekor_keys=[], tlog="ignored")
    r = u.upgrade()
    assert (r.status, r.digest, r.log_index) == ("upgraded", digest, None)
    assert u.verify_local().digest == digest
    # The same signature refused when the profile requires a Rekor entry.
    strict = world.updater(
        keys=[keys / "cosign.pub"], data_dir=world.tmp / "strict", tlog="required"
    )
    with pytest.raises(latch.VerificationError):
        strict.upgrade()


# --- the package ---------------------------------------------------------------------


def test_type_stubs_match_the_module(tmp_path: Path):
    """mypy's stubtest: every class, method, parameter and default in __init__.pyi is
    what the installed module has, and nothing public is missing from it."""
    pytest.importorskip("mypy")
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "latch", "--ignore-disjoint-bases"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert (Path(latch.__file__).parent / "py.typed").exists()


def test_the_updater_and_latch_verify_give_the_same_answer(world: World):
    """One decision: for each way of signing an image and each trust, the Python
    Updater's upgrade() and `latch verify --json` agree (trusted or not, and how many
    distinct signers), and both agree with what the case expects."""
    cli = latch_cli()
    if cli is None:
        pytest.skip("the latch binary is not built (cargo build -p latch-cli)")
    b = Key(world.tmp / "keys", "second")
    stranger = Key(world.tmp / "keys", "stranger")
    untrusted_log = Key(world.tmp / "keys", "untrusted-log")
    a_logged = dict(log=world.log)
    cases = [
        ("key logged", {}, [a_logged], (True, 1)),
        ("SET missing, log required", {}, [dict(log=None)], (False, 0)),
        ("SET missing, log optional", {"tlog": "optional"}, [dict(log=None)], (True, 1)),
        ("untrusted log", {}, [dict(log=untrusted_log)], (False, 0)),
        ("two keys of two", {"keys": [world.key.path, b.path], "threshold": 2},
         [a_logged, dict(key=b, log=world.log)], (True, 2)),
        ("one key twice, two required", {"keys": [world.key.path, b.path], "threshold": 2},
         [a_logged, a_logged], (False, 1)),
        ("a stranger beside the key", {}, [dict(key=stranger, log=world.log), a_logged], (True, 1)),
        ("another repository", {}, [dict(log=world.log, repository="ghcr.io/evil/x")], (False, 0)),
        ("another digest", {}, [dict(log=world.log, signed_digest="sha256:" + "ab" * 32)], (False, 0)),
        ("nothing", {}, [], None),
    ]
    for n, (name, trust, signatures, expected) in enumerate(cases):
        digest = world.push_image()
        if signatures:
            world.sign_many(digest, signatures)
        kwargs = dict(
            keys=trust.get("keys", [world.key.path]),
            rekor_keys=[world.log.path],
            threshold=trust.get("threshold"),
            tlog=trust.get("tlog"),
            data_dir=world.tmp / f"matrix-{n}",
        )
        try:
            report = world.updater(**kwargs).upgrade().to_dict()["verdict"]
            by_updater = (report["trusted"], len(report["signers"]))
        except latch.NoSignaturesError:
            by_updater = None
        except latch.VerificationError as e:
            assert e.verdict is not None, name
            by_updater = (e.verdict["trusted"], len(e.verdict["signers"]))
        args = [str(cli), "verify", world.image, "--json"]
        for k in kwargs["keys"]:
            args += ["--key", str(k)]
        args += ["--rekor-key", str(world.log.path)]
        if kwargs["threshold"]:
            args += ["--threshold", str(kwargs["threshold"])]
        if kwargs["tlog"]:
            args += ["--tlog", kwargs["tlog"]]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
        doc = json.loads(out.stdout)
        assert doc["json_version"] == 2, doc
        verdict = doc["verdict"]
        by_cli = (verdict["trusted"], len(verdict["signers"])) if verdict["outcomes"] else None
        assert out.returncode == (0 if by_cli and by_cli[0] else 1), (name, out.stderr)
        assert by_updater == by_cli == expected, (name, by_updater, by_cli, expected)


def test_provenance_is_required_on_top_of_the_signatures(world: World):
    """With ``provenance=``, an image signed by the release key alone is refused as
    ``no-provenance`` (a VerificationError naming the missing half), and nothing is
    installed; a malformed requirement is a ConfigurationError."""
    world.publish(100)
    required = {
        "repository": "freedomofpress/dangerzone-image",
        "workflow": ".github/workflows/release.yml",
        "refs": ["refs/heads/main"],
    }
    u = world.updater(provenance=required)
    with pytest.raises(latch.VerificationError) as e:
        u.upgrade()
    assert e.value.kind == "no-provenance"
    assert "not built where required" in str(e.value)
    assert e.value.verdict["provenance"]["satisfied"] is False
    with pytest.raises(latch.NotInstalledError):
        u.verify_local()
    with pytest.raises(latch.ConfigurationError):
        world.updater(provenance={"repository": "o/r"})
    with pytest.raises(latch.ConfigurationError):
        world.updater(provenance={**required, "branch": "main"})


def test_a_health_check_in_python_reverts_a_failing_image(world: World):
    """``health_check=`` as a callable: called with (image, digest) on the new image
    before it replaces the old one; ``False`` removes it, keeps the old one verifying,
    and records the failure; a command works the same way."""
    v1 = world.publish(100)
    world.updater().upgrade()
    v2 = world.publish(200)
    seen = []

    def check(image, digest):
        seen.append((image, digest))
        return digest != v2

    u = world.updater(health_check=check)
    with pytest.raises(latch.LatchError) as e:
        u.upgrade()
    assert e.value.kind == "health-check-failed"
    assert seen and seen[0][1] == v2
    assert u.verify_local().digest == v1
    assert u.status().to_dict()["failed"]["digest"] == v2
    assert u.upgrade().status == "failed-before"
    # A command, and a retry.
    ok = world.updater(health_check=["sh", "-c", 'test -n "$LATCH_DIGEST"'])
    assert ok.upgrade(retry_failed=True).digest == v2
    with pytest.raises(latch.ConfigurationError):
        world.updater(health_check=42)


def test_min_age_holds_a_young_image(world: World):
    """``min_age=``: a newer image logged recently is ``held`` by check and upgrade (a
    status, not an error), with the time it will be taken; ``now=True`` takes it."""
    import time

    logged = int(time.time()) - 60
    digest = world.push_image("latest")
    world.sign(digest, 100, integrated_time=logged)
    u = world.updater(min_age="1h")
    c = u.check()
    assert c.status == "held"
    assert c.to_dict()["held_until"] == logged + 3600
    r = u.upgrade()
    assert r.status == "held" and not r.upgraded
    with pytest.raises(latch.NotInstalledError):
        u.verify_local()
    assert u.upgrade(now=True).digest == digest


def test_mirrors_are_settings_checked_up_front(world: World):
    """``mirrors=``: repositories (the profile's tag followed) or ``oci:DIR``; a mirror
    given with its own tag is a ConfigurationError; a valid list leaves the primary in
    use while it answers."""
    v1 = world.publish(100)
    u = world.updater(mirrors=["127.0.0.1:9/mirror/sandbox", "oci:/nonexistent"])
    r = u.upgrade()
    assert r.digest == v1
    assert r.to_dict()["source"] == world.image
    with pytest.raises(latch.ConfigurationError):
        world.updater(mirrors=["127.0.0.1:9/mirror/sandbox:other"])
