//! Cosign legacy image signatures, read from a `.sig` manifest or from the output of
//! `cosign download signature`, and written back in that output's shape (which is also
//! Dangerzone's signature store format, FORMATS.md 5.2 and 5.12).
//!
//! Reading is per entry: anyone can append a layer to a `.sig` manifest, so one malformed
//! entry yields one `Err` in the list, never an unusable list.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latch_oci::{Descriptor, Digest, ImageManifest, media_types};
use serde_json::Value;

use crate::payload::{MAX_PAYLOAD_BYTES, clip};
use crate::rekor::{BundleError, RekorBundle, push_json_str};

/// Bound on signatures in one manifest or document (cosign's bound too).
pub const MAX_SIGNATURES: usize = 100;
/// Bound on a `cosign download signature` document (4 MiB, the bound on any JSON
/// document Latch reads from outside).
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// Layer annotation holding the base64 signature.
pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation holding the Rekor bundle JSON.
pub const ANNOTATION_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// Layer annotation holding the PEM signing certificate (keyless).
pub const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation holding the PEM certificate chain (keyless).
pub const ANNOTATION_CHAIN: &str = "dev.sigstore.cosign/chain";
/// Layer annotation holding an RFC 3161 timestamp JSON.
pub const ANNOTATION_RFC3161_TIMESTAMP: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// Why a whole document or manifest cannot be read as a list of signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Over [`MAX_DOCUMENT_BYTES`].
    #[error("signature document is {size} bytes, over the bound of {max}")]
    TooLarge {
        /// Size seen.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// The JSON list itself is malformed (truncated, not JSON…).
    #[error("signature document is not a valid JSON list: {reason}")]
    NotJson {
        /// The parser's message.
        reason: String,
    },
    /// Neither a JSON list nor JSON objects, one per line.
    #[error(
        "signature document is neither a JSON list nor one JSON object per line (cosign download signature output)"
    )]
    NotSignatures,
    /// More than [`MAX_SIGNATURES`] entries.
    #[error("{count} signatures, over the bound of {max}")]
    TooManySignatures {
        /// Count seen.
        count: usize,
        /// The bound.
        max: usize,
    },
}

/// Why one entry (a list element, a line, or a manifest layer) is not a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureParseError {
    /// A line that is not JSON.
    #[error("entry is not JSON: {reason}")]
    NotJson {
        /// The parser's message.
        reason: String,
    },
    /// A list element or line that is not a JSON object.
    #[error("entry is not a JSON object")]
    NotAnObject,
    /// A member missing or of the wrong JSON type.
    #[error("field {field} is missing or not {expected}")]
    Field {
        /// The member (`Base64Signature`, `Payload`…).
        field: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A base64 field (or annotation) that does not decode.
    #[error("field {field} is not valid base64: {reason}")]
    BadBase64 {
        /// The member or annotation key.
        field: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// A payload over [`MAX_PAYLOAD_BYTES`].
    #[error("payload is about {size} bytes, over the bound of {max}")]
    PayloadTooLarge {
        /// Size (estimated from the base64 length where not decoded).
        size: usize,
        /// The bound.
        max: usize,
    },
    /// The bundle member or annotation is malformed.
    #[error("{0}")]
    Bundle(#[from] BundleError),
    /// A layer whose media type is not the simple-signing type.
    #[error("layer media type is {found:?}, expected {expected:?}")]
    WrongMediaType {
        /// The layer's media type.
        found: String,
        /// The simple-signing type.
        expected: &'static str,
    },
    /// No blob was supplied for a layer.
    #[error("no blob supplied for layer {digest}")]
    MissingBlob {
        /// The layer's digest.
        digest: Digest,
    },
    /// The layer's blob could not be fetched: absent, larger than a payload may be, or not
    /// what its descriptor says (another size or digest).
    #[error("the payload blob {digest} could not be used: {reason}")]
    BlobUnavailable {
        /// The layer's digest.
        digest: Digest,
        /// What was wrong with it.
        reason: String,
    },
    /// The blob's bytes do not hash to the layer's digest.
    #[error("blob bytes do not hash to the layer digest {expected}")]
    BlobDigestMismatch {
        /// The layer's digest.
        expected: Digest,
    },
    /// The blob's size is not the layer's size.
    #[error("blob is {actual} bytes, the layer says {expected}")]
    BlobSizeMismatch {
        /// Size in the descriptor.
        expected: u64,
        /// Size of the bytes.
        actual: u64,
    },
    /// A layer without the signature annotation.
    #[error("layer has no {key} annotation")]
    MissingAnnotation {
        /// The annotation key.
        key: &'static str,
    },
    /// An annotation whose value is malformed.
    #[error("layer annotation {key} is malformed: {reason}")]
    BadAnnotation {
        /// The annotation key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

/// One entry of a signature list: a signature, or why that entry is not one.
pub type Candidate = Result<Signature, SignatureParseError>;

/// A cosign legacy signature: the payload bytes, the signature over them, and what cosign
/// attaches (a Rekor bundle; a certificate and chain for keyless signing, kept but not
/// verified; an RFC 3161 timestamp, kept but not verified).
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    payload: Vec<u8>,
    signature: Vec<u8>,
    bundle: Option<RekorBundle>,
    cert: Option<Value>,
    chain: Option<Value>,
    rfc3161_timestamp: Option<Value>,
}

impl Signature {
    /// A signature over `payload` (bounded by [`MAX_PAYLOAD_BYTES`]).
    pub fn new(payload: Vec<u8>, signature: Vec<u8>) -> Result<Signature, SignatureParseError> {
        check_payload_size(payload.len())?;
        Ok(Signature {
            payload,
            signature,
            bundle: None,
            cert: None,
            chain: None,
            rfc3161_timestamp: None,
        })
    }

    /// The same signature with a Rekor bundle.
    pub fn with_bundle(mut self, bundle: RekorBundle) -> Signature {
        self.bundle = Some(bundle);
        self
    }

    /// Reads one `cosign download signature` object.
    pub fn from_cosign_json(bytes: &[u8]) -> Candidate {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| SignatureParseError::NotJson {
                reason: e.to_string(),
            })?;
        Signature::from_cosign_value(&value)
    }

    fn from_cosign_value(value: &Value) -> Candidate {
        if !value.is_object() {
            return Err(SignatureParseError::NotAnObject);
        }
        let text = |key: &'static str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .ok_or(SignatureParseError::Field {
                    field: key,
                    expected: "a string",
                })
        };
        let signature = decode_b64(text("Base64Signature")?, "Base64Signature")?;
        let payload_b64 = text("Payload")?;
        check_payload_size(payload_b64.len() / 4 * 3)?;
        let payload = decode_b64(payload_b64, "Payload")?;
        check_payload_size(payload.len())?;
        let present = |key: &str| value.get(key).filter(|v| !v.is_null()).cloned();
        let bundle = match value.get("Bundle") {
            None | Some(Value::Null) => None,
            Some(b) => Some(RekorBundle::from_value(b)?),
        };
        Ok(Signature {
            payload,
            signature,
            bundle,
            cert: present("Cert"),
            chain: present("Chain"),
            rfc3161_timestamp: present("RFC3161Timestamp"),
        })
    }

    /// Reads one layer of a `.sig` manifest: the payload is `blob`, everything else comes
    /// from the layer's annotations. The blob's size and digest are checked against the
    /// descriptor.
    pub fn from_layer(layer: &Descriptor, blob: &[u8]) -> Candidate {
        if layer.media_type != media_types::COSIGN_SIMPLE_SIGNING {
            return Err(SignatureParseError::WrongMediaType {
                found: clip(&layer.media_type),
                expected: media_types::COSIGN_SIMPLE_SIGNING,
            });
        }
        check_payload_size(blob.len())?;
        if layer.size != blob.len() as u64 {
            return Err(SignatureParseError::BlobSizeMismatch {
                expected: layer.size,
                actual: blob.len() as u64,
            });
        }
        if !layer.digest.matches(blob) {
            return Err(SignatureParseError::BlobDigestMismatch {
                expected: layer.digest.clone(),
            });
        }
        let b64 = layer.annotation(ANNOTATION_SIGNATURE).ok_or(
            SignatureParseError::MissingAnnotation {
                key: ANNOTATION_SIGNATURE,
            },
        )?;
        let signature = decode_b64(b64, ANNOTATION_SIGNATURE)?;
        let bundle = layer
            .annotation(ANNOTATION_BUNDLE)
            .map(|b| RekorBundle::from_json(b.as_bytes()))
            .transpose()?;
        let text = |key: &str| layer.annotation(key).map(|s| Value::String(s.to_owned()));
        let rfc3161_timestamp = layer
            .annotation(ANNOTATION_RFC3161_TIMESTAMP)
            .map(|t| {
                serde_json::from_str::<Value>(t).map_err(|e| SignatureParseError::BadAnnotation {
                    key: ANNOTATION_RFC3161_TIMESTAMP,
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        Ok(Signature {
            payload: blob.to_vec(),
            signature,
            bundle,
            cert: text(ANNOTATION_CERTIFICATE),
            chain: text(ANNOTATION_CHAIN),
            rfc3161_timestamp,
        })
    }

    /// The layer cosign would push for this signature: the descriptor (simple-signing
    /// media type, annotations) and the blob (the payload).
    pub fn to_layer(&self) -> (Descriptor, Vec<u8>) {
        let mut d = Descriptor::for_bytes(media_types::COSIGN_SIMPLE_SIGNING, &self.payload);
        d.set_annotation(ANNOTATION_SIGNATURE, &self.signature_base64());
        if let Some(b) = &self.bundle {
            d.set_annotation(ANNOTATION_BUNDLE, &b.to_json());
        }
        if let Some(Value::String(c)) = &self.cert {
            d.set_annotation(ANNOTATION_CERTIFICATE, c);
        }
        if let Some(Value::String(c)) = &self.chain {
            d.set_annotation(ANNOTATION_CHAIN, c);
        }
        if let Some(t) = &self.rfc3161_timestamp {
            d.set_annotation(ANNOTATION_RFC3161_TIMESTAMP, &t.to_string());
        }
        (d, self.payload.clone())
    }

    /// One `cosign download signature` object, as cosign prints it: the six members
    /// `Base64Signature`, `Payload`, `Cert`, `Chain`, `Bundle`, `RFC3161Timestamp` always
    /// present (`null` when empty), in that order, no whitespace.
    pub fn to_cosign_json(&self) -> String {
        let mut out = String::with_capacity(self.payload.len() * 4 / 3 + 2048);
        self.write_cosign_json(&mut out);
        out
    }

    fn write_cosign_json(&self, out: &mut String) {
        let value_or_null = |out: &mut String, v: &Option<Value>| match v {
            Some(v) => out.push_str(&v.to_string()),
            None => out.push_str("null"),
        };
        out.push_str("{\"Base64Signature\":");
        push_json_str(out, &self.signature_base64());
        out.push_str(",\"Payload\":");
        push_json_str(out, &STANDARD.encode(&self.payload));
        out.push_str(",\"Cert\":");
        value_or_null(out, &self.cert);
        out.push_str(",\"Chain\":");
        value_or_null(out, &self.chain);
        out.push_str(",\"Bundle\":");
        match &self.bundle {
            Some(b) => b.write_json(out),
            None => out.push_str("null"),
        }
        out.push_str(",\"RFC3161Timestamp\":");
        value_or_null(out, &self.rfc3161_timestamp);
        out.push('}');
    }

    /// The payload bytes, exactly as signed.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The signature in base64, as in the annotation.
    pub fn signature_base64(&self) -> String {
        STANDARD.encode(&self.signature)
    }

    /// The Rekor bundle, if any.
    pub fn bundle(&self) -> Option<&RekorBundle> {
        self.bundle.as_ref()
    }

    /// The certificate as delivered (a PEM string from an annotation; whatever JSON
    /// `cosign download` printed), if any. Not verified here: see
    /// [`Signature::certificate`] for its bytes (`latch-sigstore` verifies keyless
    /// signatures).
    pub fn cert(&self) -> Option<&Value> {
        self.cert.as_ref()
    }

    /// The certificate chain as delivered, if any. Not verified here.
    pub fn chain(&self) -> Option<&Value> {
        self.chain.as_ref()
    }

    /// Whether the signature carries a signing certificate (keyless signing): a
    /// non-empty `Cert` of any form. A keyless signature is verified against a
    /// certificate authority and an identity, never against the trusted keys.
    pub fn is_keyless(&self) -> bool {
        self.cert.as_ref().is_some_and(|v| match v {
            Value::String(s) => !s.trim().is_empty(),
            Value::Null => false,
            _ => true,
        })
    }

    /// The signing certificate's bytes, in the form it was stored: PEM text (the
    /// `.sig` annotation, Latch's store), or DER (`cosign download signature` prints
    /// `Cert` as Go's `x509.Certificate` marshalled to JSON; its `Raw` member is the DER
    /// in base64). `None` when there is none, or when `Cert` is of neither form
    /// ([`Signature::is_keyless`] still tells that one was attached).
    pub fn certificate(&self) -> Option<Vec<u8>> {
        self.cert.as_ref().and_then(certificate_bytes)
    }

    /// The chain's certificates as PEM text: the annotation's PEM as stored, or, for
    /// `cosign download signature`'s `Chain` (a JSON list of Go `x509.Certificate`
    /// objects), each `Raw` DER as a `CERTIFICATE` block. `None` when there is none or a
    /// certificate of the list is unreadable.
    pub fn certificate_chain(&self) -> Option<Vec<u8>> {
        match self.chain.as_ref()? {
            Value::String(s) if !s.trim().is_empty() => Some(s.as_bytes().to_vec()),
            Value::Array(items) if !items.is_empty() => {
                let mut pem = String::new();
                for item in items {
                    match certificate_bytes(item)? {
                        der if item.is_object() => push_pem_certificate(&mut pem, &der),
                        text => pem.push_str(std::str::from_utf8(&text).ok()?),
                    }
                }
                Some(pem.into_bytes())
            }
            _ => None,
        }
    }

    /// The RFC 3161 timestamp as delivered, if any. Not verified.
    pub fn rfc3161_timestamp(&self) -> Option<&Value> {
        self.rfc3161_timestamp.as_ref()
    }
}

/// Reads `cosign download signature` output: a JSON list of objects, or one object per
/// line (blank lines skipped). A malformed *entry* (element or line) becomes an `Err` in
/// the list; only a malformed *list*, a document in which no line is JSON, or one over
/// the bounds fails the whole document.
pub fn parse_cosign_download(input: &[u8]) -> Result<Vec<Candidate>, DocumentError> {
    if input.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge {
            size: input.len(),
            max: MAX_DOCUMENT_BYTES,
        });
    }
    let trimmed = input.trim_ascii();
    match trimmed.first() {
        None => Ok(Vec::new()),
        Some(b'[') => {
            let items: Vec<Value> =
                serde_json::from_slice(trimmed).map_err(|e| DocumentError::NotJson {
                    reason: e.to_string(),
                })?;
            check_count(items.len())?;
            Ok(items.iter().map(Signature::from_cosign_value).collect())
        }
        Some(_) => {
            if let Ok(one) = serde_json::from_slice::<Value>(trimmed) {
                // One object, possibly pretty-printed over several lines.
                return Ok(vec![Signature::from_cosign_value(&one)]);
            }
            let lines: Vec<&[u8]> = trimmed
                .split(|&b| b == b'\n')
                .map(<[u8]>::trim_ascii)
                .filter(|l| !l.is_empty())
                .collect();
            check_count(lines.len())?;
            let entries: Vec<Candidate> =
                lines.into_iter().map(Signature::from_cosign_json).collect();
            let none_is_json = entries
                .iter()
                .all(|e| matches!(e, Err(SignatureParseError::NotJson { .. })));
            if none_is_json {
                return Err(DocumentError::NotSignatures);
            }
            Ok(entries)
        }
    }
}

/// Writes signatures as a JSON list of `cosign download signature` objects (each with all
/// six members): the content of a Dangerzone store file.
pub fn to_cosign_download_list(signatures: &[Signature]) -> String {
    let mut out = String::from("[");
    for (i, s) in signatures.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        s.write_cosign_json(&mut out);
    }
    out.push(']');
    out
}

/// Reads the signatures of a `.sig` manifest: one per layer, the payload being the layer's
/// blob, looked up by digest in `blobs` (which the caller fetched; its digests are
/// checked again here). A layer that is not a signature becomes an `Err` entry.
pub fn signatures_from_manifest(
    manifest: &ImageManifest,
    blobs: &[(Descriptor, Vec<u8>)],
) -> Result<Vec<Candidate>, DocumentError> {
    check_count(manifest.layers.len())?;
    Ok(manifest
        .layers
        .iter()
        .map(|layer| {
            let blob = blobs
                .iter()
                .find(|(d, _)| d.digest == layer.digest)
                .ok_or_else(|| SignatureParseError::MissingBlob {
                    digest: layer.digest.clone(),
                })?;
            Signature::from_layer(layer, &blob.1)
        })
        .collect())
}

fn check_count(count: usize) -> Result<(), DocumentError> {
    if count > MAX_SIGNATURES {
        return Err(DocumentError::TooManySignatures {
            count,
            max: MAX_SIGNATURES,
        });
    }
    Ok(())
}

fn check_payload_size(size: usize) -> Result<(), SignatureParseError> {
    if size > MAX_PAYLOAD_BYTES {
        return Err(SignatureParseError::PayloadTooLarge {
            size,
            max: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(())
}

/// A certificate's bytes from its stored JSON form: a PEM string, or an object whose
/// `Raw` member is the base64 DER (Go's `x509.Certificate` as JSON).
fn certificate_bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.as_bytes().to_vec()),
        Value::Object(o) => o
            .get("Raw")
            .and_then(Value::as_str)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|der| !der.is_empty()),
        _ => None,
    }
}

fn push_pem_certificate(out: &mut String, der: &[u8]) {
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    let b64 = STANDARD.encode(der);
    for line in b64.as_bytes().chunks(64) {
        // Base64 is ASCII, so every chunk is UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
}

fn decode_b64(text: &str, field: &'static str) -> Result<Vec<u8>, SignatureParseError> {
    STANDARD
        .decode(text)
        .map_err(|e| SignatureParseError::BadBase64 {
            field,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";

    fn with(cert: Option<Value>, chain: Option<Value>) -> Signature {
        let mut s = Signature::new(b"{}".to_vec(), b"sig".to_vec()).unwrap();
        s.cert = cert;
        s.chain = chain;
        s
    }

    #[test]
    fn a_key_signature_has_no_certificate() {
        let s = with(None, None);
        assert!(!s.is_keyless());
        assert_eq!(s.certificate(), None);
        assert_eq!(s.certificate_chain(), None);
        // Null and blank are absent too.
        let s = with(Some(Value::Null), Some(Value::String(" \n".into())));
        assert!(!s.is_keyless());
        assert_eq!(s.certificate(), None);
        assert_eq!(s.certificate_chain(), None);
    }

    #[test]
    fn pem_annotations_are_returned_as_stored() {
        let s = with(
            Some(Value::String(PEM.into())),
            Some(Value::String(format!("{PEM}{PEM}"))),
        );
        assert!(s.is_keyless());
        assert_eq!(s.certificate().unwrap(), PEM.as_bytes());
        assert_eq!(
            s.certificate_chain().unwrap(),
            format!("{PEM}{PEM}").into_bytes()
        );
    }

    #[test]
    fn cosign_download_objects_give_their_raw_der() {
        // What `cosign download signature` prints: Go's x509.Certificate as JSON.
        let line = r#"{"Base64Signature":"c2ln","Payload":"e30=","Cert":{"Raw":"AAEC","RawTBSCertificate":"AA==","Version":3,"NotBefore":"2025-02-05T10:42:33Z"},"Chain":[{"Raw":"AwQ="},{"Raw":"BQY="}],"Bundle":null,"RFC3161Timestamp":null}"#;
        let s = Signature::from_cosign_json(line.as_bytes()).unwrap();
        assert!(s.is_keyless());
        assert_eq!(s.certificate().unwrap(), vec![0, 1, 2]);
        let chain = String::from_utf8(s.certificate_chain().unwrap()).unwrap();
        assert_eq!(
            chain,
            "-----BEGIN CERTIFICATE-----\nAwQ=\n-----END CERTIFICATE-----\n\
             -----BEGIN CERTIFICATE-----\nBQY=\n-----END CERTIFICATE-----\n"
        );
        // Written back and read again, the same bytes.
        let again = Signature::from_cosign_json(s.to_cosign_json().as_bytes()).unwrap();
        assert_eq!(again.certificate(), s.certificate());
    }

    #[test]
    fn long_der_is_wrapped_at_64_columns() {
        let der = vec![7u8; 100];
        let s = with(
            None,
            Some(serde_json::json!([{"Raw": STANDARD.encode(&der)}])),
        );
        let chain = String::from_utf8(s.certificate_chain().unwrap()).unwrap();
        let lines: Vec<&str> = chain.lines().collect();
        assert_eq!(lines.len(), 5, "{chain}");
        assert_eq!(lines[1].len(), 64);
        let b64: String = lines[1..4].concat();
        assert_eq!(STANDARD.decode(b64).unwrap(), der);
    }

    #[test]
    fn unreadable_certificates_are_none_but_still_keyless() {
        let s = with(
            Some(serde_json::json!({"Raw": "%%%"})),
            Some(serde_json::json!([{"Raw": "AAEC"}, {"NoRaw": 1}])),
        );
        assert!(s.is_keyless());
        assert_eq!(s.certificate(), None);
        assert_eq!(s.certificate_chain(), None);
        let s = with(Some(serde_json::json!(42)), Some(serde_json::json!({})));
        assert!(s.is_keyless());
        assert_eq!(s.certificate(), None);
        assert_eq!(s.certificate_chain(), None);
    }
}
