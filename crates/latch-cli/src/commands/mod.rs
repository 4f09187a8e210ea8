//! One module per command.

pub mod check;
pub mod demo;
pub mod diff;
pub mod generate_key_pair;
pub mod inspect;
pub mod install;
pub mod load_archive;
pub mod nightlies;
pub mod normalize;
pub mod prepare_archive;
pub mod profile_args;
pub mod promote;
pub mod pull;
pub mod sign;
pub mod status;
pub mod store_signatures;
pub mod tags;
pub mod trust_args;
pub mod upgrade;
mod verification_output;
pub mod verify;
pub mod verify_attestation;
pub mod verify_bundle;
mod verify_bundles;
pub mod verify_local;
pub mod verify_signatures;

use latch::oci::Reference;
use latch::registry::{Client, ClientOptions};

use crate::GlobalArgs;
use crate::output::AnyError;

/// A registry client configured from the environment and the global flags.
pub fn client(global: &GlobalArgs) -> Result<Client, AnyError> {
    let mut opts = ClientOptions::from_env();
    opts.insecure_registries
        .extend(global.insecure_registries.iter().cloned());
    Ok(Client::new(opts)?)
}

/// Parses an image reference argument.
pub fn reference(s: &str) -> Result<Reference, AnyError> {
    Ok(Reference::parse(s)?)
}

/// "N of M required key(s)" for legacy signatures alone; with cosign v3 signatures, the
/// distinct signers of both kinds.
pub fn signed_by(
    verdict: &latch::trust::Verdict,
    bundles: &[latch::sigstore::BundleVerification],
) -> String {
    if bundles.is_empty() {
        return format!(
            "{} of {} required key(s)",
            verdict.keys_satisfied(),
            verdict.threshold
        );
    }
    format!(
        "{} distinct trusted signer(s) ({} legacy, {} cosign v3 signature(s))",
        latch::trusted::distinct_signers(verdict, bundles).len(),
        verdict.accepted().count(),
        bundles.len()
    )
}

/// One accepted cosign v3 signature, for humans.
pub fn describe_bundle(b: &latch::sigstore::BundleVerification) -> String {
    let signer = match &b.signer {
        latch::sigstore::SignerInfo::Key { name } => format!("key {name}"),
        latch::sigstore::SignerInfo::Certificate { identity, issuer } => format!(
            "{} from {}",
            identity.as_deref().unwrap_or("?"),
            issuer.as_deref().unwrap_or("?")
        ),
    };
    let log = match b.max_log_index() {
        Some(i) => format!("log index {i}"),
        None => "no transparency log".to_owned(),
    };
    format!("cosign v3 signature {} by {signer}, {log}", b.location)
}
