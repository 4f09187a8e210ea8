"""Fixtures over real parts: Debian's docker-registry on 127.0.0.1, images built as OCI
layouts here and pushed by skopeo, cosign signatures (with Rekor SETs from a test log
key) made with the ``cryptography`` package, and pushed to the registry's
``sha256-<hex>.sig`` tags as cosign does."""

import base64
import gzip
import hashlib
import io
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import latch

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION_SIGNATURE = "dev.cosignproject.cosign/signature"
ANNOTATION_BUNDLE = "dev.sigstore.cosign/bundle"
REF_NAME = "org.opencontainers.image.ref.name"
MANIFEST_ACCEPT = ", ".join(
    [
        OCI_INDEX,
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)

#: Size of each test image's one layer: enough for several progress reports.
LAYER_BYTES = 384 * 1024

REPO_ROOT = Path(__file__).resolve().parents[3]


def host_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, **extra) -> Dict:
    d = {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}
    d.update(extra)
    return d


def canonical(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# --- the registry --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """A running docker-registry: filesystem storage in a temporary directory, deletes
    enabled, plain HTTP on 127.0.0.1, no auth."""

    def __init__(self, root: Path):
        self.root = root
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        binary = os.environ.get("LATCH_DOCKER_REGISTRY", "docker-registry")
        if shutil.which(binary) is None:
            pytest.fail(
                f"{binary} not found: install Debian's docker-registry package "
                "(apt-get install docker-registry) or set LATCH_DOCKER_REGISTRY"
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        for _ in range(8):
            self.port = free_port()
            config = root / "config.yml"
            config.write_text(
                "version: 0.1\n"
                "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {json.dumps(str(root / 'storage'))}\n"
                "  delete:\n    enabled: true\n"
                "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: latch-python-tests\n"
            )
            log = open(root / "registry.log", "wb")
            self.proc = subprocess.Popen(
                [binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            if self._wait_ready():
                return
            self.stop()
            if "address already in use" not in (root / "registry.log").read_text():
                break
        pytest.fail("docker-registry did not start:\n" + (root / "registry.log").read_text())

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/v2/", timeout=2):
                    return True
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        return False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    # The distribution API, for signatures and re-tagging.

    def _request(self, method: str, path: str, data: Optional[bytes] = None, headers=None):
        url = path if path.startswith("http") else self.url + path
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        return urllib.request.urlopen(req, timeout=30)

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha256_digest(data)
        with self._request("POST", f"/v2/{repo}/blobs/uploads/") as r:
            location = r.headers["Location"]
        location = urllib.parse.urljoin(self.url + "/", location)
        sep = "&" if "?" in location else "?"
        with self._request(
            "PUT",
            f"{location}{sep}digest={urllib.parse.quote(digest)}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        ) as r:
            assert r.status == 201, r.status
        return digest

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> None:
        with self._request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            data=data,
            headers={"Content-Type": media_type},
        ) as r:
            assert r.status == 201, r.status

    def get_manifest(self, repo: str, reference: str) -> Tuple[bytes, str]:
        with self._request(
            "GET", f"/v2/{repo}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}
        ) as r:
            return r.read(), r.headers["Content-Type"]


@pytest.fixture(scope="session")
def registry():
    root = Path(tempfile.mkdtemp(prefix="latch-py-registry-"))
    reg = Registry(root)
    yield reg
    reg.stop()
    shutil.rmtree(root, ignore_errors=True)


# --- images --------------------------------------------------------------------------


def build_layout(directory: Path, seed: int, tag: str) -> str:
    """An OCI layout holding a one-platform index (this machine's platform) whose one
    layer is distinct per ``seed``; returns the index digest."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> None:
        (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)

    content = random.Random(seed).getrandbits(LAYER_BYTES * 8).to_bytes(LAYER_BYTES, "big")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("payload.bin")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    layer_tar = buf.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    config = canonical(
        {
            "architecture": host_arch(),
            "os": "linux",
            "config": {"Labels": {"seed": str(seed)}},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer_tar)]},
        }
    )
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER_GZIP, layer)],
        }
    )
    index = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                descriptor(
                    OCI_MANIFEST,
                    manifest,
                    platform={"architecture": host_arch(), "os": "linux"},
                )
            ],
        }
    )
    for blob in (layer, config, manifest, index):
        put(blob)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (directory / "index.json").write_bytes(
        canonical(
            {
                "schemaVersion": 2,
                "manifests": [descriptor(OCI_INDEX, index, annotations={REF_NAME: tag})],
            }
        )
    )
    return sha256_digest(index)


def skopeo_push(layout: Path, tag: str, destination: str) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.fail("skopeo not found: install Debian's skopeo package")
    subprocess.run(
        [
            skopeo,
            "--insecure-policy",
            "copy",
            "--quiet",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout}:{tag}",
            f"docker://{destination}",
        ],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )


# --- signatures ----------------------------------------------------------------------


class Key:
    """A P-256 key pair, its public PEM written to ``dir/name.pub``."""

    def __init__(self, directory: Path, name: str):
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{name}.pub"
        self.path.write_bytes(self.public_pem)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message, ec.ECDSA(hashes.SHA256()))

    @property
    def log_id(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def store_id(self) -> str:
        """Dangerzone's folder name: sha256 of the public key file."""
        return hashlib.sha256(self.public_pem).hexdigest()


def simple_signing(repository: str, digest: str) -> bytes:
    """The payload cosign signs, byte for byte."""
    return canonical(
        {
            "critical": {
                "identity": {"docker-reference": repository},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )


def signature_layer(
    key: Key,
    repository: str,
    digest: str,
    log: Optional[Key],
    log_index: int,
    integrated_time: int,
) -> Tuple[Dict, bytes]:
    """A `.sig` manifest layer (descriptor, payload), with a Rekor SET when ``log``."""
    payload = simple_signing(repository, digest)
    sig = key.sign(payload)
    annotations = {ANNOTATION_SIGNATURE: base64.b64encode(sig).decode()}
    if log is not None:
        body = canonical(
            {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {
                        "hash": {
                            "algorithm": "sha256",
                            "value": hashlib.sha256(payload).hexdigest(),
                        }
                    },
                    "signature": {
                        "content": base64.b64encode(sig).decode(),
                        "publicKey": {"content": base64.b64encode(key.public_pem).decode()},
                    },
                },
            }
        )
        body_b64 = base64.b64encode(body).decode()
        # RFC 8785: keys sorted; these values need no escaping.
        signed = (
            f'{{"body":"{body_b64}","integratedTime":{integrated_time},'
            f'"logID":"{log.log_id}","logIndex":{log_index}}}'
        ).encode()
        annotations[ANNOTATION_BUNDLE] = json.dumps(
            {
                "SignedEntryTimestamp": base64.b64encode(log.sign(signed)).decode(),
                "Payload": {
                    "body": body_b64,
                    "integratedTime": integrated_time,
                    "logIndex": log_index,
                    "logID": log.log_id,
                },
            },
            separators=(",", ":"),
        )
    return descriptor(SIMPLE_SIGNING, payload, annotations=annotations), payload


class World:
    """One repository of the session's registry, a trusted signing key, a test Rekor log
    key, and a data directory: what each test starts from."""

    counter = 0

    def __init__(self, registry: Registry, tmp: Path):
        World.counter += 1
        self.registry = registry
        self.tmp = tmp
        self.repo = f"app{World.counter}/sandbox"
        self.repository = f"{registry.host}/{self.repo}"
        self.image = f"{self.repository}:latest"
        self.key = Key(tmp / "keys", "signer")
        self.log = Key(tmp / "keys", "rekor")
        self.seed = 0

    @property
    def data(self) -> Path:
        return self.tmp / "data"

    def updater(self, **kwargs) -> "latch.Updater":
        args = dict(
            image=self.image,
            keys=[self.key.path],
            rekor_keys=[self.log.path],
            data_dir=self.data,
        )
        args.update(kwargs)
        return latch.Updater(**args)

    def push_image(self, tag: str = "latest") -> str:
        """A new, distinct, unsigned image pushed as ``tag``; returns its digest."""
        self.seed += 1
        seed = World.counter * 1000 + self.seed
        layout = self.tmp / f"layout-{seed}"
        digest = build_layout(layout, seed, tag)
        skopeo_push(layout, tag, f"{self.repository}:{tag}")
        return digest

    def sign(
        self,
        digest: str,
        log_index: int,
        key: Optional[Key] = None,
        log: Optional[Key] = None,
        integrated_time: Optional[int] = None,
        signed_digest: Optional[str] = None,
    ) -> None:
        """Pushes the `.sig` manifest of ``digest``: one signature by ``key`` (default the
        trusted one) over ``signed_digest`` (default ``digest``), logged at
        ``log_index``."""
        self.sign_many(
            digest,
            [
                dict(
                    key=key,
                    log=log or self.log,
                    log_index=log_index,
                    integrated_time=integrated_time,
                    signed_digest=signed_digest,
                )
            ],
        )

    def sign_many(self, digest: str, signatures: List[Dict]) -> None:
        """Pushes the `.sig` manifest of ``digest`` with one layer per entry of
        ``signatures``: ``key`` (default the trusted one), ``log`` (``None``: no SET),
        ``log_index``, ``integrated_time``, ``signed_digest`` (default ``digest``),
        ``repository`` (default this world's)."""
        config = b"{}"
        self.registry.push_blob(self.repo, config)
        layers = []
        for i, spec in enumerate(signatures):
            integrated_time = spec.get("integrated_time")
            layer, payload = signature_layer(
                spec.get("key") or self.key,
                spec.get("repository") or self.repository,
                spec.get("signed_digest") or digest,
                spec.get("log"),
                spec.get("log_index", 100 + i),
                integrated_time if integrated_time is not None else int(time.time()) - 60,
            )
            self.registry.push_blob(self.repo, payload)
            layers.append(layer)
        manifest = canonical(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor(OCI_CONFIG, config),
                "layers": layers,
            }
        )
        tag = digest.replace(":", "-") + ".sig"
        self.registry.put_manifest(self.repo, tag, manifest, OCI_MANIFEST)

    def publish(self, log_index: int) -> str:
        """A new image, signed and logged at ``log_index``, as ``latest``."""
        digest = self.push_image("latest")
        self.sign(digest, log_index)
        return digest

    def retag_latest(self, digest: str) -> None:
        """Points ``latest`` at an image pushed before (as a hostile registry would)."""
        data, media_type = self.registry.get_manifest(self.repo, digest)
        self.registry.put_manifest(self.repo, "latest", data, media_type)

    def signatures_file(self, digest: str) -> Path:
        return self.data / "signatures" / self.key.store_id / f"{digest.split(':')[1]}.json"


@pytest.fixture
def world(registry, tmp_path):
    return World(registry, tmp_path)


# --- the latch command ----------------------------------------------------------------


def latch_cli() -> Optional[Path]:
    """The `latch` binary `cargo test` built beside this wheel (its target directory), or
    None. In CI (``CI=true``) a missing binary fails the test instead."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
    binary = target / "debug" / "latch"
    if binary.is_file():
        return binary
    if os.environ.get("CI") == "true":
        pytest.fail(f"{binary} not found: run `cargo build -p latch-cli` first")
    return None


# --- the peer cosign -----------------------------------------------------------------


def peer_cosign() -> Optional[Path]:
    """cosign 2.x from the shared peer tools (unpacked by ``.ci/run`` into
    ``target/peer-tools``; else unpacked there now from ``$LATCH_SHARED`` or the
    ``shared/`` folder beside the repository)."""
    tools = REPO_ROOT / "target" / "peer-tools"
    cosign = tools / "bin" / "cosign"
    if cosign.exists():
        return cosign
    shared = Path(os.environ.get("LATCH_SHARED", REPO_ROOT.parent / "shared"))
    script = shared / "tools" / "peer-tools.sh"
    if not script.exists():
        return None
    subprocess.run(["sh", str(script), str(tools)], check=True, capture_output=True)
    return cosign if cosign.exists() else None
