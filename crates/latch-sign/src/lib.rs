//! The releaser's side of Latch: keys, signing, the transparency log, nightlies and
//! promotion.
//!
//! - Keys ([`PrivateKey`]): generated here (ECDSA P-256, as cosign), read from cosign's
//!   encrypted format (`ENCRYPTED SIGSTORE PRIVATE KEY`, and skopeo's `ENCRYPTED COSIGN
//!   PRIVATE KEY`), PKCS#8 or SEC1 PEM; written in cosign's format. The password comes
//!   from `LATCH_PASSWORD` or `COSIGN_PASSWORD`, else the terminal ([`Password`]).
//! - [`Signer`]: what the flows sign with, so a hardware key can replace a file.
//! - [`pkcs11`]: keys on PKCS#11 tokens (SoftHSM, YubiKeys, smart cards) named by an
//!   RFC 7512 `pkcs11:` URI ([`Pkcs11Signer`]); the PIN comes from `LATCH_PIN` or
//!   `COSIGN_PIN`, else the terminal ([`Pin`]).
//! - [`sign()`]: the simple-signing payload, a signature, optionally a Rekor entry
//!   ([`TlogUploader`]), and a layer appended to the `.sig` manifest, re-read and retried
//!   when another signer wrote in between; `recursive` signs an index and its manifests.
//! - [`sign_bundle()`]: cosign v3 signatures and attestations: an in-toto statement in a
//!   DSSE envelope, in a Sigstore bundle v0.3, attached as the image's own OCI referrer
//!   (with the `sha256-<hex>` tag index for registries without the referrers API).
//! - [`keyless`]: an OIDC identity token (given, or GitHub Actions' ambient one), an
//!   ephemeral key in memory and its certificate from a Fulcio-compatible CA
//!   ([`Fulcio::certify`]), for a keyless [`sign_bundle()`].
//! - [`nightlies()`]: `YYYYMMDD-<version>-<n>-g<commit>` tags, ordered, and the candidate
//!   for a commit within a maximum age.
//! - [`promote()`]: after the one trust decision (`latch-decide`, over the `.sig`
//!   signatures and cosign v3 bundles `latch-sources` fetches) accepts the digest, its
//!   exact manifest bytes go under a tag.
//!
//! ```no_run
//! # async fn demo(client: &latch_registry::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use latch_sign::{Password, PrivateKey, SignOptions, sign};
//! let key = PrivateKey::load("cosign.key".as_ref(), &mut || {
//!     Password::for_existing_key("Enter password for private key: ")
//! })?;
//! let image = latch_oci::Reference::parse("ghcr.io/org/app@sha256:…")?;
//! let report = sign(client, &key, &image, &SignOptions::default()).await?;
//! # let _ = report; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bundle;
mod http;
pub mod key;
pub mod keyless;
pub mod nightly;
pub mod password;
pub mod pkcs11;
pub mod promote;
pub mod rotate;
pub mod sign;
pub mod signer;
pub mod sigstore;
pub mod tlog;

pub use bundle::{BundleOptions, BundleReport, BundledManifest, sign_bundle};
pub use key::{
    KeyError, KeyFileError, PrivateKey, ScryptParams, SigningAlgorithm, write_key_pair,
    write_public_key,
};
pub use keyless::{Certified, Fulcio, IdentityToken, KeylessError};
pub use latch_trust::{Policy, PolicyBuilder, PublicKey, TlogMode};
pub use nightly::{
    NightlyCandidate, NightlyError, NightlyQuery, NightlyReport, NightlyTag, nightlies,
    parse_duration,
};
pub use password::{Password, PasswordError};
pub use pkcs11::{Pin, PinError, Pkcs11Error, Pkcs11Signer, Pkcs11Uri};
pub use promote::{PromoteError, PromoteReport, promote};
pub use rotate::{RevokedKey, RotateError, RotateOptions, RotateReport, rotate_keys};
pub use sign::{SignError, SignOptions, SignReport, SignedManifest, now_unix, sign};
pub use signer::{Signer, SignerError};
pub use sigstore::signature_tag;
pub use tlog::{TlogError, TlogUploader};
