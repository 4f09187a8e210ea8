//! The DSSE envelope a trust document travels in: the document's exact bytes, and the
//! signatures over their pre-authentication encoding (PAE), so that a signature over a
//! trust document can never be taken for a signature over anything else.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::{ChainError, Problem};

/// The envelope's `payloadType`.
pub const PAYLOAD_TYPE: &str = "application/vnd.latch.trust.v1+json";

/// Largest envelope read (bytes).
pub const MAX_ENVELOPE: usize = 256 * 1024;

/// Most signatures one envelope may carry.
pub const MAX_SIGNATURES: usize = 32;

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Always [`PAYLOAD_TYPE`].
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The document's bytes, base64.
    pub payload: String,
    /// The signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// The signing key's log id (hex SHA-256 of its DER public key): a hint only; every
    /// signature is checked against every key it could be from.
    #[serde(default)]
    pub keyid: String,
    /// The signature, base64.
    pub sig: String,
}

/// DSSE's pre-authentication encoding of `payload`: what each key signs.
pub fn signing_message(payload: &[u8]) -> Vec<u8> {
    latch_trust::dsse::pae(PAYLOAD_TYPE, payload)
}

/// An envelope read and decoded: the payload's bytes and the signatures' bytes.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub payload: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
}

impl Envelope {
    /// An envelope around `payload` with no signature yet.
    pub fn new(payload: &[u8]) -> Envelope {
        Envelope {
            payload_type: PAYLOAD_TYPE.to_owned(),
            payload: STANDARD.encode(payload),
            signatures: Vec::new(),
        }
    }

    /// Adds a signature (made over [`signing_message`] of the payload).
    pub fn add_signature(&mut self, keyid: &str, signature: &[u8]) {
        self.signatures.push(EnvelopeSignature {
            keyid: keyid.to_owned(),
            sig: STANDARD.encode(signature),
        });
    }

    /// The envelope's JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an envelope (bounded), checks its type, decodes payload and signatures.
    pub(crate) fn open(bytes: &[u8]) -> Result<Opened, ChainError> {
        let bad = |problem| ChainError::Malformed {
            version: None,
            problem,
        };
        if bytes.len() > MAX_ENVELOPE {
            return Err(bad(Problem::TooLarge {
                size: bytes.len(),
                max: MAX_ENVELOPE,
            }));
        }
        let e: Envelope =
            serde_json::from_slice(bytes).map_err(|e| bad(Problem::Json(e.to_string())))?;
        if e.payload_type != PAYLOAD_TYPE {
            return Err(bad(Problem::Type(e.payload_type)));
        }
        if e.signatures.len() > MAX_SIGNATURES {
            return Err(bad(Problem::TooManySignatures {
                count: e.signatures.len(),
            }));
        }
        let payload = STANDARD
            .decode(&e.payload)
            .map_err(|_| bad(Problem::Base64("payload")))?;
        let signatures = e
            .signatures
            .iter()
            .map(|s| STANDARD.decode(&s.sig))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad(Problem::Base64("sig")))?;
        Ok(Opened {
            payload,
            signatures,
        })
    }
}
