//! Trust options shared by the verifying commands (`verify`, `verify-signatures`,
//! `promote`): keys, keyless identities, the threshold over both, the log.

use std::path::PathBuf;

use latch::decide::Trust;
use latch::trust::{RootChoice, TlogMode, TrustSpec};

use super::profile_args::path_arg;
use super::tuf_args::TufArgs;
use crate::output::AnyError;

/// Who must have signed, and whether Rekor must have logged it. Relative paths are
/// relative to the current directory, made absolute when parsed.
#[derive(clap::Args, Debug, Clone)]
pub struct TrustArgs {
    /// A trusted public key: PEM SubjectPublicKeyInfo (ECDSA P-256/P-384, Ed25519, RSA ≥
    /// 2048). Repeatable. Its legacy `.sig` signatures and its cosign v3 signatures count
    /// as one signer.
    #[arg(long = "key", value_name = "PEM", value_parser = path_arg())]
    pub keys: Vec<PathBuf>,
    /// How many distinct trusted signers (keys and identities together) must have signed
    /// (default 1).
    #[arg(long, value_name = "K")]
    pub threshold: Option<usize>,
    /// A pinned Rekor public key; makes a valid log entry required of key signatures.
    /// Repeatable (key rotation): the key is chosen by the entry's logID.
    #[arg(long = "rekor-key", value_name = "PEM", value_parser = path_arg())]
    pub rekor_keys: Vec<PathBuf>,
    /// Transparency-log policy for key signatures: required (default with --rekor-key),
    /// optional (check an entry when present) or ignored (default without --rekor-key).
    #[arg(long, value_name = "MODE")]
    pub tlog: Option<TlogMode>,
    /// A trusted keyless signer: the certificate identity (SAN), exactly. Its keyless
    /// signatures (cosign 2.x `.sig` with a certificate, cosign v3 bundles) count as one
    /// signer beside the keys.
    #[arg(long, value_name = "ID", requires = "certificate_oidc_issuer")]
    pub certificate_identity: Option<String>,
    /// The keyless signer's identity as a regular expression over the whole SAN (anchored).
    #[arg(
        long,
        value_name = "REGEX",
        requires = "certificate_oidc_issuer",
        conflicts_with = "certificate_identity"
    )]
    pub certificate_identity_regexp: Option<String>,
    /// The keyless signer's OIDC issuer, exactly.
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,
    /// The Sigstore trusted_root.json keyless signatures chain to, and whose logs vouch
    /// for key signatures when --tlog required (or optional) is given without --rekor-key,
    /// each log key only within its validity window (default: the public-good root built
    /// in; nothing is fetched unless --refresh-trusted-root or --tuf-url is given).
    #[arg(long, value_name = "FILE", value_parser = path_arg())]
    pub trusted_root: Option<PathBuf>,
    /// Keeping that root current over TUF instead.
    #[command(flatten)]
    pub tuf: TufArgs,
}

impl TrustArgs {
    /// The Sigstore root: --trusted-root, or the one kept current over TUF
    /// (--refresh-trusted-root, --tuf-url), else the public-good root built in.
    pub fn root(&self) -> Result<RootChoice, AnyError> {
        self.tuf.root(
            self.trusted_root
                .clone()
                .map(RootChoice::File)
                .unwrap_or_default(),
        )
    }

    /// Loads `spec`, after refreshing the TUF-kept roots it reads (when asked to).
    pub async fn load(&self, spec: &TrustSpec) -> Result<Trust, AnyError> {
        let cache = self.tuf.refresh(&spec.tuf_repositories()).await?;
        Ok(spec.load_with(None, cache.as_ref())?)
    }

    /// The trust these options describe, for `repository`.
    pub fn spec(&self, repository: Option<&str>) -> Result<TrustSpec, AnyError> {
        let mut identities = Vec::new();
        if let Some(issuer) = &self.certificate_oidc_issuer {
            let san = match (
                &self.certificate_identity,
                &self.certificate_identity_regexp,
            ) {
                (Some(exact), _) => latch::sigstore::SanMatcher::exact(exact.clone()),
                (None, Some(re)) => latch::sigstore::SanMatcher::regex(re)?,
                (None, None) => {
                    return Err("--certificate-oidc-issuer needs --certificate-identity or --certificate-identity-regexp".into());
                }
            };
            identities.push(latch::sigstore::IdentityPolicy::new(issuer.clone(), san));
        }
        if self.keys.is_empty() && identities.is_empty() {
            return Err("nothing trusted: give --key PEM, or a keyless identity with --certificate-identity and --certificate-oidc-issuer".into());
        }
        Ok(TrustSpec {
            keys: self
                .keys
                .iter()
                .cloned()
                .map(latch::trust::KeySource::File)
                .collect(),
            identities,
            threshold: self.threshold,
            rekor_keys: self
                .rekor_keys
                .iter()
                .cloned()
                .map(latch::trust::KeySource::File)
                .collect(),
            tlog: self.tlog,
            repository: repository.map(latch::oci::Reference::parse).transpose()?,
            root: self.root()?,
            // `latch verify` checks signatures; provenance is `verify-attestation`'s.
            provenance: None,
        })
    }
}
