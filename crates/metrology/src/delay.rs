//! Current-channel delay correction.
//!
//! The current channel lags the voltage channel by the sampling skew plus the sensor's phase
//! error. Rather than advance the current (which would need future samples) the aligner
//! delays the voltage by the same amount, and delays the current by a whole number of
//! samples so the voltage's delay lands in the range where a first-order Thiran all-pass
//! filter is accurate (0.5 to 1.5 samples, plus any whole samples in a ring). The filter's
//! coefficient is solved for an exact delay at the nominal mains frequency.
//!
//! Why an all-pass and not interpolation: linear interpolation between two samples is a
//! low-pass filter that loses amplitude (0.6 % at the 5th harmonic at 4 kHz for half a sample)
//! and so under-reads harmonics and RMS. The all-pass has a gain of exactly one at every
//! frequency; only its delay deviates: not at all at the nominal frequency, by about 0.02
//! sample at the 5th harmonic.

use crate::config::MAX_DELAY_SAMPLES;

/// Capacity of the whole-sample delay rings.
const RING: usize = 128;

/// A delay of a whole number of samples (0 to `RING - 1`).
#[derive(Debug, Clone, Copy)]
struct WholeDelay {
    ring: [f64; RING],
    position: usize,
    length: usize,
}

impl WholeDelay {
    const fn new(length: usize) -> Self {
        Self {
            ring: [0.0; RING],
            position: 0,
            length,
        }
    }

    #[inline(always)]
    fn push(&mut self, x: f64) -> f64 {
        if self.length == 0 {
            return x;
        }
        let out = self.ring[self.position];
        self.ring[self.position] = x;
        self.position += 1;
        if self.position == self.length {
            self.position = 0;
        }
        out
    }

    fn shift(&mut self, step: f64) {
        for value in &mut self.ring[..self.length] {
            *value -= step;
        }
    }
}

/// First-order Thiran all-pass fractional delay: `y[n] = a·x[n] + x[n−1] − a·y[n−1]`.
#[derive(Debug, Clone, Copy)]
struct Thiran {
    coefficient: f64,
    last_input: f64,
    last_output: f64,
}

impl Thiran {
    /// A delay of `delay_samples`, which must lie in [0.5, 1.5), exact at `omega` radians
    /// per sample. The classic Thiran coefficient `(1 − d)/(1 + d)` is exact only as ω → 0
    /// (0.001 sample short at 50 Hz and d = 1.5); solving the all-pass phase,
    /// `ω − 2·atan(a·sin ω / (1 + a·cos ω)) = d·ω`, for `a` gives
    /// `a = sin((1 − d)·ω/2) / sin((1 + d)·ω/2)`, which tends to the classic value.
    fn new(delay_samples: f64, omega: f64) -> Self {
        let coefficient = libm::sin((1.0 - delay_samples) * omega / 2.0)
            / libm::sin((1.0 + delay_samples) * omega / 2.0);
        Self {
            coefficient,
            last_input: 0.0,
            last_output: 0.0,
        }
    }

    #[inline(always)]
    fn push(&mut self, x: f64) -> f64 {
        // Written so that only one multiply and one subtract depend on the previous
        // output: the recursion is the longest dependency chain in the sample loop.
        let feed_forward = self.coefficient * x + self.last_input;
        let y = feed_forward - self.coefficient * self.last_output;
        self.last_input = x;
        self.last_output = y;
        y
    }

    fn shift(&mut self, step: f64) {
        self.last_input -= step;
        self.last_output -= step;
    }
}

/// Delays the voltage by `K + D` samples and the current by `K`, so the pair lines up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelAligner {
    voltage_whole: WholeDelay,
    voltage_fraction: Thiran,
    current_whole: WholeDelay,
}

impl ChannelAligner {
    /// An aligner for a current channel lagging by `delay_samples` (negative: leading),
    /// exact at the mains frequency `omega` (radians per sample).
    pub(crate) fn new(delay_samples: f64, omega: f64) -> Self {
        let delay_samples = delay_samples.clamp(-MAX_DELAY_SAMPLES, MAX_DELAY_SAMPLES);
        // Whole samples of delay on the current so the voltage's delay is at least 0.5.
        let current_delay = libm::ceil(0.5 - delay_samples).max(0.0);
        let voltage_delay = delay_samples + current_delay;
        let voltage_whole = libm::floor(voltage_delay - 0.5).max(0.0);
        Self {
            voltage_whole: WholeDelay::new(voltage_whole as usize),
            voltage_fraction: Thiran::new(voltage_delay - voltage_whole, omega),
            current_whole: WholeDelay::new(current_delay as usize),
        }
    }

    /// Takes one offset-corrected sample pair and returns the aligned pair.
    #[inline(always)]
    pub(crate) fn push(&mut self, v: f64, i: f64) -> (f64, f64) {
        let v = self.voltage_fraction.push(self.voltage_whole.push(v));
        (v, self.current_whole.push(i))
    }

    /// Fills every stored sample with this pair, as if the input had always been constant:
    /// starting from zeros instead would feed the filters a step of the full DC bias.
    pub(crate) fn prime(&mut self, v: f64, i: f64) {
        self.voltage_whole.ring = [v; RING];
        self.voltage_fraction.last_input = v;
        self.voltage_fraction.last_output = v;
        self.current_whole.ring = [i; RING];
    }

    /// Moves the stored history by a change of the offset estimate, so a new estimate does
    /// not inject a step into the filters.
    pub(crate) fn shift(&mut self, v_step: f64, i_step: f64) {
        self.voltage_whole.shift(v_step);
        self.voltage_fraction.shift(v_step);
        self.current_whole.shift(i_step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::f64::consts::PI;

    /// Runs a sine through the aligner and returns how far the aligned voltage still leads
    /// or lags the aligned current (in samples) and the voltage path's gain.
    fn residual_delay_and_gain(delay: f64, cycles_per_sample: f64) -> (f64, f64) {
        let w = 2.0 * PI * cycles_per_sample;
        let mut aligner = ChannelAligner::new(delay, 2.0 * PI * 50.0 / 4000.0);
        let mut sums = [0.0; 5];
        let n_total = 20_000;
        for n in 0..n_total {
            let t = n as f64;
            // The current lags: its sample at n shows the wave at n - delay.
            let (v, i) = aligner.push(libm::sin(w * t), libm::sin(w * (t - delay)));
            if n >= 1000 {
                let (s, c) = (libm::sin(w * t), libm::cos(w * t));
                sums[0] += v * s;
                sums[1] += v * c;
                sums[2] += i * s;
                sums[3] += i * c;
                sums[4] += v * v;
            }
        }
        let phase_v = libm::atan2(sums[1], sums[0]);
        let phase_i = libm::atan2(sums[3], sums[2]);
        let gain = libm::sqrt(sums[4] / f64::from(n_total - 1000) * 2.0);
        ((phase_i - phase_v) / w, gain)
    }

    #[test]
    fn aligns_fractional_and_whole_delays_at_the_fundamental() {
        for delay in [-3.7, -1.2, -0.3, 0.0, 0.2, 0.5, 0.9, 1.3, 2.6, 7.45] {
            let (residual, gain) = residual_delay_and_gain(delay, 50.0 / 4000.0);
            assert!(
                residual.abs() < 1e-6,
                "delay {delay}: residual {residual} samples"
            );
            assert!((gain - 1.0).abs() < 1e-3, "delay {delay}: gain {gain}");
        }
    }

    #[test]
    fn keeps_harmonic_amplitude_where_linear_interpolation_loses_it() {
        let (residual, gain) = residual_delay_and_gain(0.5, 250.0 / 4000.0);
        assert!(residual.abs() < 0.01, "5th harmonic residual {residual}");
        assert!((gain - 1.0).abs() < 1e-3, "5th harmonic gain {gain}");
    }
}
