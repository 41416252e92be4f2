//! A progress bar on stderr for long decodes whose output goes to a file or a pipe.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Inputs smaller than this decode without a bar.
pub const THRESHOLD: u64 = 100 << 20;

/// A byte-count progress bar, drawn on stderr (and only when stderr is a terminal).
#[derive(Debug, Clone)]
pub struct Progress(ProgressBar);

impl Progress {
    /// A bar for `total` input bytes, or `None` below [`THRESHOLD`].
    pub fn for_bytes(total: u64) -> Option<Progress> {
        if total < THRESHOLD {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
        let style = ProgressStyle::with_template("{wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Some(Progress(bar))
    }

    /// Sets the bytes done.
    pub fn set(&self, done: u64) {
        self.0.set_position(done);
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_inputs_get_no_bar() {
        assert!(Progress::for_bytes(THRESHOLD - 1).is_none());
        let p = Progress::for_bytes(THRESHOLD).expect("a bar at the threshold");
        p.set(THRESHOLD / 2);
        p.finish();
    }
}
