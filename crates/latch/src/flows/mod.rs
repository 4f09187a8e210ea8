//! The updater's flows, one file each. Every flow that decides whether an image may be
//! installed or used goes through [`remote`] (a registry or a layout mirror) or the store
//! source, then `latch-decide`, then the ratchets of [`crate::trust::ratchet`].

pub mod check;
pub mod health;
pub(crate) mod hold;
pub mod install;
pub mod min_age;
pub(crate) mod remote;
pub(crate) mod repair;
pub mod status;
pub mod store_signatures;
pub mod upgrade;
pub mod verify_local;
