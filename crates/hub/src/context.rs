//! What the hub's parts share: the configuration, the store, the clock, and the sending
//! ends of the queues between the parts (live readings, commands to publish, messages for
//! the hub's MQTT connection, what the watcher is told).
//!
//! A leaf: it imports nothing from the hub's other modules but the configuration, so every
//! part may depend on it and `service`, which builds it and starts the parts, is imported
//! by none of them (`tests/acyclic.rs` keeps it so).

use crate::config::HubConfig;
use joule_clock::SharedClock;
use joule_protocol::{EventMessage, LiveReading, MeterId};
use joule_store::{CommandRecord, Store};
use std::sync::Arc;
use tokio::sync::{Notify, broadcast, mpsc};

/// What the hub's parts share: the API reads, asks for commands and streams live
/// readings; ingest writes, publishes commands and feeds the streams.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The configuration.
    pub config: Arc<HubConfig>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The clock every part reads the time from.
    pub clock: SharedClock,
    /// Live readings as they are stored (for server-sent events).
    pub live: broadcast::Sender<(MeterId, LiveReading)>,
    /// Commands to publish (stored already, status pending).
    pub commands: mpsc::Sender<CommandRecord>,
    /// Messages for the hub's own MQTT connection to publish (alerts, automation).
    pub outgoing: mpsc::Sender<Outgoing>,
    /// What alert and automation rules watch: stored data, rule changes, resolutions.
    pub watch: mpsc::Sender<WatchInput>,
    /// The HTTP client for webhooks.
    pub http: reqwest::Client,
    /// Notified when prices, tariff plans or meters change, so the money figures alert and
    /// automation rules read are worked out again at once (`billing::market`).
    pub billing_changed: Arc<Notify>,
}

impl Shared {
    /// The time now, Unix ms, from the hub's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Tells the watcher that rules, settings or DR events changed (the API calls this
    /// after every change). A full queue reaches a reload at the next minute anyway.
    pub fn rules_changed(&self) {
        let _ = self.watch.try_send(WatchInput::RulesChanged);
    }

    /// Says that prices, tariff plans or meters changed.
    pub fn billing_changed(&self) {
        self.billing_changed.notify_one();
    }
}

/// A message for the hub's MQTT connection to publish, with where to say it was taken.
#[derive(Debug)]
pub struct Outgoing {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Whether the broker retains it.
    pub retain: bool,
    /// Told `Ok` once the client has queued it (QoS 1), or why not.
    pub done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// How many inputs may wait for the watcher; past that, ingest drops them (counted in
/// `joule_watch_dropped_total`) rather than slow down.
pub const WATCH_QUEUE: usize = 10_000;

/// What the watcher is told.
#[derive(Debug)]
pub enum WatchInput {
    /// What a committed batch stored.
    Stored {
        /// New live readings.
        readings: Vec<(MeterId, LiveReading)>,
        /// Events.
        events: Vec<(MeterId, EventMessage)>,
        /// Presence changes (`true`: online) with their time.
        presence: Vec<(MeterId, bool, i64)>,
    },
    /// Rules, settings or DR events changed: reload them.
    RulesChanged,
    /// A user resolved an alert: its next occurrence raises a new one.
    Resolved {
        /// The rule.
        rule_id: u64,
        /// The meter.
        meter: String,
        /// The condition.
        condition: String,
    },
}
