//! What a verifier of legacy `.sig` signatures trusts: signing keys, what to require of the
//! transparency log, and which repository signatures must name. How many distinct signers
//! must have signed is not here: counting signers (keys and keyless identities, legacy
//! signatures and bundles together) is the one decision of `latch-decide`.

use latch_oci::Reference;

use crate::keys::PublicKey;

/// What to require of the Rekor bundle of each signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlogMode {
    /// Every accepted signature carries a bundle that verifies with a pinned Rekor key.
    Required,
    /// A bundle is verified when present (an invalid one rejects its signature); a
    /// signature without one is accepted.
    Optional,
    /// Bundles are not looked at (skopeo and podman without a Rekor key do the same).
    Ignored,
}

impl TlogMode {
    /// The lowercase name: `required`, `optional` or `ignored`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlogMode::Required => "required",
            TlogMode::Optional => "optional",
            TlogMode::Ignored => "ignored",
        }
    }
}

impl std::fmt::Display for TlogMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TlogMode {
    type Err = String;

    /// Reads `required`, `optional` or `ignored` (as a command line spells them).
    fn from_str(s: &str) -> Result<TlogMode, String> {
        match s {
            "required" => Ok(TlogMode::Required),
            "optional" => Ok(TlogMode::Optional),
            "ignored" => Ok(TlogMode::Ignored),
            other => Err(format!(
                "unknown transparency log mode {other:?} (required, optional or ignored)"
            )),
        }
    }
}

/// Why a policy cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No trusted key.
    #[error("a policy needs at least one trusted key")]
    NoKeys,
    /// The same key given twice, in any encoding (it would count twice towards a
    /// threshold).
    #[error("trusted key {log_id} is given twice")]
    DuplicateKey {
        /// sha256 of the key's DER.
        log_id: String,
    },
    /// The log is required or optional but no Rekor key is pinned.
    #[error(
        "transparency log mode {mode:?} needs at least one pinned Rekor key (or use TlogMode::Ignored)"
    )]
    NoRekorKeys {
        /// The mode asked.
        mode: TlogMode,
    },
}

/// A verification policy, built with [`Policy::builder`].
#[derive(Debug, Clone)]
pub struct Policy {
    keys: Vec<PublicKey>,
    tlog: TlogMode,
    rekor_keys: Vec<PublicKey>,
    windows: Vec<LogKeyWindow>,
    repository: Option<Reference>,
    clock_skew_secs: u32,
}

/// When a Rekor key may have signed: entries it integrated outside the window are
/// refused (a trusted root's `validFor`: a retired or not yet active log key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKeyWindow {
    /// The key's log id.
    pub log_id: String,
    /// Unix seconds its window starts (inclusive).
    pub valid_from: Option<i64>,
    /// Unix seconds it ends (inclusive).
    pub valid_until: Option<i64>,
}

impl Policy {
    /// Starts a policy: transparency log [`TlogMode::Required`], no repository constraint,
    /// no clock skew.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder {
            keys: Vec::new(),
            tlog: TlogMode::Required,
            rekor_keys: Vec::new(),
            windows: Vec::new(),
            repository: None,
            clock_skew_secs: 0,
            logs_from_root: false,
        }
    }

    /// The trusted signing keys (distinct).
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// What is required of the transparency log.
    pub fn tlog(&self) -> TlogMode {
        self.tlog
    }

    /// The pinned Rekor keys (several for key rotation; picked by logID).
    pub fn rekor_keys(&self) -> &[PublicKey] {
        &self.rekor_keys
    }

    /// The validity window of the Rekor key with `log_id`, if it has one.
    pub fn log_key_window(&self, log_id: &str) -> Option<&LogKeyWindow> {
        self.windows.iter().find(|w| w.log_id == log_id)
    }

    /// The repository every accepted signature must name, if constrained.
    pub fn repository(&self) -> Option<&Reference> {
        self.repository.as_ref()
    }

    /// Seconds by which a bundle's `integratedTime` may be ahead of `now`.
    pub fn clock_skew_secs(&self) -> u32 {
        self.clock_skew_secs
    }
}

/// Builds a [`Policy`]; [`PolicyBuilder::build`] checks it is coherent.
#[derive(Debug, Clone)]
pub struct PolicyBuilder {
    keys: Vec<PublicKey>,
    tlog: TlogMode,
    rekor_keys: Vec<PublicKey>,
    windows: Vec<LogKeyWindow>,
    repository: Option<Reference>,
    clock_skew_secs: u32,
    logs_from_root: bool,
}

impl PolicyBuilder {
    /// Adds a trusted signing key.
    pub fn key(mut self, key: PublicKey) -> PolicyBuilder {
        self.keys.push(key);
        self
    }

    /// Adds trusted signing keys.
    pub fn keys(mut self, keys: impl IntoIterator<Item = PublicKey>) -> PolicyBuilder {
        self.keys.extend(keys);
        self
    }

    /// Sets the transparency log mode (default [`TlogMode::Required`]).
    pub fn tlog(mut self, mode: TlogMode) -> PolicyBuilder {
        self.tlog = mode;
        self
    }

    /// Pins a Rekor log key.
    pub fn rekor_key(mut self, key: PublicKey) -> PolicyBuilder {
        self.rekor_keys.push(key);
        self
    }

    /// Pins a Rekor log key valid only for entries integrated within
    /// `[valid_from, valid_until]` (Unix seconds; `None`: open).
    pub fn rekor_key_within(
        mut self,
        key: PublicKey,
        valid_from: Option<i64>,
        valid_until: Option<i64>,
    ) -> PolicyBuilder {
        self.windows.push(LogKeyWindow {
            log_id: key.log_id().to_owned(),
            valid_from,
            valid_until,
        });
        self.rekor_keys.push(key);
        self
    }

    /// The Rekor keys are a trusted root's logs (each added with
    /// [`PolicyBuilder::rekor_key_within`]), and the root may list none: one kept current
    /// over TUF that was never read yet. The policy then builds, and a required log
    /// refuses every signature (no entry can be vouched for) until the root lists logs.
    /// Without this, a log required or optional with no key is a mistake
    /// ([`PolicyError::NoRekorKeys`]).
    pub fn logs_from_root(mut self) -> PolicyBuilder {
        self.logs_from_root = true;
        self
    }

    /// Requires every signature's `docker-reference` to name this repository (tag and
    /// digest ignored; `index.docker.io` equals `docker.io`).
    pub fn repository(mut self, repository: Reference) -> PolicyBuilder {
        self.repository = Some(repository);
        self
    }

    /// Lets a bundle's `integratedTime` be up to `secs` seconds ahead of `now` (default 0).
    pub fn clock_skew_secs(mut self, secs: u32) -> PolicyBuilder {
        self.clock_skew_secs = secs;
        self
    }

    /// Checks and builds the policy.
    pub fn build(self) -> Result<Policy, PolicyError> {
        if self.keys.is_empty() {
            return Err(PolicyError::NoKeys);
        }
        for (i, k) in self.keys.iter().enumerate() {
            if self.keys[..i].iter().any(|o| o.der() == k.der()) {
                return Err(PolicyError::DuplicateKey {
                    log_id: k.log_id().to_owned(),
                });
            }
        }
        if self.tlog != TlogMode::Ignored && self.rekor_keys.is_empty() && !self.logs_from_root {
            return Err(PolicyError::NoRekorKeys { mode: self.tlog });
        }
        Ok(Policy {
            keys: self.keys,
            tlog: self.tlog,
            rekor_keys: self.rekor_keys,
            windows: self.windows,
            repository: self.repository,
            clock_skew_secs: self.clock_skew_secs,
        })
    }
}
