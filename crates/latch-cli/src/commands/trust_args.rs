//! Trust options shared by the verifying commands.

use std::path::PathBuf;

use latch::trust::TlogMode;
use latch::verify::{KeySource, PolicySpec};

use crate::output::AnyError;

/// Who must have signed, and whether Rekor must have logged it.
#[derive(clap::Args, Debug, Clone)]
pub struct TrustArgs {
    /// A trusted public key: PEM SubjectPublicKeyInfo (ECDSA P-256/P-384, Ed25519, RSA ≥
    /// 2048). Repeatable; at least one (`verify` also takes keyless identities instead).
    #[arg(long = "key", value_name = "PEM")]
    pub keys: Vec<PathBuf>,
    /// How many distinct keys must have signed (default 1).
    #[arg(long, value_name = "K")]
    pub threshold: Option<usize>,
    /// A pinned Rekor public key; makes a valid log entry (SET) required. Repeatable (key
    /// rotation): the key is chosen by the entry's logID.
    #[arg(long = "rekor-key", value_name = "PEM")]
    pub rekor_keys: Vec<PathBuf>,
    /// Transparency-log policy: required (default with --rekor-key), optional (check an
    /// entry when present) or ignored (default without --rekor-key).
    #[arg(long, value_name = "MODE")]
    pub tlog: Option<TlogMode>,
}

impl TrustArgs {
    /// The policy these options describe, for `repository`.
    pub fn spec(&self, repository: Option<&str>) -> Result<PolicySpec, AnyError> {
        Ok(PolicySpec {
            keys: self.keys.iter().cloned().map(KeySource::File).collect(),
            threshold: self.threshold,
            rekor_keys: self
                .rekor_keys
                .iter()
                .cloned()
                .map(KeySource::File)
                .collect(),
            tlog: self.tlog,
            repository: repository.map(latch::oci::Reference::parse).transpose()?,
        })
    }
}
