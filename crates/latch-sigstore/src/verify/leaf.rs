//! The signing (leaf) certificate: its SAN identity, including Fulcio's otherName
//! "username" SAN that sigstore-verify does not read, its Fulcio claims, and, for the
//! bundles Latch verifies itself, its chain to the trusted root and its embedded SCT.
//!
//! sigstore-verify 0.15 reads the identity in `sigstore-crypto` `x509.rs`
//! (`extract_san_identity`): the first `rfc822Name` or `uniformResourceIdentifier`, every
//! other kind skipped. Fulcio issues certificates for OIDC issuers that give a username
//! (`foo!oidc.local`) with the SAN as an otherName of type `1.3.6.1.4.1.57264.1.7`
//! holding a UTF8String (Fulcio `docs/oid-info.md`; cosign
//! `pkg/cosign/certextensions.go::UnmarshalOtherNameSAN`), so for those it finds no
//! identity at all. Here the identity is the first email or URI as before, else the one
//! username otherName (as sigstore-go `certificate/summarize.go` does).

use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use sigstore_verify::crypto::{FulcioCiClaims, SigningScheme, WEBPKI_VERIFICATION_ALGS};
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::{Sha256Hash, SignatureBytes};
use sigstore_verify::{CertificateError, Error as SvError};
use webpki::{EndEntityCert, KeyUsage};
use x509_cert::Certificate;
use x509_cert::der::asn1::{OctetString, Utf8StringRef};
use x509_cert::der::{Any, Decode, Encode, Tag};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::spki::ObjectIdentifier;

/// Fulcio's otherName type for username identities.
pub(crate) const USERNAME_SAN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
const FULCIO_ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1");
const FULCIO_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const FULCIO_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
const CT_PRECERT_SCTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER contents.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

fn malformed(detail: impl Into<String>) -> SvError {
    CertificateError::Malformed(detail.into()).into()
}

/// A parsed leaf certificate.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    /// The certificate (DER), as in the bundle.
    pub(crate) der: Vec<u8>,
    pub(crate) cert: Certificate,
    /// Its public key (DER SubjectPublicKeyInfo).
    pub(crate) spki: Vec<u8>,
    pub(crate) not_before: jiff::Timestamp,
    pub(crate) not_after: jiff::Timestamp,
    /// The SAN identity: the first email or URI, else the username otherName.
    pub(crate) identity: Option<String>,
    /// The OIDC issuer (Fulcio extension `.1.8`, or the legacy `.1.1`).
    pub(crate) issuer: Option<String>,
    /// The CI claims of the Fulcio extensions.
    pub(crate) ci: FulcioCiClaims,
}

impl Leaf {
    pub(crate) fn parse(der: &[u8]) -> Result<Leaf, SvError> {
        let cert = Certificate::from_der(der)
            .map_err(|e| malformed(format!("failed to parse certificate: {e}")))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| malformed(format!("failed to encode SPKI: {e}")))?;
        let (not_before, not_after) = validity(&cert)?;
        let identity = san_identity(&cert).map_err(malformed)?;
        let issuer = fulcio_issuer(&cert).map_err(malformed)?;
        let ci = fulcio_claims(&cert);
        Ok(Leaf {
            der: der.to_vec(),
            cert,
            spki,
            not_before,
            not_after,
            identity,
            issuer,
            ci,
        })
    }

    /// Refuses a signing time outside the certificate's validity.
    pub(crate) fn check_valid_at(&self, time: jiff::Timestamp) -> Result<(), SvError> {
        if time < self.not_before {
            return Err(CertificateError::NotYetValid {
                time,
                not_before: self.not_before,
            }
            .into());
        }
        if time > self.not_after {
            return Err(CertificateError::Expired {
                time,
                not_after: self.not_after,
            }
            .into());
        }
        Ok(())
    }
}

fn validity(cert: &Certificate) -> Result<(jiff::Timestamp, jiff::Timestamp), SvError> {
    let v = &cert.tbs_certificate.validity;
    let not_before = jiff::Timestamp::try_from(v.not_before.to_system_time())
        .map_err(|e| malformed(format!("invalid notBefore time: {e}")))?;
    let not_after = jiff::Timestamp::try_from(v.not_after.to_system_time())
        .map_err(|e| malformed(format!("invalid notAfter time: {e}")))?;
    Ok((not_before, not_after))
}

/// `notBefore` and `notAfter` of a DER certificate.
pub(crate) fn validity_of(der: &[u8]) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
    validity(&Certificate::from_der(der).ok()?).ok()
}

/// The SAN identity of a DER certificate (see [`Leaf::identity`]).
pub(crate) fn identity_of(der: &[u8]) -> Result<Option<String>, String> {
    let cert =
        Certificate::from_der(der).map_err(|e| format!("failed to parse certificate: {e}"))?;
    san_identity(&cert)
}

fn san_identity(cert: &Certificate) -> Result<Option<String>, String> {
    let san: Option<(bool, SubjectAltName)> = cert
        .tbs_certificate
        .get()
        .map_err(|e| format!("failed to read the SAN extension: {e}"))?;
    let Some((_, san)) = san else {
        return Ok(None);
    };
    let mut usernames = Vec::new();
    for name in &san.0 {
        match name {
            GeneralName::Rfc822Name(email) => return Ok(Some(email.to_string())),
            GeneralName::UniformResourceIdentifier(uri) => return Ok(Some(uri.to_string())),
            GeneralName::OtherName(other) if other.type_id == USERNAME_SAN => {
                let value = Utf8StringRef::try_from(&other.value).map_err(|e| {
                    format!("the username SAN ({USERNAME_SAN}) is not a UTF8String: {e}")
                })?;
                usernames.push(value.as_str().to_owned());
            }
            _ => {}
        }
    }
    match usernames.len() {
        0 => Ok(None),
        1 => Ok(usernames.pop()),
        n => Err(format!(
            "{n} username SANs ({USERNAME_SAN}), expected at most one"
        )),
    }
}

/// The OIDC issuer: the DER UTF8String of `.1.8`, else the legacy `.1.1` (a UTF8String
/// or raw UTF-8), as sigstore-crypto reads it.
fn fulcio_issuer(cert: &Certificate) -> Result<Option<String>, String> {
    let Some(exts) = cert.tbs_certificate.extensions.as_ref() else {
        return Ok(None);
    };
    if let Some(ext) = exts.iter().find(|e| e.extn_id == FULCIO_ISSUER_V2) {
        return Utf8StringRef::from_der(ext.extn_value.as_bytes())
            .map(|s| Some(s.as_str().to_owned()))
            .map_err(|e| format!("malformed Fulcio issuer v2 extension: {e}"));
    }
    if let Some(ext) = exts.iter().find(|e| e.extn_id == FULCIO_ISSUER_V1) {
        let bytes = ext.extn_value.as_bytes();
        return bare_string(bytes)
            .map(Some)
            .ok_or_else(|| "malformed Fulcio issuer extension".to_owned());
    }
    Ok(None)
}

fn der_string(bytes: &[u8]) -> Option<String> {
    Utf8StringRef::from_der(bytes)
        .ok()
        .map(|s| s.as_str().to_owned())
}

fn bare_string(bytes: &[u8]) -> Option<String> {
    der_string(bytes).or_else(|| std::str::from_utf8(bytes).ok().map(str::to_owned))
}

/// The CI claims of the Fulcio extensions `.1.2`–`.1.24` (deprecated `.1.2`–`.1.6` hold a
/// bare string, the others a DER UTF8String); absent or malformed claims stay unset.
fn fulcio_claims(cert: &Certificate) -> FulcioCiClaims {
    let mut c = FulcioCiClaims::default();
    let Some(exts) = cert.tbs_certificate.extensions.as_ref() else {
        return c;
    };
    for ext in exts {
        if ext.extn_id.parent() != Some(FULCIO_ARC) {
            continue;
        }
        let Some(number) = ext.extn_id.arc(FULCIO_ARC.len()) else {
            continue;
        };
        let bytes = ext.extn_value.as_bytes();
        let (slot, value) = match number {
            2 => (
                &mut c.deprecated_github.workflow_trigger,
                bare_string(bytes),
            ),
            3 => (&mut c.deprecated_github.workflow_sha, bare_string(bytes)),
            4 => (&mut c.deprecated_github.workflow_name, bare_string(bytes)),
            5 => (
                &mut c.deprecated_github.workflow_repository,
                bare_string(bytes),
            ),
            6 => (&mut c.deprecated_github.workflow_ref, bare_string(bytes)),
            9 => (&mut c.build_signer_uri, der_string(bytes)),
            10 => (&mut c.build_signer_digest, der_string(bytes)),
            11 => (&mut c.runner_environment, der_string(bytes)),
            12 => (&mut c.source_repository_uri, der_string(bytes)),
            13 => (&mut c.source_repository_digest, der_string(bytes)),
            14 => (&mut c.source_repository_ref, der_string(bytes)),
            15 => (&mut c.source_repository_identifier, der_string(bytes)),
            16 => (&mut c.source_repository_owner_uri, der_string(bytes)),
            17 => (&mut c.source_repository_owner_identifier, der_string(bytes)),
            18 => (&mut c.build_config_uri, der_string(bytes)),
            19 => (&mut c.build_config_digest, der_string(bytes)),
            20 => (&mut c.build_trigger, der_string(bytes)),
            21 => (&mut c.run_invocation_uri, der_string(bytes)),
            22 => (
                &mut c.source_repository_visibility_at_signing,
                der_string(bytes),
            ),
            23 => (&mut c.deployment_environment, der_string(bytes)),
            24 => (&mut c.token_subject, der_string(bytes)),
            _ => continue,
        };
        if value.is_some() {
            *slot = value;
        }
    }
    c
}

/// Verifies that `leaf` chains to a certificate authority of `root` that was valid at
/// `time`, with the code-signing EKU (rustls-webpki, as sigstore-verify does); every
/// certificate of an authority's chain is an anchor. Returns the SubjectPublicKeyInfo of
/// the leaf's issuer on the verified path (for the SCT).
pub(crate) fn verify_chain(
    leaf: &[u8],
    intermediates: &[&[u8]],
    time: jiff::Timestamp,
    root: &TrustedRoot,
) -> Result<Vec<u8>, SvError> {
    let mut anchors = Vec::new();
    for ca in &root.certificate_authorities {
        if ca.valid_for.is_some_and(|w| !w.contains(time)) {
            continue;
        }
        for cert in &ca.cert_chain.certificates {
            let der = CertificateDer::from(cert.raw_bytes.as_bytes());
            let anchor = webpki::anchor_from_trusted_cert(&der)
                .map_err(|e| SvError::TrustedCertificate(Box::new(e)))?;
            anchors.push(anchor.to_owned());
        }
    }
    if anchors.is_empty() {
        return Err(CertificateError::NoValidAuthority { time }.into());
    }
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|c| CertificateDer::from(*c))
        .collect();
    let leaf_der = CertificateDer::from(leaf);
    let end_entity = EndEntityCert::try_from(&leaf_der)
        .map_err(|e| malformed(format!("failed to parse end-entity certificate: {e}")))?;
    let at = UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(time.as_second()).unwrap_or(0),
    ));
    let path = end_entity
        .verify_for_usage(
            WEBPKI_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            at,
            KeyUsage::required(CODE_SIGNING),
            None,
            None,
        )
        .map_err(|e| {
            SvError::from(CertificateError::ChainInvalid(format!(
                "certificate chain validation failed: {e}"
            )))
        })?;
    match path.intermediate_certificates().next() {
        Some(issuer) => Ok(issuer.subject_public_key_info().as_ref().to_vec()),
        // webpki gives an anchor's SPKI without its SEQUENCE header.
        None => Any::new(
            Tag::Sequence,
            path.anchor().subject_public_key_info.as_ref(),
        )
        .and_then(|any| any.to_der())
        .map_err(|e| {
            SvError::from(CertificateError::ChainInvalid(format!(
                "failed to encode the issuer's key: {e}"
            )))
        }),
    }
}

/// A TLS-encoded byte reader (RFC 6962 structures).
struct Tls<'a>(&'a [u8]);

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated SCT".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }

    fn vec16(&mut self) -> Result<&'a [u8], String> {
        let len = self.take(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        self.take(len)
    }
}

/// Verifies the one SCT embedded in `leaf` (RFC 6962 precertificate entry) against the
/// CT logs of `root`, with the key of its log valid at its timestamp. `issuer_spki` is
/// the issuer's key from the verified chain.
pub(crate) fn verify_sct(
    leaf: &Certificate,
    issuer_spki: &[u8],
    root: &TrustedRoot,
) -> Result<(), SvError> {
    let sct_error = |detail: String| SvError::from(CertificateError::Sct(detail));
    let ext = leaf
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|e| e.extn_id == CT_PRECERT_SCTS)
        .ok_or_else(|| {
            sct_error("certificate is missing SCT extension (Signed Certificate Timestamp)".into())
        })?;
    let list = OctetString::from_der(ext.extn_value.as_bytes())
        .map_err(|e| sct_error(format!("failed to parse SCT list: {e}")))?;
    let mut outer = Tls(list.as_bytes());
    let mut items = Tls(outer.vec16().map_err(sct_error)?);
    if !outer.0.is_empty() {
        return Err(sct_error("trailing data after the SCT list".into()));
    }
    let mut scts = Vec::new();
    while !items.0.is_empty() {
        scts.push(items.vec16().map_err(sct_error)?);
    }
    let [sct] = scts.as_slice() else {
        return Err(sct_error(format!(
            "certificate carries {} SCTs, expected exactly one",
            scts.len()
        )));
    };
    let mut r = Tls(sct);
    let parsed = (|| -> Result<_, String> {
        let version = r.u8()?;
        let log_id: [u8; 32] = r
            .take(32)?
            .try_into()
            .map_err(|_| "truncated SCT log ID".to_owned())?;
        let timestamp = r.u64()?;
        let extensions = r.vec16()?;
        let hash = r.u8()?;
        let sig = r.u8()?;
        let signature = r.vec16()?;
        if !r.0.is_empty() {
            return Err("trailing data after the SCT".into());
        }
        Ok((version, log_id, timestamp, extensions, hash, sig, signature))
    })()
    .map_err(sct_error)?;
    let (version, log_id, timestamp, extensions, hash, sig, signature) = parsed;
    if version != 0 {
        return Err(sct_error(format!("unsupported SCT version {version}")));
    }
    let scheme = match (hash, sig) {
        (4, 3) => SigningScheme::EcdsaP256Sha256,
        (5, 3) => SigningScheme::EcdsaP384Sha384,
        (4, 1) => SigningScheme::RsaPkcs1Sha256,
        (5, 1) => SigningScheme::RsaPkcs1Sha384,
        (6, 1) => SigningScheme::RsaPkcs1Sha512,
        _ => {
            return Err(sct_error(format!(
                "unsupported SCT signature algorithm 0x{hash:02x}{sig:02x}"
            )));
        }
    };
    // The precertificate: the TBS without the SCT list.
    let mut tbs = leaf.tbs_certificate.clone();
    tbs.extensions = tbs.extensions.map(|exts| {
        exts.into_iter()
            .filter(|e| e.extn_id != CT_PRECERT_SCTS)
            .collect()
    });
    let tbs = tbs
        .to_der()
        .map_err(|e| sct_error(format!("failed to encode precert TBS: {e}")))?;
    let tbs_len = u32::try_from(tbs.len())
        .ok()
        .filter(|l| *l < 1 << 24)
        .ok_or_else(|| sct_error("precertificate too large".into()))?;
    let ext_len = u16::try_from(extensions.len())
        .map_err(|_| sct_error("SCT extensions too large".into()))?;
    let mut signed = vec![0u8, 0u8];
    signed.extend_from_slice(&timestamp.to_be_bytes());
    signed.extend_from_slice(&1u16.to_be_bytes());
    signed.extend_from_slice(sigstore_verify::crypto::sha256(issuer_spki).as_bytes());
    signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    signed.extend_from_slice(&tbs);
    signed.extend_from_slice(&ext_len.to_be_bytes());
    signed.extend_from_slice(extensions);
    let keyring = root.ctfe_keys(scheme).map_err(SvError::TrustRoot)?;
    if keyring.is_empty() {
        return Err(SvError::InvalidTrustRoot(
            "no CT log keys in trusted root".into(),
        ));
    }
    let issued_at = i64::try_from(timestamp)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .ok_or_else(|| sct_error("SCT timestamp is out of range".into()))?;
    keyring
        .verify_with_key_id_at(
            &Sha256Hash::from(log_id),
            issued_at,
            &signed,
            &SignatureBytes::new(signature.to_vec()),
        )
        .map_err(|e| sct_error(format!("SCT signature verification failed: {e}")))
}
