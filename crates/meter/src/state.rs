//! What the meter keeps across restarts and power cuts: the energy registers and the
//! settings that commands changed (relay, tariff schedule, prices, load limit, calibration,
//! clock correction, maximum demand), serialised as one JSON record into the two-slot
//! [`crate::register_store`].
//!
//! Registers are stored as whole milli-units; the fraction of a milli-unit not yet counted
//! (less than 1 mWh per register) is what a restart may lose, besides the energy since the
//! last save.

use joule_metrology::{EnergyRegister, MAX_PHASES, MAX_TARIFFS, RegisterBank, RegisterSet};
use joule_protocol::{Days, PricePoint, RelayState, TariffSwitch};
use serde::{Deserialize, Serialize};

/// One register set as whole milli-units: active import, active export, reactive Q1–Q4,
/// apparent import, apparent export.
pub type SetMilli = [u64; 8];

/// Everything persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeterState {
    /// Total registers.
    pub total: SetMilli,
    /// Per-tariff registers.
    pub tariffs: Vec<SetMilli>,
    /// Per-phase registers.
    pub phases: Vec<SetMilli>,
    /// Tariff register energy goes to.
    pub active_tariff: u8,
    /// The supply switch.
    pub relay: RelayState,
    /// Highest demand since the last reset, W.
    pub max_demand_w: Option<f64>,
    /// The TOU schedule a command set, if any.
    pub schedule: Option<Schedule>,
    /// Prices a price signal sent, per kWh.
    pub prices: Vec<PricePoint>,
    /// Currency of `prices`.
    pub currency: Option<String>,
    /// An active load limit.
    pub load_limit: Option<LoadLimit>,
    /// Calibration changed by command, per phase (1-based phase, values).
    pub calibration: Vec<(u8, PhaseCalibration)>,
    /// Correction of the base clock from the last time sync, ms.
    pub clock_offset_ms: i64,
    /// Whether the agent stopped cleanly after saving this (false while running).
    pub clean_shutdown: bool,
}

/// A TOU schedule (as the `tariff_schedule` command carries it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// IANA time zone the switch times are in.
    pub timezone: String,
    /// Switch points.
    pub switches: Vec<TariffSwitch>,
    /// Holidays (`YYYY-MM-DD`), treated as weekend days.
    pub holidays: Vec<String>,
}

/// A phase's calibration as the `calibrate` command sets it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhaseCalibration {
    /// Volts per count.
    pub v_scale: f64,
    /// Amps per count.
    pub i_scale: f64,
    /// Current channel delay to correct, µs.
    pub i_delay_us: f64,
}

/// A load limit in force.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadLimit {
    /// Limit on import power, W.
    pub limit_w: f64,
    /// When it lapses, Unix ms (none: until changed).
    pub until_ms: Option<i64>,
}

impl MeterState {
    /// A new meter: zero registers, relay connected, nothing set by command.
    pub fn new() -> Self {
        Self::from_bank(&RegisterBank::default(), RelayState::Connected)
    }

    /// The state with `bank`'s registers and `relay`; the rest at its defaults.
    pub fn from_bank(bank: &RegisterBank, relay: RelayState) -> Self {
        Self {
            total: set_milli(&bank.total),
            tariffs: bank.tariffs.iter().map(set_milli).collect(),
            phases: bank.phases.iter().map(set_milli).collect(),
            active_tariff: bank.active_tariff() as u8,
            relay,
            max_demand_w: None,
            schedule: None,
            prices: Vec::new(),
            currency: None,
            load_limit: None,
            calibration: Vec::new(),
            clock_offset_ms: 0,
            clean_shutdown: false,
        }
    }

    /// Copies `bank`'s registers in.
    pub fn set_registers(&mut self, bank: &RegisterBank) {
        self.total = set_milli(&bank.total);
        self.tariffs = bank.tariffs.iter().map(set_milli).collect();
        self.phases = bank.phases.iter().map(set_milli).collect();
        self.active_tariff = bank.active_tariff() as u8;
    }

    /// The registers as a metrology bank.
    pub fn bank(&self) -> RegisterBank {
        let mut bank = RegisterBank::default();
        bank.total = register_set(&self.total);
        for (into, from) in bank.tariffs.iter_mut().zip(&self.tariffs).take(MAX_TARIFFS) {
            *into = register_set(from);
        }
        for (into, from) in bank.phases.iter_mut().zip(&self.phases).take(MAX_PHASES) {
            *into = register_set(from);
        }
        bank.select_tariff(usize::from(self.active_tariff));
        bank
    }

    /// JSON bytes for the register store.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads what [`MeterState::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

impl Default for MeterState {
    fn default() -> Self {
        Self::new()
    }
}

fn set_milli(set: &RegisterSet) -> SetMilli {
    [
        set.active_import.milli(),
        set.active_export.milli(),
        set.reactive[0].milli(),
        set.reactive[1].milli(),
        set.reactive[2].milli(),
        set.reactive[3].milli(),
        set.apparent_import.milli(),
        set.apparent_export.milli(),
    ]
}

fn register_set(milli: &SetMilli) -> RegisterSet {
    let r = |k: usize| EnergyRegister::from_milli(milli[k]);
    RegisterSet {
        active_import: r(0),
        active_export: r(1),
        reactive: [r(2), r(3), r(4), r(5)],
        apparent_import: r(6),
        apparent_export: r(7),
    }
}

impl Schedule {
    /// Whether `days` covers a day that is (or is not) a weekend-like day.
    pub fn applies(days: Days, weekend_like: bool) -> bool {
        match days {
            Days::All => true,
            Days::Weekdays => !weekend_like,
            Days::Weekends => weekend_like,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joule_metrology::PeriodEnergy;

    #[test]
    fn registers_round_trip_through_bytes() {
        let mut set = RegisterSet::default();
        set.register(&PeriodEnergy {
            active_wh: 1234.5678,
            reactive_varh: 12.0,
            apparent_vah: 1300.0,
            exporting: false,
        });
        let mut bank = RegisterBank::default();
        bank.total = set;
        bank.tariffs[2] = set;
        bank.select_tariff(2);
        let mut state = MeterState::from_bank(&bank, RelayState::ReadyForReconnection);
        state.max_demand_w = Some(4200.0);
        let back = MeterState::from_bytes(&state.to_bytes()).unwrap();
        assert_eq!(back, state);
        let restored = back.bank();
        assert_eq!(restored.total.active_import.milli(), 1_234_567);
        assert_eq!(restored.tariffs[2].reactive[0].milli(), 12_000);
        assert_eq!(restored.active_tariff(), 2);
    }
}
