//! Errors: what was wrong, and where (offsets are in the uncompressed tar stream).

use std::io;

/// Why a tar stream cannot be read. Every variant but [`TarError::Io`] names the offset
/// of the header block it is about.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// Reading failed (includes decompression errors of the stream underneath).
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The stream ended inside a header, an extension header's data or an entry's data
    /// (or its padding).
    #[error("tar stream truncated at offset {offset}, in {reading}")]
    Truncated {
        /// Offset where the stream ended.
        offset: u64,
        /// What was being read: `a header`, `extension data`, `entry data`.
        reading: &'static str,
    },
    /// A header's checksum is wrong (not a tar stream, or corrupt).
    #[error(
        "tar header at offset {offset} has a bad checksum (stored {}, computed {computed}): not a tar stream, or corrupt",
        .stored.map_or_else(|| "unreadable".to_owned(), |s| s.to_string())
    )]
    BadChecksum {
        /// Offset of the header.
        offset: u64,
        /// The checksum field's value (`None` when it is not a number).
        stored: Option<u64>,
        /// The checksum of the block (unsigned bytes).
        computed: u64,
    },
    /// A numeric field (octal, base-256, or a PAX decimal) is malformed or out of range.
    #[error("tar header at offset {offset}: malformed or out-of-range {field} field {value:?}")]
    BadField {
        /// Offset of the header.
        offset: u64,
        /// The field (`size`, `mode`, `uid`, …).
        field: &'static str,
        /// The field's bytes as written, escaped (at most 64 of them).
        value: String,
    },
    /// PAX records are malformed.
    #[error("tar header at offset {offset}: malformed PAX record {record}: {reason}")]
    BadPax {
        /// Offset of the extension header.
        offset: u64,
        /// Which record, from 1.
        record: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An extension header (PAX or GNU long name), or all of those before one entry, or
    /// all global PAX headers, over their bound. Refused before its data is read.
    #[error("tar header at offset {offset}: {what} of {size} bytes, over the bound of {max}")]
    ExtensionTooLarge {
        /// Offset of the header.
        offset: u64,
        /// Which bound: `GNU long name`, `extension headers before one entry`, …
        what: &'static str,
        /// The size it would reach.
        size: u64,
        /// The bound.
        max: u64,
    },
    /// Extension headers that apply to the next entry (PAX local, GNU long name or
    /// link) followed by the end of the archive instead of an entry.
    #[error("tar header at offset {offset}: extension headers followed by no entry")]
    ExtensionWithoutEntry {
        /// Offset where an entry was expected.
        offset: u64,
    },
    /// A path or link target over its bound.
    #[error("tar header at offset {offset}: {what} of {len} bytes, longer than {max}")]
    PathTooLong {
        /// Offset of the header.
        offset: u64,
        /// `path` or `link target`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// An entry whose declared data size is over the bound.
    #[error(
        "tar header at offset {offset}: entry {name:?} declares {size} bytes, over the bound of {max}"
    )]
    EntryTooLarge {
        /// Offset of the header.
        offset: u64,
        /// The entry's path, escaped.
        name: String,
        /// The declared size.
        size: u64,
        /// The bound.
        max: u64,
    },
    /// More entries than allowed.
    #[error("tar header at offset {offset}: more than {max} entries")]
    TooManyEntries {
        /// Offset of the entry over the bound.
        offset: u64,
        /// The bound.
        max: u64,
    },
    /// Zero blocks that do not end the archive: one zero block then a non-zero one.
    #[error(
        "tar stream at offset {offset}: a zero block followed by data (corrupt end of archive)"
    )]
    BadEndOfArchive {
        /// Offset of the non-zero block.
        offset: u64,
    },
    /// An entry type or a construction this reader refuses (GNU sparse and multi-volume
    /// entries, headers that tar implementations read differently).
    #[error("tar header at offset {offset}: unsupported {what}")]
    Unsupported {
        /// Offset of the header.
        offset: u64,
        /// What.
        what: String,
    },
    /// The reader already failed; it does not guess where the next header is.
    #[error("tar stream: the reader stopped at an earlier error (offset {offset})")]
    AfterError {
        /// Offset of the earlier error (where the stream stood for an I/O error).
        offset: u64,
    },
}

impl TarError {
    /// The offset in the stream the error is about (`None` for [`TarError::Io`]).
    pub fn offset(&self) -> Option<u64> {
        match self {
            TarError::Io(_) => None,
            TarError::Truncated { offset, .. }
            | TarError::BadChecksum { offset, .. }
            | TarError::BadField { offset, .. }
            | TarError::BadPax { offset, .. }
            | TarError::ExtensionTooLarge { offset, .. }
            | TarError::ExtensionWithoutEntry { offset }
            | TarError::PathTooLong { offset, .. }
            | TarError::EntryTooLarge { offset, .. }
            | TarError::TooManyEntries { offset, .. }
            | TarError::BadEndOfArchive { offset }
            | TarError::Unsupported { offset, .. }
            | TarError::AfterError { offset } => Some(*offset),
        }
    }
}

/// Why [`crate::ustar_file`] or [`crate::ustar_dir`] cannot write a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The name is empty.
    #[error("tar entry name is empty")]
    EmptyName,
    /// The name does not fit a ustar name field with its NUL (at most 99 bytes).
    #[error("tar entry name {name:?} is {len} bytes, over the bound of 99")]
    NameTooLong {
        /// The name.
        name: String,
        /// Its length.
        len: usize,
    },
    /// The name holds a NUL byte.
    #[error("tar entry name {name:?} holds a NUL byte")]
    NulInName {
        /// The name.
        name: String,
    },
    /// The size is over what this crate reads back (2^63 - 1).
    #[error("tar entry size {size} is over the bound of 2^63 - 1")]
    SizeTooLarge {
        /// The size.
        size: u64,
    },
    /// The mode does not fit the 7 octal digits of its field.
    #[error("tar entry mode {mode:#o} does not fit 7 octal digits")]
    ModeTooLarge {
        /// The mode.
        mode: u32,
    },
}

/// The bytes of a field or a name, escaped for an error message (at most `max` of them).
pub(crate) fn escape(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for &b in bytes.iter().take(max) {
        if b.is_ascii_graphic() || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if bytes.len() > max {
        out.push('…');
    }
    out
}
