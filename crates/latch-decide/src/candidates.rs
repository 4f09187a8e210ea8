//! What any source hands the decision, as plain data: the signatures found, each with
//! where it came from, and what was found but could not be read. Nothing here is
//! verified yet.

use latch_oci::Digest;
use latch_trust::Candidate;
use serde::Serialize;

/// A cosign legacy signature (a `.sig` layer, a `cosign download signature` object, an
/// entry of the signature store), or why the entry is not one.
#[derive(Debug, Clone)]
pub struct SigCandidate {
    /// Where it came from (a `.sig` reference, a store file, an archive).
    pub location: String,
    /// The signature as parsed, or the parse error (junk counts as a refused candidate).
    pub signature: Candidate,
}

/// A Sigstore bundle that claims to be a cosign v3 signature of the image (found as an
/// OCI referrer, in a layout, or in the store). Its bytes match the digest its referrer
/// manifest names; nothing in it is verified yet.
#[derive(Debug, Clone)]
pub struct BundleCandidate {
    /// Where it came from (`<repository>@<referrer manifest digest>`, a store file…).
    pub location: String,
    /// The referrer manifest's digest, when it came from a referrer (to carry it on).
    pub manifest_digest: Option<Digest>,
    /// The bundle document.
    pub bytes: Vec<u8>,
}

/// A provenance attestation found for the image (when the trust requires provenance),
/// not yet verified.
#[derive(Debug, Clone)]
pub struct AttestationCandidate {
    /// Where it came from (`<repository>@<referrer digest>`, `<repo>:sha256-<hex>.att
    /// layer 0`, a store file, an archive).
    pub location: String,
    /// The referrer manifest's digest, when it came from a referrer (to carry it on).
    pub manifest_digest: Option<Digest>,
    /// What it is.
    pub form: AttestationForm,
}

/// The two forms attestations are published in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationForm {
    /// A Sigstore bundle (an OCI referrer, as GitHub's `attest-build-provenance` pushes
    /// them).
    Bundle(Vec<u8>),
    /// A layer of cosign's `.att` manifest (as slsa-github-generator pushes them): a
    /// DSSE envelope, and the layer's annotations (its certificate and Rekor bundle).
    AttLayer {
        /// The DSSE envelope.
        envelope: Vec<u8>,
        /// The layer's annotations.
        annotations: std::collections::BTreeMap<String, String>,
    },
    /// Found, but it could not be read: why.
    Unreadable(String),
}

/// Something found beside the image that could not be used as a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    /// Where it was found.
    pub location: String,
    /// What it is.
    pub what: UnusableKind,
}

/// What an unusable find is: reported as what it is, never as "no signatures".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum UnusableKind {
    /// It could not be read (absent blob, too large, not matching its digest, malformed
    /// manifest).
    Unreadable {
        /// Why.
        detail: String,
    },
    /// A Sigstore bundle that is not an image signature (an attestation: SLSA provenance,
    /// an SBOM…), named by its predicate type.
    NotASignature {
        /// The predicate type it announces.
        predicate_type: String,
    },
    /// An artifact of a type Latch does not verify.
    UnsupportedArtifact {
        /// Its artifact or media type.
        artifact_type: String,
    },
    /// Its subject is another digest.
    OtherSubject {
        /// The digest it refers to.
        subject: String,
    },
}

impl std::fmt::Display for UnusableKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnusableKind::Unreadable { detail } => write!(f, "unreadable: {detail}"),
            UnusableKind::NotASignature { predicate_type } => write!(
                f,
                "an attestation ({predicate_type}), not an image signature"
            ),
            UnusableKind::UnsupportedArtifact { artifact_type } => {
                write!(
                    f,
                    "an artifact of type {artifact_type}, which Latch does not verify"
                )
            }
            UnusableKind::OtherSubject { subject } => {
                write!(f, "it refers to {subject}, not to this image")
            }
        }
    }
}

/// Everything found for one digest.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    /// Legacy `.sig` signatures (keyed or keyless).
    pub sigs: Vec<SigCandidate>,
    /// Cosign v3 signatures (Sigstore bundles).
    pub bundles: Vec<BundleCandidate>,
    /// Finds that could not be used.
    pub unusable: Vec<Unusable>,
    /// Provenance attestations (looked for only when the trust requires provenance).
    pub attestations: Vec<AttestationCandidate>,
}

impl Candidates {
    /// Legacy signatures all found at `location`.
    pub fn from_sigs(location: &str, sigs: Vec<Candidate>) -> Candidates {
        Candidates {
            sigs: sigs
                .into_iter()
                .map(|signature| SigCandidate {
                    location: location.to_owned(),
                    signature,
                })
                .collect(),
            ..Candidates::default()
        }
    }

    /// Whether nothing at all was found.
    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty() && self.bundles.is_empty() && self.unusable.is_empty()
    }

    /// Adds what `other` found.
    pub fn extend(&mut self, other: Candidates) {
        self.sigs.extend(other.sigs);
        self.bundles.extend(other.bundles);
        self.unusable.extend(other.unusable);
        self.attestations.extend(other.attestations);
    }

    /// The legacy signatures that parsed, in order, with their position.
    pub fn parsed_sigs(&self) -> impl Iterator<Item = (usize, &latch_trust::Signature)> {
        self.sigs
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.signature.as_ref().ok().map(|s| (i, s)))
    }
}
