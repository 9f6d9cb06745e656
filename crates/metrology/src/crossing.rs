//! Voltage zero-crossing detection with hysteresis.
//!
//! Cycles are measured between rising zero crossings of the (offset-free, aligned) voltage.
//! Hysteresis keeps noise and distortion near zero from producing extra crossings: a rising
//! crossing counts only after the voltage has been below `−h` since the last falling one,
//! and vice versa. The crossing instant is interpolated linearly between the two samples that
//! straddle zero; a sine is straight at its zero crossing, so this is accurate to well under
//! a hundredth of a sample, which is what gives per-cycle frequency to ±0.01 Hz.

/// What a sample did, seen by the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Crossing {
    /// No crossing between the previous sample and this one.
    None,
    /// Rising crossing at `fraction` of the way from the previous sample to this one.
    Rising(f64),
    /// Falling crossing at `fraction` of the way from the previous sample to this one.
    Falling(f64),
}

/// The detector's state for one voltage channel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CrossingDetector {
    hysteresis_counts: f64,
    previous: f64,
    last_step: f64,
    armed_rising: bool,
    armed_falling: bool,
}

impl CrossingDetector {
    pub(crate) const fn new(hysteresis_counts: f64) -> Self {
        Self {
            hysteresis_counts,
            previous: 0.0,
            last_step: 0.0,
            armed_rising: false,
            armed_falling: false,
        }
    }

    /// Forgets the history (used once the DC offset is first known).
    pub(crate) fn reset(&mut self, previous: f64) {
        *self = Self::new(self.hysteresis_counts);
        self.previous = previous;
    }

    /// The hysteresis, in counts.
    pub(crate) fn hysteresis(&self) -> f64 {
        self.hysteresis_counts
    }

    /// The change of the voltage over the last sample (counts per sample).
    pub(crate) fn last_step(&self) -> f64 {
        self.last_step
    }

    /// Moves the stored previous sample with a change of the offset estimate.
    pub(crate) fn shift(&mut self, step: f64) {
        self.previous -= step;
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, v: f64) -> Crossing {
        let previous = self.previous;
        self.previous = v;
        self.last_step = v - previous;
        let mut crossing = Crossing::None;
        if v >= 0.0 && previous < 0.0 && self.armed_rising {
            self.armed_rising = false;
            crossing = Crossing::Rising(-previous / (v - previous));
        } else if v < 0.0 && previous >= 0.0 && self.armed_falling {
            self.armed_falling = false;
            crossing = Crossing::Falling(previous / (previous - v));
        }
        if v < -self.hysteresis_counts {
            self.armed_rising = true;
        } else if v > self.hysteresis_counts {
            self.armed_falling = true;
        }
        crossing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_crossing_each_way_per_cycle_despite_noise() {
        let mut detector = CrossingDetector::new(5.0);
        let (mut rising, mut falling) = (0, 0);
        for n in 0..800 {
            let angle = 2.0 * core::f64::consts::PI * f64::from(n) / 80.0;
            // Chatter of ±2 counts, inside the hysteresis.
            let chatter = if n % 2 == 0 { 2.0 } else { -2.0 };
            match detector.push(100.0 * libm::sin(angle) + chatter) {
                Crossing::Rising(_) => rising += 1,
                Crossing::Falling(_) => falling += 1,
                Crossing::None => {}
            }
        }
        assert_eq!((rising, falling), (9, 10));
    }

    #[test]
    fn interpolates_the_crossing_instant() {
        let mut detector = CrossingDetector::new(1.0);
        detector.push(-10.0);
        assert_eq!(detector.push(-3.0), Crossing::None);
        assert_eq!(detector.push(1.0), Crossing::Rising(0.75));
    }
}
