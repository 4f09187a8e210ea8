//! `verify-bundle`: one Sigstore bundle against a file or a digest, offline, exactly as the
//! sigstore-conformance client protocol asks.

use std::path::{Path, PathBuf};

use latch_sigstore::{
    Artifact, BundleVerification, IdentityPolicy, SanMatcher, Signer, TlogRequirement, TrustRoot,
};

use crate::error::{Error, Result};

/// Bound on a key file.
const MAX_KEY_FILE: u64 = 64 * 1024;
/// Bound on an artifact read into memory.
const MAX_ARTIFACT_FILE: u64 = 1024 * 1024 * 1024;

pub use crate::trust::RootChoice;

/// What was signed: a file, or a digest given as `sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactInput {
    /// A file to read.
    File(PathBuf),
    /// A SHA-256 digest.
    Sha256([u8; 32]),
}

impl ArtifactInput {
    /// The conformance protocol's `FILE_OR_DIGEST`: `sha256:<64 hex digits>` is a digest,
    /// anything else a path.
    pub fn parse(s: &str) -> Result<ArtifactInput> {
        match s.strip_prefix("sha256:") {
            Some(hex) => {
                let d = latch_oci::Digest::from_sha256_hex(hex)
                    .map_err(|e| Error::Invalid(format!("digest {s}: {e}")))?;
                d.sha256_bytes()
                    .map(ArtifactInput::Sha256)
                    .ok_or_else(|| Error::Invalid(format!("digest {s}: not sha256")))
            }
            None => Ok(ArtifactInput::File(PathBuf::from(s))),
        }
    }
}

/// Who must have signed the bundle.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SignerSpec {
    /// A keyless identity: SAN (exact, or a regular expression over the whole SAN) and
    /// OIDC issuer.
    Identity {
        /// The SAN or the pattern.
        identity: String,
        /// Whether `identity` is a regular expression.
        regex: bool,
        /// The OIDC issuer.
        issuer: String,
    },
    /// A public key file (PEM).
    Key(PathBuf),
}

impl SignerSpec {
    /// The signer this describes (a key file is read bounded).
    pub fn load(&self) -> Result<Signer> {
        match self {
            SignerSpec::Identity {
                identity,
                regex,
                issuer,
            } => {
                let san = if *regex {
                    SanMatcher::regex(identity)?
                } else {
                    SanMatcher::exact(identity.clone())
                };
                Ok(Signer::Identity(IdentityPolicy::new(issuer.clone(), san)))
            }
            SignerSpec::Key(p) => load_key(p),
        }
    }
}

/// A public key file (PEM) as a bundle signer, named by its path.
pub fn load_key(path: &Path) -> Result<Signer> {
    let bytes = latch_oci::layout::read_bounded(path, MAX_KEY_FILE).map_err(Error::io(path))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Invalid(format!("{}: not a PEM file", path.display())))?;
    Ok(Signer::key_from_pem(&text, &path.display().to_string())?)
}

/// Verifies the bundle file `bundle` over `artifact`: signature, certificate chain and
/// SCT, Rekor inclusion proof and checkpoint (or RFC 3161 timestamps for Rekor v2), the
/// artifact binding, and the signer, under `root` (loaded by the caller: a
/// [`RootChoice`], kept current over TUF or not).
pub fn verify_bundle_file(
    bundle: &Path,
    artifact: &ArtifactInput,
    signer: &SignerSpec,
    root: &TrustRoot,
) -> Result<BundleVerification> {
    let signer = signer.load()?;
    let bundle_bytes =
        latch_oci::layout::read_bounded(bundle, latch_sigstore::MAX_BUNDLE_BYTES as u64)
            .map_err(Error::io(bundle))?;
    let location = bundle.display().to_string();
    let bytes;
    let artifact = match artifact {
        ArtifactInput::Sha256(d) => Artifact::Sha256(*d),
        ArtifactInput::File(p) => {
            bytes = latch_oci::layout::read_bounded(p, MAX_ARTIFACT_FILE).map_err(Error::io(p))?;
            if bytes.len() as u64 > MAX_ARTIFACT_FILE {
                return Err(Error::Invalid(format!(
                    "{}: larger than {MAX_ARTIFACT_FILE} bytes; pass its digest as sha256:<hex>",
                    p.display()
                )));
            }
            Artifact::Bytes(&bytes)
        }
    };
    Ok(latch_sigstore::verify_bundle(
        root,
        &bundle_bytes,
        &location,
        artifact,
        std::slice::from_ref(&signer),
        TlogRequirement::Required,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_paths() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        match ArtifactInput::parse(d).unwrap() {
            ArtifactInput::Sha256(b) => assert_eq!(b[0], 0xe3),
            other => panic!("{other:?}"),
        }
        assert!(ArtifactInput::parse("sha256:zz").is_err());
        assert_eq!(
            ArtifactInput::parse("a.txt").unwrap(),
            ArtifactInput::File("a.txt".into())
        );
    }
}
