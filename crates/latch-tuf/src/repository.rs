//! Which TUF repository: its URL and the root a client starts from.

use sha2::{Digest as _, Sha256};
use sigstore_trust_root::SigstoreInstance;

use crate::error::TufError;

/// A TUF repository publishing a Sigstore `trusted_root.json`, and the initial root that
/// anchors it (TUF's "trusted on first use" root, shipped with the application).
#[derive(Clone, PartialEq, Eq)]
pub struct TufRepository {
    url: String,
    initial_root: Vec<u8>,
    origin: String,
}

impl std::fmt::Debug for TufRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TufRepository")
            .field("url", &self.url)
            .field("initial_root", &self.origin)
            .finish()
    }
}

impl TufRepository {
    /// Sigstore's public-good repository, from the root `sigstore-trust-root` embeds.
    pub fn public_good() -> TufRepository {
        let instance = SigstoreInstance::PublicGood;
        TufRepository {
            url: instance.tuf_url().to_owned(),
            initial_root: instance.tuf_root().to_vec(),
            origin: "built-in public-good root".into(),
        }
    }

    /// Another repository (a private Sigstore, a test one): `url` (http or https, no
    /// credentials) and its initial `root.json`, named `origin` in errors. The root must
    /// be signed by its own threshold of keys.
    pub fn new(url: &str, initial_root: Vec<u8>, origin: &str) -> Result<TufRepository, TufError> {
        let bad = |reason: &str| TufError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad("expected http:// or https:// and a host"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("credentials in the URL are not supported"));
        }
        sigstore_tuf::TrustedMetadataSet::from_root(&initial_root).map_err(|source| {
            TufError::InitialRoot {
                origin: origin.to_owned(),
                source,
            }
        })?;
        Ok(TufRepository {
            url: url.trim_end_matches('/').to_owned(),
            initial_root,
            origin: origin.to_owned(),
        })
    }

    /// The repository's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The initial root's bytes.
    pub fn initial_root(&self) -> &[u8] {
        &self.initial_root
    }

    /// The initial root's version (1 unless the application ships a later one).
    pub fn initial_version(&self) -> u64 {
        sigstore_tuf::TrustedMetadataSet::from_root(&self.initial_root)
            .map(|s| s.root().version)
            .unwrap_or(1)
    }

    /// Where the initial root came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The folder name its state is kept under: the URL's sha256, shortened (one URL,
    /// one folder, whatever characters it holds).
    pub fn folder(&self) -> String {
        let digest = hex::encode(Sha256::digest(self.url.as_bytes()));
        digest[..16].to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_good_root_is_a_signed_root() {
        let pg = TufRepository::public_good();
        assert_eq!(pg.url(), "https://tuf-repo-cdn.sigstore.dev");
        let again = TufRepository::new(pg.url(), pg.initial_root().to_vec(), "x").unwrap();
        assert_eq!(again.folder(), pg.folder());
    }

    #[test]
    fn bad_urls_and_roots_are_refused() {
        let root = TufRepository::public_good().initial_root().to_vec();
        for url in [
            "ftp://h/x",
            "not a url",
            "https://user:pw@h/",
            "file:///etc",
        ] {
            let e = TufRepository::new(url, root.clone(), "r").unwrap_err();
            assert!(matches!(e, TufError::BadUrl { .. }), "{url}: {e}");
        }
        let e = TufRepository::new("https://h", b"{}".to_vec(), "/etc/app/root.json").unwrap_err();
        assert!(
            matches!(&e, TufError::InitialRoot { origin, .. } if origin == "/etc/app/root.json"),
            "{e}"
        );
        let mut tampered = root;
        let at = tampered.len() / 2;
        tampered[at] ^= 1;
        assert!(TufRepository::new("https://h", tampered, "r").is_err());
    }
}
