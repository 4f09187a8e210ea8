//! A 64 MiB PAX header is refused without allocating it: the largest allocation made
//! while reading is measured by a counting allocator. Alone in its test binary so that
//! no other test allocates meanwhile.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Lazy, header};
use latch_tar::{Limits, Stream, TarError, TarReader, flag};

/// The system allocator, remembering the largest allocation asked of it.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed unchanged to the system allocator.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

#[test]
fn a_64_mib_pax_header_is_refused_without_allocating_it() {
    let size = 64u64 << 20;
    for flag in [flag::PAX, flag::PAX_GLOBAL, flag::GNU_LONGNAME] {
        let h = header(b"PaxHeaders.0/big", flag, size);
        let (input, served) = Lazy::new(h.to_vec(), size, b'1');
        LARGEST.store(0, Ordering::Relaxed);
        let mut tar = TarReader::new(Stream(input), Limits::default());
        let e = tar.next_entry().unwrap_err();
        let largest = LARGEST.load(Ordering::Relaxed);
        assert!(
            matches!(e, TarError::ExtensionTooLarge { size: s, .. } if s == size),
            "{e}"
        );
        assert_eq!(served.get(), 512);
        // Nothing near the declared size, nor even near the bound (1 MiB).
        assert!(largest < 64 * 1024, "largest allocation: {largest} bytes");
    }
}
