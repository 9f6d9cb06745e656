//! Device sources: a meter people already own (an Eastron SDM over Modbus, a DSMR P1
//! port) is read by a task of its own, and the agent's once-a-second tick takes the newest
//! reading from it without waiting on a serial line or a network.
//!
//! The device keeps the registers; the agent only passes them on. It does refuse a reading
//! whose registers are below what it already holds (a glitch, or a swapped device), because
//! the hub treats registers that go backwards as an error and the meter would stall.

use super::observation::{Observation, SourceEvent};
use joule_metrology::{EnergyRegister, MAX_TARIFFS, RegisterBank, RegisterSet};
use joule_protocol::{EventState, Registers};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// A reading older than this is stale: the device stopped answering, s.
const STALE_AFTER_S: i64 = 30;

/// What a device task publishes: its newest observation or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceStatus {
    /// Nothing read yet.
    Starting,
    /// The newest observation.
    Reading(Box<Observation>),
    /// The device cannot be read (the text says why); the last reading stays valid until
    /// it is stale.
    Failing(String),
}

/// The agent's side of a device task.
#[derive(Debug)]
pub struct DeviceSource {
    name: String,
    status: watch::Receiver<DeviceStatus>,
    events: mpsc::Receiver<SourceEvent>,
    task: JoinHandle<()>,
    /// The registers the agent holds; readings below them are refused.
    bank: RegisterBank,
    last_ts_ms: Option<i64>,
    /// Whether the agent has been told the device is unavailable.
    unavailable: Option<String>,
}

impl Drop for DeviceSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DeviceSource {
    /// Starts the device's reader task, which `spawn` makes from the channels it publishes
    /// on, holding `registers` until the device reports at least as much.
    pub fn start(
        name: String,
        registers: RegisterBank,
        spawn: impl FnOnce(watch::Sender<DeviceStatus>, mpsc::Sender<SourceEvent>) -> JoinHandle<()>,
    ) -> Self {
        let (status_tx, status) = watch::channel(DeviceStatus::Starting);
        let (events_tx, events) = mpsc::channel(256);
        Self {
            name,
            status,
            events,
            task: spawn(status_tx, events_tx),
            bank: registers,
            last_ts_ms: None,
            unavailable: None,
        }
    }

    /// The device's name in logs and events.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registers the agent holds (the device's, once it has reported).
    pub fn registers(&self) -> &RegisterBank {
        &self.bank
    }

    /// The newest reading not yet observed, if it is fresh and its registers do not go
    /// backwards, with the device's events; `None` while there is none.
    pub fn observe(&mut self, now_ms: i64) -> Option<Observation> {
        let mut observation = match &*self.status.borrow_and_update() {
            DeviceStatus::Reading(observation) => (**observation).clone(),
            DeviceStatus::Starting | DeviceStatus::Failing(_) => return None,
        };
        if now_ms - observation.ts_ms > STALE_AFTER_S * 1000
            || self.last_ts_ms == Some(observation.ts_ms)
        {
            return None;
        }
        if below(&observation.registers, &self.bank.total) {
            tracing::warn!(device = %self.name, "device registers are below the meter's; reading ignored");
            return None;
        }
        self.last_ts_ms = Some(observation.ts_ms);
        self.bank = bank_of(&observation);
        while let Ok(event) = self.events.try_recv() {
            observation.events.push(event);
        }
        Some(observation)
    }

    /// A change of availability to report: `Some((started, detail))` when the device
    /// becomes unavailable (`started`) or available again.
    pub fn availability_change(&mut self, now_ms: i64) -> Option<(EventState, String)> {
        let reason = match &*self.status.borrow() {
            DeviceStatus::Starting => return None,
            DeviceStatus::Failing(reason) => Some(reason.clone()),
            DeviceStatus::Reading(observation)
                if now_ms - observation.ts_ms > STALE_AFTER_S * 1000 =>
            {
                Some(format!("no reading for {STALE_AFTER_S} s"))
            }
            DeviceStatus::Reading(_) => None,
        };
        match (&self.unavailable, reason) {
            (None, Some(reason)) => {
                self.unavailable = Some(reason.clone());
                let detail = format!("{} unavailable: {reason}", self.name);
                Some((EventState::Started, detail))
            }
            (Some(_), None) => {
                self.unavailable = None;
                Some((EventState::Ended, format!("{} available again", self.name)))
            }
            _ => None,
        }
    }
}

fn below(registers: &Registers, held: &RegisterSet) -> bool {
    registers.import_mwh < held.active_import.milli()
        || registers.export_mwh < held.active_export.milli()
}

/// The device's registers as the agent keeps them: totals in full, per tariff import and
/// export, the device's tariff active.
fn bank_of(observation: &Observation) -> RegisterBank {
    let r = &observation.registers;
    let mut bank = RegisterBank::default();
    bank.total = RegisterSet {
        active_import: EnergyRegister::from_milli(r.import_mwh),
        active_export: EnergyRegister::from_milli(r.export_mwh),
        reactive: r.reactive_mvarh.map(EnergyRegister::from_milli),
        apparent_import: EnergyRegister::from_milli(r.apparent_import_mvah),
        apparent_export: EnergyRegister::from_milli(r.apparent_export_mvah),
    };
    for tariff in &observation.tariff_registers {
        if let Some(set) = bank.tariffs.get_mut(usize::from(tariff.tariff)) {
            set.active_import = EnergyRegister::from_milli(tariff.import_mwh);
            set.active_export = EnergyRegister::from_milli(tariff.export_mwh);
        }
    }
    if let Some(tariff) = observation.device_tariff {
        bank.select_tariff(usize::from(tariff).min(MAX_TARIFFS - 1));
    }
    bank
}
