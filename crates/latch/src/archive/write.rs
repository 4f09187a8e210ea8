//! Writing the archive: a deterministic tar of the staging layout, with the ustar
//! headers of `latch-tar`.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use latch_oci::OciLayout;

use crate::error::{Error, Result};

/// Writes the archive: `./`, `./blobs/`, `./blobs/sha256/`, every blob, then
/// `./dangerzone.json`, `./index.json` and `./oci-layout`; sorted, owners 0, times 0,
/// fixed modes, names written as given (`./…`, as Dangerzone's tarfile writes them), so
/// the same inputs give the same bytes. Returns the size.
pub(crate) fn write_tar(path: &Path, layout: &OciLayout, full: &[u8], cut: &[u8]) -> Result<u64> {
    let file = File::create(path).map_err(Error::io(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let header_err = |e: latch_tar::HeaderError| Error::Invalid(e.to_string());
    for d in ["./", "./blobs/", "./blobs/sha256/"] {
        let h = latch_tar::ustar_dir(d, 0o755).map_err(header_err)?;
        latch_tar::write_entry(&mut out, &h, &mut std::io::empty()).map_err(Error::io(path))?;
    }
    let blobs = layout.root().join("blobs").join("sha256");
    let mut names: Vec<String> = fs::read_dir(&blobs)
        .map_err(Error::io(&blobs))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    names.sort();
    for n in names {
        let p = blobs.join(&n);
        let mut f = File::open(&p).map_err(Error::io(&p))?;
        let size = f.metadata().map_err(Error::io(&p))?.len();
        let h = latch_tar::ustar_file(&format!("./blobs/sha256/{n}"), size, 0o644)
            .map_err(header_err)?;
        latch_tar::write_entry(&mut out, &h, &mut f).map_err(Error::io(&p))?;
    }
    for (name, bytes) in [
        ("./dangerzone.json", full),
        ("./index.json", cut),
        (
            "./oci-layout",
            latch_oci::layout::OCI_LAYOUT_FILE.as_bytes(),
        ),
    ] {
        let h = latch_tar::ustar_file(name, bytes.len() as u64, 0o644).map_err(header_err)?;
        latch_tar::write_entry(&mut out, &h, &mut &bytes[..]).map_err(Error::io(path))?;
    }
    out.write_all(&latch_tar::END_OF_ARCHIVE)
        .map_err(Error::io(path))?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io(path)(e.into_error()))?;
    file.sync_all().map_err(Error::io(path))?;
    Ok(file.metadata().map_err(Error::io(path))?.len())
}
