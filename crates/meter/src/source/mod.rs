//! Where the meter's measurements come from, built from the `[source]` configuration.
//!
//! Two families: waveform sources (`simulated` mains and `wav` captures) feed raw ADC
//! frames through Joule's own metrology chain, whose registers the agent keeps and
//! persists; device sources (a Modbus or DSMR meter people already own) report values and
//! registers that the device keeps. Either way the agent sees one [`Observation`] per tick.

pub mod device;
pub mod dsmr;
pub mod modbus;
pub mod wav;
pub mod waveform;

use device::DeviceSource;
use joule_metrology::{Calibration, RegisterBank};
use joule_protocol::{EventKind, EventState, PhaseReading, Registers, TariffRegisters};
use waveform::{WaveformError, WaveformSource};

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

/// Electrical values of one phase (or the totals) over a tick.
pub type PhaseValues = PhaseReading;

/// What a source measured over one tick.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Observation {
    /// End of the tick, Unix ms.
    pub ts_ms: i64,
    /// Sums of P, Q and S and means of V and I over the phases; PF = P/S.
    pub total: PhaseValues,
    /// Per phase (left empty on a single-phase meter).
    pub phases: Vec<PhaseValues>,
    /// Frequency, Hz, when there was voltage to measure it on.
    pub freq_hz: Option<f64>,
    /// Lowest and highest one-cycle RMS voltage in the tick, V (over all phases).
    pub voltage_range_v: Option<(f64, f64)>,
    /// Registers at the end of the tick.
    pub registers: Registers,
    /// Per-tariff import and export at the end of the tick (tariffs with energy).
    pub tariff_registers: Vec<TariffRegisters>,
    /// Tariff the source says is active (device sources); waveform sources leave it to the
    /// meter's TOU calendar.
    pub device_tariff: Option<u8>,
    /// Events the source raised in the tick.
    pub events: Vec<SourceEvent>,
}

/// Mean voltage and mean current over the phases, V and A (zero without any).
pub fn mean_voltage_current(phases: &[PhaseValues]) -> (f64, f64) {
    let n = phases.len().max(1) as f64;
    (
        phases.iter().map(|p| p.voltage_v).sum::<f64>() / n,
        phases.iter().map(|p| p.current_a).sum::<f64>() / n,
    )
}

/// Power factor P/S, within ±1; 1 with no apparent power.
pub fn power_factor(p_w: f64, s_va: f64) -> f64 {
    if s_va > 0.0 {
        (p_w / s_va).clamp(-1.0, 1.0)
    } else {
        1.0
    }
}

/// Lowest and highest of the phases' voltages, V, for a device that reports one voltage
/// per phase and tick; `None` without any.
pub fn voltage_range_v(phases: &[PhaseValues]) -> Option<(f64, f64)> {
    phases
        .iter()
        .map(|p| p.voltage_v)
        .filter(|v| *v > 0.0)
        .fold(None, |range, v| {
            let (low, high) = range.unwrap_or((v, v));
            Some((low.min(v), high.max(v)))
        })
}

/// An event a source raised.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceEvent {
    /// What happened.
    pub kind: EventKind,
    /// Start, end or a moment.
    pub state: EventState,
    /// 1-based phase, when it concerns one.
    pub phase: Option<u8>,
    /// When it happened, Unix ms.
    pub ts_ms: i64,
    /// When the condition began (for `ended`), Unix ms.
    pub started_ms: Option<i64>,
    /// How long it lasted, s.
    pub duration_s: Option<f64>,
    /// The extreme value reached (V, A or Hz, by kind).
    pub extreme: Option<f64>,
}
