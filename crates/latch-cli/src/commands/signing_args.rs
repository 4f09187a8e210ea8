//! Who signs, for `sign --bundle` and `attest`: a key (file or PKCS#11 token), or
//! keylessly an identity (an OIDC token, given or GitHub Actions' ambient one, exchanged
//! for a short-lived certificate for an ephemeral key).

use std::path::{Path, PathBuf};

use latch_sign::keyless::{PUBLIC_FULCIO, PUBLIC_REKOR};
use latch_sign::{BundleOptions, BundleReport, Certified, Fulcio, IdentityToken, now_unix};

use latch_sign::{PublicKey, TlogUploader};

use super::sign::signer;
use crate::output::AnyError;

/// Keyless signing options. No `Debug`: the token must never be printed.
#[derive(clap::Args, Clone)]
pub struct KeylessArgs {
    /// Sign keylessly with this OIDC identity token (ignored when --key is given; also
    /// read from SIGSTORE_ID_TOKEN, which keeps it off the command line where other users
    /// of the machine could see it). In GitHub Actions with `permissions: id-token:
    /// write` the workflow's own token is fetched when none is given.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SIGSTORE_ID_TOKEN",
        hide_env_values = true
    )]
    pub identity_token: Option<String>,
    /// The Fulcio-compatible CA that certifies the ephemeral key of a keyless signature.
    #[arg(long, value_name = "URL", default_value = PUBLIC_FULCIO)]
    pub fulcio_url: String,
}

/// Where signatures are logged (`sign`, `sign --bundle`, `attest`).
#[derive(clap::Args, Clone)]
pub struct TlogArgs {
    /// Log each signature (or attestation) on this Rekor v1-compatible server, e.g.
    /// https://rekor.sigstore.dev (keyless ones are always logged, there by default).
    #[arg(long, value_name = "URL", alias = "rekor-url")]
    pub tlog_upload: Option<String>,
    /// The log's public key (PEM): what the log returns is verified with it before
    /// anything is written (without it, a bundle's entry is checked with the key the log
    /// publishes).
    #[arg(long = "rekor-key", value_name = "PEM", requires = "tlog_upload")]
    pub rekor_key: Option<PathBuf>,
}

impl TlogArgs {
    /// The log `--tlog-upload` names (else `default`), pinned to `--rekor-key`.
    pub fn uploader(&self, default: Option<&str>) -> Result<Option<TlogUploader>, AnyError> {
        let Some(url) = self.tlog_upload.as_deref().or(default) else {
            return Ok(None);
        };
        let mut up = TlogUploader::new(url)?;
        if let Some(path) = &self.rekor_key {
            let pem = latch::oci::layout::read_bounded(path, 64 * 1024)
                .map_err(|e| format!("cannot read the Rekor key {}: {e}", path.display()))?;
            let key = PublicKey::from_pem(&pem)
                .map_err(|e| format!("Rekor key {}: {e}", path.display()))?;
            up = up.with_log_key(key);
        }
        Ok(Some(up))
    }
}

/// The signer and what the bundle options need for it.
pub enum Signing {
    /// A key.
    Key(Box<dyn latch_sign::Signer>),
    /// An ephemeral key and its certificate.
    Keyless(Box<Certified>),
}

impl Signing {
    /// `--key`, or keylessly: the token given, SIGSTORE_ID_TOKEN, or GitHub Actions'.
    pub async fn resolve(key: Option<&Path>, keyless: &KeylessArgs) -> Result<Signing, AnyError> {
        if let Some(key) = key {
            return Ok(Signing::Key(signer(key)?));
        }
        let token = match &keyless.identity_token {
            Some(t) => IdentityToken::new(t)?,
            None => match IdentityToken::from_github_actions().await {
                Some(t) => t?,
                None => return Err(latch_sign::KeylessError::NoToken.into()),
            },
        };
        let fulcio = Fulcio::new(&keyless.fulcio_url)?;
        Ok(Signing::Keyless(Box::new(
            fulcio.certify(&token, now_unix()).await?,
        )))
    }

    /// Sets the certificate a keyless signature needs, and the log (for a keyless
    /// signature the public-good Rekor unless `--tlog-upload` names one).
    pub fn configure(&self, opts: &mut BundleOptions, tlog: &TlogArgs) -> Result<(), AnyError> {
        opts.tlog = match self {
            Signing::Key(_) => tlog.uploader(None)?,
            Signing::Keyless(c) => {
                opts.certificate = Some(c.certificate.clone());
                tlog.uploader(Some(PUBLIC_REKOR))?
            }
        };
        Ok(())
    }

    /// The signer.
    pub fn signer(&self) -> &dyn latch_sign::Signer {
        match self {
            Signing::Key(k) => k.as_ref(),
            Signing::Keyless(c) => &c.key,
        }
    }

    /// Names a keyless signer by its certificate's identity in the report.
    pub fn describe(&self, report: &mut BundleReport) {
        if let Signing::Keyless(c) = self {
            report.signer = format!(
                "keyless certificate for {} (token issuer {})",
                c.identity(),
                c.claims.issuer
            );
        }
    }
}
