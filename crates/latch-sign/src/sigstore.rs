//! The cosign `.sig` manifest as a signer writes it: its tag and the config cosign writes
//! for it. (Reading signatures is `latch-sources`'; verifying them `latch-decide`'s.)

use latch_oci::{Descriptor, Digest};

/// The tag of `digest`'s signatures: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}.sig", digest.tag_form())
}

/// The config blob cosign (go-containerregistry) writes for a `.sig` manifest: empty
/// platform, the zero time, one history entry and the layers as `diff_ids` (signature
/// layers are not compressed).
pub fn cosign_config(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    let mut out = String::from(
        r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":"#,
    );
    out.push_str(&serde_json::Value::from(diff_ids).to_string());
    out.push_str(r#"},"config":{}}"#);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_matches_cosign() {
        // What cosign 2.5 wrote here for one signature layer.
        let layer = Descriptor::for_bytes("x", b"");
        let d = layer.digest.to_string();
        assert_eq!(
            String::from_utf8(cosign_config(&[layer])).unwrap(),
            format!(
                r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{d}"]}},"config":{{}}}}"#
            )
        );
    }
}
