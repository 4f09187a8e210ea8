//! Keyless signing, as CI does it: an OIDC identity token (given, or GitHub Actions'
//! ambient one), an ephemeral P-256 key that lives only in memory, a certificate signing
//! request proving possession of it, and the short-lived certificate a Fulcio-compatible
//! CA issues for the token's identity (`POST /api/v2/signingCert`). The certificate then
//! goes into a cosign v3 bundle ([`crate::bundle`]), logged on Rekor, as cosign does.
//!
//! The token is a bearer credential: it is never printed, logged or written; only its
//! issuer and subject (not secret) appear in errors.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use url::Url;
use x509_cert::der::asn1::BitString;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::request::{CertReq, CertReqInfo, Version};
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::key::PrivateKey;
use crate::signer::Signer;

/// The public-good Fulcio.
pub const PUBLIC_FULCIO: &str = "https://fulcio.sigstore.dev";
/// The public-good Rekor.
pub const PUBLIC_REKOR: &str = "https://rekor.sigstore.dev";
/// The audience Sigstore's CAs expect in identity tokens.
pub const AUDIENCE: &str = "sigstore";
/// Bound on a CA or token-endpoint answer.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Bound on an identity token.
const MAX_TOKEN_BYTES: usize = 64 * 1024;
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Why no certificate was obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    /// No identity token: none given, and not in GitHub Actions with `id-token: write`.
    #[error(
        "no identity token: give --identity-token (or SIGSTORE_ID_TOKEN), or run in GitHub Actions with `permissions: id-token: write`"
    )]
    NoToken,
    /// The identity token is not a JWT whose claims can be read.
    #[error("the identity token is not a JWT: {reason}")]
    BadToken {
        /// What is wrong (never the token).
        reason: String,
    },
    /// The identity token has expired.
    #[error(
        "the identity token of {subject} (issuer {issuer}) expired at {expired} (unix time); get a new one"
    )]
    TokenExpired {
        /// Its issuer.
        issuer: String,
        /// Its subject.
        subject: String,
        /// Its `exp`.
        expired: i64,
    },
    /// A URL that cannot be used.
    #[error("{what} URL {url:?} is not usable: {reason}")]
    BadUrl {
        /// Which service.
        what: &'static str,
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A request failed before an answer.
    #[error("request to {url} failed: {source}")]
    Http {
        /// The URL (without query).
        url: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The service answered with an error status.
    #[error("{url} answered {status}: {message}")]
    Refused {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Its message (clipped).
        message: String,
    },
    /// The answer is not what the API returns.
    #[error("{url} sent an unusable answer: {reason}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The CA issued a certificate for another key than the one that asked.
    #[error("the certificate from {url} is not for the key that asked for it; nothing was signed")]
    WrongKey {
        /// The CA's URL.
        url: String,
    },
    /// The ephemeral key or the request could not be made.
    #[error("making the ephemeral key or its certificate request: {reason}")]
    Local {
        /// What failed.
        reason: String,
    },
}

/// An OIDC identity token. Its text is only ever sent to the CA.
#[derive(Clone)]
pub struct IdentityToken(Zeroizing<String>);

impl std::fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityToken(…)")
    }
}

/// What a token says of itself (unverified: the CA verifies it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `exp`, unix seconds.
    pub expires: Option<i64>,
}

impl IdentityToken {
    /// A token given as text (surrounding whitespace removed).
    pub fn new(token: &str) -> Result<IdentityToken, KeylessError> {
        let t = IdentityToken(Zeroizing::new(token.trim().to_owned()));
        t.claims()?;
        Ok(t)
    }

    /// `SIGSTORE_ID_TOKEN`, as cosign reads it.
    pub fn from_env() -> Option<Result<IdentityToken, KeylessError>> {
        std::env::var("SIGSTORE_ID_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(|t| IdentityToken::new(&t))
    }

    /// The ambient GitHub Actions token: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore`
    /// with `$ACTIONS_ID_TOKEN_REQUEST_TOKEN` as bearer. `None` outside GitHub Actions (or
    /// without `id-token: write`).
    pub async fn from_github_actions() -> Option<Result<IdentityToken, KeylessError>> {
        let url = std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL").ok()?;
        let bearer = Zeroizing::new(std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").ok()?);
        Some(github_actions_token(&url, &bearer).await)
    }

    /// The token's claims, read without verifying it.
    pub fn claims(&self) -> Result<TokenClaims, KeylessError> {
        let bad = |reason: &str| KeylessError::BadToken {
            reason: reason.to_owned(),
        };
        if self.0.len() > MAX_TOKEN_BYTES {
            return Err(bad("over 64 KiB"));
        }
        let mut parts = self.0.split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected three dot-separated parts"));
        };
        let json = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| bad("its payload is not base64url"))?;
        let v: Value = serde_json::from_slice(&json).map_err(|_| bad("its payload is not JSON"))?;
        let text = |name: &str| v[name].as_str().map(str::to_owned);
        Ok(TokenClaims {
            issuer: text("iss").ok_or_else(|| bad("no iss claim"))?,
            subject: text("sub").unwrap_or_default(),
            expires: v["exp"].as_i64(),
        })
    }

    fn secret(&self) -> &str {
        &self.0
    }
}

async fn github_actions_token(url: &str, bearer: &str) -> Result<IdentityToken, KeylessError> {
    let mut u = Url::parse(url).map_err(|e| KeylessError::BadUrl {
        what: "ACTIONS_ID_TOKEN_REQUEST_URL",
        url: clip(url),
        reason: e.to_string(),
    })?;
    u.query_pairs_mut().append_pair("audience", AUDIENCE);
    let shown = shown(&u);
    let resp = http()?
        .get(u)
        .bearer_auth(bearer)
        .send()
        .await
        .map_err(|source| KeylessError::Http {
            url: shown.clone(),
            source,
        })?;
    let body = answer(resp, &shown, 200).await?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| KeylessError::BadResponse {
        url: shown.clone(),
        reason: format!("not JSON: {e}"),
    })?;
    let token = v["value"].as_str().ok_or(KeylessError::BadResponse {
        url: shown,
        reason: "no value".into(),
    })?;
    IdentityToken::new(token)
}

/// A Fulcio-compatible CA.
#[derive(Debug, Clone)]
pub struct Fulcio {
    base: Url,
}

/// A certificate for an ephemeral key.
pub struct Certified {
    /// The key, in memory only.
    pub key: PrivateKey,
    /// The leaf certificate (DER).
    pub certificate: Vec<u8>,
    /// The certificates above it, as the CA sent them (DER).
    pub chain: Vec<Vec<u8>>,
    /// The identity the token claimed (issuer, subject).
    pub claims: TokenClaims,
}

impl Fulcio {
    /// The CA at `url` (`https://fulcio.sigstore.dev`, or a test CA on 127.0.0.1).
    pub fn new(url: &str) -> Result<Fulcio, KeylessError> {
        let bad = |reason: &str| KeylessError::BadUrl {
            what: "Fulcio",
            url: clip(url),
            reason: reason.to_owned(),
        };
        let base = crate::http::service_url(url).map_err(|e| bad(&e))?;
        Ok(Fulcio { base })
    }

    /// A fresh P-256 key and a certificate for it from the CA, for `token`'s identity.
    /// `now` (unix seconds) refuses an expired token before it is sent.
    pub async fn certify(
        &self,
        token: &IdentityToken,
        now: i64,
    ) -> Result<Certified, KeylessError> {
        let claims = token.claims()?;
        if let Some(exp) = claims.expires.filter(|e| *e <= now) {
            return Err(KeylessError::TokenExpired {
                issuer: claims.issuer,
                subject: claims.subject,
                expired: exp,
            });
        }
        let key = PrivateKey::generate().map_err(|e| KeylessError::Local {
            reason: e.to_string(),
        })?;
        let csr = csr_pem(&key)?;
        let url = format!(
            "{}/api/v2/signingCert",
            self.base.as_str().trim_end_matches('/')
        );
        let request = serde_json::json!({
            "credentials": {"oidcIdentityToken": token.secret()},
            "certificateSigningRequest": STANDARD.encode(csr),
        });
        let resp = http()?
            .post(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.to_string())
            .send()
            .await
            .map_err(|source| KeylessError::Http {
                url: url.clone(),
                source,
            })?;
        let body = answer(resp, &url, 201).await?;
        let mut chain = certificate_chain(&body).map_err(|reason| KeylessError::BadResponse {
            url: url.clone(),
            reason,
        })?;
        let certificate = chain.remove(0);
        let leaf_key = x509_cert::Certificate::from_der(&certificate)
            .and_then(|c| c.tbs_certificate.subject_public_key_info.to_der())
            .map_err(|e| KeylessError::BadResponse {
                url: url.clone(),
                reason: format!("the leaf certificate: {e}"),
            })?;
        if leaf_key != key.public_key().der() {
            return Err(KeylessError::WrongKey { url });
        }
        Ok(Certified {
            key,
            certificate,
            chain,
            claims,
        })
    }
}

impl Certified {
    /// The identity the certificate names: its first URI or e-mail SAN (what
    /// `--certificate-identity` matches), else the token's subject.
    pub fn identity(&self) -> String {
        certificate_identity(&self.certificate).unwrap_or_else(|| self.claims.subject.clone())
    }
}

/// The first URI or e-mail subject alternative name of a certificate (DER).
pub fn certificate_identity(der: &[u8]) -> Option<String> {
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let san_oid = ObjectIdentifier::new_unwrap("2.5.29.17");
    let ext = cert
        .tbs_certificate
        .extensions?
        .into_iter()
        .find(|e| e.extn_id == san_oid)?;
    let san = SubjectAltName::from_der(ext.extn_value.as_bytes()).ok()?;
    san.0.into_iter().find_map(|n| match n {
        GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
        GeneralName::Rfc822Name(e) => Some(e.to_string()),
        _ => None,
    })
}

/// A PKCS#10 request for `key` with an empty subject (Fulcio takes the identity from the
/// token), signed by the key: the proof of possession.
fn csr_pem(key: &PrivateKey) -> Result<String, KeylessError> {
    let local = |e: &dyn std::fmt::Display| KeylessError::Local {
        reason: e.to_string(),
    };
    let info = CertReqInfo {
        version: Version::V1,
        subject: Default::default(),
        public_key: SubjectPublicKeyInfoOwned::from_der(key.public_key().der())
            .map_err(|e| local(&e))?,
        attributes: Default::default(),
    };
    let signature = key
        .sign(&info.to_der().map_err(|e| local(&e))?)
        .map_err(|e| local(&e))?;
    let req = CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(&signature).map_err(|e| local(&e))?,
    };
    Ok(latch_trust::pem_encode(
        "CERTIFICATE REQUEST",
        &req.to_der().map_err(|e| local(&e))?,
    ))
}

/// The certificates (DER, leaf first) of a `signingCert` answer: `signedCertificateEmbeddedSct`
/// or `signedCertificateDetachedSct`, `.chain.certificates` as PEM.
fn certificate_chain(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let chain = v["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .or_else(|| v["signedCertificateDetachedSct"]["chain"]["certificates"].as_array())
        .ok_or("no signedCertificateEmbeddedSct.chain.certificates")?;
    let mut out = Vec::new();
    for (i, pem) in chain.iter().enumerate().take(8) {
        let pem = pem
            .as_str()
            .ok_or(format!("certificate {i} is not a string"))?;
        match latch_sigstore::pem_certificates(pem).as_deref() {
            Ok([der]) => out.push(der.clone()),
            _ => return Err(format!("certificate {i} is not one PEM certificate")),
        }
    }
    if out.is_empty() {
        return Err("an empty chain".into());
    }
    Ok(out)
}

fn http() -> Result<reqwest::Client, KeylessError> {
    crate::http::client(Duration::from_secs(60)).map_err(|e| KeylessError::Local {
        reason: e.to_string(),
    })
}

/// The body of an answer with status `expected`, bounded; else the service's refusal.
async fn answer(
    resp: reqwest::Response,
    url: &str,
    expected: u16,
) -> Result<Vec<u8>, KeylessError> {
    let status = resp.status().as_u16();
    let body = crate::http::read_bounded(resp, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| match e {
            crate::http::BodyError::Http(source) => KeylessError::Http {
                url: url.to_owned(),
                source,
            },
            crate::http::BodyError::TooLarge => KeylessError::BadResponse {
                url: url.to_owned(),
                reason: format!("more than {MAX_RESPONSE_BYTES} bytes"),
            },
        })?;
    if status == expected || (expected == 201 && status == 200) {
        return Ok(body);
    }
    Err(KeylessError::Refused {
        url: url.to_owned(),
        status,
        message: crate::http::refusal_message(&body),
    })
}

/// A URL as shown in messages: without its query (which may carry a token).
fn shown(u: &Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.to_string()
}

fn clip(s: &str) -> String {
    latch_oci::text::clip(s, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn token_claims_are_read_and_bad_tokens_refused() {
        let t = IdentityToken::new(&jwt(
            r#"{"iss":"https://issuer.example","sub":"repo:o/r","exp":100}"#,
        ))
        .unwrap();
        assert_eq!(
            t.claims().unwrap(),
            TokenClaims {
                issuer: "https://issuer.example".into(),
                subject: "repo:o/r".into(),
                expires: Some(100),
            }
        );
        // Debug never shows the token.
        assert_eq!(format!("{t:?}"), "IdentityToken(…)");
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "a.!!!.c",
            &jwt("[]"),
            &jwt(r#"{"sub":"x"}"#),
        ] {
            assert!(
                matches!(IdentityToken::new(bad), Err(KeylessError::BadToken { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_request_is_signed_by_the_key_it_names() {
        let key = PrivateKey::generate().unwrap();
        let pem = csr_pem(&key).unwrap();
        let der =
            latch_sigstore::pem_certificates(&pem.replace("CERTIFICATE REQUEST", "CERTIFICATE"))
                .unwrap()
                .remove(0);
        let req = CertReq::from_der(&der).unwrap();
        assert_eq!(
            req.info.public_key.to_der().unwrap(),
            key.public_key().der()
        );
        key.public_key()
            .verify(&req.info.to_der().unwrap(), req.signature.raw_bytes())
            .unwrap();
    }

    #[test]
    fn chains_are_read_from_either_answer() {
        let cert = latch_trust::pem_encode("CERTIFICATE", b"\x30\x03\x02\x01\x01");
        for kind in [
            "signedCertificateEmbeddedSct",
            "signedCertificateDetachedSct",
        ] {
            let body = serde_json::json!({kind: {"chain": {"certificates": [cert, cert]}}});
            assert_eq!(
                certificate_chain(body.to_string().as_bytes())
                    .unwrap()
                    .len(),
                2
            );
        }
        assert!(certificate_chain(b"{}").is_err());
        assert!(
            certificate_chain(br#"{"signedCertificateEmbeddedSct":{"chain":{"certificates":[]}}}"#)
                .is_err()
        );
        assert!(
            certificate_chain(
                br#"{"signedCertificateEmbeddedSct":{"chain":{"certificates":["x"]}}}"#
            )
            .is_err()
        );
    }
}
