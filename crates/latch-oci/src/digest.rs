//! Content digests (`algorithm:hex`), as the OCI image spec defines them.
//!
//! Only the algorithms registered by the spec are accepted (`sha256`, `sha512`), and the
//! hex part must be lowercase and of the algorithm's exact length: a digest that a
//! registry could spell two ways would let one blob carry two names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

/// A digest algorithm registered by the OCI image spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, hex of 64 characters. The canonical algorithm of every registry.
    Sha256,
    /// SHA-512, hex of 128 characters.
    Sha512,
}

impl Algorithm {
    /// The name used before the colon.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex encoding.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// A new streaming hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        match self {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
}

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// No `algorithm:` prefix.
    #[error("digest {0:?} has no algorithm prefix (expected e.g. sha256:<hex>)")]
    MissingAlgorithm(String),
    /// An algorithm other than sha256 or sha512.
    #[error("digest {0:?} uses an unsupported algorithm (only sha256 and sha512 are accepted)")]
    UnsupportedAlgorithm(String),
    /// Hex of the wrong length.
    #[error("digest {value:?}: {algorithm} needs {expected} hex characters, found {found}")]
    BadLength {
        /// The offending input.
        value: String,
        /// Its algorithm.
        algorithm: &'static str,
        /// Expected hex length.
        expected: usize,
        /// Found hex length.
        found: usize,
    },
    /// A character outside `[0-9a-f]`.
    #[error("digest {0:?} contains a character that is not lowercase hex")]
    BadHex(String),
}

/// A validated content digest such as `sha256:2c26b46b…`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Parses and validates `algorithm:hex`.
    pub fn parse(value: &str) -> Result<Digest, DigestError> {
        let Some((alg, hex)) = value.split_once(':') else {
            return Err(DigestError::MissingAlgorithm(truncate(value)));
        };
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(DigestError::UnsupportedAlgorithm(truncate(value))),
        };
        if hex.len() != algorithm.hex_len() {
            return Err(DigestError::BadLength {
                value: truncate(value),
                algorithm: algorithm.name(),
                expected: algorithm.hex_len(),
                found: hex.len(),
            });
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::BadHex(truncate(value)));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }

    /// Parses a bare sha256 hex string (as Dangerzone's store file names are).
    pub fn from_sha256_hex(hex: &str) -> Result<Digest, DigestError> {
        Digest::parse(&format!("sha256:{hex}"))
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest::of(Algorithm::Sha256, bytes)
    }

    /// The digest of `bytes` with `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut h = algorithm.hasher();
        h.update(bytes);
        h.finish()
    }

    /// Whether `bytes` hash to this digest (with this digest's algorithm).
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Digest::of(self.algorithm, bytes) == *self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The 32 bytes of a sha256 digest (`None` for another algorithm): what a Sigstore
    /// statement subject or a hashedrekord entry names.
    pub fn sha256_bytes(&self) -> Option<[u8; 32]> {
        if self.algorithm != Algorithm::Sha256 {
            return None;
        }
        // `hex` was validated as 64 lowercase hex digits when the digest was made.
        let mut out = [0u8; 32];
        hex::decode_to_slice(&self.hex, &mut out).ok()?;
        Some(out)
    }

    /// The cosign tag-scheme name: `sha256-<hex>` (the referrers fallback tag), to which
    /// cosign appends `.sig`, `.att` or `.sbom`.
    pub fn tag_form(&self) -> String {
        format!("{}-{}", self.algorithm.name(), self.hex)
    }

    /// Relative path of the blob in an OCI image layout: `blobs/<alg>/<hex>`.
    pub fn layout_path(&self) -> String {
        format!("blobs/{}/{}", self.algorithm.name(), self.hex)
    }

    /// A short form for people: `sha256:` and the first 12 hex characters.
    pub fn short(&self) -> String {
        format!("{}:{}", self.algorithm.name(), &self.hex[..12])
    }
}

fn truncate(value: &str) -> String {
    // Error messages echo the input; keep a hostile 10 MB "digest" out of them.
    crate::text::clip(value, 160)
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A streaming hasher that yields a [`Digest`].
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Hasher::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn computes_and_parses() {
        let d = Digest::sha256_of(b"");
        assert_eq!(d.to_string(), EMPTY_SHA256);
        assert_eq!(Digest::parse(EMPTY_SHA256).unwrap(), d);
        assert!(d.matches(b""));
        assert!(!d.matches(b"x"));
        assert_eq!(d.tag_form(), format!("sha256-{}", d.hex()));
        assert_eq!(d.short(), "sha256:e3b0c44298fc");
        let d512 = Digest::of(Algorithm::Sha512, b"abc");
        assert_eq!(Digest::parse(&d512.to_string()).unwrap(), d512);
        assert_eq!(d512.hex().len(), 128);
    }

    #[test]
    fn refuses_bad_digests() {
        type Check = fn(&DigestError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, DigestError::MissingAlgorithm(_))),
            ("e3b0c442", |e| {
                matches!(e, DigestError::MissingAlgorithm(_))
            }),
            ("md5:d41d8cd98f00b204e9800998ecf8427e", |e| {
                matches!(e, DigestError::UnsupportedAlgorithm(_))
            }),
            (
                "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                |e| matches!(e, DigestError::UnsupportedAlgorithm(_)),
            ),
            ("sha256:e3b0", |e| {
                matches!(e, DigestError::BadLength { .. })
            }),
            ("sha256:", |e| matches!(e, DigestError::BadLength { .. })),
            (
                "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                |e| matches!(e, DigestError::BadLength { .. }),
            ),
            (
                "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                |e| matches!(e, DigestError::BadHex(_)),
            ),
            (
                "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                |e| matches!(e, DigestError::BadHex(_)),
            ),
            (
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85é",
                |e| matches!(e, DigestError::BadLength { .. } | DigestError::BadHex(_)),
            ),
        ];
        for (input, check) in cases {
            let err = Digest::parse(input).expect_err(input);
            assert!(check(&err), "{input:?} gave {err:?}");
        }
    }

    #[test]
    fn long_input_is_truncated_in_errors() {
        let long = format!("sha256:{}", "a".repeat(100_000));
        let msg = Digest::parse(&long).unwrap_err().to_string();
        assert!(msg.len() < 400, "{}", msg.len());
    }

    #[test]
    fn serde_round_trip_validates() {
        let d: Digest = serde_json::from_str(&format!("\"{EMPTY_SHA256}\"")).unwrap();
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            format!("\"{EMPTY_SHA256}\"")
        );
        assert!(serde_json::from_str::<Digest>("\"sha256:abc\"").is_err());
    }

    #[test]
    fn streaming_equals_one_shot() {
        let mut h = Algorithm::Sha256.hasher();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.finish(), Digest::sha256_of(b"hello world"));
    }
}
