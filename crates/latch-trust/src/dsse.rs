//! DSSE's pre-authentication encoding: what a key signs for an envelope.

/// `DSSEv1 <len(type)> <type> <len(payload)> <payload>`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    m.extend_from_slice(payload);
    m
}

#[cfg(test)]
mod tests {
    #[test]
    fn pae_is_the_specification_example() {
        // The DSSE protocol document's test vector.
        assert_eq!(
            super::pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(super::pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }
}
