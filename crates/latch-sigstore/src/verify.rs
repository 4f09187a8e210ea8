//! Verifying one bundle against an artifact, a list of acceptable signers and a
//! transparency-log requirement.

mod hashedrekord;
mod keys;
mod leaf;
mod tlog;

use serde::Serialize;
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash, SignatureContent};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult};

use crate::error::{Error, Result};
use crate::policy::{IdentityPolicy, Signer, TlogRequirement};
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
    /// The identity claims checked, in order, as `(claim, value)`: those of the first
    /// signer in [`BundleVerification::matched`].
    pub claims: Vec<(String, String)>,
    /// Every signer this bundle satisfies, as indices into the `signers` given to
    /// [`verify_parsed_bundle`], in order: for a key-signed bundle, the key that verified
    /// (and any other entry of the list with the same key); for a certificate, each
    /// identity whose whole policy (issuer, SAN, GitHub claims) it satisfies. A trust
    /// decision that counts distinct signers matches bundles to signers with these.
    pub matched: Vec<usize>,
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
/// [`BundleVerification::matched`] lists every signer of `signers` the bundle satisfies.
///
/// A bundle that lists one log entry twice is refused ([`Error::DuplicateLogEntry`]).
/// Message signatures by ECDSA P-384 and P-521 keys (their `hashedrekord` entries carry
/// the artifact's SHA-384 / SHA-512) are verified by Latch itself, with the same checks,
/// because sigstore-verify refuses them; their artifact must be given as bytes.
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
    tlog::refuse_duplicates(bundle, location)?;
    let keyless = !matches!(
        bundle.verification_material.content,
        VerificationMaterialContent::PublicKey(_)
    );
    let full_tlog = tlog == TlogRequirement::Required;
    let input = artifact;
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
    let (signer, claims, matched, outcome) = if keyless {
        let identities: Vec<(usize, &IdentityPolicy)> = signers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Signer::Identity(p) => Some((i, p)),
                Signer::Key { .. } => None,
            })
            .collect();
        if identities.is_empty() {
            return Err(Error::UntrustedSigner {
                location: location.to_owned(),
                detail: "the bundle is signed with a certificate, but only keys are trusted".into(),
            });
        }
        let leaf_key = hashedrekord::certificate_key(bundle);
        let (identity, issuer, ci, outcome) = if leaf_key
            .as_deref()
            .is_some_and(|k| hashedrekord::handles(bundle, k))
        {
            let checked = hashedrekord::verify(root, bundle, location, input, None, full_tlog)
                .map_err(|e| match e {
                    Error::Verification { source, .. } => verification_error(source),
                    e => e,
                })?;
            let outcome = Outcome::checked(&checked);
            let leaf = checked.leaf.ok_or_else(|| Error::BadBundle {
                location: location.to_owned(),
                detail: "no signing certificate".into(),
            })?;
            (leaf.identity, leaf.issuer, leaf.ci, outcome)
        } else {
            refuse_unbound_hash_algorithms(bundle, location)?;
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
            // sigstore-verify reads an email or URI SAN only; Fulcio's username SAN is an
            // otherName.
            let identity = match &cert.identity {
                Some(san) => Some(san.as_str().to_owned()),
                None => match bundle.signing_certificate() {
                    Some(der) => {
                        leaf::identity_of(der.as_bytes()).map_err(|detail| Error::BadBundle {
                            location: location.to_owned(),
                            detail: format!("signing certificate: {detail}"),
                        })?
                    }
                    None => None,
                },
            };
            let outcome = Outcome::of(&result, bundle);
            (
                identity,
                cert.issuer.clone(),
                cert.ci_claims.clone(),
                outcome,
            )
        };
        let mut failures = Vec::new();
        let mut matched = Vec::new();
        let mut accepted = None;
        for (index, policy) in &identities {
            match policy.check_claims(identity.as_deref(), issuer.as_deref(), &ci, location) {
                Ok(claims) => {
                    matched.push(*index);
                    accepted.get_or_insert(claims);
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
        let info = SignerInfo::Certificate { identity, issuer };
        (info, claims, matched, outcome)
    } else {
        let keys: Vec<(usize, &Vec<u8>, &String)> = signers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Signer::Key { der, name } => Some((i, der, name)),
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
            return verify_unlogged(bundle, location, &artifact, input, &keys);
        }
        let mut failures: Vec<(String, Error)> = Vec::new();
        let mut found = None;
        for (_, der, name) in &keys {
            let attempt = if hashedrekord::handles(bundle, der) {
                hashedrekord::verify(root, bundle, location, input, Some(der), full_tlog)
                    .map(|c| Outcome::checked(&c))
            } else {
                refuse_unbound_hash_algorithms(bundle, location).and_then(|()| {
                    let mut policy =
                        PublicKeyVerificationPolicy::new(DerPublicKey::new((*der).clone()));
                    if !full_tlog {
                        policy = policy.skip_tlog_unsafe();
                    }
                    root.verifier()
                        .verify(artifact.clone(), bundle, &policy)
                        .map(|r| Outcome::of(&r, bundle))
                        .map_err(verification_error)
                })
            };
            match attempt {
                Ok(outcome) => {
                    found = Some((*der, (*name).clone(), outcome));
                    break;
                }
                Err(e) => failures.push(((*name).clone(), e)),
            }
        }
        let (der, name, outcome) = match found {
            Some(f) => f,
            None if failures.len() == 1 => return Err(failures.remove(0).1),
            None => {
                return Err(Error::UntrustedSigner {
                    location: location.to_owned(),
                    detail: failures
                        .iter()
                        .map(|(n, e)| format!("key {n}: {}", detail_of(e)))
                        .collect::<Vec<_>>()
                        .join("; "),
                });
            }
        };
        // The key that verified, and any other entry of the list with the same key.
        let matched = keys
            .iter()
            .filter(|(_, d, _)| *d == der)
            .map(|(i, _, _)| *i)
            .collect();
        let claims = vec![("key".to_owned(), name.clone())];
        (SignerInfo::Key { name }, claims, matched, outcome)
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
    // Only what a verified SET covers is reported: its log, index and integration time.
    // An entry with only an inclusion proof has its top-level index, log id and time
    // unauthenticated (the proof covers the body, under a checkpoint of some trusted
    // log), and with the log not required nothing is verified at all; an attacker could
    // set them to move a rollback ratchet. Authenticated times are in `signed_times`.
    let log_entries = bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter(|e| outcome.log_verified && e.inclusion_promise.is_some())
        .map(|e| LogEntryInfo {
            log_index: e.log_index.get(),
            log_id: hex::encode(e.log_id.key_id.as_bytes()),
            kind: format!("{}/{}", e.kind_version.kind(), e.kind_version.version()),
            integrated_time: e.integrated_time.map(|t| t.as_second()),
        })
        .collect();
    Ok(BundleVerification {
        location: location.to_owned(),
        media_type: bundle.media_type().as_str().to_owned(),
        signer,
        claims,
        matched,
        log_entries,
        inclusion_proof_verified: outcome.inclusion_proof_verified,
        log_verified: outcome.log_verified,
        certificate_verified: outcome.certificate_verified,
        signed_times: outcome.signed_times,
        statement,
    })
}

/// What the log, certificate and time checks established, by sigstore-verify or by
/// [`hashedrekord`].
struct Outcome {
    log_verified: bool,
    inclusion_proof_verified: bool,
    certificate_verified: bool,
    signed_times: Vec<i64>,
}

impl Outcome {
    fn of(result: &VerificationResult, bundle: &Bundle) -> Outcome {
        let entries = &bundle.verification_material.tlog_entries;
        Outcome {
            log_verified: result.tlog_verified(),
            inclusion_proof_verified: result.tlog_verified()
                && !entries.is_empty()
                && entries.iter().all(|e| e.inclusion_proof.is_some()),
            certificate_verified: result.certificate_verified(),
            signed_times: result
                .verified_timestamps()
                .iter()
                .map(|t| t.as_second())
                .collect(),
        }
    }

    fn checked(c: &hashedrekord::Checked) -> Outcome {
        Outcome {
            log_verified: c.log_verified,
            inclusion_proof_verified: c.inclusion_proof_verified,
            certificate_verified: c.certificate_verified,
            signed_times: c.signed_times.clone(),
        }
    }
}

/// An error's text without the bundle's location (for a list of per-key failures).
fn detail_of(e: &Error) -> String {
    match e {
        Error::Verification { source, .. } => source.to_string(),
        e => e.to_string(),
    }
}

/// Before a message signature goes to sigstore-verify: it compares each `hashedrekord`
/// 0.0.1 entry's hash as a SHA-256 whatever the entry's `data.hash.algorithm` says
/// (`verify_impl/hashedrekord.rs::verify_hashedrekord_entry`), and checks the signature
/// with the hash the bundle's message digest names. Refuse an entry that says another
/// algorithm, or a message digest of another algorithm than the entries': the entry
/// would not record what was signed.
fn refuse_unbound_hash_algorithms(bundle: &Bundle, location: &str) -> Result<()> {
    let SignatureContent::MessageSignature(message) = &bundle.content else {
        return Ok(());
    };
    let logged = tlog::hashedrekord_v1_algorithms(bundle);
    if let Some((log_index, algorithm)) = logged.iter().find(|(_, a)| a != "sha256") {
        return Err(Error::LogEntryMismatch {
            location: location.to_owned(),
            log_index: *log_index,
            field: "hash algorithm".into(),
            expected: "sha256 (an ECDSA P-256, RSA or Ed25519 signer)".into(),
            found: algorithm.clone(),
        });
    }
    if let (Some((log_index, _)), Some(md)) = (logged.first(), &message.message_digest)
        && keys::Hash::from_bundle(md.algorithm) != Some(keys::Hash::Sha256)
    {
        return Err(Error::LogEntryMismatch {
            location: location.to_owned(),
            log_index: *log_index,
            field: "hash algorithm".into(),
            expected: format!(
                "the message digest's {}",
                keys::Hash::from_bundle(md.algorithm)
                    .map_or("unsupported algorithm", keys::Hash::rekor_name)
            ),
            found: "sha256".into(),
        });
    }
    Ok(())
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
            format!("sha256:{}", hex::encode(d.as_bytes()))
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
    let (not_before, not_after) = leaf::validity_of(bundle.signing_certificate()?.as_bytes())?;
    let time = bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter_map(|e| e.integrated_time)
        .find(|t| *t < not_before || *t > not_after)?;
    Some(Error::claim(
        location,
        "certificate validity",
        format!("signed between notBefore {not_before} and notAfter {not_after}"),
        Some(&format!("logged at {time} ({source})")),
    ))
}

/// A key-signed bundle with no log entry and no timestamp: the signature (over the DSSE
/// PAE, or over the artifact for a message signature) with one of `keys`, and the artifact
/// binding (a statement subject, or the message digest). ECDSA P-384 and P-521 keys sign
/// with SHA-384 and SHA-512 (a message signature by one needs the artifact's bytes).
fn verify_unlogged(
    bundle: &Bundle,
    location: &str,
    artifact: &sigstore_verify::types::Artifact<'_>,
    input: Artifact<'_>,
    keys: &[(usize, &Vec<u8>, &String)],
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
    for (_, der, name) in keys {
        // The hash a message digest must be made with, and whether the signature verified.
        let (hash, checked) =
            match keys::EcKey::from_spki(der).filter(|k| k.curve.needs_own_verification()) {
                Some(ec) => {
                    let checked = match (&bundle.content, input) {
                        (SignatureContent::DsseEnvelope(env), _) => {
                            ec.verify(&env.pae(), env.signature.sig.as_bytes())
                        }
                        (SignatureContent::MessageSignature(m), Artifact::Bytes(b)) => {
                            ec.verify(b, m.signature.as_bytes())
                        }
                        (SignatureContent::MessageSignature(_), Artifact::Sha256(_)) => {
                            failures.push(format!(
                                "key {name}: {} signs the artifact's {}: its bytes are needed",
                                ec.curve.name(),
                                ec.curve.hash().display_name()
                            ));
                            continue;
                        }
                        _ => {
                            return Err(Error::BadBundle {
                                location: location.to_owned(),
                                detail: "unsupported bundle content".into(),
                            });
                        }
                    };
                    (ec.curve.hash(), checked)
                }
                None => {
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
                                (_, true) => {
                                    verify_signature_prehashed(&key, &digest, &m.signature, scheme)
                                }
                                (_, false) => {
                                    failures.push(format!(
                                        "key {name}: its scheme needs the artifact's bytes"
                                    ));
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
                    (keys::Hash::Sha256, checked.map_err(|e| e.to_string()))
                }
            };
        if let Err(e) = checked {
            failures.push(format!("key {name}: invalid signature: {e}"));
            continue;
        }
        let hex_digest = format!("sha256:{}", hex::encode(&digest));
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
                if let Some(md) = &m.message_digest {
                    // The artifact's hash with the key's hash (the caller's SHA-256 for
                    // P-256, RSA and Ed25519 keys; P-384/P-521 ones were given bytes).
                    let expected = match (hash, input) {
                        (keys::Hash::Sha256, _) => digest.clone(),
                        (h, Artifact::Bytes(b)) => h.digest(b),
                        (_, Artifact::Sha256(_)) => digest.clone(),
                    };
                    let found = keys::Hash::from_bundle(md.algorithm);
                    if found != Some(hash) || md.digest.as_bytes() != expected.as_slice() {
                        return Err(Error::claim(
                            location,
                            "message digest",
                            format!("{}:{}", hash.rekor_name(), hex::encode(&expected)),
                            Some(&format!(
                                "{}:{}",
                                found.map_or("unsupported", keys::Hash::rekor_name),
                                hex::encode(md.digest.as_bytes())
                            )),
                        ));
                    }
                }
                None
            }
            _ => None,
        };
        let matched = keys
            .iter()
            .filter(|(_, d, _)| d == der)
            .map(|(i, _, _)| *i)
            .collect();
        return Ok(BundleVerification {
            location: location.to_owned(),
            media_type: bundle.media_type().as_str().to_owned(),
            signer: SignerInfo::Key {
                name: (*name).clone(),
            },
            claims: vec![("key".to_owned(), (*name).clone())],
            matched,
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
