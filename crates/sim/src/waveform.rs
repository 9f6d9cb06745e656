//! Synthetic mains waveforms sampled through a modelled ADC front end.
//!
//! Signals are defined in continuous time as truncated Fourier series locked to the voltage
//! phase, so they are band-limited exactly as an ideal anti-alias (or sigma-delta
//! decimation) filter would leave them: harmonics at or above the Nyquist frequency are
//! never generated. Loads switch on and off with sharp edges at any instant (a kettle
//! switching on mid-interval). The truth — RMS, power, energy — is computed from the
//! continuous signal, never from the meter's samples.

use core::f64::consts::{PI, SQRT_2, TAU};
use joule_metrology::{Calibration, Frame, MAX_PHASES};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A periodic waveform as a Fourier series in the voltage phase θ:
/// `x(θ) = Σ a_h · sin(h·θ + φ_h)`, normalised to an RMS of 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// (order h, peak amplitude a_h, phase φ_h in rad).
    terms: Vec<(u32, f64, f64)>,
}

/// Points per cycle used to take the Fourier series of a shape.
const SHAPE_POINTS: usize = 8192;

impl Spectrum {
    /// A pure sine in phase with θ.
    pub fn sine() -> Self {
        Self {
            terms: vec![(1, SQRT_2, 0.0)],
        }
    }

    /// A sine plus harmonics, each `(order, ratio of the fundamental's amplitude, phase in
    /// rad)`; normalised to RMS 1.
    pub fn with_harmonics(harmonics: &[(u32, f64, f64)]) -> Self {
        let mut terms = vec![(1, 1.0, 0.0)];
        terms.extend(harmonics.iter().copied());
        Self { terms }.normalised()
    }

    /// The Fourier series (orders 1 to `max_order`) of a shape given over one cycle,
    /// normalised to RMS 1 after truncation.
    pub fn from_shape(shape: impl Fn(f64) -> f64, max_order: u32) -> Self {
        let samples: Vec<f64> = (0..SHAPE_POINTS)
            .map(|k| shape(TAU * k as f64 / SHAPE_POINTS as f64))
            .collect();
        let terms = (1..=max_order)
            .filter_map(|h| {
                let (mut sine, mut cosine) = (0.0, 0.0);
                for (k, x) in samples.iter().enumerate() {
                    let angle = f64::from(h) * TAU * k as f64 / SHAPE_POINTS as f64;
                    sine += x * angle.sin();
                    cosine += x * angle.cos();
                }
                let (b, a) = (
                    2.0 * sine / SHAPE_POINTS as f64,
                    2.0 * cosine / SHAPE_POINTS as f64,
                );
                let amplitude = a.hypot(b);
                (amplitude > 1e-9).then(|| (h, amplitude, a.atan2(b)))
            })
            .collect();
        Self { terms }.normalised()
    }

    /// A leading-edge (triac) phase-angle dimmer on a resistive lamp: the current starts
    /// `firing_deg` into each half cycle and follows the voltage to its zero crossing.
    pub fn leading_edge_dimmer(firing_deg: f64, max_order: u32) -> Self {
        let firing = firing_deg.to_radians();
        Self::from_shape(
            |theta| {
                if theta % PI >= firing {
                    theta.sin()
                } else {
                    0.0
                }
            },
            max_order,
        )
    }

    /// A switch-mode supply with a capacitor-input rectifier: narrow current pulses just
    /// before each voltage peak, `conduction_deg` wide.
    pub fn switch_mode(conduction_deg: f64, max_order: u32) -> Self {
        let half_width = conduction_deg.to_radians() / 2.0;
        let centre = PI / 2.0 - half_width * 0.4;
        Self::from_shape(
            |theta| {
                let within = theta % PI;
                let distance = (within - centre).abs();
                let pulse = if distance < half_width {
                    (PI / 2.0 * distance / half_width).cos().powi(2)
                } else {
                    0.0
                };
                if theta < PI { pulse } else { -pulse }
            },
            max_order,
        )
    }

    /// The same waveform, later in time by `angle_rad` of the fundamental (each harmonic h
    /// moves by h·angle): a lagging load for positive angles.
    pub fn delayed(&self, angle_rad: f64) -> Self {
        let terms = self
            .terms
            .iter()
            .map(|&(h, a, phi)| (h, a, phi - f64::from(h) * angle_rad));
        Self {
            terms: terms.collect(),
        }
    }

    /// The terms at orders below `limit` (to keep a waveform under the Nyquist frequency).
    pub fn below_order(&self, limit: u32) -> Self {
        Self {
            terms: self.terms.iter().copied().filter(|t| t.0 < limit).collect(),
        }
        .normalised()
    }

    /// The highest order present.
    pub fn max_order(&self) -> u32 {
        self.terms.iter().map(|t| t.0).max().unwrap_or(1)
    }

    fn normalised(mut self) -> Self {
        let rms = (self.terms.iter().map(|t| t.1 * t.1 / 2.0).sum::<f64>()).sqrt();
        if rms > 0.0 {
            for term in &mut self.terms {
                term.1 /= rms;
            }
        }
        self
    }

    /// The value at phase θ.
    pub fn at(&self, theta: f64) -> f64 {
        self.terms
            .iter()
            .map(|&(h, a, phi)| a * (f64::from(h) * theta + phi).sin())
            .sum()
    }

    /// Mean of the product of two unit-RMS spectra over a cycle (Parseval): with a voltage
    /// shape and a current shape, the power factor the pair gives.
    pub fn mean_product(&self, other: &Self) -> f64 {
        let mut total = 0.0;
        for &(h, a, phi) in &self.terms {
            for &(k, b, psi) in &other.terms {
                if h == k {
                    total += a * b * (phi - psi).cos() / 2.0;
                }
            }
        }
        total
    }

    /// The fundamental's (amplitude, phase).
    fn fundamental(&self) -> (f64, f64) {
        self.terms
            .iter()
            .find(|t| t.0 == 1)
            .map_or((0.0, 0.0), |t| (t.1, t.2))
    }
}

/// When a load draws current.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// All the time.
    Always,
    /// From this many seconds on.
    From(f64),
    /// From the first time to the second, in seconds.
    Between(f64, f64),
    /// On for `on_s` out of every `period_s`, starting `offset_s` into the run.
    Cycling {
        /// Length of one on/off cycle, s.
        period_s: f64,
        /// Time on per cycle, s.
        on_s: f64,
        /// When the first on-time starts, s.
        offset_s: f64,
    },
}

impl Schedule {
    /// Whether the load is on at `t` seconds.
    pub fn is_on(&self, t: f64) -> bool {
        match *self {
            Self::Always => true,
            Self::From(start) => t >= start,
            Self::Between(start, end) => t >= start && t < end,
            Self::Cycling {
                period_s,
                on_s,
                offset_s,
            } => t >= offset_s && (t - offset_s) % period_s < on_s,
        }
    }
}

/// One load on a phase: an RMS current with a shape, switched by a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    /// RMS current while on, A (negative for a generator exporting, e.g. an inverter).
    pub current_a: f64,
    /// Waveform, locked to the voltage phase.
    pub shape: Spectrum,
    /// When it is on.
    pub schedule: Schedule,
}

impl Load {
    /// A sinusoidal load drawing `current_a` RMS at power factor `pf`, lagging (inductive)
    /// or leading (capacitive), always on.
    pub fn sine(current_a: f64, pf: f64, lagging: bool) -> Self {
        let angle = pf.clamp(-1.0, 1.0).acos();
        let angle = if lagging { angle } else { -angle };
        Self {
            current_a,
            shape: Spectrum::sine().delayed(angle),
            schedule: Schedule::Always,
        }
    }
}

/// A stretch of time in which the voltage is scaled (sag, swell, interruption).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoltageChange {
    /// Start, s.
    pub from_s: f64,
    /// End, s.
    pub to_s: f64,
    /// Factor on the voltage meanwhile (0 for an interruption).
    pub factor: f64,
}

/// One phase: its voltage and the loads on it.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSignal {
    /// RMS voltage, V.
    pub voltage_v: f64,
    /// Voltage waveform.
    pub voltage_shape: Spectrum,
    /// Sags, swells and interruptions.
    pub voltage_changes: Vec<VoltageChange>,
    /// Loads (their currents add).
    pub loads: Vec<Load>,
    /// Phase angle of this phase's voltage relative to L1, rad (0, −2π/3, +2π/3).
    pub angle_rad: f64,
}

impl PhaseSignal {
    /// A sinusoidal voltage with the given loads.
    pub fn new(voltage_v: f64, loads: Vec<Load>) -> Self {
        Self {
            voltage_v,
            voltage_shape: Spectrum::sine(),
            voltage_changes: Vec::new(),
            loads,
            angle_rad: 0.0,
        }
    }

    fn voltage_factor(&self, t: f64) -> f64 {
        self.voltage_changes
            .iter()
            .filter(|c| t >= c.from_s && t < c.to_s)
            .fold(1.0, |factor, c| factor * c.factor)
    }

    fn voltage(&self, theta: f64, t: f64) -> f64 {
        self.voltage_v * self.voltage_factor(t) * self.voltage_shape.at(theta + self.angle_rad)
    }

    fn current(&self, theta: f64, t: f64) -> f64 {
        self.loads
            .iter()
            .filter(|load| load.schedule.is_on(t))
            .map(|load| load.current_a * load.shape.at(theta + self.angle_rad))
            .sum()
    }
}

/// How the mains frequency behaves over the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Frequency {
    /// Constant, Hz.
    Constant(f64),
    /// Drifting linearly from the first to the second value over the run, Hz.
    Ramp(f64, f64),
}

/// The ADC front end: resolution, full scale, bias, noise and the current channel's delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adc {
    /// Resolution in bits (12 for an ESP32- or STM32-class ADC).
    pub bits: u32,
    /// Voltage at full scale (the peak the ADC reaches at its last code), V.
    pub voltage_full_scale_v: f64,
    /// Current at full scale, A.
    pub current_full_scale_a: f64,
    /// DC bias on the voltage channel, counts (mid-scale plus an offset error).
    pub voltage_bias_counts: f64,
    /// DC bias on the current channel, counts.
    pub current_bias_counts: f64,
    /// Gaussian noise on every channel, counts RMS.
    pub noise_counts: f64,
    /// How far the current channel lags the voltage channel, µs.
    pub current_delay_us: f64,
}

impl Adc {
    /// A 12-bit unipolar ADC biased to mid-scale (with a small offset error), 0.7 counts of
    /// noise, and a current channel lagging by `current_delay_us`.
    pub fn twelve_bit(voltage_full_scale_v: f64, current_full_scale_a: f64, delay_us: f64) -> Self {
        Self {
            bits: 12,
            voltage_full_scale_v,
            current_full_scale_a,
            voltage_bias_counts: 2048.0 + 13.4,
            current_bias_counts: 2048.0 - 7.9,
            noise_counts: 0.7,
            current_delay_us: delay_us,
        }
    }

    fn half_range(&self) -> f64 {
        f64::from(1u32 << (self.bits - 1))
    }

    /// The calibration that undoes this front end exactly.
    pub fn calibration(&self) -> Calibration {
        Calibration::new(
            self.voltage_full_scale_v / self.half_range(),
            self.current_full_scale_a / self.half_range(),
            self.current_delay_us,
        )
    }

    fn quantise(&self, value: f64, full_scale: f64, bias: f64, noise: f64) -> f64 {
        let max_code = f64::from((1u32 << self.bits) - 1);
        (value / full_scale * self.half_range() + bias + noise)
            .round()
            .clamp(0.0, max_code)
    }
}

/// A complete synthetic capture: phases, frequency, ADC, duration and seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Samples per second per channel.
    pub sample_rate_hz: f64,
    /// Length of the capture, s.
    pub duration_s: f64,
    /// Mains frequency.
    pub frequency: Frequency,
    /// Voltage phase at t = 0, rad.
    pub start_angle_rad: f64,
    /// One or three phases.
    pub phases: Vec<PhaseSignal>,
    /// Current that leaks to earth from L1 and so never returns in the neutral, A RMS
    /// (in phase with L1's voltage); only matters with a neutral channel.
    pub earth_leakage_a: f64,
    /// The ADC front end.
    pub adc: Adc,
    /// Seed of the noise.
    pub seed: u64,
}

impl Scenario {
    /// A single-phase scenario at 4 kHz with a 12-bit front end.
    pub fn single_phase(phase: PhaseSignal, duration_s: f64, adc: Adc) -> Self {
        Self {
            sample_rate_hz: 4000.0,
            duration_s,
            frequency: Frequency::Constant(50.0),
            start_angle_rad: 0.7,
            phases: vec![phase],
            earth_leakage_a: 0.0,
            adc,
            seed: 1,
        }
    }

    /// Voltage phase θ at `t`.
    pub fn theta(&self, t: f64) -> f64 {
        let cycles = match self.frequency {
            Frequency::Constant(f) => f * t,
            Frequency::Ramp(from, to) => from * t + (to - from) * t * t / (2.0 * self.duration_s),
        };
        self.start_angle_rad + TAU * cycles
    }

    /// Number of samples per channel.
    pub fn sample_count(&self) -> u64 {
        (self.duration_s * self.sample_rate_hz).round() as u64
    }

    /// The calibration that undoes the front end (same for every phase).
    pub fn calibration(&self) -> Calibration {
        self.adc.calibration()
    }

    /// The ADC frames, raw counts. The current channels (and neutral) show the signal
    /// `current_delay_us` late. L1 carries the earth leakage in addition to its loads.
    pub fn frames(&self) -> impl Iterator<Item = Frame> + '_ {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let delay_s = self.adc.current_delay_us * 1e-6;
        let adc = self.adc;
        (0..self.sample_count()).map(move |n| {
            let t = n as f64 / self.sample_rate_hz;
            let theta_v = self.theta(t);
            let t_i = t - delay_s;
            let theta_i = self.theta(t_i);
            let mut frame = Frame::default();
            for (k, phase) in self.phases.iter().enumerate().take(MAX_PHASES) {
                let mut current = phase.current(theta_i, t_i);
                if k == 0 {
                    current += self.earth_leakage_a * SQRT_2 * (theta_i + phase.angle_rad).sin();
                }
                let (nv, ni) = (gaussian(&mut rng), gaussian(&mut rng));
                frame.v[k] = adc.quantise(
                    phase.voltage(theta_v, t),
                    adc.voltage_full_scale_v,
                    adc.voltage_bias_counts,
                    nv * adc.noise_counts,
                );
                frame.i[k] = adc.quantise(
                    current,
                    adc.current_full_scale_a,
                    adc.current_bias_counts,
                    ni * adc.noise_counts,
                );
            }
            let nn = gaussian(&mut rng);
            // The neutral carries the loads' return current, not the leakage.
            let neutral: f64 = self.phases.iter().map(|p| p.current(theta_i, t_i)).sum();
            frame.neutral = adc.quantise(
                neutral,
                adc.current_full_scale_a,
                adc.current_bias_counts,
                nn * adc.noise_counts,
            );
            frame
        })
    }

    /// True stationary values of one phase with every load on and no voltage change:
    /// (Vrms V, Irms A, P W, fundamental Q var).
    pub fn stationary_truth(&self, phase: usize) -> Truth {
        let signal = &self.phases[phase];
        let mut current = Spectrum { terms: Vec::new() };
        for load in &signal.loads {
            for &(h, a, phi) in &load.shape.terms {
                current.terms.push((h, a * load.current_a, phi));
            }
        }
        let irms_a = current.mean_product(&current).sqrt();
        let p_w = signal.voltage_v * signal.voltage_shape.mean_product(&current);
        let (v1, phi_v) = signal.voltage_shape.fundamental();
        let (i1_sum, phi_i) = current
            .terms
            .iter()
            .filter(|t| t.0 == 1)
            .fold((0.0, 0.0), |(re, im), t| {
                (re + t.1 * t.2.cos(), im + t.1 * t.2.sin())
            });
        let (i1, phase_i) = (i1_sum.hypot(phi_i), phi_i.atan2(i1_sum));
        let q_var = signal.voltage_v * v1 * i1 / 2.0 * (phi_v - phase_i).sin();
        Truth {
            vrms_v: signal.voltage_v,
            irms_a,
            p_w,
            q_var,
        }
    }

    /// True active energy over the whole capture, split into import and export per mains
    /// cycle of the nominal frequency (Wh, Wh), integrated from the continuous signal
    /// at 32 points per sample interval. Phases are summed before the split.
    pub fn true_energy_wh(&self) -> (f64, f64) {
        let step = 1.0 / (self.sample_rate_hz * 32.0);
        let chunk = 0.02;
        let (mut import, mut export) = (0.0, 0.0);
        let mut t0 = 0.0;
        while t0 < self.duration_s {
            let t1 = (t0 + chunk).min(self.duration_s);
            let points = ((t1 - t0) / step).ceil().max(1.0) as usize;
            let h = (t1 - t0) / points as f64;
            let mut energy_ws = 0.0;
            for k in 0..=points {
                let t = t0 + k as f64 * h;
                let weight = if k == 0 || k == points { 0.5 } else { 1.0 };
                let theta = self.theta(t);
                let power: f64 = self
                    .phases
                    .iter()
                    .map(|p| p.voltage(theta, t) * p.current(theta, t))
                    .sum();
                energy_ws += weight * power * h;
            }
            if energy_ws >= 0.0 {
                import += energy_ws / 3600.0;
            } else {
                export -= energy_ws / 3600.0;
            }
            t0 = t1;
        }
        (import, export)
    }
}

/// True stationary values of one phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truth {
    /// RMS voltage, V.
    pub vrms_v: f64,
    /// RMS current, A.
    pub irms_a: f64,
    /// Active power, W.
    pub p_w: f64,
    /// Reactive power of the fundamental, var (+ inductive).
    pub q_var: f64,
}

/// A standard normal variate (Box–Muller).
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimmer_spectrum_keeps_its_power_and_rms() {
        let dimmer = Spectrum::leading_edge_dimmer(90.0, 39);
        // Half of each half-sine: P is half of full-on, RMS is 1/√2 of full-on; with unit
        // RMS the in-phase fundamental share (P/(V·I)) is the displacement factor.
        let pf = Spectrum::sine().mean_product(&dimmer);
        assert!(
            (pf - core::f64::consts::FRAC_1_SQRT_2).abs() < 0.01,
            "dimmer power factor {pf}"
        );
        assert!((dimmer.mean_product(&dimmer) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn stationary_truth_of_a_lagging_load() {
        let phase = PhaseSignal::new(230.0, vec![Load::sine(10.0, 0.5, true)]);
        let scenario = Scenario::single_phase(phase, 1.0, Adc::twelve_bit(450.0, 100.0, 0.0));
        let truth = scenario.stationary_truth(0);
        assert!((truth.p_w - 1150.0).abs() < 1e-9);
        assert!((truth.q_var - 2300.0 * 0.75f64.sqrt()).abs() < 1e-9);
        let (import, export) = scenario.true_energy_wh();
        assert!((import - 1150.0 / 3600.0).abs() < 1e-6, "{import}");
        assert_eq!(export, 0.0);
    }

    #[test]
    fn frames_are_deterministic_by_seed() {
        let phase = PhaseSignal::new(230.0, vec![Load::sine(5.0, 1.0, true)]);
        let scenario = Scenario::single_phase(phase, 0.1, Adc::twelve_bit(450.0, 100.0, 50.0));
        let a: Vec<Frame> = scenario.frames().collect();
        let b: Vec<Frame> = scenario.frames().collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 400);
        assert!(a.iter().all(|f| f.v[0] >= 0.0 && f.v[0] <= 4095.0));
    }
}
