//! `status`: what is installed and how Latch is set up.

use std::path::PathBuf;

use latch_oci::Digest;
use latch_store::Installed;
use serde::Serialize;

use crate::error::Result;
use crate::profile::Source;
use crate::updater::Updater;

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
    /// Where those keys come from: `profile`, or `trust document version N` (a key
    /// rotation followed).
    pub keys_from: String,
    /// Trusted keyless identities (`SAN from issuer`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
    /// Distinct trusted signers (keys and identities) required.
    pub threshold: usize,
    /// The SLSA provenance required on top of the signatures (one line per allowed
    /// policy: repository, workflow, ref), empty when none is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<String>,
    /// Transparency-log mode for key signatures.
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
    /// The last image that failed its health check (`digest`, `reason`, `at`): skipped
    /// until a newer one is signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<latch_store::Failed>,
    /// The health check in force (the argv), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Vec<String>>,
    /// The key rotation in force, when the profile follows rotations
    /// (docs/trust-rotation.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustInForce>,
    /// The Sigstore trusted roots kept current over TUF that the trust reads (identities,
    /// logs, provenance): the repository, the TUF root version and metadata expiries
    /// held, and a warning when stale or unused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sigstore_roots: Vec<crate::trust::SigstoreRoot>,
}

/// The key rotation version in force.
#[derive(Debug, Clone, Serialize)]
pub struct TrustInForce {
    /// 1: the profile's keys; N: the newest trust document followed.
    pub version: u64,
    /// When that version expires (Unix seconds; `None` for version 1). Past it, the
    /// version stays in force for what is installed; adopting newer images needs a newer
    /// version.
    pub expires: Option<i64>,
    /// Log ids of the keys of that version.
    pub keys: Vec<String>,
    /// Keys revoked so far: log id and distrust time.
    pub revoked: Vec<RevokedKey>,
}

/// A revoked key.
#[derive(Debug, Clone, Serialize)]
pub struct RevokedKey {
    /// Its log id.
    pub key: String,
    /// Its signatures logged from this time on (Unix seconds) do not count.
    pub distrust_after: i64,
}

impl Updater {
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
        let state = self.store.state()?;
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
                .trust()
                .keys()
                .iter()
                .map(|k| k.store_id().to_owned())
                .collect(),
            identities: self
                .trust()
                .identities()
                .iter()
                .map(|i| format!("{} from {}", i.san, i.issuer))
                .collect(),
            threshold: self.trust().threshold(),
            provenance: self
                .trust()
                .provenance()
                .map(|p| {
                    p.policies
                        .iter()
                        .map(latch_decide::provenance::describe)
                        .collect()
                })
                .unwrap_or_default(),
            // Keyless signatures are always logged; the mode is the keys'.
            tlog: if self.trust().keys().is_empty() {
                "required".to_owned()
            } else {
                self.trust().tlog().as_str().to_owned()
            },
            installed: state.installed.clone(),
            runtime_digests,
            last_log_index: self.store.last_log_index()?,
            rollback_floor: self.rollback_floor()?,
            updates_enabled: state
                .updates_enabled
                .unwrap_or(self.profile.updates_default),
            last_check: state.last_check,
            next_check: state.next_check,
            failed: state.failed.clone(),
            health_check: match &self.profile.health_check {
                Some(crate::flows::health::HealthCheck::Command { argv, .. }) => Some(argv.clone()),
                Some(crate::flows::health::HealthCheck::Callback(_)) => Some(vec!["(code)".into()]),
                None => None,
            },
            keys_from: match self.trust_version() {
                Some(v) if v > 1 => format!("trust document version {v}"),
                _ => "profile".to_owned(),
            },
            sigstore_roots: self.sigstore_roots(crate::verify::now_unix()),
            trust: self.in_force().succession.map(|s| TrustInForce {
                version: s.version(),
                expires: s.expires(),
                keys: s.keys().iter().map(|k| k.log_id().to_owned()).collect(),
                revoked: s
                    .revoked()
                    .iter()
                    .map(|r| RevokedKey {
                        key: r.key.log_id().to_owned(),
                        distrust_after: r.distrust_after,
                    })
                    .collect(),
            }),
        })
    }
}
