//! A bounded, streaming tar reader for archives Latch does not trust, and the few
//! writing helpers Latch needs.
//!
//! Layers come from registries Latch does not trust, and air-gap archives from wherever
//! they were carried, so [`TarReader`] allocates nothing an archive can make large:
//! extension headers (PAX, GNU long names) are refused past the bounds in [`Limits`]
//! before their data is read, entry data is never buffered (the caller streams it with
//! [`TarReader::data`]), numeric fields are checked, every header's checksum is
//! verified, and no input makes it panic. It reads the formats container tools write
//! (v7, ustar, GNU long names and links, PAX local and global headers) the way Go's
//! `archive/tar` reads them, since that is what podman and docker extract layers with;
//! what tar implementations read differently is refused (see [`TarReader`]).
//!
//! ```
//! use latch_tar::{EntryKind, Limits, Stream, TarReader};
//! use std::io::Read;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mut archive = Vec::new();
//! # let h = latch_tar::ustar_file("./hello.txt", 5, 0o644)?;
//! # latch_tar::write_entry(&mut archive, &h, &mut &b"hello"[..])?;
//! # archive.extend_from_slice(&latch_tar::END_OF_ARCHIVE);
//! let mut tar = TarReader::new(Stream(&archive[..]), Limits::default());
//! while let Some(entry) = tar.next_entry()? {
//!     if entry.kind() == EntryKind::File {
//!         let mut text = String::new();
//!         tar.data().read_to_string(&mut text)?;
//!         assert_eq!((&entry.name[..], &text[..]), (&b"./hello.txt"[..], "hello"));
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Writing: [`ustar_file`] and [`ustar_dir`] build header blocks, [`write_entry`] writes
//! one with its data and padding, [`END_OF_ARCHIVE`] ends the archive; the bytes are
//! those `tar::Builder` writes for the same headers. [`set_octal`], [`set_checksum`] and
//! [`write_pax`] are for rewriting headers read from an archive.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod header;
mod read;
mod write;

pub use error::{HeaderError, TarError};
pub use header::{
    BLOCK, Format, cstr, flag, padding, parse_numeric, parse_pax, set_checksum, set_octal,
    write_pax,
};
pub use read::{
    DataReader, Entry, EntryKind, Extension, Limits, Seekable, Stream, TarInput, TarReader,
};
pub use write::{END_OF_ARCHIVE, ustar_dir, ustar_file, write_entry};
