//! Keys on PKCS#11 tokens (SoftHSM, YubiKeys through ykcs11 or OpenSC, smart cards, HSMs),
//! named by an RFC 7512 `pkcs11:` URI as cosign takes them, signing through the same
//! [`Signer`] trait as a key file.
//!
//! - [`uri`]: the URI, parsed by hand (pure, tested): which module, token and object.
//! - [`Pkcs11Signer::open`]: loads the module (`module-path`), finds the one token the
//!   URI matches, logs in with the PIN ([`Pin`]: `LATCH_PIN`, `COSIGN_PIN`, else the
//!   terminal; one attempt, never retried, so a wrong PIN cannot lock the token), finds the
//!   one private key, and reads its public key from the token (`CKA_EC_POINT` of the public
//!   key object with the same `CKA_ID`, else the certificate with it).
//! - Signing: SHA-256 (P-256) or SHA-384 (P-384) of the payload is computed here and
//!   signed on the token with `CKM_ECDSA`; the raw `r || s` becomes the ASN.1 DER
//!   signature cosign and Latch verify ([`ec`]). The private key never leaves the token.
//! - [`public_key`]: the public key alone (for `promote --key pkcs11:…` and exporting
//!   it), without a PIN unless the token keeps its public objects private.
//!
//! A module is loaded and initialised once per process and stays so until the process
//! ends: PKCS#11 allows one `C_Initialize` per process, and two signers on one module
//! share it. cryptoki (Parsec's bindings) makes the calls; this crate has no `unsafe`.

pub mod ec;
pub mod pin;
mod token;
pub mod uri;

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use latch_trust::PublicKey;

use crate::signer::{Signer, SignerError};
pub use ec::Curve;
pub use pin::{ENV_COSIGN_PIN, ENV_LATCH_PIN, Pin, PinError};
pub use uri::{ObjectType, Pkcs11Uri, UriError, is_pkcs11_uri};

/// A token a module showed (for messages: which tokens there are, when none or several
/// match).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenSeen {
    /// The slot's ID (`slot-id=`).
    pub slot_id: u64,
    /// The token label (`token=`).
    pub label: String,
    /// The token's manufacturer ID (`manufacturer=`).
    pub manufacturer: String,
    /// Its model (`model=`).
    pub model: String,
    /// Its serial number (`serial=`).
    pub serial: String,
}

impl fmt::Display for TokenSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token={:?} (slot-id={}, serial={:?}, {} {})",
            self.label, self.slot_id, self.serial, self.manufacturer, self.model
        )
    }
}

fn list(tokens: &[TokenSeen]) -> String {
    if tokens.is_empty() {
        return "none".to_owned();
    }
    tokens
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn pin_state(final_try: bool, locked: bool) -> &'static str {
    if locked {
        "; the PIN is now locked"
    } else if final_try {
        "; one try is left before the PIN locks"
    } else {
        ""
    }
}

/// Why a token key cannot be used. No variant carries a PIN.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The URI is malformed or asks for something not supported.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// The URI has no `module-path`.
    #[error(
        "the PKCS#11 URI names no module: add ?module-path=/path/to/module.so (SoftHSM: /usr/lib/softhsm/libsofthsm2.so; YubiKey: /usr/lib/x86_64-linux-gnu/libykcs11.so)"
    )]
    NoModulePath,
    /// The module cannot be loaded (no such file, not a shared library, not PKCS#11) or
    /// initialised.
    #[error("cannot load the PKCS#11 module {}: {reason}", path.display())]
    ModuleNotLoadable {
        /// The `module-path`.
        path: PathBuf,
        /// What the loader or `C_Initialize` said.
        reason: String,
    },
    /// A call to the module failed before a token was chosen.
    #[error("PKCS#11 module {}: {call} failed: {code}", path.display())]
    Module {
        /// The `module-path`.
        path: PathBuf,
        /// The function (`C_GetSlotList`…).
        call: &'static str,
        /// The return value (`CKR_…`).
        code: String,
    },
    /// No initialised token matches the URI's token attributes.
    #[error("no PKCS#11 token matches {wanted} in {}; tokens seen: {}", path.display(), list(seen))]
    TokenNotFound {
        /// The module.
        path: PathBuf,
        /// The token attributes of the URI (`token=…;serial=…`).
        wanted: String,
        /// Every initialised token the module showed.
        seen: Vec<TokenSeen>,
    },
    /// Several tokens match.
    #[error(
        "{} PKCS#11 tokens match {wanted}: {}; add token=, serial= or slot-id= to the URI to choose one",
        matching.len(),
        list(matching)
    )]
    AmbiguousToken {
        /// The token attributes of the URI.
        wanted: String,
        /// The tokens that match.
        matching: Vec<TokenSeen>,
    },
    /// The URI's `type` is not a private key, and signing needs one.
    #[error("the PKCS#11 URI says type={}; signing needs a private key (type=private, or no type)", found.as_str())]
    NotAPrivateKey {
        /// The `type` given.
        found: ObjectType,
    },
    /// No object matches the URI's object attributes.
    #[error("token {token:?}: no {class} matches {wanted}")]
    ObjectNotFound {
        /// The token label.
        token: String,
        /// What was looked for (`private key`, `key or certificate`).
        class: &'static str,
        /// The object attributes of the URI (`object=…;id=…`).
        wanted: String,
    },
    /// Several objects match.
    #[error(
        "token {token:?}: {count} objects of class {class} match {wanted}; add object= or id= to the URI to choose one"
    )]
    AmbiguousObject {
        /// The token label.
        token: String,
        /// Their class.
        class: &'static str,
        /// The object attributes of the URI.
        wanted: String,
        /// How many match.
        count: usize,
    },
    /// The private key was found, but no public key object or certificate with its
    /// `CKA_ID` to read the public key from.
    #[error(
        "token {token:?}: the private key {wanted} has no public key object or certificate with its id (id={id}) to read the public key from"
    )]
    PublicKeyNotFound {
        /// The token label.
        token: String,
        /// The object attributes of the URI.
        wanted: String,
        /// The private key's `CKA_ID`, percent-encoded.
        id: String,
    },
    /// The key is not ECDSA on P-256 or P-384.
    #[error(
        "token {token:?}: the key {wanted} is {found}; Latch signs with ECDSA keys on P-256 (or P-384)"
    )]
    UnsupportedKeyType {
        /// The token label.
        token: String,
        /// The object attributes of the URI.
        wanted: String,
        /// What it is (`CKK_RSA`, `EC key on the curve with CKA_EC_PARAMS …`).
        found: String,
    },
    /// The public key on the token cannot be read as a key.
    #[error("token {token:?}: the public key of {wanted} is malformed: {reason}")]
    BadPublicKey {
        /// The token label.
        token: String,
        /// The object attributes of the URI.
        wanted: String,
        /// What is wrong.
        reason: String,
    },
    /// The key wants the PIN again before every signature (`CKA_ALWAYS_AUTHENTICATE`).
    #[error(
        "token {token:?}: the key {wanted} asks for the PIN again before every signature (CKA_ALWAYS_AUTHENTICATE), which Latch does not do; use a key whose PIN policy is once (YubiKey: slot 9a, or a key generated with `ykman piv keys generate --pin-policy ONCE`)"
    )]
    AlwaysAuthenticate {
        /// The token label.
        token: String,
        /// The object attributes of the URI.
        wanted: String,
    },
    /// `CKR_PIN_INCORRECT`. Not retried: tokens lock after a few wrong PINs.
    #[error(
        "wrong PIN for token {token:?} (CKR_PIN_INCORRECT); not retried, as tokens lock after a few wrong PINs{}",
        pin_state(*final_try, *locked)
    )]
    WrongPin {
        /// The token label.
        token: String,
        /// The token now says one try is left (`CKF_USER_PIN_FINAL_TRY`).
        final_try: bool,
        /// The token now says the PIN is locked (`CKF_USER_PIN_LOCKED`).
        locked: bool,
    },
    /// The user PIN is locked.
    #[error(
        "the PIN of token {token:?} is locked; unblock it with the SO PIN or PUK (for a YubiKey: ykman piv access unblock-pin)"
    )]
    PinLocked {
        /// The token label.
        token: String,
    },
    /// The token refused the PIN for another reason (its length, expiry…).
    #[error("token {token:?} refused the PIN ({code})")]
    PinRejected {
        /// The token label.
        token: String,
        /// `CKR_PIN_LEN_RANGE`, `CKR_PIN_EXPIRED`…
        code: String,
    },
    /// No PIN could be had.
    #[error(transparent)]
    Pin(#[from] PinError),
    /// Another call to the token failed.
    #[error("token {token:?}: {call} failed: {code}")]
    Token {
        /// The token label.
        token: String,
        /// The function (`C_FindObjects`…).
        call: &'static str,
        /// The return value (`CKR_…`).
        code: String,
    },
}

/// Asked for the PIN when the token needs one (at most once per open), with the token's
/// label (for a prompt).
pub type PinSource<'a> = &'a mut dyn FnMut(&str) -> Result<Pin, PinError>;

/// A private key on a PKCS#11 token, signing through a logged-in session. `Debug` and
/// [`Signer::describe`] show the token, the object and the public key's id.
pub struct Pkcs11Signer {
    session: Mutex<Session>,
    key: ObjectHandle,
    curve: Curve,
    public: PublicKey,
    token: String,
    object: String,
}

impl Pkcs11Signer {
    /// Parses `uri` and opens the key it names ([`Pkcs11Signer::open`]).
    pub fn open_uri(uri: &str, pin: PinSource<'_>) -> Result<Pkcs11Signer, Pkcs11Error> {
        Pkcs11Signer::open(&Pkcs11Uri::parse(uri)?, pin)
    }

    /// Loads the module, finds the one token and the one private key `uri` names, logs in
    /// (asking `pin` once, if the token wants a PIN and has no PIN pad) and reads the
    /// public key. A wrong PIN is [`Pkcs11Error::WrongPin`] at once, without a retry.
    pub fn open(uri: &Pkcs11Uri, pin: PinSource<'_>) -> Result<Pkcs11Signer, Pkcs11Error> {
        if let Some(t) = uri.object_type.filter(|t| *t != ObjectType::Private) {
            return Err(Pkcs11Error::NotAPrivateKey { found: t });
        }
        let token = token::OpenToken::open(uri)?;
        token.login(pin)?;
        let found = token.private_key(uri)?;
        Ok(Pkcs11Signer {
            key: found.handle,
            curve: found.curve,
            public: found.public,
            object: uri.object_selector(),
            token: token.label().to_owned(),
            session: Mutex::new(token.into_session()),
        })
    }

    /// The token's label.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }
}

/// The public key of the key `uri` names: a public key object or certificate that
/// matches, else the one with the `CKA_ID` of the private key that matches. Asks `pin`
/// (once) only if nothing is visible before logging in.
pub fn public_key(uri: &Pkcs11Uri, pin: PinSource<'_>) -> Result<PublicKey, Pkcs11Error> {
    token::OpenToken::open(uri)?.public_key(uri, pin)
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("token", &self.token)
            .field("object", &self.object)
            .field("curve", &self.curve)
            .field("public_key_id", &self.public.log_id())
            .finish_non_exhaustive()
    }
}

impl Signer for Pkcs11Signer {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let device = || format!("PKCS#11 token {:?} ({})", self.token, self.object);
        let digest = self.curve.digest(message);
        let raw = {
            let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
            session
                .sign(&Mechanism::Ecdsa, self.key, &digest)
                .map_err(|e| SignerError::Device {
                    device: device(),
                    reason: format!("C_Sign (CKM_ECDSA) failed: {}", token::code(&e)),
                })?
        };
        ec::raw_to_der(&raw, self.curve).ok_or_else(|| SignerError::Device {
            device: device(),
            reason: format!(
                "CKM_ECDSA returned {} bytes, not r || s of {} bytes for {}",
                raw.len(),
                2 * self.curve.scalar_len(),
                self.curve.name()
            ),
        })
    }

    fn describe(&self) -> String {
        format!(
            "ECDSA {} key {} on PKCS#11 token {:?} ({})",
            self.curve.name(),
            self.public.log_id(),
            self.token,
            self.object
        )
    }
}
