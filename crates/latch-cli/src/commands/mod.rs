//! One module per command.

pub mod attest;
pub mod check;
pub mod completions;
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
pub mod rotate_keys;
pub mod sign;
pub mod signing_args;
pub mod status;
pub mod store_signatures;
pub mod tags;
pub mod trust_args;
pub mod tuf_args;
pub mod upgrade;
mod verification_output;
pub mod verify;
pub mod verify_attestation;
pub mod verify_bundle;
pub mod verify_local;
pub mod verify_signatures;
pub mod version;

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

/// "N of M required trusted signer(s)", and who they are.
pub fn signed_by(verdict: &latch::decide::Verdict) -> String {
    let who: Vec<String> = verdict
        .signers
        .iter()
        .map(|c| c.trusted.to_string())
        .collect();
    let mut s = format!(
        "{} of {} required trusted signer(s)",
        verdict.count(),
        verdict.threshold
    );
    if !who.is_empty() {
        s.push_str(&format!(" ({})", who.join(", ")));
    }
    s
}
