//! Following the chain: from the trust held, each next version is adopted only when a
//! threshold of the held version's keys signed it.

use latch_trust::PublicKey;

use crate::document::{Checked, Revoked, TrustDocument};
use crate::envelope::{Envelope, signing_message};
use crate::error::ChainError;

/// The trust in force for a repository: version 1 is the application's own keys; each
/// later version came from a verified trust document.
#[derive(Debug, Clone)]
pub struct Succession {
    repository: String,
    version: u64,
    threshold: usize,
    keys: Vec<PublicKey>,
    /// Every key revoked by any version followed, with the earliest distrust time given.
    revoked: Vec<Revoked>,
    /// When the version in force expires (`None` for version 1, which never does).
    expires: Option<i64>,
    /// Log ids of the keys in force that cosigned their own version (proving they are
    /// held); empty for version 1.
    proven: Vec<String>,
    /// The envelopes of versions 2.. in order: what to persist and to carry in an
    /// archive (following them again from version 1 gives this succession back).
    chain: Vec<Vec<u8>>,
}

/// An envelope offered, opened.
struct Offer<'a> {
    version: u64,
    payload: Vec<u8>,
    signatures: Vec<Vec<u8>>,
    bytes: &'a [u8],
}

/// A link verified under the version before it.
struct Link {
    doc: Checked,
    /// Log ids of its own keys that signed it.
    proven: Vec<String>,
}

/// What [`Succession::follow`] did.
#[derive(Debug, Clone)]
pub struct Followed {
    /// The trust now in force.
    pub succession: Succession,
    /// The versions adopted, in order.
    pub adopted: Vec<u64>,
    /// Versions offered at or below the one held, not looked at further (an old version
    /// offered again never rolls trust back).
    pub ignored: Vec<u64>,
}

impl Succession {
    /// Version 1: the application's keys and threshold for `repository`.
    pub fn anchor(repository: &str, keys: Vec<PublicKey>, threshold: usize) -> Succession {
        Succession {
            repository: repository.to_owned(),
            version: 1,
            threshold,
            keys,
            revoked: Vec::new(),
            expires: None,
            proven: Vec::new(),
            chain: Vec::new(),
        }
    }

    /// The repository.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The version in force.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The keys in force.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// How many of them must sign the next version.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The keys revoked so far, each with its distrust time.
    pub fn revoked(&self) -> &[Revoked] {
        &self.revoked
    }

    /// When the version in force expires (`None` for version 1).
    pub fn expires(&self) -> Option<i64> {
        self.expires
    }

    /// Log ids of the keys in force that cosigned their own version (proving they are
    /// held when it was made); empty for version 1.
    pub fn proven(&self) -> &[String] {
        &self.proven
    }

    /// The envelopes of versions 2 and up, in order.
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    /// Follows `envelopes` (in any order, each a DSSE envelope's bytes) from the version
    /// held: version N+1 is adopted when a threshold of version N's keys (revoked ones
    /// not counting) signed it, then N+2 under N+1's keys, and so on. Versions at or
    /// below the one held are ignored; a missing version, a link signed by unknown keys
    /// or below threshold, a document for another repository, two different valid
    /// documents of one version, or a newest version expired at `now` is refused, and
    /// nothing is adopted.
    pub fn follow(&self, envelopes: &[&[u8]], now: i64) -> Result<Followed, ChainError> {
        self.walk(envelopes, Some(now))
    }

    /// Follows a chain adopted before (as [`Succession::chain`] gave it, persisted or
    /// carried in an archive) by the same rules, except that the newest version's
    /// expiry is not checked: what was adopted stays in force, offline, until a newer
    /// version replaces it (expiry guards adopting, against a frozen registry).
    pub fn restore(&self, envelopes: &[&[u8]]) -> Result<Succession, ChainError> {
        Ok(self.walk(envelopes, None)?.succession)
    }

    fn walk(&self, envelopes: &[&[u8]], now: Option<i64>) -> Result<Followed, ChainError> {
        let mut offered: Vec<Offer> = Vec::new();
        for bytes in envelopes {
            let opened = Envelope::open(bytes)?;
            let doc = TrustDocument::parse(&opened.payload)?;
            offered.push(Offer {
                version: doc.version,
                payload: opened.payload,
                signatures: opened.signatures,
                bytes,
            });
        }
        let mut ignored: Vec<u64> = offered
            .iter()
            .map(|o| o.version)
            .filter(|v| *v <= self.version)
            .collect();
        ignored.sort_unstable();
        ignored.dedup();
        let mut state = self.clone();
        let mut adopted = Vec::new();
        loop {
            let want = state.version + 1;
            let candidates: Vec<&Offer> = offered.iter().filter(|o| o.version == want).collect();
            if candidates.is_empty() {
                if let Some(next) = offered
                    .iter()
                    .map(|o| o.version)
                    .filter(|v| *v > want)
                    .min()
                {
                    return Err(ChainError::Gap {
                        held: state.version,
                        next,
                    });
                }
                break;
            }
            let mut verified: Vec<(Link, &Offer)> = Vec::new();
            let mut first_error = None;
            for offer in candidates {
                match state.verify_link(want, &offer.payload, &offer.signatures) {
                    Ok(link) => {
                        if !verified.iter().any(|(_, o)| o.payload == offer.payload) {
                            verified.push((link, offer));
                        }
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            if verified.len() > 1 {
                return Err(ChainError::Fork { version: want });
            }
            let Some((link, offer)) = verified.pop() else {
                // Only unverifiable candidates: the first one's reason.
                return Err(first_error.unwrap_or(ChainError::Gap {
                    held: state.version,
                    next: want,
                }));
            };
            state = state.adopt(link, offer.bytes)?;
            adopted.push(want);
        }
        if let (Some(expires), Some(now)) = (state.expires, now)
            && expires <= now
        {
            return Err(ChainError::Expired {
                version: state.version,
                expires,
                now,
            });
        }
        Ok(Followed {
            succession: state,
            adopted,
            ignored,
        })
    }

    /// Checks that `payload` (version `want`) is a coherent document for this
    /// repository, signed by a threshold of the keys in force.
    fn verify_link(
        &self,
        want: u64,
        payload: &[u8],
        signatures: &[Vec<u8>],
    ) -> Result<Link, ChainError> {
        let message = signing_message(payload);
        let signed = self
            .keys
            .iter()
            .filter(|k| !self.is_revoked(k))
            .filter(|k| signatures.iter().any(|s| k.verify(&message, s).is_ok()))
            .count();
        if signed == 0 {
            return Err(ChainError::UnknownSigners {
                version: want,
                previous: self.version,
            });
        }
        if signed < self.threshold {
            return Err(ChainError::BelowThreshold {
                version: want,
                previous: self.version,
                signed,
                threshold: self.threshold,
            });
        }
        let checked = TrustDocument::parse(payload)?.check()?;
        if checked.repository != self.repository {
            return Err(ChainError::WrongRepository {
                version: want,
                expected: self.repository.clone(),
                found: checked.repository,
            });
        }
        let proven = checked
            .keys
            .iter()
            .filter(|k| signatures.iter().any(|s| k.verify(&message, s).is_ok()))
            .map(|k| k.log_id().to_owned())
            .collect();
        Ok(Link {
            doc: checked,
            proven,
        })
    }

    fn is_revoked(&self, key: &PublicKey) -> bool {
        self.revoked.iter().any(|r| r.key.log_id() == key.log_id())
    }

    /// The next state: the document's keys, threshold and expiry; revocations added
    /// to those held (the earliest distrust time wins; a revocation is never undone).
    fn adopt(&self, link: Link, envelope: &[u8]) -> Result<Succession, ChainError> {
        let Link { doc, proven } = link;
        let mut revoked = self.revoked.clone();
        for r in doc.revoked {
            match revoked
                .iter_mut()
                .find(|have| have.key.log_id() == r.key.log_id())
            {
                Some(have) => have.distrust_after = have.distrust_after.min(r.distrust_after),
                None => revoked.push(r),
            }
        }
        if let Some(k) = doc
            .keys
            .iter()
            .find(|k| revoked.iter().any(|r| r.key.log_id() == k.log_id()))
        {
            return Err(ChainError::Unrevoked {
                version: doc.version,
                key: k.log_id().to_owned(),
            });
        }
        let mut chain = self.chain.clone();
        chain.push(envelope.to_vec());
        Ok(Succession {
            repository: self.repository.clone(),
            version: doc.version,
            threshold: doc.threshold,
            keys: doc.keys,
            revoked,
            expires: Some(doc.expires),
            proven,
            chain,
        })
    }

    /// The keys whose signatures count at log time `logged` (Unix seconds): the keys in
    /// force, and revoked keys for what was logged before their distrust time.
    pub fn keys_at(&self, logged: i64) -> Vec<&PublicKey> {
        self.keys
            .iter()
            .chain(
                self.revoked
                    .iter()
                    .filter(|r| logged < r.distrust_after)
                    .map(|r| &r.key),
            )
            .collect()
    }
}
