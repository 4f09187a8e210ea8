//! Cosign 2.x keyless image signatures in legacy `.sig` layers (FORMATS.md 5.2 to 5.4):
//! the simple-signing payload as the blob, the signature, the Fulcio certificate, its
//! chain and the Rekor bundle (SET and `hashedrekord` entry) in the layer's annotations.
//!
//! Each is turned into a v0.1 bundle (a message signature over the payload, the
//! certificate and chain, the Rekor entry with its SET as the inclusion promise) and
//! verified by [`crate::verify_parsed_bundle`] with the log required, so the checks are
//! sigstore-verify's, the same as for any bundle: the certificate chains to a Fulcio CA
//! of the root (the chain annotation only offers intermediates; the root's CAs are the
//! only anchors) and is valid at the SET's integrated time, its SCT verifies against the
//! root's CT logs, the SET is signed by a Rekor key of the root valid at that time (an
//! integrated time in the future is refused: sigstore-verify's only use of the clock) and
//! its entry names this payload's SHA-256, this signature and this certificate, the
//! signature verifies with the certificate's key, and the certificate satisfies one of
//! the identity policies.
//!
//! What cosign also checks and is left to the caller: the payload's claims (its
//! `docker-manifest-digest` is the image's, its `docker-reference`), which `latch-trust`
//! parses. An RFC 3161 timestamp annotation is not used: a SET is required (a keyless
//! signature without an authenticated time cannot be held to the certificate's
//! ten-minute validity).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigstore_verify::TransparencyLogError;
use sigstore_verify::types::{Bundle, DerCertificate};

use crate::cosign::{CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, REKOR_BUNDLE_ANNOTATION};
use crate::error::{Error, Result};
use crate::policy::{Signer, TlogRequirement};
use crate::root::TrustRoot;
use crate::verify::{Artifact, BundleVerification, verify_parsed_bundle};

/// Bound on the certificates of a chain annotation (Fulcio's chains have two).
pub const MAX_CHAIN_CERTIFICATES: usize = 10;
/// Bound on a certificate or chain annotation, and on a logged entry body.
pub const MAX_ANNOTATION_BYTES: usize = 256 * 1024;

/// One keyless `.sig` signature, as read from its layer (or from `cosign download
/// signature`): everything borrowed, nothing verified yet.
#[derive(Debug, Clone, Copy)]
pub struct LegacySignature<'a> {
    /// The payload: the layer's blob, exactly as signed.
    pub payload: &'a [u8],
    /// The signature over the payload (decoded from base64).
    pub signature: &'a [u8],
    /// The signing certificate: PEM (one `CERTIFICATE` block, as in the annotation) or
    /// DER.
    pub certificate: &'a [u8],
    /// The chain annotation: PEM, one or more certificates (intermediates, and usually
    /// the root). Offered as intermediates only; absent (or blank) is fine when the root
    /// lists the issuing CA.
    pub chain: Option<&'a [u8]>,
    /// The Rekor bundle annotation, decoded. Required: without a SET there is no
    /// authenticated signing time.
    pub rekor: Option<LegacyRekorEntry<'a>>,
}

/// The Rekor bundle cosign attaches (`{"SignedEntryTimestamp", "Payload": {"body",
/// "integratedTime", "logIndex", "logID"}}`), with the SET and the body decoded from
/// base64.
#[derive(Debug, Clone, Copy)]
pub struct LegacyRekorEntry<'a> {
    /// The SET: the log's signature over the canonical entry (DER).
    pub signed_entry_timestamp: &'a [u8],
    /// The logged entry (the canonicalized body, decoded JSON bytes).
    pub body: &'a [u8],
    /// `integratedTime`, unix seconds.
    pub integrated_time: i64,
    /// `logIndex`.
    pub log_index: i64,
    /// `logID`: hex SHA-256 of the log key's DER.
    pub log_id_hex: &'a str,
}

impl LegacyRekorEntry<'_> {
    /// The entry as a bundle `tlogEntries` item: kind and version as the body says, the
    /// SET as the inclusion promise, the body as `canonicalizedBody`. Errors name the
    /// Rekor bundle annotation.
    pub(crate) fn to_tlog_entry(self, location: &str) -> Result<serde_json::Value> {
        let bad = |detail: String| Error::Cosign {
            location: location.to_owned(),
            detail: format!("{REKOR_BUNDLE_ANNOTATION}: {detail}"),
        };
        let log_id = crate::encoding::decode_hex(self.log_id_hex)
            .filter(|b| b.len() == 32)
            .ok_or_else(|| bad("logID is not 64 hex digits".into()))?;
        if self.log_index < 0 {
            return Err(bad(format!("logIndex {} is negative", self.log_index)));
        }
        if self.body.len() > MAX_ANNOTATION_BYTES {
            return Err(bad(format!("body is {} bytes", self.body.len())));
        }
        let head: serde_json::Value =
            serde_json::from_slice(self.body).map_err(|e| bad(format!("body: {e}")))?;
        let field = |key: &str| {
            head.get(key)
                .and_then(|k| k.as_str())
                .ok_or_else(|| bad(format!("body has no {key}")))
        };
        let (kind, version) = (field("kind")?, field("apiVersion")?);
        Ok(serde_json::json!({
            "logIndex": self.log_index.to_string(),
            "logId": {"keyId": STANDARD.encode(log_id)},
            "kindVersion": {"kind": kind, "version": version},
            "integratedTime": self.integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(self.signed_entry_timestamp)},
            "canonicalizedBody": STANDARD.encode(self.body),
        }))
    }
}

/// Turns a keyless `.sig` signature into the v0.1 bundle it amounts to: a message
/// signature with the payload's SHA-256 as `messageDigest`, the certificate followed by
/// the chain's certificates as `x509CertificateChain`, and the Rekor entry (which must be
/// `hashedrekord` 0.0.1) with its SET. Refuses a signature without a SET.
pub fn legacy_to_bundle(sig: &LegacySignature<'_>, location: &str) -> Result<Bundle> {
    let bad = |detail: String| Error::Cosign {
        location: location.to_owned(),
        detail,
    };
    let Some(rekor) = sig.rekor.filter(|r| !r.signed_entry_timestamp.is_empty()) else {
        return Err(Error::claim(
            location,
            "Rekor SET",
            "a Rekor bundle with a signed entry timestamp (the only authenticated signing time of a keyless .sig signature)",
            None,
        ));
    };
    let leaf = certificates(sig.certificate, CERTIFICATE_ANNOTATION, location)?;
    let [leaf] = leaf.as_slice() else {
        return Err(bad(format!(
            "{CERTIFICATE_ANNOTATION}: {} certificates, expected exactly one",
            leaf.len()
        )));
    };
    let mut chain = vec![leaf.clone()];
    if let Some(pem) = sig.chain.filter(|c| !c.trim_ascii().is_empty()) {
        let certs = certificates(pem, CHAIN_ANNOTATION, location)?;
        if certs.len() > MAX_CHAIN_CERTIFICATES {
            return Err(bad(format!(
                "{CHAIN_ANNOTATION}: {} certificates, more than the {MAX_CHAIN_CERTIFICATES} allowed",
                certs.len()
            )));
        }
        // Offered as intermediates only: sigstore-verify's anchors are the root's CAs.
        chain.extend(certs.into_iter().filter(|c| c != leaf));
    }
    let entry = rekor.to_tlog_entry(location)?;
    let kind_version = &entry["kindVersion"];
    if kind_version["kind"] != "hashedrekord" || kind_version["version"] != "0.0.1" {
        return Err(bad(format!(
            "{REKOR_BUNDLE_ANNOTATION}: Rekor entry {}/{}, expected hashedrekord/0.0.1 for a .sig signature",
            kind_version["kind"].as_str().unwrap_or_default(),
            kind_version["version"].as_str().unwrap_or_default()
        )));
    }
    let digest = sigstore_verify::crypto::sha256(sig.payload);
    let doc = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": chain
                .iter()
                .map(|der| serde_json::json!({"rawBytes": STANDARD.encode(der)}))
                .collect::<Vec<_>>()},
            "tlogEntries": [entry],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest.as_bytes())},
            "signature": STANDARD.encode(sig.signature),
        },
    });
    Bundle::from_json(&doc.to_string()).map_err(|e| bad(format!("as a bundle: {e}")))
}

/// Verifies a cosign 2.x keyless `.sig` signature (see the module documentation for
/// every check) and that one of the identities in `signers` signed it. The payload's
/// claims are the caller's to check. `location` names the signature in errors.
///
/// Errors: a missing SET and a Rekor entry bound to another payload, signature or
/// certificate are [`Error::Claim`]s (`Rekor SET`, `Rekor entry payload hash`,
/// `Rekor entry signature`, `Rekor entry certificate`), as are an identity that does not
/// match and a certificate not valid at the integrated time (`certificate validity`); a
/// malformed certificate, chain or Rekor bundle is [`Error::Cosign`]; an untrusted
/// chain, a bad SCT, a bad SET or a bad signature is [`Error::Verification`] with
/// sigstore-verify's reason.
pub fn verify_legacy_keyless(
    root: &TrustRoot,
    sig: &LegacySignature<'_>,
    location: &str,
    signers: &[Signer],
) -> Result<BundleVerification> {
    let bundle = legacy_to_bundle(sig, location)?;
    verify_parsed_bundle(
        root,
        &bundle,
        location,
        Artifact::Bytes(sig.payload),
        signers,
        TlogRequirement::Required,
    )
    .map_err(|e| explain_binding(e, sig, &bundle, location))
}

/// Names the binding that failed when sigstore-verify refused the Rekor entry as not
/// describing this signature (the refusal stands; only its explanation is added).
fn explain_binding(
    error: Error,
    sig: &LegacySignature<'_>,
    bundle: &Bundle,
    location: &str,
) -> Error {
    let relevant = matches!(
        &error,
        Error::Verification {
            source: sigstore_verify::Error::ArtifactMismatch(_)
                | sigstore_verify::Error::TransparencyLog(TransparencyLogError::EntryMismatch(_)),
            ..
        }
    );
    let body = sig
        .rekor
        .and_then(|r| serde_json::from_slice::<serde_json::Value>(r.body).ok());
    let (true, Some(body), Some(leaf)) = (relevant, body, bundle.signing_certificate()) else {
        return error;
    };
    let spec = &body["spec"];
    let payload_hash = hex::encode(sigstore_verify::crypto::sha256(sig.payload).as_bytes());
    let logged_hash = spec["data"]["hash"]["value"].as_str().unwrap_or_default();
    if logged_hash != payload_hash {
        return Error::claim(
            location,
            "Rekor entry payload hash",
            format!("sha256:{payload_hash}"),
            Some(&format!(
                "{}:{logged_hash}",
                spec["data"]["hash"]["algorithm"]
                    .as_str()
                    .unwrap_or_default()
            )),
        );
    }
    let logged_cert = spec["signature"]["publicKey"]["content"]
        .as_str()
        .and_then(|b64| STANDARD.decode(b64).ok())
        .and_then(|pem| certificates(&pem, "", location).ok());
    let fingerprint = |der: &[u8]| {
        format!(
            "certificate sha256:{}",
            hex::encode(sigstore_verify::crypto::sha256(der).as_bytes())
        )
    };
    let found = match logged_cert.as_deref() {
        Some([one]) if one.as_slice() == leaf.as_bytes() => None,
        Some([one]) => Some(fingerprint(one)),
        _ => Some("no readable certificate".to_owned()),
    };
    if let Some(found) = found {
        return Error::claim(
            location,
            "Rekor entry certificate",
            fingerprint(leaf.as_bytes()),
            Some(&found),
        );
    }
    let logged_sig = spec["signature"]["content"].as_str().unwrap_or_default();
    let sig_b64 = STANDARD.encode(sig.signature);
    if logged_sig != sig_b64 {
        return Error::claim(location, "Rekor entry signature", sig_b64, Some(logged_sig));
    }
    error
}

/// The certificates (DER) of `bytes`: PEM `CERTIFICATE` blocks and nothing else, or one
/// DER certificate. Each must parse as an X.509 certificate.
fn certificates(bytes: &[u8], what: &str, location: &str) -> Result<Vec<Vec<u8>>> {
    let bad = |detail: String| Error::Cosign {
        location: location.to_owned(),
        detail: format!("{what}: {detail}"),
    };
    if bytes.len() > MAX_ANNOTATION_BYTES {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_ANNOTATION_BYTES} allowed",
            bytes.len()
        )));
    }
    let ders = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(bytes).map_err(|_| bad("PEM is not UTF-8".into()))?;
        pem_certificates(text).map_err(bad)?
    } else {
        vec![bytes.to_vec()]
    };
    if ders.is_empty() {
        return Err(bad("no certificate".into()));
    }
    for der in &ders {
        sigstore_verify::crypto::parse_certificate_info(&DerCertificate::new(der.clone()))
            .map_err(|e| bad(format!("not a usable certificate: {e}")))?;
    }
    Ok(ders)
}

/// Strict PEM: `CERTIFICATE` blocks separated by whitespace only, each one's DER.
pub fn pem_certificates(text: &str) -> std::result::Result<Vec<Vec<u8>>, String> {
    crate::encoding::pem_blocks(text)?
        .into_iter()
        .map(|(label, der)| match label.as_str() {
            "CERTIFICATE" => Ok(der),
            _ => Err("PEM holds something other than CERTIFICATE blocks".to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_is_read_strictly() {
        let block =
            |b64: &str| format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        let two = format!("{}\n{}", block("AAEC"), block("AwQ="));
        assert_eq!(
            pem_certificates(&two).unwrap(),
            vec![vec![0, 1, 2], vec![3, 4]]
        );
        assert!(pem_certificates(&format!("{two}junk")).is_err());
        assert!(
            pem_certificates("-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----").is_err()
        );
        assert!(pem_certificates("-----BEGIN CERTIFICATE-----\nAAEC\n").is_err());
        assert!(pem_certificates(&block("%%%")).is_err());
    }

    #[test]
    fn a_signature_without_a_set_is_refused_before_anything_else() {
        let sig = LegacySignature {
            payload: b"{}",
            signature: b"sig",
            certificate: b"not even a certificate",
            chain: None,
            rekor: None,
        };
        let e = legacy_to_bundle(&sig, "l").unwrap_err();
        assert_eq!(e.failed_claim(), Some("Rekor SET"), "{e}");
        let empty = LegacyRekorEntry {
            signed_entry_timestamp: b"",
            ..entry(b"{}", "00", 1)
        };
        let e = legacy_to_bundle(
            &LegacySignature {
                rekor: Some(empty),
                ..sig
            },
            "l",
        )
        .unwrap_err();
        assert_eq!(e.failed_claim(), Some("Rekor SET"), "{e}");
    }

    fn entry<'a>(body: &'a [u8], log_id_hex: &'a str, log_index: i64) -> LegacyRekorEntry<'a> {
        LegacyRekorEntry {
            signed_entry_timestamp: b"set",
            body,
            integrated_time: 1,
            log_index,
            log_id_hex,
        }
    }

    #[test]
    fn malformed_rekor_bundles_name_the_annotation() {
        let id = "00".repeat(32);
        let body: &[u8] = br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#;
        let ok = entry(body, &id, 0).to_tlog_entry("l").unwrap();
        assert_eq!(ok["kindVersion"]["kind"], "hashedrekord");
        assert_eq!(ok["canonicalizedBody"], STANDARD.encode(body));
        for (e, want) in [
            (entry(body, "zz", 0), "logID"),
            (entry(body, &id, -1), "negative"),
            (entry(b"nope", &id, 0), "body"),
            (entry(br#"{"kind":"hashedrekord"}"#, &id, 0), "apiVersion"),
        ] {
            let err = e.to_tlog_entry("l").unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, Error::Cosign { .. }), "{text}");
            assert!(
                text.contains(REKOR_BUNDLE_ANNOTATION) && text.contains(want),
                "{text}"
            );
        }
    }
}
