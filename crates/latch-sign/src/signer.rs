//! What signs: anything that holds a private key and can sign bytes with it.
//!
//! The flows take a `&dyn Signer`, so a key in a file ([`crate::PrivateKey`]), a PKCS#11
//! token or a YubiKey are interchangeable: a hardware signer implements these two methods
//! and no flow changes.

use latch_trust::PublicKey;

/// Why a signer could not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The crypto library refused to sign.
    #[error("the crypto library failed to sign with the {algorithm} key")]
    Crypto {
        /// The key's algorithm.
        algorithm: String,
    },
    /// A signing device (PKCS#11 token, YubiKey…) failed.
    #[error("signing device {device}: {reason}")]
    Device {
        /// Which device or slot.
        device: String,
        /// What it said (never a PIN).
        reason: String,
    },
}

/// Signs cosign payloads. The signature must verify with [`Signer::public_key`] under the
/// key's scheme: ECDSA (ASN.1 DER) over SHA-256 of the message for P-256, SHA-384 for
/// P-384, or Ed25519 over the message. Flows check every signature with the public key
/// before publishing it.
pub trait Signer: Send + Sync {
    /// The public key that verifies this signer's signatures.
    fn public_key(&self) -> &PublicKey;

    /// Signs `message` (the exact payload bytes; the scheme hashes them).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError>;

    /// A short description for reports (never secret).
    fn describe(&self) -> String {
        format!("key {}", self.public_key().log_id())
    }
}
