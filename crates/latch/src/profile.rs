//! Profiles: everything an application decides about its image, in one TOML file (or the
//! same settings given in code or as command-line flags).
//!
//! ```toml
//! name = "dangerzone"
//! image = "ghcr.io/freedomofpress/dangerzone/v1:latest"
//! runtime = "podman"                       # podman | docker | store:DIR
//! data_dir = "~/.local/share/dangerzone"   # default: $LATCH_DATA_DIR, else <data dir>/latch/<name>
//!
//! [source]
//! # layout = "/media/usb/mirror"          # an OCI layout used as a mirror instead of the registry
//!
//! [trust]
//! keys = ["freedomofpress-dangerzone.pub"] # paths (relative to this file) or inline PEM
//! # keyless signers (Sigstore bundles), beside the keys or instead of them:
//! # identities = [{ issuer = "https://github.com/login/oauth", san = "maintainer@example.org" }]
//! # trusted_root = "trusted_root.json"   # the identities' Sigstore root (default: public-good)
//! threshold = 1
//! rekor_keys = ["rekor.pub"]
//! tlog = "required"                        # required | optional | ignored
//! repository = "ghcr.io/freedomofpress/dangerzone/v1"  # default: the image's
//! rollback_floor = 168898587               # the last log index this app release knows
//! version_annotation = "org.opencontainers.image.version"  # ratchet on a signed version too
//! max_signature_age = "30d"                # older than this: a possible freeze attack
//!
//! [updates]
//! enabled = false                          # checks are opt-in
//! cooldown = "12h"
//! jitter = "1h"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use latch_oci::{Platform, Reference};
use latch_trust::TlogMode;
use serde::Deserialize;

use latch_oci::parse_duration;

use crate::error::{Error, Result};
use crate::trust::{KeySource, RootChoice, TrustSpec};

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
    /// Where updates come from.
    #[serde(default)]
    pub source: SourceSection,
    /// Who must have signed.
    #[serde(default)]
    pub trust: TrustSection,
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
    /// Trusted keyless signers (Fulcio certificates in Sigstore bundles).
    #[serde(default)]
    pub identities: Vec<IdentitySpec>,
    /// The Sigstore trusted root (`trusted_root.json`) identities chain to; default: the
    /// public-good root built in. Never fetched.
    pub trusted_root: Option<String>,
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
    /// Checks on before the user chose.
    pub updates_default: bool,
    /// Time between automatic checks.
    pub cooldown: Duration,
    /// Random extra delay.
    pub jitter: Duration,
    /// Where the profile came from (a path, `demo`, or `flags`).
    pub origin: String,
}

/// Settings given on the command line (or in code); each overrides the file.
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
    /// `--runtime`.
    pub runtime: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--platform`.
    pub platform: Option<String>,
    /// `--source-layout`.
    pub source_layout: Option<PathBuf>,
    /// `--bundled-archive`.
    pub bundled_archive: Option<PathBuf>,
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

fn relative(base: &Path, s: &str) -> PathBuf {
    let p = expand_home(s);
    if p.is_absolute() { p } else { base.join(p) }
}

fn key_source(base: &Path, s: &str) -> KeySource {
    if s.trim_start().starts_with("-----BEGIN") {
        KeySource::Inline(s.to_owned())
    } else {
        KeySource::File(relative(base, s))
    }
}

fn duration(field: &str, s: &str) -> Result<Duration> {
    parse_duration(s).map_err(|e| Error::Profile(format!("{field}: {e}")))
}

impl Profile {
    /// Resolves a profile from its file (paths relative to `base`), then the overrides.
    pub fn resolve(file: ProfileFile, base: &Path, origin: &str, o: Overrides) -> Result<Profile> {
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
            o.keys.iter().cloned().map(KeySource::File).collect()
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
            o.rekor_keys.iter().cloned().map(KeySource::File).collect()
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
        let trust = TrustSpec {
            keys,
            identities,
            threshold: o.threshold.or(t.threshold),
            rekor_keys,
            tlog,
            repository: Some(repository),
            root: t
                .trusted_root
                .as_deref()
                .map(|r| RootChoice::File(relative(base, r)))
                .unwrap_or_default(),
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
            (Some(d), _) => d.clone(),
            (None, Some(d)) => relative(base, d),
            (None, None) => {
                latch_store::default_data_dir(&format!("latch/{name}")).ok_or_else(|| {
                    Error::Profile(
                        "no data directory: set --data-dir, LATCH_DATA_DIR or HOME".into(),
                    )
                })?
            }
        };
        let runtime = o
            .runtime
            .clone()
            .or(file.runtime.clone())
            .unwrap_or_else(|| format!("store:{}", data_dir.join("store").display()));
        let runtime = match runtime.strip_prefix("store:") {
            Some(dir) => format!("store:{}", relative(base, dir).display()),
            None => runtime,
        };
        let source = match (&o.source_layout, &file.source.layout) {
            (Some(p), _) => Source::Layout(p.clone()),
            (None, Some(p)) => Source::Layout(relative(base, p)),
            (None, None) => Source::Registry,
        };
        let u = &file.updates;
        Ok(Profile {
            name,
            image,
            platform,
            runtime,
            data_dir,
            source,
            bundled_archive: o
                .bundled_archive
                .clone()
                .or_else(|| file.source.archive.as_deref().map(|a| relative(base, a))),
            trust,
            rollback_floor: o.rollback_floor.or(t.rollback_floor),
            version_annotation: t.version_annotation.clone(),
            max_signature_age,
            updates_default: u.enabled.unwrap_or(false),
            cooldown: duration("cooldown", u.cooldown.as_deref().unwrap_or("12h"))?,
            jitter: duration("jitter", u.jitter.as_deref().unwrap_or("1h"))?,
            origin: origin.to_owned(),
        })
    }

    /// A profile from a file and overrides.
    pub fn from_file(path: &Path, o: Overrides) -> Result<Profile> {
        let file = ProfileFile::read(path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Profile::resolve(file, &base, &path.display().to_string(), o)
    }

    /// A profile from the overrides alone (a script needs no file).
    pub fn from_overrides(o: Overrides) -> Result<Profile> {
        let base = std::env::current_dir().unwrap_or_default();
        Profile::resolve(ProfileFile::default(), &base, "flags", o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let base = Path::new("/etc/app");
        let p = Profile::resolve(
            ProfileFile::parse(FULL, "t").unwrap(),
            base,
            "t",
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            p.image.to_string(),
            "ghcr.io/freedomofpress/dangerzone/v1:latest"
        );
        assert_eq!(p.runtime, "store:/etc/app/store-dir");
        assert_eq!(p.data_dir, Path::new("/etc/app/data"));
        assert_eq!(p.source, Source::Layout("/etc/app/mirror".into()));
        assert_eq!(p.platform.to_string(), "linux/arm64");
        assert_eq!(p.trust.keys[0], KeySource::File("/etc/app/k.pub".into()));
        assert!(matches!(p.trust.keys[1], KeySource::Inline(_)));
        assert_eq!(
            p.trust.rekor_keys[0],
            KeySource::File("/abs/rekor.pub".into())
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
    fn flags_override_the_file_and_suffice_alone() {
        let o = Overrides {
            image: Some("127.0.0.1:5000/app:stable".into()),
            keys: vec!["/k.pub".into()],
            runtime: Some("podman".into()),
            data_dir: Some("/d".into()),
            ..Overrides::default()
        };
        let p = Profile::resolve(
            ProfileFile::parse(FULL, "t").unwrap(),
            Path::new("/b"),
            "t",
            o.clone(),
        )
        .unwrap();
        assert_eq!(p.image.tag(), Some("stable"));
        assert_eq!(p.trust.keys, vec![KeySource::File("/k.pub".into())]);
        assert_eq!(p.runtime, "podman");
        assert_eq!(p.data_dir, Path::new("/d"));
        let p = Profile::from_overrides(o).unwrap();
        assert_eq!(p.source, Source::Registry);
        assert_eq!(p.runtime, "podman");
        assert!(!p.updates_default, "update checks are opt-in");
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
}
