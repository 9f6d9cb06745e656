//! `joule metrology calibrate`: a channel pair's scales and current delay from a capture
//! taken while a trusted meter read the same circuit.
//!
//! Four steps, each a pass over the capture (streamed, never loaded whole):
//! 1. the raw RMS of each channel, in counts, for a first guess of the scales (so the
//!    meter's zero-crossing hysteresis, which is relative to the nominal voltage, suits
//!    the capture whatever its count range);
//! 2. the meter with that guess: the cycle-aligned RMS of each channel gives the scales
//!    (`reference / counts`), the phase angle `atan2(Q, P)` against the reference's gives
//!    the current delay;
//! 3. the meter with the result, refining the delay from the angle still left (the
//!    correction is then small, so any error in measuring it is too);
//! 4. the last of those runs is the verification whose residual errors are reported.
//!
//! Measurements skip the first 0.5 s (the meter's settling) when the capture is longer
//! than 1.5 s.

use std::f64::consts::PI;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use joule_metrology::{Calibration, IntervalAccumulator, IntervalSummary};

use super::{ConfigRejected, Ratings, build_meter, feed};
use crate::cli::CalibrateArgs;
use joule_meter::source::wav::{Layout, WavError, WavSource};

/// A reference phase angle below this (radians) is taken as exactly resistive.
const RESISTIVE_RAD: f64 = 0.02;

/// A channel whose RMS is below this fraction of the other's carries no signal.
const SILENT_RATIO: f64 = 1e-4;

/// Most delay refinements after the first estimate.
const REFINEMENTS: usize = 3;

/// A delay correction below this (µs) ends the refinement.
const SETTLED_US: f64 = 0.01;

/// Why a calibration failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CalibrateError {
    /// A flag's value is out of range.
    #[error("--{flag} must be a positive, finite number (got {value})")]
    Flag {
        /// The flag, without the dashes.
        flag: &'static str,
        /// What it was.
        value: f64,
    },
    /// The reference power exceeds the reference volts times amps.
    #[error(
        "--ref-w {power_w} W exceeds --ref-v × --ref-a = {apparent_va} VA: \
         the reference reading is inconsistent"
    )]
    PowerExceedsApparent {
        /// The reference power, W.
        power_w: f64,
        /// The reference volts times amps, VA.
        apparent_va: f64,
    },
    /// The delay guess is not a finite number.
    #[error("--current-delay-guess-us must be a finite number (got {0})")]
    DelayGuess(f64),
    /// The capture is not single phase.
    #[error(
        "{}: calibration takes a single-phase capture (2 channels: voltage, current); \
         this one is three phase",
        path.display()
    )]
    NotSinglePhase {
        /// The capture.
        path: PathBuf,
    },
    /// The voltage channel is silent.
    #[error(
        "{}: the voltage channel carries no signal (RMS {rms_counts} counts)",
        path.display()
    )]
    NoVoltage {
        /// The capture.
        path: PathBuf,
        /// The channel's RMS, counts.
        rms_counts: f64,
    },
    /// The current channel is silent.
    #[error(
        "{}: the current channel carries no signal (RMS {rms_counts} counts against \
         {voltage_counts} on the voltage channel); capture under load",
        path.display()
    )]
    NoCurrent {
        /// The capture.
        path: PathBuf,
        /// The current channel's RMS, counts.
        rms_counts: f64,
        /// The voltage channel's RMS, counts.
        voltage_counts: f64,
    },
    /// The meter found no whole mains cycle bounded by zero crossings.
    #[error(
        "{}: no whole mains cycle found between voltage zero crossings; is the voltage \
         channel mains at about {nominal_hz} Hz, and the capture at least a few cycles long?",
        path.display()
    )]
    NoCycles {
        /// The capture.
        path: PathBuf,
        /// The nominal frequency looked for.
        nominal_hz: f64,
    },
    /// The capture could not be read.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// The meter rejected the configuration.
    #[error(transparent)]
    Config(#[from] ConfigRejected),
    /// Writing the output failed.
    #[error("writing the output")]
    Output(#[from] io::Error),
}

/// What the trusted meter read.
#[derive(Debug, Clone, Copy)]
struct Reference {
    /// RMS voltage, V.
    voltage_v: f64,
    /// RMS current, A.
    current_a: f64,
    /// Active power, W.
    power_w: f64,
}

/// Which way the reference current is displaced, when it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Displacement {
    /// Told: the current lags.
    Lagging,
    /// Told: the current leads.
    Leading,
    /// Not told: take the capture's sign.
    Unknown,
}

/// Runs `calibrate`, writing the TOML snippet to `out`.
pub(crate) fn run(args: &CalibrateArgs, out: &mut impl Write) -> Result<(), CalibrateError> {
    let reference = reference(args)?;
    if !args.current_delay_guess_us.is_finite() {
        return Err(CalibrateError::DelayGuess(args.current_delay_guess_us));
    }
    let path = args.file.as_path();
    let (v_counts, i_counts) = raw_rms(path)?;
    let ratings = Ratings {
        nominal_voltage_v: reference.voltage_v,
        nominal_frequency_hz: args.nominal_freq,
        basic_current_a: reference.current_a,
        max_current_a: 6.0 * reference.current_a,
    };
    let guess = Calibration::new(
        reference.voltage_v / v_counts,
        reference.current_a / i_counts,
        args.current_delay_guess_us,
    );
    let first = measure(path, guess, &ratings)?;
    let frequency_hz = first.frequency_hz.ok_or_else(|| CalibrateError::NoCycles {
        path: path.to_path_buf(),
        nominal_hz: args.nominal_freq,
    })?;
    let vrms_counts = first.vrms_v / guess.v_scale;
    let irms_counts = first.irms_a / guess.i_scale;
    let measured_rad = phase_rad(&first);
    let displacement = match (args.ref_lagging, args.ref_leading) {
        (true, _) => Displacement::Lagging,
        (_, true) => Displacement::Leading,
        _ => Displacement::Unknown,
    };
    let reference_rad = reference_phase_rad(&reference, displacement, measured_rad);
    let us_per_rad = 1e6 / (2.0 * PI * frequency_hz);
    let mut calibration = Calibration::new(
        reference.voltage_v / vrms_counts,
        reference.current_a / irms_counts,
        guess.i_delay_us + (measured_rad - reference_rad) * us_per_rad,
    );
    let mut check = measure(path, calibration, &ratings)?;
    for _ in 0..REFINEMENTS {
        let correction_us = (phase_rad(&check) - reference_rad) * us_per_rad;
        if correction_us.abs() < SETTLED_US {
            break;
        }
        calibration.i_delay_us += correction_us;
        check = measure(path, calibration, &ratings)?;
    }
    let v_scale = significant(calibration.v_scale, 10);
    let i_scale = significant(calibration.i_scale, 10);
    let i_delay_us = format!("{:.3}", calibration.i_delay_us);
    let residual = |measured: f64, reference: f64| (measured - reference) / reference * 100.0;
    let reference_kind = if reference_rad == 0.0 {
        "resistive"
    } else if displacement == Displacement::Unknown {
        "sign taken from the capture"
    } else {
        "sign from the flag"
    };
    writeln!(
        out,
        "# joule metrology calibrate: {}, reference {:.1} V {:.2} A {:.1} W",
        path.display(),
        reference.voltage_v,
        reference.current_a,
        reference.power_w
    )?;
    writeln!(out, "[metrology]")?;
    writeln!(out, "v_scale = {v_scale}")?;
    writeln!(out, "i_scale = {i_scale}")?;
    writeln!(out, "i_delay_us = {i_delay_us}")?;
    writeln!(
        out,
        "# verification: V {:+.4} %, A {:+.4} %, W {:+.4} % ({:.3} V, {:.4} A, {:.2} W at {:.3} Hz)",
        residual(check.vrms_v, reference.voltage_v),
        residual(check.irms_a, reference.current_a),
        residual(check.p_w, reference.power_w),
        check.vrms_v,
        check.irms_a,
        check.p_w,
        check.frequency_hz.unwrap_or(frequency_hz),
    )?;
    writeln!(
        out,
        "# capture: {vrms_counts:.2} counts rms V, {irms_counts:.2} counts rms I, phase \
         {measured_rad:+.6} rad; reference phase {reference_rad:+.6} rad ({reference_kind})"
    )?;
    writeln!(
        out,
        "# analyze flags: --v-scale {v_scale} --i-scale {i_scale} --i-delay-us {i_delay_us}"
    )?;
    out.flush()?;
    Ok(())
}

/// The reference reading from the flags, checked.
fn reference(args: &CalibrateArgs) -> Result<Reference, CalibrateError> {
    let positive = |flag: &'static str, value: f64| {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            Err(CalibrateError::Flag { flag, value })
        }
    };
    let reference = Reference {
        voltage_v: positive("ref-v", args.ref_v)?,
        current_a: positive("ref-a", args.ref_a)?,
        power_w: positive("ref-w", args.ref_w)?,
    };
    let apparent_va = reference.voltage_v * reference.current_a;
    if reference.power_w > apparent_va * 1.001 {
        return Err(CalibrateError::PowerExceedsApparent {
            power_w: reference.power_w,
            apparent_va,
        });
    }
    Ok(reference)
}

/// The reference's phase angle, radians, positive when the current lags: `acos(W / VA)`,
/// exactly 0 when nearly resistive, otherwise signed as told or as measured.
fn reference_phase_rad(reference: &Reference, displacement: Displacement, measured: f64) -> f64 {
    let power_factor = reference.power_w / (reference.voltage_v * reference.current_a);
    let angle = power_factor.clamp(-1.0, 1.0).acos();
    if angle < RESISTIVE_RAD {
        return 0.0;
    }
    match displacement {
        Displacement::Lagging => angle,
        Displacement::Leading => -angle,
        Displacement::Unknown => angle.copysign(measured),
    }
}

/// The measured phase angle, radians, positive when the current lags.
fn phase_rad(summary: &IntervalSummary) -> f64 {
    summary.q_var.atan2(summary.p_w)
}

/// The RMS of the voltage and current channels in counts, offsets removed; refuses
/// three-phase captures and silent channels.
fn raw_rms(path: &Path) -> Result<(f64, f64), CalibrateError> {
    let source = WavSource::open(path)?;
    if source.layout() != Layout::SinglePhase {
        return Err(CalibrateError::NotSinglePhase {
            path: path.to_path_buf(),
        });
    }
    let mut voltage = RunningRms::default();
    let mut current = RunningRms::default();
    for frame in source {
        let frame = frame?;
        voltage.push(frame.v[0]);
        current.push(frame.i[0]);
    }
    let (v_counts, i_counts) = (voltage.rms(), current.rms());
    if v_counts <= f64::MIN_POSITIVE || v_counts < SILENT_RATIO * i_counts {
        return Err(CalibrateError::NoVoltage {
            path: path.to_path_buf(),
            rms_counts: v_counts,
        });
    }
    if i_counts <= f64::MIN_POSITIVE || i_counts < SILENT_RATIO * v_counts {
        return Err(CalibrateError::NoCurrent {
            path: path.to_path_buf(),
            rms_counts: i_counts,
            voltage_counts: v_counts,
        });
    }
    Ok((v_counts, i_counts))
}

/// Runs the capture through a meter and aggregates its whole cycles of phase 1, skipping
/// the first 0.5 s of captures longer than 1.5 s.
fn measure(
    path: &Path,
    calibration: Calibration,
    ratings: &Ratings,
) -> Result<IntervalSummary, CalibrateError> {
    let mut source = WavSource::open(path)?;
    let sample_rate_hz = source.sample_rate_hz();
    let skip = if source.frames() as f64 > 1.5 * sample_rate_hz {
        (0.5 * sample_rate_hz).round() as u64
    } else {
        0
    };
    let mut meter = build_meter(&source, calibration, ratings)?;
    let mut accumulator = IntervalAccumulator::default();
    feed(&mut source, &mut meter, |meter, completed| {
        let cycle = meter.last_cycle(0);
        if completed.phase(0) && cycle.end_sample.saturating_sub(u64::from(cycle.samples)) >= skip {
            accumulator.add(cycle);
        }
        Ok::<(), CalibrateError>(())
    })?;
    accumulator
        .summary()
        .ok_or_else(|| CalibrateError::NoCycles {
            path: path.to_path_buf(),
            nominal_hz: ratings.nominal_frequency_hz,
        })
}

/// RMS about the mean, summed relative to the first sample to keep the sums small.
#[derive(Debug, Default)]
struct RunningRms {
    origin: Option<f64>,
    n: u64,
    sum: f64,
    sum_square: f64,
}

impl RunningRms {
    /// Adds a sample.
    fn push(&mut self, value: f64) {
        let origin = *self.origin.get_or_insert(value);
        let x = value - origin;
        self.n += 1;
        self.sum += x;
        self.sum_square += x * x;
    }

    /// The RMS about the mean (0 with no samples).
    fn rms(&self) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        (self.sum_square / n - mean * mean).max(0.0).sqrt()
    }
}

/// `value` to `digits` significant digits, in plain decimal (valid TOML and shell).
fn significant(value: f64, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value:?}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = usize::try_from(digits - 1 - magnitude).unwrap_or(0);
    let text = format!("{value:.decimals$}");
    if !text.contains('.') {
        return format!("{text}.0");
    }
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') {
        format!("{trimmed}0")
    } else {
        trimmed.to_owned()
    }
}
