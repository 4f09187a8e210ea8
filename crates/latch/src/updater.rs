//! The updater: what an application calls to keep its sandbox image current and proven.
//!
//! ```text
//! upgrade:  lock → resolve tag → fetch .sig signatures → verify (keys, digest, repository,
//!           Rekor) → if short of the threshold: fetch and verify cosign v3 bundles (keys,
//!           identities) → rollback and freeze checks → runtime pulls by digest → runtime
//!           holds it? → signatures and bundles stored → last_log_index and state written
//!           → tag → old images removed
//! ```
//!
//! Nothing already installed is touched until the new image is verified and in the
//! runtime; the state that says which image is installed is written last, atomically. An
//! upgrade interrupted at any step leaves the old image installed and passing
//! [`Updater::verify_local`].

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::Duration;

use latch_oci::{Descriptor, Digest, ManifestBytes, OciLayout, Reference};
use latch_registry::{Client, ClientOptions, ManifestHead, Progress, RegistryError};
use latch_runtime::{InstalledImage, Runtime};
use latch_store::{Installed, State, Store, StoreError};
use latch_trust::{
    Accepted, Candidate, Policy, Signature, Verdict, parse_cosign_download,
    signatures_from_manifest, to_cosign_download_list,
};
use serde::Serialize;

use crate::duration::format_duration;
use crate::error::{Error, Result};
use crate::profile::{Profile, Source};
use crate::signatures::{FetchedBundle, MAX_PAYLOAD_BYTES, Referrers, fetch_signatures};
use crate::trusted::{Trust, decode_bundles, encode_bundles};
use crate::verify::{Verification, now_unix};

/// Annotation cosign's `save` puts on index entries to say what they are.
const KIND_ANNOTATION: &str = "kind";
/// The `kind` of a signature manifest in a `cosign save` layout.
const KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";

/// Steps of an upgrade, for tests that interrupt it (as a kill would) after each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// The remote image and its signatures are fetched and verified.
    Verified,
    /// The runtime holds the new image.
    Installed,
    /// The signatures are stored.
    SignaturesStored,
    /// `last_log_index` and the state name the new image.
    StateSaved,
    /// The image is tagged.
    Tagged,
    /// Older images are removed.
    Cleaned,
}

/// How an upgrade behaves.
#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    /// Accept an image older than the installed one (rollback check skipped, loudly).
    pub force: bool,
    /// Wait for another Latch process to finish instead of failing with
    /// [`Error::Locked`].
    pub wait: bool,
    /// Stop after this step, as if killed (tests of crash safety).
    #[doc(hidden)]
    pub interrupt_after: Option<Step>,
}

/// The outcome of an upgrade.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeReport {
    /// `upgraded` or `up-to-date`.
    pub status: &'static str,
    /// The image.
    pub image: String,
    /// The digest the signatures name (often an index).
    pub digest: Digest,
    /// The platform manifest installed, when the digest is an index.
    pub platform_digest: Option<Digest>,
    /// The digest installed before, if any.
    pub previous: Option<Digest>,
    /// Highest log index of the accepted signatures.
    pub log_index: Option<u64>,
    /// Cosign v3 signatures (Sigstore bundles) accepted, when legacy ones were not enough.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<latch_sigstore::BundleVerification>,
    /// Whether the rollback check was bypassed.
    pub forced: bool,
    /// What deserves the user's attention (a forced rollback, skipped signatures).
    pub warnings: Vec<String>,
    /// Images removed after the upgrade.
    pub removed: Vec<String>,
    /// Every signature's outcome.
    pub verdict: Verdict,
}

/// The outcome of `verify-local`.
#[derive(Debug, Clone, Serialize)]
pub struct LocalReport {
    /// The image.
    pub image: String,
    /// The digest verified.
    pub digest: Digest,
    /// The runtime.
    pub runtime: String,
    /// Whether every blob was re-hashed (built-in store, `deep`).
    pub deep: bool,
    /// Highest log index of the stored signatures.
    pub log_index: Option<u64>,
    /// Every legacy signature's outcome.
    pub verdict: Verdict,
    /// Stored cosign v3 signatures (Sigstore bundles) that verified, when needed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<latch_sigstore::BundleVerification>,
}

/// What `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// `disabled` (checks are opt-in and off), `cooldown` (checked recently),
    /// `up-to-date`, `update-available`, or `not-installed` (an image is available).
    pub status: &'static str,
    /// The image.
    pub image: String,
    /// The installed digest.
    pub installed: Option<Digest>,
    /// The remote digest, when looked at.
    pub remote: Option<Digest>,
    /// Log index of the remote image's signatures, when verified.
    pub log_index: Option<u64>,
    /// Unix time before which an automatic check will not run again.
    pub next_check: Option<u64>,
    /// Whether the registry was asked (false for disabled and cooldown).
    pub contacted_registry: bool,
}

/// What `store-signatures` did.
#[derive(Debug, Clone, Serialize)]
pub struct StoreReport {
    /// The digest.
    pub digest: Digest,
    /// Files written (one per key with accepted signatures).
    pub files: Vec<PathBuf>,
    /// Highest log index.
    pub log_index: Option<u64>,
}

/// What `status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Profile name and where it came from.
    pub profile: String,
    /// The image followed.
    pub image: String,
    /// The runtime.
    pub runtime: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Where updates come from.
    pub source: String,
    /// Store ids (folder names) of the trusted keys.
    pub keys: Vec<String>,
    /// Trusted keyless identities (`SAN from issuer`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
    /// Distinct keys required.
    pub threshold: usize,
    /// Transparency-log mode.
    pub tlog: String,
    /// Installed image as Latch recorded it.
    pub installed: Option<Installed>,
    /// Digests the runtime reports for the repository.
    pub runtime_digests: Vec<Digest>,
    /// `signatures/last_log_index`.
    pub last_log_index: Option<u64>,
    /// The rollback floor in force (the higher of the file and the profile's).
    pub rollback_floor: Option<u64>,
    /// Whether update checks are on.
    pub updates_enabled: bool,
    /// Unix time of the last check.
    pub last_check: Option<u64>,
    /// Unix time of the next automatic check.
    pub next_check: Option<u64>,
}

/// An image fetched (or unpacked) and verified, not yet installed.
pub(crate) struct Remote {
    /// The manifest the signatures name.
    pub manifest: ManifestBytes,
    /// The platform manifest chosen from it, when it is an index.
    pub platform_digest: Option<Digest>,
    /// The verification.
    pub verification: Verification,
    /// Accepted signatures, with the store id of the key that made each.
    pub signatures: Vec<(String, Signature)>,
    /// Accepted cosign v3 signatures: the bundle documents, to store.
    pub bundles: Vec<Vec<u8>>,
    /// Where to load it from instead of pulling it (a mirror, an unpacked archive).
    pub layout: Option<(OciLayout, Descriptor)>,
}

/// Keeps one application's image current. Built from a [`Profile`].
#[derive(Debug)]
pub struct Updater {
    profile: Profile,
    trust: Trust,
    client: Client,
    runtime: Runtime,
    store: Store,
}

impl Updater {
    /// An updater for `profile`, with registry options from the environment
    /// (`LATCH_INSECURE_REGISTRIES`, proxies, credentials).
    pub fn new(profile: Profile) -> Result<Updater> {
        Updater::with_client_options(profile, ClientOptions::from_env())
    }

    /// An updater with explicit registry options.
    pub fn with_client_options(profile: Profile, mut opts: ClientOptions) -> Result<Updater> {
        let identities = profile
            .identities
            .iter()
            .map(|i| i.policy())
            .collect::<Result<Vec<_>>>()?;
        let root = profile
            .trusted_root
            .clone()
            .map(crate::bundle::RootChoice::File)
            .unwrap_or_default();
        let trust = Trust::build(&profile.policy, &identities, &root)?;
        if opts.auth_cache.is_none() {
            // Tokens kept between runs: an unchanged check is then one request.
            opts.auth_cache = Some(profile.data_dir.join("latch").join("auth-cache.json"));
        }
        let client = Client::new(opts)?;
        let runtime = Runtime::parse(&profile.runtime)?;
        let store = Store::new(&profile.data_dir);
        Ok(Updater {
            profile,
            trust,
            client,
            runtime,
            store,
        })
    }

    /// Replaces the runtime the profile names (for a runtime with options of its own,
    /// such as podman with a separate storage root).
    pub fn with_runtime(mut self, runtime: Runtime) -> Updater {
        self.runtime = runtime;
        self
    }

    /// The profile in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The legacy trust policy, keys read (`None` when only identities are trusted).
    pub fn policy(&self) -> Option<&Policy> {
        self.trust.legacy()
    }

    /// Everything trusted: keys and identities, and the threshold over both.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// The registry client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The signature store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn repository(&self) -> Reference {
        self.profile.image.repository_only()
    }

    /// Fetches the image the profile follows and its signatures, and verifies them.
    pub(crate) async fn fetch_remote(&self, now: i64) -> Result<Remote> {
        let image = &self.profile.image;
        let (manifest, candidates, layout, location) = match &self.profile.source {
            Source::Registry => {
                let manifest = self.client.get_manifest(image).await?;
                let candidates = fetch_signatures(&self.client, image, manifest.digest()).await?;
                let location = format!("{}:{}.sig", image.name(), manifest.digest().tag_form());
                (manifest, candidates, None, location)
            }
            Source::Layout(dir) => {
                let layout = OciLayout::open(dir).map_err(|e| Error::Invalid(e.to_string()))?;
                let tag = image.tag().unwrap_or("latest");
                let desc = layout
                    .resolve(Some(tag))
                    .map_err(|e| Error::Invalid(e.to_string()))?;
                let manifest = layout
                    .read_manifest(&desc)
                    .map_err(|e| Error::Invalid(e.to_string()))?;
                let candidates = layout_signatures(&layout, manifest.digest())?;
                let location = format!("{}:{}.sig", dir.display(), manifest.digest().tag_form());
                (manifest, candidates, Some((layout, desc)), location)
            }
        };
        let platform_digest = match manifest.as_index() {
            Some(index) => Some(
                index
                    .select_platform(&self.profile.platform)
                    .ok_or_else(|| {
                        Error::Registry(RegistryError::NoSuchPlatform {
                            reference: image.to_string(),
                            platform: self.profile.platform.to_string(),
                            available: index
                                .platforms()
                                .iter()
                                .map(|p| p.to_string())
                                .collect::<Vec<_>>()
                                .join(", "),
                        })
                    })?
                    .digest
                    .clone(),
            ),
            None => None,
        };
        let bundle_source = match &layout {
            None => BundleSource::Registry,
            Some((l, _)) => BundleSource::Layout(
                l,
                l.index()
                    .map_err(|e| Error::Invalid(e.to_string()))?
                    .manifests,
            ),
        };
        let (verification, referrers) = self
            .verify_signed(location, manifest.digest(), &candidates, bundle_source, now)
            .await?;
        let signatures = accepted_signatures(&verification.verdict, &candidates);
        let bundles = accepted_bundles(&verification, &referrers.bundles);
        Ok(Remote {
            manifest,
            platform_digest,
            verification,
            signatures,
            bundles,
            layout,
        })
    }

    /// Verifies `digest`: its legacy signatures `candidates` and, when they are not enough
    /// on their own, its cosign v3 signatures from `bundles` (fetched only then, so an
    /// image signed as Dangerzone's is costs no extra request). Returns the bundles
    /// examined too, for storing the accepted ones.
    pub(crate) async fn verify_signed(
        &self,
        location: String,
        digest: &Digest,
        candidates: &[Candidate],
        bundles: BundleSource<'_>,
        now: i64,
    ) -> Result<(Verification, Referrers)> {
        if let BundleSource::Layout(layout, entries) = bundles {
            return self
                .verify_signed_in_layout(location, digest, candidates, layout, &entries, now);
        }
        crate::verify::verify_signed_remote(
            &self.client,
            &self.profile.image,
            digest,
            candidates,
            location,
            &self.trust,
            now,
        )
        .await
    }

    /// [`Updater::verify_signed`] over an OCI layout (a mirror, an unpacked archive):
    /// bundles are the referrers listed among `entries`.
    pub(crate) fn verify_signed_in_layout(
        &self,
        location: String,
        digest: &Digest,
        candidates: &[Candidate],
        layout: &OciLayout,
        entries: &[Descriptor],
        now: i64,
    ) -> Result<(Verification, Referrers)> {
        let (verdict, enough) = self.trust.legacy_verdict(digest, candidates, now)?;
        let referrers = if enough {
            Referrers::default()
        } else {
            layout_bundles(layout, entries, digest)
        };
        self.trust
            .decide_referrers(location, digest, verdict, referrers)
    }

    /// The floor below which no log index is accepted: the higher of
    /// `signatures/last_log_index` and the profile's.
    pub fn rollback_floor(&self) -> Result<Option<u64>> {
        let file = self.store.last_log_index().map_err(store_error)?;
        Ok(match (file, self.profile.rollback_floor) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        })
    }

    /// Refuses a verdict older than what was accepted before (unless `force`), on every
    /// ratchet the state keeps: the global log index floor (Dangerzone's), the index per
    /// log, the integrated time across logs, and the signed version.
    pub(crate) fn check_rollback(
        &self,
        state: &State,
        verification: &Verification,
        force: bool,
        warnings: &mut Vec<String>,
    ) -> Result<()> {
        let mut problems = Vec::new();
        let verdict = &verification.verdict;
        let entries = verification.log_entries();
        let floor = self.rollback_floor()?;
        let floor_log = state.log_indexes.keys().next().cloned();
        if let (Some(floor), Some(max)) = (floor, verification.max_log_index()) {
            // The global floor applies to the log it was recorded from (Dangerzone's file
            // has no log id: then to every log), so a new shard does not trip it.
            let relevant: Vec<u64> = entries
                .iter()
                .filter(|e| {
                    floor_log
                        .as_deref()
                        .is_none_or(|l| state.log_indexes.len() > 1 || l == e.log_id)
                })
                .map(|e| e.log_index)
                .collect();
            let max_relevant = relevant.iter().copied().max().unwrap_or(max);
            if max_relevant < floor {
                problems.push(format!(
                    "its highest log index {max_relevant} is below the floor {floor}"
                ));
            }
        }
        for (log, stored) in &state.log_indexes {
            if let Some(max) = entries
                .iter()
                .filter(|e| &e.log_id == log)
                .map(|e| e.log_index)
                .max()
                && max < *stored
            {
                problems.push(format!(
                    "log {}: index {max} is below the accepted {stored}",
                    short(log)
                ));
            }
        }
        if let (Some(stored), Some(t)) = (
            state.integrated_time,
            entries.iter().filter_map(|e| e.integrated_time).max(),
        ) && t < stored
        {
            problems.push(format!(
                "it was logged at {t}, before the accepted image ({stored})"
            ));
        }
        if let Some(key) = &self.profile.version_annotation {
            match signed_version(verdict, key) {
                None => problems.push(format!(
                    "no accepted signature carries the signed version {key:?}"
                )),
                Some(v) => {
                    if let Some(stored) = &state.signed_version
                        && compare_versions(&v, stored) == std::cmp::Ordering::Less
                    {
                        problems.push(format!(
                            "signed version {v} is older than the accepted {stored}"
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let detail = problems.join("; ");
        if force {
            warnings.push(format!(
                "ROLLBACK FORCED: accepting an older image: {detail}"
            ));
            return Ok(());
        }
        Err(Error::Rollback { detail })
    }

    /// Reports a possible freeze attack: the newest signature of what the registry serves
    /// is older than the profile allows.
    fn check_freeze(&self, verification: &Verification, now: i64) -> Result<()> {
        let Some(max_age) = self.profile.max_signature_age else {
            return Ok(());
        };
        let newest = verification.newest_signed_time();
        match newest {
            None => Err(Error::FreezeSuspected {
                detail: format!(
                    "no accepted signature carries a signed time, so its age cannot be checked against the maximum of {}",
                    format_duration(max_age)
                ),
            }),
            Some(t) if now.saturating_sub(t) > max_age.as_secs() as i64 => {
                Err(Error::FreezeSuspected {
                    detail: format!(
                        "the newest signature of {} was made {} ago, more than the maximum of {}: the registry may be withholding updates",
                        self.profile.image,
                        format_duration(Duration::from_secs(now.saturating_sub(t) as u64)),
                        format_duration(max_age)
                    ),
                })
            }
            Some(_) => Ok(()),
        }
    }

    /// Takes the store's lock. Waiting happens on a blocking thread, so that other tasks
    /// of the application (or a second upgrade in the same process) keep running.
    pub(crate) async fn lock(&self, wait: bool) -> Result<latch_store::StoreLock> {
        if !wait {
            return self.store.lock(false).map_err(store_error);
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.lock(true))
            .await
            .map_err(|e| Error::Invalid(format!("waiting for the store lock failed: {e}")))?
            .map_err(store_error)
    }

    /// Upgrades to the newest verified image, or says it is already installed.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let data = tempfile::tempdir()?;
    /// # let profile = latch::demo::profile(latch::Overrides {
    /// #     data_dir: Some(data.path().to_path_buf()),
    /// #     ..Default::default()
    /// # })?;
    /// let updater = latch::Updater::new(profile)?;
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let report = rt.block_on(updater.upgrade(&Default::default(), &latch::registry::NoProgress))?;
    /// assert_eq!(report.status, "upgraded");
    /// let again = rt.block_on(updater.upgrade(&Default::default(), &latch::registry::NoProgress))?;
    /// assert_eq!(again.status, "up-to-date");
    /// # Ok(()) }
    /// ```
    pub async fn upgrade(
        &self,
        opts: &UpgradeOptions,
        progress: &dyn Progress,
    ) -> Result<UpgradeReport> {
        let _lock = self.lock(opts.wait).await?;
        let now = now_unix();
        let state = self.store.state().map_err(store_error)?;
        let remote = self.fetch_remote(now).await?;
        self.install_remote(state, remote, now, opts, progress, true)
            .await
    }

    /// Everything after a remote image is fetched and verified: the rollback (and, for a
    /// registry, freeze) checks, installation, and the writes that make it the installed
    /// image. The caller holds the lock.
    pub(crate) async fn install_remote(
        &self,
        state: State,
        remote: Remote,
        now: i64,
        opts: &UpgradeOptions,
        progress: &dyn Progress,
        freeze_check: bool,
    ) -> Result<UpgradeReport> {
        let digest = remote.manifest.digest().clone();
        let verification = &remote.verification;
        let verdict = verification.verdict.clone();
        let mut warnings = Vec::new();
        let rejected = verdict.rejected().count();
        if rejected > 0 {
            warnings.push(format!(
                "{rejected} signature(s) were refused and skipped (see the verdict)"
            ));
        }
        self.check_rollback(&state, verification, opts.force, &mut warnings)?;
        if freeze_check {
            self.check_freeze(verification, now)?;
        }
        interrupt(opts, Step::Verified)?;
        let repository = self.repository();
        let previous = state
            .installed
            .as_ref()
            .filter(|i| i.repository == repository.name())
            .map(|i| i.signed_digest.clone());
        let mut report = UpgradeReport {
            status: "upgraded",
            image: self.profile.image.to_string(),
            digest: digest.clone(),
            platform_digest: remote.platform_digest.clone(),
            previous: previous.clone(),
            log_index: verification.max_log_index(),
            bundles: verification.bundles.clone(),
            forced: opts.force && warnings.iter().any(|w| w.starts_with("ROLLBACK")),
            warnings,
            removed: Vec::new(),
            verdict,
        };
        if previous.as_ref() == Some(&digest) && self.runtime_holds(&repository, &digest).await? {
            report.status = "up-to-date";
            return Ok(report);
        }
        // Install. The runtime must then hold exactly this digest.
        let installed = match &remote.layout {
            None => {
                self.runtime
                    .pull(
                        &self.profile.image.with_digest(digest.clone()),
                        &self.client,
                        Some(&self.profile.platform),
                        progress,
                    )
                    .await?
            }
            Some((layout, desc)) => {
                self.runtime
                    .load_oci_layout(
                        layout,
                        desc,
                        &self.profile.image,
                        Some(&self.profile.platform),
                    )
                    .await?
            }
        };
        check_holds(
            &installed,
            &digest,
            remote.platform_digest.as_ref(),
            &self.runtime,
        )?;
        interrupt(opts, Step::Installed)?;
        self.write_signatures(&digest, &remote.signatures)?;
        self.write_bundles(&digest, &remote.bundles)?;
        interrupt(opts, Step::SignaturesStored)?;
        let mut state = state;
        self.advance_state(&mut state, &remote.verification, opts.force);
        state.installed = Some(Installed {
            repository: repository.name(),
            signed_digest: digest.clone(),
            platform_digest: remote.platform_digest.clone(),
            log_index: report.log_index,
            installed_at: now.max(0) as u64,
        });
        if let Some(i) = report.log_index {
            self.store.set_last_log_index(i).map_err(store_error)?;
        }
        self.store.save_state(&state).map_err(store_error)?;
        interrupt(opts, Step::StateSaved)?;
        self.runtime.tag(&installed, &self.profile.image).await?;
        interrupt(opts, Step::Tagged)?;
        let removed = self.runtime.remove_others(&repository, &digest).await?;
        report.removed = removed.iter().map(|i| i.id.clone()).collect();
        self.runtime.gc().await?;
        interrupt(opts, Step::Cleaned)?;
        Ok(report)
    }

    async fn runtime_holds(&self, repository: &Reference, digest: &Digest) -> Result<bool> {
        Ok(self
            .runtime
            .images(repository)
            .await?
            .iter()
            .any(|i| i.holds(digest)))
    }

    /// Moves every ratchet forward to what `verdict` proves (never backward, unless
    /// `force`, where Dangerzone too overwrites the floor with the forced image's).
    fn advance_state(&self, state: &mut State, verification: &Verification, force: bool) {
        let verdict = &verification.verdict;
        let mut per_log: BTreeMap<String, u64> = BTreeMap::new();
        let mut newest = None;
        for t in verification.log_entries() {
            let e = per_log.entry(t.log_id.clone()).or_insert(t.log_index);
            *e = (*e).max(t.log_index);
            if let Some(time) = t.integrated_time {
                newest = Some(newest.map_or(time, |n: i64| n.max(time)));
            }
        }
        for (log, index) in per_log {
            let slot = state.log_indexes.entry(log).or_insert(index);
            *slot = if force { index } else { (*slot).max(index) };
        }
        if let Some(t) = newest {
            state.integrated_time = Some(if force {
                t
            } else {
                state.integrated_time.map_or(t, |s| s.max(t))
            });
        }
        if let Some(key) = &self.profile.version_annotation
            && let Some(v) = signed_version(verdict, key)
        {
            let keep_old = !force
                && state
                    .signed_version
                    .as_ref()
                    .is_some_and(|s| compare_versions(s, &v) == std::cmp::Ordering::Greater);
            if !keep_old {
                state.signed_version = Some(v);
            }
        }
    }

    /// Writes, under each trusted key's folder, the signatures that key made of `digest`
    /// (Dangerzone's layout: every entry of a file verifies and names the file's digest).
    fn write_signatures(
        &self,
        digest: &Digest,
        signatures: &[(String, Signature)],
    ) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        let keys = self.trust.legacy().map(|p| p.keys()).unwrap_or_default();
        for key in keys {
            let mine: Vec<Signature> = signatures
                .iter()
                .filter(|(store_id, _)| store_id == key.store_id())
                .map(|(_, s)| s.clone())
                .collect();
            if mine.is_empty() {
                continue;
            }
            let text = to_cosign_download_list(&mine);
            files.push(
                self.store
                    .write_signatures(key.store_id(), digest, text.as_bytes())
                    .map_err(store_error)?,
            );
        }
        Ok(files)
    }

    /// Keeps the accepted cosign v3 signatures of `digest` (nothing when there are none).
    fn write_bundles(&self, digest: &Digest, bundles: &[Vec<u8>]) -> Result<Option<PathBuf>> {
        if bundles.is_empty() {
            return Ok(None);
        }
        let refs: Vec<&[u8]> = bundles.iter().map(Vec::as_slice).collect();
        self.store
            .write_bundles(digest, &encode_bundles(&refs))
            .map(Some)
            .map_err(store_error)
    }

    /// Verifies the installed image before use: the runtime holds the digest Latch
    /// installed (or, for a store migrated from Dangerzone, the one digest under the
    /// repository), its stored signatures verify, and it is not older than the ratchet.
    /// With `deep` (built-in store), every blob is re-hashed.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let data = tempfile::tempdir()?;
    /// # let profile = latch::demo::profile(latch::Overrides {
    /// #     data_dir: Some(data.path().to_path_buf()),
    /// #     ..Default::default()
    /// # })?;
    /// let updater = latch::Updater::new(profile)?;
    /// let rt = tokio::runtime::Runtime::new()?;
    /// // Nothing installed yet: a typed error the application can act on.
    /// let err = rt.block_on(updater.verify_local(false)).unwrap_err();
    /// assert!(matches!(err, latch::Error::NotInstalled { .. }));
    /// rt.block_on(updater.upgrade(&Default::default(), &latch::registry::NoProgress))?;
    /// let local = rt.block_on(updater.verify_local(true))?;
    /// println!("verified {}", local.digest);
    /// # Ok(()) }
    /// ```
    pub async fn verify_local(&self, deep: bool) -> Result<LocalReport> {
        let now = now_unix();
        let state = self.store.state().map_err(store_error)?;
        let repository = self.repository();
        let recorded = state
            .installed
            .as_ref()
            .filter(|i| i.repository == repository.name())
            .map(|i| i.signed_digest.clone());
        let digest = match recorded {
            Some(d) => {
                self.check_runtime_holds(&repository, &d, deep).await?;
                d
            }
            None => match self.runtime.installed_digest(&repository).await? {
                Some(d) => {
                    self.check_runtime_holds(&repository, &d, deep).await?;
                    d
                }
                None => {
                    return Err(Error::NotInstalled {
                        image: self.profile.image.to_string(),
                        runtime: self.runtime.spec(),
                    });
                }
            },
        };
        let mut candidates = Vec::new();
        let mut location = Vec::new();
        let keys = self.trust.legacy().map(|p| p.keys()).unwrap_or_default();
        for key in keys {
            let Some(bytes) = self
                .store
                .read_signatures(key.store_id(), &digest)
                .map_err(store_error)?
            else {
                continue;
            };
            let path = self
                .store
                .signatures_path(key.store_id(), &digest)
                .map_err(store_error)?;
            let parsed = parse_cosign_download(&bytes).map_err(|source| Error::StoreCorrupt {
                detail: format!("{}: {source}", path.display()),
            })?;
            location.push(path.display().to_string());
            candidates.extend(parsed);
        }
        let (verdict, enough) = self.trust.legacy_verdict(&digest, &candidates, now)?;
        let bundles = if enough {
            Vec::new()
        } else {
            match self.store.read_bundles(&digest).map_err(store_error)? {
                Some(bytes) => {
                    let path = self.store.bundles_path(&digest);
                    location.push(path.display().to_string());
                    decode_bundles(&bytes, &path.display().to_string())?
                }
                None => Vec::new(),
            }
        };
        let source = if location.is_empty() {
            format!("the signature store in {}", self.store.root().display())
        } else {
            location.join(", ")
        };
        let verification = self.trust.decide(source, &digest, verdict, &bundles, &[])?;
        let max_log_index = verification.max_log_index();
        if let (Some(floor), Some(max)) = (self.rollback_floor()?, max_log_index)
            && max < floor
        {
            return Err(Error::Rollback {
                detail: format!(
                    "the installed image's highest log index {max} is below the floor {floor}"
                ),
            });
        }
        Ok(LocalReport {
            image: self.profile.image.to_string(),
            digest,
            runtime: self.runtime.spec(),
            deep,
            log_index: max_log_index,
            verdict: verification.verdict,
            bundles: verification.bundles,
        })
    }

    async fn check_runtime_holds(
        &self,
        repository: &Reference,
        digest: &Digest,
        deep: bool,
    ) -> Result<()> {
        if let Runtime::Store(store) = &self.runtime {
            // The built-in store re-hashes what it holds: manifests and config always,
            // every layer when `deep`.
            let check = if deep {
                store.verify(digest).await
            } else {
                store.verify_sizes(digest).await
            };
            return check.map(drop).map_err(|e| match e {
                latch_runtime::RuntimeError::NotInstalled { .. } => Error::NotInstalled {
                    image: format!("{}@{digest}", repository.name()),
                    runtime: self.runtime.spec(),
                },
                other => Error::Runtime(other),
            });
        }
        if self.runtime_holds(repository, digest).await? {
            Ok(())
        } else {
            Err(Error::NotInstalled {
                image: format!("{}@{digest}", repository.name()),
                runtime: self.runtime.spec(),
            })
        }
    }

    /// Fetches, verifies and stores the remote image's signatures without pulling it.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let data = tempfile::tempdir()?;
    /// # let profile = latch::demo::profile(latch::Overrides {
    /// #     data_dir: Some(data.path().to_path_buf()),
    /// #     ..Default::default()
    /// # })?;
    /// let updater = latch::Updater::new(profile)?;
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let stored = rt.block_on(updater.store_signatures())?;
    /// assert_eq!(stored.files.len(), 1);
    /// # Ok(()) }
    /// ```
    pub async fn store_signatures(&self) -> Result<StoreReport> {
        let _lock = self.lock(true).await?;
        let remote = self.fetch_remote(now_unix()).await?;
        let digest = remote.manifest.digest().clone();
        let mut files = self.write_signatures(&digest, &remote.signatures)?;
        files.extend(self.write_bundles(&digest, &remote.bundles)?);
        Ok(StoreReport {
            digest,
            files,
            log_index: remote.verification.max_log_index(),
        })
    }

    /// Whether update checks are on (the user's choice, else the profile's default).
    pub fn updates_enabled(&self) -> Result<bool> {
        let state = self.store.state().map_err(store_error)?;
        Ok(state
            .updates_enabled
            .unwrap_or(self.profile.updates_default))
    }

    /// Records the user's choice about update checks.
    pub fn set_updates_enabled(&self, enabled: bool) -> Result<()> {
        let _lock = self.store.lock(true).map_err(store_error)?;
        let mut state = self.store.state().map_err(store_error)?;
        state.updates_enabled = Some(enabled);
        self.store.save_state(&state).map_err(store_error)
    }

    /// Is a newer verified image available? An automatic check (`explicit` false) honours
    /// the opt-in and the cooldown. When nothing changed it costs the registry one `HEAD`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let data = tempfile::tempdir()?;
    /// # let profile = latch::demo::profile(latch::Overrides {
    /// #     data_dir: Some(data.path().to_path_buf()),
    /// #     ..Default::default()
    /// # })?;
    /// let updater = latch::Updater::new(profile)?;
    /// let rt = tokio::runtime::Runtime::new()?;
    /// // Automatic checks are opt-in: off until the user turns them on.
    /// let auto = rt.block_on(updater.check(false))?;
    /// assert_eq!(auto.status, "disabled");
    /// // An explicit check always runs.
    /// let now = rt.block_on(updater.check(true))?;
    /// assert_eq!(now.status, "not-installed");
    /// # Ok(()) }
    /// ```
    pub async fn check(&self, explicit: bool) -> Result<CheckReport> {
        let now = now_unix();
        let state = self.store.state().map_err(store_error)?;
        let repository = self.repository();
        let installed = state
            .installed
            .as_ref()
            .filter(|i| i.repository == repository.name())
            .map(|i| i.signed_digest.clone());
        let mut report = CheckReport {
            status: "up-to-date",
            image: self.profile.image.to_string(),
            installed: installed.clone(),
            remote: None,
            log_index: None,
            next_check: state.next_check,
            contacted_registry: false,
        };
        if !explicit {
            if !state
                .updates_enabled
                .unwrap_or(self.profile.updates_default)
            {
                report.status = "disabled";
                return Ok(report);
            }
            if state.next_check.is_some_and(|n| (now.max(0) as u64) < n) {
                report.status = "cooldown";
                return Ok(report);
            }
        }
        report.contacted_registry = matches!(self.profile.source, Source::Registry);
        let remote_digest = match &self.profile.source {
            Source::Registry => match self.client.head_manifest(&self.profile.image).await? {
                Some(ManifestHead {
                    digest: Some(d), ..
                }) => Some(d),
                // No Docker-Content-Digest on HEAD: hash the manifest itself.
                Some(ManifestHead { digest: None, .. }) => Some(
                    self.client
                        .get_manifest(&self.profile.image)
                        .await?
                        .digest()
                        .clone(),
                ),
                None => {
                    return Err(Error::Registry(RegistryError::NotFound {
                        what: format!("manifest {}", self.profile.image),
                        url: self.profile.image.to_string(),
                    }));
                }
            },
            Source::Layout(_) => None,
        };
        let unchanged = remote_digest.is_some() && remote_digest == installed;
        if unchanged {
            // Still `latest`: its newest accepted signature must not be too old either (the
            // state keeps its log time), or the registry may be withholding updates.
            if let (Some(max_age), Some(t)) =
                (self.profile.max_signature_age, state.integrated_time)
                && now.saturating_sub(t) > max_age.as_secs() as i64
            {
                return Err(Error::FreezeSuspected {
                    detail: format!(
                        "{} still serves the installed image, whose newest signature was logged {} ago, more than the maximum of {}: the registry may be withholding updates",
                        self.profile.image,
                        format_duration(Duration::from_secs(now.saturating_sub(t) as u64)),
                        format_duration(max_age)
                    ),
                });
            }
            report.remote = remote_digest;
        } else {
            let remote = self.fetch_remote(now).await?;
            let mut warnings = Vec::new();
            self.check_rollback(&state, &remote.verification, false, &mut warnings)?;
            self.check_freeze(&remote.verification, now)?;
            let d = remote.manifest.digest().clone();
            report.log_index = remote.verification.max_log_index();
            report.status = match &installed {
                Some(i) if *i == d => "up-to-date",
                Some(_) => "update-available",
                None => "not-installed",
            };
            report.remote = Some(d);
        }
        // Record the check (best effort under the lock: a running upgrade wins).
        if let Ok(_lock) = self.store.lock(false) {
            let mut state = self.store.state().map_err(store_error)?;
            let now_u = now.max(0) as u64;
            state.last_check = Some(now_u);
            let next = now_u + self.profile.cooldown.as_secs() + jitter(self.profile.jitter);
            state.next_check = Some(next);
            report.next_check = Some(next);
            self.store.save_state(&state).map_err(store_error)?;
        }
        Ok(report)
    }

    /// What is installed and how Latch is set up.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let data = tempfile::tempdir()?;
    /// # let profile = latch::demo::profile(latch::Overrides {
    /// #     data_dir: Some(data.path().to_path_buf()),
    /// #     ..Default::default()
    /// # })?;
    /// let updater = latch::Updater::new(profile)?;
    /// let rt = tokio::runtime::Runtime::new()?;
    /// let status = rt.block_on(updater.status())?;
    /// assert!(status.installed.is_none());
    /// assert_eq!(status.threshold, 1);
    /// # Ok(()) }
    /// ```
    pub async fn status(&self) -> Result<StatusReport> {
        let state = self.store.state().map_err(store_error)?;
        let repository = self.repository();
        let runtime_digests = match self.runtime.images(&repository).await {
            Ok(images) => images.into_iter().flat_map(|i| i.pinned).collect(),
            Err(_) => Vec::new(),
        };
        Ok(StatusReport {
            profile: format!("{} ({})", self.profile.name, self.profile.origin),
            image: self.profile.image.to_string(),
            runtime: self.runtime.spec(),
            data_dir: self.profile.data_dir.clone(),
            source: match &self.profile.source {
                Source::Registry => "registry".into(),
                Source::Layout(p) => format!("oci:{}", p.display()),
            },
            keys: self
                .trust
                .legacy()
                .map(|p| p.keys())
                .unwrap_or_default()
                .iter()
                .map(|k| k.store_id().to_owned())
                .collect(),
            identities: self
                .profile
                .identities
                .iter()
                .map(|i| {
                    format!(
                        "{} from {}",
                        i.san.as_deref().or(i.san_regex.as_deref()).unwrap_or("?"),
                        i.issuer
                    )
                })
                .collect(),
            threshold: self.trust.threshold(),
            tlog: self
                .trust
                .legacy()
                .map(|p| p.tlog().as_str())
                .unwrap_or("required")
                .to_owned(),
            installed: state.installed.clone(),
            runtime_digests,
            last_log_index: self.store.last_log_index().map_err(store_error)?,
            rollback_floor: self.rollback_floor()?,
            updates_enabled: state
                .updates_enabled
                .unwrap_or(self.profile.updates_default),
            last_check: state.last_check,
            next_check: state.next_check,
        })
    }
}

/// The signatures of an OCI layout mirror: the manifest named `sha256-<hex>.sig` (as a
/// registry tag would be), and any `cosign save` entry of kind `sigs`.
pub(crate) fn layout_signatures(layout: &OciLayout, digest: &Digest) -> Result<Vec<Candidate>> {
    let index = layout.index().map_err(|e| Error::Invalid(e.to_string()))?;
    let sig_name = format!("{}.sig", digest.tag_form());
    let mut out = Vec::new();
    for d in &index.manifests {
        let named =
            d.annotation(latch_oci::manifest::ANNOTATION_REF_NAME) == Some(sig_name.as_str());
        let saved = d.annotation(KIND_ANNOTATION) == Some(KIND_SIGS);
        if !named && !saved {
            continue;
        }
        let m = layout
            .read_manifest(d)
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let Some(image) = m.as_image() else { continue };
        let mut blobs = Vec::new();
        for l in &image.layers {
            if let Ok(b) = layout.read_blob(&l.digest, MAX_PAYLOAD_BYTES) {
                blobs.push((l.clone(), b));
            }
        }
        let location = layout.root().display().to_string();
        out.extend(
            signatures_from_manifest(image, &blobs)
                .map_err(|source| Error::BadSignatures { location, source })?,
        );
    }
    Ok(out)
}

/// The bytes of the bundles `verification` accepted, to store.
pub(crate) fn accepted_bundles(
    verification: &Verification,
    fetched: &[FetchedBundle],
) -> Vec<Vec<u8>> {
    verification
        .bundles
        .iter()
        .filter_map(|v| fetched.iter().find(|f| f.location == v.location))
        .map(|f| f.bytes.clone())
        .collect()
}

/// Where cosign v3 signatures are looked for.
pub(crate) enum BundleSource<'a> {
    /// Referrers of the image in its registry.
    Registry,
    /// Entries of an OCI layout's index (a mirror's `index.json`, an archive's
    /// `dangerzone.json`).
    Layout(&'a OciLayout, Vec<Descriptor>),
}

/// Sigstore bundles in an OCI layout (a mirror, an unpacked archive) that refer to
/// `digest`: artifact manifests of a bundle type whose subject is `digest`, listed among
/// `entries` as a registry would list referrers. Bounded by
/// [`crate::signatures::MAX_REFERRERS`]; one that cannot be read is skipped with why.
pub(crate) fn layout_bundles(
    layout: &OciLayout,
    entries: &[Descriptor],
    digest: &Digest,
) -> Referrers {
    use latch_sigstore::cosign::is_bundle_media_type;
    let mut out = Referrers::default();
    let candidates = entries.iter().filter(|d| {
        d.media_type == latch_oci::media_types::OCI_MANIFEST
            && d.artifact_type.as_deref().is_some_and(is_bundle_media_type)
    });
    for d in candidates.take(crate::signatures::MAX_REFERRERS) {
        let location = format!("{}@{}", layout.root().display(), d.digest);
        let read = layout
            .read_manifest(d)
            .map_err(|e| e.to_string())
            .and_then(|m| m.as_image().cloned().ok_or_else(|| "not a manifest".into()));
        let image = match read {
            Ok(i) => i,
            Err(e) => {
                out.skipped.push(format!("{location}: {e}"));
                continue;
            }
        };
        if image.subject.as_ref().map(|s| &s.digest) != Some(digest) {
            continue;
        }
        let Some(layer) = image
            .layers
            .iter()
            .find(|l| is_bundle_media_type(&l.media_type))
        else {
            out.skipped.push(format!("{location}: no bundle layer"));
            continue;
        };
        match layout.read_blob(&layer.digest, latch_sigstore::MAX_BUNDLE_BYTES as u64) {
            Ok(bytes) => out.bundles.push(FetchedBundle {
                location,
                manifest_digest: d.digest.clone(),
                predicate_type: None,
                bytes,
            }),
            Err(e) => out.skipped.push(format!("{location}: {e}")),
        }
    }
    out
}

/// The accepted signatures with the store id of the key that made each.
pub(crate) fn accepted_signatures(
    verdict: &Verdict,
    candidates: &[Candidate],
) -> Vec<(String, Signature)> {
    verdict
        .accepted()
        .filter_map(|a: &Accepted| match candidates.get(a.index) {
            Some(Ok(sig)) => Some((a.key_store_id.clone(), sig.clone())),
            _ => None,
        })
        .collect()
}

fn check_holds(
    installed: &InstalledImage,
    digest: &Digest,
    platform: Option<&Digest>,
    runtime: &Runtime,
) -> Result<()> {
    if installed.holds(digest) || platform.is_some_and(|p| installed.holds(p)) {
        return Ok(());
    }
    Err(Error::RuntimeMismatch {
        runtime: runtime.spec(),
        expected: digest.clone(),
        found: installed
            .digests
            .iter()
            .chain(installed.pinned.iter())
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn interrupt(opts: &UpgradeOptions, step: Step) -> Result<()> {
    if opts.interrupt_after == Some(step) {
        return Err(Error::Interrupted(step));
    }
    Ok(())
}

pub(crate) fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::Locked(dir) => Error::Locked(dir),
        StoreError::Corrupt { path, detail } => Error::StoreCorrupt {
            detail: format!(
                "{} is corrupt: {detail} (left in place; remove or repair it)",
                path.display()
            ),
        },
        other => Error::Store(other),
    }
}

fn short(log_id: &str) -> &str {
    &log_id[..log_id.len().min(12)]
}

/// The highest signed version among accepted signatures.
fn signed_version(verdict: &Verdict, key: &str) -> Option<String> {
    verdict
        .accepted()
        .filter_map(|a| a.payload.optional_str(key).map(str::to_owned))
        .max_by(|a, b| compare_versions(a, b))
}

/// Orders versions and nightly tags naturally: runs of digits compare as numbers, other
/// runs as text (`0.10.0` > `0.9.1`, `20250101-…` > `20241219-…`).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(rb.iter()) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ra.len().cmp(&rb.len())
}

/// A random delay in `[0, max)`, from the process's randomly seeded hasher (no crypto
/// needed: only installs must not synchronise).
fn jitter(max: Duration) -> u64 {
    let secs = max.as_secs();
    if secs == 0 {
        return 0;
    }
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_unix() as u64);
    h.finish() % secs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    /// Compiles only if the flows' futures are `Send`, so an application can spawn them
    /// on a multi-threaded runtime.
    #[allow(dead_code)]
    fn flows_are_send(u: &Updater, p: &dyn Progress, path: &std::path::Path) {
        fn send<T: Send>(_: T) {}
        let opts = UpgradeOptions::default();
        send(u.upgrade(&opts, p));
        send(u.verify_local(true));
        send(u.check(true));
        send(u.store_signatures());
        send(u.status());
        send(u.load_archive(path, &opts));
        send(u.prepare_archive(None, path, false, p));
        send(u.install(true, p));
    }

    #[test]
    fn versions_order_naturally() {
        assert_eq!(compare_versions("0.10.0", "0.9.1"), Greater);
        assert_eq!(
            compare_versions("20250101-0.9.0-1-gabc", "20241219-0.8.0-77-g06a9117"),
            Greater
        );
        assert_eq!(compare_versions("1.2", "1.2"), Equal);
        assert_eq!(compare_versions("1.2", "1.2.1"), Less);
        assert_eq!(compare_versions("007", "7"), Equal);
        assert_eq!(compare_versions("", "1"), Less);
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_secs(3600)) < 3600);
        }
        assert_eq!(jitter(Duration::ZERO), 0);
    }
}
