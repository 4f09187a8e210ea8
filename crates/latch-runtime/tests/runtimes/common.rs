//! Fixtures: tool checks (fail in CI, skip elsewhere), an isolated podman, a private
//! dockerd.

use std::path::Path;

use latch_oci::Platform;
use latch_registry::{Client, ClientOptions};
use latch_runtime::{CliKind, CliRuntime, Runtime};
pub use latch_testkit::Dockerd;
use latch_testkit::PodmanStorage;

pub use latch_testkit::{need, runs};

pub fn client() -> Client {
    Client::new(ClientOptions::default()).expect("a registry client")
}

pub fn host() -> Platform {
    Platform::host()
}

/// An OCI platform string for the testkit (`linux/amd64`).
pub fn host_str() -> String {
    host().to_string()
}

/// The platform of the multi-arch test images that is not the host's.
pub fn foreign_str() -> &'static str {
    if host().architecture == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    }
}

/// A podman with its own storage (see [`latch_testkit::PodmanStorage`]).
pub struct IsolatedPodman {
    pub runtime: Runtime,
    _storage: PodmanStorage,
}

impl IsolatedPodman {
    /// `None` (skipping) when podman is missing or we are not root.
    pub fn new() -> Option<IsolatedPodman> {
        let storage = PodmanStorage::new()?;
        let cli = CliRuntime::podman()
            .with_global_args(storage.global_args())
            .with_temp_dir(storage.dir());
        Some(IsolatedPodman {
            runtime: Runtime::Podman(cli),
            _storage: storage,
        })
    }
}

/// A docker CLI (`program`) talking to the private daemon `d`, with its own config.
pub fn docker_cli(d: &Dockerd, program: &Path) -> CliRuntime {
    CliRuntime::new(CliKind::Docker, program)
        .with_env("DOCKER_HOST", d.host())
        .with_env("DOCKER_CONFIG", d.config_dir())
        .with_temp_dir(d.dir())
}
