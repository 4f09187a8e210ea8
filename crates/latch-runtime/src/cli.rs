//! podman and docker through their command-line interfaces.
//!
//! Only references, paths and fixed flags go on a command line (credentials stay in the
//! engines' own auth files). Images are found with `podman images --format json` and
//! `docker image ls` + `docker image inspect`, never with `--format {{.Digest}}`:
//! docker prints an empty digest there unless `--digests` is given, and podman's
//! `Digest` field keeps the first digest an image was ever pulled by.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use latch_oci::manifest::ANNOTATION_REF_NAME;
use latch_oci::{Descriptor, Digest, OciLayout, Platform, Reference};
use latch_registry::{Client, Progress};
use serde::Deserialize;

use crate::archive::{self, Entry};
use crate::error::{Result, RuntimeError, io_err};
use crate::exec::{Output, Program};
use crate::image::{self, Closure};
use crate::{InstalledImage, RuntimeInfo, join};

/// Annotation containerd (and so Docker ≥ 25) reads the image name from.
const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// The first Docker Engine whose `docker load` reads OCI layouts.
const DOCKER_OCI_LOAD_MAJOR: u32 = 25;

/// Which CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliKind {
    /// podman.
    Podman,
    /// docker.
    Docker,
}

impl CliKind {
    /// `podman` or `docker`.
    pub fn name(self) -> &'static str {
        match self {
            CliKind::Podman => "podman",
            CliKind::Docker => "docker",
        }
    }
}

/// A podman or docker CLI, with the global arguments and environment every call gets
/// (e.g. `--root`, `--runroot` and `--tmpdir` for an isolated podman store, or
/// `DOCKER_HOST` for a private daemon).
#[derive(Debug, Clone)]
pub struct CliRuntime {
    kind: CliKind,
    prog: Program,
    temp_dir: Option<PathBuf>,
}

impl CliRuntime {
    /// `podman` from `PATH`.
    pub fn podman() -> CliRuntime {
        CliRuntime::new(CliKind::Podman, "podman")
    }

    /// `docker` from `PATH`.
    pub fn docker() -> CliRuntime {
        CliRuntime::new(CliKind::Docker, "docker")
    }

    /// A CLI of `kind` at `program` (a name looked up on `PATH`, or a path).
    pub fn new(kind: CliKind, program: impl Into<PathBuf>) -> CliRuntime {
        CliRuntime {
            kind,
            prog: Program {
                program: program.into(),
                global_args: Vec::new(),
                env: Vec::new(),
            },
            temp_dir: None,
        }
    }

    /// Uses `program` instead.
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> CliRuntime {
        self.prog.program = program.into();
        self
    }

    /// Adds arguments placed before every subcommand (`podman --root D --runroot R …`).
    pub fn with_global_args<I, S>(mut self, args: I) -> CliRuntime
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.prog
            .global_args
            .extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for every call (`DOCKER_HOST`, `DOCKER_CONFIG`,
    /// `CONTAINERS_STORAGE_CONF`…).
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> CliRuntime {
        self.prog.env.push((key.into(), value.into()));
        self
    }

    /// Where archives for `load` are written (default: the system's temporary
    /// directory). They are as large as the image.
    pub fn with_temp_dir(mut self, dir: impl Into<PathBuf>) -> CliRuntime {
        self.temp_dir = Some(dir.into());
        self
    }

    /// podman or docker.
    pub fn kind(&self) -> CliKind {
        self.kind
    }

    /// The program run.
    pub fn program(&self) -> &Path {
        &self.prog.program
    }

    fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The version: podman's client version; docker's *daemon* version (what decides
    /// what `docker load` reads), which also proves the daemon answers.
    pub async fn version(&self) -> Result<String> {
        let args: &[&str] = match self.kind {
            CliKind::Podman => &["version", "--format", "{{.Client.Version}}"],
            CliKind::Docker => &["version", "--format", "{{.Server.Version}}"],
        };
        let out = self.prog.run(args).await?;
        let v = out.text()?.trim().to_owned();
        if v.is_empty() || v.len() > 100 || v.contains('\n') {
            return Err(RuntimeError::BadOutput {
                command: out.command,
                detail: format!("not a version: {v:?}"),
            });
        }
        Ok(v)
    }

    /// Checks that the program runs (and for docker, that the daemon answers).
    pub async fn check_available(&self) -> Result<RuntimeInfo> {
        Ok(RuntimeInfo {
            name: self.name(),
            version: self.version().await?,
        })
    }

    /// Every image named (by tag or digest) in `repository`.
    pub async fn images(&self, repository: &Reference) -> Result<Vec<InstalledImage>> {
        match self.kind {
            CliKind::Podman => self.podman_images(repository).await,
            CliKind::Docker => self.docker_images(repository).await,
        }
    }

    async fn podman_images(&self, repository: &Reference) -> Result<Vec<InstalledImage>> {
        // No reference filter: podman's matches loosely; filter exactly here.
        let out = self.prog.run(&["images", "--format", "json"]).await?;
        podman_list(&out, repository)
    }

    /// The image the tag `reference` names, asking the engine about that one name (one
    /// process, however many images the machine holds): `None` if the tag names nothing.
    pub async fn tagged(&self, reference: &Reference) -> Result<Option<InstalledImage>> {
        let target = tag_target(reference)?;
        let repository = repository_of(reference);
        let images = match self.kind {
            CliKind::Podman => {
                // podman's filter also matches other names of the same image: exact
                // filtering below.
                let filter = format!("reference={target}");
                let out = self
                    .prog
                    .run(&["images", "--format", "json", "--filter", filter.as_str()])
                    .await?;
                podman_list(&out, &repository)?
            }
            CliKind::Docker => match self.prog.run(&["image", "inspect", target.as_str()]).await {
                Ok(out) => docker_list(&out, &repository)?,
                Err(RuntimeError::Failed { stderr, .. }) if stderr.contains("No such image") => {
                    Vec::new()
                }
                Err(e) => return Err(e),
            },
        };
        let tag = reference.tag().unwrap_or_default();
        Ok(images.into_iter().find(|i| i.tags.iter().any(|t| t == tag)))
    }

    async fn docker_images(&self, repository: &Reference) -> Result<Vec<InstalledImage>> {
        let name = repository.name();
        let out = self
            .prog
            .run(&["image", "ls", "--no-trunc", "--quiet", name.as_str()])
            .await?;
        let mut ids: Vec<String> = Vec::new();
        for line in out.text()?.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if !ids.iter().any(|i| i == line) {
                ids.push(line.to_owned());
            }
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec!["image".to_owned(), "inspect".to_owned()];
        args.extend(ids);
        let out = self.prog.run(&args).await?;
        docker_list(&out, repository)
    }

    /// Pulls `reference` by digest and returns the image as the engine now reports it.
    ///
    /// Plain HTTP (`--tls-verify=false` for podman) is used only for hosts the client
    /// reaches over plain HTTP (loopback, or listed as insecure). Docker decides that
    /// in its daemon (`insecure-registries`; loopback is allowed by default). The
    /// engines print their own progress; `progress` receives nothing from them.
    pub async fn pull(
        &self,
        reference: &Reference,
        client: &Client,
        platform: Option<&Platform>,
        _progress: &dyn Progress,
    ) -> Result<InstalledImage> {
        let digest = require_digest(reference)?;
        let pull_ref = reference.with_digest(digest.clone()).to_string();
        let mut args: Vec<String> = vec!["pull".into(), "--quiet".into()];
        if let Some(p) = platform {
            args.push("--platform".into());
            args.push(p.to_string());
        }
        if self.kind == CliKind::Podman && client.is_plain_http(reference.registry()) {
            args.push("--tls-verify=false".into());
        }
        args.push(pull_ref);
        self.prog.run(&args).await?;
        self.find(repository_of(reference), "pull", |i| i.holds(digest))
            .await
            .map_err(|e| e.with_expected(digest.to_string()))
    }

    async fn find(
        &self,
        repository: Reference,
        action: &'static str,
        pred: impl Fn(&InstalledImage) -> bool,
    ) -> Result<InstalledImage, Missing> {
        let images = self.images(&repository).await.map_err(Missing::Error)?;
        match images.iter().find(|i| pred(i)) {
            Some(i) => Ok(i.clone()),
            None => Err(Missing::NotReported {
                runtime: self.name(),
                action,
                repository: repository.name(),
                reported: if images.is_empty() {
                    "nothing".to_owned()
                } else {
                    images
                        .iter()
                        .map(|i| {
                            let d: Vec<Digest> = i.digests.clone();
                            format!("id {} digests [{}]", i.id, join(&d))
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            }),
        }
    }

    /// Loads the image `descriptor` names in `layout` under `target`'s repository.
    ///
    /// - podman: an oci-archive whose one `index.json` entry is named
    ///   `repository@digest`, so the image ends up exactly as after a pull by that
    ///   digest (untagged, pinned); an index is kept as the entry when the chosen
    ///   platform is the host's (podman then records both digests), else the platform
    ///   manifest is (podman loads only the host's platform from an index). Tagged
    ///   afterwards if `target` has a tag.
    /// - docker ≥ 25: an oci-archive named by `io.containerd.image.name`.
    /// - docker < 25: a docker-archive tagged `target`'s tag, or `sha256-<hex>` of the
    ///   manifest digest when it has none. **Docker records no digest for it**: the
    ///   returned image has empty `digests`; its id is checked to be the config the
    ///   verified manifest names.
    pub async fn load_oci_layout(
        &self,
        layout: &OciLayout,
        descriptor: &Descriptor,
        target: &Reference,
        platform: Option<&Platform>,
    ) -> Result<InstalledImage> {
        if let Some(d) = target.digest()
            && d != &descriptor.digest
        {
            return Err(RuntimeError::InvalidArgument(format!(
                "cannot load {} as {target}: the digests differ",
                descriptor.digest
            )));
        }
        let closure = {
            let (layout, descriptor, platform) =
                (layout.clone(), descriptor.clone(), platform.cloned());
            blocking(move || image::resolve(&layout, &descriptor, platform.as_ref())).await?
        };
        let repo = repository_of(target);
        let expected_config = closure.config.digest.clone();
        let loaded = match self.kind {
            CliKind::Podman => {
                let entry = if closure.is_index() && closure.platform.satisfies(&Platform::host()) {
                    Entry::Top
                } else {
                    Entry::Image
                };
                let digest = match entry {
                    Entry::Top => closure.top.digest().clone(),
                    Entry::Image => closure.image.digest().clone(),
                };
                let mut ann = BTreeMap::new();
                ann.insert(
                    ANNOTATION_REF_NAME.to_owned(),
                    repo.with_digest(digest.clone()).to_string(),
                );
                let tar = self
                    .write_archive(layout, &closure, Kind::Oci(entry, ann))
                    .await?;
                self.load_file(&tar).await?;
                let img = self
                    .find(repo.clone(), "load", |i| i.pinned.contains(&digest))
                    .await
                    .map_err(|e| e.with_expected(digest.to_string()))?;
                if target.tag().is_some() {
                    self.tag(&img, target).await?;
                }
                img
            }
            CliKind::Docker => {
                let tag = match target.tag() {
                    Some(t) => t.to_owned(),
                    None => closure.top.digest().tag_form(),
                };
                let tagged = repo
                    .with_tag(&tag)
                    .map_err(|e| RuntimeError::InvalidArgument(e.to_string()))?
                    .to_string();
                let major = docker_major(&self.version().await?);
                let kind = if major >= Some(DOCKER_OCI_LOAD_MAJOR) {
                    let mut ann = BTreeMap::new();
                    ann.insert(ANNOTATION_CONTAINERD_NAME.to_owned(), tagged.clone());
                    ann.insert(ANNOTATION_REF_NAME.to_owned(), tag.clone());
                    Kind::Oci(Entry::Top, ann)
                } else {
                    Kind::Docker(tagged)
                };
                let tar = self.write_archive(layout, &closure, kind).await?;
                self.load_file(&tar).await?;
                self.find(repo.clone(), "load", |i| {
                    i.config_digest().as_ref() == Some(&expected_config) && i.tags.contains(&tag)
                })
                .await
                .map_err(|e| e.with_expected(format!("image id {expected_config}")))?
            }
        };
        if loaded.config_digest().as_ref() != Some(&expected_config) {
            return Err(RuntimeError::WrongImageId {
                runtime: self.name(),
                expected: expected_config,
                actual: loaded.id,
            });
        }
        // Report what the engine says now (tags included).
        self.find(repo, "load", |i| i.id == loaded.id)
            .await
            .map_err(|e| e.with_expected(loaded.id.clone()))
    }

    async fn write_archive(
        &self,
        layout: &OciLayout,
        closure: &Closure,
        kind: Kind,
    ) -> Result<tempfile::TempPath> {
        let dir = self.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
        let (layout, closure) = (layout.clone(), closure.clone());
        blocking(move || {
            let tmp = tempfile::Builder::new()
                .prefix("latch-load-")
                .suffix(".tar")
                .tempfile_in(&dir)
                .map_err(io_err(&dir))?;
            let (file, path) = tmp.into_parts();
            let out = std::io::BufWriter::with_capacity(1 << 20, file);
            let out = match kind {
                Kind::Oci(entry, ann) => {
                    archive::write_oci_archive(&layout, &closure, entry, ann, out)?
                }
                Kind::Docker(tag) => archive::write_docker_archive(&layout, &closure, &tag, out)?,
            };
            out.into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all())
                .map_err(io_err(&path))?;
            Ok(path)
        })
        .await
    }

    async fn load_file(&self, path: &Path) -> Result<()> {
        let args: Vec<OsString> = vec![
            "load".into(),
            "--quiet".into(),
            "--input".into(),
            path.into(),
        ];
        self.prog.run(&args).await?;
        Ok(())
    }

    /// Tags `image` as `target` (a tag, no digest).
    pub async fn tag(&self, image: &InstalledImage, target: &Reference) -> Result<()> {
        let target = tag_target(target)?;
        self.prog
            .run(&["tag", image.id.as_str(), target.as_str()])
            .await?;
        Ok(())
    }

    /// Removes every name `image` has in its repository.
    pub async fn remove(&self, image: &InstalledImage) -> Result<()> {
        let names = names_of(image);
        self.remove_names(names).await
    }

    /// `rmi` of each name, one at a time: docker drops a repository's digest names
    /// along with its last tag, so a name may be gone by the time its turn comes (which
    /// is what was wanted).
    async fn remove_names(&self, names: Vec<String>) -> Result<()> {
        for name in names {
            match self.prog.run(&["rmi", name.as_str()]).await {
                Ok(_) => {}
                Err(RuntimeError::Failed { stderr, .. })
                    if ["No such image", "image not known", "tag not known"]
                        .iter()
                        .any(|s| stderr.contains(s)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Removes every image of `repository` that does not hold `keep`, and the other
    /// digest names of the one that does.
    pub async fn remove_others(
        &self,
        repository: &Reference,
        keep: &Digest,
    ) -> Result<Vec<InstalledImage>> {
        let mut removed = Vec::new();
        for img in self.images(repository).await? {
            if img.holds(keep) {
                // Untag its other digests, unless that would leave it nameless (podman
                // deletes an image when its last name goes).
                if !img.pinned.contains(keep) && img.tags.is_empty() {
                    continue;
                }
                let names: Vec<String> = img
                    .pinned
                    .iter()
                    .filter(|d| *d != keep)
                    .map(|d| format!("{}@{d}", img.repository))
                    .collect();
                if !names.is_empty() {
                    self.remove_names(names).await?;
                    removed.push(img);
                }
            } else {
                self.remove(&img).await?;
                removed.push(img);
            }
        }
        Ok(removed)
    }
}

enum Kind {
    Oci(Entry, BTreeMap<String, String>),
    Docker(String),
}

/// An image was not found after a pull or load, or listing failed.
enum Missing {
    Error(RuntimeError),
    NotReported {
        runtime: &'static str,
        action: &'static str,
        repository: String,
        reported: String,
    },
}

impl Missing {
    fn with_expected(self, expected: String) -> RuntimeError {
        match self {
            Missing::Error(e) => e,
            Missing::NotReported {
                runtime,
                action,
                repository,
                reported,
            } => RuntimeError::NotReported {
                runtime,
                action,
                repository,
                expected,
                reported,
            },
        }
    }
}

/// The image's names in its repository: digest names first (removing a repository's
/// last tag makes docker drop its digest names too).
fn names_of(image: &InstalledImage) -> Vec<String> {
    image
        .pinned
        .iter()
        .map(|d| format!("{}@{d}", image.repository))
        .chain(
            image
                .tags
                .iter()
                .map(|t| format!("{}:{t}", image.repository)),
        )
        .collect()
}

pub(crate) fn require_digest(reference: &Reference) -> Result<&Digest> {
    reference.digest().ok_or_else(|| {
        RuntimeError::InvalidArgument(format!(
            "{reference} has no digest: runtimes pull by digest only (resolve the tag first)"
        ))
    })
}

/// The repository alone (no tag, no digest).
pub(crate) fn repository_of(reference: &Reference) -> Reference {
    // `name()` of a valid reference parses again; fall back to the reference as is.
    Reference::parse(&reference.name()).unwrap_or_else(|_| reference.clone())
}

pub(crate) fn tag_target(target: &Reference) -> Result<String> {
    match (target.tag(), target.digest()) {
        (Some(_), None) => Ok(target.to_string()),
        _ => Err(RuntimeError::InvalidArgument(format!(
            "cannot tag as {target}: the target needs a tag and no digest"
        ))),
    }
}

/// The major version of a docker engine version string (`20.10.24+dfsg1` → 20).
pub(crate) fn docker_major(version: &str) -> Option<u32> {
    version
        .trim()
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .next()?
        .parse()
        .ok()
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RuntimeError::Task(e.to_string()))?
}

/// Parses `name@digest` or `name:tag` as the engines print them; `None` for `<none>`
/// and other junk.
fn parse_name(name: &str) -> Option<Reference> {
    Reference::parse(name).ok()
}

/// `podman images --format json`, seen from `repository`, each image once.
fn podman_list(out: &Output, repository: &Reference) -> Result<Vec<InstalledImage>> {
    let list: Vec<PodmanImage> =
        serde_json::from_slice(&out.stdout).map_err(|e| RuntimeError::BadOutput {
            command: out.command.clone(),
            detail: format!("not the JSON image list expected: {e}"),
        })?;
    let mut seen = std::collections::HashSet::new();
    let mut images = Vec::new();
    for p in list {
        // podman 4.3 lists an image once per repository it is named in.
        if !seen.insert(p.id.clone()) {
            continue;
        }
        if let Some(img) = p.in_repository(repository) {
            images.push(img);
        }
    }
    Ok(images)
}

/// `docker image inspect` output, seen from `repository`.
fn docker_list(out: &Output, repository: &Reference) -> Result<Vec<InstalledImage>> {
    let list: Vec<DockerImage> =
        serde_json::from_slice(&out.stdout).map_err(|e| RuntimeError::BadOutput {
            command: out.command.clone(),
            detail: format!("not the JSON `image inspect` output expected: {e}"),
        })?;
    Ok(list
        .into_iter()
        .filter_map(|d| d.in_repository(repository))
        .collect())
}

/// One entry of `podman images --format json` (podman 4.x).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PodmanImage {
    id: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
    #[serde(default)]
    names: Option<Vec<String>>,
}

impl PodmanImage {
    fn in_repository(&self, repository: &Reference) -> Option<InstalledImage> {
        let mut tags = Vec::new();
        let mut pinned = Vec::new();
        for n in self.names.iter().flatten().filter_map(|n| parse_name(n)) {
            if !n.same_repository(repository) {
                continue;
            }
            if let Some(d) = n.digest() {
                push_unique(&mut pinned, d.clone());
            } else if let Some(t) = n.tag() {
                push_unique(&mut tags, t.to_owned());
            }
        }
        let repo_digests: Vec<Reference> = self
            .repo_digests
            .iter()
            .flatten()
            .filter_map(|n| parse_name(n))
            .collect();
        let named_here = !tags.is_empty()
            || !pinned.is_empty()
            || repo_digests.iter().any(|r| r.same_repository(repository));
        if !named_here {
            return None;
        }
        let mut digests = Vec::new();
        if let Some(d) = self.digest.as_deref().and_then(|d| Digest::parse(d).ok()) {
            digests.push(d);
        }
        for d in repo_digests.iter().filter_map(Reference::digest) {
            push_unique(&mut digests, d.clone());
        }
        for d in &pinned {
            push_unique(&mut digests, d.clone());
        }
        Some(InstalledImage {
            id: self.id.clone(),
            repository: repository.name(),
            digests,
            pinned,
            tags,
        })
    }
}

/// One entry of `docker image inspect`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerImage {
    id: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
}

impl DockerImage {
    fn in_repository(&self, repository: &Reference) -> Option<InstalledImage> {
        let tags: Vec<String> = self
            .repo_tags
            .iter()
            .flatten()
            .filter_map(|n| parse_name(n))
            .filter(|r| r.same_repository(repository))
            .filter_map(|r| r.tag().map(str::to_owned))
            .collect();
        let mut pinned = Vec::new();
        for r in self
            .repo_digests
            .iter()
            .flatten()
            .filter_map(|n| parse_name(n))
        {
            if r.same_repository(repository)
                && let Some(d) = r.digest()
            {
                push_unique(&mut pinned, d.clone());
            }
        }
        if tags.is_empty() && pinned.is_empty() {
            return None;
        }
        Some(InstalledImage {
            id: self.id.clone(),
            repository: repository.name(),
            digests: pinned.clone(),
            pinned,
            tags,
        })
    }
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:3bc9fcc1d609a195dfd872cb9ecc53dc1325f39927906523d00712ac61d90b48";
    const B: &str = "sha256:70f2a845041961dd6e73eceb530a19d5d75af375153036bd156816ca7e55dd24";
    const ID: &str = "25ec1b42a297bea1c9fececfa1136bb270188b43fd444a24bcf07da69bd161e9";

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn podman_listing_as_seen_after_pulls() {
        // Real `podman images --format json` output (podman 4.3.1): the multi-arch image
        // pulled by index digest A into app/multi, tagged v1, and the same config pulled
        // by platform digest B into app/single:latest. Listed once per repository.
        let json = format!(
            r#"[{{"Id":"{ID}","Digest":"{A}","RepoDigests":["127.0.0.1:5911/app/multi@{A}","127.0.0.1:5911/app/multi@{B}","127.0.0.1:5911/app/single@{A}","127.0.0.1:5911/app/single@{B}"],"Names":["127.0.0.1:5911/app/single:latest","127.0.0.1:5911/app/multi@{A}","127.0.0.1:5911/app/multi:v1"],"RepoTags":null}}]"#
        );
        let list: Vec<PodmanImage> = serde_json::from_str(&json).unwrap();
        let multi = list[0]
            .in_repository(&r("127.0.0.1:5911/app/multi"))
            .unwrap();
        assert_eq!(
            multi.digests,
            vec![A.parse().unwrap(), B.parse::<Digest>().unwrap()]
        );
        assert_eq!(multi.pinned, vec![A.parse::<Digest>().unwrap()]);
        assert_eq!(multi.tags, vec!["v1".to_owned()]);
        assert_eq!(multi.digest().unwrap().to_string(), A);
        let single = list[0]
            .in_repository(&r("127.0.0.1:5911/app/single:x"))
            .unwrap();
        assert!(single.pinned.is_empty());
        assert_eq!(single.tags, vec!["latest".to_owned()]);
        // podman's "Digest" (A, the index of another repository) is what it reports.
        assert_eq!(single.digest().unwrap().to_string(), A);
        assert!(
            list[0]
                .in_repository(&r("127.0.0.1:5911/app/other"))
                .is_none()
        );
        assert!(
            list[0]
                .in_repository(&r("127.0.0.1:5912/app/multi"))
                .is_none()
        );
    }

    #[test]
    fn docker_inspect_as_seen() {
        // docker 20.10: one image id referenced from two repositories.
        let json = format!(
            r#"[{{"Id":"sha256:{ID}","RepoTags":["127.0.0.1:5911/app/single:latest"],"RepoDigests":["127.0.0.1:5911/app/multi@{A}","127.0.0.1:5911/app/single@{B}"]}}]"#
        );
        let list: Vec<DockerImage> = serde_json::from_str(&json).unwrap();
        let multi = list[0]
            .in_repository(&r("127.0.0.1:5911/app/multi"))
            .unwrap();
        assert_eq!(multi.digests, vec![A.parse::<Digest>().unwrap()]);
        assert!(multi.tags.is_empty());
        assert_eq!(multi.config_digest().unwrap().hex(), ID);
        let single = list[0]
            .in_repository(&r("127.0.0.1:5911/app/single"))
            .unwrap();
        assert_eq!(single.pinned, vec![B.parse::<Digest>().unwrap()]);
        assert_eq!(single.tags, vec!["latest".to_owned()]);
        // Docker Hub's familiar names are normalised.
        let json = format!(
            r#"[{{"Id":"sha256:{ID}","RepoTags":["debian:12"],"RepoDigests":["debian@{A}"]}}]"#
        );
        let list: Vec<DockerImage> = serde_json::from_str(&json).unwrap();
        let deb = list[0]
            .in_repository(&r("docker.io/library/debian"))
            .unwrap();
        assert_eq!(deb.repository, "docker.io/library/debian");
        assert_eq!(deb.tags, vec!["12".to_owned()]);
        // A docker-archive load: no digest at all.
        let json = format!(r#"[{{"Id":"sha256:{ID}","RepoTags":["x.io/a:t"],"RepoDigests":[]}}]"#);
        let list: Vec<DockerImage> = serde_json::from_str(&json).unwrap();
        let loaded = list[0].in_repository(&r("x.io/a")).unwrap();
        assert!(loaded.digests.is_empty());
        assert!(matches!(
            loaded.digest(),
            Err(RuntimeError::NoDigest { .. })
        ));
    }

    #[test]
    fn helpers() {
        assert_eq!(docker_major("20.10.24+dfsg1"), Some(20));
        assert_eq!(docker_major("25.0.3"), Some(25));
        assert_eq!(docker_major("28.2.2-1"), Some(28));
        assert_eq!(docker_major("dev"), None);
        assert_eq!(
            repository_of(&r(&format!("a.io/x:t@{A}"))).to_string(),
            "a.io/x"
        );
        assert!(tag_target(&r("a.io/x")).is_err());
        assert!(tag_target(&r(&format!("a.io/x:t@{A}"))).is_err());
        assert_eq!(tag_target(&r("a.io/x:t")).unwrap(), "a.io/x:t");
        let img = InstalledImage {
            id: ID.into(),
            repository: "a.io/x".into(),
            digests: vec![],
            pinned: vec![A.parse().unwrap()],
            tags: vec!["t".into()],
        };
        assert_eq!(
            names_of(&img),
            vec![format!("a.io/x@{A}"), "a.io/x:t".to_owned()]
        );
    }
}
