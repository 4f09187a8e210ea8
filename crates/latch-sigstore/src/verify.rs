//! Verifying one bundle against an artifact, a list of acceptable signers and a
//! transparency-log requirement.

use serde::Serialize;
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash, SignatureContent};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy};

use crate::error::{Error, Result};
use crate::policy::{Signer, TlogRequirement};
use crate::root::TrustRoot;
use crate::statement::Statement;

/// What was signed: the bytes, or their SHA-256 (an image digest, a large file hashed by
/// the caller). A DSSE bundle binds it through its statement's subjects.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// The artifact's SHA-256. Enough for every scheme but Ed25519 message signatures.
    Sha256([u8; 32]),
}

/// Who signed, as established.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SignerInfo {
    /// A trusted key.
    Key {
        /// The key's name in the policy.
        name: String,
    },
    /// A Fulcio certificate.
    Certificate {
        /// The SAN.
        identity: Option<String>,
        /// The OIDC issuer.
        issuer: Option<String>,
    },
}

/// One transparency-log entry of a verified bundle.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntryInfo {
    /// Its index in the log.
    pub log_index: u64,
    /// The log's ID (hex SHA-256 of its key).
    pub log_id: String,
    /// `kind/version` of the entry (`dsse/0.0.1`, `hashedrekord/0.0.2`…).
    pub kind: String,
    /// When the log says it integrated the entry (Rekor v1), unix seconds.
    pub integrated_time: Option<i64>,
}

/// A bundle that verified.
#[derive(Debug, Clone, Serialize)]
pub struct BundleVerification {
    /// Where it came from.
    pub location: String,
    /// The bundle's media type.
    pub media_type: String,
    /// Who signed.
    pub signer: SignerInfo,
    /// The identity claims checked, in order, as `(claim, value)`.
    pub claims: Vec<(String, String)>,
    /// The log entries.
    pub log_entries: Vec<LogEntryInfo>,
    /// Whether every log entry's inclusion proof and signed checkpoint were verified.
    pub inclusion_proof_verified: bool,
    /// Whether the log entries were verified (proofs and checkpoints where present, SETs).
    pub log_verified: bool,
    /// Whether a certificate chain (and SCT) was verified.
    pub certificate_verified: bool,
    /// Authenticated signing times (SET integrated times, RFC 3161 timestamps), unix
    /// seconds.
    pub signed_times: Vec<i64>,
    /// The in-toto statement, for a DSSE bundle (its bytes verified).
    pub statement: Option<Statement>,
}

impl BundleVerification {
    /// The highest log index among the entries.
    pub fn max_log_index(&self) -> Option<u64> {
        self.log_entries.iter().map(|e| e.log_index).max()
    }

    /// The verified in-toto statement, or an error naming the bundle when it signs a
    /// message instead of a DSSE envelope (attestations and cosign v3 image signatures
    /// are always statements).
    pub fn require_statement(&self) -> Result<&Statement> {
        self.statement.as_ref().ok_or_else(|| Error::Claim {
            location: self.location.clone(),
            claim: "bundle content".into(),
            expected: "a DSSE envelope with an in-toto statement".into(),
            found: "a message signature".into(),
        })
    }
}

/// Parses a bundle (v0.1, v0.2, v0.3), bounded by [`crate::MAX_BUNDLE_BYTES`].
pub fn parse_bundle(bytes: &[u8], location: &str) -> Result<Bundle> {
    let bad = |detail: String| Error::BadBundle {
        location: location.to_owned(),
        detail,
    };
    if bytes.len() > crate::MAX_BUNDLE_BYTES {
        return Err(bad(format!(
            "{} bytes, more than the {} allowed",
            bytes.len(),
            crate::MAX_BUNDLE_BYTES
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    Bundle::from_json(text).map_err(|e| bad(e.to_string()))
}

/// Parses and verifies a bundle: see [`verify_parsed_bundle`].
pub fn verify_bundle(
    root: &TrustRoot,
    bundle_bytes: &[u8],
    location: &str,
    artifact: Artifact<'_>,
    signers: &[Signer],
    tlog: TlogRequirement,
) -> Result<BundleVerification> {
    let bundle = parse_bundle(bundle_bytes, location)?;
    verify_parsed_bundle(root, &bundle, location, artifact, signers, tlog)
}

/// Verifies `bundle` over `artifact`: the signature, the certificate chain to `root` as of
/// the signing time and its SCT (keyless), the transparency log as `tlog` requires, the
/// binding between log entries and the bundle, the artifact binding (message digest, or
/// the DSSE statement's subjects), and that one of `signers` signed: a key (for a bundle
/// without a certificate) or an identity whose every claim matches.
pub fn verify_parsed_bundle(
    root: &TrustRoot,
    bundle: &Bundle,
    location: &str,
    artifact: Artifact<'_>,
    signers: &[Signer],
    tlog: TlogRequirement,
) -> Result<BundleVerification> {
    if signers.is_empty() {
        return Err(Error::Policy("no trusted key or identity".into()));
    }
    let keyless = !matches!(
        bundle.verification_material.content,
        VerificationMaterialContent::PublicKey(_)
    );
    let full_tlog = tlog == TlogRequirement::Required;
    let sha;
    let artifact: sigstore_verify::types::Artifact<'_> = match artifact {
        Artifact::Bytes(b) => b.into(),
        Artifact::Sha256(d) => {
            sha = Sha256Hash::from(d);
            (&sha).into()
        }
    };
    let verification_error = |source: sigstore_verify::Error| match source {
        sigstore_verify::Error::ArtifactMismatch(_) => subject_error(bundle, location, &artifact)
            .unwrap_or(Error::Verification {
                location: location.to_owned(),
                source,
            }),
        sigstore_verify::Error::Certificate(_) => validity_error(bundle, location, &source)
            .unwrap_or(Error::Verification {
                location: location.to_owned(),
                source,
            }),
        source => Error::Verification {
            location: location.to_owned(),
            source,
        },
    };
    let (signer, claims, result) = if keyless {
        let identities: Vec<_> = signers
            .iter()
            .filter_map(|s| match s {
                Signer::Identity(p) => Some(p),
                Signer::Key { .. } => None,
            })
            .collect();
        if identities.is_empty() {
            return Err(Error::UntrustedSigner {
                location: location.to_owned(),
                detail: "the bundle is signed with a certificate, but only keys are trusted".into(),
            });
        }
        let mut policy = VerificationPolicy::any_identity();
        if !full_tlog {
            policy = policy.skip_tlog_unsafe();
        }
        let result = root
            .verifier()
            .verify(artifact.clone(), bundle, &policy)
            .map_err(verification_error)?;
        let cert = result.certificate().ok_or_else(|| Error::BadBundle {
            location: location.to_owned(),
            detail: "no signing certificate".into(),
        })?;
        let mut failures = Vec::new();
        let mut accepted = None;
        for identity in &identities {
            match identity.check(cert, location) {
                Ok(claims) => {
                    accepted = Some(claims);
                    break;
                }
                Err(e) => failures.push(e),
            }
        }
        let claims = match accepted {
            Some(c) => c,
            None if failures.len() == 1 => return Err(failures.remove(0)),
            None => {
                return Err(Error::UntrustedSigner {
                    location: location.to_owned(),
                    detail: failures
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                });
            }
        };
        let info = SignerInfo::Certificate {
            identity: cert.identity.as_ref().map(|s| s.as_str().to_owned()),
            issuer: cert.issuer.clone(),
        };
        (info, claims, result)
    } else {
        let keys: Vec<_> = signers
            .iter()
            .filter_map(|s| match s {
                Signer::Key { der, name } => Some((der, name)),
                Signer::Identity(_) => None,
            })
            .collect();
        if keys.is_empty() {
            return Err(Error::UntrustedSigner {
                location: location.to_owned(),
                detail: "the bundle is signed with a key, but only identities are trusted".into(),
            });
        }
        let unlogged = !full_tlog
            && bundle.verification_material.tlog_entries.is_empty()
            && bundle
                .verification_material
                .timestamp_verification_data
                .rfc3161_timestamps
                .is_empty();
        if unlogged {
            // sigstore-verify refuses any bundle without a log entry or a timestamp
            // ("no signing time evidence"), even when the log is not required; a
            // key-signed bundle pushed with `--tlog-upload=false` has neither. Its
            // signature and artifact binding are checked here.
            return verify_unlogged(bundle, location, &artifact, &keys);
        }
        let mut failures = Vec::new();
        let mut found = None;
        for (der, name) in keys {
            let mut policy = PublicKeyVerificationPolicy::new(DerPublicKey::new(der.clone()));
            if !full_tlog {
                policy = policy.skip_tlog_unsafe();
            }
            match root.verifier().verify(artifact.clone(), bundle, &policy) {
                Ok(r) => {
                    found = Some((name.clone(), r));
                    break;
                }
                Err(e) => failures.push((name.clone(), e)),
            }
        }
        let (name, result) = match found {
            Some(f) => f,
            None if failures.len() == 1 => {
                let (_, e) = failures.remove(0);
                return Err(verification_error(e));
            }
            None => {
                return Err(Error::UntrustedSigner {
                    location: location.to_owned(),
                    detail: failures
                        .iter()
                        .map(|(n, e)| format!("key {n}: {e}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                });
            }
        };
        let claims = vec![("key".to_owned(), name.clone())];
        (SignerInfo::Key { name }, claims, result)
    };
    let statement = match &bundle.content {
        SignatureContent::DsseEnvelope(env) => Some(
            Statement::from_bytes(env.payload.as_bytes()).map_err(|detail| Error::BadBundle {
                location: location.to_owned(),
                detail: format!("DSSE payload: {detail}"),
            })?,
        ),
        _ => None,
    };
    let log_entries = bundle
        .verification_material
        .tlog_entries
        .iter()
        .map(|e| LogEntryInfo {
            log_index: e.log_index.get(),
            log_id: hex_of(e.log_id.key_id.as_bytes()),
            kind: format!("{}/{}", e.kind_version.kind(), e.kind_version.version()),
            integrated_time: e.integrated_time.map(|t| t.as_second()),
        })
        .collect();
    Ok(BundleVerification {
        location: location.to_owned(),
        media_type: bundle.media_type().as_str().to_owned(),
        signer,
        claims,
        log_entries,
        inclusion_proof_verified: result.tlog_verified()
            && !bundle.verification_material.tlog_entries.is_empty()
            && bundle
                .verification_material
                .tlog_entries
                .iter()
                .all(|e| e.inclusion_proof.is_some()),
        log_verified: result.tlog_verified(),
        certificate_verified: result.certificate_verified(),
        signed_times: result
            .verified_timestamps()
            .iter()
            .map(|t| t.as_second())
            .collect(),
        statement,
    })
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A clear error for a DSSE statement whose subjects do not include the artifact.
fn subject_error(
    bundle: &Bundle,
    location: &str,
    artifact: &sigstore_verify::types::Artifact<'_>,
) -> Option<Error> {
    let SignatureContent::DsseEnvelope(env) = &bundle.content else {
        return None;
    };
    let statement = Statement::from_bytes(env.payload.as_bytes()).ok()?;
    let expected = match artifact {
        sigstore_verify::types::Artifact::Blob(b) => {
            format!("sha256:{}", sigstore_verify::crypto::sha256(b).to_hex())
        }
        sigstore_verify::types::Artifact::Digest(d) => {
            format!("sha256:{}", hex_of(d.as_bytes()))
        }
        _ => return None,
    };
    Some(Error::claim(
        location,
        "statement subject",
        format!("a subject with digest {expected}"),
        Some(&statement.subject_digests().join(", ")),
    ))
}

/// A clear error for a certificate refused because the signing time falls outside its
/// validity period (the log's integrated time is read only to explain a refusal that
/// sigstore-verify already made).
fn validity_error(
    bundle: &Bundle,
    location: &str,
    source: &sigstore_verify::Error,
) -> Option<Error> {
    let cert =
        sigstore_verify::crypto::parse_certificate_info(bundle.signing_certificate()?).ok()?;
    let time = bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter_map(|e| e.integrated_time)
        .find(|t| *t < cert.not_before || *t > cert.not_after)?;
    Some(Error::claim(
        location,
        "certificate validity",
        format!(
            "signed between notBefore {} and notAfter {}",
            cert.not_before, cert.not_after
        ),
        Some(&format!("logged at {time} ({source})")),
    ))
}

/// A key-signed bundle with no log entry and no timestamp: the signature (over the DSSE
/// PAE, or over the artifact for a message signature) with one of `keys`, and the artifact
/// binding (a statement subject, or the message digest).
fn verify_unlogged(
    bundle: &Bundle,
    location: &str,
    artifact: &sigstore_verify::types::Artifact<'_>,
    keys: &[(&Vec<u8>, &String)],
) -> Result<BundleVerification> {
    use sigstore_verify::crypto::{KeyAlgorithm, verify_signature, verify_signature_prehashed};
    use sigstore_verify::types::Artifact as A;
    let digest = match artifact {
        A::Blob(b) => sigstore_verify::crypto::sha256(b).as_bytes().to_vec(),
        A::Digest(d) => d.as_bytes().to_vec(),
        _ => {
            return Err(Error::BadBundle {
                location: location.to_owned(),
                detail: "unsupported artifact input".into(),
            });
        }
    };
    let mut failures = Vec::new();
    for (der, name) in keys {
        let key = DerPublicKey::new((*der).clone());
        let scheme = match KeyAlgorithm::from_spki(&key) {
            Ok(a) => a.default_signing_scheme(),
            Err(e) => {
                failures.push(format!("key {name}: {e}"));
                continue;
            }
        };
        let checked = match &bundle.content {
            SignatureContent::DsseEnvelope(env) => {
                verify_signature(&key, &env.pae(), &env.signature.sig, scheme)
            }
            SignatureContent::MessageSignature(m) => {
                match (artifact, scheme.supports_prehashed()) {
                    (A::Blob(b), _) => verify_signature(&key, b, &m.signature, scheme),
                    (_, true) => verify_signature_prehashed(&key, &digest, &m.signature, scheme),
                    (_, false) => {
                        failures.push(format!("key {name}: its scheme needs the artifact's bytes"));
                        continue;
                    }
                }
            }
            _ => {
                return Err(Error::BadBundle {
                    location: location.to_owned(),
                    detail: "unsupported bundle content".into(),
                });
            }
        };
        if let Err(e) = checked {
            failures.push(format!("key {name}: invalid signature: {e}"));
            continue;
        }
        let hex_digest = format!("sha256:{}", hex_of(&digest));
        let statement = match &bundle.content {
            SignatureContent::DsseEnvelope(env) => {
                if env.payload_type != crate::statement::IN_TOTO_PAYLOAD_TYPE {
                    return Err(Error::BadBundle {
                        location: location.to_owned(),
                        detail: format!("DSSE payload type {:?}", env.payload_type),
                    });
                }
                let st = Statement::from_bytes(env.payload.as_bytes()).map_err(|detail| {
                    Error::BadBundle {
                        location: location.to_owned(),
                        detail: format!("DSSE payload: {detail}"),
                    }
                })?;
                if !st.has_subject(&hex_digest) {
                    return Err(Error::claim(
                        location,
                        "statement subject",
                        format!("a subject with digest {hex_digest}"),
                        Some(&st.subject_digests().join(", ")),
                    ));
                }
                Some(st)
            }
            SignatureContent::MessageSignature(m) => {
                if let Some(md) = &m.message_digest
                    && (md.algorithm != sigstore_verify::types::HashAlgorithm::Sha2256
                        || md.digest.as_bytes() != digest.as_slice())
                {
                    return Err(Error::claim(
                        location,
                        "message digest",
                        hex_digest,
                        Some(&format!("sha256:{}", hex_of(md.digest.as_bytes()))),
                    ));
                }
                None
            }
            _ => None,
        };
        return Ok(BundleVerification {
            location: location.to_owned(),
            media_type: bundle.media_type().as_str().to_owned(),
            signer: SignerInfo::Key {
                name: (*name).clone(),
            },
            claims: vec![("key".to_owned(), (*name).clone())],
            log_entries: Vec::new(),
            inclusion_proof_verified: false,
            log_verified: false,
            certificate_verified: false,
            signed_times: Vec::new(),
            statement,
        });
    }
    Err(Error::UntrustedSigner {
        location: location.to_owned(),
        detail: failures.join("; "),
    })
}
