//! What an updater trusts, read from files ([`spec`]), and the ratchets that keep it from
//! going back ([`ratchet`]). The decision itself is `latch-decide`'s.

pub mod ratchet;
pub(crate) mod rotation;
pub mod sigstore_root;
pub mod spec;
pub mod tuf_artifact;

pub use sigstore_root::SigstoreRoot;
pub use spec::{KeySource, ProvenanceSpec, RootChoice, TrustSpec};

/// Legacy cosign signatures, keys, payloads and Rekor SETs (`latch-trust`).
pub use latch_trust::*;
