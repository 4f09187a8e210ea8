//! The registry client: requests with challenge-driven authentication, bounded reads,
//! verified manifests and blobs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use latch_oci::media_types as mt;
use latch_oci::{Descriptor, Digest, ImageIndex, ManifestBytes, Reference};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

use crate::auth::{Challenge, Realm, TokenCache, TokenResponse, parse_challenges};
use crate::credentials::{self, CredentialSource, Credentials};
use crate::error::{RegistryError, Result, Stall};
use crate::progress::Progress;

/// Bound on token responses, error bodies and tag lists per page.
const MAX_SMALL_BODY: u64 = 4 * 1024 * 1024;
/// Bound on pages followed when listing tags.
const MAX_TAG_PAGES: usize = 1000;
/// Bound on tags returned in all.
const MAX_TAGS: usize = 100_000;
/// Write buffer for blob downloads: large writes, few system calls.
const WRITE_BUFFER: usize = 1024 * 1024;
/// How long the body of an error response may take (it only words the error).
const ERROR_BODY_DEADLINE: Duration = Duration::from_secs(30);

/// How the client behaves. [`ClientOptions::from_env`] is what the CLI uses.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Hosts (`host[:port]`) reached over plain HTTP besides loopback ones.
    pub insecure_registries: Vec<String>,
    /// Where credentials come from.
    pub credentials: CredentialSource,
    /// Bound on any manifest or JSON document (default 4 MiB).
    pub max_manifest_bytes: u64,
    /// Retries after a transient failure (5xx, 429, dropped connection).
    pub max_retries: u32,
    /// First backoff delay; doubled at each retry.
    pub initial_backoff: Duration,
    /// Blobs fetched at once.
    pub parallel_blobs: usize,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// Timeout for a read making no progress.
    pub read_timeout: Duration,
    /// Deadline for a response's status and headers (requests without a body), and
    /// for a small document (token, manifest, tag list, signature, referrers) to arrive
    /// whole (default 120 s).
    pub document_deadline: Duration,
    /// A blob moving slower than this many bytes per second over a whole
    /// [`ClientOptions::speed_window`] is abandoned and resumed, within
    /// [`ClientOptions::max_retries`] (default 1024 bytes/s: far below a slow Tor
    /// circuit; 0 disables the floor).
    pub min_blob_speed: u64,
    /// The window over which [`ClientOptions::min_blob_speed`] is measured (default
    /// 60 s).
    pub speed_window: Duration,
    /// `User-Agent`.
    pub user_agent: String,
    /// A file where bearer tokens and token endpoints are kept between runs (mode
    /// 0600), so that a periodic check sends its one request with a valid token instead
    /// of pinging `/v2/` and asking for a token first.
    pub auth_cache: Option<std::path::PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            credentials: CredentialSource::Environment,
            max_manifest_bytes: latch_oci::manifest::MAX_MANIFEST_BYTES as u64,
            max_retries: 4,
            initial_backoff: Duration::from_millis(200),
            parallel_blobs: 4,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            document_deadline: Duration::from_secs(120),
            min_blob_speed: 1024,
            speed_window: Duration::from_secs(60),
            user_agent: format!("latch/{}", env!("CARGO_PKG_VERSION")),
            auth_cache: None,
        }
    }
}

impl ClientOptions {
    /// Defaults, plus the hosts listed (comma- or space-separated) in
    /// `LATCH_INSECURE_REGISTRIES`.
    pub fn from_env() -> ClientOptions {
        let mut o = ClientOptions::default();
        if let Ok(v) = std::env::var("LATCH_INSECURE_REGISTRIES") {
            o.insecure_registries.extend(
                v.split([',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        o
    }
}

/// What a registry says about a manifest on `HEAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    /// `Docker-Content-Digest`, when sent.
    pub digest: Option<Digest>,
    /// `Content-Type`.
    pub media_type: Option<String>,
    /// `Content-Length`.
    pub size: Option<u64>,
}

/// Read (`pull`) or write (`pull,push`) access, for token scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read.
    Pull,
    /// Read and write.
    Push,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        }
    }
}

/// A client for OCI distribution registries. Cheap to clone; clones share tokens.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// A per-scope lock held while a token is fetched.
type Flight = Arc<tokio::sync::Mutex<()>>;

struct Inner {
    /// Built on first use: loading the platform's TLS roots costs milliseconds that a
    /// purely local flow (verify-local) should not pay.
    http: std::sync::OnceLock<reqwest::Client>,
    opts: ClientOptions,
    tokens: Mutex<TokenCache>,
    /// Hosts that asked for basic auth, with the credentials that worked.
    basic: Mutex<HashMap<String, Credentials>>,
    /// One token fetch at a time per (host, scope): parallel blob requests share it.
    flights: Mutex<HashMap<(String, String), Flight>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("opts", &self.inner.opts)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another task panicked mid-update of a cache; the cache
    // is still usable (at worst a token is fetched again).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    /// A client with these options. Proxies come from the environment (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), including `socks5h://` for Tor.
    pub fn new(opts: ClientOptions) -> Result<Client> {
        let tokens = opts
            .auth_cache
            .as_deref()
            .map(TokenCache::load)
            .unwrap_or_default();
        Ok(Client {
            inner: Arc::new(Inner {
                http: std::sync::OnceLock::new(),
                opts,
                tokens: Mutex::new(tokens),
                basic: Mutex::new(HashMap::new()),
                flights: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn http(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.inner.http.get() {
            return Ok(c);
        }
        let o = &self.inner.opts;
        let built = reqwest::Client::builder()
            .user_agent(o.user_agent.clone())
            .connect_timeout(o.connect_timeout)
            .read_timeout(o.read_timeout)
            .build()
            .map_err(|e| RegistryError::Config(e.to_string()))?;
        // Another task may have won the race; either client is as good.
        Ok(self.inner.http.get_or_init(|| built))
    }

    /// The options in force.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// Whether `host` is reached over plain HTTP (loopback or listed as insecure).
    pub fn is_plain_http(&self, host: &str) -> bool {
        latch_oci::reference::host_is_loopback(host)
            || self
                .inner
                .opts
                .insecure_registries
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
    }

    /// `scheme://host` of the API of the reference's registry.
    pub fn base_url(&self, reference: &Reference) -> String {
        let host = reference.endpoint();
        let scheme = if self.is_plain_http(host) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{host}")
    }

    fn repo_url(&self, reference: &Reference, rest: &str) -> String {
        format!(
            "{}/v2/{}/{}",
            self.base_url(reference),
            reference.repository(),
            rest
        )
    }

    /// Checks that the registry speaks the distribution API (`GET /v2/`), authenticating
    /// if it asks.
    pub async fn ping(&self, reference: &Reference) -> Result<()> {
        let url = format!("{}/v2/", self.base_url(reference));
        let resp = self
            .send(reference, Access::Pull, Method::GET, &url, |b| b)
            .await?;
        expect_success(resp, "GET", &url, "registry API")
            .await
            .map(drop)
    }

    /// Sends a request, answering an authentication challenge once, and retrying
    /// transient failures with backoff. `build` adds headers and body and is called once
    /// per attempt.
    pub(crate) async fn send(
        &self,
        reference: &Reference,
        access: Access,
        method: Method,
        url: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let mut retries = 0;
        self.send_counted(reference, access, method, url, build, &mut retries)
            .await
    }

    /// [`Client::send`], counting its retries in `retries`, a bound it shares with the
    /// caller's own (a blob download's resumes): retries never multiply.
    async fn send_counted(
        &self,
        reference: &Reference,
        access: Access,
        method: Method,
        url: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
        retries: &mut u32,
    ) -> Result<Response> {
        loop {
            let result = self
                .send_once(reference, access, method.clone(), url, &build)
                .await;
            let (transient, connect_failure) = match &result {
                Ok(r) => (
                    r.status().is_server_error() || r.status() == StatusCode::TOO_MANY_REQUESTS,
                    false,
                ),
                Err(e) => (e.is_transient(), e.is_connect_failure()),
            };
            if !should_retry(
                transient,
                connect_failure,
                *retries,
                self.inner.opts.max_retries,
            ) {
                return result;
            }
            *retries += 1;
            tokio::time::sleep(self.backoff(*retries)).await;
        }
    }

    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let base = self.inner.opts.initial_backoff;
        base.saturating_mul(1u32 << attempt.min(6))
    }

    async fn send_once(
        &self,
        reference: &Reference,
        access: Access,
        method: Method,
        url: &str,
        build: &impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let host = reference.endpoint().to_owned();
        let scope = format!("repository:{}:{}", reference.repository(), access.actions());
        let mut auth = self.cached_auth(&host, &scope);
        if auth.is_none() {
            let known = lock(&self.inner.tokens).realm(&host);
            if let Some(Realm { realm, service }) = known {
                let token = self
                    .token_for(reference, &realm, service.as_deref(), &scope, None, None)
                    .await?;
                auth = Some(format!("Bearer {token}"));
            }
        }
        let resp = self.raw(method.clone(), url, build, auth.as_ref()).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenges = parse_challenges(
            resp.headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let sent_token = auth
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::to_owned);
        if auth.is_some() {
            // What we sent was refused: forget it, and get a fresh one below.
            lock(&self.inner.tokens).forget(&host, &scope);
            lock(&self.inner.basic).remove(&host);
        }
        let new_auth = if let Some(Challenge::Bearer {
            realm,
            service,
            scope: asked,
        }) = challenges
            .iter()
            .find(|c| matches!(c, Challenge::Bearer { .. }))
        {
            let new_realm = lock(&self.inner.tokens).set_realm(
                &host,
                Realm {
                    realm: realm.clone(),
                    service: service.clone(),
                },
            );
            if new_realm {
                self.save_auth_cache();
            }
            let token = self
                .token_for(
                    reference,
                    realm,
                    service.as_deref(),
                    &scope,
                    asked.as_deref(),
                    sent_token.as_deref(),
                )
                .await?;
            format!("Bearer {token}")
        } else if challenges
            .iter()
            .any(|c| matches!(c, Challenge::Basic { .. }))
        {
            let creds = credentials::lookup(
                &self.inner.opts.credentials,
                reference.registry(),
                reference.repository(),
            )
            .await?;
            let Some(c) = creds else {
                return Err(RegistryError::Unauthorized {
                    registry: host,
                    detail: "the registry asks for a user name and password, and none is configured (docker login / podman login, or REGISTRY_AUTH_FILE)".into(),
                });
            };
            let value = basic_header(&c);
            lock(&self.inner.basic).insert(host.clone(), c);
            value
        } else {
            return Err(RegistryError::Unauthorized {
                registry: host,
                detail: "HTTP 401 without a usable WWW-Authenticate challenge".into(),
            });
        };
        let resp = self.raw(method, url, build, Some(&new_auth)).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            lock(&self.inner.tokens).forget(&host, &scope);
            return Err(RegistryError::Unauthorized {
                registry: host,
                detail: format!("credentials refused for {scope}"),
            });
        }
        Ok(resp)
    }

    /// A token for `scope`: from the cache if another task fetched one meanwhile (and it
    /// is not the one just refused), else from the realm. One fetch at a time per scope.
    async fn token_for(
        &self,
        reference: &Reference,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        asked: Option<&str>,
        refused: Option<&str>,
    ) -> Result<String> {
        let host = reference.endpoint().to_owned();
        let flight = lock(&self.inner.flights)
            .entry((host.clone(), scope.to_owned()))
            .or_default()
            .clone();
        let _guard = flight.lock().await;
        if let Some(t) = lock(&self.inner.tokens).get(&host, scope)
            && Some(t.as_str()) != refused
        {
            return Ok(t);
        }
        let creds = credentials::lookup(
            &self.inner.opts.credentials,
            reference.registry(),
            reference.repository(),
        )
        .await?;
        self.fetch_token(&host, realm, service, scope, asked, creds.as_ref())
            .await
    }

    /// Writes the token cache to its file, if it has one. Best effort: a cache that
    /// cannot be written only costs requests later.
    fn save_auth_cache(&self) {
        if let Some(path) = &self.inner.opts.auth_cache {
            let _ = lock(&self.inner.tokens).save(path);
        }
    }

    fn cached_auth(&self, host: &str, scope: &str) -> Option<String> {
        if let Some(t) = lock(&self.inner.tokens).get(host, scope) {
            return Some(format!("Bearer {t}"));
        }
        lock(&self.inner.basic).get(host).map(basic_header)
    }

    async fn raw(
        &self,
        method: Method,
        url: &str,
        build: &impl Fn(RequestBuilder) -> RequestBuilder,
        auth: Option<&String>,
    ) -> Result<Response> {
        let bodiless = method == Method::GET || method == Method::HEAD;
        let mut req = build(self.http()?.request(method, url));
        if let Some(a) = auth {
            let mut v = HeaderValue::from_str(a).map_err(|_| RegistryError::Unauthorized {
                registry: url.to_owned(),
                detail: "token contains characters not allowed in a header".into(),
            })?;
            v.set_sensitive(true);
            req = req.header(header::AUTHORIZATION, v);
        }
        let sent = req.send();
        let resp = if bodiless {
            // An upload's body may take long to send; a response to a request without
            // one must come within the deadline.
            self.within_deadline(url, sent).await?
        } else {
            sent.await
        };
        resp.map_err(|source| RegistryError::Unreachable {
            url: url.to_owned(),
            source,
        })
    }

    /// `fut` (sending a request without a body), or [`Stall::Headers`] after the
    /// document deadline.
    async fn within_deadline<T>(
        &self,
        url: &str,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T> {
        let deadline = self.inner.opts.document_deadline;
        tokio::time::timeout(deadline, fut)
            .await
            .map_err(|_| RegistryError::Stalled {
                url: url.to_owned(),
                stall: Stall::Headers {
                    deadline_secs: deadline.as_secs(),
                },
            })
    }

    /// Reads a small document: at most `max` bytes, whole within the document deadline.
    pub(crate) async fn read_document(&self, resp: Response, url: &str, max: u64) -> Result<Bytes> {
        read_bounded(resp, url, max, self.inner.opts.document_deadline).await
    }

    async fn fetch_token(
        &self,
        host: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        asked: Option<&str>,
        creds: Option<&Credentials>,
    ) -> Result<String> {
        let mut url = url::Url::parse(realm).map_err(|_| RegistryError::Unauthorized {
            registry: host.to_owned(),
            detail: format!("token realm {realm:?} is not a URL"),
        })?;
        let realm_host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => String::new(),
        };
        match url.scheme() {
            "https" => {}
            "http" if self.is_plain_http(&realm_host) || self.is_plain_http(host) => {}
            other => {
                return Err(RegistryError::Unauthorized {
                    registry: host.to_owned(),
                    detail: format!(
                        "token realm {realm:?} uses {other}, not https; refusing to send credentials there"
                    ),
                });
            }
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", scope);
            if let Some(a) = asked.filter(|a| *a != scope) {
                q.append_pair("scope", a);
            }
        }
        let url_s = url.to_string();
        let mut req = self.http()?.get(url);
        if let Some(c) = creds {
            req = req.basic_auth(&c.username, Some(&c.secret));
        }
        let resp = self
            .within_deadline(realm, req.send())
            .await?
            .map_err(|source| RegistryError::Unreachable {
                url: realm.to_owned(),
                source,
            })?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                registry: host.to_owned(),
                detail: format!(
                    "token endpoint {realm} refused {} (HTTP {})",
                    if creds.is_some() {
                        "the configured credentials"
                    } else {
                        "anonymous access"
                    },
                    status.as_u16()
                ),
            });
        }
        let resp = expect_success(resp, "GET", realm, "token").await?;
        let body = self.read_document(resp, &url_s, MAX_SMALL_BODY).await?;
        let t: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| RegistryError::BadResponse {
                url: realm.to_owned(),
                detail: format!("token response: {e}"),
            })?;
        let token = t
            .token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::BadResponse {
                url: realm.to_owned(),
                detail: "token response has neither token nor access_token".into(),
            })?;
        // The spec's default lifetime is 60 s.
        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(60).max(1));
        lock(&self.inner.tokens).put(host, scope, token.clone(), lifetime);
        self.save_auth_cache();
        Ok(token)
    }

    /// `HEAD` of a manifest by tag or digest. `None` when the registry says 404.
    pub async fn head_manifest(&self, reference: &Reference) -> Result<Option<ManifestHead>> {
        let url = self.repo_url(
            reference,
            &format!("manifests/{}", reference.manifest_selector()),
        );
        let resp = self
            .send(
                reference,
                Access::Pull,
                Method::HEAD,
                &url,
                accept_manifests,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = expect_success(resp, "HEAD", &url, "manifest").await?;
        let h = resp.headers();
        let digest = match header_str(h, "docker-content-digest") {
            Some(d) => Some(Digest::parse(d).map_err(|e| RegistryError::BadResponse {
                url: url.clone(),
                detail: format!("Docker-Content-Digest: {e}"),
            })?),
            None => None,
        };
        Ok(Some(ManifestHead {
            digest,
            media_type: header_str(h, "content-type").map(str::to_owned),
            size: header_str(h, "content-length").and_then(|s| s.parse().ok()),
        }))
    }

    /// Fetches a manifest by digest (verified against it) or by tag (verified against
    /// `Docker-Content-Digest` when the registry sends one). The digest that counts is
    /// always the hash of the bytes received.
    pub async fn get_manifest(&self, reference: &Reference) -> Result<ManifestBytes> {
        let selector = reference.manifest_selector();
        let url = self.repo_url(reference, &format!("manifests/{selector}"));
        let resp = self
            .send(reference, Access::Pull, Method::GET, &url, accept_manifests)
            .await?;
        let resp = expect_success(resp, "GET", &url, &format!("manifest {reference}")).await?;
        let content_type = header_str(resp.headers(), "content-type").map(str::to_owned);
        let header_digest = header_str(resp.headers(), "docker-content-digest").map(str::to_owned);
        let body = self
            .read_document(resp, &url, self.inner.opts.max_manifest_bytes)
            .await?;
        let bytes = body.to_vec();
        let manifest_err = |source| RegistryError::Manifest {
            url: url.clone(),
            source,
        };
        let m = match reference.digest() {
            Some(expected) => {
                let actual = Digest::of(expected.algorithm(), &bytes);
                if &actual != expected {
                    return Err(RegistryError::DigestMismatch {
                        url,
                        expected: expected.clone(),
                        actual,
                    });
                }
                ManifestBytes::parse_verified(bytes, content_type.as_deref(), expected)
                    .map_err(manifest_err)?
            }
            None => ManifestBytes::parse(bytes, content_type.as_deref()).map_err(manifest_err)?,
        };
        if let Some(h) = header_digest {
            let claimed = Digest::parse(&h).map_err(|e| RegistryError::BadResponse {
                url: url.clone(),
                detail: format!("Docker-Content-Digest: {e}"),
            })?;
            let actual = Digest::of(claimed.algorithm(), m.bytes());
            if actual != claimed {
                return Err(RegistryError::HeaderMismatch {
                    url,
                    header: h,
                    actual,
                });
            }
        }
        Ok(m)
    }

    /// Fetches a small blob (config, signature payload) into memory: refused if its
    /// descriptor says more than `max` bytes, read no further than its declared size, and
    /// verified against its digest.
    pub async fn get_blob_bytes(
        &self,
        reference: &Reference,
        desc: &Descriptor,
        max: u64,
    ) -> Result<Vec<u8>> {
        let url = self.repo_url(reference, &format!("blobs/{}", desc.digest));
        if desc.size > max {
            return Err(RegistryError::TooLarge { url, max });
        }
        let resp = self
            .send(reference, Access::Pull, Method::GET, &url, |b| b)
            .await?;
        let resp = expect_success(resp, "GET", &url, &format!("blob {}", desc.digest)).await?;
        let body = self.read_document(resp, &url, desc.size).await?;
        if body.len() as u64 != desc.size {
            return Err(RegistryError::SizeMismatch {
                digest: desc.digest.clone(),
                expected: desc.size,
                received: body.len() as u64,
            });
        }
        let actual = Digest::of(desc.digest.algorithm(), &body);
        if actual != desc.digest {
            return Err(RegistryError::DigestMismatch {
                url,
                expected: desc.digest.clone(),
                actual,
            });
        }
        Ok(body.to_vec())
    }

    /// Downloads a blob to `partial` (created or resumed), streaming and hashing as it
    /// goes. A dropped connection, or a transfer below the speed floor over a whole
    /// window, is resumed with `Range` from where it stopped; every retry (of a request
    /// or a resume) counts toward the one bound, [`ClientOptions::max_retries`]. Returns
    /// once `partial` holds exactly the verified blob, fsynced; on a digest or size
    /// mismatch `partial` is deleted.
    pub async fn download_blob(
        &self,
        reference: &Reference,
        desc: &Descriptor,
        partial: &Path,
        progress: &dyn Progress,
    ) -> Result<()> {
        let url = self.repo_url(reference, &format!("blobs/{}", desc.digest));
        let io = |source| RegistryError::Io {
            path: partial.to_owned(),
            source,
        };
        let mut file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(partial)
            .await
            .map_err(io)?;
        let mut have = file.metadata().await.map_err(io)?.len();
        let mut hasher = desc.digest.algorithm().hasher();
        if have > desc.size {
            file.set_len(0).await.map_err(io)?;
            have = 0;
        } else if have > 0 {
            // Resume: the bytes already on disk count toward the hash.
            let mut buf = vec![0u8; 256 * 1024];
            file.seek(std::io::SeekFrom::Start(0)).await.map_err(io)?;
            let mut left = have;
            while left > 0 {
                let n = file.read(&mut buf).await.map_err(io)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                left = left.saturating_sub(n as u64);
            }
        }
        file.seek(std::io::SeekFrom::Start(have))
            .await
            .map_err(io)?;
        progress.blob_started(&desc.digest, desc.size);
        if have > 0 {
            progress.blob_progress(&desc.digest, have);
        }
        let mut writer = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut retries = 0u32;
        let mut first = true;
        let mut last_error: Option<RegistryError> = None;
        while have < desc.size || (desc.size == 0 && first) {
            if !first {
                if retries >= self.inner.opts.max_retries {
                    break;
                }
                retries += 1;
                tokio::time::sleep(self.backoff(retries)).await;
            }
            first = false;
            let from = have;
            let resp = match self
                .send_counted(
                    reference,
                    Access::Pull,
                    Method::GET,
                    &url,
                    |b| {
                        if from > 0 {
                            b.header(header::RANGE, format!("bytes={from}-"))
                        } else {
                            b
                        }
                    },
                    &mut retries,
                )
                .await
            {
                Ok(r) => r,
                Err(e) if e.is_transient() => {
                    last_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = resp.status();
            if status == StatusCode::PARTIAL_CONTENT {
                let start =
                    header_str(resp.headers(), "content-range").and_then(content_range_start);
                if start != Some(from) {
                    return Err(RegistryError::BadResponse {
                        url,
                        detail: format!(
                            "asked for bytes from {from}, got Content-Range starting at {start:?}"
                        ),
                    });
                }
            } else if status.is_success() {
                if from > 0 {
                    // The registry ignored Range: start over.
                    writer.flush().await.map_err(io)?;
                    let f = writer.get_mut();
                    f.set_len(0).await.map_err(io)?;
                    f.seek(std::io::SeekFrom::Start(0)).await.map_err(io)?;
                    hasher = desc.digest.algorithm().hasher();
                    have = 0;
                }
            } else {
                let e = status_error(resp, "GET", &url, &format!("blob {}", desc.digest)).await;
                if e.is_transient() {
                    last_error = Some(e);
                    continue;
                }
                return Err(e);
            }
            let mut stream = resp.bytes_stream();
            let mut floor =
                SpeedFloor::new(self.inner.opts.min_blob_speed, self.inner.opts.speed_window);
            loop {
                let next = match floor.deadline() {
                    Some(at) => tokio::time::timeout_at(at, stream.next()).await.ok(),
                    None => Some(stream.next().await),
                };
                let Some(next) = next else {
                    // A whole window without a chunk.
                    if let Some(stall) = floor.check(&desc.digest, 0) {
                        last_error = Some(RegistryError::Stalled {
                            url: url.clone(),
                            stall,
                        });
                        break;
                    }
                    continue;
                };
                match next {
                    Some(Ok(chunk)) => {
                        if have + chunk.len() as u64 > desc.size {
                            drop(writer);
                            let _ = tokio::fs::remove_file(partial).await;
                            return Err(RegistryError::SizeMismatch {
                                digest: desc.digest.clone(),
                                expected: desc.size,
                                received: have + chunk.len() as u64,
                            });
                        }
                        hasher.update(&chunk);
                        writer.write_all(&chunk).await.map_err(io)?;
                        have += chunk.len() as u64;
                        progress.blob_progress(&desc.digest, chunk.len() as u64);
                        if let Some(stall) = floor.check(&desc.digest, chunk.len() as u64) {
                            last_error = Some(RegistryError::Stalled {
                                url: url.clone(),
                                stall,
                            });
                            break;
                        }
                    }
                    Some(Err(source)) => {
                        last_error = Some(RegistryError::Transfer {
                            url: url.clone(),
                            source,
                        });
                        break;
                    }
                    None => break,
                }
            }
            if desc.size == 0 {
                break;
            }
        }
        writer.flush().await.map_err(io)?;
        let file = writer.into_inner();
        if have < desc.size {
            return Err(last_error.unwrap_or(RegistryError::SizeMismatch {
                digest: desc.digest.clone(),
                expected: desc.size,
                received: have,
            }));
        }
        file.sync_all().await.map_err(io)?;
        drop(file);
        let actual = hasher.finish();
        if actual != desc.digest {
            let _ = tokio::fs::remove_file(partial).await;
            return Err(RegistryError::DigestMismatch {
                url,
                expected: desc.digest.clone(),
                actual,
            });
        }
        progress.blob_finished(&desc.digest);
        Ok(())
    }

    /// Whether the repository already has the blob.
    pub async fn blob_exists(&self, reference: &Reference, digest: &Digest) -> Result<bool> {
        let url = self.repo_url(reference, &format!("blobs/{digest}"));
        let resp = self
            .send(reference, Access::Push, Method::HEAD, &url, |b| b)
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_error(resp, "HEAD", &url, "blob").await),
        }
    }

    /// Starts an upload session; returns its absolute `Location`.
    async fn start_upload(&self, reference: &Reference) -> Result<String> {
        let url = self.repo_url(reference, "blobs/uploads/");
        let resp = self
            .send(reference, Access::Push, Method::POST, &url, |b| {
                b.header(header::CONTENT_LENGTH, "0")
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error(resp, "POST", &url, "upload session").await);
        }
        self.location(&url, resp.headers())
    }

    fn location(&self, url: &str, headers: &HeaderMap) -> Result<String> {
        let loc = header_str(headers, "location").ok_or_else(|| RegistryError::BadResponse {
            url: url.to_owned(),
            detail: "upload response has no Location".into(),
        })?;
        let base = url::Url::parse(url).map_err(|e| RegistryError::BadResponse {
            url: url.to_owned(),
            detail: e.to_string(),
        })?;
        let abs = base.join(loc).map_err(|e| RegistryError::BadResponse {
            url: url.to_owned(),
            detail: format!("bad Location {loc:?}: {e}"),
        })?;
        if abs.host_str() != base.host_str()
            || abs.port_or_known_default() != base.port_or_known_default()
        {
            // Credentials are attached to every request to the registry; never to another host.
            return Err(RegistryError::ForeignLink {
                url: url.to_owned(),
                link: abs.to_string(),
            });
        }
        Ok(abs.to_string())
    }

    /// Uploads a blob held in memory in one request (unless already present). Returns its
    /// descriptor of `media_type`.
    pub async fn push_blob_bytes(
        &self,
        reference: &Reference,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Descriptor> {
        let desc = Descriptor::for_bytes(media_type, &bytes);
        if self.blob_exists(reference, &desc.digest).await? {
            return Ok(desc);
        }
        let loc = self.start_upload(reference).await?;
        let put = with_query(&loc, "digest", &desc.digest.to_string())?;
        let resp = self
            .send(reference, Access::Push, Method::PUT, &put, |b| {
                b.header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(bytes.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(resp, "PUT", &put, "blob upload").await);
        }
        Ok(desc)
    }

    /// Uploads a blob from a file, in chunks of `chunk_size` bytes (`PATCH` with
    /// `Content-Range`, then `PUT ?digest=`), or in one request when `chunk_size` is
    /// `None`. The file is hashed first and must match `digest`.
    pub async fn push_blob_file(
        &self,
        reference: &Reference,
        path: &Path,
        digest: &Digest,
        chunk_size: Option<u64>,
        progress: &dyn Progress,
    ) -> Result<()> {
        if self.blob_exists(reference, digest).await? {
            return Ok(());
        }
        let io = |source| RegistryError::Io {
            path: path.to_owned(),
            source,
        };
        let size = tokio::fs::metadata(path).await.map_err(io)?.len();
        progress.blob_started(digest, size);
        let mut loc = self.start_upload(reference).await?;
        let chunk = chunk_size.unwrap_or(size).max(1);
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut hasher = digest.algorithm().hasher();
        let mut offset = 0u64;
        let mut buf = Vec::new();
        if chunk_size.is_none() {
            // Monolithic: one PUT carrying the whole blob.
            buf.reserve(size as usize);
            file.read_to_end(&mut buf).await.map_err(io)?;
            hasher.update(&buf);
            if &hasher.finish() != digest {
                return Err(RegistryError::DigestMismatch {
                    url: path.display().to_string(),
                    expected: digest.clone(),
                    actual: Digest::of(digest.algorithm(), &buf),
                });
            }
            let body = Bytes::from(buf);
            let put = with_query(&loc, "digest", &digest.to_string())?;
            let resp = self
                .send(reference, Access::Push, Method::PUT, &put, |b| {
                    b.header(header::CONTENT_TYPE, "application/octet-stream")
                        .body(body.clone())
                })
                .await?;
            if resp.status() != StatusCode::CREATED {
                return Err(status_error(resp, "PUT", &put, "blob upload").await);
            }
            progress.blob_progress(digest, size);
            progress.blob_finished(digest);
            return Ok(());
        }
        while offset < size {
            let n = chunk.min(size - offset);
            buf.resize(n as usize, 0);
            file.read_exact(&mut buf).await.map_err(io)?;
            hasher.update(&buf);
            let body = Bytes::copy_from_slice(&buf);
            let end = offset + n - 1;
            let resp = self
                .send(reference, Access::Push, Method::PATCH, &loc, |b| {
                    b.header(header::CONTENT_TYPE, "application/octet-stream")
                        .header(header::CONTENT_RANGE, format!("{offset}-{end}"))
                        .body(body.clone())
                })
                .await?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(status_error(resp, "PATCH", &loc, "blob chunk").await);
            }
            loc = self.location(&loc, resp.headers())?;
            offset += n;
            progress.blob_progress(digest, n);
        }
        let actual = hasher.finish();
        if &actual != digest {
            return Err(RegistryError::DigestMismatch {
                url: path.display().to_string(),
                expected: digest.clone(),
                actual,
            });
        }
        let put = with_query(&loc, "digest", &digest.to_string())?;
        let resp = self
            .send(reference, Access::Push, Method::PUT, &put, |b| {
                b.header(header::CONTENT_LENGTH, "0")
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(resp, "PUT", &put, "blob upload").await);
        }
        progress.blob_finished(digest);
        Ok(())
    }

    /// Puts a manifest's exact bytes under `tag_or_digest`. Returns its digest, checked
    /// against the registry's `Docker-Content-Digest` when sent.
    pub async fn put_manifest(
        &self,
        reference: &Reference,
        tag_or_digest: &str,
        manifest: &ManifestBytes,
    ) -> Result<Digest> {
        let url = self.repo_url(reference, &format!("manifests/{tag_or_digest}"));
        let body = Bytes::copy_from_slice(manifest.bytes());
        let media_type = manifest.media_type().to_owned();
        let resp = self
            .send(reference, Access::Push, Method::PUT, &url, |b| {
                b.header(header::CONTENT_TYPE, media_type.as_str())
                    .body(body.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(resp, "PUT", &url, "manifest").await);
        }
        if let Some(h) = header_str(resp.headers(), "docker-content-digest")
            && h != manifest.digest().to_string()
        {
            return Err(RegistryError::HeaderMismatch {
                url,
                header: h.to_owned(),
                actual: manifest.digest().clone(),
            });
        }
        Ok(manifest.digest().clone())
    }

    /// Lists the repository's tags, following `Link` pagination on the same host only.
    pub async fn list_tags(&self, reference: &Reference) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct TagList {
            tags: Option<Vec<String>>,
        }
        let base = self.base_url(reference);
        let mut next = Some(self.repo_url(reference, "tags/list?n=1000"));
        let mut tags = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_TAG_PAGES {
                return Err(RegistryError::BadResponse {
                    url,
                    detail: format!("more than {MAX_TAG_PAGES} pages of tags"),
                });
            }
            let resp = self
                .send(reference, Access::Pull, Method::GET, &url, |b| b)
                .await?;
            let resp =
                expect_success(resp, "GET", &url, &format!("tags of {}", reference.name())).await?;
            let link = header_str(resp.headers(), "link").map(str::to_owned);
            let body = self.read_document(resp, &url, MAX_SMALL_BODY).await?;
            let page: TagList =
                serde_json::from_slice(&body).map_err(|e| RegistryError::BadResponse {
                    url: url.clone(),
                    detail: format!("tag list: {e}"),
                })?;
            tags.extend(page.tags.unwrap_or_default());
            if tags.len() > MAX_TAGS {
                return Err(RegistryError::BadResponse {
                    url,
                    detail: format!("more than {MAX_TAGS} tags"),
                });
            }
            if let Some(link) = link {
                next = Some(resolve_link(&base, &url, &link)?);
            }
        }
        Ok(tags)
    }

    /// Manifests that refer to `subject`, through the referrers API, or, where the
    /// registry has none, the `sha256-<hex>` tag-schema index. Filtered by `artifact_type`
    /// when given (even if the registry ignored the filter).
    pub async fn referrers(
        &self,
        reference: &Reference,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        let url = self.repo_url(reference, &format!("referrers/{subject}"));
        let resp = self
            .send(reference, Access::Pull, Method::GET, &url, |b| {
                b.header(header::ACCEPT, mt::OCI_INDEX)
            })
            .await?;
        let is_index = header_str(resp.headers(), "content-type")
            .is_some_and(|c| c.starts_with(mt::OCI_INDEX));
        let index: ImageIndex = if resp.status().is_success() && is_index {
            let body = self
                .read_document(resp, &url, self.inner.opts.max_manifest_bytes)
                .await?;
            serde_json::from_slice(&body).map_err(|e| RegistryError::BadResponse {
                url: url.clone(),
                detail: format!("referrers index: {e}"),
            })?
        } else if matches!(resp.status().as_u16(), 404 | 400 | 405) || resp.status().is_success() {
            // No referrers API: the tag schema.
            let tag_ref = reference.with_tag(&subject.tag_form()).map_err(|e| {
                RegistryError::BadResponse {
                    url: url.clone(),
                    detail: e.to_string(),
                }
            })?;
            match self.get_manifest(&tag_ref).await {
                Ok(m) => match m.as_index() {
                    Some(i) => i.clone(),
                    None => {
                        return Err(RegistryError::BadResponse {
                            url,
                            detail: format!("tag {} is not an index", subject.tag_form()),
                        });
                    }
                },
                Err(RegistryError::NotFound { .. }) => ImageIndex::empty(),
                Err(e) => return Err(e),
            }
        } else {
            return Err(status_error(resp, "GET", &url, "referrers").await);
        };
        Ok(index
            .manifests
            .into_iter()
            .filter(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t)))
            .collect())
    }
}

/// Whether to send a request again: while it failed in a way that may pass (5xx, 429, a
/// dropped connection) and retries are left. A connection that could not be made at all
/// is retried once only: an offline machine or a refusing host rarely recovers within the
/// backoff, and every retry of it is latency before "registry unreachable" (the full
/// backoff is 6 s; with connect timeouts, minutes).
fn should_retry(transient: bool, connect_failure: bool, attempt: u32, max_retries: u32) -> bool {
    let bound = if connect_failure {
        max_retries.min(1)
    } else {
        max_retries
    };
    transient && attempt < bound
}

fn accept_manifests(b: RequestBuilder) -> RequestBuilder {
    b.header(header::ACCEPT, mt::MANIFEST_ACCEPT.join(", "))
}

fn basic_header(c: &Credentials) -> String {
    let raw = format!("{}:{}", c.username, c.secret);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn with_query(url: &str, key: &str, value: &str) -> Result<String> {
    let mut u = url::Url::parse(url).map_err(|e| RegistryError::BadResponse {
        url: url.to_owned(),
        detail: e.to_string(),
    })?;
    u.query_pairs_mut().append_pair(key, value);
    Ok(u.to_string())
}

/// `bytes 100-199/200` → 100.
fn content_range_start(v: &str) -> Option<u64> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    rest.split('-').next()?.trim().parse().ok()
}

/// Resolves a `Link: <…>; rel="next"` against the registry; refuses other hosts.
fn resolve_link(base: &str, url: &str, link: &str) -> Result<String> {
    let target = link
        .split(',')
        .find(|part| part.contains("rel=\"next\"") || part.contains("rel=next"))
        .and_then(|part| {
            let start = part.find('<')? + 1;
            let end = part[start..].find('>')? + start;
            Some(&part[start..end])
        })
        .ok_or_else(|| RegistryError::BadResponse {
            url: url.to_owned(),
            detail: format!("unparsable Link header {link:?}"),
        })?;
    let base_url = url::Url::parse(base).map_err(|e| RegistryError::BadResponse {
        url: url.to_owned(),
        detail: e.to_string(),
    })?;
    let abs = base_url
        .join(target)
        .map_err(|e| RegistryError::BadResponse {
            url: url.to_owned(),
            detail: format!("bad Link {target:?}: {e}"),
        })?;
    if abs.scheme() != base_url.scheme()
        || abs.host_str() != base_url.host_str()
        || abs.port_or_known_default() != base_url.port_or_known_default()
    {
        return Err(RegistryError::ForeignLink {
            url: url.to_owned(),
            link: abs.to_string(),
        });
    }
    Ok(abs.to_string())
}

/// The speed floor of a blob transfer: at least `floor` bytes per second over each whole
/// window, or the transfer is abandoned (and resumed by the caller).
struct SpeedFloor {
    floor: u64,
    window: Duration,
    start: tokio::time::Instant,
    received: u64,
}

impl SpeedFloor {
    fn new(floor: u64, window: Duration) -> SpeedFloor {
        SpeedFloor {
            floor,
            window,
            start: tokio::time::Instant::now(),
            received: 0,
        }
    }

    /// When the current window ends (`None`: no floor).
    fn deadline(&self) -> Option<tokio::time::Instant> {
        (self.floor > 0 && !self.window.is_zero()).then(|| self.start + self.window)
    }

    /// Counts `bytes` just received; at the end of a window, the stall if it moved less
    /// than the floor, else a new window.
    fn check(&mut self, digest: &Digest, bytes: u64) -> Option<Stall> {
        self.received = self.received.saturating_add(bytes);
        let end = self.deadline()?;
        if tokio::time::Instant::now() < end {
            return None;
        }
        let needed = self.floor.saturating_mul(self.window.as_secs().max(1));
        if self.received < needed {
            return Some(Stall::Blob {
                digest: digest.clone(),
                received: self.received,
                window_secs: self.window.as_secs(),
                floor: self.floor,
            });
        }
        self.start = tokio::time::Instant::now();
        self.received = 0;
        None
    }
}

/// Reads a body, refusing more than `max` bytes (by `Content-Length` up front, and by
/// counting as it arrives), and abandoning it if it has not arrived whole by `deadline`.
pub(crate) async fn read_bounded(
    resp: Response,
    url: &str,
    max: u64,
    deadline: Duration,
) -> Result<Bytes> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(RegistryError::TooLarge {
            url: url.to_owned(),
            max,
        });
    }
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let chunk = match tokio::time::timeout_at(end, stream.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => {
                return Err(RegistryError::Stalled {
                    url: url.to_owned(),
                    stall: Stall::Document {
                        deadline_secs: deadline.as_secs(),
                        received: out.len() as u64,
                    },
                });
            }
        };
        let chunk = chunk.map_err(|source| RegistryError::Transfer {
            url: url.to_owned(),
            source,
        })?;
        if out.len() as u64 + chunk.len() as u64 > max {
            return Err(RegistryError::TooLarge {
                url: url.to_owned(),
                max,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

async fn expect_success(resp: Response, method: &str, url: &str, what: &str) -> Result<Response> {
    if resp.status().is_success() {
        Ok(resp)
    } else {
        Err(status_error(resp, method, url, what).await)
    }
}

/// Turns an error response into a typed error, with the registry's own code and message.
pub(crate) async fn status_error(
    resp: Response,
    method: &str,
    url: &str,
    what: &str,
) -> RegistryError {
    let status = resp.status();
    if status == StatusCode::NOT_FOUND {
        return RegistryError::NotFound {
            what: what.to_owned(),
            url: url.to_owned(),
        };
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return RegistryError::Unauthorized {
            registry: url.to_owned(),
            detail: format!("HTTP {} for {what}", status.as_u16()),
        };
    }
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        code: Option<String>,
        message: Option<String>,
    }
    let detail = match read_bounded(resp, url, 64 * 1024, ERROR_BODY_DEADLINE).await {
        Ok(body) => serde_json::from_slice::<Errors>(&body)
            .ok()
            .map(|e| {
                e.errors
                    .iter()
                    .map(|i| {
                        format!(
                            "{} {}",
                            i.code.as_deref().unwrap_or(""),
                            i.message.as_deref().unwrap_or("")
                        )
                        .trim()
                        .to_owned()
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|s| !s.is_empty()),
        Err(_) => None,
    };
    RegistryError::Status {
        method: method.to_owned(),
        url: url.to_owned(),
        status: status.as_u16(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_failures_are_retried_once_other_transient_failures_to_the_bound() {
        // A 5xx or a dropped connection: every retry.
        assert!((0..4).all(|a| should_retry(true, false, a, 4)));
        assert!(!should_retry(true, false, 4, 4));
        // No connection at all: once.
        assert!(should_retry(true, true, 0, 4));
        assert!(!should_retry(true, true, 1, 4));
        // Retries off, or not transient (a 404, a digest mismatch): never.
        assert!(!should_retry(true, true, 0, 0));
        assert!(!should_retry(false, false, 0, 4));
    }

    #[test]
    fn links_stay_on_the_registry() {
        let base = "http://127.0.0.1:5000";
        let url = "http://127.0.0.1:5000/v2/a/tags/list";
        assert_eq!(
            resolve_link(base, url, r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).unwrap(),
            "http://127.0.0.1:5000/v2/a/tags/list?n=2&last=b"
        );
        assert!(matches!(
            resolve_link(
                base,
                url,
                r#"<http://evil.example/v2/a/tags/list>; rel="next""#
            ),
            Err(RegistryError::ForeignLink { .. })
        ));
        assert!(matches!(
            resolve_link(base, url, r#"<//evil.example/x>; rel="next""#),
            Err(RegistryError::ForeignLink { .. })
        ));
        assert!(matches!(
            resolve_link(base, url, r#"<https://127.0.0.1:5000/x>; rel="next""#),
            Err(RegistryError::ForeignLink { .. })
        ));
        assert!(resolve_link(base, url, "garbage").is_err());
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes 0-0/*"), Some(0));
        assert_eq!(content_range_start("items 1-2"), None);
    }

    #[test]
    fn plain_http_only_for_loopback_and_listed_hosts() {
        let c = Client::new(ClientOptions {
            insecure_registries: vec!["reg.lan:5000".into()],
            ..ClientOptions::default()
        })
        .unwrap();
        let url = |r: &str| c.base_url(&Reference::parse(r).unwrap());
        assert_eq!(url("localhost:5000/a"), "http://localhost:5000");
        assert_eq!(url("127.0.0.1:1/a"), "http://127.0.0.1:1");
        assert_eq!(url("reg.lan:5000/a"), "http://reg.lan:5000");
        assert_eq!(url("reg.lan/a"), "https://reg.lan");
        assert_eq!(url("ghcr.io/a"), "https://ghcr.io");
        assert_eq!(url("debian"), "https://registry-1.docker.io");
    }
}
