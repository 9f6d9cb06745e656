//! Where the meter's measurements come from, built from the `[source]` configuration.
//!
//! Two families: waveform sources (`simulated` mains and `wav` captures) feed raw ADC
//! frames through Joule's own metrology chain, whose registers the agent keeps and
//! persists; device sources (a Modbus or DSMR meter people already own) report values and
//! registers that the device keeps. Either way the agent sees one [`Observation`] per tick.

pub mod wav;
pub mod waveform;

use joule_protocol::{EventKind, EventState, PhaseReading, Registers, TariffRegisters};

/// Electrical values of one phase (or the totals) over a tick.
pub type PhaseValues = PhaseReading;

/// What a source measured over one tick.
#[derive(Debug, Clone, PartialEq)]
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

/// An event a source raised.
#[derive(Debug, Clone, PartialEq)]
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
