//! latch-runtime against real parts: a docker-registry (latch-testkit), podman 4.3 with
//! isolated storage, a private dockerd 20.10, and the built-in store.
//!
//! Tests that need a tool or root that is missing fail when `CI=true` and skip
//! otherwise.

mod common;
mod docker;
mod podman;
mod store;
