//! The payloads: what a meter publishes and what the hub sends back, as JSON.
//!
//! Every message from a meter carries `v` (the payload version), `seq` (a per-meter
//! sequence number that never repeats: the hub deduplicates on meter + seq and acknowledges
//! the highest contiguous one it has stored) and `ts_ms` (Unix time in milliseconds, from
//! the meter's clock). Energy travels as integers in milli-units (mWh, mvarh, mVAh), the
//! registers' own resolution, so nothing is rounded on the way. Receivers ignore fields
//! they do not know; within v1 a field's meaning never changes.

use joule_metrology::RegisterSet;
use serde::{Deserialize, Serialize};

/// The payload version this build writes and reads.
pub const PAYLOAD_VERSION: u32 = 1;

/// The payload version of a batch's envelope (its items are v1 messages). A hub that reads
/// only v1 never subscribes to the batch topic, so a batch reaches only hubs that read it.
pub const BATCH_VERSION: u32 = 2;

/// Energy registers on the wire, in milli-units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registers {
    /// Active energy imported, mWh.
    pub import_mwh: u64,
    /// Active energy exported, mWh.
    pub export_mwh: u64,
    /// Reactive energy per quadrant Q1..Q4, mvarh.
    pub reactive_mvarh: [u64; 4],
    /// Apparent energy while importing, mVAh.
    pub apparent_import_mvah: u64,
    /// Apparent energy while exporting, mVAh.
    pub apparent_export_mvah: u64,
}

impl From<&RegisterSet> for Registers {
    fn from(set: &RegisterSet) -> Self {
        Self {
            import_mwh: set.active_import.milli(),
            export_mwh: set.active_export.milli(),
            reactive_mvarh: set.reactive.map(|register| register.milli()),
            apparent_import_mvah: set.apparent_import.milli(),
            apparent_export_mvah: set.apparent_export.milli(),
        }
    }
}

/// The supply switch, with DLMS disconnect-control states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayState {
    /// Supply on.
    Connected,
    /// Supply off.
    Disconnected,
    /// Off, armed: the consumer's button (or a local command) reconnects.
    ReadyForReconnection,
}

impl RelayState {
    /// The wire name (`connected`, `disconnected`, `ready_for_reconnection`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::ReadyForReconnection => "ready_for_reconnection",
        }
    }
}

/// One phase of a live reading (three-phase meters only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseReading {
    /// RMS voltage, V (line to neutral).
    pub voltage_v: f64,
    /// RMS current, A.
    pub current_a: f64,
    /// Active power, W (+ import).
    pub p_w: f64,
    /// Reactive power, var (+ inductive).
    pub q_var: f64,
    /// Apparent power, VA.
    pub s_va: f64,
    /// Power factor, signed like P.
    pub pf: f64,
}

/// A live reading, about every second (may be thinned on a slow link).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveReading {
    /// Payload version.
    pub v: u32,
    /// Per-meter sequence number.
    pub seq: u64,
    /// When the reading was taken, Unix ms.
    pub ts_ms: i64,
    /// RMS voltage, V (three-phase: the mean of the phases).
    pub voltage_v: f64,
    /// RMS current, A (three-phase: the mean of the phases).
    pub current_a: f64,
    /// Active power, W (+ import, − export).
    pub p_w: f64,
    /// Reactive power, var (+ inductive).
    pub q_var: f64,
    /// Apparent power, VA.
    pub s_va: f64,
    /// Power factor, signed like P.
    pub pf: f64,
    /// Frequency, Hz (absent while the voltage is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freq_hz: Option<f64>,
    /// Per-phase values (three-phase meters only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseReading>,
    /// Total registers.
    pub registers: Registers,
    /// Active tariff (0-based).
    pub tariff: u8,
    /// Supply switch.
    pub relay: RelayState,
}

/// Import and export registers of one tariff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffRegisters {
    /// Tariff (0-based).
    pub tariff: u8,
    /// Active energy imported under this tariff, mWh.
    pub import_mwh: u64,
    /// Active energy exported under this tariff, mWh.
    pub export_mwh: u64,
}

/// Power-quality events that started within an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PqCounters {
    /// Voltage sags.
    pub sags: u32,
    /// Voltage swells.
    pub swells: u32,
    /// Interruptions.
    pub interruptions: u32,
}

/// An interval record: register snapshots at the end of a clock-aligned interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalRecord {
    /// Payload version.
    pub v: u32,
    /// Per-meter sequence number.
    pub seq: u64,
    /// End of the interval, Unix ms (a multiple of `interval_s`).
    pub ts_ms: i64,
    /// Length of the interval, s (default 900).
    pub interval_s: u32,
    /// Total registers at the end of the interval.
    pub registers: Registers,
    /// Per-tariff registers at the end of the interval (tariffs that have any energy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tariffs: Vec<TariffRegisters>,
    /// Lowest one-cycle RMS voltage in the interval, V.
    pub voltage_min_v: f64,
    /// Highest one-cycle RMS voltage in the interval, V.
    pub voltage_max_v: f64,
    /// RMS voltage over the interval, V.
    pub voltage_avg_v: f64,
    /// Maximum demand register at the end of the interval, W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_demand_w: Option<f64>,
    /// Power-quality events in the interval.
    pub pq: PqCounters,
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Voltage sag (extreme: lowest V).
    Sag,
    /// Voltage swell (extreme: highest V).
    Swell,
    /// Supply interruption (extreme: lowest V).
    Interruption,
    /// Current above the over-current threshold (extreme: highest A).
    OverCurrent,
    /// Frequency out of its band (extreme: Hz farthest from nominal).
    FrequencyOutOfRange,
    /// Energy flowing out of an import-only installation (extreme: W).
    ReverseFlow,
    /// Current with the voltage missing: the voltage tap removed (extreme: A).
    CurrentWithoutVoltage,
    /// Neutral current not matching the phases: bypass or earth leakage (extreme: A).
    NeutralMismatch,
    /// Terminal cover opened.
    CoverOpen,
    /// Magnetic field sensed.
    MagneticField,
    /// The supply switch changed (detail: the new state).
    Relay,
    /// The meter started; `duration_s` is the outage since the last persisted state.
    PowerUp,
    /// The meter is shutting down cleanly.
    PowerDown,
    /// The meter's clock is wrong or was corrected (detail says which).
    Clock,
    /// The register store found a damaged record and used the other copy.
    RegisterStore,
    /// Another alarm (detail says which).
    Alarm,
}

/// Whether an event marks the start or end of a condition, or a single moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// A condition began.
    Started,
    /// A condition ended; `started_ms`, `duration_s` and `extreme` cover it.
    Ended,
    /// Something happened at one moment.
    Instant,
}

/// An event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMessage {
    /// Payload version.
    pub v: u32,
    /// Per-meter sequence number.
    pub seq: u64,
    /// When the event was raised, Unix ms.
    pub ts_ms: i64,
    /// What it is about.
    pub kind: EventKind,
    /// Start, end, or a moment.
    pub state: EventState,
    /// Phase (1-based), when the event belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<u8>,
    /// When the condition began, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    /// How long it lasted, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// The extreme value over the condition, in the unit its kind names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extreme: Option<f64>,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What became of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// Received and valid; being carried out.
    Accepted,
    /// Refused (invalid, expired, or not allowed in the meter's state).
    Rejected,
    /// Carried out.
    Done,
    /// Tried and failed.
    Failed,
}

/// A meter's answer to a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandAck {
    /// Payload version.
    pub v: u32,
    /// Per-meter sequence number.
    pub seq: u64,
    /// When, Unix ms.
    pub ts_ms: i64,
    /// The command answered.
    pub command_id: u64,
    /// Its status.
    pub status: AckStatus,
    /// The relay state after the command, for switching commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<RelayState>,
    /// Why, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Days a tariff switch applies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Days {
    /// Every day.
    All,
    /// Monday to Friday that are not holidays.
    Weekdays,
    /// Saturday, Sunday and holidays.
    Weekends,
}

/// From `start` (local time, `HH:MM`) on `days`, register against `tariff`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffSwitch {
    /// Days it applies on.
    pub days: Days,
    /// Local start time, `HH:MM`.
    pub start: String,
    /// Tariff register set (0-based).
    pub tariff: u8,
}

/// One price interval of a dynamic tariff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    /// Start, Unix ms.
    pub start_ms: i64,
    /// End, Unix ms.
    pub end_ms: i64,
    /// Import price per kWh, in the signal's currency.
    pub price_per_kwh: f64,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Open the supply switch (DLMS: remote disconnect).
    Disconnect {
        /// Why (audited).
        reason: String,
    },
    /// Close the supply switch (DLMS: remote reconnect).
    Reconnect {
        /// Why (audited).
        reason: String,
    },
    /// Arm the switch for reconnection by the consumer (DLMS: ready_for_reconnection).
    ArmReconnect {
        /// Why (audited).
        reason: String,
    },
    /// Limit the load: above `limit_w` the meter disconnects; `null` clears the limit.
    LoadLimit {
        /// The limit, W.
        limit_w: Option<f64>,
        /// How long the limit lasts, s (absent: until changed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_s: Option<u32>,
    },
    /// Replace the time-of-use calendar that selects the tariff register.
    TariffSchedule {
        /// IANA time zone of the switch times, e.g. `Europe/Amsterdam`.
        timezone: String,
        /// The switches.
        switches: Vec<TariffSwitch>,
        /// Holidays (`YYYY-MM-DD`) that count as weekend days.
        #[serde(default)]
        holidays: Vec<String>,
    },
    /// Prices ahead, for the display and local automation.
    PriceSignal {
        /// ISO 4217 currency.
        currency: String,
        /// The prices.
        prices: Vec<PricePoint>,
    },
    /// Set the meter's clock.
    TimeSync {
        /// The hub's time when it sent the command, Unix ms.
        unix_ms: i64,
    },
    /// Set a phase's calibration.
    Calibrate {
        /// Phase (1-based).
        phase: u8,
        /// Volts per count.
        v_scale: f64,
        /// Amps per count.
        i_scale: f64,
        /// Current-channel delay, µs.
        i_delay_us: f64,
    },
    /// Reset the maximum-demand register (billing date).
    ResetMaxDemand,
}

/// A command from the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Payload version.
    pub v: u32,
    /// Command id, unique per hub; the ack names it.
    pub id: u64,
    /// When it was issued, Unix ms.
    pub ts_ms: i64,
    /// After this the meter must reject it, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
    /// What to do.
    pub action: Action,
}

/// The hub's storage acknowledgement: every message up to `up_to_seq` is stored durably and
/// may leave the meter's outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageAck {
    /// Payload version.
    pub v: u32,
    /// The highest contiguous sequence number stored.
    pub up_to_seq: u64,
    /// When, Unix ms.
    pub ts_ms: i64,
    /// The hub reads batches of up to this many items (absent: send single messages). A
    /// meter batches only after an ack on its current connection carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_max: Option<u32>,
}

/// The status payload (plain text, retained; `offline` is the last will).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `online`.
    Online,
    /// `offline`.
    Offline,
}

impl Status {
    /// The payload text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
        }
    }
}
