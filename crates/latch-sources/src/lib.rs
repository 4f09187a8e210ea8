//! Where an image's signatures come from, and the one way they are decided on.
//!
//! A [`Source`] is a registry (the cosign `sha256-<hex>.sig` tag, OCI referrers with the
//! `sha256-<hex>` tag fallback) or an OCI layout (a mirror on a USB stick, an unpacked
//! air-gap archive). Each fetches bounded and verifies every byte against its digest, but
//! decides nothing: what it finds is plain data ([`latch_decide::Candidates`]) for
//! [`latch_decide::decide`]. [`decide`] is the order every flow uses: legacy `.sig`
//! signatures first, cosign v3 bundles only when those fall short of the threshold, so an
//! image signed the way Dangerzone's is costs no extra request.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attach;
pub mod attestations;
pub mod contention;
mod error;
pub mod layout;
pub mod registry;
pub mod trust_chain;

use latch_decide::{Candidates, Trust, Verdict};
use latch_oci::{Descriptor, Digest, OciLayout, Reference};
use latch_registry::Client;

pub use error::SourceError;

/// Bound on the referrers examined for one image.
pub const MAX_REFERRERS: usize = 64;
/// Bound on one signature payload blob (a simple-signing payload is a few hundred bytes).
pub const MAX_PAYLOAD_BYTES: u64 = latch_trust::payload::MAX_PAYLOAD_BYTES as u64;

/// Where an image's signatures are looked for.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// Beside the image in its registry.
    Registry {
        /// The client.
        client: &'a Client,
        /// The repository (tag and digest ignored).
        repository: &'a Reference,
    },
    /// In an OCI layout: a mirror's `index.json` entries, or an air-gap archive's
    /// `dangerzone.json` entries.
    Layout {
        /// The layout.
        layout: &'a OciLayout,
        /// The index entries to look among.
        entries: &'a [Descriptor],
    },
}

impl Source<'_> {
    /// The legacy `.sig` signatures of `digest`.
    pub async fn sigs(&self, digest: &Digest) -> Result<Candidates, SourceError> {
        match self {
            Source::Registry { client, repository } => {
                registry::fetch_sigs(client, repository, digest).await
            }
            Source::Layout { layout, entries } => layout::sigs(layout, entries, digest),
        }
    }

    /// The cosign v3 signatures (bundles) of `digest`, and what was found beside them
    /// that is not one.
    pub async fn bundles(&self, digest: &Digest) -> Result<Candidates, SourceError> {
        match self {
            Source::Registry { client, repository } => {
                registry::fetch_signature_bundles(client, repository, digest).await
            }
            Source::Layout { layout, entries } => Ok(layout::bundles(layout, entries, digest)),
        }
    }

    /// The provenance attestations of `digest` (`.att` layers and SLSA bundle referrers).
    pub async fn attestations(&self, digest: &Digest) -> Result<Candidates, SourceError> {
        let attestations = match self {
            Source::Registry { client, repository } => {
                attestations::in_registry(client, repository, digest).await?
            }
            Source::Layout { layout, entries } => attestations::in_layout(layout, entries, digest),
        };
        Ok(Candidates {
            attestations,
            ..Candidates::default()
        })
    }
}

/// A decision and the candidates it was made over (to store or carry the accepted ones).
#[derive(Debug, Clone)]
pub struct Decided {
    /// The verdict.
    pub verdict: Verdict,
    /// What the source gave.
    pub candidates: Candidates,
}

/// Decides on `digest` over what `source` holds: the legacy `.sig` signatures first and,
/// only when they are short of the threshold, the cosign v3 signatures too, all counted
/// together by [`latch_decide::decide`]; with the provenance attestations when the trust
/// requires provenance.
pub async fn decide(
    source: &Source<'_>,
    trust: &Trust,
    digest: &Digest,
    now: i64,
) -> Result<Decided, SourceError> {
    let mut candidates = source.sigs(digest).await?;
    if trust.provenance().is_some() {
        candidates.extend(source.attestations(digest).await?);
    }
    let verdict = latch_decide::decide(trust, &candidates, digest, now);
    if verdict.trusted {
        return Ok(Decided {
            verdict,
            candidates,
        });
    }
    candidates.extend(source.bundles(digest).await?);
    let verdict = latch_decide::decide(trust, &candidates, digest, now);
    Ok(Decided {
        verdict,
        candidates,
    })
}
