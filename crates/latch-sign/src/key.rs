//! Private signing keys: generated here, or read from cosign's encrypted format or from
//! PKCS#8 / SEC1 PEM; written in cosign's encrypted format (and as PKCS#8 PEM on request).
//!
//! Cosign's format (`cosign generate-key-pair`, `skopeo generate-sigstore-key`) is a PEM
//! block whose body is a JSON envelope:
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64 32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<b64 24 bytes>"},
//!  "ciphertext":"<b64: 16-byte Poly1305 tag, then the encrypted PKCS#8 DER>"}
//! ```
//!
//! The secretbox key is `scrypt(password, salt, N, r, p, 32)`. cosign 2.5 labels the block
//! `ENCRYPTED SIGSTORE PRIVATE KEY`; skopeo 1.18 (and older cosign) write
//! `ENCRYPTED COSIGN PRIVATE KEY`. Both are read; Latch writes the first.
//!
//! Private key bytes, decrypted plaintext and derived keys live in [`Zeroizing`] buffers;
//! aws-lc clears its own copies when the key pair is freed. No error message carries a
//! password, a key byte or a line of the key file.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::AeadInPlace;
use crypto_secretbox::{KeyInit, XSalsa20Poly1305};
use latch_trust::PublicKey;
use zeroize::{Zeroize, Zeroizing};

use crate::password::{Password, PasswordError};
use crate::signer::{Signer, SignerError};

/// Bound on a private key file (real ones are under 1 KiB).
pub const MAX_KEY_FILE_BYTES: usize = 64 * 1024;
/// The PEM label cosign 2.x writes.
pub const LABEL_SIGSTORE: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label skopeo and cosign 1.x write (same content).
pub const LABEL_COSIGN: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const LABEL_PKCS8: &str = "PRIVATE KEY";
const LABEL_SEC1: &str = "EC PRIVATE KEY";
const LABEL_PKCS8_ENCRYPTED: &str = "ENCRYPTED PRIVATE KEY";

const SALT_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
const KEY_BYTES: usize = 32;

/// The algorithm of a private key, and so how it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SigningAlgorithm {
    /// ECDSA on P-256 with SHA-256, ASN.1 DER signatures (cosign's keys).
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384, ASN.1 DER signatures.
    EcdsaP384Sha384,
    /// Ed25519.
    Ed25519,
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SigningAlgorithm::EcdsaP256Sha256 => "ECDSA P-256 SHA-256",
            SigningAlgorithm::EcdsaP384Sha384 => "ECDSA P-384 SHA-384",
            SigningAlgorithm::Ed25519 => "Ed25519",
        })
    }
}

/// scrypt cost parameters of an encrypted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptParams {
    /// log2 of N.
    pub log_n: u8,
    /// Block size.
    pub r: u32,
    /// Parallelism.
    pub p: u32,
}

impl ScryptParams {
    /// What cosign 2.5 and skopeo 1.18 write: N = 65536, r = 8, p = 1 (64 MiB).
    pub const COSIGN: ScryptParams = ScryptParams {
        log_n: 16,
        r: 8,
        p: 1,
    };
    /// Largest N read (2^18).
    pub const MAX_LOG_N: u8 = 18;
    /// Bound on scrypt's memory (128 * N * r bytes) when reading a key: 256 MiB.
    pub const MAX_MEMORY: u64 = 256 * 1024 * 1024;
    /// Bound on p * r when reading a key (time).
    pub const MAX_PR: u64 = 64;
}

/// Why bytes are not a private key Latch can use. No variant carries key material, a
/// password or text from the file other than a (clipped) PEM label or JSON field name.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Over [`MAX_KEY_FILE_BYTES`].
    #[error("key file is {size} bytes, over the bound of {max}")]
    TooLarge {
        /// Size seen.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// No single well-formed PEM block.
    #[error("not a PEM private key: {reason}")]
    NotPem {
        /// What is wrong with the framing.
        reason: &'static str,
    },
    /// A PEM label Latch does not read as a private key.
    #[error(
        "PEM label is {found:?}; expected {LABEL_SIGSTORE:?}, {LABEL_COSIGN:?}, {LABEL_PKCS8:?} or {LABEL_SEC1:?}"
    )]
    WrongLabel {
        /// The label found (clipped).
        found: String,
    },
    /// A PKCS#8 PBES2-encrypted key (`ENCRYPTED PRIVATE KEY`).
    #[error(
        "PKCS#8 password-encrypted keys (ENCRYPTED PRIVATE KEY) are not read; convert with `cosign import-key-pair` or `openssl pkcs8`"
    )]
    EncryptedPkcs8,
    /// Base64 that does not decode.
    #[error("{what} is not valid base64")]
    BadBase64 {
        /// Which part (`PEM body`, `salt`, …).
        what: &'static str,
    },
    /// The JSON envelope of an encrypted key is malformed.
    #[error("encrypted key envelope is malformed: {reason}")]
    BadEnvelope {
        /// What is wrong (a field name or a length; never content).
        reason: String,
    },
    /// A key-derivation function other than scrypt.
    #[error("encrypted key uses the KDF {name:?}; only scrypt is supported")]
    UnsupportedKdf {
        /// The KDF name (clipped).
        name: String,
    },
    /// A cipher other than NaCl secretbox.
    #[error("encrypted key uses the cipher {name:?}; only nacl/secretbox is supported")]
    UnsupportedCipher {
        /// The cipher name (clipped).
        name: String,
    },
    /// scrypt parameters out of the accepted range.
    #[error("encrypted key has scrypt parameters N={n} r={r} p={p}: {reason}")]
    BadScryptParams {
        /// N.
        n: u64,
        /// r.
        r: u64,
        /// p.
        p: u64,
        /// What is out of range.
        reason: &'static str,
    },
    /// The secretbox did not open: the password is wrong, or the ciphertext, nonce or salt
    /// was altered.
    #[error("cannot decrypt the private key: wrong password, or the encrypted key is corrupted")]
    WrongPasswordOrCorrupted,
    /// The (decrypted) DER is not a private key of a supported algorithm.
    #[error(
        "{what} is not a PKCS#8 private key of a supported algorithm (ECDSA P-256, ECDSA P-384, Ed25519)"
    )]
    NotAPrivateKey {
        /// Which bytes (`decrypted key`, `PKCS#8 body`, …).
        what: &'static str,
    },
    /// No password could be had.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The crypto library failed (random numbers, key generation, encoding).
    #[error("crypto library failure while {doing}")]
    Crypto {
        /// What was being done.
        doing: &'static str,
    },
}

/// A [`KeyError`] or an I/O failure, with the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file cannot be read.
    #[error("cannot read the key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file cannot be written.
    #[error("cannot write the key file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file already exists (keys are never overwritten).
    #[error("{path} already exists; refusing to overwrite a key file")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The content is not a usable key.
    #[error("key file {path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: KeyError,
    },
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private signing key. Its PKCS#8 form is kept in a zeroing buffer; `Debug` shows only
/// the algorithm and the public key's id.
pub struct PrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
    pair: Pair,
    algorithm: SigningAlgorithm,
    public: PublicKey,
    rng: SystemRandom,
}

impl PrivateKey {
    /// A new ECDSA P-256 key (what cosign generates).
    pub fn generate() -> Result<PrivateKey, KeyError> {
        PrivateKey::generate_with(SigningAlgorithm::EcdsaP256Sha256)
    }

    /// A new key of `algorithm`.
    pub fn generate_with(algorithm: SigningAlgorithm) -> Result<PrivateKey, KeyError> {
        let rng = SystemRandom::new();
        let crypto = |_| KeyError::Crypto {
            doing: "generating a key",
        };
        let doc = match algorithm {
            SigningAlgorithm::EcdsaP256Sha256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .map_err(crypto)?
            }
            SigningAlgorithm::EcdsaP384Sha384 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng)
                    .map_err(crypto)?
            }
            SigningAlgorithm::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng).map_err(crypto)?,
        };
        // `doc` zeroes itself when dropped.
        PrivateKey::from_pkcs8_der(doc.as_ref())
    }

    /// Reads a PKCS#8 DER private key (ECDSA P-256/P-384 or Ed25519).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let not_key = KeyError::NotAPrivateKey { what: "PKCS#8 DER" };
        let (pair, algorithm) =
            if let Ok(p) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der) {
                (Pair::Ecdsa(p), SigningAlgorithm::EcdsaP256Sha256)
            } else if let Ok(p) = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, der) {
                (Pair::Ecdsa(p), SigningAlgorithm::EcdsaP384Sha384)
            } else if let Ok(p) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
                (Pair::Ed25519(p), SigningAlgorithm::Ed25519)
            } else {
                return Err(not_key);
            };
        let spki = match &pair {
            Pair::Ecdsa(p) => p.public_key().as_der().map(|d| d.as_ref().to_vec()),
            Pair::Ed25519(p) => p.public_key().as_der().map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| KeyError::Crypto {
            doing: "encoding the public key",
        })?;
        let public = PublicKey::from_der(&spki).map_err(|_| KeyError::Crypto {
            doing: "reading back the public key",
        })?;
        Ok(PrivateKey {
            pkcs8: Zeroizing::new(der.to_vec()),
            pair,
            algorithm,
            public,
            rng: SystemRandom::new(),
        })
    }

    fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, KeyError> {
        let not_key = || KeyError::NotAPrivateKey {
            what: "EC PRIVATE KEY body",
        };
        let algs: [&'static EcdsaSigningAlgorithm; 2] = [
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &ECDSA_P384_SHA384_ASN1_SIGNING,
        ];
        for alg in algs {
            if let Ok(p) = EcdsaKeyPair::from_private_key_der(alg, der) {
                let doc = p.to_pkcs8v1().map_err(|_| not_key())?;
                return PrivateKey::from_pkcs8_der(doc.as_ref());
            }
        }
        Err(not_key())
    }

    /// Reads a private key from PEM: cosign's encrypted format (asking `password` only
    /// then), PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    pub fn from_pem(
        pem: &[u8],
        password: &mut dyn FnMut() -> Result<Password, PasswordError>,
    ) -> Result<PrivateKey, KeyError> {
        if pem.len() > MAX_KEY_FILE_BYTES {
            return Err(KeyError::TooLarge {
                size: pem.len(),
                max: MAX_KEY_FILE_BYTES,
            });
        }
        let (label, body) = decode_pem(pem)?;
        match label.as_str() {
            LABEL_SIGSTORE | LABEL_COSIGN => {
                let password = password()?;
                let der = decrypt_envelope(&body, &password)?;
                PrivateKey::from_pkcs8_der(&der).map_err(|_| KeyError::NotAPrivateKey {
                    what: "decrypted key",
                })
            }
            LABEL_PKCS8 => {
                PrivateKey::from_pkcs8_der(&body).map_err(|_| KeyError::NotAPrivateKey {
                    what: "PRIVATE KEY body",
                })
            }
            LABEL_SEC1 => PrivateKey::from_sec1_der(&body),
            LABEL_PKCS8_ENCRYPTED => Err(KeyError::EncryptedPkcs8),
            other => Err(KeyError::WrongLabel { found: clip(other) }),
        }
    }

    /// Reads a key file (bounded, into a zeroing buffer). `password` is asked only for an
    /// encrypted key.
    pub fn load(
        path: &Path,
        password: &mut dyn FnMut() -> Result<Password, PasswordError>,
    ) -> Result<PrivateKey, KeyFileError> {
        let read = |source| KeyFileError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read)?;
        let mut bytes = Zeroizing::new(Vec::with_capacity(4096));
        file.take(MAX_KEY_FILE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(read)?;
        PrivateKey::from_pem(&bytes, password).map_err(|source| KeyFileError::Key {
            path: path.to_owned(),
            source,
        })
    }

    /// The key in cosign's encrypted format, with cosign's scrypt cost.
    pub fn to_encrypted_pem(&self, password: &Password) -> Result<String, KeyError> {
        self.to_encrypted_pem_with(password, ScryptParams::COSIGN)
    }

    /// The key in cosign's encrypted format with the given scrypt cost.
    pub fn to_encrypted_pem_with(
        &self,
        password: &Password,
        params: ScryptParams,
    ) -> Result<String, KeyError> {
        let mut salt = [0u8; SALT_BYTES];
        let mut nonce = [0u8; NONCE_BYTES];
        let crypto = |doing| move |_| KeyError::Crypto { doing };
        self.rng.fill(&mut salt).map_err(crypto("drawing a salt"))?;
        self.rng
            .fill(&mut nonce)
            .map_err(crypto("drawing a nonce"))?;
        let key = derive_key(password, &salt, params)?;
        let cipher = XSalsa20Poly1305::new(key.as_slice().into());
        // Ciphertext layout as Go's secretbox.Seal: tag, then the encrypted bytes.
        let mut sealed = Zeroizing::new(vec![0u8; TAG_BYTES + self.pkcs8.len()]);
        sealed[TAG_BYTES..].copy_from_slice(&self.pkcs8);
        let tag = cipher
            .encrypt_in_place_detached(nonce.as_slice().into(), b"", &mut sealed[TAG_BYTES..])
            .map_err(|_| KeyError::Crypto {
                doing: "encrypting the key",
            })?;
        sealed[..TAG_BYTES].copy_from_slice(tag.as_slice());
        let json = format!(
            concat!(
                r#"{{"kdf":{{"name":"scrypt","params":{{"N":{},"r":{},"p":{}}},"salt":"{}"}},"#,
                r#""cipher":{{"name":"nacl/secretbox","nonce":"{}"}},"ciphertext":"{}"}}"#
            ),
            1u64 << params.log_n,
            params.r,
            params.p,
            STANDARD.encode(salt),
            STANDARD.encode(nonce),
            STANDARD.encode(sealed.as_slice()),
        );
        Ok(encode_pem(LABEL_SIGSTORE, json.as_bytes()))
    }

    /// The key as unencrypted PKCS#8 PEM (`PRIVATE KEY`), in a zeroing buffer.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(encode_pem(LABEL_PKCS8, &self.pkcs8))
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public key as PEM, as cosign writes `cosign.pub`.
    pub fn public_key_pem(&self) -> String {
        latch_trust::spki_to_pem(self.public.der())
    }

    /// The algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("public_key_id", &self.public.log_id())
            .finish_non_exhaustive()
    }
}

impl Signer for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let failed = |_| SignerError::Crypto {
            algorithm: self.algorithm.to_string(),
        };
        match &self.pair {
            Pair::Ecdsa(p) => p
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(failed),
            Pair::Ed25519(p) => Ok(p.sign(message).as_ref().to_vec()),
        }
    }

    fn describe(&self) -> String {
        format!("{} key {}", self.algorithm, self.public.log_id())
    }
}

/// Writes a key pair as cosign does: `<prefix>.key` (encrypted, created new, mode 0600 on
/// Unix) and `<prefix>.pub`. Refuses to overwrite either. Returns both paths.
pub fn write_key_pair(
    key: &PrivateKey,
    password: &Password,
    prefix: &Path,
) -> Result<(PathBuf, PathBuf), KeyFileError> {
    let with_ext = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    let private = with_ext(".key");
    let public = with_ext(".pub");
    for p in [&private, &public] {
        if p.exists() {
            return Err(KeyFileError::Exists { path: p.clone() });
        }
    }
    let pem = key
        .to_encrypted_pem(password)
        .map_err(|source| KeyFileError::Key {
            path: private.clone(),
            source,
        })?;
    write_new(&private, pem.as_bytes(), true)?;
    write_new(&public, key.public_key_pem().as_bytes(), false)?;
    Ok((private, public))
}

/// Writes `public` as PEM to `<prefix>.pub` (created new: never overwritten), as
/// [`write_key_pair`] does; for a key whose private half stays elsewhere (a PKCS#11 token).
pub fn write_public_key(public: &PublicKey, prefix: &Path) -> Result<PathBuf, KeyFileError> {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".pub");
    let path = PathBuf::from(s);
    write_new(
        &path,
        latch_trust::spki_to_pem(public.der()).as_bytes(),
        false,
    )?;
    Ok(path)
}

fn write_new(path: &Path, bytes: &[u8], private: bool) -> Result<(), KeyFileError> {
    use std::io::Write as _;
    let err = |source| KeyFileError::Write {
        path: path.to_owned(),
        source,
    };
    let mut f = latch_oci::fsutil::create_new(path, private).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyFileError::Exists {
                path: path.to_owned(),
            }
        } else {
            err(source)
        }
    })?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

fn derive_key(
    password: &Password,
    salt: &[u8],
    params: ScryptParams,
) -> Result<Zeroizing<[u8; KEY_BYTES]>, KeyError> {
    let bad = |reason| KeyError::BadScryptParams {
        n: 1u64.checked_shl(u32::from(params.log_n)).unwrap_or(0),
        r: u64::from(params.r),
        p: u64::from(params.p),
        reason,
    };
    let p = scrypt::Params::new(params.log_n, params.r, params.p, KEY_BYTES)
        .map_err(|_| bad("rejected by scrypt"))?;
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    scrypt::scrypt(password.as_bytes(), salt, &p, key.as_mut_slice())
        .map_err(|_| bad("rejected by scrypt"))?;
    Ok(key)
}

#[derive(serde::Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(serde::Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(serde::Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(serde::Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Opens cosign's envelope; the PKCS#8 DER comes back in a zeroing buffer.
fn decrypt_envelope(json: &[u8], password: &Password) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let env: Envelope = serde_json::from_slice(json).map_err(|e| KeyError::BadEnvelope {
        // serde's message names the field or position, never the content of a string.
        reason: clip(&e.to_string()),
    })?;
    if env.kdf.name != "scrypt" {
        return Err(KeyError::UnsupportedKdf {
            name: clip(&env.kdf.name),
        });
    }
    if env.cipher.name != "nacl/secretbox" {
        return Err(KeyError::UnsupportedCipher {
            name: clip(&env.cipher.name),
        });
    }
    let params = check_scrypt_params(&env.kdf.params)?;
    let decode = |text: &str, what| {
        STANDARD
            .decode(text)
            .map_err(|_| KeyError::BadBase64 { what })
    };
    let salt = decode(&env.kdf.salt, "kdf.salt")?;
    if salt.is_empty() {
        return Err(KeyError::BadEnvelope {
            reason: "kdf.salt is empty".into(),
        });
    }
    let nonce = decode(&env.cipher.nonce, "cipher.nonce")?;
    if nonce.len() != NONCE_BYTES {
        return Err(KeyError::BadEnvelope {
            reason: format!(
                "cipher.nonce is {} bytes, expected {NONCE_BYTES}",
                nonce.len()
            ),
        });
    }
    let mut sealed = Zeroizing::new(decode(&env.ciphertext, "ciphertext")?);
    if sealed.len() <= TAG_BYTES {
        return Err(KeyError::BadEnvelope {
            reason: format!("ciphertext is {} bytes, too short", sealed.len()),
        });
    }
    let key = derive_key(password, &salt, params)?;
    let cipher = XSalsa20Poly1305::new(key.as_slice().into());
    let (tag, body) = sealed.split_at_mut(TAG_BYTES);
    let tag = crypto_secretbox::Tag::clone_from_slice(tag);
    if cipher
        .decrypt_in_place_detached(nonce.as_slice().into(), b"", body, &tag)
        .is_err()
    {
        // `body` is left as it was (decryption happens only after the tag checks).
        return Err(KeyError::WrongPasswordOrCorrupted);
    }
    let plain = Zeroizing::new(body.to_vec());
    sealed.zeroize();
    Ok(plain)
}

fn check_scrypt_params(p: &KdfParams) -> Result<ScryptParams, KeyError> {
    let bad = |reason| KeyError::BadScryptParams {
        n: p.n,
        r: p.r,
        p: p.p,
        reason,
    };
    if p.n < 2 || !p.n.is_power_of_two() {
        return Err(bad("N must be a power of two, 2 or more"));
    }
    let log_n = p.n.trailing_zeros() as u8;
    if log_n > ScryptParams::MAX_LOG_N {
        return Err(bad("N is over 2^18"));
    }
    if p.r == 0 || p.p == 0 {
        return Err(bad("r and p must be 1 or more"));
    }
    if p.r.saturating_mul(p.p) > ScryptParams::MAX_PR {
        return Err(bad("r * p is over 64"));
    }
    if 128u64.saturating_mul(p.n).saturating_mul(p.r) > ScryptParams::MAX_MEMORY {
        return Err(bad("memory (128 * N * r) is over 256 MiB"));
    }
    Ok(ScryptParams {
        log_n,
        r: p.r as u32,
        p: p.p as u32,
    })
}

/// Reads exactly one PEM block, with only whitespace around it and no headers. The body
/// is decoded into a zeroing buffer.
fn decode_pem(input: &[u8]) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
    let text = std::str::from_utf8(input).map_err(|_| KeyError::NotPem {
        reason: "the file is not text",
    })?;
    let text = text.trim();
    let first_end = text.find('\n').unwrap_or(text.len());
    let begin = text[..first_end].trim_end();
    let label = begin
        .strip_prefix("-----BEGIN ")
        .and_then(|s| s.strip_suffix("-----"))
        .ok_or(KeyError::NotPem {
            reason: "the file does not start with a -----BEGIN line",
        })?;
    let rest = &text[first_end..];
    let end_line = format!("-----END {label}-----");
    let end_at = rest.find(&end_line).ok_or(KeyError::NotPem {
        reason: "no matching -----END line",
    })?;
    if !rest[end_at + end_line.len()..].trim().is_empty() {
        return Err(KeyError::NotPem {
            reason: "data after the END line (one key per file)",
        });
    }
    let body_text = &rest[..end_at];
    if body_text.contains("-----") {
        return Err(KeyError::NotPem {
            reason: "more than one PEM block",
        });
    }
    if body_text.contains(':') {
        return Err(KeyError::NotPem {
            reason: "PEM headers are not supported",
        });
    }
    let mut b64 = Zeroizing::new(String::with_capacity(body_text.len()));
    b64.extend(body_text.chars().filter(|c| !c.is_ascii_whitespace()));
    let mut body = Zeroizing::new(Vec::with_capacity(b64.len() / 4 * 3 + 3));
    STANDARD
        .decode_vec(b64.as_bytes(), &mut body)
        .map_err(|_| KeyError::BadBase64 { what: "PEM body" })?;
    Ok((label.to_owned(), body))
}

/// PEM with 64-column lines and a final newline, as Go's `pem.Encode` writes.
fn encode_pem(label: &str, body: &[u8]) -> String {
    let b64 = Zeroizing::new(STANDARD.encode(body));
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 is ASCII.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

fn clip(s: &str) -> String {
    latch_oci::text::clip(s, 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Check = fn(&KeyError) -> bool;

    fn pw(s: &str) -> impl FnMut() -> Result<Password, PasswordError> + '_ {
        move || Ok(Password::new(s))
    }

    #[test]
    fn round_trips_through_the_encrypted_format() {
        let key = PrivateKey::generate().unwrap();
        let pem = key
            .to_encrypted_pem_with(
                &Password::new("correct horse"),
                ScryptParams {
                    log_n: 10,
                    r: 8,
                    p: 1,
                },
            )
            .unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let back = PrivateKey::from_pem(pem.as_bytes(), &mut pw("correct horse")).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let err = PrivateKey::from_pem(pem.as_bytes(), &mut pw("wrong")).unwrap_err();
        assert!(matches!(err, KeyError::WrongPasswordOrCorrupted), "{err}");
        assert!(!err.to_string().contains("wrong\""));
    }

    #[test]
    fn pkcs8_and_algorithms() {
        for alg in [
            SigningAlgorithm::EcdsaP256Sha256,
            SigningAlgorithm::EcdsaP384Sha384,
            SigningAlgorithm::Ed25519,
        ] {
            let key = PrivateKey::generate_with(alg).unwrap();
            let pem = key.to_pkcs8_pem();
            let mut never = || -> Result<Password, PasswordError> { panic!("no password needed") };
            let back = PrivateKey::from_pem(pem.as_bytes(), &mut never).unwrap();
            assert_eq!(back.algorithm(), alg);
            let sig = back.sign(b"message").unwrap();
            key.public_key().verify(b"message", &sig).unwrap();
        }
    }

    #[test]
    fn framing_errors() {
        let mut never = || -> Result<Password, PasswordError> { panic!("no password needed") };
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, KeyError::NotPem { .. })),
            ("hello", |e| matches!(e, KeyError::NotPem { .. })),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                |e| matches!(e, KeyError::WrongLabel { .. }),
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                |e| matches!(e, KeyError::EncryptedPkcs8),
            ),
            (
                "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
                |e| matches!(e, KeyError::BadBase64 { .. }),
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                |e| matches!(e, KeyError::NotAPrivateKey { .. }),
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\nmore",
                |e| matches!(e, KeyError::NotPem { .. }),
            ),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n", |e| {
                matches!(e, KeyError::NotPem { .. })
            }),
        ];
        for (input, check) in cases {
            let err = PrivateKey::from_pem(input.as_bytes(), &mut never).unwrap_err();
            assert!(check(&err), "{input:?} gave {err:?}");
        }
    }

    #[test]
    fn envelope_errors() {
        let wrap = |json: &str| encode_pem(LABEL_SIGSTORE, json.as_bytes());
        let salt = STANDARD.encode([1u8; 32]);
        let nonce = STANDARD.encode([2u8; 24]);
        let ct = STANDARD.encode([3u8; 64]);
        let doc = |kdf: &str, n: u64, cipher: &str, nonce: &str, ct: &str| {
            wrap(&format!(
                r#"{{"kdf":{{"name":"{kdf}","params":{{"N":{n},"r":8,"p":1}},"salt":"{salt}"}},"cipher":{{"name":"{cipher}","nonce":"{nonce}"}},"ciphertext":"{ct}"}}"#
            ))
        };
        let cases: Vec<(String, Check)> = vec![
            (wrap("not json"), |e| {
                matches!(e, KeyError::BadEnvelope { .. })
            }),
            (wrap("{}"), |e| matches!(e, KeyError::BadEnvelope { .. })),
            (doc("argon2", 1024, "nacl/secretbox", &nonce, &ct), |e| {
                matches!(e, KeyError::UnsupportedKdf { .. })
            }),
            (doc("scrypt", 1024, "aes-gcm", &nonce, &ct), |e| {
                matches!(e, KeyError::UnsupportedCipher { .. })
            }),
            (doc("scrypt", 1000, "nacl/secretbox", &nonce, &ct), |e| {
                matches!(e, KeyError::BadScryptParams { .. })
            }),
            (doc("scrypt", 1 << 30, "nacl/secretbox", &nonce, &ct), |e| {
                matches!(e, KeyError::BadScryptParams { .. })
            }),
            (doc("scrypt", 1024, "nacl/secretbox", "AAAA", &ct), |e| {
                matches!(e, KeyError::BadEnvelope { .. })
            }),
            (doc("scrypt", 1024, "nacl/secretbox", &nonce, "%%"), |e| {
                matches!(e, KeyError::BadBase64 { .. })
            }),
            (doc("scrypt", 1024, "nacl/secretbox", &nonce, "AAAA"), |e| {
                matches!(e, KeyError::BadEnvelope { .. })
            }),
            (doc("scrypt", 1024, "nacl/secretbox", &nonce, &ct), |e| {
                matches!(e, KeyError::WrongPasswordOrCorrupted)
            }),
        ];
        for (input, check) in cases {
            let err = PrivateKey::from_pem(input.as_bytes(), &mut pw("secret-pw")).unwrap_err();
            assert!(check(&err), "{input:?} gave {err:?}");
            assert!(!err.to_string().contains("secret-pw"));
        }
    }
}
