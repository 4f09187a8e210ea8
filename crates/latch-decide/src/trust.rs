//! What a decision trusts: keys and keyless identities, how many distinct ones must have
//! signed, what the transparency log must show, the roots that vouch for logs and
//! certificates, and the repository `.sig` signatures must name. Built from keys and roots
//! already read (reading files is the caller's job).

use latch_oci::Reference;
use latch_sigstore::{IdentityPolicy, Signer as BundleSigner, TlogRequirement, TrustRoot};
use latch_trust::{Policy, PolicyError, PublicKey, TlogMode};
use serde::Serialize;

/// Why a trust cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Neither a key nor an identity.
    #[error("nothing is trusted: give at least one key or keyless identity")]
    NoSigners,
    /// A threshold of 0, or above the number of trusted keys and identities.
    #[error(
        "threshold {threshold} is impossible with {signers} trusted key(s) and identit(ies) (1 to {signers})"
    )]
    BadThreshold {
        /// The threshold asked.
        threshold: usize,
        /// Keys and identities trusted.
        signers: usize,
    },
    /// The keys (with the log mode and Rekor keys) do not make a coherent policy: a key
    /// given twice (in any encoding), or a log required with no Rekor key.
    #[error(transparent)]
    Keys(#[from] PolicyError),
    /// Identities are trusted but no root to check their certificates against was given.
    #[error("keyless identities are trusted, but no Sigstore trusted root was given")]
    NoIdentityRoot,
    /// Provenance is required but no policy says from where.
    #[error("provenance is required but no repository and workflow are given")]
    NoProvenancePolicy,
}

/// One trusted signer, as counted towards the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum TrustedSigner {
    /// A trusted key.
    Key {
        /// Hex sha256 of its canonical DER.
        log_id: String,
        /// Hex sha256 of its PEM file as given (its folder in the signature store).
        store_id: String,
    },
    /// A trusted keyless identity of the profile.
    Identity {
        /// Its position among the trusted identities.
        index: usize,
        /// The OIDC issuer.
        issuer: String,
        /// The SAN, or the pattern over it.
        san: String,
    },
}

impl std::fmt::Display for TrustedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustedSigner::Key { log_id, .. } => {
                write!(f, "key {}", log_id.get(..12).unwrap_or(log_id))
            }
            TrustedSigner::Identity { issuer, san, .. } => {
                write!(f, "identity {san} from {issuer}")
            }
        }
    }
}

/// Keys and identities, loaded, with everything the decision needs derived once.
#[derive(Debug)]
pub struct Trust {
    identities: Vec<IdentityPolicy>,
    threshold: usize,
    tlog: TlogMode,
    repository: Option<Reference>,
    /// The legacy `.sig` policy over the keys (`None` without keys).
    legacy: Option<Policy>,
    /// The keys as bundle signers, named by their log id.
    key_signers: Vec<BundleSigner>,
    /// The root made of the pinned Rekor keys, for key-signed bundles, built the first
    /// time a bundle needs it (a process that verifies only `.sig` signatures never pays
    /// for it); or the trusted root the logs come from ([`TrustBuilder::log_root`]).
    key_root: std::sync::OnceLock<Result<TrustRoot, String>>,
    /// The identities as bundle signers.
    identity_signers: Vec<BundleSigner>,
    /// The root keyless certificates chain to (`None` without identities).
    identity_root: Option<TrustRoot>,
    /// SLSA provenance required on top of the signatures.
    provenance: Option<Provenance>,
    /// Revoked keys (log id, distrust time): among the keys, but counted only for what
    /// the log shows they signed before that time.
    revoked: Vec<(String, i64)>,
}

/// The provenance an image must have on top of its signatures: a SLSA provenance
/// attestation for the same digest, signed (keyless, GitHub Actions) by the expected
/// workflow of the expected repository on an allowed ref, under `root`.
#[derive(Debug)]
pub struct Provenance {
    /// Accepted when any of them is satisfied (one per allowed ref or ref pattern).
    pub policies: Vec<latch_sigstore::provenance::ProvenancePolicy>,
    /// The Sigstore root the workflow's certificate chains to.
    pub root: TrustRoot,
}

/// Builds a [`Trust`]; [`TrustBuilder::build`] checks it is coherent.
#[derive(Debug, Default)]
pub struct TrustBuilder {
    keys: Vec<PublicKey>,
    identities: Vec<IdentityPolicy>,
    threshold: Option<usize>,
    tlog: Option<TlogMode>,
    rekor_keys: Vec<PublicKey>,
    repository: Option<Reference>,
    identity_root: Option<TrustRoot>,
    log_root: Option<TrustRoot>,
    provenance: Option<Provenance>,
    revoked: Vec<(String, i64)>,
}

impl TrustBuilder {
    /// Trusts a signing key.
    pub fn key(mut self, key: PublicKey) -> TrustBuilder {
        self.keys.push(key);
        self
    }

    /// Trusts signing keys.
    pub fn keys(mut self, keys: impl IntoIterator<Item = PublicKey>) -> TrustBuilder {
        self.keys.extend(keys);
        self
    }

    /// Trusts a revoked key (a trust document's, `latch-rotation`) for what the
    /// transparency log shows it signed before `distrust_after` (Unix seconds) only: its
    /// signatures logged at or after that time, or with no log time (a time the signer
    /// merely claims does not count), are refused as [`crate::Refusal::Revoked`].
    pub fn revoked_key(mut self, key: PublicKey, distrust_after: i64) -> TrustBuilder {
        self.revoked.push((key.log_id().to_owned(), distrust_after));
        self.keys.push(key);
        self
    }

    /// Trusts a keyless identity.
    pub fn identity(mut self, identity: IdentityPolicy) -> TrustBuilder {
        self.identities.push(identity);
        self
    }

    /// Trusts keyless identities.
    pub fn identities(
        mut self,
        identities: impl IntoIterator<Item = IdentityPolicy>,
    ) -> TrustBuilder {
        self.identities.extend(identities);
        self
    }

    /// How many distinct trusted signers must have signed (default 1).
    pub fn threshold(mut self, threshold: usize) -> TrustBuilder {
        self.threshold = Some(threshold);
        self
    }

    /// What key signatures must show of the transparency log. Default: required when a
    /// Rekor key is pinned, else ignored (as skopeo and podman accept signatures without
    /// a log entry). This is the one place that default is chosen.
    pub fn tlog(mut self, mode: TlogMode) -> TrustBuilder {
        self.tlog = Some(mode);
        self
    }

    /// Like [`TrustBuilder::tlog`], leaving the default when `None`.
    pub fn tlog_opt(mut self, mode: Option<TlogMode>) -> TrustBuilder {
        self.tlog = mode;
        self
    }

    /// Pins a Rekor log key (for key signatures' SETs and key-signed bundles).
    pub fn rekor_key(mut self, key: PublicKey) -> TrustBuilder {
        self.rekor_keys.push(key);
        self
    }

    /// Pins Rekor log keys.
    pub fn rekor_keys(mut self, keys: impl IntoIterator<Item = PublicKey>) -> TrustBuilder {
        self.rekor_keys.extend(keys);
        self
    }

    /// The repository every `.sig` signature must name (tag and digest ignored).
    pub fn repository(mut self, repository: Reference) -> TrustBuilder {
        self.repository = Some(repository);
        self
    }

    /// The Sigstore root keyless certificates (legacy `.sig` and bundles) chain to.
    pub fn identity_root(mut self, root: TrustRoot) -> TrustBuilder {
        self.identity_root = Some(root);
        self
    }

    /// Where the logs come from when key signatures must show one (the log required or
    /// optional) and no Rekor key is pinned: this trusted root's logs (Rekor v1 keys and
    /// v2 shards), each key counted only for entries integrated within its `validFor`
    /// window. Ignored when a Rekor key is pinned.
    pub fn log_root(mut self, root: TrustRoot) -> TrustBuilder {
        self.log_root = Some(root);
        self
    }

    /// Requires SLSA provenance on top of the signatures.
    pub fn provenance(mut self, provenance: Provenance) -> TrustBuilder {
        self.provenance = Some(provenance);
        self
    }

    /// Checks and builds the trust.
    pub fn build(self) -> Result<Trust, TrustError> {
        let signers = self.keys.len() + self.identities.len();
        if signers == 0 {
            return Err(TrustError::NoSigners);
        }
        if self
            .provenance
            .as_ref()
            .is_some_and(|p| p.policies.is_empty())
        {
            return Err(TrustError::NoProvenancePolicy);
        }
        let threshold = self.threshold.unwrap_or(1);
        if threshold == 0 || threshold > signers {
            return Err(TrustError::BadThreshold { threshold, signers });
        }
        let tlog = self.tlog.unwrap_or(if self.rekor_keys.is_empty() {
            TlogMode::Ignored
        } else {
            TlogMode::Required
        });
        let log_root = self
            .log_root
            .filter(|_| self.rekor_keys.is_empty() && tlog != TlogMode::Ignored);
        let legacy = if self.keys.is_empty() {
            None
        } else {
            let mut b = Policy::builder().keys(self.keys.iter().cloned()).tlog(tlog);
            for k in &self.rekor_keys {
                b = b.rekor_key(k.clone());
            }
            if let Some(root) = log_root.as_ref() {
                b = b.logs_from_root();
                for log in root.log_keys() {
                    // A log key of an algorithm Latch does not verify cannot vouch for
                    // anything; the others still can.
                    if let Ok(key) = PublicKey::from_der(&log.der) {
                        b = b.rekor_key_within(key, log.valid_from, log.valid_until);
                    }
                }
            }
            if let Some(r) = &self.repository {
                b = b.repository(r.clone());
            }
            Some(b.build()?)
        };
        if !self.identities.is_empty() && self.identity_root.is_none() {
            return Err(TrustError::NoIdentityRoot);
        }
        let key_signers = self
            .keys
            .iter()
            .map(|k| BundleSigner::key_from_der(k.der(), k.log_id()))
            .collect();
        let identity_signers = self
            .identities
            .iter()
            .cloned()
            .map(BundleSigner::Identity)
            .collect();
        Ok(Trust {
            identities: self.identities,
            threshold,
            tlog,
            repository: self.repository,
            legacy,
            key_signers,
            key_root: match log_root {
                Some(root) => std::sync::OnceLock::from(Ok(root)),
                None => std::sync::OnceLock::new(),
            },
            identity_signers,
            identity_root: self.identity_root,
            provenance: self.provenance,
            revoked: self.revoked,
        })
    }
}

impl Trust {
    /// Starts a trust.
    pub fn builder() -> TrustBuilder {
        TrustBuilder::default()
    }

    /// The trusted keys (distinct).
    pub fn keys(&self) -> &[PublicKey] {
        self.legacy.as_ref().map(Policy::keys).unwrap_or(&[])
    }

    /// The revoked keys among [`Trust::keys`], by log id, with their distrust times.
    pub fn revoked(&self) -> &[(String, i64)] {
        &self.revoked
    }

    /// The distrust time of the key with this log id, if it is revoked.
    pub fn distrust_after(&self, log_id: &str) -> Option<i64> {
        self.revoked
            .iter()
            .find(|(id, _)| id == log_id)
            .map(|(_, t)| *t)
    }

    /// The trusted keyless identities.
    pub fn identities(&self) -> &[IdentityPolicy] {
        &self.identities
    }

    /// Distinct trusted signers required.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The provenance required on top of the signatures, if any.
    pub fn provenance(&self) -> Option<&Provenance> {
        self.provenance.as_ref()
    }

    /// What key signatures must show of the transparency log.
    pub fn tlog(&self) -> TlogMode {
        self.tlog
    }

    /// The repository `.sig` signatures must name.
    pub fn repository(&self) -> Option<&Reference> {
        self.repository.as_ref()
    }

    /// The pinned Rekor keys, as the key policy holds them (none when only identities are
    /// trusted: keyless signatures are logged in the identities' root).
    pub fn rekor_keys(&self) -> &[PublicKey] {
        self.legacy.as_ref().map(Policy::rekor_keys).unwrap_or(&[])
    }

    /// The legacy `.sig` policy over the keys (`None` when only identities are trusted).
    pub(crate) fn legacy(&self) -> Option<&Policy> {
        self.legacy.as_ref()
    }

    /// The keys as bundle signers, the root for them (or why the pinned Rekor keys make
    /// none), and the log requirement.
    pub(crate) fn key_bundles(
        &self,
    ) -> (&[BundleSigner], Result<&TrustRoot, &str>, TlogRequirement) {
        let tlog = match self.tlog {
            TlogMode::Required => TlogRequirement::Required,
            // Entries that are present are still checked against the bundle.
            TlogMode::Optional | TlogMode::Ignored => TlogRequirement::None,
        };
        let root = self
            .key_root
            .get_or_init(|| {
                let ders: Vec<Vec<u8>> =
                    self.rekor_keys().iter().map(|k| k.der().to_vec()).collect();
                TrustRoot::from_rekor_keys(&ders).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str);
        (&self.key_signers, root, tlog)
    }

    /// The identities as bundle signers and their root (`None` without identities).
    pub(crate) fn identity_bundles(&self) -> Option<(&[BundleSigner], &TrustRoot)> {
        self.identity_root
            .as_ref()
            .filter(|_| !self.identity_signers.is_empty())
            .map(|r| (self.identity_signers.as_slice(), r))
    }

    /// How many trusted signers there are (keys, then identities).
    pub(crate) fn signer_count(&self) -> usize {
        self.keys().len() + self.identities.len()
    }

    /// The trusted signer at `entry` (keys first, then identities).
    pub fn trusted_signer(&self, entry: usize) -> Option<TrustedSigner> {
        if let Some(k) = self.keys().get(entry) {
            return Some(TrustedSigner::Key {
                log_id: k.log_id().to_owned(),
                store_id: k.store_id().to_owned(),
            });
        }
        let index = entry - self.keys().len();
        self.identities.get(index).map(|i| TrustedSigner::Identity {
            index,
            issuer: i.issuer.clone(),
            san: i.san.to_string(),
        })
    }

    /// The entry of the trusted key with this log id.
    pub(crate) fn key_entry(&self, log_id: &str) -> Option<usize> {
        self.keys().iter().position(|k| k.log_id() == log_id)
    }

    /// The entry of the identity at `index` among the identities.
    pub(crate) fn identity_entry(&self, index: usize) -> Option<usize> {
        (index < self.identities.len()).then_some(self.keys().len() + index)
    }

    /// Every trusted signer, in entry order.
    pub fn trusted_signers(&self) -> Vec<TrustedSigner> {
        (0..self.signer_count())
            .filter_map(|e| self.trusted_signer(e))
            .collect()
    }
}
