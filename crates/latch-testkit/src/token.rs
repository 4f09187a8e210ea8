//! A real Docker token server for distribution's `auth: token` (the bearer flow).
//!
//! The registry answers 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`;
//! the client fetches a token from the realm (here at a non-standard path, so a client
//! that hard-codes `/token` fails) and retries with `Authorization: Bearer …`. Tokens are
//! JWTs signed with ES256 by a P-256 key made for each server; their `kid` is the libtrust
//! fingerprint of that key, which distribution looks up among the keys of the
//! certificates in its `rootcertbundle`. The registry, not this server, decides whether a
//! token allows a request: tokens carry exactly the granted `access` list.

use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
};
use base64::Engine as _;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use sha2::Digest as _;

use crate::der;
use crate::now;
use crate::server::{BackgroundServer, Body, Handler, full};

/// What the token server grants, and where it lives. Build with [`TokenAuth::new`].
#[derive(Debug, Clone)]
pub struct TokenAuth {
    realm_path: String,
    service: String,
    issuer: String,
    credentials: Option<(String, String)>,
    anonymous_actions: Vec<String>,
    expires_in: u64,
}

impl Default for TokenAuth {
    fn default() -> Self {
        TokenAuth::new()
    }
}

impl TokenAuth {
    /// Defaults: realm path `/auth/v1/issue-token` (deliberately not `/token`), service
    /// `latch-testkit-registry`, no credentials (anyone gets every action asked for),
    /// tokens valid 300 s.
    pub fn new() -> TokenAuth {
        TokenAuth {
            realm_path: "/auth/v1/issue-token".to_owned(),
            service: "latch-testkit-registry".to_owned(),
            issuer: "latch-testkit-token-issuer".to_owned(),
            credentials: None,
            anonymous_actions: Vec::new(),
            expires_in: 300,
        }
    }

    /// The path of the token endpoint (the realm is `http://127.0.0.1:PORT` + this).
    pub fn realm_path(mut self, path: &str) -> TokenAuth {
        assert!(path.starts_with('/'), "a realm path starts with '/'");
        self.realm_path = path.to_owned();
        self
    }

    /// The service name that the registry's challenge announces and the token's audience.
    pub fn service(mut self, service: &str) -> TokenAuth {
        self.service = service.to_owned();
        self
    }

    /// Require these basic credentials at the token endpoint: wrong ones get 401; none
    /// get an anonymous token that grants only the anonymous actions (none by default).
    pub fn credentials(mut self, user: &str, password: &str) -> TokenAuth {
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// With credentials set, let anonymous clients pull (as public images on Docker Hub).
    pub fn anonymous_pull(mut self) -> TokenAuth {
        self.anonymous_actions = vec!["pull".to_owned()];
        self
    }

    /// The `expires_in` of issued tokens, in seconds (distribution allows 60 s of leeway
    /// after `exp`).
    pub fn expires_in(mut self, seconds: u64) -> TokenAuth {
        self.expires_in = seconds;
        self
    }
}

/// One request the token endpoint received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// Request path with query.
    pub path: String,
    /// The `service` query parameter.
    pub service: Option<String>,
    /// Every `scope` asked for (repeated parameters and space-separated lists alike).
    pub scopes: Vec<String>,
    /// The user named by basic credentials, if any were sent.
    pub account: Option<String>,
    /// The status answered.
    pub status: u16,
    /// The granted access as `type:name:actions` (actions comma-separated, possibly empty).
    pub granted: Vec<String>,
}

struct Signer {
    fixed: EcdsaKeyPair,
    kid: String,
    cert_pem: String,
}

impl Signer {
    fn new() -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate a P-256 key");
        let fixed = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("load the P-256 key for JWS");
        let asn1 = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
            .expect("load the P-256 key for X.509");
        let cert = der::self_signed_cert(&asn1, "latch-testkit token issuer");
        let kid = libtrust_key_id(&der::p256_spki(fixed.public_key().as_ref()));
        Signer {
            fixed,
            kid,
            cert_pem: der::pem("CERTIFICATE", &cert),
        }
    }

    fn sign_jwt(&self, claims: &serde_json::Value) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let sig = self
            .fixed
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .expect("ES256 signing");
        format!("{signing_input}.{}", b64.encode(sig.as_ref()))
    }
}

/// libtrust's key ID, which distribution uses as the JWT `kid`: SHA-256 of the DER
/// `SubjectPublicKeyInfo`, truncated to 240 bits, base32, in 12 groups of 4 joined by `:`.
pub(crate) fn libtrust_key_id(spki_der: &[u8]) -> String {
    let hash = sha2::Sha256::digest(spki_der);
    let b32 = base32(&hash[..30]);
    b32.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join(":")
}

/// RFC 4648 base32 without padding.
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

struct State {
    opts: TokenAuth,
    signer: Signer,
    requests: Mutex<Vec<TokenRequest>>,
}

/// A running token server. Usually started for you by [`crate::Registry::with_token_auth`].
pub struct TokenServer {
    server: BackgroundServer,
    state: Arc<State>,
}

impl TokenServer {
    /// Starts a token server on 127.0.0.1 with a free port and a fresh signing key.
    pub fn start(opts: TokenAuth) -> TokenServer {
        let state = Arc::new(State {
            opts,
            signer: Signer::new(),
            requests: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let handler: Handler = Arc::new(move |req| {
            let st = st.clone();
            Box::pin(async move { handle(&st, req) })
        });
        TokenServer {
            server: BackgroundServer::start("token-server", handler),
            state,
        }
    }

    /// The realm URL, `http://127.0.0.1:PORT/<realm path>`.
    pub fn realm(&self) -> String {
        format!(
            "http://{}{}",
            self.server.addr(),
            self.state.opts.realm_path
        )
    }

    /// The service name (the `service` of the challenge and the tokens' audience).
    pub fn service(&self) -> &str {
        &self.state.opts.service
    }

    /// The issuer (`iss`) of the tokens.
    pub fn issuer(&self) -> &str {
        &self.state.opts.issuer
    }

    /// The PEM certificate of the signing key (the registry's `rootcertbundle`).
    pub fn cert_pem(&self) -> &str {
        &self.state.signer.cert_pem
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state.requests.lock().expect("token log").clone()
    }

    /// How many requests were received (to assert that a client reuses its tokens).
    pub fn request_count(&self) -> usize {
        self.state.requests.lock().expect("token log").len()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.state.requests.lock().expect("token log").clear();
    }

    /// Mints a token directly, without a request: for `scope` (e.g.
    /// `repository:app:pull`), valid from now for `lifetime_secs` (negative: already
    /// expired; distribution adds 60 s of leeway).
    pub fn mint(&self, scope: &str, lifetime_secs: i64) -> String {
        let access = parse_scope(scope)
            .map(|(t, n, a)| vec![access_entry(&t, &n, &a)])
            .unwrap_or_default();
        make_token(&self.state, "", access, lifetime_secs)
    }
}

fn access_entry(kind: &str, name: &str, actions: &[String]) -> serde_json::Value {
    serde_json::json!({"type": kind, "name": name, "actions": actions})
}

fn make_token(
    state: &State,
    subject: &str,
    access: Vec<serde_json::Value>,
    lifetime: i64,
) -> String {
    let t = now();
    static JTI: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let jti = JTI.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let claims = serde_json::json!({
        "iss": state.opts.issuer,
        "sub": subject,
        "aud": state.opts.service,
        "exp": t + lifetime,
        "nbf": t.min(t + lifetime) - 1,
        "iat": t,
        "jti": format!("latch-testkit-{jti}"),
        "access": access,
    });
    state.signer.sign_jwt(&claims)
}

/// `type:name:actions` → (type, name, actions). Names never hold `:`, types may carry a
/// class in parentheses (`repository(plugin)`).
fn parse_scope(scope: &str) -> Option<(String, String, Vec<String>)> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let actions = actions
        .split(',')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    Some((kind.to_owned(), name.to_owned(), actions))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len()
                && hex(bytes[i + 1]).is_some()
                && hex(bytes[i + 2]).is_some() =>
            {
                let hi = hex(bytes[i + 1]).unwrap_or(0);
                let lo = hex(bytes[i + 2]).unwrap_or(0);
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn basic_credentials(req: &Request<Incoming>) -> Option<(String, String)> {
    let value = req
        .headers()
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(body.to_string()))
        .expect("a valid response")
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let mut r = json_response(
        status,
        serde_json::json!({"errors": [{"code": code, "message": message}]}),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"latch-testkit token server\""),
        );
    }
    r
}

fn handle(state: &State, req: Request<Incoming>) -> Response<Body> {
    let opts = &state.opts;
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let params = query_params(req.uri().query().unwrap_or(""));
    let service = params
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone());
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let creds = basic_credentials(&req);
    let mut record = TokenRequest {
        path: path.clone(),
        service: service.clone(),
        scopes: scopes.clone(),
        account: creds.as_ref().map(|(u, _)| u.clone()),
        status: 0,
        granted: Vec::new(),
    };

    let response = if req.uri().path() != opts.realm_path {
        error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "no token endpoint here")
    } else if req.method() != hyper::Method::GET {
        error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "this token server answers GET only",
        )
    } else if service.as_deref() != Some(opts.service.as_str()) {
        error_response(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            &format!("service must be {:?}", opts.service),
        )
    } else {
        let authenticated = match (&opts.credentials, &creds) {
            (None, _) => Ok(true),
            (Some(_), None) => Ok(false),
            (Some(want), Some(got)) if want == got => Ok(true),
            (Some(_), Some(_)) => Err(()),
        };
        match authenticated {
            Err(()) => error_response(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "wrong username or password",
            ),
            Ok(full_access) => {
                let mut access = Vec::new();
                for scope in &scopes {
                    let Some((kind, name, asked)) = parse_scope(scope) else {
                        continue;
                    };
                    let granted: Vec<String> = asked
                        .into_iter()
                        .filter(|a| full_access || opts.anonymous_actions.contains(a))
                        .collect();
                    record
                        .granted
                        .push(format!("{kind}:{name}:{}", granted.join(",")));
                    access.push(access_entry(&kind, &name, &granted));
                }
                let subject = creds.as_ref().map(|(u, _)| u.as_str()).unwrap_or("");
                let token = make_token(state, subject, access, opts.expires_in as i64);
                json_response(
                    StatusCode::OK,
                    serde_json::json!({
                        "token": token,
                        "access_token": token,
                        "expires_in": opts.expires_in,
                        "issued_at": rfc3339(now()),
                    }),
                )
            }
        }
    };
    record.status = response.status().as_u16();
    state.requests.lock().expect("token log").push(record);
    response
}

/// Seconds since the epoch as RFC 3339 UTC.
pub(crate) fn rfc3339(secs: i64) -> String {
    latch_oci::time::rfc3339(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn key_id_has_twelve_groups() {
        let kid = libtrust_key_id(b"any spki");
        let groups: Vec<&str> = kid.split(':').collect();
        assert_eq!(groups.len(), 12, "{kid}");
        assert!(groups.iter().all(|g| g.len() == 4));
    }

    #[test]
    fn scopes_and_queries() {
        assert_eq!(
            parse_scope("repository:a/b:pull,push"),
            Some((
                "repository".into(),
                "a/b".into(),
                vec!["pull".into(), "push".into()]
            ))
        );
        assert_eq!(
            parse_scope("registry:catalog:*"),
            Some(("registry".into(), "catalog".into(), vec!["*".into()]))
        );
        assert_eq!(parse_scope("nonsense"), None);
        let q = query_params("service=s&scope=repository%3Aa%3Apull&scope=x+y");
        assert_eq!(q[1].1, "repository:a:pull");
        assert_eq!(q[2].1, "x y");
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    }
}
