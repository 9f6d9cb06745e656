//! The meter's source as the agent holds it: one of the two families behind one
//! interface, so the agent's tick does not care which it has.

use super::device::DeviceSource;
use super::observation::Observation;
use super::waveform::{WaveformError, WaveformSource};
use joule_metrology::{Calibration, MeterConfig as MetrologyConfig, RegisterBank};
use joule_protocol::EventState;

/// The meter's source: its own metrology chain or a device that keeps the registers.
#[derive(Debug)]
pub enum Source {
    /// ADC frames through Joule's metrology chain.
    Waveform(Box<WaveformSource>),
    /// A Modbus or DSMR meter read by a task of its own.
    Device(Box<DeviceSource>),
}

impl Source {
    /// The registers the meter holds.
    pub fn registers(&self) -> &RegisterBank {
        match self {
            Self::Waveform(source) => source.registers(),
            Self::Device(source) => source.registers(),
        }
    }

    /// Routes energy to tariff register `tariff`; false when nothing changed (a device
    /// switches its own tariffs).
    pub fn select_tariff(&mut self, tariff: usize) -> bool {
        match self {
            Self::Waveform(source) => source.select_tariff(tariff),
            Self::Device(_) => false,
        }
    }

    /// What a calibration would change: the metrology chain, or a device that keeps its
    /// own.
    pub fn chain(&self) -> Chain<'_> {
        match self {
            Self::Waveform(source) => Chain::Metrology(source.metrology()),
            Self::Device(source) => Chain::Device(source.name()),
        }
    }

    /// Replaces one phase's calibration (0-based), keeping the registers.
    pub fn calibrate(&mut self, phase: usize, calibration: Calibration) -> Result<(), String> {
        match self {
            Self::Waveform(source) => source
                .calibrate(phase, calibration)
                .map_err(|error| error.to_string()),
            Self::Device(source) => Err(format!("{} calibrates itself", source.name())),
        }
    }

    /// What was measured since the last tick, with the supply switch closed or open;
    /// `None` when a device has no fresh reading.
    pub fn observe(
        &mut self,
        now_ms: i64,
        supply: bool,
    ) -> Result<Option<Observation>, WaveformError> {
        match self {
            Self::Waveform(source) => source.observe(now_ms, supply).map(Some),
            Self::Device(source) => Ok(source.observe(now_ms)),
        }
    }

    /// A device becoming unavailable (`Started`) or available again (`Ended`), with why.
    pub fn availability_change(&mut self, now_ms: i64) -> Option<(EventState, String)> {
        match self {
            Self::Waveform(_) => None,
            Self::Device(source) => source.availability_change(now_ms),
        }
    }
}

/// The measuring chain behind a source, as a calibration sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Chain<'a> {
    /// Joule's metrology chain, configured so.
    Metrology(&'a MetrologyConfig),
    /// A device (named) that calibrates itself.
    Device(&'a str),
}
