//! Meter configuration: sampling, calibration, ratings and detection thresholds.
//!
//! Everything the signal chain needs to know about the installation lives here and is
//! validated once, when the meter is built, so the hot path never checks it again.

use core::fmt;

/// The most phases a meter handles (three-phase four-wire).
pub const MAX_PHASES: usize = 3;

/// The largest current-channel delay the aligner corrects, in samples.
pub(crate) const MAX_DELAY_SAMPLES: f64 = 120.0;

/// Calibration of one voltage/current channel pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Volts per ADC count on the voltage channel.
    pub v_scale: f64,
    /// Amps per ADC count on the current channel.
    pub i_scale: f64,
    /// How far the current channel lags the voltage channel, in microseconds (sampling skew
    /// plus the current sensor's phase error). Negative when the current channel leads.
    pub i_delay_us: f64,
}

impl Calibration {
    /// A calibration from volts per count, amps per count and the current delay in µs.
    pub const fn new(v_scale: f64, i_scale: f64, i_delay_us: f64) -> Self {
        Self {
            v_scale,
            i_scale,
            i_delay_us,
        }
    }
}

/// Thresholds for power-quality events, relative to the nominal voltage and frequency.
///
/// The voltage thresholds follow IEC 61000-4-30 / EN 50160 practice: events are judged on
/// the one-cycle RMS refreshed every half cycle, and end only once the voltage has come back
/// past the threshold by the hysteresis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PqThresholds {
    /// A sag starts below this fraction of Un (default 0.90).
    pub sag_ratio: f64,
    /// A swell starts above this fraction of Un (default 1.10).
    pub swell_ratio: f64,
    /// An interruption starts below this fraction of Un (default 0.05).
    pub interruption_ratio: f64,
    /// Hysteresis for the end of a voltage event, as a fraction of Un (default 0.02).
    pub hysteresis_ratio: f64,
    /// Over-current starts above this RMS current in amps (default: Imax).
    pub over_current_a: f64,
    /// Frequency events start outside this band, in Hz (default Fn ± 1 %).
    pub frequency_min_hz: f64,
    /// Upper edge of the frequency band, in Hz.
    pub frequency_max_hz: f64,
}

/// Thresholds for tamper detection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TamperThresholds {
    /// Current (A) that, flowing while the voltage is below `missing_voltage_ratio` × Un,
    /// means the voltage tap was removed (default 0.05 × Ib).
    pub current_without_voltage_a: f64,
    /// Voltage below this fraction of Un counts as missing (default 0.40).
    pub missing_voltage_ratio: f64,
    /// RMS of (sum of phase currents − neutral current) above which the neutral does not
    /// carry what the phases carry: a bypass or earth leakage (default 0.1 × Ib).
    pub neutral_mismatch_a: f64,
    /// How long a tamper condition must hold before it is an event, in seconds (default 1).
    pub persistence_s: f64,
}

/// The most sub-intervals a sliding window may have.
pub(crate) const MAX_SUBINTERVALS: usize = 60;

/// Demand measurement: block demand is `subintervals = 1`; sliding demand has several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemandConfig {
    /// Length of the demand interval in seconds (default 900: 15 minutes).
    pub interval_s: u32,
    /// Number of sub-intervals the window slides by (default 1: block demand).
    pub subintervals: u32,
}

/// Everything the signal chain needs, validated by [`MeterConfig::validate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterConfig {
    /// Samples per second per channel.
    pub sample_rate_hz: f64,
    /// Number of phases, 1 or 3.
    pub phases: usize,
    /// Calibration per phase (only the first `phases` entries are used).
    pub calibration: [Calibration; MAX_PHASES],
    /// Amps per count of the neutral current channel, when there is one.
    pub neutral_i_scale: Option<f64>,
    /// Nominal (reference) voltage Un, line to neutral, in volts.
    pub nominal_voltage_v: f64,
    /// Nominal frequency in Hz (50 or 60).
    pub nominal_frequency_hz: f64,
    /// Basic current Ib (direct meters) or rated current In (CT meters), in amps.
    pub basic_current_a: f64,
    /// Maximum current Imax in amps.
    pub max_current_a: f64,
    /// Starting threshold as a fraction of Ib: below it no energy registers (default 0.002).
    pub starting_current_ratio: f64,
    /// Zero-crossing hysteresis as a fraction of Un's peak (default 0.03).
    pub crossing_hysteresis_ratio: f64,
    /// The installation only imports: export is a tamper signal, not energy to credit.
    pub import_only: bool,
    /// Power-quality thresholds.
    pub pq: PqThresholds,
    /// Tamper thresholds.
    pub tamper: TamperThresholds,
    /// Demand measurement.
    pub demand: DemandConfig,
}

impl MeterConfig {
    /// Defaults for a single-phase direct-connected meter: 230 V, 50 Hz, Ib 10 A, Imax 60 A.
    pub fn single_phase(sample_rate_hz: f64, calibration: Calibration) -> Self {
        Self::with_ratings(sample_rate_hz, 1, calibration, 230.0, 50.0, 10.0, 60.0)
    }

    /// Defaults for a three-phase four-wire meter with the same calibration on every phase.
    pub fn three_phase(sample_rate_hz: f64, calibration: Calibration) -> Self {
        Self::with_ratings(sample_rate_hz, 3, calibration, 230.0, 50.0, 10.0, 60.0)
    }

    /// A configuration with explicit ratings; thresholds derive from them.
    pub fn with_ratings(
        sample_rate_hz: f64,
        phases: usize,
        calibration: Calibration,
        nominal_voltage_v: f64,
        nominal_frequency_hz: f64,
        basic_current_a: f64,
        max_current_a: f64,
    ) -> Self {
        Self {
            sample_rate_hz,
            phases,
            calibration: [calibration; MAX_PHASES],
            neutral_i_scale: None,
            nominal_voltage_v,
            nominal_frequency_hz,
            basic_current_a,
            max_current_a,
            starting_current_ratio: 0.002,
            crossing_hysteresis_ratio: 0.03,
            import_only: false,
            pq: PqThresholds {
                sag_ratio: 0.90,
                swell_ratio: 1.10,
                interruption_ratio: 0.05,
                hysteresis_ratio: 0.02,
                over_current_a: max_current_a,
                frequency_min_hz: nominal_frequency_hz * 0.99,
                frequency_max_hz: nominal_frequency_hz * 1.01,
            },
            tamper: TamperThresholds {
                current_without_voltage_a: 0.05 * basic_current_a,
                missing_voltage_ratio: 0.40,
                neutral_mismatch_a: 0.1 * basic_current_a,
                persistence_s: 1.0,
            },
            demand: DemandConfig {
                interval_s: 900,
                subintervals: 1,
            },
        }
    }

    /// The starting current in amps: `starting_current_ratio × Ib`.
    pub fn starting_current_a(&self) -> f64 {
        self.starting_current_ratio * self.basic_current_a
    }

    /// Active (and reactive) power below which a cycle registers no energy, in W (var):
    /// the starting current at nominal voltage. Judging power rather than current keeps
    /// ADC noise, which inflates RMS current but averages out of power, from creeping.
    pub fn starting_power_w(&self) -> f64 {
        self.starting_current_a() * self.nominal_voltage_v
    }

    /// Samples in one nominal mains period.
    pub fn nominal_period_samples(&self) -> f64 {
        self.sample_rate_hz / self.nominal_frequency_hz
    }

    /// Checks every field; the error names the field and why it is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        positive("sample_rate_hz", self.sample_rate_hz)?;
        positive("nominal_voltage_v", self.nominal_voltage_v)?;
        positive("nominal_frequency_hz", self.nominal_frequency_hz)?;
        positive("basic_current_a", self.basic_current_a)?;
        positive("max_current_a", self.max_current_a)?;
        if self.phases != 1 && self.phases != 3 {
            return Err(ConfigError::new("phases", "must be 1 or 3"));
        }
        if self.sample_rate_hz < 16.0 * self.nominal_frequency_hz {
            return Err(ConfigError::new(
                "sample_rate_hz",
                "must be at least 16 samples per mains cycle",
            ));
        }
        for calibration in &self.calibration[..self.phases] {
            positive("v_scale", calibration.v_scale)?;
            positive("i_scale", calibration.i_scale)?;
            let delay_samples = calibration.i_delay_us * 1e-6 * self.sample_rate_hz;
            if !delay_samples.is_finite() || delay_samples.abs() > MAX_DELAY_SAMPLES {
                return Err(ConfigError::new(
                    "i_delay_us",
                    "must be finite and at most 120 samples either way",
                ));
            }
        }
        if let Some(scale) = self.neutral_i_scale {
            positive("neutral_i_scale", scale)?;
        }
        ratio(
            "starting_current_ratio",
            self.starting_current_ratio,
            0.0,
            0.1,
        )?;
        ratio(
            "crossing_hysteresis_ratio",
            self.crossing_hysteresis_ratio,
            0.0,
            0.5,
        )?;
        let pq = &self.pq;
        ratio("pq.interruption_ratio", pq.interruption_ratio, 0.0, 1.0)?;
        ratio("pq.sag_ratio", pq.sag_ratio, pq.interruption_ratio, 1.0)?;
        ratio("pq.swell_ratio", pq.swell_ratio, 1.0, 2.0)?;
        ratio("pq.hysteresis_ratio", pq.hysteresis_ratio, 0.0, 0.2)?;
        positive("pq.over_current_a", pq.over_current_a)?;
        positive("pq.frequency_min_hz", pq.frequency_min_hz)?;
        if pq.frequency_max_hz.is_nan() || pq.frequency_max_hz <= pq.frequency_min_hz {
            return Err(ConfigError::new(
                "pq.frequency_max_hz",
                "must exceed frequency_min_hz",
            ));
        }
        positive(
            "tamper.current_without_voltage_a",
            self.tamper.current_without_voltage_a,
        )?;
        ratio(
            "tamper.missing_voltage_ratio",
            self.tamper.missing_voltage_ratio,
            0.0,
            1.0,
        )?;
        positive("tamper.neutral_mismatch_a", self.tamper.neutral_mismatch_a)?;
        ratio(
            "tamper.persistence_s",
            self.tamper.persistence_s,
            0.0,
            3600.0,
        )?;
        if self.demand.interval_s == 0 {
            return Err(ConfigError::new("demand.interval_s", "must be positive"));
        }
        let subintervals = self.demand.subintervals;
        if subintervals == 0
            || subintervals as usize > MAX_SUBINTERVALS
            || !self.demand.interval_s.is_multiple_of(subintervals)
        {
            return Err(ConfigError::new(
                "demand.subintervals",
                "must be 1..=60 and divide demand.interval_s",
            ));
        }
        Ok(())
    }
}

fn positive(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(field, "must be a positive, finite number"))
    }
}

fn ratio(field: &'static str, value: f64, low: f64, high: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= low && value <= high {
        Ok(())
    } else {
        Err(ConfigError::new(field, "is out of its allowed range"))
    }
}

/// A configuration field that is not acceptable, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError {
    /// The field, as named in [`MeterConfig`] (nested fields with a dot).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ConfigError {
    const fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "metrology config `{}` {}", self.field, self.reason)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = MeterConfig::single_phase(4000.0, Calibration::new(0.2, 0.05, 100.0));
        assert_eq!(config.validate(), Ok(()));
        assert!((config.starting_power_w() - 4.6).abs() < 1e-9);
        assert_eq!(
            MeterConfig::three_phase(4000.0, config.calibration[0]).validate(),
            Ok(())
        );
    }

    #[test]
    fn errors_name_the_field() {
        let mut config = MeterConfig::single_phase(4000.0, Calibration::new(0.2, 0.05, 0.0));
        config.calibration[0].i_scale = -1.0;
        assert_eq!(config.validate().unwrap_err().field, "i_scale");
        config.calibration[0].i_scale = 0.05;
        config.calibration[0].i_delay_us = 1e6;
        assert_eq!(config.validate().unwrap_err().field, "i_delay_us");
        config.calibration[0].i_delay_us = 0.0;
        config.sample_rate_hz = 500.0;
        assert_eq!(config.validate().unwrap_err().field, "sample_rate_hz");
        config.sample_rate_hz = 4000.0;
        config.demand.subintervals = 7;
        assert_eq!(config.validate().unwrap_err().field, "demand.subintervals");
    }
}
