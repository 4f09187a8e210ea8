//! Message-signature bundles by ECDSA P-384 and P-521 signers, verified here because
//! sigstore-verify 0.15 refuses them all:
//!
//! - P-384: the `hashedrekord` entry carries the artifact's SHA-384 (the hash P-384
//!   signs with), which `verify_impl/hashedrekord.rs::verify_hashedrekord_entry` parses
//!   as a SHA-256 ("SHA-256 hash must be 32 bytes, got 48"), for key- and
//!   certificate-signed bundles alike;
//! - P-521: `sigstore-crypto` cannot read the key at all
//!   (`verification.rs::key_algorithm`, called by `prepare_public_key` for a key and by
//!   `parse_certificate_info` for a certificate: "unsupported or invalid EC curve
//!   parameters").
//!
//! Every check sigstore-verify makes is made here, with its building blocks where they
//! are right (trusted root key rings, checkpoints, RFC 3161 timestamps, structural
//! validation) and by hand where they are not:
//!
//! 1. the bundle's structure for its version (v0.1 needs a SET, v0.2/v0.3 a proof);
//! 2. signing times: every RFC 3161 timestamp, and the integrated time of each Rekor v1
//!    entry whose SET verifies (never in the future);
//! 3. a certificate: its chain to a trusted CA valid at each signing time, the
//!    code-signing EKU, its validity at each signing time, and its SCT;
//! 4. the log (unless not required): each entry's inclusion proof and signed
//!    checkpoint, its SET, at least one of them per entry and the proof for v0.2/v0.3,
//!    its integrated time within the log key's validity (and the certificate's);
//! 5. the message digest, when the bundle has one: the curve's hash of the artifact;
//! 6. the signature over the artifact, with the curve's hash;
//! 7. every entry bound to this bundle: `hashedrekord`, the curve's hash algorithm, the
//!    artifact's hash, this signature, this key or certificate (Rekor v2: its
//!    `keyDetails` too).

use sigstore_verify::bundle::{ValidationOptions, validate_bundle_with_options};
use sigstore_verify::types::bundle::{MessageSignature, VerificationMaterialContent};
use sigstore_verify::types::{Bundle, KindVersion, SignatureContent};
use sigstore_verify::{Error as SvError, TimestampError, TransparencyLogError};

use super::Artifact;
use super::keys::{EcKey, Hash};
use super::leaf::{Leaf, verify_chain, verify_sct};
use super::tlog::{self, LoggedVerifier};
use crate::error::{Error, Result};
use crate::root::TrustRoot;

/// What was established.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The certificate, for a certificate-signed bundle (its claims still to be matched
    /// against the policy).
    pub(crate) leaf: Option<Leaf>,
    pub(crate) log_verified: bool,
    pub(crate) inclusion_proof_verified: bool,
    pub(crate) certificate_verified: bool,
    /// Authenticated signing times, unix seconds.
    pub(crate) signed_times: Vec<i64>,
}

fn message_signature(bundle: &Bundle) -> Option<&MessageSignature> {
    match &bundle.content {
        SignatureContent::MessageSignature(m) => Some(m),
        _ => None,
    }
}

/// Whether a message-signature `bundle` signed by the key `spki` (the key to try, or the
/// certificate's key) is one that sigstore-verify gets wrong and this module verifies.
pub(crate) fn handles(bundle: &Bundle, spki: &[u8]) -> bool {
    message_signature(bundle).is_some()
        && EcKey::from_spki(spki).is_some_and(|k| k.curve.needs_own_verification())
}

/// The public key of the bundle's signing certificate, if it has one that parses.
pub(crate) fn certificate_key(bundle: &Bundle) -> Option<Vec<u8>> {
    let der = bundle.signing_certificate()?;
    Leaf::parse(der.as_bytes()).ok().map(|l| l.spki)
}

/// Verifies a message-signature bundle signed by the key `key` (DER SPKI) or, when `key`
/// is `None`, by its certificate. See the module documentation for the checks.
pub(crate) fn verify(
    root: &TrustRoot,
    bundle: &Bundle,
    location: &str,
    artifact: Artifact<'_>,
    key: Option<&[u8]>,
    full_tlog: bool,
) -> Result<Checked> {
    let sv = |source: SvError| Error::Verification {
        location: location.to_owned(),
        source,
    };
    let message = message_signature(bundle).ok_or_else(|| Error::BadBundle {
        location: location.to_owned(),
        detail: "not a message signature".into(),
    })?;
    // 1. Structure.
    validate_bundle_with_options(
        bundle,
        &ValidationOptions::new()
            .with_require_inclusion_proof(full_tlog)
            .with_require_timestamp(false),
    )
    .map_err(|e| sv(SvError::Bundle(e)))?;
    let is_key_material = matches!(
        bundle.verification_material.content,
        VerificationMaterialContent::PublicKey(_)
    );
    let (leaf, spki) = match key {
        Some(spki) => {
            if !is_key_material {
                return Err(sv(SvError::UnsupportedBundle(
                    "bundle contains a certificate but public-key verification was requested"
                        .into(),
                )));
            }
            (None, spki.to_vec())
        }
        None => {
            let der = bundle.signing_certificate().ok_or_else(|| {
                sv(SvError::InvalidBundle(
                    "bundle has no signing certificate".into(),
                ))
            })?;
            let leaf = Leaf::parse(der.as_bytes()).map_err(sv)?;
            let spki = leaf.spki.clone();
            (Some(leaf), spki)
        }
    };
    let ec = EcKey::from_spki(&spki).ok_or_else(|| {
        sv(SvError::UnsupportedBundle(
            "not an ECDSA key on a NIST curve".into(),
        ))
    })?;
    let hash = ec.curve.hash();
    let bytes = match artifact {
        Artifact::Bytes(b) => b,
        Artifact::Sha256(_) => {
            return Err(sv(SvError::UnsupportedArtifact(format!(
                "{} message signatures are over the artifact's {}: its bytes are needed, \
                 not its SHA-256",
                ec.curve.name(),
                hash.display_name()
            ))));
        }
    };
    let digest = hash.digest(bytes);
    let now = jiff::Timestamp::now();
    let trusted = root.trusted_root();
    let rekor_keys = trusted
        .rekor_keys()
        .map_err(|e| sv(SvError::TrustRoot(e)))?;
    let entries = &bundle.verification_material.tlog_entries;

    // 2. Signing times.
    let mut times = tsa_times(bundle, message, root).map_err(sv)?;
    if leaf.is_some() || full_tlog {
        for entry in entries.iter().filter(|e| tlog::is_rekor_v1(e)) {
            if let (Some(t), Some(_)) = (entry.integrated_time, &entry.inclusion_promise) {
                tlog::verify_set(entry, &rekor_keys, now).map_err(sv)?;
                if t > now {
                    return Err(sv(TransparencyLogError::IntegratedTime(format!(
                        "integrated time {t} is in the future (current time: {now})"
                    ))
                    .into()));
                }
                times.push(t);
            }
        }
    }

    // 3. The certificate.
    let mut certificate_verified = false;
    if let Some(leaf) = &leaf {
        if times.is_empty() {
            return Err(sv(TimestampError::NoVerifiedTimestamp(
                "no RFC 3161 timestamp and no log entry with an integrated time and a SET".into(),
            )
            .into()));
        }
        let intermediates: Vec<&[u8]> = match &bundle.verification_material.content {
            VerificationMaterialContent::X509CertificateChain { certificates } => certificates
                .iter()
                .skip(1)
                .map(|c| c.raw_bytes.as_bytes())
                .collect(),
            _ => Vec::new(),
        };
        let mut issuer = Vec::new();
        for t in &times {
            issuer = verify_chain(&leaf.der, &intermediates, *t, trusted).map_err(sv)?;
            leaf.check_valid_at(*t).map_err(sv)?;
        }
        verify_sct(&leaf.cert, &issuer, trusted).map_err(sv)?;
        certificate_verified = true;
    }

    // 4. The log.
    let mut proofs = 0;
    if full_tlog {
        let needs_proof = !matches!(
            bundle.media_type(),
            sigstore_verify::types::MediaType::Bundle0_1
        );
        for entry in entries {
            let index = entry.log_index.get();
            let proved = tlog::verify_inclusion(entry, &rekor_keys, now).map_err(sv)?;
            let promised = entry.inclusion_promise.is_some();
            if promised {
                tlog::verify_set(entry, &rekor_keys, now).map_err(sv)?;
            }
            if needs_proof && !proved {
                return Err(sv(TransparencyLogError::InclusionProof(format!(
                    "log entry {index} has no inclusion proof"
                ))
                .into()));
            }
            if !proved && !promised {
                return Err(sv(TransparencyLogError::InclusionPromise(format!(
                    "log entry {index} has neither an inclusion proof nor a SET"
                ))
                .into()));
            }
            proofs += usize::from(proved);
            tlog::check_log_key_at_integration(entry, &rekor_keys).map_err(sv)?;
            if let (Some(leaf), Some(t)) = (&leaf, entry.integrated_time)
                && promised
                && tlog::is_rekor_v1(entry)
                && (t < leaf.not_before || t > leaf.not_after)
            {
                return Err(sv(TransparencyLogError::IntegratedTime(format!(
                    "integrated time {t} is outside the certificate's validity \
                     ({} to {})",
                    leaf.not_before, leaf.not_after
                ))
                .into()));
            }
        }
    }

    // 5. The message digest.
    if let Some(md) = &message.message_digest {
        let found = Hash::from_bundle(md.algorithm);
        if found != Some(hash) {
            return Err(Error::claim(
                location,
                "message digest algorithm",
                format!("{} (what {} signs)", hash.proto_name(), ec.curve.name()),
                Some(found.map_or("an unsupported algorithm", Hash::proto_name)),
            ));
        }
        if md.digest.as_bytes() != digest.as_slice() {
            return Err(sv(SvError::ArtifactMismatch(
                "message digest in bundle does not match artifact hash".into(),
            )));
        }
    }

    // 6. The signature.
    ec.verify(bytes, message.signature.as_bytes())
        .map_err(|e| sv(SvError::SignatureInvalid(e)))?;

    // 7. Every entry bound to this bundle.
    for entry in entries {
        let index = entry.log_index.get();
        if !matches!(
            entry.kind_version,
            KindVersion::HashedRekordV001 | KindVersion::HashedRekordV002
        ) {
            return Err(sv(SvError::UnsupportedBundle(format!(
                "Rekor entry {}/{} is incompatible with a message signature",
                entry.kind_version.kind(),
                entry.kind_version.version()
            ))));
        }
        let logged = tlog::parse_hashedrekord(entry).map_err(sv)?;
        let mismatch = |field: &str, expected: String, found: String| Error::LogEntryMismatch {
            location: location.to_owned(),
            log_index: index,
            field: field.to_owned(),
            expected,
            found,
        };
        let v2 = tlog::is_rekor_v2(entry);
        let name = |h: Hash| if v2 { h.proto_name() } else { h.rekor_name() }.to_owned();
        if logged.hash != Some(hash) {
            return Err(mismatch(
                "hash algorithm",
                format!("{} (what {} signs)", name(hash), ec.curve.name()),
                logged.algorithm,
            ));
        }
        if logged.digest != digest {
            return Err(mismatch(
                "artifact hash",
                format!("{}:{}", hash.rekor_name(), hex::encode(&digest)),
                format!("{}:{}", hash.rekor_name(), hex::encode(&logged.digest)),
            ));
        }
        if logged.signature.as_slice() != message.signature.as_bytes() {
            return Err(mismatch(
                "signature",
                "the bundle's signature".into(),
                "another signature".into(),
            ));
        }
        match (&leaf, &logged.verifier) {
            (None, LoggedVerifier::PublicKey(der)) if *der == spki => {}
            (Some(leaf), LoggedVerifier::Certificate(der)) if *der == leaf.der => {}
            (None, found) => {
                return Err(mismatch(
                    "verifier",
                    format!(
                        "the public key sha256:{}",
                        hex::encode(Hash::Sha256.digest(&spki))
                    ),
                    describe(found),
                ));
            }
            (Some(leaf), found) => {
                return Err(mismatch(
                    "verifier",
                    format!(
                        "the bundle's certificate sha256:{}",
                        hex::encode(Hash::Sha256.digest(&leaf.der))
                    ),
                    describe(found),
                ));
            }
        }
        if let Some(details) = &logged.key_details
            && details != ec.curve.key_details()
        {
            return Err(mismatch(
                "key details",
                ec.curve.key_details().to_owned(),
                details.clone(),
            ));
        }
    }

    Ok(Checked {
        leaf,
        log_verified: full_tlog,
        inclusion_proof_verified: full_tlog && !entries.is_empty() && proofs == entries.len(),
        certificate_verified,
        signed_times: times.iter().map(|t| t.as_second()).collect(),
    })
}

fn describe(v: &LoggedVerifier) -> String {
    match v {
        LoggedVerifier::PublicKey(der) => {
            format!(
                "the public key sha256:{}",
                hex::encode(Hash::Sha256.digest(der))
            )
        }
        LoggedVerifier::Certificate(der) => {
            format!(
                "a certificate sha256:{}",
                hex::encode(Hash::Sha256.digest(der))
            )
        }
    }
}

/// Every RFC 3161 timestamp of the bundle, each verified (over the signature) by one of
/// the root's timestamp authorities within that authority's validity.
fn tsa_times(
    bundle: &Bundle,
    message: &MessageSignature,
    root: &TrustRoot,
) -> std::result::Result<Vec<jiff::Timestamp>, SvError> {
    let tokens = &bundle
        .verification_material
        .timestamp_verification_data
        .rfc3161_timestamps;
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let authorities = root.trusted_root().tsa_authorities();
    let mut times = Vec::new();
    for token in tokens {
        let mut outside = None;
        let mut last = None;
        let mut verified = None;
        for authority in &authorities {
            match sigstore_verify::tsa::verify_timestamp_for_authority(
                &token.signed_timestamp,
                &message.signature,
                authority,
            ) {
                Ok(t) => {
                    verified = Some(t);
                    break;
                }
                Err(sigstore_verify::tsa::Error::TimestampOutsideValidity { time }) => {
                    outside = Some(time)
                }
                Err(e) => last = Some(e.to_string()),
            }
        }
        match (verified, outside) {
            (Some(t), _) => times.push(t),
            (None, Some(time)) => {
                return Err(TimestampError::OutsideAuthorityValidity { time }.into());
            }
            (None, None) => {
                return Err(TimestampError::Invalid(format!(
                    "TSA timestamp verification failed: {}",
                    last.unwrap_or_else(|| "no timestamp authority in the trusted root".into())
                ))
                .into());
            }
        }
    }
    Ok(times)
}
