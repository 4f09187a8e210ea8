//! The one trust decision of Latch.
//!
//! Whether an image may be installed or used is decided here, and only here, whatever the
//! command (`upgrade`, `check`, `verify-local`, `prepare-archive`, `load-archive`,
//! `install`, `latch verify`, `promote`) and wherever the signatures came from (a
//! registry, an OCI layout mirror, an air-gap archive, the local signature store):
//!
//! ```text
//! Candidates (plain data: .sig signatures, cosign v3 bundles, what could not be read,
//!             provenance attestations)
//!   + Trust (keys, keyless identities, threshold, transparency log, roots, repository,
//!            the provenance required on top)
//!   + digest + now
//!   → decide() → Verdict (every candidate's outcome, the distinct trusted signers counted,
//!                the provenance found; trusted = enough signers AND the provenance)
//! ```
//!
//! Pure: no network, no files, no clock of its own (sigstore-verify reads the clock only
//! to refuse log entries "from the future"). Fetching candidates is the job of
//! `latch-sources` and of the updater's store; ratchets over the verdict are the
//! updater's.
//!
//! The threshold counts distinct trusted signers, not signatures or certificates: a key
//! counts once whatever its encoding and however many `.sig` signatures and bundles it
//! made; a keyless signer counts as the profile identity it matched, once, however many
//! certificates, refs or bundles it produced; and one certificate that matches two
//! identities counts once. Formally: the largest matching between the signers that were
//! verified and the trusted keys and identities they satisfy.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod candidates;
mod count;
mod decide;
pub mod provenance;
pub mod trust;
pub mod verdict;

pub use candidates::{
    AttestationCandidate, AttestationForm, BundleCandidate, Candidates, SigCandidate, Unusable,
    UnusableKind,
};
pub use decide::{MAX_BUNDLES, decide, decide_attestations};
pub use provenance::ProvenanceVerdict;
pub use trust::{Provenance, Trust, TrustBuilder, TrustError, TrustedSigner};
pub use verdict::{Accepted, CandidateKind, Counted, LogEntry, Outcome, Refusal, Signer, Verdict};
