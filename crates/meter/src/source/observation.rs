//! What a source measured over one tick, in the shape every source produces, with the
//! small helpers device sources share to fill it.

use joule_protocol::{EventKind, EventState, PhaseReading, Registers, TariffRegisters};

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
