//! Key rotation in the updater (docs/trust-rotation.md): the trust documents the keys
//! publish beside the image are followed from the profile's keys (version 1) with
//! `latch-rotation`'s one rule, the chain adopted is kept in the data directory, and the
//! trust the one decision uses is rebuilt from the version in force.

use std::sync::Arc;

use latch_decide::Trust;
use latch_oci::Reference;
use latch_rotation::Succession;
use latch_store::Store;

use crate::error::Result;
use crate::profile::Profile;
use crate::updater::Updater;

/// The trust in force, and the key rotation version it was built from.
#[derive(Debug, Clone)]
pub(crate) struct InForce {
    /// The succession held (`None` when rotations are not followed, or no key is
    /// trusted: identities only).
    pub succession: Option<Succession>,
    /// The trust built from it.
    pub trust: Arc<Trust>,
}

impl InForce {
    /// From the profile and the chain kept in `store`: version 1 is the profile's keys
    /// (with its threshold, at most their number) for the image's repository; the chain
    /// on disk is followed again from it (expiry aside: what was adopted stays in force
    /// offline until a newer version replaces it).
    pub(crate) fn load(profile: &Profile, store: &Store) -> Result<InForce> {
        let keys = profile.trust.load_keys()?;
        let succession = if profile.follow_rotations && !keys.is_empty() {
            let threshold = profile.trust.threshold.unwrap_or(1).min(keys.len());
            let anchor = Succession::anchor(&repository_name(&profile.image), keys, threshold);
            let chain = store.trust_chain()?;
            let links: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
            Some(anchor.restore(&links)?)
        } else {
            None
        };
        let tuf = latch_tuf::TufCache::new(store.sigstore_tuf_dir());
        let trust = Arc::new(profile.trust.load_with(succession.as_ref(), Some(&tuf))?);
        Ok(InForce { succession, trust })
    }
}

/// The repository a profile's trust documents name.
pub(crate) fn repository_name(image: &Reference) -> String {
    image.repository_only().name()
}

impl Updater {
    /// Fetches the trust documents published after the version held from `image`'s
    /// repository and follows them; when a version is adopted, the chain is kept in the
    /// data directory and the trust rebuilt before anything is decided. A chain that
    /// cannot be followed is refused ([`crate::Error::TrustChain`]), nothing adopted.
    pub(crate) async fn follow_rotations(&self, image: &Reference, now: i64) -> Result<()> {
        let Some(held) = self.in_force().succession else {
            return Ok(());
        };
        let chain =
            latch_sources::trust_chain::fetch_trust_chain(&self.client, image, held.version())
                .await?;
        self.adopt_chain(&chain, now)
    }

    /// Follows the trust documents an OCI layout carries (an air-gap archive, a layout
    /// mirror), as [`Updater::follow_rotations`] does those of a registry.
    pub(crate) fn follow_rotations_in_layout(
        &self,
        layout: &latch_oci::OciLayout,
        entries: &[latch_oci::Descriptor],
        now: i64,
    ) -> Result<()> {
        if self.in_force().succession.is_none() {
            return Ok(());
        }
        let chain = latch_sources::trust_chain::trust_chain_in_layout(layout, entries)?;
        self.adopt_chain(&chain, now)
    }

    /// Follows `chain` (envelopes in any order) from the version held; keeps and uses
    /// what is adopted.
    fn adopt_chain(&self, chain: &[Vec<u8>], now: i64) -> Result<()> {
        let Some(held) = self.in_force().succession else {
            return Ok(());
        };
        if chain.is_empty() {
            return Ok(());
        }
        let links: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
        let followed = held.follow(&links, now)?;
        if followed.adopted.is_empty() {
            return Ok(());
        }
        self.store.save_trust_chain(followed.succession.chain())?;
        let trust = Arc::new(
            self.profile
                .trust
                .load_with(Some(&followed.succession), Some(&self.tuf_cache()))?,
        );
        self.set_in_force(InForce {
            succession: Some(followed.succession),
            trust,
        });
        Ok(())
    }
}
