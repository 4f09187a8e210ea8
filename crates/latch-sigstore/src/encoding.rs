//! PEM and hex as Latch reads them where sigstore-verify does not: strictly, and in one
//! place (keys in log entries, certificate chains in `.sig` annotations, log ids).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The blocks of a PEM text, each `(label, DER)`, in order: one or more blocks separated by
/// whitespace only, each ending with the END line of its own label, nothing else around.
pub(crate) fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("not a PEM block".into());
    }
    while !rest.is_empty() {
        let after_begin = rest.strip_prefix("-----BEGIN ").ok_or(if out.is_empty() {
            "not a PEM block"
        } else {
            "data after the PEM block"
        })?;
        let (label, body) = after_begin
            .split_once("-----")
            .ok_or("malformed PEM header")?;
        let end = format!("-----END {label}-----");
        let (b64, after) = body.split_once(&end).ok_or("no PEM footer")?;
        let b64: String = b64.split_ascii_whitespace().collect();
        let der = STANDARD
            .decode(b64)
            .map_err(|e| format!("PEM {label} block is not base64: {e}"))?;
        out.push((label.to_owned(), der));
        rest = after.trim_start();
    }
    Ok(out)
}

/// The bytes of a hex string (either case), or `None`.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_read_strictly() {
        let block = |label: &str, b64: &str| {
            format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
        };
        assert_eq!(
            pem_blocks(&block("PUBLIC KEY", "AAEC")).unwrap(),
            vec![("PUBLIC KEY".to_owned(), vec![0, 1, 2])]
        );
        let two = format!(
            "{}\n{}",
            block("CERTIFICATE", "AAEC"),
            block("CERTIFICATE", "AwQ=")
        );
        assert_eq!(pem_blocks(&two).unwrap().len(), 2);
        for bad in [
            format!("{two}junk"),
            "-----BEGIN X-----\nAAEC\n-----END Y-----".to_owned(),
            "-----BEGIN CERTIFICATE-----\nAAEC\n".to_owned(),
            block("CERTIFICATE", "%%%"),
            "AAEC".to_owned(),
            String::new(),
        ] {
            assert!(pem_blocks(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hex_either_case_and_nothing_else() {
        assert_eq!(decode_hex("0aFf"), Some(vec![10, 255]));
        assert_eq!(decode_hex("0a0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é0"), None);
    }
}
