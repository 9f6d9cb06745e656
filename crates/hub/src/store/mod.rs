//! Storage: what the hub keeps, behind one interface with a backend per database.
//!
//! The ingest path writes in batches: one transaction per batch, deduplicated on
//! (meter, seq), and returns for every meter the highest sequence number up to which every
//! message is now stored — the number the hub acknowledges to the meter. Readers query
//! meters, readings, interval records, events, gaps and dead letters.

mod sqlite;

pub use sqlite::SqliteStore;

use joule_protocol::{EventMessage, IntervalRecord, LiveReading, MeterId};

/// A meter in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterRecord {
    /// The meter's id (its MQTT username).
    pub id: MeterId,
    /// A name for people.
    pub name: String,
    /// Feeder it hangs on (grid views).
    pub feeder: Option<String>,
    /// Transformer it hangs on (grid views).
    pub transformer: Option<String>,
    /// When it was added, Unix ms.
    pub created_ms: i64,
    /// Whether its token was revoked (it may no longer connect or publish).
    pub revoked: bool,
}

/// What to register for a new meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMeter {
    /// The meter's id.
    pub id: MeterId,
    /// A name for people.
    pub name: String,
    /// Feeder.
    pub feeder: Option<String>,
    /// Transformer.
    pub transformer: Option<String>,
    /// SHA-256 of the device token, hex (the token itself is never stored).
    pub token_hash: String,
    /// The token hashed for Mosquitto's password file (`tokens::mosquitto_hash`).
    pub mosquitto_hash: Option<String>,
}

/// One accepted message, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// A live reading.
    Live(LiveReading),
    /// An interval record.
    Interval(IntervalRecord),
    /// An event.
    Event(EventMessage),
    /// A message that is only counted for the sequence (a command acknowledgement).
    SequenceOnly {
        /// Its sequence number.
        seq: u64,
        /// Its timestamp, Unix ms.
        ts_ms: i64,
    },
}

impl Stored {
    /// The message's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            Self::Live(m) => m.seq,
            Self::Interval(m) => m.seq,
            Self::Event(m) => m.seq,
            Self::SequenceOnly { seq, .. } => *seq,
        }
    }

    /// The message's timestamp, Unix ms.
    pub fn ts_ms(&self) -> i64 {
        match self {
            Self::Live(m) => m.ts_ms,
            Self::Interval(m) => m.ts_ms,
            Self::Event(m) => m.ts_ms,
            Self::SequenceOnly { ts_ms, .. } => *ts_ms,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Live(_) => "live",
            Self::Interval(_) => "interval",
            Self::Event(_) => "event",
            Self::SequenceOnly { .. } => "ack",
        }
    }
}

/// A message refused at ingest, kept for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// When it arrived, Unix ms.
    pub received_ms: i64,
    /// The topic it came on.
    pub topic: String,
    /// The meter, when the topic named a valid one.
    pub meter: Option<String>,
    /// The stable reason (e.g. `schema`, `invalid`, `regression`).
    pub reason: String,
    /// The readable explanation.
    pub detail: String,
    /// The payload as received (cut to 64 KiB).
    pub payload: Vec<u8>,
}

/// One batch of ingest work, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Accepted messages, with their meter.
    pub messages: Vec<(MeterId, Stored)>,
    /// Refused messages.
    pub dead_letters: Vec<DeadLetter>,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Messages stored for the first time.
    pub stored: usize,
    /// Messages already stored before (resends), ignored.
    pub duplicates: usize,
    /// Per meter touched: every message up to this seq is stored (what to acknowledge).
    pub acknowledged: Vec<(MeterId, u64)>,
}

/// A hole in a meter's sequence: messages `from..=to` have not arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// First missing seq.
    pub from: u64,
    /// Last missing seq.
    pub to: u64,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Database(String),
    /// A meter with this id exists already.
    #[error("meter `{0}` exists already")]
    MeterExists(String),
    /// No such meter.
    #[error("no meter `{0}`")]
    NoMeter(String),
    /// Stored data could not be read back (a damaged row).
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Database(error.to_string())
    }
}
