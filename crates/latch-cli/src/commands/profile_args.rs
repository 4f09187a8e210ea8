//! The profile and the flags that override it, shared by the updater commands.

use std::path::PathBuf;

use clap::builder::{PathBufValueParser, TypedValueParser};
use latch::trust::TlogMode;
use latch::{Overrides, Profile, Updater};

use crate::GlobalArgs;
use crate::output::AnyError;

/// The value parser of every path flag (and of path flags' environment variables): a
/// relative path is relative to the current directory, and is made absolute here, once,
/// when parsed ([`latch::profile::absolute`]), so that no later join can give it a second
/// base. Empty paths are refused.
pub fn path_arg() -> impl TypedValueParser<Value = PathBuf> {
    PathBufValueParser::new().try_map(|p| latch::profile::absolute(&p))
}

/// `--runtime`: `store:DIR` with DIR made absolute like [`path_arg`].
fn runtime_arg(s: &str) -> Result<String, latch::Error> {
    latch::profile::absolute_runtime(s)
}

/// `--profile`: the embedded demo, or a profile file (absolute, like [`path_arg`]; its own
/// relative paths are relative to its folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileChoice {
    /// `demo`.
    Demo,
    /// A TOML file.
    File(PathBuf),
}

fn profile_arg() -> impl TypedValueParser<Value = ProfileChoice> {
    PathBufValueParser::new().try_map(|p| {
        if p.as_os_str() == "demo" {
            Ok(ProfileChoice::Demo)
        } else {
            latch::profile::absolute(&p).map(ProfileChoice::File)
        }
    })
}

/// Which image, trusted how, installed where. A profile file gives them all; every
/// setting can also be a flag, so a script needs no file. A flag's relative path is
/// relative to the current directory; a profile file's, to the file's folder.
#[derive(clap::Args, Debug, Clone)]
pub struct ProfileArgs {
    /// A profile (TOML file), or `demo` for the embedded demo.
    #[arg(long, env = "LATCH_PROFILE", value_name = "FILE|demo", value_parser = profile_arg())]
    pub profile: Option<ProfileChoice>,
    /// The image and the tag to follow, e.g. ghcr.io/org/app:latest.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// A trusted public key (PEM). Repeatable; replaces the profile's keys.
    #[arg(long = "key", value_name = "PEM", value_parser = path_arg())]
    pub keys: Vec<PathBuf>,
    /// How many distinct keys must have signed.
    #[arg(long, value_name = "K")]
    pub threshold: Option<usize>,
    /// A pinned Rekor public key. Repeatable; replaces the profile's.
    #[arg(long = "rekor-key", value_name = "PEM", value_parser = path_arg())]
    pub rekor_keys: Vec<PathBuf>,
    /// Transparency-log policy: required, optional or ignored.
    #[arg(long, value_name = "MODE")]
    pub tlog: Option<TlogMode>,
    /// The repository signatures must name (default: the image's).
    #[arg(long, value_name = "REPO")]
    pub repository: Option<String>,
    /// Lowest acceptable log index (what this release of the application knows).
    #[arg(long, value_name = "INDEX")]
    pub rollback_floor: Option<u64>,
    /// Newest signature older than this is reported as a possible freeze attack (e.g. 30d).
    #[arg(long, value_name = "AGE")]
    pub max_signature_age: Option<String>,
    /// Where images go: podman, docker, or store:DIR (Latch's own store).
    #[arg(long, value_name = "RUNTIME", value_parser = runtime_arg)]
    pub runtime: Option<String>,
    /// Where signatures and state live (default: the platform's data directory).
    #[arg(long, env = "LATCH_DATA_DIR", value_name = "DIR", value_parser = path_arg())]
    pub data_dir: Option<PathBuf>,
    /// Platform to install from a multi-platform image (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Take updates from this OCI layout directory (a mirror, e.g. on a USB stick)
    /// instead of the registry; verified the same way.
    #[arg(long, value_name = "DIR", value_parser = path_arg())]
    pub source_layout: Option<PathBuf>,
    /// An air-gap archive shipped with the application ("full" packages), installed by
    /// `latch install` when it is newer than what is installed.
    #[arg(long, value_name = "FILE", value_parser = path_arg())]
    pub bundled_archive: Option<PathBuf>,
    /// A command run on a new image before it replaces the old one, split on spaces;
    /// `{image}` is replaced by the image to run (also in $LATCH_IMAGE, the digest in
    /// $LATCH_DIGEST). On failure the new image is removed and the old one stays. E.g.
    /// "podman run --rm --network=none {image} true". Replaces the profile's.
    #[arg(long, value_name = "CMD")]
    pub health_check: Option<String>,
    /// How long the health check may take (default 2m).
    #[arg(long, value_name = "DURATION")]
    pub health_timeout: Option<String>,
    /// A registry repository (host/path; the profile's tag is followed) or OCI layout
    /// (oci:DIR) holding the same image, tried in order when the registry is
    /// unreachable, refuses or stalls. Signatures must still name the profile's
    /// repository. Repeatable; replaces the profile's mirrors.
    #[arg(long = "mirror", value_name = "REPO|oci:DIR")]
    pub mirrors: Vec<String>,
    /// Install a newer image only once its newest signature was logged this long ago,
    /// by the log's clock (e.g. 2d): time to revoke a stolen key. Replaces the profile's.
    #[arg(long, value_name = "AGE")]
    pub min_age: Option<String>,
    /// Require SLSA provenance on top of the signatures: built from this GitHub
    /// repository (OWNER/REPO). Replaces the profile's [provenance]; needs
    /// --provenance-workflow.
    #[arg(long, value_name = "OWNER/REPO", requires = "provenance_workflow")]
    pub provenance_repository: Option<String>,
    /// The workflow that built it (.github/workflows/release.yml).
    #[arg(long, value_name = "PATH", requires = "provenance_repository")]
    pub provenance_workflow: Option<String>,
    /// A ref the build may have run on, exactly (refs/heads/main). Repeatable.
    #[arg(long, value_name = "REF", requires = "provenance_repository")]
    pub provenance_ref: Vec<String>,
    /// A regular expression the whole ref may match instead (refs/tags/v[0-9.]+).
    #[arg(long, value_name = "REGEX", requires = "provenance_repository")]
    pub provenance_ref_pattern: Option<String>,
    /// A regular expression over the whole builder ID (default: GitHub's runners for
    /// SLSA v1, slsa-github-generator's container builder for v0.2).
    #[arg(long, value_name = "REGEX", requires = "provenance_repository")]
    pub provenance_builder: Option<String>,
    /// The Sigstore trusted_root.json the workflow's certificate chains to (default:
    /// the profile's, else the public-good root built in).
    #[arg(long, value_name = "FILE", value_parser = path_arg(), requires = "provenance_repository")]
    pub provenance_trusted_root: Option<PathBuf>,
    /// The OIDC issuer of the workflow's certificate (default: GitHub Actions').
    #[arg(long, value_name = "URL", requires = "provenance_repository")]
    pub provenance_issuer: Option<String>,
}

impl ProfileArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            image: self.image.clone(),
            keys: self.keys.clone(),
            threshold: self.threshold,
            rekor_keys: self.rekor_keys.clone(),
            tlog: self.tlog,
            repository: self.repository.clone(),
            rollback_floor: self.rollback_floor,
            max_signature_age: self.max_signature_age.clone(),
            runtime: self.runtime.clone(),
            data_dir: self.data_dir.clone(),
            platform: self.platform.clone(),
            source_layout: self.source_layout.clone(),
            bundled_archive: self.bundled_archive.clone(),
            health_check: self
                .health_check
                .as_ref()
                .map(|c| c.split_whitespace().map(str::to_owned).collect()),
            health_timeout: self.health_timeout.clone(),
            min_age: self.min_age.clone(),
            mirrors: self.mirrors.clone(),
            provenance: self.provenance_repository.as_ref().map(|repository| {
                latch::profile::ProvenanceSection {
                    repository: repository.clone(),
                    workflow: self.provenance_workflow.clone().unwrap_or_default(),
                    refs: self.provenance_ref.clone(),
                    ref_pattern: self.provenance_ref_pattern.clone(),
                    builder_id: self.provenance_builder.clone(),
                    trusted_root: self
                        .provenance_trusted_root
                        .as_ref()
                        .map(|p| p.display().to_string()),
                    issuer: self.provenance_issuer.clone(),
                }
            }),
        }
    }

    /// The profile in force.
    pub fn profile(&self) -> Result<Profile, AnyError> {
        let o = self.overrides();
        Ok(match &self.profile {
            Some(ProfileChoice::Demo) => latch::demo::profile(o)?,
            Some(ProfileChoice::File(path)) => Profile::from_file(path, o)?,
            None => Profile::from_overrides(o)?,
        })
    }

    /// An updater for the profile in force.
    pub fn updater(&self, global: &GlobalArgs) -> Result<Updater, AnyError> {
        let mut opts = latch::registry::ClientOptions::from_env();
        opts.insecure_registries
            .extend(global.insecure_registries.iter().cloned());
        Ok(Updater::with_client_options(self.profile()?, opts)?.on_warning(crate::output::warn))
    }
}
