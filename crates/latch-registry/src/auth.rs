//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1) and the token cache.
//!
//! The registry says how to authenticate: `Basic realm=…` or `Bearer realm=…,service=…,
//! scope=…`. The token endpoint is whatever `realm` names; nothing here guesses a path.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// One authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP basic authentication.
    Basic {
        /// The realm (informative).
        realm: Option<String>,
    },
    /// Docker/OCI token authentication.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The service to name in the token request.
        service: Option<String>,
        /// The scope the registry asked for, if any.
        scope: Option<String>,
    },
}

/// Parses every challenge in the values of `WWW-Authenticate` headers. Unknown schemes are
/// skipped; a malformed header yields no challenge rather than a guess.
pub fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        for (scheme, params) in split_challenges(value) {
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(pk, _)| pk.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
            };
            if scheme.eq_ignore_ascii_case("basic") {
                out.push(Challenge::Basic {
                    realm: get("realm"),
                });
            } else if scheme.eq_ignore_ascii_case("bearer")
                && let Some(realm) = get("realm")
            {
                out.push(Challenge::Bearer {
                    realm,
                    service: get("service"),
                    scope: get("scope"),
                });
            }
        }
    }
    out
}

type Params = Vec<(String, String)>;

/// Splits a header value into (scheme, params) pairs.
fn split_challenges(value: &str) -> Vec<(String, Params)> {
    let mut out: Vec<(String, Params)> = Vec::new();
    let b = value.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
            *i += 1;
        }
    };
    let is_tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        // A token: either a new scheme (followed by space or end) or a param name (followed by '=').
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if start == i {
            // Garbage: stop rather than misparse.
            return out;
        }
        let token = &value[start..i];
        let mut j = i;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' {
            // key=value belongs to the current challenge.
            i = j + 1;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            let val = if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut s = String::new();
                let mut closed = false;
                while i < b.len() {
                    match b[i] {
                        b'\\' if i + 1 < b.len() => {
                            s.push(b[i + 1] as char);
                            i += 2;
                        }
                        b'"' => {
                            i += 1;
                            closed = true;
                            break;
                        }
                        _ => {
                            // Multi-byte UTF-8 is copied whole.
                            let ch_len = value[i..].chars().next().map_or(1, char::len_utf8);
                            s.push_str(&value[i..i + ch_len]);
                            i += ch_len;
                        }
                    }
                }
                if !closed {
                    return out;
                }
                s
            } else {
                let vs = i;
                while i < b.len() && is_tchar(b[i]) || (i < b.len() && b[i] == b'/') {
                    i += 1;
                }
                value[vs..i].to_owned()
            };
            match out.last_mut() {
                Some((_, params)) => params.push((token.to_owned(), val)),
                None => return out,
            }
        } else {
            out.push((token.to_owned(), Vec::new()));
            i = j;
        }
    }
    out
}

/// A cached bearer token, valid until `expires_at` (unix seconds).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct CachedToken {
    pub host: String,
    pub scope: String,
    pub token: String,
    pub expires_at: u64,
}

/// A host's token endpoint, learnt from its challenge.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Realm {
    pub realm: String,
    pub service: Option<String>,
}

/// Tokens by (registry host, scope), reused until shortly before they expire, and the
/// token endpoints of hosts that asked for bearer auth. With a file it survives the
/// process, so that a periodic check costs the registry one request.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct TokenCache {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    realms: BTreeMap<String, Realm>,
    #[serde(default)]
    tokens: Vec<CachedToken>,
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenCache {
    /// Reads a cache file. A missing, unreadable or malformed file is an empty cache: it
    /// only ever saves requests, and is rewritten on the next token.
    pub fn load(path: &Path) -> TokenCache {
        let Ok(bytes) = latch_oci::layout::read_bounded(path, 1024 * 1024) else {
            return TokenCache::default();
        };
        let mut c: TokenCache = serde_json::from_slice(&bytes).unwrap_or_default();
        let now = unix_now();
        c.tokens.retain(|t| t.expires_at > now);
        c
    }

    /// Writes the cache, readable by its owner only (tokens are secrets).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        latch_oci::fsutil::atomic_write_private(path, &bytes)
    }

    pub fn get(&self, host: &str, scope: &str) -> Option<String> {
        let now = unix_now();
        self.tokens
            .iter()
            .find(|t| t.host == host && t.scope == scope && t.expires_at > now)
            .map(|t| t.token.clone())
    }

    pub fn put(&mut self, host: &str, scope: &str, token: String, lifetime: Duration) {
        // Keep a margin so a token is not sent in its last seconds.
        let margin = Duration::from_secs(10).min(lifetime / 4);
        let expires_at = unix_now() + lifetime.saturating_sub(margin).as_secs();
        self.forget(host, scope);
        let now = unix_now();
        self.tokens.retain(|t| t.expires_at > now);
        self.tokens.push(CachedToken {
            host: host.to_owned(),
            scope: scope.to_owned(),
            token,
            expires_at,
        });
    }

    pub fn forget(&mut self, host: &str, scope: &str) {
        self.tokens
            .retain(|t| !(t.host == host && t.scope == scope));
    }

    pub fn realm(&self, host: &str) -> Option<Realm> {
        self.realms.get(host).cloned()
    }

    /// Records a host's token endpoint; true if it is new.
    pub fn set_realm(&mut self, host: &str, realm: Realm) -> bool {
        self.realms.insert(host.to_owned(), realm.clone()) != Some(realm)
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are secrets: show how many, never what.
        write!(f, "TokenCache({} tokens)", self.tokens.len())
    }
}

/// The token endpoint's answer (`token` or the OAuth2 `access_token`).
#[derive(serde::Deserialize)]
pub(crate) struct TokenResponse {
    pub token: Option<String>,
    pub access_token: Option<String>,
    pub expires_in: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_all_params() {
        let c = parse_challenges([
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#,
        ]);
        assert_eq!(
            c,
            vec![Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
                scope: Some("repository:a/b:pull".into()),
            }]
        );
    }

    #[test]
    fn basic_and_case_and_spacing() {
        assert_eq!(
            parse_challenges([r#"basic realm = "Registry Realm""#]),
            vec![Challenge::Basic {
                realm: Some("Registry Realm".into())
            }]
        );
        assert_eq!(
            parse_challenges(["Basic"]),
            vec![Challenge::Basic { realm: None }]
        );
    }

    #[test]
    fn several_challenges_in_one_header() {
        let c = parse_challenges([
            r#"Basic realm="x", Bearer realm="http://127.0.0.1:1/auth",service=reg"#,
        ]);
        assert_eq!(c.len(), 2);
        assert!(
            matches!(&c[1], Challenge::Bearer { realm, service: Some(s), .. } if realm == "http://127.0.0.1:1/auth" && s == "reg")
        );
    }

    #[test]
    fn escapes_and_commas_inside_quotes() {
        let c = parse_challenges([
            r#"Bearer realm="https://a/t",scope="repository:a:pull,push",service="q\"x""#,
        ]);
        assert!(
            matches!(&c[0], Challenge::Bearer { scope: Some(s), service: Some(v), .. } if s == "repository:a:pull,push" && v == "q\"x")
        );
    }

    #[test]
    fn malformed_headers_yield_nothing_usable() {
        assert!(parse_challenges(["Bearer service=\"x\""]).is_empty()); // no realm
        assert!(parse_challenges([r#"Bearer realm="unterminated"#]).is_empty());
        assert!(parse_challenges(["Negotiate abc"]).is_empty());
        assert!(parse_challenges([""]).is_empty());
        assert!(parse_challenges(["=== ,,, \u{1F600}"]).is_empty());
    }

    #[test]
    fn token_cache_expires_and_is_scoped() {
        let mut c = TokenCache::default();
        c.put(
            "h",
            "repository:a:pull",
            "t1".into(),
            Duration::from_secs(300),
        );
        assert_eq!(c.get("h", "repository:a:pull").as_deref(), Some("t1"));
        assert!(c.get("h", "repository:b:pull").is_none());
        assert!(c.get("other", "repository:a:pull").is_none());
        c.put("h", "s", "t2".into(), Duration::from_secs(0));
        assert!(c.get("h", "s").is_none());
        c.forget("h", "repository:a:pull");
        assert!(c.get("h", "repository:a:pull").is_none());
        assert!(!format!("{c:?}").contains("t1"));
    }

    #[test]
    fn token_cache_survives_a_restart_and_drops_expired_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/auth.json");
        let mut c = TokenCache::default();
        c.put("h", "s", "secret".into(), Duration::from_secs(300));
        c.put("h", "old", "stale".into(), Duration::from_secs(0));
        assert!(c.set_realm(
            "h",
            Realm {
                realm: "https://h/token".into(),
                service: Some("h".into())
            }
        ));
        c.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let back = TokenCache::load(&path);
        assert_eq!(back.get("h", "s").as_deref(), Some("secret"));
        assert!(back.get("h", "old").is_none());
        assert_eq!(back.realm("h").unwrap().realm, "https://h/token");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(
            TokenCache::load(&path).get("h", "s").is_none(),
            "garbage is an empty cache"
        );
    }
}
