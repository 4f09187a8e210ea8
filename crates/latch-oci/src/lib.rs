//! OCI and Docker image formats, as Latch reads and writes them.
//!
//! Pure data and parsing: image references, digests, media types, manifests, indexes,
//! configs, platforms, and OCI image layouts on disk. Nothing here opens a network
//! connection; every parser bounds what it reads and keeps the exact bytes that a digest
//! covers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod digest;
pub mod duration;
pub mod fsutil;
pub mod layout;
pub mod manifest;
pub mod media_types;
pub mod platform;
pub mod reference;
pub mod text;
pub mod time;

pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use duration::{DurationError, format_duration, parse_duration};
pub use layout::{LayoutError, LayoutRef, OciLayout};
pub use manifest::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, ManifestBytes, ManifestError,
    NoSuchPlatform,
};
pub use platform::{Platform, PlatformError};
pub use reference::{Reference, ReferenceError};
