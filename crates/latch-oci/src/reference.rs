//! Image references, parsed by the grammar of the distribution project
//! (`distribution/reference`), with Docker's normalisation.
//!
//! ```text
//! reference   := name [ ":" tag ] [ "@" digest ]
//! name        := [ domain "/" ] path
//! domain      := host [ ":" port ]          host: DNS name, IPv4 or [IPv6]
//! path        := component ( "/" component )*
//! component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag         := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! ```
//!
//! The first path element is a registry host when it contains `.` or `:`, is
//! `localhost`, or holds an uppercase letter; otherwise the reference is on Docker Hub
//! (`docker.io`), where a single-element path gets the `library/` prefix.

use std::fmt;
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";
/// The legacy alias of Docker Hub that go-containerregistry (and so cosign) writes.
pub const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// The host that serves Docker Hub's registry API.
pub const DOCKER_HUB_ENDPOINT: &str = "registry-1.docker.io";

const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Empty input.
    #[error("image reference is empty")]
    Empty,
    /// Registry host that is not a host name, IP address or `[IPv6]`, or a bad port.
    #[error("image reference {reference:?}: {host:?} is not a valid registry host")]
    BadRegistry {
        /// The input.
        reference: String,
        /// The host part.
        host: String,
    },
    /// A path component outside the grammar (uppercase, double separators, empty…).
    #[error(
        "image reference {reference:?}: repository path {path:?} is invalid (lowercase letters, digits and single separators . _ __ - only)"
    )]
    BadRepository {
        /// The input.
        reference: String,
        /// The repository path.
        path: String,
    },
    /// Repository name over 255 characters.
    #[error("image reference {reference:?}: repository name is longer than 255 characters")]
    NameTooLong {
        /// The input.
        reference: String,
    },
    /// A tag outside the grammar.
    #[error(
        "image reference {reference:?}: tag {tag:?} is invalid (1 to 128 of A-Z a-z 0-9 _ . -, not starting with . or -)"
    )]
    BadTag {
        /// The input.
        reference: String,
        /// The tag.
        tag: String,
    },
    /// A malformed digest.
    #[error("image reference {reference:?}: {source}")]
    BadDigest {
        /// The input.
        reference: String,
        /// Why the digest is malformed.
        source: DigestError,
    },
}

/// A parsed, normalised image reference.
///
/// `registry` is normalised (`index.docker.io` becomes `docker.io`), `repository` is the
/// path inside the registry (`library/debian` for `debian`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference such as `ghcr.io/org/img:tag`, `localhost:5000/x@sha256:…`,
    /// `debian` or `[::1]:5000/a/b:t@sha256:…`.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let bad_repo = |path: &str| ReferenceError::BadRepository {
            reference: clip(input),
            path: clip(path),
        };
        // Split off the digest first: it is the only part that may contain ':' after '@'.
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => {
                let digest = Digest::parse(d).map_err(|source| ReferenceError::BadDigest {
                    reference: clip(input),
                    source,
                })?;
                (rest, Some(digest))
            }
            None => (input, None),
        };
        // The tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(&rest[at + 1..]))
            }
            None => (rest, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(ReferenceError::BadTag {
                reference: clip(input),
                tag: clip(tag),
            });
        }
        if name.is_empty() {
            return Err(bad_repo(name));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path)) if looks_like_host(first) => {
                if !valid_host(first) {
                    return Err(ReferenceError::BadRegistry {
                        reference: clip(input),
                        host: clip(first),
                    });
                }
                let registry = if first == DOCKER_HUB_LEGACY {
                    DOCKER_HUB.to_owned()
                } else {
                    first.to_owned()
                };
                (registry, path.to_owned())
            }
            _ => {
                let path = if name.contains('/') {
                    name.to_owned()
                } else {
                    format!("library/{name}")
                };
                (DOCKER_HUB.to_owned(), path)
            }
        };
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if !path.split('/').all(valid_path_component) {
            return Err(bad_repo(&path));
        }
        if registry.len() + 1 + path.len() > NAME_MAX {
            return Err(ReferenceError::NameTooLong {
                reference: clip(input),
            });
        }
        Ok(Reference {
            registry,
            repository: path,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The normalised registry (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host[:port] to connect to: Docker Hub is served by `registry-1.docker.io`.
    pub fn endpoint(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_ENDPOINT
        } else {
            &self.registry
        }
    }

    /// The repository path inside the registry (`library/debian`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full repository name, `registry/repository`, with no tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The repository name as go-containerregistry writes it (`index.docker.io/…` for Docker
    /// Hub): what cosign puts in a signature's `docker-reference`.
    pub fn cosign_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            format!("{DOCKER_HUB_LEGACY}/{}", self.repository)
        } else {
            self.name()
        }
    }

    /// Whether both name the same repository (tags and digests ignored).
    pub fn same_repository(&self, other: &Reference) -> bool {
        self.registry == other.registry && self.repository == other.repository
    }

    /// This repository with neither tag nor digest.
    pub fn repository_only(&self) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: None,
        }
    }

    /// This repository with only the given digest (tag dropped).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// This repository with only the given tag (digest dropped).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError::BadTag {
                reference: self.name(),
                tag: clip(tag),
            });
        }
        Ok(Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        })
    }

    /// What to ask the registry for: the digest if there is one, else the tag, else `latest`.
    pub fn manifest_selector(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// Whether the registry host is a loopback address (`localhost`, 127.0.0.0/8, `::1`),
    /// where plain HTTP is allowed as docker allows it.
    pub fn is_loopback(&self) -> bool {
        host_is_loopback(&self.registry)
    }
}

/// Whether a `host[:port]` names the loopback interface.
pub fn host_is_loopback(host_port: &str) -> bool {
    let host = strip_port(host_port);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

fn strip_port(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return match rest.find(']') {
            Some(i) => &host_port[..i + 2],
            None => host_port,
        };
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host_port,
    }
}

fn clip(s: &str) -> String {
    crate::text::clip(s, 300)
}

fn looks_like_host(first: &str) -> bool {
    first.contains('.')
        || first.contains(':')
        || first.starts_with('[')
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn valid_host(host_port: &str) -> bool {
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return false,
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host_port), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    match host {
        None => true,
        Some(h) => !h.is_empty() && h.split('.').all(valid_domain_component),
    }
}

fn valid_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
}

fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or one or more "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= TAG_MAX
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// (input, registry, repository, tag, has digest)
    const VALID: &[(&str, &str, &str, Option<&str>, bool)] = &[
        ("debian", "docker.io", "library/debian", None, false),
        (
            "debian:12",
            "docker.io",
            "library/debian",
            Some("12"),
            false,
        ),
        ("library/debian", "docker.io", "library/debian", None, false),
        (
            "docker.io/debian",
            "docker.io",
            "library/debian",
            None,
            false,
        ),
        (
            "index.docker.io/debian:bookworm",
            "docker.io",
            "library/debian",
            Some("bookworm"),
            false,
        ),
        ("user/app", "docker.io", "user/app", None, false),
        (
            "ghcr.io/freedomofpress/dangerzone/v1",
            "ghcr.io",
            "freedomofpress/dangerzone/v1",
            None,
            false,
        ),
        (
            "ghcr.io/a/b/c/d:20241219-0.8.0-77-g06a9117",
            "ghcr.io",
            "a/b/c/d",
            Some("20241219-0.8.0-77-g06a9117"),
            false,
        ),
        ("localhost/app", "localhost", "app", None, false),
        (
            "localhost:5000/app:v1",
            "localhost:5000",
            "app",
            Some("v1"),
            false,
        ),
        ("127.0.0.1:35111/x/y", "127.0.0.1:35111", "x/y", None, false),
        ("[::1]:5000/app", "[::1]:5000", "app", None, false),
        ("[fe80::1]/app:t", "[fe80::1]", "app", Some("t"), false),
        (
            "Registry.Example/app",
            "Registry.Example",
            "app",
            None,
            false,
        ),
        (
            "my-registry.example.com:443/a_b/c__d/e-f/g---h/i.j",
            "my-registry.example.com:443",
            "a_b/c__d/e-f/g---h/i.j",
            None,
            false,
        ),
        (
            "ghcr.io/o/i@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "ghcr.io",
            "o/i",
            None,
            true,
        ),
        (
            "ghcr.io/o/i:latest@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "ghcr.io",
            "o/i",
            Some("latest"),
            true,
        ),
        (
            "localhost:5000/o/i:_t.a-g@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "localhost:5000",
            "o/i",
            Some("_t.a-g"),
            true,
        ),
    ];

    const INVALID: &[&str] = &[
        "",
        ":tag",
        "@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "Debian",
        "docker.io/Library/debian",
        "ghcr.io/",
        "ghcr.io//a",
        "ghcr.io/a//b",
        "ghcr.io/a/",
        "ghcr.io/a..b",
        "ghcr.io/a___b",
        "ghcr.io/a-_b",
        "ghcr.io/-a",
        "ghcr.io/a-",
        "ghcr.io/a:",
        "ghcr.io/a:.tag",
        "ghcr.io/a:-tag",
        "ghcr.io/a:t@g",
        "ghcr.io/a@sha256:abc",
        "ghcr.io/a@md5:d41d8cd98f00b204e9800998ecf8427e",
        "-bad.host/a",
        "bad-.host/a",
        "host:port/a",
        "host:123456/a",
        "[::1/a",
        "[zz::1]:5000/a",
        "a b",
        "ghcr.io/a b",
        "ghcr.io/é",
    ];

    #[test]
    fn valid_table() {
        for (input, registry, repo, tag, has_digest) in VALID {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.registry(), *registry, "{input}");
            assert_eq!(r.repository(), *repo, "{input}");
            assert_eq!(r.tag(), *tag, "{input}");
            assert_eq!(r.digest().is_some(), *has_digest, "{input}");
            // The display form parses back to the same reference.
            assert_eq!(Reference::parse(&r.to_string()).unwrap(), r, "{input}");
        }
    }

    #[test]
    fn invalid_table() {
        for input in INVALID {
            assert!(
                Reference::parse(input).is_err(),
                "{input:?} should be refused"
            );
        }
    }

    #[test]
    fn long_names_and_tags() {
        let long_repo = format!("ghcr.io/{}", "a".repeat(250));
        assert!(matches!(
            Reference::parse(&long_repo),
            Err(ReferenceError::NameTooLong { .. })
        ));
        let ok_tag = format!("ghcr.io/a:{}", "t".repeat(128));
        assert!(Reference::parse(&ok_tag).is_ok());
        let long_tag = format!("ghcr.io/a:{}", "t".repeat(129));
        assert!(matches!(
            Reference::parse(&long_tag),
            Err(ReferenceError::BadTag { .. })
        ));
    }

    #[test]
    fn names_for_registry_and_cosign() {
        let hub = Reference::parse("debian:12").unwrap();
        assert_eq!(hub.endpoint(), "registry-1.docker.io");
        assert_eq!(hub.name(), "docker.io/library/debian");
        assert_eq!(hub.cosign_name(), "index.docker.io/library/debian");
        let legacy = Reference::parse("index.docker.io/library/debian").unwrap();
        assert!(hub.same_repository(&legacy));
        let gh = Reference::parse("ghcr.io/o/i:t").unwrap();
        assert_eq!(gh.cosign_name(), "ghcr.io/o/i");
        assert!(!gh.same_repository(&Reference::parse("ghcr.io/o/i2").unwrap()));
        assert_eq!(gh.manifest_selector(), "t");
        let d = Digest::parse(D).unwrap();
        assert_eq!(gh.with_digest(d.clone()).manifest_selector(), D);
        assert_eq!(gh.with_digest(d).to_string(), format!("ghcr.io/o/i@{D}"));
        assert_eq!(
            Reference::parse("ghcr.io/o/i").unwrap().manifest_selector(),
            "latest"
        );
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost:5000/a",
            "127.0.0.1/a",
            "127.9.9.9:1/a",
            "[::1]:5000/a",
            "[::1]/a",
        ] {
            assert!(Reference::parse(h).unwrap().is_loopback(), "{h}");
        }
        for h in [
            "ghcr.io/a",
            "10.0.0.1:5000/a",
            "localhost.evil.com/a",
            "[fe80::1]/a",
        ] {
            assert!(!Reference::parse(h).unwrap().is_loopback(), "{h}");
        }
        assert!(host_is_loopback("localhost"));
        assert!(host_is_loopback("127.0.0.1:80"));
        assert!(!host_is_loopback("128.0.0.1"));
    }
}
