//! Sigstore bundles for Latch: keyless (Fulcio) and key-based signatures, trust roots,
//! identity policies and SLSA provenance policies.
//!
//! The cryptography and the transparency-log checks are [`sigstore_verify`]'s (the
//! modular sigstore-rust crates, which pass all of sigstore-conformance's bundle cases);
//! this crate is the glue around it and what it lacks:
//!
//! - [`TrustRoot`]: the public-good production root built in (the snapshot
//!   `sigstore-trust-root` embeds), staging, a custom `trusted_root.json`, or a root made of
//!   pinned Rekor keys only (for key-signed bundles). Nothing is ever fetched.
//! - [`Signer`] and [`IdentityPolicy`]: a key, or an identity: OIDC issuer, SAN (exact or
//!   an anchored regular expression) and the GitHub claims Fulcio writes into its
//!   extensions (source repository, ref, workflow, trigger), each compared exactly.
//! - [`verify_bundle`]: one bundle, one artifact (bytes or a digest), a list of acceptable
//!   signers, a transparency-log requirement; a [`BundleVerification`] or an [`Error`] that
//!   names the claim that failed.
//! - [`provenance`]: SLSA provenance v0.2 and v1 policies with anchored matching
//!   (`owner/repo` never matches `owner/repo-image`).
//! - [`cosign`]: cosign's registry formats: v3 image signatures (`sign/v1` statements in
//!   bundles stored as OCI referrers) and legacy `.att` attestation layers, turned into
//!   bundles so that one verifier serves both.
//! - [`legacy`]: cosign 2.x keyless `.sig` signatures (certificate, chain and Rekor SET in
//!   layer annotations), turned into v0.1 bundles and verified the same way
//!   ([`verify_legacy_keyless`]).
//!
//! Pure, like `latch-trust`: bytes, keys, a policy and a trust root in, a verdict out; no
//! network, no files. One caveat: `sigstore-verify` reads the system clock itself, only
//! to refuse log entries and checkpoints "from the future".
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cosign;
mod encoding;
mod error;
pub mod legacy;
pub mod policy;
pub mod provenance;
mod root;
pub mod statement;
mod verify;

pub use error::{Error, Result};
pub use legacy::{LegacyRekorEntry, LegacySignature, pem_certificates, verify_legacy_keyless};
pub use policy::{GithubClaims, IdentityPolicy, SanMatcher, Signer, TlogRequirement};
pub use root::{LogKey, TrustRoot};
pub use statement::Statement;
pub use verify::{
    Artifact, BundleVerification, LogEntryInfo, SignerInfo, parse_bundle, verify_bundle,
    verify_parsed_bundle,
};

/// The Sigstore crates this one builds on, for callers that need their types.
pub use sigstore_verify;

/// The OIDC issuer of GitHub Actions workflow identities.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Bound on a bundle document (bundles are a few kilobytes; provenance a few hundred).
pub const MAX_BUNDLE_BYTES: usize = 16 * 1024 * 1024;
