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
        Ok(Updater::with_client_options(self.profile()?, opts)?)
    }
}
