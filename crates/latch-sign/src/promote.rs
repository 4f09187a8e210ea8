//! Promoting a signed image: after checking that the digest exists, that the registry's
//! bytes hash to it, and that the trust accepts it (the one decision every command makes:
//! `.sig` signatures and cosign v3 bundles, keys and identities, counted together), put
//! those exact bytes under a tag (`latest`). The digest under the tag is then the digest
//! that was verified.

use latch_decide::{Trust, Verdict};
use latch_oci::{Digest, Reference};
use latch_registry::{Client, RegistryError};
use latch_sources::{Source, SourceError};
use serde::Serialize;

/// Why an image was not promoted.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    /// The image was named by tag only.
    #[error("{reference} names no digest; promote IMAGE@sha256:…")]
    NoDigest {
        /// The reference given.
        reference: String,
    },
    /// The tag is not a valid tag.
    #[error("{tag:?} is not a valid tag")]
    BadTag {
        /// The tag given (clipped).
        tag: String,
    },
    /// A registry request failed (a digest the registry does not have, or bytes that do
    /// not hash to it, among others).
    #[error("{doing} {location}: {source}")]
    Registry {
        /// What was being done.
        doing: &'static str,
        /// The reference concerned.
        location: String,
        /// The client's error.
        #[source]
        source: Box<RegistryError>,
    },
    /// The signatures could not be read.
    #[error(transparent)]
    Signatures(#[from] SourceError),
    /// Too few trusted signers signed this digest; nothing was tagged.
    #[error("not promoting {reference}: {}", .verdict.summary())]
    NotSigned {
        /// The image.
        reference: String,
        /// The verdict (why each signature was refused).
        verdict: Box<Verdict>,
    },
    /// After the `PUT`, the tag resolves to another digest (another writer, or a registry
    /// that rewrote the manifest).
    #[error("after tagging, {location} resolves to {found}, not {expected}")]
    TagMoved {
        /// The tag reference.
        location: String,
        /// The digest put.
        expected: Digest,
        /// What the tag holds.
        found: String,
    },
}

/// What [`promote`] did.
#[derive(Debug, Clone, Serialize)]
pub struct PromoteReport {
    /// The image promoted (`repository@digest`).
    pub reference: String,
    /// The tag reference written.
    pub tagged: String,
    /// The digest, now under the tag.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// What the tag held before (none if it did not exist).
    pub previous: Option<Digest>,
    /// The tag already held this digest.
    pub unchanged: bool,
    /// The verification verdict.
    pub verdict: Verdict,
}

/// Checks `image` (which must name a digest) against `trust` at `now`, then puts its
/// exact manifest bytes under `tag` and checks the tag resolves to the digest.
pub async fn promote(
    client: &Client,
    image: &Reference,
    tag: &str,
    trust: &Trust,
    now: i64,
) -> Result<PromoteReport, PromoteError> {
    let digest = image
        .digest()
        .cloned()
        .ok_or_else(|| PromoteError::NoDigest {
            reference: image.to_string(),
        })?;
    let repository = image.with_digest(digest.clone());
    let tagged = repository.with_tag(tag).map_err(|_| PromoteError::BadTag {
        tag: tag.chars().take(128).collect(),
    })?;
    let registry = |doing: &'static str, r: &Reference| {
        let location = r.to_string();
        move |source| PromoteError::Registry {
            doing,
            location,
            source: Box::new(source),
        }
    };
    // Fetched by digest: the client refuses bytes that do not hash to it.
    let manifest = client
        .get_manifest(&repository)
        .await
        .map_err(registry("fetching the manifest", &repository))?;
    let source = Source::Registry {
        client,
        repository: &repository,
    };
    let verdict = latch_sources::decide(&source, trust, &digest, now)
        .await?
        .verdict;
    if !verdict.trusted {
        return Err(PromoteError::NotSigned {
            reference: repository.to_string(),
            verdict: Box::new(verdict),
        });
    }
    let previous = client
        .head_manifest(&tagged)
        .await
        .map_err(registry("checking", &tagged))?
        .and_then(|h| h.digest);
    let unchanged = previous.as_ref() == Some(&digest);
    if !unchanged {
        client
            .put_manifest(&tagged, tag, &manifest)
            .await
            .map_err(registry("tagging", &tagged))?;
    }
    let now_there = client
        .get_manifest(&tagged)
        .await
        .map_err(registry("reading back", &tagged))?;
    if now_there.digest() != &digest {
        return Err(PromoteError::TagMoved {
            location: tagged.to_string(),
            expected: digest,
            found: now_there.digest().to_string(),
        });
    }
    Ok(PromoteReport {
        reference: repository.to_string(),
        tagged: tagged.to_string(),
        media_type: manifest.media_type().to_owned(),
        digest,
        previous,
        unchanged,
        verdict,
    })
}
