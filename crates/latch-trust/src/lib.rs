//! The trust layer of Latch for cosign legacy signatures: whether each signature of an
//! image digest was made by a trusted key and, where the policy asks, logged in Rekor.
//! (How many distinct signers are needed, counted with cosign v3 bundles and keyless
//! identities, is the one decision of `latch-decide`, built on this.)
//!
//! Pure: bytes, keys, a policy and a time go in, every signature's [`Outcome`] comes out. No network, no
//! filesystem, no clock of its own (the caller passes `now`), no printing.
//!
//! ```no_run
//! # fn demo(pem: &[u8], rekor_pem: &[u8], file: &[u8], digest: &latch_oci::Digest, now: i64)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use latch_trust::{Policy, PublicKey, TlogMode, parse_cosign_download, verify};
//! let policy = Policy::builder()
//!     .key(PublicKey::from_pem(pem)?)
//!     .rekor_key(PublicKey::from_pem(rekor_pem)?)
//!     .tlog(TlogMode::Required)
//!     .build()?;
//! let signatures = parse_cosign_download(file)?;
//! let checked = verify(&policy, digest, &signatures, now)?;
//! let _highest = checked.max_log_index;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dsse;
mod json;
pub mod keys;
pub mod payload;
pub mod policy;
pub mod rekor;
pub mod rollout;
pub mod signature;
pub mod verify;

pub use keys::{BadSignature, KeyAlgorithm, KeyError, PublicKey, pem_encode, spki_to_pem};
pub use payload::{PayloadError, SimpleSigning};
pub use policy::{LogKeyWindow, Policy, PolicyBuilder, PolicyError, TlogMode};
pub use rekor::{BundleError, EntryKind, LogEntry, RekorBundle, RekorEntry, RekorError};
pub use signature::{
    Candidate, DocumentError, Signature, SignatureParseError, parse_cosign_download,
    signatures_from_manifest, to_cosign_download_list,
};
pub use verify::{
    Accepted, Checked, Outcome, Rejection, VerifyError, check_payload, verify, verify_signature,
};
