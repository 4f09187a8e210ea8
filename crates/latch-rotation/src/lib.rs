//! Key succession: how an application's trust in release keys rotates without a new
//! application release.
//!
//! Version 1 of the trust is the application's own keys and threshold. Version N+1 is a
//! [`TrustDocument`] (keys, threshold, expiry, revoked keys with a distrust time) in a
//! DSSE [`Envelope`], valid only when a threshold of version N's keys signed it; the new
//! keys may cosign it too (proving they are held), which is recommended and reported
//! ([`Succession::proven`]) but not required. [`Succession::follow`] walks the envelopes offered from the version held:
//!
//! ```text
//! Succession (version N held) + envelopes (any order) + now
//!   → follow() → Followed (the version now in force, what was adopted, what was ignored)
//!              | ChainError (unknown signers, below threshold, gap, fork, expired,
//!                           another repository, a revoked key trusted again, malformed)
//! ```
//!
//! Versions at or below the one held are ignored: offering an old version again never
//! rolls trust back. Revocations accumulate: a key revoked once stays revoked, with the
//! earliest distrust time any version gave; [`Succession::keys_at`] says which keys count
//! for a signature logged at a given time (a revoked key's signatures logged before its
//! distrust time still count, so an installed image stays valid).
//!
//! Pure: no network, no files, no clock. The format is documented in
//! `docs/trust-rotation.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chain;
mod document;
mod envelope;
mod error;

pub use chain::{Followed, Succession};
pub use document::{DOCUMENT_TYPE, MAX_KEYS, Revoked, RevokedEntry, TrustDocument};
pub use envelope::{
    Envelope, EnvelopeSignature, MAX_ENVELOPE, MAX_SIGNATURES, PAYLOAD_TYPE, signing_message,
};
pub use error::{ChainError, Problem};

impl TrustDocument {
    /// The next version after `held`: `keys` (PEM) trusted with `threshold`, `revoke`
    /// (PEM, distrust time) revoked, valid until `expires`.
    pub fn next_of(
        held: &Succession,
        keys: Vec<String>,
        threshold: usize,
        revoke: Vec<RevokedEntry>,
        expires: i64,
    ) -> TrustDocument {
        TrustDocument {
            kind: DOCUMENT_TYPE.to_owned(),
            repository: held.repository().to_owned(),
            version: held.version() + 1,
            expires,
            threshold,
            keys,
            revoked: revoke,
        }
    }
}
