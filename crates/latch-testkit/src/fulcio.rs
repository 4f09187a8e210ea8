//! A Fulcio-like certificate authority for keyless signing tests, and the GitHub Actions
//! token endpoint that hands out the identity tokens it accepts (the public Fulcio and
//! GitHub cannot be reached here).
//!
//! - `POST /api/v2/signingCert` with Fulcio's JSON (`credentials.oidcIdentityToken`,
//!   `certificateSigningRequest` = base64 of a PEM PKCS#10 request): the token must be an
//!   ES256 JWT signed by this server's issuer key, for audience `sigstore`, not expired,
//!   with GitHub's claims (`job_workflow_ref`, `repository`, `ref`, `event_name`); the
//!   request's signature must verify with the key it names (proof of possession). The
//!   answer is `201` with `signedCertificateEmbeddedSct.chain.certificates` (the leaf,
//!   then the CA), issued by the [`TestSigstore`]'s CA with the GitHub extensions and an
//!   SCT, so it verifies under its `trusted_root.json`. Errors are `{"code", "message"}`.
//! - `GET /actions/token?api-version=2.0&audience=sigstore` with `Authorization: Bearer
//!   <ACTIONS_REQUEST_TOKEN>`: `{"count": 1, "value": <token>}` for the workflow set with
//!   [`FulcioServer::set_ambient`], as GitHub's `ACTIONS_ID_TOKEN_REQUEST_URL` answers.

use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
    KeyPair, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use x509_cert::der::{Decode as _, Encode as _};

use crate::now;
use crate::server::{BackgroundServer, Body, Handler, Refusal, full, json_error as error, lock};
use crate::sigstore::{GITHUB_ISSUER, Leaf, TestSigstore};

/// The bearer the token endpoint accepts (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
pub const ACTIONS_REQUEST_TOKEN: &str = "latch-test-actions-request-token";
const MAX_REQUEST: usize = 256 * 1024;

/// The workflow a GitHub Actions token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    /// `owner/repo`.
    pub repository: String,
    /// The workflow file, e.g. `.github/workflows/release.yml`.
    pub path: String,
    /// The ref, e.g. `refs/heads/main`.
    pub git_ref: String,
    /// The trigger, e.g. `push`.
    pub event: String,
}

impl Workflow {
    /// `path` of `repository` at `git_ref`, on `push`.
    pub fn new(repository: &str, path: &str, git_ref: &str) -> Workflow {
        Workflow {
            repository: repository.to_owned(),
            path: path.to_owned(),
            git_ref: git_ref.to_owned(),
            event: "push".to_owned(),
        }
    }

    /// The certificate identity Fulcio gives it: `https://github.com/<repo>/<path>@<ref>`.
    pub fn san(&self) -> String {
        format!(
            "https://github.com/{}/{}@{}",
            self.repository, self.path, self.git_ref
        )
    }
}

struct State {
    sigstore: Arc<TestSigstore>,
    issuer: EcdsaKeyPair,
    rng: SystemRandom,
    ambient: Mutex<Option<Workflow>>,
    refuse: Refusal,
    issued: Mutex<usize>,
}

/// A running test CA. Dropping it stops it.
pub struct FulcioServer {
    server: BackgroundServer,
    state: Arc<State>,
}

impl FulcioServer {
    /// Starts a CA that issues with `sigstore`'s CA key, and a fresh OIDC issuer key.
    pub fn start(sigstore: Arc<TestSigstore>) -> FulcioServer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate the issuer key");
        let issuer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("read the issuer key");
        let state = Arc::new(State {
            sigstore,
            issuer,
            rng,
            ambient: Mutex::new(None),
            refuse: Refusal::default(),
            issued: Mutex::new(0),
        });
        let st = state.clone();
        let handler: Handler = Arc::new(move |req| {
            let st = st.clone();
            Box::pin(async move { handle(&st, req).await })
        });
        FulcioServer {
            server: BackgroundServer::start("fulcio", handler),
            state,
        }
    }

    /// `http://127.0.0.1:PORT`, what `--fulcio-url` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` for the ambient token endpoint.
    pub fn actions_token_url(&self) -> String {
        format!("{}/actions/token?api-version=2.0", self.url())
    }

    /// The workflow the ambient token endpoint vouches for (`None`: it refuses).
    pub fn set_ambient(&self, workflow: Option<Workflow>) {
        *lock(&self.state.ambient) = workflow;
    }

    /// From now on, refuse every certificate request with `status` and `message`.
    pub fn refuse(&self, refusal: Option<(u16, &str)>) {
        self.state.refuse.set(refusal);
    }

    /// Certificates issued so far.
    pub fn issued(&self) -> usize {
        *lock(&self.state.issued)
    }

    /// A GitHub Actions identity token for `workflow`, expiring `valid_for` seconds from
    /// now (negative: already expired), signed by this CA's trusted issuer.
    pub fn token(&self, workflow: &Workflow, valid_for: i64) -> String {
        token(&self.state, workflow, valid_for)
    }

    /// A token of the same shape signed by another key: the CA refuses it.
    pub fn forged_token(&self, workflow: &Workflow) -> String {
        let other = FulcioServer::start(self.state.sigstore.clone());
        other.token(workflow, 600)
    }
}

fn token(st: &State, w: &Workflow, valid_for: i64) -> String {
    let t = now();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT","kid":"latch-test"}"#);
    let claims = serde_json::json!({
        "iss": GITHUB_ISSUER,
        "aud": "sigstore",
        "sub": format!("repo:{}:ref:{}", w.repository, w.git_ref),
        "iat": t - 5,
        "nbf": t - 5,
        "exp": t + valid_for,
        "repository": w.repository,
        "ref": w.git_ref,
        "event_name": w.event,
        "job_workflow_ref": format!("{}/{}@{}", w.repository, w.path, w.git_ref),
        "sha": "0123456789abcdef0123456789abcdef01234567",
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let sig = st
        .issuer
        .sign(&st.rng, signing_input.as_bytes())
        .expect("sign the token");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

async fn handle(st: &State, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (&Method::POST, "/api/v2/signingCert") => {
            if let Some(refused) = st.refuse.answer() {
                return refused;
            }
            let body = match Limited::new(req.into_body(), MAX_REQUEST).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "request too large"),
            };
            match signing_cert(st, &body) {
                Ok(chain) => {
                    *lock(&st.issued) += 1;
                    let doc = serde_json::json!({
                        "signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}
                    });
                    Response::builder()
                        .status(StatusCode::CREATED)
                        .header("content-type", "application/json")
                        .body(full(doc.to_string()))
                        .expect("a valid response")
                }
                Err((status, message)) => error(status, &message),
            }
        }
        (&Method::GET, "/actions/token") => {
            let query = req.uri().query().unwrap_or_default();
            let authorized = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.eq_ignore_ascii_case(&format!("bearer {ACTIONS_REQUEST_TOKEN}"))
                });
            if !authorized {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "bad ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                );
            }
            if !query.split('&').any(|p| p == "audience=sigstore") {
                return error(StatusCode::BAD_REQUEST, "audience=sigstore missing");
            }
            let Some(w) = lock(&st.ambient).clone() else {
                return error(StatusCode::FORBIDDEN, "no id-token permission");
            };
            let doc = serde_json::json!({"count": 1, "value": token(st, &w, 600)});
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(full(doc.to_string()))
                .expect("a valid response")
        }
        _ => error(StatusCode::NOT_FOUND, &format!("path {path} was not found")),
    }
}

/// The chain (PEM, leaf first) for a `signingCert` request, or why it is refused.
fn signing_cert(st: &State, body: &[u8]) -> Result<Vec<String>, (StatusCode, String)> {
    let bad = |m: &str| (StatusCode::BAD_REQUEST, m.to_owned());
    let unauthorized = |m: &str| (StatusCode::UNAUTHORIZED, m.to_owned());
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let jwt = v["credentials"]["oidcIdentityToken"]
        .as_str()
        .ok_or_else(|| bad("no credentials.oidcIdentityToken"))?;
    let claims = verify_token(st, jwt).map_err(|m| unauthorized(&m))?;
    let csr_pem = STANDARD
        .decode(
            v["certificateSigningRequest"]
                .as_str()
                .ok_or_else(|| bad("no certificateSigningRequest"))?,
        )
        .map_err(|_| bad("certificateSigningRequest is not base64"))?;
    let csr_pem = String::from_utf8(csr_pem).map_err(|_| bad("the request is not PEM"))?;
    let b64: String = csr_pem
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN CERTIFICATE REQUEST-----")
        .skip(1)
        .take_while(|l| *l != "-----END CERTIFICATE REQUEST-----")
        .collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| bad("the request is not PEM"))?;
    let req = x509_cert::request::CertReq::from_der(&der)
        .map_err(|e| bad(&format!("the request cannot be read: {e}")))?;
    let spki = req
        .info
        .public_key
        .to_der()
        .map_err(|_| bad("the request's key"))?;
    let info = req.info.to_der().map_err(|_| bad("the request's info"))?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &spki)
        .verify(&info, req.signature.raw_bytes())
        .map_err(|_| bad("the request's signature does not verify with its key"))?;
    let text = |name: &str| {
        claims[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| unauthorized(&format!("the token has no {name} claim")))
    };
    let repository = text("repository")?;
    let job = text("job_workflow_ref")?;
    let (job_path, git_ref) = job
        .split_once('@')
        .ok_or_else(|| unauthorized("bad job_workflow_ref"))?;
    let workflow = job_path
        .strip_prefix(&format!("{repository}/"))
        .ok_or_else(|| unauthorized("job_workflow_ref is not in repository"))?;
    let leaf = Leaf::github(
        &repository,
        workflow,
        git_ref,
        &text("event_name")?,
        now() - 60,
        None,
    );
    let cert = st.sigstore.issue_for_key(&spki, &leaf);
    Ok(vec![
        crate::der::pem("CERTIFICATE", &cert),
        crate::der::pem("CERTIFICATE", st.sigstore.ca_cert()),
    ])
}

fn verify_token(st: &State, jwt: &str) -> Result<serde_json::Value, String> {
    let mut parts = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the identity token is not a JWT".into());
    };
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| "the token signature is not base64url".to_owned())?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, st.issuer.public_key().as_ref())
        .verify(format!("{h}.{p}").as_bytes(), &sig)
        .map_err(|_| {
            "There was an error processing the identity token: invalid signature".to_owned()
        })?;
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| "the token payload is not base64url".to_owned())?,
    )
    .map_err(|_| "the token payload is not JSON".to_owned())?;
    if claims["iss"] != GITHUB_ISSUER {
        return Err("unknown issuer".into());
    }
    if claims["aud"] != "sigstore" {
        return Err("the token's audience is not sigstore".into());
    }
    if claims["exp"].as_i64().is_none_or(|e| e <= now()) {
        return Err("There was an error processing the identity token: token is expired".into());
    }
    Ok(claims)
}
