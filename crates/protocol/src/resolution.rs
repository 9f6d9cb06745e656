//! The resolution measured values travel at: what a meter rounds to before it sends.
//!
//! A metering chip's RMS and power figures are good to a fraction of a percent; the
//! fifteen-odd digits of an `f64` past that are noise, and noise is what a store cannot
//! compress (a day of one-second readings kept to the bit costs two to three times more).
//! So, like a DLMS register's scaler, each quantity has a fixed resolution well below
//! class 0.5 accuracy, and meters round to it when they make a reading. Energy registers
//! are integers in milli-units already and are never rounded.

use crate::{IntervalRecord, LiveReading, PhaseReading};

/// Voltage resolution: 0.01 V.
pub const VOLTAGE_STEPS_PER_V: f64 = 100.0;
/// Current resolution: 1 mA.
pub const CURRENT_STEPS_PER_A: f64 = 1000.0;
/// Active, reactive and apparent power resolution: 0.1 W, var, VA.
pub const POWER_STEPS_PER_W: f64 = 10.0;
/// Power factor resolution: 0.0001.
pub const POWER_FACTOR_STEPS: f64 = 10_000.0;
/// Frequency resolution: 1 mHz.
pub const FREQUENCY_STEPS_PER_HZ: f64 = 1000.0;

/// `value` rounded to `1 / steps` (half away from zero).
fn round(value: f64, steps: f64) -> f64 {
    (value * steps).round() / steps
}

fn phase_at_resolution(phase: &mut PhaseReading) {
    phase.voltage_v = round(phase.voltage_v, VOLTAGE_STEPS_PER_V);
    phase.current_a = round(phase.current_a, CURRENT_STEPS_PER_A);
    phase.p_w = round(phase.p_w, POWER_STEPS_PER_W);
    phase.q_var = round(phase.q_var, POWER_STEPS_PER_W);
    phase.s_va = round(phase.s_va, POWER_STEPS_PER_W);
    phase.pf = round(phase.pf, POWER_FACTOR_STEPS);
}

impl LiveReading {
    /// The reading with its measured values rounded to the wire resolution.
    #[must_use]
    pub fn at_resolution(mut self) -> Self {
        self.voltage_v = round(self.voltage_v, VOLTAGE_STEPS_PER_V);
        self.current_a = round(self.current_a, CURRENT_STEPS_PER_A);
        self.p_w = round(self.p_w, POWER_STEPS_PER_W);
        self.q_var = round(self.q_var, POWER_STEPS_PER_W);
        self.s_va = round(self.s_va, POWER_STEPS_PER_W);
        self.pf = round(self.pf, POWER_FACTOR_STEPS);
        self.freq_hz = self.freq_hz.map(|hz| round(hz, FREQUENCY_STEPS_PER_HZ));
        self.phases.iter_mut().for_each(phase_at_resolution);
        self
    }
}

impl IntervalRecord {
    /// The record with its measured values rounded to the wire resolution.
    #[must_use]
    pub fn at_resolution(mut self) -> Self {
        self.voltage_min_v = round(self.voltage_min_v, VOLTAGE_STEPS_PER_V);
        self.voltage_max_v = round(self.voltage_max_v, VOLTAGE_STEPS_PER_V);
        self.voltage_avg_v = round(self.voltage_avg_v, VOLTAGE_STEPS_PER_V);
        self.max_demand_w = self.max_demand_w.map(|w| round(w, POWER_STEPS_PER_W));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PAYLOAD_VERSION, Registers, RelayState};

    #[test]
    fn readings_round_to_the_stated_steps_and_keep_registers() {
        let reading = LiveReading {
            v: PAYLOAD_VERSION,
            seq: 1,
            ts_ms: 0,
            voltage_v: 230.123_456,
            current_a: 9.876_543_2,
            p_w: -2_271.549_9,
            q_var: 112.05,
            s_va: 2283.94,
            pf: -0.994_649,
            freq_hz: Some(50.012_49),
            phases: Vec::new(),
            registers: Registers {
                import_mwh: 1_834_201_337,
                ..Registers::default()
            },
            tariff: 1,
            relay: RelayState::Connected,
        }
        .at_resolution();
        assert_eq!(reading.voltage_v, 230.12);
        assert_eq!(reading.current_a, 9.877);
        assert_eq!(reading.p_w, -2271.5);
        assert_eq!(reading.s_va, 2283.9);
        assert_eq!(reading.pf, -0.9946);
        assert_eq!(reading.freq_hz, Some(50.012));
        assert_eq!(reading.registers.import_mwh, 1_834_201_337);
        // Already at resolution: unchanged, and it prints as the decimal it is.
        assert_eq!(reading.clone().at_resolution(), reading);
        assert_eq!(
            serde_json::to_value(&reading).expect("json")["p_w"],
            -2271.5
        );
    }
}
