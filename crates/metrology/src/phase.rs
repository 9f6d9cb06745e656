//! One phase's signal chain, sample by sample: offset removal, alignment, integration, and
//! half-cycle / cycle segmentation at the voltage zero crossings.
//!
//! Every sample lands in exactly one half cycle. A half cycle closes at a zero crossing or,
//! when the voltage is gone, after a timeout of 1.5 nominal half periods, so energy keeps
//! being counted through an outage and the power-quality monitor sees the missing voltage.

use crate::config::{Calibration, MeterConfig};
use crate::crossing::{Crossing, CrossingDetector};
use crate::dc::DcTracker;
use crate::delay::ChannelAligner;
use crate::measurement::{CycleMeasurement, Scaling};
use crate::sums::{Moments, WindowSums};

/// What one sample completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Step {
    /// A half cycle closed: a new one-cycle RMS (refreshed each half cycle) is ready.
    pub(crate) half: bool,
    /// A cycle closed: a new [`CycleMeasurement`] is ready.
    pub(crate) cycle: bool,
}

/// The largest magnitude a sample may have, in counts: what a 32-bit ADC reaches.
const MAX_SAMPLE_COUNTS: f64 = 2_147_483_648.0;

/// When a zero crossing happened, and how steeply the voltage crossed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CrossingTime {
    /// Fractional sample index of the crossing.
    position: f64,
    /// Voltage change per sample across it, counts (positive rising, negative falling).
    slope: f64,
}

/// The signal chain of one voltage/current pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PhaseChannel {
    scaling: Scaling,
    nominal_frequency_hz: f64,
    acquisition_samples: u32,
    /// A half cycle with no crossing closes after this many samples (0.75 nominal
    /// periods, room for low frequencies) ...
    max_half_samples: u32,
    /// ... or, once the voltage is gone (the previous half timed out too), after half a
    /// nominal period, so that outage windows span whole nominal cycles.
    nominal_half_samples: u32,
    /// Whether the last half cycle closed by timeout.
    last_half_timed_out: bool,
    /// Whether the half in progress began at the end of acquisition, not at a crossing.
    half_is_fragment: bool,
    /// Halves of the cycle in progress that were steady timeouts (nominal half length).
    steady_timeout_halves: u32,
    v_offset: DcTracker,
    i_offset: DcTracker,
    aligner: ChannelAligner,
    detector: CrossingDetector,
    /// The previous aligned voltage sample, for the trapezoidal integrator.
    v_previous: f64,
    /// Running integral of the aligned voltage (counts × samples).
    v_integral: f64,
    half: WindowSums,
    previous_half: WindowSums,
    cycle: WindowSums,
    halves_in_cycle: u32,
    /// Whether the cycle in progress began at a rising crossing.
    cycle_began_at_crossing: bool,
    /// Whether only crossings (no timeouts) have closed this cycle's halves.
    cycle_all_crossings: bool,
    /// The rising crossing that began the cycle in progress.
    last_rising: Option<CrossingTime>,
    /// The falling crossing inside the cycle in progress.
    falling_in_cycle: Option<CrossingTime>,
    /// The falling crossing inside the previous cycle, if it was a whole one.
    previous_falling: Option<CrossingTime>,
    acquiring: bool,
    sample_index: u64,
    /// Samples refused as impossible (non-finite or beyond `MAX_SAMPLE_COUNTS`).
    invalid_samples: u64,
    last_frequency_hz: f64,
    last_cycle: CycleMeasurement,
    /// Means of the last closed whole cycle, for the offset trackers.
    pending_means: Moments,
    /// Whether `pending_means` is waiting to be fed to the trackers.
    retune_pending: bool,
    half_cycle_rms_v: f64,
}

impl PhaseChannel {
    pub(crate) fn new(config: &MeterConfig, calibration: &Calibration) -> Self {
        let nominal_period = config.nominal_period_samples();
        let peak_counts =
            config.nominal_voltage_v * core::f64::consts::SQRT_2 / calibration.v_scale;
        let delay_samples = calibration.i_delay_us * 1e-6 * config.sample_rate_hz;
        Self {
            scaling: Scaling {
                v_scale: calibration.v_scale,
                i_scale: calibration.i_scale,
                sample_rate_hz: config.sample_rate_hz,
            },
            nominal_frequency_hz: config.nominal_frequency_hz,
            acquisition_samples: libm::round(nominal_period) as u32,
            max_half_samples: libm::ceil(0.75 * nominal_period) as u32,
            nominal_half_samples: libm::round(0.5 * nominal_period) as u32,
            last_half_timed_out: false,
            half_is_fragment: false,
            steady_timeout_halves: 0,
            v_offset: DcTracker::new(),
            i_offset: DcTracker::new(),
            aligner: ChannelAligner::new(
                delay_samples,
                core::f64::consts::TAU * config.nominal_frequency_hz / config.sample_rate_hz,
            ),
            detector: CrossingDetector::new(config.crossing_hysteresis_ratio * peak_counts),
            v_previous: 0.0,
            v_integral: 0.0,
            half: WindowSums::default(),
            previous_half: WindowSums::default(),
            cycle: WindowSums::default(),
            halves_in_cycle: 0,
            cycle_began_at_crossing: false,
            cycle_all_crossings: true,
            last_rising: None,
            falling_in_cycle: None,
            previous_falling: None,
            acquiring: true,
            sample_index: 0,
            invalid_samples: 0,
            last_frequency_hz: config.nominal_frequency_hz,
            last_cycle: CycleMeasurement::default(),
            pending_means: Moments::default(),
            retune_pending: false,
            half_cycle_rms_v: 0.0,
        }
    }

    /// The last completed cycle.
    pub(crate) fn last_cycle(&self) -> &CycleMeasurement {
        &self.last_cycle
    }

    /// RMS voltage over the last full cycle, refreshed every half cycle (IEC 61000-4-30
    /// Urms(1/2)), in volts.
    pub(crate) fn half_cycle_rms_v(&self) -> f64 {
        self.half_cycle_rms_v
    }

    /// Samples refused as impossible (non-finite or absurdly large).
    pub(crate) fn invalid_samples(&self) -> u64 {
        self.invalid_samples
    }

    /// The DC offsets being removed, in counts (voltage, current).
    pub(crate) fn offsets(&self) -> (f64, f64) {
        (self.v_offset.offset(), self.i_offset.offset())
    }

    /// Takes one raw sample pair (ADC counts, offset included).
    #[inline(always)]
    pub(crate) fn push(&mut self, raw_v: f64, raw_i: f64) -> Step {
        // A sample no ADC can produce (NaN, infinite, absurdly large) would poison every
        // sum and the offset estimate for good: it is counted and read as the offset (no
        // signal), so time, and the energy of every good sample, still count.
        let (raw_v, raw_i) = if raw_v.abs() <= MAX_SAMPLE_COUNTS && raw_i.abs() <= MAX_SAMPLE_COUNTS
        {
            (raw_v, raw_i)
        } else {
            self.invalid_samples += 1;
            (self.v_offset.offset(), self.i_offset.offset())
        };
        if self.sample_index == 0 {
            self.aligner.prime(raw_v, raw_i);
        }
        let (mut v, mut i) = self.aligner.push(
            raw_v - self.v_offset.offset(),
            raw_i - self.i_offset.offset(),
        );
        let mut step = Step::default();
        if self.acquiring {
            if self.half.n >= self.acquisition_samples {
                step = self.end_acquisition();
            }
        } else {
            match self.detector.push(v) {
                Crossing::None => {
                    let limit = if self.last_half_timed_out {
                        self.nominal_half_samples
                    } else {
                        self.max_half_samples
                    };
                    if self.half.n >= limit {
                        step = self.close_half(false, None);
                    }
                }
                Crossing::Falling(fraction) => {
                    self.falling_in_cycle = Some(self.crossing_time(fraction));
                    step = self.close_half(true, None);
                }
                Crossing::Rising(fraction) => {
                    let rising = self.crossing_time(fraction);
                    step = self.close_half(true, Some(rising));
                }
            }
        }
        if step.cycle && self.retune_pending {
            self.retune_pending = false;
            let (v_step, i_step) = self.retune_offsets();
            v -= v_step;
            i -= i_step;
        }
        if step.cycle && self.acquiring {
            self.acquiring = false;
            self.detector.reset(v);
        }
        // While acquiring, the offset is not yet known and integrating would build a ramp
        // of the whole DC bias: the acquisition cycle has no reactive power.
        if !self.acquiring {
            self.v_integral += 0.5 * (v + self.v_previous);
        }
        self.v_previous = v;
        self.half.push(v, i, self.v_integral);
        self.sample_index += 1;
        step
    }

    /// The crossing between the previous sample and this one, `fraction` of the way.
    fn crossing_time(&self, fraction: f64) -> CrossingTime {
        CrossingTime {
            position: self.sample_index as f64 - 1.0 + fraction,
            slope: self.detector.last_step(),
        }
    }

    /// Ends the stream: whatever is in progress becomes a partial cycle, so its energy
    /// counts. Returns whether there was anything.
    pub(crate) fn finish(&mut self) -> bool {
        let mut window = self.cycle;
        window.add(&self.half);
        if window.n == 0 {
            return false;
        }
        // Still acquiring (a stream shorter than one nominal period), no offset is known
        // yet: the window's own mean is the best estimate there is.
        self.last_cycle = self.measure(&window, None, self.acquiring);
        self.last_cycle.partial = true;
        self.cycle = WindowSums::default();
        self.half = WindowSums::default();
        self.halves_in_cycle = 0;
        self.steady_timeout_halves = 0;
        self.cycle_began_at_crossing = false;
        true
    }

    /// The first nominal period of samples becomes one cycle (its window means give the
    /// first DC offset estimate); crossing detection and the integrator start after it, so
    /// that first cycle registers active and apparent energy but no reactive energy (20 ms
    /// of it at 50 Hz, once per start).
    fn end_acquisition(&mut self) -> Step {
        let window = self.half;
        self.cycle = WindowSums::default();
        self.half = WindowSums::default();
        // Energy-only: it has no reactive power (the integrator waits for the offset) and its
        // offset is estimated from itself, so its RMS values stay out of averages and events.
        self.last_cycle = self.measure(&window, None, true);
        self.pending_means = window.moments(true);
        self.retune_pending = true;
        self.half_is_fragment = true;
        Step {
            half: false,
            cycle: true,
        }
    }

    fn close_half(&mut self, by_crossing: bool, rising: Option<CrossingTime>) -> Step {
        self.cycle.add(&self.half);
        let mut step = Step::default();
        if self.previous_half.n > 0 {
            let mut window = self.previous_half;
            window.add(&self.half);
            let moments = window.moments(true);
            self.half_cycle_rms_v = libm::sqrt(moments.v_square) * self.scaling.v_scale;
            step.half = true;
        }
        // The stretch from the end of acquisition to the first crossing is no half cycle;
        // it must not pair with the next half as a one-cycle RMS window.
        self.previous_half = if self.half_is_fragment {
            WindowSums::default()
        } else {
            self.half
        };
        self.half_is_fragment = false;
        self.half = WindowSums::default();
        self.halves_in_cycle += 1;
        self.cycle_all_crossings &= by_crossing;
        if !by_crossing && self.last_half_timed_out {
            self.steady_timeout_halves += 1;
        }
        self.last_half_timed_out = !by_crossing;
        if rising.is_some() || (!by_crossing && self.halves_in_cycle >= 2) {
            self.close_cycle(rising);
            step.cycle = true;
        }
        step
    }

    fn close_cycle(&mut self, rising: Option<CrossingTime>) {
        let bounded_by_crossings =
            self.cycle_began_at_crossing && self.cycle_all_crossings && self.halves_in_cycle == 2;
        let falling = self.falling_in_cycle.take();
        let frequency_hz = match (rising, self.last_rising) {
            (Some(rising), Some(last_rising)) if bounded_by_crossings => {
                // The period between rising crossings, averaged with the one between the
                // falling crossings (half a cycle earlier) where both are known: two
                // independent timings halve the variance that ADC noise puts on them.
                let rising_period = rising.position - last_rising.position;
                let period = match (falling, self.previous_falling) {
                    (Some(falling), Some(previous)) => {
                        0.5 * (rising_period + falling.position - previous.position)
                    }
                    _ => rising_period,
                };
                let frequency_hz = self.scaling.sample_rate_hz / period;
                let nominal = self.nominal_frequency_hz;
                (frequency_hz > 0.5 * nominal && frequency_hz < 2.0 * nominal)
                    .then_some(frequency_hz)
            }
            _ => None,
        };
        self.last_rising = rising;
        self.previous_falling = if bounded_by_crossings { falling } else { None };
        let window = self.cycle;
        self.last_cycle = self.measure(&window, frequency_hz, frequency_hz.is_some());
        // Crossing-bounded cycles span one cycle; so do two steady timeout halves, while
        // the voltage is gone, of the nominal cycle.
        self.last_cycle.whole = frequency_hz.is_some() || self.steady_timeout_halves == 2;
        // Only a whole cycle has the offset as its mean: one between two rising crossings,
        // or a nominal period of steady timeouts (no crossings: the voltage is gone, or the
        // offset estimate is so far off that the signal never crosses zero, which only a
        // new estimate can cure). The first stretch after acquisition, and cycles cut by a
        // first timeout, would mislead.
        if self.last_cycle.whole {
            self.pending_means = window.moments(true);
            self.retune_pending = true;
        }
        self.cycle = WindowSums::default();
        self.halves_in_cycle = 0;
        self.steady_timeout_halves = 0;
        self.cycle_began_at_crossing = rising.is_some();
        self.cycle_all_crossings = true;
    }

    /// Measures a window; `whole_cycle` says its moments may be taken about its own means.
    fn measure(
        &mut self,
        window: &WindowSums,
        frequency_hz: Option<f64>,
        whole_cycle: bool,
    ) -> CycleMeasurement {
        if let Some(frequency_hz) = frequency_hz {
            self.last_frequency_hz = frequency_hz;
        }
        CycleMeasurement::from_moments(
            &window.moments(whole_cycle),
            window.n,
            self.sample_index,
            &self.scaling,
            frequency_hz,
            self.last_frequency_hz,
        )
    }

    /// Moves the offset estimates by the closed cycle's residual means and shifts every
    /// stored value by the same amount, so the new estimate enters no filter as a step.
    /// Returns the shifts (voltage, current) in counts.
    fn retune_offsets(&mut self) -> (f64, f64) {
        let means = self.pending_means;
        let (v_step, i_step) = if self.acquiring {
            // The acquisition window is a nominal period, not a measured one: its means are
            // a first estimate that the first whole cycle replaces rather than averages with.
            (
                self.v_offset.provisional(means.mean_v),
                self.i_offset.provisional(means.mean_i),
            )
        } else {
            // A residual beyond what noise and settling leave means the estimate is wrong
            // (a spike of garbage moved it): take the cycle's mean outright.
            let v_step = if means.mean_v.abs() > self.detector.hysteresis() {
                self.v_offset.provisional(means.mean_v)
            } else {
                self.v_offset.update(means.mean_v)
            };
            let i_step = if means.mean_i.abs() > libm::sqrt(means.i_square).max(1.0) {
                self.i_offset.provisional(means.mean_i)
            } else {
                self.i_offset.update(means.mean_i)
            };
            (v_step, i_step)
        };
        self.aligner.shift(v_step, i_step);
        self.detector.shift(v_step);
        self.v_previous -= v_step;
        // Had the new offset applied to the crossings kept for the next period, they would
        // have come `v_step / slope` samples later or earlier: move them, so periods are
        // measured between consistent crossings and a settling offset never reads as a
        // frequency change.
        for crossing in [&mut self.last_rising, &mut self.previous_falling]
            .into_iter()
            .flatten()
        {
            crossing.position += v_step / crossing.slope;
        }
        // Re-centre the integral; a constant in it cancels in the window covariance.
        self.v_integral -= means.mean_w;
        (v_step, i_step)
    }
}
