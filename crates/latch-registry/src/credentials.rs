//! Registry credentials, found where docker and podman keep them.
//!
//! Order (the first file that has an entry for the registry wins, as in
//! containers-auth.json(5)): `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config/containers/auth.json`),
//! then Docker's `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`). In each
//! file: `credHelpers[registry]`, then `auths` (most specific `registry/namespace` key
//! first), then `credsStore`. Helpers are `docker-credential-<name> get`, fed the server
//! name on stdin.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine as _;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::error::{RegistryError, Result};

/// Bound on a credentials file or a helper's output.
const MAX_CREDENTIAL_BYTES: u64 = 1024 * 1024;

/// A user name and a secret. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

/// Where credentials come from.
#[derive(Debug, Clone, Default)]
pub enum CredentialSource {
    /// The docker/podman files and helpers, found through the environment.
    #[default]
    Environment,
    /// Only these files, in this order (tests, or an app with its own auth file).
    Files(Vec<PathBuf>),
    /// Fixed credentials for every registry.
    Static(Credentials),
    /// Anonymous only.
    None,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AuthFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The auth files to consult, in order, from the environment.
pub fn default_auth_files() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = env("HOME").or_else(|| env("USERPROFILE"));
    let mut files = Vec::new();
    if let Some(p) = env("REGISTRY_AUTH_FILE") {
        files.push(p);
    }
    if let Some(p) = env("XDG_RUNTIME_DIR") {
        files.push(p.join("containers/auth.json"));
    }
    match env("XDG_CONFIG_HOME") {
        Some(p) => files.push(p.join("containers/auth.json")),
        None => {
            if let Some(h) = &home {
                files.push(h.join(".config/containers/auth.json"));
            }
        }
    }
    match env("DOCKER_CONFIG") {
        Some(p) => files.push(p.join("config.json")),
        None => {
            if let Some(h) = &home {
                files.push(h.join(".docker/config.json"));
            }
        }
    }
    files
}

/// Normalises an `auths` key: scheme and `/v1/`/`/v2/` suffixes dropped, Docker Hub's
/// aliases mapped to `docker.io`.
fn normalize_key(key: &str) -> String {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    match k {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_owned(),
        other => other
            .strip_prefix("index.docker.io/")
            .map(|rest| format!("docker.io/{rest}"))
            .unwrap_or_else(|| other.to_owned()),
    }
}

/// Candidate keys for `registry/repository`, most specific first.
fn candidate_keys(registry: &str, repository: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut path: Vec<&str> = repository.split('/').collect();
    while !path.is_empty() {
        keys.push(format!("{registry}/{}", path.join("/")));
        path.pop();
    }
    keys.push(registry.to_owned());
    keys
}

/// Finds credentials for `registry` (normalised, e.g. `docker.io`) and `repository`.
pub async fn lookup(
    source: &CredentialSource,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>> {
    lookup_with(source, registry, repository, None).await
}

/// [`lookup`], with helpers searched in `helper_path` instead of `$PATH`.
async fn lookup_with(
    source: &CredentialSource,
    registry: &str,
    repository: &str,
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Option<Credentials>> {
    let files = match source {
        CredentialSource::None => return Ok(None),
        CredentialSource::Static(c) => return Ok(Some(c.clone())),
        CredentialSource::Environment => default_auth_files(),
        CredentialSource::Files(f) => f.clone(),
    };
    for file in files {
        if let Some(c) = lookup_in_file(&file, registry, repository, helper_path).await? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

async fn lookup_in_file(
    path: &Path,
    registry: &str,
    repository: &str,
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Option<Credentials>> {
    let bytes = match latch_oci::layout::read_bounded(path, MAX_CREDENTIAL_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RegistryError::Io {
                path: path.to_owned(),
                source: e,
            });
        }
    };
    let file: AuthFile = serde_json::from_slice(&bytes).map_err(|e| {
        RegistryError::Credentials(format!("{}: not a valid auth file: {e}", path.display()))
    })?;
    let server = if registry == "docker.io" {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    if let Some((_, helper)) = file
        .cred_helpers
        .iter()
        .find(|(k, _)| normalize_key(k) == registry)
    {
        return run_helper(helper, server, helper_path).await;
    }
    let auths: HashMap<String, &AuthEntry> = file
        .auths
        .iter()
        .map(|(k, v)| (normalize_key(k), v))
        .collect();
    for key in candidate_keys(registry, repository) {
        if let Some(entry) = auths.get(&key)
            && let Some(c) = decode_entry(entry, path, &key)?
        {
            return Ok(Some(c));
        }
    }
    if let Some(store) = &file.creds_store {
        return run_helper(store, server, helper_path).await;
    }
    Ok(None)
}

fn decode_entry(entry: &AuthEntry, path: &Path, key: &str) -> Result<Option<Credentials>> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| {
                RegistryError::Credentials(format!(
                    "{}: entry {key:?}: auth is not base64",
                    path.display()
                ))
            })?;
        let text = String::from_utf8(raw).map_err(|_| {
            RegistryError::Credentials(format!(
                "{}: entry {key:?}: auth is not UTF-8",
                path.display()
            ))
        })?;
        let (user, secret) = text.split_once(':').ok_or_else(|| {
            RegistryError::Credentials(format!(
                "{}: entry {key:?}: auth is not user:password",
                path.display()
            ))
        })?;
        return Ok(Some(Credentials {
            username: user.to_owned(),
            secret: secret.to_owned(),
        }));
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials {
            username: u.clone(),
            secret: p.clone(),
        }));
    }
    if let Some(t) = &entry.identitytoken {
        // An OAuth2 refresh token; registries accept it as the password of user "<token>".
        return Ok(Some(Credentials {
            username: "<token>".to_owned(),
            secret: t.clone(),
        }));
    }
    Ok(None)
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

async fn run_helper(
    helper: &str,
    server: &str,
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Option<Credentials>> {
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(RegistryError::Credentials(format!(
            "invalid credential helper name {helper:?}"
        )));
    }
    let program = format!("docker-credential-{helper}");
    let mut cmd = tokio::process::Command::new(&program);
    if let Some(p) = helper_path {
        // With PATH set for the child, the program is looked up in it.
        cmd.env("PATH", p);
    }
    let mut child = cmd
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| RegistryError::Credentials(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .await
            .map_err(|e| RegistryError::Credentials(format!("{program}: {e}")))?;
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .map_err(|_| RegistryError::Credentials(format!("{program} did not answer within 60 s")))?
        .map_err(|e| RegistryError::Credentials(format!("{program}: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout);
        // "credentials not found in native keychain" is how helpers say "none".
        if msg.to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        return Err(RegistryError::Credentials(format!(
            "{program} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    if out.stdout.len() as u64 > MAX_CREDENTIAL_BYTES {
        return Err(RegistryError::Credentials(format!(
            "{program}: answer too large"
        )));
    }
    let ans: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|e| RegistryError::Credentials(format!("{program}: unexpected answer: {e}")))?;
    if ans.username.is_empty() && ans.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: ans.username,
        secret: ans.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_normalise() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_key("http://127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(normalize_key("ghcr.io/org"), "ghcr.io/org");
        assert_eq!(normalize_key("index.docker.io/user"), "docker.io/user");
        assert_eq!(
            candidate_keys("ghcr.io", "a/b/c"),
            vec!["ghcr.io/a/b/c", "ghcr.io/a/b", "ghcr.io/a", "ghcr.io"]
        );
    }

    #[tokio::test]
    async fn finds_most_specific_entry_and_decodes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("auth.json");
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        std::fs::write(
            &f,
            format!(
                r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}},"ghcr.io/org":{{"auth":"{}"}},"https://index.docker.io/v1/":{{"auth":"{}"}}}}}}"#,
                b64("all:one"),
                b64("org:two:with:colons"),
                b64("hub:three")
            ),
        )
        .unwrap();
        let src = CredentialSource::Files(vec![dir.path().join("absent.json"), f.clone()]);
        let c = lookup(&src, "ghcr.io", "org/img").await.unwrap().unwrap();
        assert_eq!(
            (c.username.as_str(), c.secret.as_str()),
            ("org", "two:with:colons")
        );
        let c = lookup(&src, "ghcr.io", "other/img").await.unwrap().unwrap();
        assert_eq!(c.username, "all");
        let c = lookup(&src, "docker.io", "library/debian")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "hub");
        assert!(lookup(&src, "quay.io", "x").await.unwrap().is_none());
        assert!(!format!("{c:?}").contains("three"));
    }

    #[tokio::test]
    async fn bad_files_are_errors_not_guesses() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("auth.json");
        std::fs::write(&f, "{not json").unwrap();
        let src = CredentialSource::Files(vec![f.clone()]);
        assert!(matches!(
            lookup(&src, "ghcr.io", "a").await,
            Err(RegistryError::Credentials(_))
        ));
        std::fs::write(&f, r#"{"auths":{"ghcr.io":{"auth":"!!!"}}}"#).unwrap();
        assert!(matches!(
            lookup(&src, "ghcr.io", "a").await,
            Err(RegistryError::Credentials(_))
        ));
        std::fs::write(&f, r#"{"credHelpers":{"ghcr.io":"../evil"}}"#).unwrap();
        assert!(matches!(
            lookup(&src, "ghcr.io", "a").await,
            Err(RegistryError::Credentials(_))
        ));
    }

    #[tokio::test]
    async fn runs_credential_helpers() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-latchtest");
        // The helper echoes the server it was asked about back as the user name.
        std::fs::write(
            &helper,
            "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread s\necho \"{\\\"ServerURL\\\":\\\"$s\\\",\\\"Username\\\":\\\"$s\\\",\\\"Secret\\\":\\\"pw\\\"}\"\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let f = dir.path().join("config.json");
        std::fs::write(
            &f,
            r#"{"credHelpers":{"ghcr.io":"latchtest"},"credsStore":"latchtest"}"#,
        )
        .unwrap();
        let path = std::ffi::OsString::from(format!("{}:/usr/bin:/bin", dir.path().display()));
        let src = CredentialSource::Files(vec![f]);
        let c = lookup_with(&src, "ghcr.io", "a", Some(&path))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.secret.as_str()), ("ghcr.io", "pw"));
        let c = lookup_with(&src, "docker.io", "library/x", Some(&path))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "https://index.docker.io/v1/");
    }
}
