//! DC offset tracking.
//!
//! ADC front ends bias the signal to mid-scale, and the bias drifts with temperature. The
//! tracker keeps an estimate of it so that zero-crossing detection sees a centred signal.
//! The estimate never biases RMS or power: each cycle's sums are also corrected by that
//! cycle's own mean (see `sums`), the way emonLibCM removes offset mathematically, so the
//! tracker only has to be close, not exact. It starts as a running average (the first cycle
//! sets it outright) and then becomes an exponential average over about 20 cycles, so it
//! settles well within one second and ignores the odd cycle a switching load upsets.

/// Estimates the DC offset of one channel from per-cycle means.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DcTracker {
    offset_counts: f64,
    updates: u32,
}

/// The slowest the tracker gets: each cycle moves the estimate 1/20 of the way.
const MIN_GAIN: f64 = 1.0 / 20.0;

impl DcTracker {
    pub(crate) const fn new() -> Self {
        Self {
            offset_counts: 0.0,
            updates: 0,
        }
    }

    /// The current estimate, in ADC counts.
    pub(crate) fn offset(&self) -> f64 {
        self.offset_counts
    }

    /// Moves the estimate by a residual without counting it as a measurement: the next
    /// [`DcTracker::update`] replaces rather than averages. Returns the move.
    pub(crate) fn provisional(&mut self, residual_mean_counts: f64) -> f64 {
        self.offset_counts += residual_mean_counts;
        self.updates = 0;
        residual_mean_counts
    }

    /// Feeds the mean of one cycle of offset-corrected samples (the residual offset) and
    /// returns how far the estimate moved, so filter states can move with it.
    pub(crate) fn update(&mut self, residual_mean_counts: f64) -> f64 {
        self.updates = self.updates.saturating_add(1);
        let gain = (1.0 / f64::from(self.updates)).max(MIN_GAIN);
        let step = gain * residual_mean_counts;
        self.offset_counts += step;
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_update_sets_offset_then_averages() {
        let mut tracker = DcTracker::new();
        assert_eq!(tracker.update(2048.0), 2048.0);
        assert_eq!(tracker.offset(), 2048.0);
        // A residual of +2 after that moves it by half (running average of two).
        tracker.update(2.0);
        assert_eq!(tracker.offset(), 2049.0);
        for _ in 0..200 {
            let residual = 2050.0 - tracker.offset();
            tracker.update(residual);
        }
        assert!((tracker.offset() - 2050.0).abs() < 1e-3);
    }
}
