//! The HTTP plumbing the signing services share (Rekor, Fulcio, GitHub's token endpoint):
//! one way to check a service URL, build a client, read an answer bounded, and word a
//! service's refusal.

use std::time::Duration;

use serde_json::Value;
use url::Url;

/// A client with Latch's user agent and bounded waits.
pub(crate) fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(format!("latch/{}", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .timeout(timeout)
        .build()
}

/// `url` parsed as a service's base URL: http or https, a host, no credentials in it.
pub(crate) fn service_url(url: &str) -> Result<Url, String> {
    let base = Url::parse(url).map_err(|e| e.to_string())?;
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        return Err("expected http:// or https:// and a host".into());
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err("credentials in the URL are not supported".into());
    }
    Ok(base)
}

/// Why an answer's body could not be read.
pub(crate) enum BodyError {
    /// The connection failed while reading.
    Http(reqwest::Error),
    /// More than the bound.
    TooLarge,
}

/// The body of `resp`, at most `max` bytes.
pub(crate) async fn read_bounded(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Http)? {
        if out.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// What a service said when it refused: its JSON `message`, else the start of its body,
/// clipped.
pub(crate) fn refusal_message(body: &[u8]) -> String {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    latch_oci::text::clip(&message, 300)
}
