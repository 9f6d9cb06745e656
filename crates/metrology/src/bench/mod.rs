//! The chain's throughput benchmark in one place, so that the criterion benchmark
//! (`benches/chain.rs`) and `joule bench metrology` measure the same thing: the capture both
//! sides are fed, the meter with every feature on, and the anchor it is compared with, a
//! literal port of EmonLib's `calcVI` loop ([`emonlib`]).
//!
//! Compiled only with the `emonlib-anchor` feature; nothing here is used by the meter.

pub mod emonlib;

use std::hint::black_box;

use crate::{Calibration, ConfigError, Frame, Meter, MeterConfig};
use emonlib::EmonLib;

/// Samples per second per channel.
pub const SAMPLE_RATE_HZ: f64 = 4000.0;
/// Sample pairs (or frames) in a capture: two seconds, a whole number of 50 Hz cycles, so
/// the capture loops seamlessly.
pub const PAIRS: usize = 8000;
/// Volts per count of a 12-bit front end reaching 450 V at full scale.
pub const V_SCALE: f64 = 450.0 / 2048.0;
/// Amps per count of a 12-bit front end reaching 100 A at full scale.
pub const I_SCALE: f64 = 100.0 / 2048.0;
/// Current-channel lag the front end has and the meter corrects, µs.
pub const DELAY_US: f64 = 60.0;
/// EmonLib's `PHASECAL` for the anchor (its example sketches' value).
const EMONLIB_PHASECAL: f64 = 1.7;
/// Crossings per `calcVI` call (ten cycles, as EmonLib's examples use).
const EMONLIB_CROSSINGS: u32 = 20;

/// One phase's voltage and current channels, raw 12-bit ADC counts biased to mid-scale.
#[derive(Debug, Clone)]
pub struct PhaseSamples {
    /// Voltage channel.
    pub v: Vec<i16>,
    /// Current channel, `DELAY_US` late.
    pub i: Vec<i16>,
}

/// A little deterministic noise, ±0.5 count (a linear congruential generator: no
/// dependencies).
#[derive(Debug)]
struct Noise(u32);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        f64::from(self.0 >> 8) / f64::from(1u32 << 24) - 0.5
    }
}

/// One phase of a 230 V, 12 A, PF 0.9 lagging load, `shift_rad` behind L1.
fn phase_samples(shift_rad: f64, noise: &mut Noise) -> PhaseSamples {
    let angle = 0.9f64.acos() + std::f64::consts::TAU * 50.0 * DELAY_US * 1e-6;
    let (v, i) = (0..PAIRS)
        .map(|n| {
            let theta = std::f64::consts::TAU * 50.0 * n as f64 / SAMPLE_RATE_HZ - shift_rad;
            let v = 230.0 * 2f64.sqrt() * theta.sin() / V_SCALE + 2048.0 + noise.next();
            let i = 12.0 * 2f64.sqrt() * (theta - angle).sin() / I_SCALE + 2048.0 + noise.next();
            (v.round() as i16, i.round() as i16)
        })
        .unzip();
    PhaseSamples { v, i }
}

/// The single-phase capture: [`PAIRS`] sample pairs at [`SAMPLE_RATE_HZ`] of a 230 V,
/// 12 A, PF 0.9 lagging load through a 12-bit ADC whose current channel lags by
/// [`DELAY_US`], with a little deterministic noise.
pub fn single_phase_capture() -> PhaseSamples {
    phase_samples(0.0, &mut Noise(0x1234_5678))
}

/// The same load on each of three phases, 120° apart.
pub fn three_phase_capture() -> [PhaseSamples; 3] {
    let mut noise = Noise(0x1234_5678);
    let third = std::f64::consts::TAU / 3.0;
    [0.0, third, 2.0 * third].map(|shift_rad| phase_samples(shift_rad, &mut noise))
}

/// Joule's single-phase meter for the capture, every feature on (default thresholds,
/// demand, power quality and tamper).
pub fn joule_meter() -> Result<Meter, ConfigError> {
    Meter::new(MeterConfig::single_phase(SAMPLE_RATE_HZ, calibration()))
}

/// Joule's three-phase four-wire meter for the three-phase capture, every feature on.
pub fn joule_three_phase_meter() -> Result<Meter, ConfigError> {
    Meter::new(MeterConfig::three_phase(SAMPLE_RATE_HZ, calibration()))
}

/// The capture's front end: its scales and the current channel's lag.
fn calibration() -> Calibration {
    Calibration::new(V_SCALE, I_SCALE, DELAY_US)
}

/// One pass of the single-phase chain over the capture, sample by sample.
pub fn joule_pass(meter: &mut Meter, capture: &PhaseSamples) {
    for (&v, &i) in capture.v.iter().zip(&capture.i) {
        black_box(meter.push_sample(f64::from(v), f64::from(i)));
    }
}

/// One pass of the three-phase chain over the capture, frame by frame.
pub fn joule_three_phase_pass(meter: &mut Meter, capture: &[PhaseSamples; 3]) {
    for n in 0..PAIRS {
        let frame = Frame {
            v: capture.each_ref().map(|phase| f64::from(phase.v[n])),
            i: capture.each_ref().map(|phase| f64::from(phase.i[n])),
            neutral: 0.0,
        };
        black_box(meter.push_frame(&frame));
    }
}

/// EmonLib set up for the capture: `VCAL` and `ICAL` in its units, volts (amps) per ADC
/// volt at a 3.3 V supply.
pub fn emonlib() -> EmonLib {
    EmonLib::new(
        V_SCALE * 4096.0 / 3.3,
        I_SCALE * 4096.0 / 3.3,
        EMONLIB_PHASECAL,
    )
}

/// One pass of EmonLib over the capture: `calcVI(20, …)` (ten cycles) until the samples
/// run out. Returns the last window's real power, W.
pub fn emonlib_pass(monitor: &mut EmonLib, capture: &PhaseSamples) -> f64 {
    monitor.reset_cursor();
    let mut last_power_w = 0.0;
    while let Some(reading) = monitor.calc_vi(&capture.v, &capture.i, EMONLIB_CROSSINGS) {
        last_power_w = black_box(reading).real_power;
    }
    black_box(monitor.cursor());
    last_power_w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_measure_the_captured_load() {
        let capture = single_phase_capture();
        let mut meter = joule_meter().expect("meter");
        joule_pass(&mut meter, &capture);
        // 230 V × 12 A × 0.9.
        let joule_w = meter.last_cycle(0).p_w;
        assert!((joule_w - 2484.0).abs() < 10.0, "{joule_w}");
        let emonlib_w = emonlib_pass(&mut emonlib(), &capture);
        assert!((emonlib_w - 2484.0).abs() < 100.0, "{emonlib_w}");
    }

    #[test]
    fn the_three_phase_meter_sees_the_load_on_every_phase() {
        let capture = three_phase_capture();
        let mut meter = joule_three_phase_meter().expect("meter");
        joule_three_phase_pass(&mut meter, &capture);
        for phase in 0..3 {
            let p_w = meter.last_cycle(phase).p_w;
            assert!((p_w - 2484.0).abs() < 10.0, "L{}: {p_w}", phase + 1);
        }
    }
}
