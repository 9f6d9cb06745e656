//! Tamper detection: reverse flow on an import-only installation, current with the voltage
//! missing (voltage tap removed), neutral current that does not match the phases (bypass
//! or earth leakage), and the digital inputs for cover-open and magnetic-field sensors.
//!
//! Electrical conditions must persist (default 1 s) before they are events, so a single
//! odd cycle at switch-on does not raise an alarm.

use crate::config::{MAX_PHASES, MeterConfig};
use crate::episode::{Episode, Observation};
use crate::events::{Event, EventKind, Transition};
use crate::measurement::CycleMeasurement;

/// A digital tamper input wired to the meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitalInput {
    /// Terminal cover switch.
    CoverOpen,
    /// Magnetic-field sensor (an attempt to saturate the current sensor).
    MagneticField,
}

/// All tamper episodes of a meter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TamperMonitor {
    reverse_flow: [Episode; MAX_PHASES],
    current_without_voltage: [Episode; MAX_PHASES],
    neutral_mismatch: Episode,
    cover_open: Option<u64>,
    magnetic_field: Option<u64>,
}

impl TamperMonitor {
    pub(crate) fn new() -> Self {
        let phase_episodes = |kind| {
            [
                Episode::new(kind, Some(0)),
                Episode::new(kind, Some(1)),
                Episode::new(kind, Some(2)),
            ]
        };
        Self {
            reverse_flow: phase_episodes(EventKind::ReverseFlow),
            current_without_voltage: phase_episodes(EventKind::CurrentWithoutVoltage),
            neutral_mismatch: Episode::new(EventKind::NeutralMismatch, None),
            cover_open: None,
            magnetic_field: None,
        }
    }

    fn persistence_samples(config: &MeterConfig) -> u64 {
        libm::round(config.tamper.persistence_s * config.sample_rate_hz) as u64
    }

    /// Judges one phase's completed cycle.
    pub(crate) fn observe_cycle(
        &mut self,
        config: &MeterConfig,
        phase: usize,
        cycle: &CycleMeasurement,
        mut emit: impl FnMut(Event),
    ) {
        let persistence = Self::persistence_samples(config);
        let fs = config.sample_rate_hz;
        if config.import_only {
            let exporting = -cycle.p_w >= config.starting_power_w();
            let observation = Observation {
                starts: exporting,
                releases: !exporting,
                value: -cycle.p_w,
                severity: -cycle.p_w,
            };
            let episode = &mut self.reverse_flow[phase];
            if let Some(event) = episode.observe(observation, cycle.end_sample, persistence, fs) {
                emit(event);
            }
        }
        let tamper = &config.tamper;
        let voltage_missing =
            cycle.vrms_v < tamper.missing_voltage_ratio * config.nominal_voltage_v;
        let current_flows = cycle.irms_a >= tamper.current_without_voltage_a;
        let observation = Observation {
            starts: voltage_missing && current_flows,
            releases: !voltage_missing || cycle.irms_a < 0.8 * tamper.current_without_voltage_a,
            value: cycle.irms_a,
            severity: cycle.irms_a,
        };
        let episode = &mut self.current_without_voltage[phase];
        if let Some(event) = episode.observe(observation, cycle.end_sample, persistence, fs) {
            emit(event);
        }
    }

    /// Judges the residual current (phases minus neutral) over one reference cycle.
    pub(crate) fn observe_residual(
        &mut self,
        config: &MeterConfig,
        residual_a: f64,
        at_sample: u64,
        mut emit: impl FnMut(Event),
    ) {
        let threshold = config.tamper.neutral_mismatch_a;
        let observation = Observation {
            starts: residual_a > threshold,
            releases: residual_a <= 0.8 * threshold,
            value: residual_a,
            severity: residual_a,
        };
        let persistence = Self::persistence_samples(config);
        let fs = config.sample_rate_hz;
        if let Some(event) = self
            .neutral_mismatch
            .observe(observation, at_sample, persistence, fs)
        {
            emit(event);
        }
    }

    /// Records a digital input's state; a change raises an event.
    pub(crate) fn set_input(
        &mut self,
        input: DigitalInput,
        active: bool,
        at_sample: u64,
        sample_rate_hz: f64,
    ) -> Option<Event> {
        let (state, kind) = match input {
            DigitalInput::CoverOpen => (&mut self.cover_open, EventKind::CoverOpen),
            DigitalInput::MagneticField => (&mut self.magnetic_field, EventKind::MagneticField),
        };
        let (transition, start, duration_s) = match (*state, active) {
            (None, true) => {
                *state = Some(at_sample);
                (Transition::Started, at_sample, 0.0)
            }
            (Some(since), false) => {
                *state = None;
                (
                    Transition::Ended,
                    since,
                    (at_sample - since) as f64 / sample_rate_hz,
                )
            }
            _ => return None,
        };
        Some(Event {
            kind,
            transition,
            phase: None,
            start_sample: start,
            at_sample,
            duration_s,
            extreme: if active { 1.0 } else { 0.0 },
        })
    }
}
