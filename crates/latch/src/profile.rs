//! Profiles: everything an application decides about its image, in one TOML file (or the
//! same settings given in code or as command-line flags).
//!
//! ```toml
//! name = "dangerzone"
//! image = "ghcr.io/freedomofpress/dangerzone/v1:latest"
//! runtime = "podman"                       # podman | docker | store:DIR
//! data_dir = "~/.local/share/dangerzone"   # default: $LATCH_DATA_DIR, else <data dir>/latch/<name>
//! # run on a new image before it replaces the old one; on failure the old one stays:
//! # health_check = ["podman", "run", "--rm", "--network=none", "{image}", "true"]
//! # health_timeout = "2m"
//! # min_age = "2d"   # install a new image only once its newest signature was logged 2 days ago
//!
//! [source]
//! # layout = "/media/usb/mirror"          # an OCI layout used as a mirror instead of the registry
//! # mirrors = ["mirror.example.org/dangerzone/v1", "oci:/media/usb/mirror"]  # tried in order
//! #                                       # when the registry is unreachable, refuses or stalls
//!
//! [trust]
//! keys = ["freedomofpress-dangerzone.pub"] # paths (relative to this file) or inline PEM
//! # keyless signers (Sigstore bundles), beside the keys or instead of them:
//! # identities = [{ issuer = "https://github.com/login/oauth", san = "maintainer@example.org" }]
//! # trusted_root = "trusted_root.json"   # the identities' Sigstore root, pinned (default: the
//! #                                      # public-good one, kept current over TUF)
//! # tuf_url = "https://tuf.example.org"  # keep it current from this TUF repository instead
//! # tuf_root = "tuf-root.json"           #   and its initial root.json (trusted_root, if given,
//! #                                      #   is used until the repository is first read)
//! # refresh_trusted_root = false         # use the built-in public-good root, never refreshed
//! threshold = 1
//! rekor_keys = ["rekor.pub"]               # without them, tlog = "required" takes the logs
//!                                          # of trusted_root, each key within its validFor
//! tlog = "required"                        # required | optional | ignored
//! repository = "ghcr.io/freedomofpress/dangerzone/v1"  # default: the image's
//! rollback_floor = 168898587               # the last log index this app release knows
//! version_annotation = "org.opencontainers.image.version"  # ratchet on a signed version too
//! max_signature_age = "30d"                # older than this: a possible freeze attack
//! follow_rotations = true                  # follow the releasers' trust documents (docs/trust-rotation.md)
//!
//! # [provenance]                          # SLSA provenance required on top of the signatures
//! # repository = "freedomofpress/dangerzone-image"   # OWNER/REPO that built it
//! # workflow = ".github/workflows/release.yml"       # the workflow that ran
//! # refs = ["refs/heads/main"]           # allowed refs, exactly (and/or ref_pattern)
//! # ref_pattern = "refs/tags/v[0-9.]+"   # a regular expression over the whole ref
//! # builder_id = "https://github\\.com/actions/runner/.+"  # default: GitHub's runners (v1),
//! #                                      # slsa-github-generator's container builder (v0.2)
//! # trusted_root = "trusted_root.json"   # default: [trust] trusted_root, else public-good
//! # issuer = "https://token.actions.githubusercontent.com"  # the default
//!
//! [updates]
//! enabled = false                          # checks are opt-in
//! cooldown = "12h"
//! jitter = "1h"
//! ```
//!
//! Relative paths mean one thing, decided once, when the profile is resolved: a path
//! written in a profile file (`data_dir`, `runtime = "store:DIR"`, `[source] layout` and
//! `archive`, `[trust] keys`, `rekor_keys`, `trusted_root`, `tuf_root`) is relative to the folder of
//! the profile file (`~/` is the home directory); a path given on the command line or in
//! code ([`Overrides`]) is relative to the current directory. Every path of a resolved
//! [`Profile`] is absolute, so nothing joins it to a base again ([`resolve_path`] is the
//! one rule, [`absolute`] the current-directory case).

use std::path::{Path, PathBuf};
use std::time::Duration;

use latch_oci::{Platform, Reference};
use latch_trust::TlogMode;
use serde::Deserialize;

use latch_oci::parse_duration;

use crate::error::{Error, Result};
use crate::trust::{KeySource, ProvenanceSpec, RootChoice, TrustSpec};

/// Bound on a profile file.
const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

/// The profile file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    /// A name for messages and the default data directory.
    pub name: Option<String>,
    /// The image, with the tag to follow.
    pub image: Option<String>,
    /// The platform to install from a multi-platform image (default: this machine's).
    pub platform: Option<String>,
    /// `podman`, `docker` or `store:DIR`.
    pub runtime: Option<String>,
    /// Where signatures and state live.
    pub data_dir: Option<String>,
    /// A command run on a new image before it replaces the old one (an argv; `{image}`
    /// is replaced by the image to run).
    pub health_check: Option<Vec<String>>,
    /// How long the health check may take (default 2m).
    pub health_timeout: Option<String>,
    /// A newer image is installed only once its newest signature was logged this long
    /// ago (e.g. `2d`).
    pub min_age: Option<String>,
    /// Where updates come from.
    #[serde(default)]
    pub source: SourceSection,
    /// Who must have signed.
    #[serde(default)]
    pub trust: TrustSection,
    /// The SLSA provenance required on top of the signatures.
    pub provenance: Option<ProvenanceSection>,
    /// Update checks.
    #[serde(default)]
    pub updates: UpdatesSection,
}

/// `[source]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// An OCI layout directory used as a mirror (a USB stick), verified the same way.
    pub layout: Option<String>,
    /// A bundled archive shipped with the application (air gap, "full" packages).
    pub archive: Option<String>,
    /// Registries (`host/path`, the profile's tag followed) or OCI layouts (`oci:DIR`, or
    /// a path) holding the same repository, tried in order when the primary is
    /// unreachable, refuses, or stalls. Signatures must still name the profile's
    /// repository.
    #[serde(default)]
    pub mirrors: Vec<String>,
}

/// Where else the followed image may be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// A registry repository (with the profile's tag).
    Registry(Reference),
    /// An OCI layout directory.
    Layout(PathBuf),
}

impl std::fmt::Display for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mirror::Registry(r) => write!(f, "{r}"),
            Mirror::Layout(p) => write!(f, "oci:{}", p.display()),
        }
    }
}

/// A mirror as written: `oci:DIR` or a path (`/…`, `./…`, `../…`, `~/…`, and on
/// Windows `C:\…`, `.\…`, `..\…`) is a layout (resolved by `path`); anything else a
/// registry repository, given the image's tag.
fn mirror(s: &str, image: &Reference, path: impl Fn(&str) -> Result<PathBuf>) -> Result<Mirror> {
    let s = s.trim();
    if let Some(dir) = s.strip_prefix("oci:") {
        return Ok(Mirror::Layout(path(dir)?));
    }
    let windows_path = cfg!(windows)
        && (Path::new(s).is_absolute() || [".\\", "..\\"].iter().any(|p| s.starts_with(p)));
    if windows_path || ["/", "./", "../", "~/"].iter().any(|p| s.starts_with(p)) {
        return Ok(Mirror::Layout(path(s)?));
    }
    let r = Reference::parse(s).map_err(|e| Error::Profile(format!("mirror {s:?}: {e}")))?;
    if r.digest().is_some() || r.tag().is_some() {
        return Err(Error::Profile(format!(
            "mirror {s:?}: give the repository only; the profile's tag is followed"
        )));
    }
    Ok(Mirror::Registry(
        r.with_tag(image.tag().unwrap_or("latest"))?,
    ))
}

/// `[trust]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSection {
    /// Trusted keys: paths or inline PEM.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Distinct keys that must have signed.
    pub threshold: Option<usize>,
    /// Pinned Rekor keys: paths or inline PEM.
    #[serde(default)]
    pub rekor_keys: Vec<String>,
    /// `required`, `optional` or `ignored`.
    pub tlog: Option<String>,
    /// The repository signatures must name.
    pub repository: Option<String>,
    /// The lowest acceptable log index (the one this application release shipped with).
    pub rollback_floor: Option<u64>,
    /// A key of the payload's `optional` section holding a signed version to ratchet on.
    pub version_annotation: Option<String>,
    /// Maximum age of the newest signature of `latest` before it is reported as a
    /// possible freeze attack.
    pub max_signature_age: Option<String>,
    /// Follow the trust documents the keys publish beside the image (key rotation and
    /// revocation, docs/trust-rotation.md); default true.
    pub follow_rotations: Option<bool>,
    /// Trusted keyless signers (Fulcio certificates in Sigstore bundles).
    #[serde(default)]
    pub identities: Vec<IdentitySpec>,
    /// The Sigstore trusted root (`trusted_root.json`) identities chain to, and whose
    /// logs vouch for key signatures when `tlog` is required or optional and no
    /// `rekor_keys` are pinned (each log key only within its `validFor` window); default:
    /// the public-good root kept current over Sigstore's TUF repository. A file given
    /// here alone is pinned, never fetched; with `tuf_url`, it is the root used until the
    /// repository is first read.
    pub trusted_root: Option<String>,
    /// Keep the trusted root current from this TUF repository (a private Sigstore's)
    /// instead of the public-good one; needs `tuf_root`.
    pub tuf_url: Option<String>,
    /// The repository's initial TUF `root.json` (a path), shipped with the application.
    pub tuf_root: Option<String>,
    /// `false`: use the public-good root built into Latch as it is, never refreshed
    /// (default true: `check` and `upgrade` refresh it over TUF).
    pub refresh_trusted_root: Option<bool>,
}

/// `[provenance]`: the SLSA provenance an image must have on top of its signatures (a
/// GitHub Actions workflow's attestation for the same digest).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceSection {
    /// The source repository, `OWNER/REPO`.
    pub repository: String,
    /// The workflow file that built it (`.github/workflows/release.yml`).
    pub workflow: String,
    /// The refs the build may have run on, exactly.
    #[serde(default)]
    pub refs: Vec<String>,
    /// A regular expression over the whole ref (anchored), beside or instead of `refs`.
    pub ref_pattern: Option<String>,
    /// A regular expression over the whole builder ID (default: GitHub's runners for
    /// SLSA v1, slsa-github-generator's container builder for v0.2).
    pub builder_id: Option<String>,
    /// The Sigstore root the workflow's certificate chains to (default: `[trust]
    /// trusted_root`, else the public-good root built in).
    pub trusted_root: Option<String>,
    /// The OIDC issuer of the workflow's certificate (default: GitHub Actions',
    /// `https://token.actions.githubusercontent.com`).
    pub issuer: Option<String>,
}

impl ProvenanceSection {
    /// The policies (one per allowed ref, one for the pattern; one allowing any ref when
    /// neither is given).
    pub fn policies(&self) -> Result<Vec<latch_sigstore::provenance::ProvenancePolicy>> {
        use latch_sigstore::provenance::ProvenancePolicy;
        let bad = |e: latch_sigstore::Error| Error::Profile(format!("[provenance]: {e}"));
        let new = |r: Option<&str>| {
            let p = ProvenancePolicy::new(
                &self.repository,
                &self.workflow,
                r,
                self.builder_id.as_deref(),
            )
            .map_err(bad)?;
            match &self.issuer {
                Some(i) => p.with_issuer(i).map_err(bad),
                None => Ok(p),
            }
        };
        let mut out = Vec::new();
        for r in &self.refs {
            out.push(new(Some(r))?);
        }
        if let Some(p) = &self.ref_pattern {
            out.push(new(None)?.with_ref_pattern(p).map_err(bad)?);
        }
        if out.is_empty() {
            out.push(new(None)?);
        }
        Ok(out)
    }
}

/// One trusted keyless signer, as written under `[trust] identities`: the OIDC issuer and
/// the SAN (exact, or `san_regex` over the whole SAN), and optionally the GitHub claims
/// Fulcio records (`repository` as `owner/repo`, `ref`, `workflow` path, `trigger`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    /// The OIDC issuer, exactly.
    pub issuer: String,
    /// The SAN (an email address or a URI), exactly.
    pub san: Option<String>,
    /// A regular expression over the whole SAN.
    pub san_regex: Option<String>,
    /// GitHub: `owner/repo`.
    pub repository: Option<String>,
    /// GitHub: the ref (`refs/heads/main`).
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// GitHub: the workflow file (`.github/workflows/release.yml`).
    pub workflow: Option<String>,
    /// GitHub: the triggering event (`push`, `release`…).
    pub trigger: Option<String>,
}

impl IdentitySpec {
    /// The identity policy this describes.
    pub fn policy(&self) -> Result<latch_sigstore::IdentityPolicy> {
        let san = match (&self.san, &self.san_regex) {
            (Some(s), None) => latch_sigstore::SanMatcher::exact(s.clone()),
            (None, Some(r)) => latch_sigstore::SanMatcher::regex(r)?,
            _ => {
                return Err(Error::Profile(format!(
                    "identity with issuer {}: give exactly one of san and san_regex",
                    self.issuer
                )));
            }
        };
        let mut p = latch_sigstore::IdentityPolicy::new(self.issuer.clone(), san);
        p.github = latch_sigstore::GithubClaims {
            repository: self.repository.clone(),
            git_ref: self.git_ref.clone(),
            workflow: self.workflow.clone(),
            trigger: self.trigger.clone(),
        };
        Ok(p)
    }
}

/// `[updates]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatesSection {
    /// Whether checks are on before the user chose (default: off).
    pub enabled: Option<bool>,
    /// Time between automatic checks (default 12h).
    pub cooldown: Option<String>,
    /// Random extra delay added to each cooldown (default 1h), so installs do not
    /// synchronise.
    pub jitter: Option<String>,
}

/// Where updates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The image's registry.
    Registry,
    /// An OCI layout mirror.
    Layout(PathBuf),
}

/// A profile with every setting resolved.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Name.
    pub name: String,
    /// The image and the tag to follow.
    pub image: Reference,
    /// The platform to install.
    pub platform: Platform,
    /// `podman`, `docker` or `store:DIR`.
    pub runtime: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Where updates come from.
    pub source: Source,
    /// A bundled archive shipped with the application.
    pub bundled_archive: Option<PathBuf>,
    /// The trust (keys, identities, threshold, log, root, repository), before files are
    /// read.
    pub trust: TrustSpec,
    /// Lowest acceptable log index.
    pub rollback_floor: Option<u64>,
    /// Signed-version annotation to ratchet on.
    pub version_annotation: Option<String>,
    /// Freeze threshold.
    pub max_signature_age: Option<Duration>,
    /// Whether the trust documents beside the image are followed (key rotation).
    pub follow_rotations: bool,
    /// Checks on before the user chose.
    pub updates_default: bool,
    /// Time between automatic checks.
    pub cooldown: Duration,
    /// Random extra delay.
    pub jitter: Duration,
    /// The health check a new image must pass before it replaces the old one.
    pub health_check: Option<crate::flows::health::HealthCheck>,
    /// The minimum age of a new image, by its newest signature's log time.
    pub min_age: Option<Duration>,
    /// Mirrors, tried in order when the primary source fails.
    pub mirrors: Vec<Mirror>,
    /// Where the profile came from (a path, `demo`, or `flags`).
    pub origin: String,
}

/// Settings given on the command line (or in code); each overrides the file. Relative
/// paths here are relative to the current directory (not to the profile file's folder).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--image`.
    pub image: Option<String>,
    /// `--key` (replaces the profile's keys).
    pub keys: Vec<PathBuf>,
    /// `--threshold`.
    pub threshold: Option<usize>,
    /// `--rekor-key` (replaces the profile's).
    pub rekor_keys: Vec<PathBuf>,
    /// `--tlog`.
    pub tlog: Option<TlogMode>,
    /// `--repository`.
    pub repository: Option<String>,
    /// `--rollback-floor`.
    pub rollback_floor: Option<u64>,
    /// `--max-signature-age`.
    pub max_signature_age: Option<String>,
    /// `--runtime` (`store:DIR`: relative to the current directory).
    pub runtime: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--platform`.
    pub platform: Option<String>,
    /// `--source-layout`.
    pub source_layout: Option<PathBuf>,
    /// `--bundled-archive`.
    pub bundled_archive: Option<PathBuf>,
    /// `--health-check`: replaces the file's (an argv).
    pub health_check: Option<Vec<String>>,
    /// `--health-timeout`.
    pub health_timeout: Option<String>,
    /// `--min-age`.
    pub min_age: Option<String>,
    /// `--mirror`: replaces the file's mirrors (paths relative to the current directory).
    pub mirrors: Vec<String>,
    /// `--provenance-*`: replaces the file's `[provenance]` (its `trusted_root` a path
    /// relative to the current directory).
    pub provenance: Option<ProvenanceSection>,
}

impl ProfileFile {
    /// Parses TOML.
    pub fn parse(text: &str, origin: &str) -> Result<ProfileFile> {
        toml::from_str(text).map_err(|e| Error::Profile(format!("{origin}: {e}")))
    }

    /// Reads a profile file (bounded).
    pub fn read(path: &Path) -> Result<ProfileFile> {
        let bytes =
            latch_oci::layout::read_bounded(path, MAX_PROFILE_BYTES).map_err(Error::io(path))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Profile(format!("{}: not UTF-8", path.display())))?;
        ProfileFile::parse(&text, &path.display().to_string())
    }
}

fn expand_home(s: &str) -> PathBuf {
    if let Some(rest) = s.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"))
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(s)
}

/// The one rule for a relative path: it is relative to `base` (an absolute `path` is kept
/// as it is). `.` components are dropped; `..` is kept (it may cross a symbolic link).
///
/// Callers resolve each path once, where it enters (a profile file against its folder,
/// a flag against the current directory), and keep the absolute result.
pub fn resolve_path(base: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    joined.components().collect()
}

/// A path given on the command line or in code, made absolute against the current
/// directory ([`resolve_path`]); an absolute path is returned without asking for the
/// current directory.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(resolve_path(Path::new(""), path));
    }
    let cwd = std::env::current_dir().map_err(Error::io("the current directory"))?;
    Ok(resolve_path(&cwd, path))
}

/// A path written in a profile file: `~/` is the home directory, otherwise relative to
/// `base` (the file's folder).
fn in_file(base: &Path, s: &str) -> PathBuf {
    resolve_path(base, &expand_home(s))
}

/// The Sigstore root `[trust]` chooses: a TUF repository's (the public-good one unless
/// `tuf_url` names another), or a pinned file, or the built-in one never refreshed.
fn root_choice(t: &TrustSection, base: &Path) -> Result<RootChoice> {
    let refresh = t.refresh_trusted_root.unwrap_or(true);
    let file = t.trusted_root.as_deref().map(|r| in_file(base, r));
    Ok(match (&t.tuf_url, &t.tuf_root) {
        (Some(_), Some(_)) if !refresh => {
            return Err(Error::Profile(
                "refresh_trusted_root = false and tuf_url: a TUF repository is there to be refreshed from; drop one".into(),
            ));
        }
        (Some(url), Some(root)) => {
            RootChoice::tuf_from_file(url, &in_file(base, root), file.map(RootChoice::File))?
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::Profile(
                "tuf_url and tuf_root go together: the repository, and the initial TUF root.json the application ships for it".into(),
            ));
        }
        (None, None) => match file {
            Some(f) => RootChoice::File(f),
            None if refresh => RootChoice::public_good_tuf(),
            None => RootChoice::Production,
        },
    })
}

/// `store:DIR` with DIR resolved by `resolve`; other runtimes (and `store:` without a
/// directory, refused later) as they are.
fn runtime_dir(runtime: &str, resolve: impl FnOnce(&str) -> Result<PathBuf>) -> Result<String> {
    Ok(match runtime.strip_prefix("store:") {
        Some(dir) if !dir.is_empty() => format!("store:{}", resolve(dir)?.display()),
        _ => runtime.to_owned(),
    })
}

/// A runtime given on the command line or in code: `store:DIR` with DIR made absolute
/// against the current directory ([`absolute`]); `podman` and `docker` as they are.
pub fn absolute_runtime(runtime: &str) -> Result<String> {
    runtime_dir(runtime, |d| absolute(Path::new(d)))
}

fn key_source(base: &Path, s: &str) -> KeySource {
    if s.trim_start().starts_with("-----BEGIN") {
        KeySource::Inline(s.to_owned())
    } else {
        KeySource::File(in_file(base, s))
    }
}

/// Key files given as flags or in code: relative to the current directory.
fn key_files(paths: &[PathBuf]) -> Result<Vec<KeySource>> {
    paths
        .iter()
        .map(|p| absolute(p).map(KeySource::File))
        .collect()
}

fn duration(field: &str, s: &str) -> Result<Duration> {
    parse_duration(s).map_err(|e| Error::Profile(format!("{field}: {e}")))
}

impl Profile {
    /// Resolves a profile from its file (paths relative to `base`, itself relative to the
    /// current directory), then the overrides (paths relative to the current directory).
    /// Every path of the result is absolute.
    pub fn resolve(file: ProfileFile, base: &Path, origin: &str, o: Overrides) -> Result<Profile> {
        let base = &absolute(base)?;
        let name = file.name.clone().unwrap_or_else(|| "default".into());
        let image_s = o.image.clone().or(file.image.clone()).ok_or_else(|| {
            Error::Profile("no image: give --image REF or `image` in a profile".into())
        })?;
        let mut image = Reference::parse(&image_s)?;
        if image.digest().is_some() {
            return Err(Error::Profile(format!(
                "image {image_s}: give a tag to follow (such as :latest), not a digest"
            )));
        }
        if image.tag().is_none() {
            image = image.with_tag("latest")?;
        }
        let platform = match o.platform.as_deref().or(file.platform.as_deref()) {
            Some(p) => Platform::parse(p).map_err(|e| Error::Profile(e.to_string()))?,
            None => Platform::host(),
        };
        let t = &file.trust;
        let keys: Vec<KeySource> = if o.keys.is_empty() {
            t.keys.iter().map(|k| key_source(base, k)).collect()
        } else {
            key_files(&o.keys)?
        };
        let identities = t
            .identities
            .iter()
            .map(IdentitySpec::policy)
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() && identities.is_empty() {
            return Err(Error::Profile(
                "no trusted key: give --key PEM or `keys` (or `identities`) under [trust]".into(),
            ));
        }
        let rekor_keys: Vec<KeySource> = if o.rekor_keys.is_empty() {
            t.rekor_keys.iter().map(|k| key_source(base, k)).collect()
        } else {
            key_files(&o.rekor_keys)?
        };
        let tlog = match (o.tlog, &t.tlog) {
            (Some(m), _) => Some(m),
            (None, Some(s)) => Some(
                s.parse::<TlogMode>()
                    .map_err(|e| Error::Profile(format!("tlog: {e}")))?,
            ),
            (None, None) => None,
        };
        let repository = match o.repository.as_deref().or(t.repository.as_deref()) {
            Some(r) => Reference::parse(r)?,
            None => Reference::parse(&image.name())?,
        };
        let root = root_choice(t, base)?;
        let provenance = match (&o.provenance, &file.provenance) {
            (Some(p), _) => Some(ProvenanceSpec {
                policies: p.policies()?,
                root: match &p.trusted_root {
                    Some(r) => RootChoice::File(absolute(Path::new(r))?),
                    None => root.clone(),
                },
            }),
            (None, Some(p)) => Some(ProvenanceSpec {
                policies: p.policies()?,
                root: match &p.trusted_root {
                    Some(r) => RootChoice::File(in_file(base, r)),
                    None => root.clone(),
                },
            }),
            (None, None) => None,
        };
        let trust = TrustSpec {
            keys,
            identities,
            threshold: o.threshold.or(t.threshold),
            rekor_keys,
            tlog,
            repository: Some(repository),
            root,
            provenance,
        };
        let max_signature_age = match o
            .max_signature_age
            .as_deref()
            .or(t.max_signature_age.as_deref())
        {
            Some(s) => Some(duration("max_signature_age", s)?),
            None => None,
        };
        let data_dir = match (&o.data_dir, &file.data_dir) {
            (Some(d), _) => absolute(d)?,
            (None, Some(d)) => in_file(base, d),
            // LATCH_DATA_DIR may be relative: to the current directory (a relative
            // XDG_DATA_HOME is ignored, as the XDG specification says).
            (None, None) => absolute(
                &latch_store::default_data_dir(&format!("latch/{name}")).ok_or_else(|| {
                    Error::Profile(
                        "no data directory: set --data-dir, LATCH_DATA_DIR or HOME".into(),
                    )
                })?,
            )?,
        };
        let runtime = match (&o.runtime, &file.runtime) {
            (Some(r), _) => absolute_runtime(r)?,
            (None, Some(r)) => runtime_dir(r, |d| Ok(in_file(base, d)))?,
            // data_dir is absolute already: not joined to a base again.
            (None, None) => format!("store:{}", data_dir.join("store").display()),
        };
        let source = match (&o.source_layout, &file.source.layout) {
            (Some(p), _) => Source::Layout(absolute(p)?),
            (None, Some(p)) => Source::Layout(in_file(base, p)),
            (None, None) => Source::Registry,
        };
        let bundled_archive = match (&o.bundled_archive, &file.source.archive) {
            (Some(a), _) => Some(absolute(a)?),
            (None, Some(a)) => Some(in_file(base, a)),
            (None, None) => None,
        };
        let mirrors: Vec<Mirror> = if o.mirrors.is_empty() {
            file.source
                .mirrors
                .iter()
                .map(|m| mirror(m, &image, |p| Ok(in_file(base, p))))
                .collect::<Result<_>>()?
        } else {
            o.mirrors
                .iter()
                .map(|m| mirror(m, &image, |p| absolute(&expand_home(p))))
                .collect::<Result<_>>()?
        };
        let u = &file.updates;
        let health_timeout = duration(
            "health_timeout",
            o.health_timeout
                .as_deref()
                .or(file.health_timeout.as_deref())
                .unwrap_or("2m"),
        )?;
        let health_check = match o.health_check.as_ref().or(file.health_check.as_ref()) {
            Some(argv) if argv.is_empty() || argv[0].is_empty() => {
                return Err(Error::Profile(
                    "health_check: give a command, e.g. [\"podman\", \"run\", \"--rm\", \"{image}\", \"true\"]".into(),
                ));
            }
            Some(argv) => Some(crate::flows::health::HealthCheck::Command {
                argv: argv.clone(),
                timeout: health_timeout,
            }),
            None => None,
        };
        Ok(Profile {
            name,
            image,
            platform,
            runtime,
            data_dir,
            source,
            bundled_archive,
            trust,
            rollback_floor: o.rollback_floor.or(t.rollback_floor),
            version_annotation: t.version_annotation.clone(),
            max_signature_age,
            follow_rotations: t.follow_rotations.unwrap_or(true),
            updates_default: u.enabled.unwrap_or(false),
            cooldown: duration("cooldown", u.cooldown.as_deref().unwrap_or("12h"))?,
            jitter: duration("jitter", u.jitter.as_deref().unwrap_or("1h"))?,
            health_check,
            mirrors,
            min_age: match o.min_age.as_deref().or(file.min_age.as_deref()) {
                Some(s) => Some(duration("min_age", s)?),
                None => None,
            },
            origin: origin.to_owned(),
        })
    }

    /// A profile from a file (its relative paths are relative to its folder; `path` itself
    /// to the current directory) and overrides.
    pub fn from_file(path: &Path, o: Overrides) -> Result<Profile> {
        let path = absolute(path)?;
        let file = ProfileFile::read(&path)?;
        let base = path.parent().unwrap_or(Path::new("/"));
        Profile::resolve(file, base, &path.display().to_string(), o)
    }

    /// A profile from the overrides alone (a script needs no file).
    pub fn from_overrides(o: Overrides) -> Result<Profile> {
        // No file, so `base` is never joined to: a current directory that is gone (a
        // script's, removed) must not fail flags that are all absolute.
        let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        Profile::resolve(ProfileFile::default(), &base, "flags", o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An absolute path on this platform: `/etc/app` as written here, `C:\etc\app` on
    /// Windows (where `/etc/app` is relative to the current drive).
    fn abs(p: &str) -> PathBuf {
        if cfg!(windows) {
            PathBuf::from(format!("C:{}", p.replace('/', "\\")))
        } else {
            PathBuf::from(p)
        }
    }

    const FULL: &str = r#"
name = "dz"
image = "ghcr.io/freedomofpress/dangerzone/v1"
runtime = "store:store-dir"
data_dir = "data"
platform = "linux/arm64"
[source]
layout = "mirror"
[trust]
keys = ["k.pub", "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n"]
threshold = 2
rekor_keys = ["/abs/rekor.pub"]
tlog = "optional"
rollback_floor = 168898587
version_annotation = "org.opencontainers.image.version"
max_signature_age = "30d"
[updates]
enabled = true
cooldown = "6h"
"#;

    #[test]
    fn resolves_a_full_profile() {
        let base = abs("/etc/app");
        let p = Profile::resolve(
            ProfileFile::parse(FULL, "t").unwrap(),
            &base,
            "t",
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            p.image.to_string(),
            "ghcr.io/freedomofpress/dangerzone/v1:latest"
        );
        assert_eq!(
            p.runtime,
            format!("store:{}", abs("/etc/app/store-dir").display())
        );
        assert_eq!(p.data_dir, abs("/etc/app/data"));
        assert_eq!(p.source, Source::Layout(abs("/etc/app/mirror")));
        assert_eq!(p.platform.to_string(), "linux/arm64");
        assert_eq!(p.trust.keys[0], KeySource::File(abs("/etc/app/k.pub")));
        assert!(matches!(p.trust.keys[1], KeySource::Inline(_)));
        assert_eq!(
            p.trust.rekor_keys[0],
            KeySource::File(abs("/abs/rekor.pub"))
        );
        assert_eq!(p.trust.tlog, Some(TlogMode::Optional));
        assert_eq!(p.trust.threshold, Some(2));
        assert_eq!(
            p.trust.repository.as_ref().unwrap().name(),
            "ghcr.io/freedomofpress/dangerzone/v1"
        );
        assert_eq!(p.rollback_floor, Some(168898587));
        assert_eq!(p.max_signature_age, Some(Duration::from_secs(30 * 86_400)));
        assert!(p.updates_default);
        assert_eq!(p.cooldown, Duration::from_secs(6 * 3600));
    }

    #[test]
    fn mirrors_are_layouts_when_written_as_paths_of_this_platform() {
        let image = Reference::parse("ghcr.io/a/b:stable").unwrap();
        let base = abs("/etc/app");
        let parse = |m: &str| mirror(m, &image, |p| Ok(in_file(&base, p)));
        let registry = parse("mirror.example.org/a/b").unwrap();
        assert_eq!(registry.to_string(), "mirror.example.org/a/b:stable");
        for (written, want) in [
            ("oci:usb", abs("/etc/app/usb")),
            ("./usb", abs("/etc/app/usb")),
            ("/media/usb", abs("/media/usb")),
        ] {
            assert_eq!(parse(written).unwrap(), Mirror::Layout(want), "{written}");
        }
        // A drive path or a backslash-relative one is a folder on Windows; elsewhere,
        // not a repository either (refused, not taken as a folder named that).
        for written in ["C:\\media\\usb", ".\\usb"] {
            let got = parse(written);
            if cfg!(windows) {
                assert!(matches!(got, Ok(Mirror::Layout(_))), "{written}: {got:?}");
            } else {
                assert!(got.is_err(), "{written}: {got:?}");
            }
        }
    }

    #[test]
    fn a_profile_saved_with_windows_line_endings_reads_the_same() {
        let lf = ProfileFile::parse(FULL, "t").unwrap();
        let crlf = ProfileFile::parse(&FULL.replace('\n', "\r\n"), "t").unwrap();
        assert_eq!(format!("{crlf:?}"), format!("{lf:?}"));
    }

    #[test]
    fn flags_override_the_file_and_suffice_alone() {
        let o = Overrides {
            image: Some("127.0.0.1:5000/app:stable".into()),
            keys: vec![abs("/k.pub").display().to_string().into()],
            runtime: Some("podman".into()),
            data_dir: Some(abs("/d")),
            ..Overrides::default()
        };
        let p = Profile::resolve(
            ProfileFile::parse(FULL, "t").unwrap(),
            &abs("/b"),
            "t",
            o.clone(),
        )
        .unwrap();
        assert_eq!(p.image.tag(), Some("stable"));
        assert_eq!(p.trust.keys, vec![KeySource::File(abs("/k.pub"))]);
        assert_eq!(p.runtime, "podman");
        assert_eq!(p.data_dir, abs("/d"));
        let p = Profile::from_overrides(o).unwrap();
        assert_eq!(p.source, Source::Registry);
        assert_eq!(p.runtime, "podman");
        assert!(!p.updates_default, "update checks are opt-in");
    }

    #[test]
    fn resolve_path_is_the_one_rule() {
        for (base, path, want) in [
            ("/b", "x", "/b/x"),
            ("/b", "/x", "/x"),
            ("/b/", "./x/./y/", "/b/x/y"),
            ("/b", "../x", "/b/../x"),
            ("/b", ".", "/b"),
        ] {
            assert_eq!(
                resolve_path(&abs(base), Path::new(path)),
                abs(want),
                "{base} + {path}"
            );
        }
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("rel/x")).unwrap(), cwd.join("rel/x"));
        assert_eq!(absolute(&abs("/a/./b")).unwrap(), abs("/a/b"));
        assert_eq!(
            absolute_runtime("store:s").unwrap(),
            format!("store:{}", cwd.join("s").display())
        );
        let store = format!("store:{}", abs("/s").display());
        assert_eq!(absolute_runtime(&store).unwrap(), store);
        assert_eq!(absolute_runtime("podman").unwrap(), "podman");
        assert_eq!(
            absolute_runtime("store:").unwrap(),
            "store:",
            "refused later"
        );
    }

    const RELATIVE: &str = r#"
image = "a/b"
data_dir = "data"
runtime = "store:./store"
[source]
layout = "../mirror"
archive = "bundled/app.tar"
[trust]
keys = ["keys/k.pub"]
rekor_keys = ["./rekor.pub"]
identities = [{ issuer = "i", san = "s" }]
trusted_root = "root/trusted_root.json"
"#;

    fn relative_profile(base: &Path, o: Overrides) -> Profile {
        Profile::resolve(ProfileFile::parse(RELATIVE, "t").unwrap(), base, "t", o).unwrap()
    }

    /// Every path of a profile, as a table: (field, resolved path).
    fn paths(p: &Profile) -> Vec<(&'static str, PathBuf)> {
        let file = |k: &KeySource| match k {
            KeySource::File(f) => f.clone(),
            KeySource::Inline(_) => panic!("inline"),
        };
        vec![
            ("data_dir", p.data_dir.clone()),
            (
                "runtime",
                PathBuf::from(p.runtime.strip_prefix("store:").unwrap()),
            ),
            (
                "source.layout",
                match &p.source {
                    Source::Layout(l) => l.clone(),
                    Source::Registry => panic!("registry"),
                },
            ),
            ("source.archive", p.bundled_archive.clone().unwrap()),
            ("trust.keys", file(&p.trust.keys[0])),
            ("trust.rekor_keys", file(&p.trust.rekor_keys[0])),
            (
                "trust.trusted_root",
                match &p.trust.root {
                    RootChoice::File(f) => f.clone(),
                    other => panic!("{other:?}"),
                },
            ),
        ]
    }

    #[test]
    fn a_profile_files_relative_paths_are_relative_to_its_folder() {
        let want = [
            ("data_dir", "/etc/app/data"),
            ("runtime", "/etc/app/store"),
            ("source.layout", "/etc/app/../mirror"),
            ("source.archive", "/etc/app/bundled/app.tar"),
            ("trust.keys", "/etc/app/keys/k.pub"),
            ("trust.rekor_keys", "/etc/app/rekor.pub"),
            ("trust.trusted_root", "/etc/app/root/trusted_root.json"),
        ];
        let p = relative_profile(&abs("/etc/app"), Overrides::default());
        let got = paths(&p);
        assert_eq!(got.len(), want.len());
        for ((field, got), (wfield, want)) in got.iter().zip(want) {
            assert_eq!(*field, wfield);
            assert_eq!(got, &abs(want), "{field}");
        }

        // A relative folder (a profile named relative to the current directory) is
        // resolved once too: every path comes out absolute, under cwd/conf.
        let cwd = std::env::current_dir().unwrap();
        let p = relative_profile(Path::new("conf"), Overrides::default());
        for (field, got) in paths(&p) {
            assert!(got.is_absolute(), "{field}: {}", got.display());
            assert!(
                got.starts_with(cwd.join("conf")),
                "{field}: {}",
                got.display()
            );
        }
    }

    #[test]
    fn overrides_relative_paths_are_relative_to_the_current_directory() {
        let cwd = std::env::current_dir().unwrap();
        let o = Overrides {
            keys: vec!["k.pub".into()],
            rekor_keys: vec!["r/rekor.pub".into()],
            data_dir: Some("d".into()),
            runtime: Some("store:s".into()),
            source_layout: Some("./m".into()),
            bundled_archive: Some("a.tar".into()),
            ..Overrides::default()
        };
        let want = [
            ("data_dir", cwd.join("d")),
            ("runtime", cwd.join("s")),
            ("source.layout", cwd.join("m")),
            ("source.archive", cwd.join("a.tar")),
            ("trust.keys", cwd.join("k.pub")),
            ("trust.rekor_keys", cwd.join("r/rekor.pub")),
            // No flag for it: the file's, against the file's folder.
            ("trust.trusted_root", abs("/etc/app/root/trusted_root.json")),
        ];
        let p = relative_profile(&abs("/etc/app"), o);
        for ((field, got), (wfield, want)) in paths(&p).into_iter().zip(want) {
            assert_eq!(field, wfield);
            assert_eq!(got, want, "{field}");
        }

        // The default store is inside the data directory, resolved once (not joined to
        // the profile's folder again), whichever way the data directory was given.
        for (o, want) in [
            (
                Overrides {
                    data_dir: Some("d".into()),
                    ..Overrides::default()
                },
                cwd.join("d").join("store"),
            ),
            (Overrides::default(), abs("/etc/app/data/store")),
        ] {
            let mut file = ProfileFile::parse(RELATIVE, "t").unwrap();
            file.runtime = None;
            let p = Profile::resolve(file, &abs("/etc/app"), "t", o).unwrap();
            assert_eq!(p.runtime, format!("store:{}", want.display()));
        }

        // Without a file, too.
        let p = Profile::from_overrides(Overrides {
            image: Some("a/b".into()),
            keys: vec!["k.pub".into()],
            data_dir: Some("d".into()),
            ..Overrides::default()
        })
        .unwrap();
        assert_eq!(p.data_dir, cwd.join("d"));
        assert_eq!(p.trust.keys, vec![KeySource::File(cwd.join("k.pub"))]);
        assert_eq!(
            p.runtime,
            format!("store:{}", cwd.join("d").join("store").display())
        );
    }

    #[test]
    fn identities_are_trusted_beside_keys_or_instead_of_them() {
        let text = r#"
image = "ghcr.io/o/r"
[trust]
identities = [
  { issuer = "https://github.com/login/oauth", san = "alice@example.org" },
  { issuer = "https://token.actions.githubusercontent.com", san_regex = "https://github\\.com/o/r/.+", repository = "o/r", ref = "refs/heads/main", workflow = ".github/workflows/release.yml", trigger = "push" },
]
"#;
        let p = Profile::resolve(
            ProfileFile::parse(text, "t").unwrap(),
            Path::new("/"),
            "t",
            Overrides::default(),
        )
        .unwrap();
        assert!(p.trust.keys.is_empty());
        assert_eq!(p.trust.identities.len(), 2);
        let gh = &p.trust.identities[1];
        assert_eq!(gh.github.git_ref.as_deref(), Some("refs/heads/main"));
        assert!(
            gh.san
                .matches("https://github.com/o/r/.github/workflows/release.yml@refs/heads/main")
        );
        assert!(!gh.san.matches("https://github.com/o/r2"));
        for (bad, needle) in [
            (
                "identities = [{ issuer = \"i\" }]",
                "exactly one of san and san_regex",
            ),
            (
                "identities = [{ issuer = \"i\", san = \"a\", san_regex = \"b\" }]",
                "exactly one",
            ),
            (
                "identities = [{ issuer = \"i\", san_regex = \"(\" }]",
                "regular expression",
            ),
            (
                "identities = [{ issuer = \"i\", sans = \"a\" }]",
                "unknown field",
            ),
        ] {
            let text = format!("image = \"a/b\"\n[trust]\n{bad}");
            let err = ProfileFile::parse(&text, "p.toml")
                .and_then(|f| Profile::resolve(f, Path::new("/"), "p.toml", Overrides::default()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn refuses_bad_profiles_clearly() {
        let cases = [
            ("image = 1", "invalid type"),
            ("imag = \"x\"", "unknown field"),
            ("image = \"Bad Ref\"", "invalid"),
            (
                "image = \"a/b@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"\n[trust]\nkeys=[\"k\"]",
                "not a digest",
            ),
            ("image = \"a/b\"", "no trusted key"),
            (
                "image = \"a/b\"\n[trust]\nkeys=[\"k\"]\ntlog=\"sometimes\"",
                "tlog",
            ),
            (
                "image = \"a/b\"\n[trust]\nkeys=[\"k\"]\nmax_signature_age=\"forever\"",
                "max_signature_age",
            ),
            ("", "no image"),
        ];
        for (text, needle) in cases {
            let err = ProfileFile::parse(text, "p.toml")
                .and_then(|f| Profile::resolve(f, Path::new("/"), "p.toml", Overrides::default()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_sigstore_root_is_chosen_once_and_contradictions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let choose = |lines: &str| {
            let section: TrustSection = toml::from_str(lines).unwrap();
            root_choice(&section, dir.path())
        };
        let pg = latch_tuf::TufRepository::public_good();
        assert_eq!(choose("").unwrap().tuf_repository(), Some(&pg));
        assert_eq!(
            choose("refresh_trusted_root = false").unwrap(),
            RootChoice::Production
        );
        assert_eq!(
            choose("trusted_root = \"r.json\"").unwrap(),
            RootChoice::File(dir.path().join("r.json"))
        );
        for (lines, needle) in [
            ("tuf_url = \"https://t\"", "go together"),
            ("tuf_root = \"root.json\"", "go together"),
            (
                "tuf_url = \"https://t\"\ntuf_root = \"root.json\"\nrefresh_trusted_root = false",
                "drop one",
            ),
            (
                "tuf_url = \"https://t\"\ntuf_root = \"missing.json\"",
                "missing.json",
            ),
        ] {
            let e = choose(lines).unwrap_err().to_string();
            assert!(e.contains(needle), "{lines}: {e}");
        }
        // A file that is not a signed TUF root, and a URL that is not one.
        std::fs::write(dir.path().join("root.json"), "{}").unwrap();
        let e = choose("tuf_url = \"https://t\"\ntuf_root = \"root.json\"").unwrap_err();
        assert!(e.to_string().contains("initial TUF root"), "{e}");
        std::fs::write(dir.path().join("root.json"), pg.initial_root()).unwrap();
        let e = choose("tuf_url = \"ftp://t\"\ntuf_root = \"root.json\"").unwrap_err();
        assert!(e.to_string().contains("ftp://t"), "{e}");
        let custom = choose(
            "tuf_url = \"https://tuf.example.org/\"\ntuf_root = \"root.json\"\ntrusted_root = \"start.json\"",
        )
        .unwrap();
        match custom {
            RootChoice::Tuf { repository, start } => {
                assert_eq!(repository.url(), "https://tuf.example.org");
                assert_eq!(
                    start.as_deref(),
                    Some(&RootChoice::File(dir.path().join("start.json")))
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
