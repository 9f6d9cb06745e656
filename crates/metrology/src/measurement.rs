//! One mains cycle's measurements, computed from the cycle's window sums.

use crate::sums::Moments;
use core::f64::consts::PI;

/// RMS, power and frequency of one mains cycle of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CycleMeasurement {
    /// Index one past the cycle's last sample (samples since the meter started).
    pub end_sample: u64,
    /// Samples in the cycle.
    pub samples: u32,
    /// Length of the cycle in seconds (`samples / sample_rate`).
    pub duration_s: f64,
    /// RMS voltage in volts.
    pub vrms_v: f64,
    /// RMS current in amps.
    pub irms_a: f64,
    /// Active power in watts: positive while importing, negative while exporting.
    pub p_w: f64,
    /// Reactive power in var: positive when the current lags (inductive).
    pub q_var: f64,
    /// Apparent power `Vrms × Irms` in VA.
    pub s_va: f64,
    /// Power factor `P / S`, signed like P (0 when there is no current).
    pub pf: f64,
    /// Frequency from the interpolated zero crossings that bound the cycle, or `None` when
    /// the cycle was closed by a timeout (no voltage) rather than by crossings.
    pub frequency_hz: Option<f64>,
    /// The cycle was cut short by the end of the sample stream: its energy counts, its RMS
    /// values are from a partial window.
    pub partial: bool,
    /// The window spans whole mains cycles (between rising crossings, or a nominal period
    /// while the voltage is gone), so its RMS values are exact. Other windows (the first
    /// nominal period after start-up, whose offset is still being found; the stretch to the
    /// first crossing; the cycle a timeout cuts; the end of the stream) count for energy
    /// only.
    pub whole: bool,
}

/// Scales and the frequency needed to turn a window's moments into a measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scaling {
    pub(crate) v_scale: f64,
    pub(crate) i_scale: f64,
    pub(crate) sample_rate_hz: f64,
}

impl CycleMeasurement {
    /// Computes a cycle from its moments. `frequency_for_q_hz` is the frequency the
    /// integrator's gain is corrected for (the measured one, or the last known).
    pub(crate) fn from_moments(
        moments: &Moments,
        samples: u32,
        end_sample: u64,
        scaling: &Scaling,
        frequency_hz: Option<f64>,
        frequency_for_q_hz: f64,
    ) -> Self {
        let vi_scale = scaling.v_scale * scaling.i_scale;
        let vrms_v = libm::sqrt(moments.v_square) * scaling.v_scale;
        let irms_a = libm::sqrt(moments.i_square) * scaling.i_scale;
        let p_w = moments.vi * vi_scale;
        // The trapezoidal integrator lags exactly 90° at every frequency; its gain is
        // cot(ω/2)/2 per sample, so 2·tan(ω/2) restores unit gain at the fundamental.
        let omega = 2.0 * PI * frequency_for_q_hz / scaling.sample_rate_hz;
        let q_var = moments.wi * 2.0 * libm::tan(omega / 2.0) * vi_scale;
        let s_va = vrms_v * irms_a;
        let pf = if s_va > 0.0 {
            (p_w / s_va).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        Self {
            end_sample,
            samples,
            duration_s: f64::from(samples) / scaling.sample_rate_hz,
            vrms_v,
            irms_a,
            p_w,
            q_var,
            s_va,
            pf,
            frequency_hz,
            partial: false,
            whole: false,
        }
    }
}
