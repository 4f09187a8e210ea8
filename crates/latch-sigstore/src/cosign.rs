//! Cosign's registry formats around Sigstore bundles: v3 image signatures (bundles stored
//! as OCI referrers, FORMATS.md 5.6; GitHub's attestations use the same storage, 5.7) and
//! legacy `.att` attestation layers (a DSSE envelope per layer, certificate and Rekor
//! bundle in annotations), turned into bundles so one verifier serves both.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigstore_verify::types::Bundle;

use crate::error::{Error, Result};
use crate::legacy::LegacyRekorEntry;
use crate::statement::Statement;

/// `predicateType` of a cosign v3 image signature.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The artifact type (and layer media type) of bundles cosign v3 and GitHub write.
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Every bundle media type accepted as a referrer's artifact type or layer
/// (`cmd/cosign/cli/bundle/inspect.go`).
pub const BUNDLE_MEDIA_TYPES: &[&str] = &[
    BUNDLE_V03_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
];
/// Annotation naming what a referrer bundle holds (`dsse-envelope`, `message-signature`).
pub const BUNDLE_CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// Annotation naming the bundle's predicate type.
pub const BUNDLE_PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// Media type of a `.att` layer.
pub const DSSE_LAYER_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// `.att`/`.sig` layer annotation: the signing certificate (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// `.att`/`.sig` layer annotation: the Rekor bundle (SET and entry).
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// `.att`/`.sig` layer annotation: the certificate chain (PEM) of a keyless signature.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";

/// Whether `media_type` is a Sigstore bundle.
pub fn is_bundle_media_type(media_type: &str) -> bool {
    BUNDLE_MEDIA_TYPES.contains(&media_type)
}

/// Checks that a verified statement is a cosign v3 signature of `image_digest`
/// (`sha256:<hex>`): predicate type [`COSIGN_SIGN_PREDICATE`], a subject with the digest.
pub fn check_image_signature(
    statement: &Statement,
    image_digest: &str,
    location: &str,
) -> Result<()> {
    check_statement(statement, COSIGN_SIGN_PREDICATE, image_digest, location)
}

/// Checks that a verified statement is of `predicate_type` and has a subject with
/// `image_digest` (`sha256:<hex>`).
pub fn check_statement(
    statement: &Statement,
    predicate_type: &str,
    image_digest: &str,
    location: &str,
) -> Result<()> {
    if statement.predicate_type != predicate_type {
        return Err(Error::claim(
            location,
            "predicateType",
            predicate_type,
            Some(&statement.predicate_type),
        ));
    }
    if !statement.has_subject(image_digest) {
        return Err(Error::claim(
            location,
            "statement subject",
            format!("a subject with digest {image_digest}"),
            Some(&statement.subject_digests().join(", ")),
        ));
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RekorPayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Turns one `.att` layer (`envelope`: the DSSE envelope JSON; `annotations`: the layer's)
/// into a v0.1 bundle: the certificate (if any), the Rekor entry with its SET (if any) and
/// the envelope. Verify it with [`crate::TlogRequirement::Required`] (for a v0.1 bundle:
/// the SET, and the certificate valid at its integrated time) or, for key-signed layers
/// pushed without a log, `None`.
pub fn att_layer_to_bundle(
    envelope: &[u8],
    annotations: &BTreeMap<String, String>,
    location: &str,
) -> Result<Bundle> {
    let bad = |detail: String| Error::Cosign {
        location: location.to_owned(),
        detail,
    };
    if envelope.len() > crate::MAX_BUNDLE_BYTES {
        return Err(bad("DSSE envelope too large".into()));
    }
    let env: serde_json::Value =
        serde_json::from_slice(envelope).map_err(|e| bad(format!("DSSE envelope: {e}")))?;
    let material = match annotations.get(CERTIFICATE_ANNOTATION) {
        Some(pem) if !pem.trim().is_empty() => {
            let der = sigstore_verify::types::DerCertificate::from_pem(pem)
                .map_err(|e| bad(format!("{CERTIFICATE_ANNOTATION}: {e}")))?;
            serde_json::json!({"x509CertificateChain": {"certificates": [
                {"rawBytes": STANDARD.encode(der.as_bytes())}
            ]}})
        }
        _ => serde_json::json!({"publicKey": {"hint": ""}}),
    };
    let mut entries = Vec::new();
    if let Some(text) = annotations.get(REKOR_BUNDLE_ANNOTATION) {
        let rb: RekorBundle = serde_json::from_str(text)
            .map_err(|e| bad(format!("{REKOR_BUNDLE_ANNOTATION}: {e}")))?;
        let decode = |b64: &str, what: &str| {
            STANDARD
                .decode(b64)
                .map_err(|e| bad(format!("{REKOR_BUNDLE_ANNOTATION}: {what}: {e}")))
        };
        let set = decode(&rb.set, "SignedEntryTimestamp")?;
        let body = decode(&rb.payload.body, "body")?;
        let entry = LegacyRekorEntry {
            signed_entry_timestamp: &set,
            body: &body,
            integrated_time: rb.payload.integrated_time,
            log_index: rb.payload.log_index,
            log_id_hex: &rb.payload.log_id,
        };
        entries.push(entry.to_tlog_entry(location)?);
    }
    let mut vm = material;
    if let Some(obj) = vm.as_object_mut() {
        obj.insert("tlogEntries".into(), serde_json::Value::Array(entries));
    }
    let doc = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": vm,
        "dsseEnvelope": env,
    });
    Bundle::from_json(&doc.to_string()).map_err(|e| bad(format!("as a bundle: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(is_bundle_media_type(BUNDLE_V03_MEDIA_TYPE));
        assert!(is_bundle_media_type(
            "application/vnd.dev.sigstore.bundle+json;version=0.2"
        ));
        assert!(!is_bundle_media_type(
            "application/vnd.oci.image.manifest.v1+json"
        ));
    }

    #[test]
    fn att_layers_refuse_malformed_annotations() {
        let env = br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}"#;
        let mut a = BTreeMap::new();
        att_layer_to_bundle(env, &a, "l").unwrap();
        assert!(att_layer_to_bundle(b"nope", &a, "l").is_err());
        a.insert(CERTIFICATE_ANNOTATION.into(), "not pem".into());
        let e = att_layer_to_bundle(env, &a, "l").unwrap_err();
        assert!(e.to_string().contains(CERTIFICATE_ANNOTATION), "{e}");
        a.clear();
        a.insert(
            REKOR_BUNDLE_ANNOTATION.into(),
            r#"{"SignedEntryTimestamp":"AA==","Payload":{"body":"e30=","integratedTime":1,"logIndex":1,"logID":"zz"}}"#.into(),
        );
        let e = att_layer_to_bundle(env, &a, "l").unwrap_err();
        assert!(e.to_string().contains("logID"), "{e}");
    }

    #[test]
    fn image_signatures_need_the_cosign_predicate_and_the_digest() {
        let s = |pt: &str| {
            Statement::from_bytes(
                format!(r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"aa"}}}}],"predicateType":"{pt}","predicate":{{}}}}"#)
                    .as_bytes(),
            )
            .unwrap()
        };
        check_image_signature(&s(COSIGN_SIGN_PREDICATE), "sha256:aa", "l").unwrap();
        let e = check_image_signature(&s("https://slsa.dev/provenance/v1"), "sha256:aa", "l")
            .unwrap_err();
        assert_eq!(e.failed_claim(), Some("predicateType"));
        let e = check_image_signature(&s(COSIGN_SIGN_PREDICATE), "sha256:bb", "l").unwrap_err();
        assert_eq!(e.failed_claim(), Some("statement subject"));
    }
}
