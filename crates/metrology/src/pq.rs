//! Power-quality monitoring for one phase: sag, swell and interruption from the one-cycle
//! RMS refreshed every half cycle (IEC 61000-4-30 Urms(1/2)); over-current and frequency
//! out of range from each cycle.
//!
//! An interruption is also a sag (the voltage is below 90 % too), and both are reported, as
//! IEC 61000-4-30 flags them: the sag's extreme then shows how deep the interruption went.

use crate::config::MeterConfig;
use crate::episode::{Episode, Observation};
use crate::events::{Event, EventKind};
use crate::measurement::CycleMeasurement;

/// The episodes of one phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PqMonitor {
    sag: Episode,
    swell: Episode,
    interruption: Episode,
    over_current: Episode,
    frequency: Episode,
}

impl PqMonitor {
    pub(crate) fn new(phase: u8) -> Self {
        let phase = Some(phase);
        Self {
            sag: Episode::new(EventKind::Sag, phase),
            swell: Episode::new(EventKind::Swell, phase),
            interruption: Episode::new(EventKind::Interruption, phase),
            over_current: Episode::new(EventKind::OverCurrent, phase),
            frequency: Episode::new(EventKind::FrequencyOutOfRange, phase),
        }
    }

    /// Judges a new one-cycle RMS voltage (every half cycle).
    pub(crate) fn observe_half_cycle(
        &mut self,
        config: &MeterConfig,
        urms_v: f64,
        at_sample: u64,
        mut emit: impl FnMut(Event),
    ) {
        let un = config.nominal_voltage_v;
        let pq = &config.pq;
        let hysteresis_v = pq.hysteresis_ratio * un;
        let fs = config.sample_rate_hz;
        let sag_v = pq.sag_ratio * un;
        let below = |threshold_v: f64| Observation {
            starts: urms_v < threshold_v,
            releases: urms_v >= threshold_v + hysteresis_v,
            value: urms_v,
            severity: -urms_v,
        };
        if let Some(event) = self.sag.observe(below(sag_v), at_sample, 0, fs) {
            emit(event);
        }
        let interruption_v = pq.interruption_ratio * un;
        if let Some(event) = self
            .interruption
            .observe(below(interruption_v), at_sample, 0, fs)
        {
            emit(event);
        }
        let swell_v = pq.swell_ratio * un;
        let swell = Observation {
            starts: urms_v > swell_v,
            releases: urms_v <= swell_v - hysteresis_v,
            value: urms_v,
            severity: urms_v,
        };
        if let Some(event) = self.swell.observe(swell, at_sample, 0, fs) {
            emit(event);
        }
    }

    /// Judges a completed cycle's current and frequency.
    pub(crate) fn observe_cycle(
        &mut self,
        config: &MeterConfig,
        cycle: &CycleMeasurement,
        mut emit: impl FnMut(Event),
    ) {
        let pq = &config.pq;
        let fs = config.sample_rate_hz;
        let over_current = Observation {
            starts: cycle.irms_a > pq.over_current_a,
            releases: cycle.irms_a <= pq.over_current_a * 0.98,
            value: cycle.irms_a,
            severity: cycle.irms_a,
        };
        if let Some(event) = self
            .over_current
            .observe(over_current, cycle.end_sample, 0, fs)
        {
            emit(event);
        }
        // Cycles without a measured frequency (no voltage) neither start nor end an episode.
        if let Some(frequency_hz) = cycle.frequency_hz {
            let outside = frequency_hz < pq.frequency_min_hz || frequency_hz > pq.frequency_max_hz;
            let observation = Observation {
                starts: outside,
                releases: !outside,
                value: frequency_hz,
                severity: (frequency_hz - config.nominal_frequency_hz).abs(),
            };
            if let Some(event) = self.frequency.observe(observation, cycle.end_sample, 0, fs) {
                emit(event);
            }
        }
    }
}
