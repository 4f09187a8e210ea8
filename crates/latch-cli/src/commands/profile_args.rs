//! The profile and the flags that override it, shared by the updater commands.

use std::path::PathBuf;

use latch::trust::TlogMode;
use latch::{Overrides, Profile, Updater};

use crate::GlobalArgs;
use crate::output::AnyError;

/// Which image, trusted how, installed where. A profile file gives them all; every
/// setting can also be a flag, so a script needs no file.
#[derive(clap::Args, Debug, Clone)]
pub struct ProfileArgs {
    /// A profile (TOML file), or `demo` for the embedded demo.
    #[arg(long, env = "LATCH_PROFILE", value_name = "FILE|demo")]
    pub profile: Option<String>,
    /// The image and the tag to follow, e.g. ghcr.io/org/app:latest.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// A trusted public key (PEM). Repeatable; replaces the profile's keys.
    #[arg(long = "key", value_name = "PEM")]
    pub keys: Vec<PathBuf>,
    /// How many distinct keys must have signed.
    #[arg(long, value_name = "K")]
    pub threshold: Option<usize>,
    /// A pinned Rekor public key. Repeatable; replaces the profile's.
    #[arg(long = "rekor-key", value_name = "PEM")]
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
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// Where signatures and state live (default: the platform's data directory).
    #[arg(long, env = "LATCH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Platform to install from a multi-platform image (default: this machine's).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Take updates from this OCI layout directory (a mirror, e.g. on a USB stick)
    /// instead of the registry; verified the same way.
    #[arg(long, value_name = "DIR")]
    pub source_layout: Option<PathBuf>,
    /// An air-gap archive shipped with the application ("full" packages), installed by
    /// `latch install` when it is newer than what is installed.
    #[arg(long, value_name = "FILE")]
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
        Ok(match self.profile.as_deref() {
            Some("demo") => latch::demo::profile(o)?,
            Some(path) => Profile::from_file(std::path::Path::new(path), o)?,
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
