//! Who may have signed: keys, and identities (OIDC issuer, SAN, GitHub claims).

use sigstore_verify::crypto::{CertificateInfo, FulcioCiClaims};

use crate::error::{Error, Result};

/// How a certificate's SAN (its identity: an email address or a URI) must look.
#[derive(Debug, Clone)]
pub enum SanMatcher {
    /// Exactly this string.
    Exact(String),
    /// This regular expression, matched against the whole SAN (it is anchored: `^(?:…)$`).
    Regex {
        /// The expression as given.
        pattern: String,
        /// The anchored, compiled expression.
        regex: regex_lite::Regex,
    },
}

impl SanMatcher {
    /// An exact SAN.
    pub fn exact(san: impl Into<String>) -> SanMatcher {
        SanMatcher::Exact(san.into())
    }

    /// A regular expression over the whole SAN. Anchored whatever is written, so that a
    /// pattern for `…/dangerzone` never accepts `…/dangerzone-image`.
    pub fn regex(pattern: &str) -> Result<SanMatcher> {
        let regex = regex_lite::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| Error::Policy(format!("SAN regular expression {pattern:?}: {e}")))?;
        Ok(SanMatcher::Regex {
            pattern: pattern.to_owned(),
            regex,
        })
    }

    /// Whether `san` matches.
    pub fn matches(&self, san: &str) -> bool {
        match self {
            SanMatcher::Exact(e) => e == san,
            SanMatcher::Regex { regex, .. } => regex.is_match(san),
        }
    }
}

impl std::fmt::Display for SanMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SanMatcher::Exact(s) => f.write_str(s),
            SanMatcher::Regex { pattern, .. } => write!(f, "/{pattern}/ (whole SAN)"),
        }
    }
}

/// The GitHub Actions claims Fulcio copies from the workflow's OIDC token into certificate
/// extensions (OIDs 1.3.6.1.4.1.57264.1.12, .14, .18, .20; the deprecated .5, .6, .2 when
/// a certificate predates them). Each one set must match exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubClaims {
    /// `owner/repo`: the source repository (`https://github.com/owner/repo`).
    pub repository: Option<String>,
    /// The ref, e.g. `refs/heads/main` or `refs/tags/v1.2.3`.
    pub git_ref: Option<String>,
    /// The workflow file that ran, e.g. `.github/workflows/release.yml` (the caller's
    /// workflow, also when a reusable workflow signed).
    pub workflow: Option<String>,
    /// The event that triggered the run, e.g. `push`, `release`, `workflow_dispatch`.
    pub trigger: Option<String>,
}

impl GithubClaims {
    /// Whether no claim is required.
    pub fn is_empty(&self) -> bool {
        *self == GithubClaims::default()
    }
}

/// A keyless signer: who the certificate authority vouched for.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// The OIDC issuer, exactly (`https://token.actions.githubusercontent.com`,
    /// `https://github.com/login/oauth`, `https://accounts.google.com`…).
    pub issuer: String,
    /// The SAN.
    pub san: SanMatcher,
    /// GitHub claims that must match too.
    pub github: GithubClaims,
}

impl IdentityPolicy {
    /// An issuer and an exact SAN.
    pub fn new(issuer: impl Into<String>, san: SanMatcher) -> IdentityPolicy {
        IdentityPolicy {
            issuer: issuer.into(),
            san,
            github: GithubClaims::default(),
        }
    }

    /// A GitHub Actions workflow of a repository: issuer GitHub Actions, SAN
    /// `https://github.com/<repository>/<workflow>@<ref>` (any ref when `git_ref` is
    /// `None`), and the same repository, workflow and ref in the Fulcio claims.
    pub fn github_workflow(
        repository: &str,
        workflow: &str,
        git_ref: Option<&str>,
    ) -> Result<IdentityPolicy> {
        let pattern = format!(
            "https://github\\.com/{}/{}@{}",
            regex_lite::escape(repository),
            regex_lite::escape(workflow),
            git_ref
                .map(regex_lite::escape)
                .unwrap_or_else(|| ".+".into())
        );
        Ok(IdentityPolicy {
            issuer: crate::GITHUB_ACTIONS_ISSUER.into(),
            san: SanMatcher::regex(&pattern)?,
            github: GithubClaims {
                repository: Some(repository.to_owned()),
                git_ref: git_ref.map(str::to_owned),
                workflow: Some(workflow.to_owned()),
                trigger: None,
            },
        })
    }

    /// Checks a (verified) certificate against the policy; returns the claims checked as
    /// `(claim, value)` pairs, or names the first one that failed.
    ///
    /// The SAN is the one sigstore-verify read (an email address or a URI); a
    /// certificate whose SAN is Fulcio's otherName username (`1.3.6.1.4.1.57264.1.7`) is
    /// matched by [`IdentityPolicy::check_claims`], which
    /// [`verify_parsed_bundle`](crate::verify_parsed_bundle) uses.
    pub fn check(&self, cert: &CertificateInfo, location: &str) -> Result<Vec<(String, String)>> {
        self.check_claims(
            cert.identity.as_ref().map(|s| s.as_str()),
            cert.issuer.as_deref(),
            &cert.ci_claims,
            location,
        )
    }

    /// Checks a (verified) certificate's claims against the policy: `identity` is its SAN
    /// (an email address, a URI, or Fulcio's otherName username such as
    /// `foo!oidc.local`), `issuer` its OIDC issuer, `ci` its Fulcio CI claims. Returns the
    /// claims checked as `(claim, value)` pairs, or names the first one that failed.
    pub fn check_claims(
        &self,
        identity: Option<&str>,
        issuer: Option<&str>,
        ci: &FulcioCiClaims,
        location: &str,
    ) -> Result<Vec<(String, String)>> {
        let mut checked = Vec::new();
        if issuer != Some(self.issuer.as_str()) {
            return Err(Error::claim(
                location,
                "certificate OIDC issuer",
                &self.issuer,
                issuer,
            ));
        }
        checked.push(("certificate OIDC issuer".into(), self.issuer.clone()));
        match identity {
            Some(s) if self.san.matches(s) => {
                checked.push(("certificate identity (SAN)".into(), s.to_owned()));
            }
            _ => {
                return Err(Error::claim(
                    location,
                    "certificate identity (SAN)",
                    self.san.to_string(),
                    identity,
                ));
            }
        }
        checked.extend(check_github(&self.github, ci, location)?);
        Ok(checked)
    }
}

/// The workflow path of a GitHub `build_config_uri`
/// (`https://github.com/<owner>/<repo>/<path>@<ref>`), with its repository.
pub fn split_workflow_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let rest = uri.strip_prefix("https://github.com/")?;
    let (before_at, git_ref) = rest.split_once('@')?;
    let mut parts = before_at.splitn(3, '/');
    let owner = parts.next()?;
    let repo = parts.next()?;
    let path = parts.next()?;
    let repository = &before_at[..owner.len() + 1 + repo.len()];
    Some((repository, path, git_ref))
}

fn check_github(
    want: &GithubClaims,
    claims: &FulcioCiClaims,
    location: &str,
) -> Result<Vec<(String, String)>> {
    let mut checked = Vec::new();
    let old = &claims.deprecated_github;
    if let Some(repo) = &want.repository {
        let expected = format!("https://github.com/{repo}");
        let found = claims.source_repository_uri.clone().or_else(|| {
            old.workflow_repository
                .as_ref()
                .map(|r| format!("https://github.com/{r}"))
        });
        if found.as_deref() != Some(expected.as_str()) {
            return Err(Error::claim(
                location,
                "certificate source repository",
                expected,
                found.as_deref(),
            ));
        }
        checked.push(("certificate source repository".into(), expected));
    }
    if let Some(workflow) = &want.workflow {
        let uri = claims.build_config_uri.as_deref();
        let ok = uri
            .and_then(split_workflow_uri)
            .is_some_and(|(repo, path, _)| {
                path == workflow
                    && want
                        .repository
                        .as_deref()
                        .is_none_or(|expected| expected == repo)
            });
        if !ok {
            let expected = match &want.repository {
                Some(r) => format!("https://github.com/{r}/{workflow}@<ref>"),
                None => format!("https://github.com/<owner>/<repo>/{workflow}@<ref>"),
            };
            return Err(Error::claim(
                location,
                "certificate workflow (build config)",
                expected,
                uri,
            ));
        }
        checked.push((
            "certificate workflow (build config)".into(),
            uri.unwrap_or_default().to_owned(),
        ));
    }
    if let Some(git_ref) = &want.git_ref {
        let found = claims
            .source_repository_ref
            .as_deref()
            .or(old.workflow_ref.as_deref());
        if found != Some(git_ref.as_str()) {
            return Err(Error::claim(
                location,
                "certificate source ref",
                git_ref,
                found,
            ));
        }
        checked.push(("certificate source ref".into(), git_ref.clone()));
    }
    if let Some(trigger) = &want.trigger {
        let found = claims
            .build_trigger
            .as_deref()
            .or(old.workflow_trigger.as_deref());
        if found != Some(trigger.as_str()) {
            return Err(Error::claim(
                location,
                "certificate build trigger",
                trigger,
                found,
            ));
        }
        checked.push(("certificate build trigger".into(), trigger.clone()));
    }
    Ok(checked)
}

/// One acceptable signer.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A public key (DER SubjectPublicKeyInfo): the bundle carries no certificate.
    Key {
        /// DER SubjectPublicKeyInfo.
        der: Vec<u8>,
        /// How reports name it (its file, or `sha256:<hex of the DER>`).
        name: String,
    },
    /// A Fulcio certificate for this identity.
    Identity(IdentityPolicy),
}

impl Signer {
    /// A key from PEM (`PUBLIC KEY`) text; `name` names it in reports and errors.
    pub fn key_from_pem(pem: &str, name: &str) -> Result<Signer> {
        let der = sigstore_verify::types::DerPublicKey::from_pem(pem).map_err(|e| Error::Key {
            location: name.to_owned(),
            detail: e.to_string(),
        })?;
        sigstore_verify::crypto::KeyAlgorithm::from_spki(&der).map_err(|e| Error::Key {
            location: name.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(Signer::Key {
            der: der.as_bytes().to_vec(),
            name: name.to_owned(),
        })
    }

    /// A key from DER SubjectPublicKeyInfo.
    pub fn key_from_der(der: &[u8], name: &str) -> Signer {
        Signer::Key {
            der: der.to_vec(),
            name: name.to_owned(),
        }
    }

    /// How reports describe the signer.
    pub fn describe(&self) -> String {
        match self {
            Signer::Key { name, .. } => format!("key {name}"),
            Signer::Identity(p) => format!("identity {} from {}", p.san, p.issuer),
        }
    }
}

/// What the transparency log must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlogRequirement {
    /// Everything the bundle's format requires, checked by sigstore-verify: for v0.2 and
    /// v0.3, an inclusion proof with a signed checkpoint (and, for Rekor v2, an RFC 3161
    /// timestamp); for v0.1 (and cosign's legacy `.sig`/`.att` layers, which become v0.1
    /// bundles), an inclusion promise (SET), plus the proof when there is one. SETs are
    /// verified, entries are bound to the signature, and a certificate must be valid at
    /// the integrated time. The default, and what the conformance suite requires.
    #[default]
    Required,
    /// Nothing: key-signed bundles made with `--tlog-upload=false`. Entries that are
    /// present are still checked for consistency with the bundle, and a keyless bundle
    /// still needs an authenticated signing time (a SET or an RFC 3161 timestamp).
    None,
}

#[cfg(test)]
mod tests {
    use super::SanMatcher;

    #[test]
    fn san_patterns_are_anchored_with_ascii_classes_as_in_cosign() {
        let Ok(m) = SanMatcher::regex(r"https://github\.com/\w+/dangerzone/.+") else {
            panic!("a valid pattern was refused");
        };
        assert!(m.matches(
            "https://github.com/freedomofpress/dangerzone/.github/workflows/r.yml@refs/tags/v1"
        ));
        assert!(
            !m.matches("xhttps://github.com/freedomofpress/dangerzone/w"),
            "not anchored at the start"
        );
        // Go's regexp (cosign) has ASCII-only \w; so does Latch.
        assert!(!m.matches("https://github.com/frëedomofpress/dangerzone/w"));
        let Ok(m) = SanMatcher::regex("a|b") else {
            panic!()
        };
        assert!(!m.matches("ab"), "the alternation escaped the anchors");
        assert!(SanMatcher::regex("(").is_err());
    }
}
