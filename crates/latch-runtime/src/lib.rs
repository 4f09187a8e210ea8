//! Container runtimes behind one type: where Latch installs the images it verified.
//!
//! - [`Runtime::Podman`] and [`Runtime::Docker`] drive the `podman` and `docker` CLIs
//!   ([`CliRuntime`]): pull by digest, load an image from a verified OCI layout, list the
//!   images of a repository with every digest the engine associates with them, tag,
//!   remove.
//! - [`Runtime::Store`] is Latch's own store ([`BuiltinStore`]): an OCI image layout that
//!   needs neither, filled by Latch's registry client, content-addressed, verified on the
//!   way in, re-verifiable ([`BuiltinStore::verify`]) and garbage-collected.
//!
//! What each engine reports differs, and Dangerzone's bug #1516 came from mixing the
//! digests up, so an [`InstalledImage`] carries all of them:
//!
//! | after | podman 4.3 | docker 20.10 | built-in store |
//! | --- | --- | --- | --- |
//! | pull of an index digest | `Digest` = index, `RepoDigests` = index and platform manifest | `RepoDigests` = index only | entry = index, platform manifest recorded beside it |
//! | load of an oci-archive naming an index | both, as after a pull | (engine ≥ 25 only; not testable here) | as after a pull |
//! | load of an oci-archive naming a platform manifest | platform manifest only | (engine ≥ 25 only) | platform manifest only |
//! | load of a docker-archive | (not used) | **no digest at all**: only the image id (config digest) | (not used) |
//!
//! Podman keys images by image id (the config digest): two manifests with the same config
//! become one image whose digests are the union of both, and its `Digest` field keeps the
//! first one ever pulled. [`InstalledImage::pinned`] therefore lists only the digests the
//! image is *named* by (`repository@digest`), which is what the pull or load asked for.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod archive;
pub mod cli;
pub mod error;
mod exec;
mod image;
pub mod store;

use std::path::PathBuf;

use latch_oci::{Descriptor, Digest, OciLayout, Platform, Reference};
use latch_registry::{Client, Progress};
use serde::Serialize;

pub use cli::{CliKind, CliRuntime};
pub use error::{Result, RuntimeError};
pub use store::{BuiltinStore, GcReport, VerifyReport};

/// What [`Runtime::check_available`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeInfo {
    /// `podman`, `docker` or `store`.
    pub name: &'static str,
    /// The engine's version (podman: the client's; docker: the daemon's; the store:
    /// Latch's).
    pub version: String,
}

/// An image as a runtime reports it, seen from one repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledImage {
    /// The runtime's image id: podman prints the config digest's hex, docker
    /// `sha256:<hex>` of the config, the built-in store `sha256:<hex>` of the config. See
    /// [`InstalledImage::config_digest`].
    pub id: String,
    /// The repository (`registry/path`, normalised as [`Reference::name`] gives it).
    pub repository: String,
    /// Every manifest digest the runtime associates with the image, the runtime's own
    /// "digest" first: index and/or platform manifest. Podman's set is image-wide (it
    /// never forgets a digest while the image exists); docker's is the `RepoDigests` of
    /// this repository; the store's is the entry's top-level digest and the platform
    /// manifest it installed. Empty after a docker-archive load (Docker < 25).
    pub digests: Vec<Digest>,
    /// The digests the image is named by in this repository (`repository@digest`): what
    /// it was pulled or loaded by. [`InstalledImage::digest`] decides from these.
    pub pinned: Vec<Digest>,
    /// Its tags in this repository (the part after `:`).
    pub tags: Vec<String>,
}

impl InstalledImage {
    /// Whether the runtime associates `digest` with this image.
    pub fn holds(&self, digest: &Digest) -> bool {
        self.digests.contains(digest) || self.pinned.contains(digest)
    }

    /// The config digest, read from the image id (every engine here uses the config's
    /// sha256 as the id). After a docker-archive load this is the only identity left:
    /// compare it with the config the verified manifest names.
    pub fn config_digest(&self) -> Option<Digest> {
        Digest::parse(&self.id)
            .ok()
            .or_else(|| Digest::from_sha256_hex(&self.id).ok())
    }

    /// The one digest the image stands for, as Dangerzone reads it: the single pinned
    /// digest; with none pinned (loaded by tag), the runtime's own digest. Errors if it
    /// is pinned by several, or has no digest at all (docker-archive load).
    pub fn digest(&self) -> Result<Digest> {
        match self.pinned.as_slice() {
            [one] => Ok(one.clone()),
            [] => self
                .digests
                .first()
                .cloned()
                .ok_or_else(|| RuntimeError::NoDigest {
                    repository: self.repository.clone(),
                    id: self.id.clone(),
                }),
            many => Err(RuntimeError::SeveralDigests {
                repository: self.repository.clone(),
                digests: join(many),
            }),
        }
    }
}

pub(crate) fn join(digests: &[Digest]) -> String {
    digests
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A container runtime: podman, docker, or the built-in store.
#[derive(Debug, Clone)]
pub enum Runtime {
    /// The `podman` CLI.
    Podman(CliRuntime),
    /// The `docker` CLI (and whatever daemon `DOCKER_HOST` names).
    Docker(CliRuntime),
    /// The built-in OCI-layout store.
    Store(BuiltinStore),
}

impl Runtime {
    /// Parses `podman`, `docker` or `store:DIR` (no I/O: nothing is checked or created).
    pub fn parse(spec: &str) -> Result<Runtime> {
        match spec {
            "podman" => Ok(Runtime::Podman(CliRuntime::podman())),
            "docker" => Ok(Runtime::Docker(CliRuntime::docker())),
            _ => match spec.strip_prefix("store:") {
                Some(dir) if !dir.is_empty() => {
                    Ok(Runtime::Store(BuiltinStore::new(PathBuf::from(dir))))
                }
                _ => Err(RuntimeError::UnknownRuntime(spec.to_owned())),
            },
        }
    }

    /// `podman`, `docker` or `store`.
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Podman(_) => "podman",
            Runtime::Docker(_) => "docker",
            Runtime::Store(_) => "store",
        }
    }

    /// The spec [`Runtime::parse`] reads back (`store:DIR` with the directory).
    pub fn spec(&self) -> String {
        match self {
            Runtime::Podman(_) | Runtime::Docker(_) => self.name().to_owned(),
            Runtime::Store(s) => format!("store:{}", s.dir().display()),
        }
    }

    /// Checks that the runtime can be used: the program is on `PATH` (and for docker,
    /// the daemon answers). The built-in store is always available.
    pub async fn check_available(&self) -> Result<RuntimeInfo> {
        match self {
            Runtime::Podman(c) | Runtime::Docker(c) => c.check_available().await,
            Runtime::Store(s) => s.check_available().await,
        }
    }

    /// Every image with a name (tag or digest) in `repository` (its tag and digest, if
    /// any, are ignored).
    pub async fn images(&self, repository: &Reference) -> Result<Vec<InstalledImage>> {
        match self {
            Runtime::Podman(c) | Runtime::Docker(c) => c.images(repository).await,
            Runtime::Store(s) => s.images(repository).await,
        }
    }

    /// The image the tag `reference` names (the tag an application runs), asking about
    /// that one name: `None` if the tag names nothing. `reference` needs a tag and no
    /// digest.
    pub async fn tagged(&self, reference: &Reference) -> Result<Option<InstalledImage>> {
        match self {
            Runtime::Podman(c) | Runtime::Docker(c) => c.tagged(reference).await,
            Runtime::Store(s) => s.tagged(reference).await,
        }
    }

    /// The one image installed under `repository`: `None` if there is none, an error if
    /// there are several.
    pub async fn installed(&self, repository: &Reference) -> Result<Option<InstalledImage>> {
        let mut images = self.images(repository).await?;
        match images.len() {
            0 => Ok(None),
            1 => Ok(images.pop()),
            n => Err(RuntimeError::SeveralImages {
                repository: repository.name(),
                count: n,
                ids: images
                    .iter()
                    .map(|i| i.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Dangerzone's check: the one digest installed under `repository` (see
    /// [`InstalledImage::digest`]); `None` if nothing is installed; an error if several
    /// images or digests are.
    pub async fn installed_digest(&self, repository: &Reference) -> Result<Option<Digest>> {
        match self.installed(repository).await? {
            None => Ok(None),
            Some(image) => image.digest().map(Some),
        }
    }

    /// Pulls `reference` (which must carry a digest) and returns the image as the
    /// runtime now reports it, checked to hold that digest. For an index, `platform`
    /// chooses the image (default: the host's).
    pub async fn pull(
        &self,
        reference: &Reference,
        client: &Client,
        platform: Option<&Platform>,
        progress: &dyn Progress,
    ) -> Result<InstalledImage> {
        match self {
            Runtime::Podman(c) | Runtime::Docker(c) => {
                c.pull(reference, client, platform, progress).await
            }
            Runtime::Store(s) => s.pull(reference, client, platform, progress).await,
        }
    }

    /// Loads the image `descriptor` names in `layout` (already verified by the caller;
    /// every blob is re-hashed on the way anyway) under `target`'s repository, tagged
    /// with `target`'s tag if it has one. For an index, `platform` chooses the image
    /// (default: the host's).
    pub async fn load_oci_layout(
        &self,
        layout: &OciLayout,
        descriptor: &Descriptor,
        target: &Reference,
        platform: Option<&Platform>,
    ) -> Result<InstalledImage> {
        match self {
            Runtime::Podman(c) | Runtime::Docker(c) => {
                c.load_oci_layout(layout, descriptor, target, platform)
                    .await
            }
            Runtime::Store(s) => {
                s.load_oci_layout(layout, descriptor, target, platform)
                    .await
            }
        }
    }

    /// Tags `image` as `target` (which must have a tag and no digest).
    pub async fn tag(&self, image: &InstalledImage, target: &Reference) -> Result<()> {
        match self {
            Runtime::Podman(c) | Runtime::Docker(c) => c.tag(image, target).await,
            Runtime::Store(s) => s.tag(image, target).await,
        }
    }

    /// Removes `image` from its repository: every tag and digest name it has there. The
    /// engine deletes the image when no name is left; names in other repositories stay.
    pub async fn remove(&self, image: &InstalledImage) -> Result<()> {
        match self {
            Runtime::Podman(c) | Runtime::Docker(c) => c.remove(image).await,
            Runtime::Store(s) => s.remove(image).await,
        }
    }

    /// What Dangerzone does after an upgrade: removes every image of `repository` that
    /// does not hold `keep`, and the other digest names of the one that does (so that
    /// [`Runtime::installed_digest`] then finds `keep` alone). Returns what was removed.
    pub async fn remove_others(
        &self,
        repository: &Reference,
        keep: &Digest,
    ) -> Result<Vec<InstalledImage>> {
        match self {
            Runtime::Podman(c) | Runtime::Docker(c) => c.remove_others(repository, keep).await,
            Runtime::Store(s) => s.remove_others(repository, keep).await,
        }
    }

    /// Frees what no image needs any more: blobs no entry references (the store); a
    /// no-op for podman and docker, which free layers when the image goes.
    pub async fn gc(&self) -> Result<GcReport> {
        match self {
            Runtime::Podman(_) | Runtime::Docker(_) => Ok(GcReport::default()),
            Runtime::Store(s) => s.gc().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(Runtime::parse("podman").unwrap().name(), "podman");
        assert_eq!(Runtime::parse("docker").unwrap().name(), "docker");
        let s = Runtime::parse("store:/tmp/x y").unwrap();
        assert_eq!(s.name(), "store");
        assert_eq!(s.spec(), "store:/tmp/x y");
        for bad in ["", "store:", "Podman", "crio", "store"] {
            let err = Runtime::parse(bad).unwrap_err();
            assert!(
                matches!(err, RuntimeError::UnknownRuntime(_)),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn image_digest_rules() {
        let a = Digest::sha256_of(b"a");
        let b = Digest::sha256_of(b"b");
        let mut img = InstalledImage {
            id: Digest::sha256_of(b"cfg").hex().to_owned(),
            repository: "r/x".into(),
            digests: vec![a.clone(), b.clone()],
            pinned: vec![b.clone()],
            tags: vec![],
        };
        assert_eq!(img.digest().unwrap(), b);
        assert_eq!(img.config_digest(), Some(Digest::sha256_of(b"cfg")));
        img.pinned.clear();
        assert_eq!(img.digest().unwrap(), a);
        img.pinned = vec![a.clone(), b.clone()];
        assert!(matches!(
            img.digest(),
            Err(RuntimeError::SeveralDigests { .. })
        ));
        img.pinned.clear();
        img.digests.clear();
        img.id = Digest::sha256_of(b"cfg").to_string();
        assert!(matches!(img.digest(), Err(RuntimeError::NoDigest { .. })));
        assert_eq!(img.config_digest(), Some(Digest::sha256_of(b"cfg")));
    }
}
