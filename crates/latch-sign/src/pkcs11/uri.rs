//! RFC 7512 `pkcs11:` URIs, as cosign takes them: which module, which token, which
//! object. Pure: a string in, the attributes out.
//!
//! ```text
//! pkcs11:token=YubiKey%20PIV%20%2312345;object=release?module-path=/usr/lib/x86_64-linux-gnu/libykcs11.so
//! pkcs11:slot-id=0;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so
//! ```
//!
//! Path attributes (`;`-separated) select the token (`token`, `manufacturer`, `model`,
//! `serial`, `slot-id`, `slot-description`, `slot-manufacturer`) and the key (`object`,
//! the label; `id`, raw bytes percent-encoded; `type`). The query (`&`-separated) names
//! the module (`module-path`). Values are percent-decoded; characters the RFC's grammar
//! does not allow unencoded (a space, `#`, `/` in the path, `&` in the query) are
//! refused with the encoding to use. `pin-value` and `pin-source` are refused: the PIN
//! comes from `LATCH_PIN`/`COSIGN_PIN` or the terminal, never from argv.

use std::fmt;
use std::path::PathBuf;

/// The scheme, compared without regard to case (RFC 3986).
pub const SCHEME: &str = "pkcs11:";

/// Path attributes read.
pub const PATH_ATTRIBUTES: &[&str] = &[
    "token",
    "manufacturer",
    "model",
    "serial",
    "slot-id",
    "slot-description",
    "slot-manufacturer",
    "object",
    "id",
    "type",
];
/// Query attributes read.
pub const QUERY_ATTRIBUTES: &[&str] = &["module-path"];

/// Why a string is not a `pkcs11:` URI Latch can use. No variant carries a PIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The string does not start with `pkcs11:`.
    #[error("not a PKCS#11 URI: it must start with \"pkcs11:\"")]
    NotPkcs11,
    /// A character the grammar does not allow unencoded.
    #[error(
        "PKCS#11 URI: {character:?} at byte {position} is not allowed unencoded in the {part}; write it as {encoded}"
    )]
    BadCharacter {
        /// The character.
        character: char,
        /// Its byte offset in the URI.
        position: usize,
        /// `path` or `query`.
        part: &'static str,
        /// Its percent-encoding.
        encoded: String,
    },
    /// A `%` not followed by two hex digits.
    #[error("PKCS#11 URI: attribute {attribute}: '%' must be followed by two hex digits")]
    BadPercentEncoding {
        /// The attribute.
        attribute: String,
    },
    /// A text attribute whose decoded bytes are not UTF-8.
    #[error("PKCS#11 URI: attribute {attribute} is not valid UTF-8 once decoded")]
    NotUtf8 {
        /// The attribute.
        attribute: String,
    },
    /// `name` without `=value`.
    #[error("PKCS#11 URI: attribute {attribute:?} has no '=value'")]
    NoValue {
        /// What was written (clipped).
        attribute: String,
    },
    /// The same attribute twice.
    #[error("PKCS#11 URI: attribute {attribute} is given twice")]
    Repeated {
        /// The attribute.
        attribute: String,
    },
    /// An attribute this reader does not know or does not support.
    #[error(
        "PKCS#11 URI: attribute {attribute:?} is not supported in the {part}; supported: {}",
        supported.join(", ")
    )]
    Unsupported {
        /// The attribute (clipped).
        attribute: String,
        /// `path` or `query`.
        part: &'static str,
        /// What is supported there.
        supported: &'static [&'static str],
    },
    /// `pin-source`.
    #[error(
        "PKCS#11 URI: pin-source is not supported; give the PIN in LATCH_PIN (or COSIGN_PIN), or type it on the terminal when asked"
    )]
    PinSource,
    /// `pin-value` (its value is not kept).
    #[error(
        "PKCS#11 URI: pin-value is refused: a PIN on the command line ends up in shell history and process lists; give it in LATCH_PIN (or COSIGN_PIN), or type it on the terminal when asked"
    )]
    PinValue,
    /// `module-name`.
    #[error(
        "PKCS#11 URI: module-name is not supported; name the module file with module-path=/path/to/module.so"
    )]
    ModuleName,
    /// `slot-id` that is not a decimal number.
    #[error("PKCS#11 URI: slot-id {value:?} is not a decimal number")]
    BadSlotId {
        /// The value (clipped).
        value: String,
    },
    /// `type` other than the RFC's values.
    #[error("PKCS#11 URI: type {value:?} is not one of private, public, cert, secret-key, data")]
    BadType {
        /// The value (clipped).
        value: String,
    },
}

/// The `type` attribute: the class of object meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    /// `private`: a private key.
    Private,
    /// `public`: a public key.
    Public,
    /// `cert`: a certificate.
    Cert,
    /// `secret-key`: a symmetric key.
    SecretKey,
    /// `data`: a data object.
    Data,
}

impl ObjectType {
    fn parse(s: &str) -> Option<ObjectType> {
        Some(match s {
            "private" => ObjectType::Private,
            "public" => ObjectType::Public,
            "cert" => ObjectType::Cert,
            "secret-key" => ObjectType::SecretKey,
            "data" => ObjectType::Data,
            _ => return None,
        })
    }

    /// The URI's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Private => "private",
            ObjectType::Public => "public",
            ObjectType::Cert => "cert",
            ObjectType::SecretKey => "secret-key",
            ObjectType::Data => "data",
        }
    }
}

/// A parsed `pkcs11:` URI: every attribute optional, values decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// `token`: the token label.
    pub token: Option<String>,
    /// `manufacturer`: the token's manufacturer ID.
    pub manufacturer: Option<String>,
    /// `model`: the token's model.
    pub model: Option<String>,
    /// `serial`: the token's serial number.
    pub serial: Option<String>,
    /// `slot-id`: the slot's numeric ID.
    pub slot_id: Option<u64>,
    /// `slot-description`.
    pub slot_description: Option<String>,
    /// `slot-manufacturer`.
    pub slot_manufacturer: Option<String>,
    /// `object`: the object's label (CKA_LABEL).
    pub object: Option<String>,
    /// `id`: the object's CKA_ID bytes.
    pub id: Option<Vec<u8>>,
    /// `type`.
    pub object_type: Option<ObjectType>,
    /// `module-path`: the PKCS#11 module (shared library) to load.
    pub module_path: Option<PathBuf>,
}

/// Whether `s` is meant as a `pkcs11:` URI (and so not as a file name).
pub fn is_pkcs11_uri(s: &str) -> bool {
    s.get(..SCHEME.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(SCHEME))
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn res_avail(b: u8) -> bool {
    matches!(
        b,
        b':' | b'[' | b']' | b'@' | b'!' | b'$' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'='
    )
}

/// `pk11-pchar` (without `%`, checked when decoding).
fn path_char(b: u8) -> bool {
    unreserved(b) || res_avail(b) || b == b'&'
}

/// `pk11-qchar` (without `%`).
fn query_char(b: u8) -> bool {
    unreserved(b) || res_avail(b) || matches!(b, b'/' | b'?' | b'|')
}

fn clip(s: &str) -> String {
    latch_oci::text::clip(s, 64)
}

fn percent_decode(value: &str, attribute: &str) -> Result<Vec<u8>, UriError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .filter(|_| bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit());
            match hex {
                Some(b) => out.push(b),
                None => {
                    return Err(UriError::BadPercentEncoding {
                        attribute: attribute.to_owned(),
                    });
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn text(value: &str, attribute: &str) -> Result<String, UriError> {
    String::from_utf8(percent_decode(value, attribute)?).map_err(|_| UriError::NotUtf8 {
        attribute: attribute.to_owned(),
    })
}

/// Checks every character of `part` (starting at byte `offset` of the URI).
fn check_chars(
    part: &str,
    offset: usize,
    name: &'static str,
    allowed: fn(u8) -> bool,
    separator: u8,
) -> Result<(), UriError> {
    for (i, c) in part.char_indices() {
        let ok = c.is_ascii() && {
            let b = c as u8;
            b == b'%' || b == separator || allowed(b)
        };
        if !ok {
            let mut buf = [0u8; 4];
            let encoded = c
                .encode_utf8(&mut buf)
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect();
            return Err(UriError::BadCharacter {
                character: c,
                position: offset + i,
                part: name,
                encoded,
            });
        }
    }
    Ok(())
}

fn set<T>(slot: &mut Option<T>, value: T, attribute: &str) -> Result<(), UriError> {
    if slot.is_some() {
        return Err(UriError::Repeated {
            attribute: attribute.to_owned(),
        });
    }
    *slot = Some(value);
    Ok(())
}

fn split_attribute(attr: &str) -> Result<(&str, &str), UriError> {
    attr.split_once('=').ok_or_else(|| UriError::NoValue {
        attribute: clip(attr),
    })
}

impl Pkcs11Uri {
    /// Parses a `pkcs11:` URI.
    pub fn parse(uri: &str) -> Result<Pkcs11Uri, UriError> {
        if !is_pkcs11_uri(uri) {
            return Err(UriError::NotPkcs11);
        }
        let rest = &uri[SCHEME.len()..];
        let (path, query) = match rest.find('?') {
            Some(q) => (&rest[..q], Some(&rest[q + 1..])),
            None => (rest, None),
        };
        check_chars(path, SCHEME.len(), "path", path_char, b';')?;
        let mut out = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = split_attribute(attr)?;
            match name {
                "token" => set(&mut out.token, text(value, name)?, name)?,
                "manufacturer" => set(&mut out.manufacturer, text(value, name)?, name)?,
                "model" => set(&mut out.model, text(value, name)?, name)?,
                "serial" => set(&mut out.serial, text(value, name)?, name)?,
                "slot-description" => set(&mut out.slot_description, text(value, name)?, name)?,
                "slot-manufacturer" => set(&mut out.slot_manufacturer, text(value, name)?, name)?,
                "object" => set(&mut out.object, text(value, name)?, name)?,
                "id" => set(&mut out.id, percent_decode(value, name)?, name)?,
                "slot-id" => {
                    let decoded = text(value, name)?;
                    let id = Some(&decoded)
                        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|d| d.parse::<u64>().ok())
                        .ok_or_else(|| UriError::BadSlotId {
                            value: clip(&decoded),
                        })?;
                    set(&mut out.slot_id, id, name)?
                }
                "type" => {
                    let decoded = text(value, name)?;
                    let t = ObjectType::parse(&decoded).ok_or_else(|| UriError::BadType {
                        value: clip(&decoded),
                    })?;
                    set(&mut out.object_type, t, name)?
                }
                other => {
                    return Err(UriError::Unsupported {
                        attribute: clip(other),
                        part: "path",
                        supported: PATH_ATTRIBUTES,
                    });
                }
            }
        }
        if let Some(query) = query {
            let offset = SCHEME.len() + path.len() + 1;
            // The PIN attributes are refused before anything else is looked at, so that no
            // error message can echo a character of a PIN.
            for attr in query.split('&') {
                match attr.split_once('=').map_or(attr, |(n, _)| n) {
                    "pin-value" => return Err(UriError::PinValue),
                    "pin-source" => return Err(UriError::PinSource),
                    _ => {}
                }
            }
            check_chars(query, offset, "query", query_char, b'&')?;
            for attr in query.split('&').filter(|a| !a.is_empty()) {
                let (name, value) = split_attribute(attr)?;
                match name {
                    "module-path" => set(
                        &mut out.module_path,
                        PathBuf::from(text(value, name)?),
                        name,
                    )?,
                    "module-name" => return Err(UriError::ModuleName),
                    other => {
                        return Err(UriError::Unsupported {
                            attribute: clip(other),
                            part: "query",
                            supported: QUERY_ATTRIBUTES,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The token selectors, as URI attributes (for messages): `token=latch-test;serial=…`.
    pub fn token_selector(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{name}={}", encode(v.as_bytes(), false)));
            }
        };
        push("token", &self.token);
        push("manufacturer", &self.manufacturer);
        push("model", &self.model);
        push("serial", &self.serial);
        push("slot-description", &self.slot_description);
        push("slot-manufacturer", &self.slot_manufacturer);
        if let Some(id) = self.slot_id {
            parts.push(format!("slot-id={id}"));
        }
        if parts.is_empty() {
            "any token".to_owned()
        } else {
            parts.join(";")
        }
    }

    /// The object selectors, as URI attributes (for messages): `object=release;id=%01`.
    pub fn object_selector(&self) -> String {
        let mut parts = Vec::new();
        if let Some(o) = &self.object {
            parts.push(format!("object={}", encode(o.as_bytes(), false)));
        }
        if let Some(id) = &self.id {
            parts.push(format!("id={}", encode(id, true)));
        }
        if let Some(t) = self.object_type {
            parts.push(format!("type={}", t.as_str()));
        }
        if parts.is_empty() {
            "any object".to_owned()
        } else {
            parts.join(";")
        }
    }
}

/// Percent-encodes `bytes` for a path value (`all`: every byte, as `id` is written).
fn encode(bytes: &[u8], all: bool) -> String {
    bytes
        .iter()
        .map(|&b| {
            if !all && (unreserved(b) || res_avail(b)) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl fmt::Display for Pkcs11Uri {
    /// The URI again, canonically encoded (there is nothing secret in it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pkcs11:")?;
        let mut sep = "";
        for part in [self.token_selector(), self.object_selector()] {
            if !part.starts_with("any ") {
                write!(f, "{sep}{part}")?;
                sep = ";";
            }
        }
        if let Some(p) = &self.module_path {
            let path = p.to_string_lossy();
            let encoded: String = path
                .bytes()
                .map(|b| {
                    if query_char(b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            write!(f, "?module-path={encoded}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

    #[test]
    fn cosign_form() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=latch-test;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("latch-test"));
        assert_eq!(u.object.as_deref(), Some("release"));
        assert_eq!(u.module_path, Some(PathBuf::from(SOFTHSM)));
        assert_eq!(u.id, None);
        assert_eq!(u.slot_id, None);
        assert_eq!(
            u.to_string(),
            "pkcs11:token=latch-test;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so"
        );
    }

    #[test]
    fn every_supported_attribute() {
        let u = Pkcs11Uri::parse(
            "PKCS11:token=YubiKey%20PIV%20%2312345;manufacturer=Yubico%20%28www.yubico.com%29;\
             model=YubiKey%20YK5;serial=12345;slot-id=0;slot-description=Yubico%20YubiKey;\
             slot-manufacturer=Yubico;object=Private%20key%20for%20Digital%20Signature;\
             id=%02;type=private?module-path=/usr/lib/x86_64-linux-gnu/libykcs11.so",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("YubiKey PIV #12345"));
        assert_eq!(u.manufacturer.as_deref(), Some("Yubico (www.yubico.com)"));
        assert_eq!(u.model.as_deref(), Some("YubiKey YK5"));
        assert_eq!(u.serial.as_deref(), Some("12345"));
        assert_eq!(u.slot_id, Some(0));
        assert_eq!(u.slot_description.as_deref(), Some("Yubico YubiKey"));
        assert_eq!(u.slot_manufacturer.as_deref(), Some("Yubico"));
        assert_eq!(
            u.object.as_deref(),
            Some("Private key for Digital Signature")
        );
        assert_eq!(u.id, Some(vec![2]));
        assert_eq!(u.object_type, Some(ObjectType::Private));
        // Displayed and parsed again: the same.
        assert_eq!(Pkcs11Uri::parse(&u.to_string()).unwrap(), u);
    }

    #[test]
    fn ids_are_raw_bytes_and_hex_is_either_case() {
        let u = Pkcs11Uri::parse("pkcs11:id=%01%02%Ba%dd%ca%FE;slot-id=4294967296").unwrap();
        assert_eq!(u.id, Some(vec![1, 2, 0xba, 0xdd, 0xca, 0xfe]));
        assert_eq!(u.slot_id, Some(1 << 32));
        assert_eq!(u.object_selector(), "id=%01%02%BA%DD%CA%FE");
        assert_eq!(u.token_selector(), "slot-id=4294967296");
        // An id that is not valid UTF-8 is fine (bytes); a label is not.
        assert!(Pkcs11Uri::parse("pkcs11:id=%ff").is_ok());
        assert_eq!(
            Pkcs11Uri::parse("pkcs11:object=%ff").unwrap_err(),
            UriError::NotUtf8 {
                attribute: "object".into()
            }
        );
    }

    #[test]
    fn reserved_characters_where_the_grammar_allows_them() {
        let u = Pkcs11Uri::parse("pkcs11:token=:[]@!$'()*+,=&?module-path=/a/b?c|d:=").unwrap();
        assert_eq!(u.token.as_deref(), Some(":[]@!$'()*+,=&"));
        assert_eq!(u.module_path, Some(PathBuf::from("/a/b?c|d:=")));
        // Empty path, empty attributes between separators, nothing at all.
        assert_eq!(Pkcs11Uri::parse("pkcs11:").unwrap(), Pkcs11Uri::default());
        assert_eq!(
            Pkcs11Uri::parse("pkcs11:;token=a;;?&module-path=/m&")
                .unwrap()
                .token
                .as_deref(),
            Some("a")
        );
        assert!(is_pkcs11_uri("Pkcs11:x") && !is_pkcs11_uri("pkcs11") && !is_pkcs11_uri("a.key"));
    }

    #[test]
    fn refusals() {
        let bad_char =
            |uri: &str, character: char, part: &'static str, encoded: &str| match Pkcs11Uri::parse(
                uri,
            )
            .unwrap_err()
            {
                UriError::BadCharacter {
                    character: c,
                    part: p,
                    encoded: e,
                    ..
                } => {
                    assert_eq!((c, p, e.as_str()), (character, part, encoded), "{uri}");
                }
                other => panic!("{uri}: {other:?}"),
            };
        bad_char("pkcs11:token=My Key", ' ', "path", "%20");
        bad_char("pkcs11:token=YubiKey#1", '#', "path", "%23");
        bad_char("pkcs11:object=a/b", '/', "path", "%2F");
        bad_char("pkcs11:token=é", 'é', "path", "%C3%A9");
        bad_char("pkcs11:?module-path=/a;b", ';', "query", "%3B");
        let cases: &[(&str, UriError)] = &[
            ("file.key", UriError::NotPkcs11),
            (
                "pkcs11:token",
                UriError::NoValue {
                    attribute: "token".into(),
                },
            ),
            (
                "pkcs11:token=a;token=b",
                UriError::Repeated {
                    attribute: "token".into(),
                },
            ),
            (
                "pkcs11:token=%2",
                UriError::BadPercentEncoding {
                    attribute: "token".into(),
                },
            ),
            (
                "pkcs11:id=%zz",
                UriError::BadPercentEncoding {
                    attribute: "id".into(),
                },
            ),
            (
                "pkcs11:slot-id=x1",
                UriError::BadSlotId { value: "x1".into() },
            ),
            ("pkcs11:slot-id=", UriError::BadSlotId { value: "".into() }),
            (
                "pkcs11:slot-id=+1",
                UriError::BadSlotId { value: "+1".into() },
            ),
            (
                "pkcs11:type=key",
                UriError::BadType {
                    value: "key".into(),
                },
            ),
            ("pkcs11:?module-name=softhsm2", UriError::ModuleName),
            (
                "pkcs11:?module-path=/m&module-path=/n",
                UriError::Repeated {
                    attribute: "module-path".into(),
                },
            ),
            ("pkcs11:?pin-source=file:/pin.txt", UriError::PinSource),
            (
                "pkcs11:library-version=1",
                UriError::Unsupported {
                    attribute: "library-version".into(),
                    part: "path",
                    supported: PATH_ATTRIBUTES,
                },
            ),
            (
                "pkcs11:?x-vendor=1",
                UriError::Unsupported {
                    attribute: "x-vendor".into(),
                    part: "query",
                    supported: QUERY_ATTRIBUTES,
                },
            ),
        ];
        for (uri, want) in cases {
            assert_eq!(&Pkcs11Uri::parse(uri).unwrap_err(), want, "{uri}");
        }
        let msg = Pkcs11Uri::parse("pkcs11:?pin-source=x")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("pin-source is not supported") && msg.contains("LATCH_PIN"));
    }

    #[test]
    fn a_pin_value_is_never_echoed() {
        // Even when the PIN holds characters the grammar refuses, or sits beside other
        // faults, the error is about the PIN and carries none of it.
        for uri in [
            "pkcs11:token=a?pin-value=s3cr3t",
            "pkcs11:token=a?module-path=/m&pin-value=s3cr3t#;é",
            "pkcs11:token=a?pin-value",
        ] {
            let err = Pkcs11Uri::parse(uri).unwrap_err();
            assert_eq!(err, UriError::PinValue, "{uri}");
            assert!(!format!("{err} {err:?}").contains("s3cr3t"));
        }
    }
}
