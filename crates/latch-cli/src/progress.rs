//! Progress bars on a terminal, silence when piped.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use latch::oci::Digest;
use latch::registry::Progress;

/// One bar for all bytes of a transfer, drawn on stderr only when it is a terminal.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar labelled `message`; hidden unless stderr is a terminal and `quiet` is false.
    pub fn new(message: &str, quiet: bool) -> Bar {
        let target = if !quiet && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        Bar { bar }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn blob_started(&self, _digest: &Digest, size: u64) {
        self.bar.inc_length(size);
    }
    fn blob_progress(&self, _digest: &Digest, bytes: u64) {
        self.bar.inc(bytes);
    }
}
