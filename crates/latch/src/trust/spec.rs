//! The trust as a profile or a command line writes it (key files or inline PEM, identity
//! policies, a root to choose), and loading it into a [`latch_decide::Trust`]: every file
//! read bounded, nothing fetched.

use std::path::PathBuf;

use latch_decide::Trust;
use latch_oci::Reference;
use latch_sigstore::{IdentityPolicy, TrustRoot};
use latch_trust::{PublicKey, TlogMode};

use crate::error::{Error, Result};

/// Bound on a key file.
const MAX_KEY_FILE: u64 = 64 * 1024;
/// Bound on a trusted root file.
const MAX_ROOT_FILE: u64 = 16 * 1024 * 1024;
/// Bound on an initial TUF root file.
const MAX_TUF_ROOT: u64 = 512 * 1024;

/// Where a trusted key comes from: a file, or PEM text (a profile may inline it).
///
/// A file's path is read as it is, never joined to a base here: whoever builds a
/// `KeySource` resolves it first ([`crate::profile::resolve_path`]; profiles and flags make
/// it absolute), so a relative path could only mean the current directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// A PEM file. Its exact bytes name its signature-store folder.
    File(PathBuf),
    /// PEM text.
    Inline(String),
}

impl KeySource {
    /// Reads and parses the key.
    pub fn load(&self) -> Result<PublicKey> {
        match self {
            KeySource::File(p) => {
                let bytes =
                    latch_oci::layout::read_bounded(p, MAX_KEY_FILE).map_err(Error::io(p))?;
                PublicKey::from_pem(&bytes).map_err(|source| Error::Key {
                    path: p.display().to_string(),
                    source,
                })
            }
            KeySource::Inline(pem) => {
                PublicKey::from_pem(pem.as_bytes()).map_err(|source| Error::Key {
                    path: "inline PEM".into(),
                    source,
                })
            }
        }
    }
}

/// Which Sigstore trusted root keyless signatures chain to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RootChoice {
    /// The public-good production root built into Latch, never refreshed.
    #[default]
    Production,
    /// The public-good staging root built into Latch.
    Staging,
    /// A `trusted_root.json` file (read as it is, like [`KeySource::File`]).
    File(PathBuf),
    /// The newest root a TUF repository vouched for, kept current by `check` and
    /// `upgrade` ([`latch_tuf`]); before its first refresh, `start`.
    Tuf {
        /// The repository and its initial TUF root.
        repository: latch_tuf::TufRepository,
        /// The root used until the repository was read once (the built-in public-good
        /// root for the public-good repository); `None`: a root that trusts nothing, so
        /// that signatures needing one are refused until then.
        start: Option<Box<RootChoice>>,
    },
}

impl RootChoice {
    /// The public-good root kept current over Sigstore's TUF repository, starting from
    /// the one built in.
    pub fn public_good_tuf() -> RootChoice {
        RootChoice::Tuf {
            repository: latch_tuf::TufRepository::public_good(),
            start: Some(Box::new(RootChoice::Production)),
        }
    }

    /// The root kept current over the TUF repository at `url`, whose initial TUF root
    /// (the `1.root.json` shipped out of band) is the file `initial_root`, read bounded;
    /// `start` is used until the repository is first read (`None`: nothing is trusted
    /// until then).
    pub fn tuf_from_file(
        url: &str,
        initial_root: &std::path::Path,
        start: Option<RootChoice>,
    ) -> Result<RootChoice> {
        let bytes = latch_oci::layout::read_bounded(initial_root, MAX_TUF_ROOT)
            .map_err(Error::io(initial_root))?;
        Ok(RootChoice::Tuf {
            repository: latch_tuf::TufRepository::new(
                url,
                bytes,
                &initial_root.display().to_string(),
            )?,
            start: start.map(Box::new),
        })
    }

    /// The TUF repository the root is kept current from, if it is.
    pub fn tuf_repository(&self) -> Option<&latch_tuf::TufRepository> {
        match self {
            RootChoice::Tuf { repository, .. } => Some(repository),
            _ => None,
        }
    }

    /// Loads the root (a file is read bounded; nothing is fetched). A TUF-kept root is
    /// read from `tuf` (the data directory's, verified again from the initial TUF root),
    /// else the starting one; a kept state that no longer verifies is not used.
    pub fn load_from(&self, tuf: Option<&latch_tuf::TufCache>) -> Result<TrustRoot> {
        Ok(match self {
            RootChoice::Production => TrustRoot::production()?,
            RootChoice::Staging => TrustRoot::staging()?,
            RootChoice::File(p) => {
                let bytes =
                    latch_oci::layout::read_bounded(p, MAX_ROOT_FILE).map_err(Error::io(p))?;
                TrustRoot::from_json(&bytes, &p.display().to_string())?
            }
            RootChoice::Tuf { repository, start } => {
                let held = tuf.and_then(|c| c.held(repository).ok().flatten());
                match (held, start) {
                    (Some(v), _) => TrustRoot::from_json(
                        &v.trusted_root,
                        &format!(
                            "{} from {} (TUF root version {})",
                            latch_tuf::TRUSTED_ROOT_TARGET,
                            repository.url(),
                            v.info.root_version
                        ),
                    )?,
                    (None, Some(start)) => start.load_from(None)?,
                    (None, None) => TrustRoot::empty(&format!(
                        "none yet: the TUF repository {} has not been read (`latch check` online reads it)",
                        repository.url()
                    ))?,
                }
            }
        })
    }

    /// [`RootChoice::load_from`] without a data directory.
    pub fn load(&self) -> Result<TrustRoot> {
        self.load_from(None)
    }
}

/// What a trust is made of, before the files are read.
#[derive(Debug, Clone, Default)]
pub struct TrustSpec {
    /// Trusted signing keys.
    pub keys: Vec<KeySource>,
    /// Trusted keyless identities.
    pub identities: Vec<IdentityPolicy>,
    /// Distinct trusted signers (keys and identities) that must have signed (default 1).
    pub threshold: Option<usize>,
    /// Pinned Rekor keys.
    pub rekor_keys: Vec<KeySource>,
    /// Transparency-log mode for key signatures; `None` takes the one default
    /// ([`latch_decide::TrustBuilder::tlog`]).
    pub tlog: Option<TlogMode>,
    /// The repository `.sig` signatures must name.
    pub repository: Option<Reference>,
    /// The root keyless certificates chain to (read only when identities are trusted).
    pub root: RootChoice,
    /// The SLSA provenance required on top of the signatures.
    pub provenance: Option<ProvenanceSpec>,
}

/// The provenance required, before the root is read.
#[derive(Debug, Clone)]
pub struct ProvenanceSpec {
    /// Accepted when any is satisfied (one per allowed ref or ref pattern).
    pub policies: Vec<latch_sigstore::provenance::ProvenancePolicy>,
    /// The root the workflow's certificate chains to.
    pub root: RootChoice,
}

impl TrustSpec {
    /// Reads the keys (and, with identities, the root) and builds the trust.
    pub fn load(&self) -> Result<Trust> {
        self.load_with(None, None)
    }

    /// Whether the trust reads its Sigstore root: for identities, and for the logs of key
    /// signatures (when they must show a log and no Rekor key is pinned).
    fn root_uses(&self) -> (bool, bool) {
        let for_identities = !self.identities.is_empty();
        let for_logs = self.rekor_keys.is_empty()
            && matches!(self.tlog, Some(TlogMode::Required | TlogMode::Optional));
        (for_identities, for_logs)
    }

    /// The TUF repositories whose roots the trust reads (the trust's and the
    /// provenance's, each once): the ones `check` and `upgrade` refresh.
    pub fn tuf_repositories(&self) -> Vec<&latch_tuf::TufRepository> {
        let (for_identities, for_logs) = self.root_uses();
        let mut out: Vec<&latch_tuf::TufRepository> = Vec::new();
        let trust_root = (for_identities || for_logs).then_some(&self.root);
        let provenance_root = self.provenance.as_ref().map(|p| &p.root);
        for repo in [trust_root, provenance_root]
            .into_iter()
            .flatten()
            .filter_map(RootChoice::tuf_repository)
        {
            if !out.contains(&repo) {
                out.push(repo);
            }
        }
        out
    }

    /// Reads the trusted keys (version 1 of a key rotation chain).
    pub fn load_keys(&self) -> Result<Vec<latch_trust::PublicKey>> {
        self.keys.iter().map(KeySource::load).collect()
    }

    /// Builds the trust, with the keys of `rotation` when it is past version 1: its keys
    /// and threshold instead of the profile's, and its revoked keys counted only for
    /// what was logged before their distrust time. Identities, the log and provenance
    /// stay the profile's. Roots kept current over TUF are read from `tuf`.
    pub fn load_with(
        &self,
        rotation: Option<&latch_rotation::Succession>,
        tuf: Option<&latch_tuf::TufCache>,
    ) -> Result<Trust> {
        let mut b = Trust::builder()
            .identities(self.identities.iter().cloned())
            .tlog_opt(self.tlog);
        match rotation.filter(|r| r.version() > 1) {
            Some(r) => {
                b = b.keys(r.keys().iter().cloned()).threshold(r.threshold());
                for revoked in r.revoked() {
                    b = b.revoked_key(revoked.key.clone(), revoked.distrust_after);
                }
            }
            None => {
                b = b.keys(self.load_keys()?);
                if let Some(t) = self.threshold {
                    b = b.threshold(t);
                }
            }
        }
        for k in &self.rekor_keys {
            b = b.rekor_key(k.load()?);
        }
        if let Some(r) = &self.repository {
            b = b.repository(r.clone());
        }
        // The root is read once: for identities, and, when key signatures must show a log
        // and no Rekor key is pinned, for its logs (each key within its validity window),
        // and for provenance when it names the same root (its default).
        let (for_identities, for_logs) = self.root_uses();
        let root = if for_identities || for_logs {
            Some(self.root.load_from(tuf)?)
        } else {
            None
        };
        if let Some(p) = &self.provenance {
            let root = match &root {
                Some(r) if p.root == self.root => r.duplicate()?,
                _ => p.root.load_from(tuf)?,
            };
            b = b.provenance(latch_decide::Provenance {
                policies: p.policies.clone(),
                root,
            });
        }
        if let Some(root) = root {
            b = match (for_identities, for_logs) {
                (true, true) => b.log_root(root.duplicate()?).identity_root(root),
                (true, false) => b.identity_root(root),
                _ => b.log_root(root),
            };
        }
        Ok(b.build()?)
    }
}
