//! Joule's wire contract between meters and the hub: MQTT topic names, the JSON payloads
//! on them, their versioning, and the checks a receiver applies before trusting one.
//!
//! `docs/PROTOCOL.md` documents every topic and payload; its examples are parsed by this
//! crate's tests, so the document cannot drift from the code.
//!
//! Flow: a meter publishes status, live readings, interval records, events and command
//! acknowledgements under its own topics, each (but status) with a per-meter sequence
//! number, and a backlog of readings and records in batches once the hub says it reads
//! them; the hub stores them and answers on the meter's `stored` topic with the highest
//! contiguous sequence number stored durably, and sends commands on its `cmd` topic.
mod acl;
mod batch;
mod check;
mod codec;
mod error;
mod ha;
mod messages;
pub mod resolution;
mod topics;

pub use batch::{BatchBuilder, BatchItem, RefusedItem};
pub use check::{MAX_AGE_MS, MAX_FUTURE_MS};
pub use codec::{Downlink, Uplink, decode_downlink, decode_uplink, encode};
pub use error::{DecodeError, MAX_PAYLOAD_BYTES};
pub use ha::{DISCOVERY_PREFIX, discovery_documents};
pub use messages::{
    AckStatus, Action, BATCH_VERSION, Command, CommandAck, Days, EventKind, EventMessage,
    EventState, IntervalRecord, LiveReading, PAYLOAD_VERSION, PhaseReading, PqCounters, PricePoint,
    Registers, RelayState, Status, StorageAck, TariffRegisters, TariffSwitch,
};
pub use topics::{
    DEFAULT_PREFIX, MAX_METER_ID_LEN, MeterId, MeterTopic, TOPIC_VERSION, TopicError, TopicKind,
    Topics,
};
