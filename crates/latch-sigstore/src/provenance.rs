//! SLSA provenance policies: who built an image, from which repository, workflow and ref.
//!
//! Every match is anchored. Dangerzone's CUE policy checks
//! `configSource.uri =~ "^git\\+https://github.com/<repository>"`, a prefix, so that
//! `freedomofpress/dangerzone` also accepts `freedomofpress/dangerzone-image` (FORMATS.md
//! 5.8); here a repository is the whole `owner/repo`, followed by `@` or nothing.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::policy::{IdentityPolicy, SanMatcher};
use crate::statement::Statement;

/// `predicateType` of SLSA provenance v0.2 (slsa-github-generator, cosign `.att`).
pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
/// `predicateType` of SLSA provenance v1 (GitHub `attest-build-provenance`).
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// The builder of v0.2 provenance accepted by default: slsa-github-generator's container
/// workflow at a release tag (what dangerzone-image uses), dots escaped.
pub const SLSA_GENERATOR_CONTAINER_BUILDER: &str = r"https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/generator_container_slsa3\.yml@refs/tags/v[0-9]+\.[0-9]+\.[0-9]+";
/// The builder of v1 provenance accepted by default: GitHub's runners
/// (`https://github.com/actions/runner/github-hosted`).
pub const GITHUB_RUNNER_BUILDER: &str = r"https://github\.com/actions/runner/[A-Za-z0-9._-]+";

/// One claim checked, as printed: `name: value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// What was checked (`predicate.builder.id`, `certificate source repository`…).
    pub name: String,
    /// The value found (and accepted).
    pub value: String,
}

impl std::fmt::Display for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.value)
    }
}

/// What the provenance of an image must say.
#[derive(Debug, Clone)]
pub struct ProvenancePolicy {
    /// `owner/repo`.
    pub repository: String,
    /// The workflow file, e.g. `.github/workflows/release.yml`.
    pub workflow: String,
    /// The ref the build ran on, when required (`refs/heads/main`, `refs/tags/v1`).
    pub git_ref: Option<String>,
    /// With no exact `git_ref`: a regular expression the whole ref must match
    /// (`refs/tags/v[0-9.]+`).
    ref_pattern: Option<(String, regex_lite::Regex)>,
    builder: Option<(String, regex_lite::Regex)>,
    /// The OIDC issuer of the workflow's certificate (default: GitHub Actions').
    issuer: Option<String>,
}

fn anchored(pattern: &str) -> Result<regex_lite::Regex> {
    regex_lite::Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| Error::Policy(format!("regular expression {pattern:?}: {e}")))
}

impl ProvenancePolicy {
    /// A policy. `builder_id` is a regular expression over the whole builder ID (default:
    /// [`SLSA_GENERATOR_CONTAINER_BUILDER`] for v0.2, [`GITHUB_RUNNER_BUILDER`] for v1).
    pub fn new(
        repository: &str,
        workflow: &str,
        git_ref: Option<&str>,
        builder_id: Option<&str>,
    ) -> Result<ProvenancePolicy> {
        let valid_repo = repository.split('/').count() == 2
            && repository.split('/').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        if !valid_repo {
            return Err(Error::Policy(format!(
                "repository {repository:?}: expected OWNER/REPO"
            )));
        }
        if workflow.is_empty() || workflow.contains('@') {
            return Err(Error::Policy(format!(
                "workflow {workflow:?}: expected a path such as .github/workflows/release.yml"
            )));
        }
        let builder = builder_id
            .map(|b| anchored(b).map(|r| (b.to_owned(), r)))
            .transpose()?;
        Ok(ProvenancePolicy {
            repository: repository.to_owned(),
            workflow: workflow.to_owned(),
            git_ref: git_ref.map(str::to_owned),
            ref_pattern: None,
            builder,
            issuer: None,
        })
    }

    /// Requires this OIDC issuer instead of GitHub Actions' (a GitHub Enterprise
    /// Server's, say).
    pub fn with_issuer(mut self, issuer: &str) -> Result<ProvenancePolicy> {
        if !issuer.starts_with("https://") {
            return Err(Error::Policy(format!(
                "issuer {issuer:?}: expected an https:// URL"
            )));
        }
        self.issuer = Some(issuer.to_owned());
        Ok(self)
    }

    /// Requires, in place of an exact ref, a ref matching `pattern` (a regular
    /// expression over the whole ref, anchored): in the certificate's identity and in
    /// the predicate. Refused when an exact ref is already required.
    pub fn with_ref_pattern(mut self, pattern: &str) -> Result<ProvenancePolicy> {
        if self.git_ref.is_some() {
            return Err(Error::Policy(
                "give an exact ref or a ref pattern, not both".into(),
            ));
        }
        self.ref_pattern = Some((pattern.to_owned(), anchored(pattern)?));
        Ok(self)
    }

    /// The ref rule, as a person reads it: the exact ref, `/pattern/`, or `any ref`.
    pub fn ref_rule(&self) -> String {
        match (&self.git_ref, &self.ref_pattern) {
            (Some(r), _) => r.clone(),
            (None, Some((p, _))) => format!("/{p}/"),
            (None, None) => "any ref".to_owned(),
        }
    }

    /// Whether `found` is a ref this policy allows.
    fn ref_allowed(&self, found: &str) -> bool {
        match (&self.git_ref, &self.ref_pattern) {
            (Some(r), _) => found == r,
            (None, Some((_, re))) => re.is_match(found),
            (None, None) => !found.is_empty(),
        }
    }

    fn builder_for(&self, predicate_type: &str) -> Result<(String, regex_lite::Regex)> {
        match &self.builder {
            Some(b) => Ok(b.clone()),
            None => {
                let p = if predicate_type == SLSA_PROVENANCE_V02 {
                    SLSA_GENERATOR_CONTAINER_BUILDER
                } else {
                    GITHUB_RUNNER_BUILDER
                };
                Ok((p.to_owned(), anchored(p)?))
            }
        }
    }

    /// Who may have signed the provenance: a GitHub Actions certificate whose claims name
    /// this repository, this workflow (the one that ran) and the ref when required, and
    /// whose SAN is that workflow in that repository, or a trusted builder (a reusable
    /// workflow such as slsa-github-generator's, which signs in the caller's name).
    pub fn identity(&self) -> Result<IdentityPolicy> {
        let mut identity = IdentityPolicy::github_workflow(
            &self.repository,
            &self.workflow,
            self.git_ref.as_deref(),
        )?;
        if let Some(issuer) = &self.issuer {
            identity.issuer = issuer.clone();
        }
        if let Some((pattern, _)) = &self.ref_pattern {
            identity.san = SanMatcher::regex(&format!(
                "https://github\\.com/{}/{}@(?:{pattern})",
                regex_lite::escape(&self.repository),
                regex_lite::escape(&self.workflow)
            ))?;
        }
        let own = match &identity.san {
            SanMatcher::Regex { pattern, .. } => pattern.clone(),
            SanMatcher::Exact(s) => regex_lite::escape(s),
        };
        let builder = match &self.builder {
            Some((p, _)) => p.clone(),
            None => SLSA_GENERATOR_CONTAINER_BUILDER.to_owned(),
        };
        identity.san = SanMatcher::regex(&format!("(?:{own})|(?:{builder})"))?;
        Ok(identity)
    }

    /// Checks a verified statement: its subjects include `image_digest` (`sha256:<hex>`)
    /// and its SLSA predicate (v0.2 or v1) names this builder, repository, workflow and
    /// ref. Returns the claims checked, or names the one that failed.
    pub fn check_statement(
        &self,
        statement: &Statement,
        image_digest: &str,
        location: &str,
    ) -> Result<Vec<Claim>> {
        let mut claims = Vec::new();
        if !statement.has_subject(image_digest) {
            return Err(Error::claim(
                location,
                "statement subject",
                format!("a subject with digest {image_digest}"),
                Some(&statement.subject_digests().join(", ")),
            ));
        }
        claims.push(claim("statement subject", image_digest));
        claims.push(claim("predicateType", &statement.predicate_type));
        let p = &statement.predicate;
        let (builder_pattern, builder) = self.builder_for(&statement.predicate_type)?;
        let repo_url = format!("https://github.com/{}", self.repository);
        match statement.predicate_type.as_str() {
            SLSA_PROVENANCE_V02 => {
                let id = string_at(p, &["builder", "id"]);
                require(
                    location,
                    "predicate.builder.id",
                    &builder_pattern,
                    id,
                    |v| builder.is_match(v),
                )?;
                claims.push(claim("predicate.builder.id", id.unwrap_or_default()));
                let uri = string_at(p, &["invocation", "configSource", "uri"]);
                let base = format!("git+{repo_url}");
                let expected = match (&self.git_ref, &self.ref_pattern) {
                    (Some(r), _) => format!("{base}@{r}"),
                    (None, Some(_)) => format!("{base}@<ref matching {}>", self.ref_rule()),
                    (None, None) => format!("{base} or {base}@<ref>"),
                };
                require(
                    location,
                    "predicate.invocation.configSource.uri",
                    &expected,
                    uri,
                    |v| match (&self.git_ref, &self.ref_pattern) {
                        (None, None) => {
                            v == base
                                || v.strip_prefix(&base)
                                    .is_some_and(|rest| rest.starts_with('@'))
                        }
                        _ => v
                            .strip_prefix(&base)
                            .and_then(|rest| rest.strip_prefix('@'))
                            .is_some_and(|r| self.ref_allowed(r)),
                    },
                )?;
                claims.push(claim(
                    "predicate.invocation.configSource.uri",
                    uri.unwrap_or_default(),
                ));
                let entry = string_at(p, &["invocation", "configSource", "entryPoint"]);
                require(
                    location,
                    "predicate.invocation.configSource.entryPoint",
                    &self.workflow,
                    entry,
                    |v| v == self.workflow,
                )?;
                claims.push(claim(
                    "predicate.invocation.configSource.entryPoint",
                    &self.workflow,
                ));
                let sha1 = string_at(p, &["invocation", "configSource", "digest", "sha1"]);
                require(
                    location,
                    "predicate.invocation.configSource.digest.sha1",
                    "a 40-digit commit hash",
                    sha1,
                    |v| v.len() == 40 && v.chars().all(|c| c.is_ascii_hexdigit()),
                )?;
                claims.push(claim(
                    "predicate.invocation.configSource.digest.sha1",
                    sha1.unwrap_or_default(),
                ));
            }
            SLSA_PROVENANCE_V1 => {
                if let Some(t) = string_at(p, &["buildDefinition", "buildType"]) {
                    claims.push(claim("predicate.buildDefinition.buildType", t));
                }
                let w = ["buildDefinition", "externalParameters", "workflow"];
                let field = |f: &str| {
                    let mut path = w.to_vec();
                    path.push(f);
                    string_at(p, &path)
                };
                let name =
                    |f: &str| format!("predicate.buildDefinition.externalParameters.workflow.{f}");
                let repo = field("repository");
                require(location, &name("repository"), &repo_url, repo, |v| {
                    v == repo_url
                })?;
                claims.push(claim(&name("repository"), &repo_url));
                let path = field("path");
                require(location, &name("path"), &self.workflow, path, |v| {
                    v == self.workflow
                })?;
                claims.push(claim(&name("path"), &self.workflow));
                let r = field("ref");
                let want = match (&self.git_ref, &self.ref_pattern) {
                    (None, None) => "a ref".to_owned(),
                    _ => self.ref_rule(),
                };
                require(location, &name("ref"), &want, r, |v| self.ref_allowed(v))?;
                claims.push(claim(&name("ref"), r.unwrap_or_default()));
                let id = string_at(p, &["runDetails", "builder", "id"]);
                require(
                    location,
                    "predicate.runDetails.builder.id",
                    &builder_pattern,
                    id,
                    |v| builder.is_match(v),
                )?;
                claims.push(claim(
                    "predicate.runDetails.builder.id",
                    id.unwrap_or_default(),
                ));
                let commit = p
                    .pointer("/buildDefinition/resolvedDependencies")
                    .and_then(|d| d.as_array())
                    .and_then(|deps| {
                        deps.iter()
                            .find_map(|d| d.pointer("/digest/gitCommit")?.as_str())
                    });
                if let Some(c) = commit {
                    claims.push(claim(
                        "predicate.buildDefinition.resolvedDependencies[].digest.gitCommit",
                        c,
                    ));
                }
            }
            other => {
                return Err(Error::claim(
                    location,
                    "predicateType",
                    format!("{SLSA_PROVENANCE_V02} or {SLSA_PROVENANCE_V1}"),
                    Some(other),
                ));
            }
        }
        Ok(claims)
    }
}

fn claim(name: &str, value: &str) -> Claim {
    Claim {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

fn string_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str()
}

fn require(
    location: &str,
    name: &str,
    expected: &str,
    found: Option<&str>,
    ok: impl Fn(&str) -> bool,
) -> Result<()> {
    match found {
        Some(v) if ok(v) => Ok(()),
        _ => Err(Error::claim(location, name, expected, found)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn v02(uri: &str, entry: &str, builder: &str) -> Statement {
        Statement::from_bytes(
            serde_json::json!({
                "_type": "https://in-toto.io/Statement/v0.1",
                "subject": [{"name": "ghcr.io/o/r", "digest": {"sha256": &DIGEST[7..]}}],
                "predicateType": SLSA_PROVENANCE_V02,
                "predicate": {
                    "builder": {"id": builder},
                    "invocation": {"configSource": {
                        "uri": uri, "entryPoint": entry,
                        "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}}}
                }
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    const GEN: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0";

    #[test]
    fn v02_repository_is_anchored() {
        let policy = ProvenancePolicy::new(
            "freedomofpress/dangerzone",
            ".github/workflows/release.yml",
            None,
            None,
        )
        .unwrap();
        let ok = v02(
            "git+https://github.com/freedomofpress/dangerzone@refs/tags/v0.10.0",
            ".github/workflows/release.yml",
            GEN,
        );
        let claims = policy.check_statement(&ok, DIGEST, "t").unwrap();
        assert!(claims.iter().any(|c| c.name == "predicate.builder.id"));
        let prefix = v02(
            "git+https://github.com/freedomofpress/dangerzone-image@refs/heads/main",
            ".github/workflows/release.yml",
            GEN,
        );
        let e = policy.check_statement(&prefix, DIGEST, "t").unwrap_err();
        assert_eq!(
            e.failed_claim(),
            Some("predicate.invocation.configSource.uri"),
            "{e}"
        );
        // Unescaped dots in the original policy accepted look-alike builders.
        let lookalike = v02(
            "git+https://github.com/freedomofpress/dangerzone@refs/tags/v1",
            ".github/workflows/release.yml",
            "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3xyml@refs/tags/v2.1.0",
        );
        let e = policy.check_statement(&lookalike, DIGEST, "t").unwrap_err();
        assert_eq!(e.failed_claim(), Some("predicate.builder.id"), "{e}");
        let e = policy
            .check_statement(
                &ok,
                "sha256:2222222222222222222222222222222222222222222222222222222222222222",
                "t",
            )
            .unwrap_err();
        assert_eq!(e.failed_claim(), Some("statement subject"), "{e}");
        let other_workflow = v02(
            "git+https://github.com/freedomofpress/dangerzone@refs/tags/v1",
            ".github/workflows/ci.yml",
            GEN,
        );
        let e = policy
            .check_statement(&other_workflow, DIGEST, "t")
            .unwrap_err();
        assert_eq!(
            e.failed_claim(),
            Some("predicate.invocation.configSource.entryPoint")
        );
        let with_ref = ProvenancePolicy::new(
            "freedomofpress/dangerzone",
            ".github/workflows/release.yml",
            Some("refs/heads/main"),
            None,
        )
        .unwrap();
        let e = with_ref.check_statement(&ok, DIGEST, "t").unwrap_err();
        assert_eq!(
            e.failed_claim(),
            Some("predicate.invocation.configSource.uri")
        );
    }

    #[test]
    fn policies_refuse_malformed_input() {
        assert!(ProvenancePolicy::new("dangerzone", "w.yml", None, None).is_err());
        assert!(ProvenancePolicy::new("a/b/c", "w.yml", None, None).is_err());
        assert!(ProvenancePolicy::new("a/b", "w.yml@main", None, None).is_err());
        assert!(ProvenancePolicy::new("a/b", "w.yml", None, Some("(")).is_err());
        let p = ProvenancePolicy::new("a/b", ".github/workflows/w.yml", None, None).unwrap();
        let id = p.identity().unwrap();
        assert!(
            id.san
                .matches("https://github.com/a/b/.github/workflows/w.yml@refs/heads/main")
        );
        assert!(id.san.matches(GEN));
        assert!(
            !id.san
                .matches("https://github.com/a/b-c/.github/workflows/w.yml@refs/heads/main")
        );
        assert!(
            !id.san
                .matches("https://github.com/a/b/.github/workflows/w.yml")
        );
    }
}
