//! A programmable HTTP/1.1 proxy in front of a registry: it forwards every request
//! (method, path and query, headers, body; streaming both ways; `Range` and `206` pass
//! through untouched) and applies the faults a test selects, and it logs what it served.
//!
//! The `Host` header is forwarded as the client sent it, so the registry builds upload
//! `Location` URLs that point back at the proxy.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use latch_oci::Digest;
use tokio::sync::mpsc;

use crate::server::{BackgroundServer, Body, BoxError, ChannelBody, Handler, full};

/// The digest header registries send with manifests and blobs.
const DIGEST_HEADER: &str = "docker-content-digest";
/// Bodies edited by [`Fault::EditBody`] are buffered; this bounds that buffer.
const MAX_EDITED_BODY: usize = 256 * 1024 * 1024;
/// Oversized manifests up to this size get a `Docker-Content-Digest` that matches.
const MAX_DIGESTED_OVERSIZE: u64 = 64 * 1024 * 1024;
/// Pause before a cut, so the bytes before it reach the client.
const CUT_FLUSH_PAUSE: Duration = Duration::from_millis(30);
/// Chunk size of generated and re-chunked bodies.
const CHUNK: usize = 64 * 1024;

/// What to do with `Docker-Content-Digest` when a body is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestHeader {
    /// Leave the upstream value (now a lie about the body).
    Keep,
    /// Replace it with the sha256 of the edited body (a consistent liar).
    Recompute,
    /// Drop it.
    Remove,
}

type EditFn = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// One misbehaviour. Attach it to requests with [`Fault::on`] or [`Fault::everywhere`].
#[derive(Clone)]
pub enum Fault {
    /// Replace the upstream body by `edit(body)` (not for HEAD); `Content-Length` follows
    /// the new body; `digest` says what becomes of `Docker-Content-Digest`.
    EditBody {
        /// The edit.
        edit: EditFn,
        /// What to do with the digest header.
        digest: DigestHeader,
    },
    /// Send the headers (with the upstream `Content-Length`) and only the first `after`
    /// bytes of the body, then drop the connection.
    CutBody {
        /// Bytes sent before the cut.
        after: u64,
    },
    /// Add a response header.
    AddHeader {
        /// Name.
        name: String,
        /// Value.
        value: String,
    },
    /// Remove a response header.
    RemoveHeader(String),
    /// Answer without asking upstream.
    Respond {
        /// Status code.
        status: u16,
        /// Headers.
        headers: Vec<(String, String)>,
        /// Body.
        body: Bytes,
    },
    /// Answer a manifest GET or HEAD without asking upstream, with a valid-looking OCI
    /// manifest of `size` bytes (JSON padded in an annotation), generated as it is sent.
    /// Its `Docker-Content-Digest` matches when `size` is at most 64 MiB.
    OversizedManifest {
        /// Total body size.
        size: u64,
        /// Whether to announce it with `Content-Length` (else the body is chunked, and a
        /// client learns the size only by reading).
        content_length: bool,
    },
    /// Wait before answering.
    Delay(Duration),
    /// Send the body in pieces of `chunk` bytes with a pause between them.
    SlowBody {
        /// Bytes per piece.
        chunk: usize,
        /// Pause between pieces.
        interval: Duration,
    },
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Fault {
    /// A short name, as it appears in [`LogEntry::faults`].
    pub fn name(&self) -> String {
        match self {
            Fault::EditBody { digest, .. } => format!("edit-body(digest {digest:?})"),
            Fault::CutBody { after } => format!("cut-body-after-{after}"),
            Fault::AddHeader { name, .. } => format!("add-header {name}"),
            Fault::RemoveHeader(name) => format!("remove-header {name}"),
            Fault::Respond { status, .. } => format!("respond-{status}"),
            Fault::OversizedManifest { size, .. } => format!("oversized-manifest-{size}"),
            Fault::Delay(d) => format!("delay-{d:?}"),
            Fault::SlowBody { chunk, interval } => format!("slow-body-{chunk}-per-{interval:?}"),
        }
    }

    /// Edit the body with `edit`.
    pub fn edit_body(
        edit: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static,
        digest: DigestHeader,
    ) -> Fault {
        Fault::EditBody {
            edit: Arc::new(edit),
            digest,
        }
    }

    /// Change one byte of the body: XOR 0x20 at `offset` (clamped to the last byte). On a
    /// letter this swaps its case, so a JSON string value changes and the JSON stays valid.
    pub fn flip_byte(offset: usize, digest: DigestHeader) -> Fault {
        Fault::edit_body(
            move |b| {
                let mut b = b.to_vec();
                if !b.is_empty() {
                    let i = offset.min(b.len() - 1);
                    b[i] ^= 0x20;
                }
                b
            },
            digest,
        )
    }

    /// Replace the first occurrence of `from` in the body with `to`.
    pub fn replace_in_body(from: &str, to: &str, digest: DigestHeader) -> Fault {
        let (from, to) = (from.as_bytes().to_vec(), to.as_bytes().to_vec());
        Fault::edit_body(
            move |b| match b.windows(from.len()).position(|w| w == from.as_slice()) {
                Some(i) => [&b[..i], to.as_slice(), &b[i + from.len()..]].concat(),
                None => b.to_vec(),
            },
            digest,
        )
    }

    /// Send only the first `after` bytes of the body, then drop the connection.
    pub fn cut_body_after(after: u64) -> Fault {
        Fault::CutBody { after }
    }

    /// Add a `Link: <url>; rel="next"` header (tag list pagination).
    pub fn link_next(url: &str) -> Fault {
        Fault::AddHeader {
            name: "Link".to_owned(),
            value: format!("<{url}>; rel=\"next\""),
        }
    }

    /// Add any header.
    pub fn add_header(name: &str, value: &str) -> Fault {
        Fault::AddHeader {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    /// Remove a header.
    pub fn remove_header(name: &str) -> Fault {
        Fault::RemoveHeader(name.to_owned())
    }

    /// Remove `Docker-Content-Digest`.
    pub fn omit_digest() -> Fault {
        Fault::remove_header(DIGEST_HEADER)
    }

    /// Answer with this status and a registry-style JSON error body.
    pub fn status(status: u16) -> Fault {
        let body = format!(
            r#"{{"errors":[{{"code":"UNAVAILABLE","message":"injected by latch-testkit: {status}"}}]}}"#
        );
        Fault::Respond {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: Bytes::from(body),
        }
    }

    /// Answer with a manifest of `size` bytes announced by `Content-Length`.
    pub fn oversized_manifest(size: u64) -> Fault {
        Fault::OversizedManifest {
            size,
            content_length: true,
        }
    }

    /// Apply this fault to requests with `method` (e.g. `"GET"`; `"*"` for any) whose
    /// path and query contain `path_contains`.
    pub fn on(self, method: &str, path_contains: &str) -> FaultRule {
        FaultRule {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path_contains: path_contains.to_owned(),
            remaining: None,
            fault: self,
        }
    }

    /// Apply this fault to every request.
    pub fn everywhere(self) -> FaultRule {
        self.on("*", "")
    }
}

/// A fault and the requests it applies to.
#[derive(Debug, Clone)]
pub struct FaultRule {
    method: Option<String>,
    path_contains: String,
    remaining: Option<u32>,
    fault: Fault,
}

impl FaultRule {
    /// Apply to the first `n` matching requests only, then behave.
    pub fn times(mut self, n: u32) -> FaultRule {
        self.remaining = Some(n);
        self
    }

    /// How many more requests it will apply to (`None`: unlimited).
    pub fn remaining(&self) -> Option<u32> {
        self.remaining
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.remaining != Some(0)
            && self.method.as_deref().is_none_or(|m| m == method)
            && path.contains(&self.path_contains)
    }
}

/// What kind of registry endpoint a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// `/v2/`.
    Ping,
    /// `/v2/<name>/manifests/<ref>`.
    Manifest,
    /// `/v2/<name>/blobs/<digest>`.
    Blob,
    /// `/v2/<name>/blobs/uploads/…`.
    Upload,
    /// `/v2/<name>/tags/list`.
    Tags,
    /// `/v2/<name>/referrers/<digest>`.
    Referrers,
    /// `/v2/_catalog`.
    Catalog,
    /// Anything else.
    Other,
}

impl PathKind {
    /// Classifies a request path (the query is ignored).
    pub fn of(path: &str) -> PathKind {
        let path = path.split('?').next().unwrap_or("");
        if path == "/v2/" || path == "/v2" {
            PathKind::Ping
        } else if !path.starts_with("/v2/") {
            PathKind::Other
        } else if path == "/v2/_catalog" {
            PathKind::Catalog
        } else if path.contains("/manifests/") {
            PathKind::Manifest
        } else if path.contains("/blobs/uploads") {
            PathKind::Upload
        } else if path.contains("/blobs/") {
            PathKind::Blob
        } else if path.ends_with("/tags/list") {
            PathKind::Tags
        } else if path.contains("/referrers/") {
            PathKind::Referrers
        } else {
            PathKind::Other
        }
    }
}

/// One request the proxy served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// What kind of endpoint.
    pub kind: PathKind,
    /// Status answered (502 when upstream could not be reached).
    pub status: u16,
    /// Response body bytes sent so far (after faults; counted as they are handed to the
    /// connection).
    pub bytes: u64,
    /// Request body bytes forwarded upstream.
    pub request_bytes: u64,
    /// The request's `Range` header.
    pub range: Option<String>,
    /// Names of the faults applied.
    pub faults: Vec<String>,
}

struct Entry {
    method: String,
    path: String,
    status: u16,
    range: Option<String>,
    faults: Vec<String>,
    bytes: Arc<AtomicU64>,
    request_bytes: Arc<AtomicU64>,
}

struct State {
    upstream: SocketAddr,
    rules: Mutex<Vec<FaultRule>>,
    log: Mutex<Vec<Entry>>,
}

/// A running proxy on 127.0.0.1 with a free port. Stops when dropped.
///
/// ```no_run
/// use latch_testkit::{Fault, Proxy, Registry};
/// let reg = Registry::start();
/// let proxy = Proxy::start(&reg);
/// proxy.add_fault(Fault::status(503).on("GET", "/blobs/").times(2));
/// // point the client at proxy.host() ...
/// assert_eq!(proxy.log().len(), 0);
/// ```
pub struct Proxy {
    server: BackgroundServer,
    state: Arc<State>,
}

impl Proxy {
    /// A proxy in front of `registry`.
    pub fn start(registry: &crate::Registry) -> Proxy {
        Proxy::to(registry.addr())
    }

    /// A proxy in front of any HTTP/1.1 upstream.
    pub fn to(upstream: SocketAddr) -> Proxy {
        let state = Arc::new(State {
            upstream,
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let handler: Handler = Arc::new(move |req| {
            let st = st.clone();
            Box::pin(async move { handle(st, req).await })
        });
        Proxy {
            server: BackgroundServer::start("proxy", handler),
            state,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.server.addr().to_string()
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT/<repo_and_tag>`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.host())
    }

    /// The upstream address.
    pub fn upstream(&self) -> SocketAddr {
        self.state.upstream
    }

    /// Adds a fault rule (after the existing ones).
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.rules.lock().expect("proxy rules").push(rule);
    }

    /// Replaces every fault rule.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        *self.state.rules.lock().expect("proxy rules") = rules;
    }

    /// Removes every fault rule: the proxy forwards faithfully.
    pub fn clear_faults(&self) {
        self.state.rules.lock().expect("proxy rules").clear();
    }

    /// The rules now in force (with their remaining counts).
    pub fn faults(&self) -> Vec<FaultRule> {
        self.state.rules.lock().expect("proxy rules").clone()
    }

    /// Every request served so far, in arrival order.
    pub fn log(&self) -> Vec<LogEntry> {
        self.state
            .log
            .lock()
            .expect("proxy log")
            .iter()
            .map(|e| LogEntry {
                method: e.method.clone(),
                path: e.path.clone(),
                kind: PathKind::of(&e.path),
                status: e.status,
                bytes: e.bytes.load(Ordering::SeqCst),
                request_bytes: e.request_bytes.load(Ordering::SeqCst),
                range: e.range.clone(),
                faults: e.faults.clone(),
            })
            .collect()
    }

    /// Forgets the log.
    pub fn clear_log(&self) {
        self.state.log.lock().expect("proxy log").clear();
    }

    /// Requests with `method` (`"*"`: any) whose path contains `path_contains`.
    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.select(method, |e| e.path.contains(path_contains))
            .len()
    }

    /// Requests with `method` (`"*"`: any) to endpoints of `kind`.
    pub fn count_kind(&self, method: &str, kind: PathKind) -> usize {
        self.select(method, |e| e.kind == kind).len()
    }

    /// Response body bytes sent for requests with `method` whose path contains
    /// `path_contains`.
    pub fn bytes(&self, method: &str, path_contains: &str) -> u64 {
        self.select(method, |e| e.path.contains(path_contains))
            .iter()
            .map(|e| e.bytes)
            .sum()
    }

    /// Response body bytes sent for requests with `method` to endpoints of `kind`.
    pub fn bytes_kind(&self, method: &str, kind: PathKind) -> u64 {
        self.select(method, |e| e.kind == kind)
            .iter()
            .map(|e| e.bytes)
            .sum()
    }

    fn select(&self, method: &str, f: impl Fn(&LogEntry) -> bool) -> Vec<LogEntry> {
        self.log()
            .into_iter()
            .filter(|e| (method == "*" || e.method.eq_ignore_ascii_case(method)) && f(e))
            .collect()
    }

    /// Stops the proxy; later connections are refused.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.server.addr())
            .field("upstream", &self.state.upstream)
            .finish()
    }
}

/// Hop-by-hop headers, which a proxy must not forward.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (k, v) in from {
        if !is_hop_by_hop(k) {
            to.append(k.clone(), v.clone());
        }
    }
}

/// Counts the bytes of a request body as it streams upstream.
struct CountingBody {
    inner: Incoming,
    counter: Arc<AtomicU64>,
}

impl HttpBody for CountingBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.counter.fetch_add(data.len() as u64, Ordering::SeqCst);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// How the response body is to be sent.
#[derive(Default)]
struct Shaping {
    cut_after: Option<u64>,
    slow: Option<(usize, Duration)>,
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().as_str().to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let faults: Vec<Fault> = {
        let mut rules = state.rules.lock().expect("proxy rules");
        rules
            .iter_mut()
            .filter(|r| r.matches(&method, &path))
            .map(|r| {
                if let Some(n) = &mut r.remaining {
                    *n -= 1;
                }
                r.fault.clone()
            })
            .collect()
    };
    let bytes = Arc::new(AtomicU64::new(0));
    let request_bytes = Arc::new(AtomicU64::new(0));
    let is_head = req.method() == hyper::Method::HEAD;

    for f in &faults {
        if let Fault::Delay(d) = f {
            tokio::time::sleep(*d).await;
        }
    }

    // Faults that answer without upstream.
    let canned = faults.iter().find_map(|f| match f {
        Fault::Respond {
            status,
            headers,
            body,
        } => Some(respond(*status, headers, body.clone())),
        Fault::OversizedManifest {
            size,
            content_length,
        } => Some(oversized(*size, *content_length)),
        _ => None,
    });
    let (mut response, upstream_body) = match canned {
        Some((head, body)) => (head, body),
        None => match forward(&state, req, request_bytes.clone()).await {
            Ok(resp) => {
                let (parts, body) = resp.into_parts();
                let mut head = Response::from_parts(parts, ());
                let mut fresh = HeaderMap::new();
                copy_headers(head.headers(), &mut fresh);
                *head.headers_mut() = fresh;
                (head, body.map_err(|e| -> BoxError { Box::new(e) }).boxed())
            }
            Err(e) => respond(
                StatusCode::BAD_GATEWAY.as_u16(),
                &[("Content-Type".to_owned(), "text/plain".to_owned())],
                Bytes::from(format!("latch-testkit proxy: upstream unreachable: {e}")),
            ),
        },
    };

    // Header faults, then body edits, then shaping.
    let mut body = upstream_body;
    let mut shaping = Shaping::default();
    for f in &faults {
        match f {
            Fault::AddHeader { name, value } => {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    response.headers_mut().append(n, v);
                }
            }
            Fault::RemoveHeader(name) => {
                if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
                    response.headers_mut().remove(n);
                }
            }
            Fault::EditBody { edit, digest } if !is_head => {
                let original = collect_bounded(body, MAX_EDITED_BODY).await;
                let edited = edit(&original);
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(edited.len()));
                match digest {
                    DigestHeader::Keep => {}
                    DigestHeader::Remove => {
                        headers.remove(DIGEST_HEADER);
                    }
                    DigestHeader::Recompute => {
                        let d = Digest::sha256_of(&edited).to_string();
                        headers.insert(
                            DIGEST_HEADER,
                            HeaderValue::from_str(&d).expect("a digest is a valid header"),
                        );
                    }
                }
                body = full(edited);
            }
            Fault::CutBody { after } => {
                shaping.cut_after = Some(shaping.cut_after.map_or(*after, |a| a.min(*after)));
            }
            Fault::SlowBody { chunk, interval } => {
                shaping.slow = Some(((*chunk).max(1), *interval))
            }
            _ => {}
        }
    }

    state.log.lock().expect("proxy log").push(Entry {
        method,
        path,
        status: response.status().as_u16(),
        range,
        faults: faults.iter().map(Fault::name).collect(),
        bytes: bytes.clone(),
        request_bytes,
    });

    let (tx, out) = ChannelBody::channel();
    tokio::spawn(pump(body, tx, shaping, bytes));
    let (parts, ()) = response.into_parts();
    Response::from_parts(parts, out)
}

/// Sends `body` into the response channel, counting bytes, cutting and pacing as asked.
async fn pump(
    mut body: Body,
    tx: mpsc::Sender<Result<Frame<Bytes>, BoxError>>,
    shaping: Shaping,
    counter: Arc<AtomicU64>,
) {
    let mut sent: u64 = 0;
    loop {
        let frame = match body.frame().await {
            None => return,
            Some(Err(e)) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
            Some(Ok(f)) => f,
        };
        let data = match frame.into_data() {
            Ok(d) => d,
            Err(trailers) => {
                if tx.send(Ok(trailers)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let piece = shaping.slow.map_or(data.len().max(1), |(c, _)| c);
        let mut rest = data;
        while !rest.is_empty() {
            let mut take = rest.len().min(piece);
            if let Some(limit) = shaping.cut_after {
                let room = limit.saturating_sub(sent);
                if room == 0 {
                    cut(&tx).await;
                    return;
                }
                take = take.min(usize::try_from(room).unwrap_or(usize::MAX));
            }
            let out = rest.split_to(take);
            sent += out.len() as u64;
            counter.fetch_add(out.len() as u64, Ordering::SeqCst);
            if tx.send(Ok(Frame::data(out))).await.is_err() {
                return;
            }
            if let Some((_, pause)) = shaping.slow {
                tokio::time::sleep(pause).await;
            }
        }
        if shaping.cut_after.is_some_and(|limit| sent >= limit) {
            cut(&tx).await;
            return;
        }
    }
}

/// The whole body, up to `max` bytes (what follows, or a failed read, is dropped).
async fn collect_bounded(mut body: Body, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
            if out.len() >= max {
                out.truncate(max);
                break;
            }
        }
    }
    out
}

/// Ends a cut body: first a pause, so that hyper (finding the body pending) flushes what
/// was sent, then an error, on which hyper drops the connection.
async fn cut(tx: &mpsc::Sender<Result<Frame<Bytes>, BoxError>>) {
    tokio::time::sleep(CUT_FLUSH_PAUSE).await;
    let err: BoxError = Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "latch-testkit proxy: body cut",
    ));
    let _ = tx.send(Err(err)).await;
}

async fn forward(
    state: &State,
    req: Request<Incoming>,
    counter: Arc<AtomicU64>,
) -> Result<Response<Incoming>, String> {
    let (parts, body) = req.into_parts();
    let uri = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let mut builder = Request::builder().method(parts.method.clone()).uri(uri);
    if let Some(h) = builder.headers_mut() {
        copy_headers(&parts.headers, h);
    }
    let upstream_req = builder
        .body(CountingBody {
            inner: body,
            counter,
        })
        .map_err(|e| e.to_string())?;
    let stream = tokio::net::TcpStream::connect(state.upstream)
        .await
        .map_err(|e| format!("connect {}: {e}", state.upstream))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
        .send_request(upstream_req)
        .await
        .map_err(|e| e.to_string())
}

fn respond(status: u16, headers: &[(String, String)], body: Bytes) -> (Response<()>, Body) {
    let mut r = Response::new(());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(n, v);
        }
    }
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    (r, full(body))
}

/// The oversized manifest: a JSON prefix, padding inside an annotation, a JSON suffix.
struct PaddedManifest {
    prefix: Bytes,
    suffix: Bytes,
    size: u64,
}

impl PaddedManifest {
    fn new(size: u64) -> PaddedManifest {
        let prefix = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[],"annotations":{{"padding":""#,
            latch_oci::media_types::OCI_MANIFEST,
            latch_oci::media_types::OCI_CONFIG,
            Digest::sha256_of(b"{}")
        );
        let suffix = "\"}}";
        let min = (prefix.len() + suffix.len()) as u64;
        assert!(
            size >= min,
            "an oversized manifest needs at least {min} bytes"
        );
        PaddedManifest {
            prefix: Bytes::from(prefix),
            suffix: Bytes::from_static(suffix.as_bytes()),
            size,
        }
    }

    /// The body in order, in pieces of at most [`CHUNK`] bytes.
    fn pieces(&self) -> impl Iterator<Item = Bytes> + Send + 'static {
        let pad = self.size - (self.prefix.len() + self.suffix.len()) as u64;
        let block = Bytes::from(vec![b'a'; CHUNK]);
        let full_blocks = pad / CHUNK as u64;
        let tail = (pad % CHUNK as u64) as usize;
        std::iter::once(self.prefix.clone())
            .chain((0..full_blocks).map(move |_| block.clone()))
            .chain(std::iter::once(Bytes::from(vec![b'a'; tail])))
            .chain(std::iter::once(self.suffix.clone()))
            .filter(|b| !b.is_empty())
    }
}

fn oversized(size: u64, content_length: bool) -> (Response<()>, Body) {
    let manifest = PaddedManifest::new(size);
    let mut r = Response::new(());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(latch_oci::media_types::OCI_MANIFEST),
    );
    if content_length {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    if size <= MAX_DIGESTED_OVERSIZE {
        let mut hasher = latch_oci::Algorithm::Sha256.hasher();
        for p in manifest.pieces() {
            hasher.update(&p);
        }
        let d = hasher.finish().to_string();
        h.insert(
            DIGEST_HEADER,
            HeaderValue::from_str(&d).expect("a digest is a valid header"),
        );
    }
    let (tx, body) = ChannelBody::channel();
    let pieces = manifest.pieces();
    tokio::spawn(async move {
        for p in pieces {
            if tx.send(Ok(Frame::data(p))).await.is_err() {
                return;
            }
        }
    });
    (r, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_kinds() {
        assert_eq!(PathKind::of("/v2/"), PathKind::Ping);
        assert_eq!(PathKind::of("/v2/a/b/manifests/latest"), PathKind::Manifest);
        assert_eq!(PathKind::of("/v2/a/blobs/sha256:00"), PathKind::Blob);
        assert_eq!(PathKind::of("/v2/a/blobs/uploads/"), PathKind::Upload);
        assert_eq!(
            PathKind::of("/v2/a/blobs/uploads/x?digest=y"),
            PathKind::Upload
        );
        assert_eq!(PathKind::of("/v2/a/tags/list?n=1"), PathKind::Tags);
        assert_eq!(
            PathKind::of("/v2/a/referrers/sha256:00"),
            PathKind::Referrers
        );
        assert_eq!(PathKind::of("/v2/_catalog"), PathKind::Catalog);
        assert_eq!(PathKind::of("/token"), PathKind::Other);
    }

    #[test]
    fn padded_manifest_is_json_of_the_exact_size() {
        for size in [400u64, 65_536, 200_000] {
            let m = PaddedManifest::new(size);
            let bytes: Vec<u8> = m.pieces().flat_map(|b| b.to_vec()).collect();
            assert_eq!(bytes.len() as u64, size);
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v["schemaVersion"], 2);
        }
    }

    #[test]
    fn rules_match_and_count_down() {
        let mut r = Fault::status(503).on("get", "/blobs/").times(1);
        assert!(r.matches("GET", "/v2/a/blobs/sha256:1"));
        assert!(!r.matches("HEAD", "/v2/a/blobs/sha256:1"));
        assert!(!r.matches("GET", "/v2/a/manifests/1"));
        r.remaining = Some(0);
        assert!(!r.matches("GET", "/v2/a/blobs/sha256:1"));
        assert!(Fault::omit_digest().everywhere().matches("PUT", "/x"));
    }

    #[test]
    fn body_edits() {
        let Fault::EditBody { edit, .. } = Fault::flip_byte(1, DigestHeader::Keep) else {
            unreachable!()
        };
        assert_eq!(edit(b"abc"), b"aBc");
        assert_eq!(edit(b""), b"");
        let Fault::EditBody { edit, .. } = Fault::replace_in_body("md", "rm", DigestHeader::Keep)
        else {
            unreachable!()
        };
        assert_eq!(edit(b"amd64 amd64"), b"arm64 amd64");
    }
}
