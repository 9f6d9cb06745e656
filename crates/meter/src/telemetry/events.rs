//! One struct per observable event of the meter; `emit` logs it and counts it. The
//! structs borrow what they report, so emitting costs nothing to build.

use super::names::{
    COMMANDS_DROPPED_TOTAL, COMMANDS_TOTAL, DOWNLINK_REFUSED_TOTAL, OUTBOX_ACKED_TOTAL,
    OUTBOX_MESSAGES, OUTBOX_RECORDED_TOTAL, OUTBOX_THINNED_TOTAL, REGISTER_SAVES_TOTAL,
    UPLINK_BATCHES_TOTAL, UPLINK_CONNECTS_TOTAL, UPLINK_DISCONNECTS_TOTAL,
};
use crate::commands::{Outcome, action_name};
use joule_protocol::{Command, CommandAck, TopicKind};
use std::error::Error;

/// A command was decided and carried out, or refused.
#[derive(Debug)]
pub struct CommandHandled<'a> {
    /// The command.
    pub command: &'a Command,
    /// Its acknowledgement.
    pub ack: &'a CommandAck,
    /// How it ended.
    pub outcome: Outcome,
}

impl CommandHandled<'_> {
    /// Logs and counts it.
    pub fn emit(self) {
        let (status, detail) = (self.ack.status, &self.ack.detail);
        tracing::info!(id = self.command.id, action = ?self.command.action, ?status, ?detail, "command");
        metrics::counter!(
            COMMANDS_TOTAL,
            "action" => action_name(&self.command.action),
            "outcome" => self.outcome.as_str(),
        )
        .increment(1);
    }
}

/// A command arrived while the agent's queue was full and was dropped.
#[derive(Debug)]
pub struct CommandDropped;

impl CommandDropped {
    /// Logs and counts it.
    pub fn emit(self) {
        tracing::warn!("command queue full; the command is dropped and will time out at the hub");
        metrics::counter!(COMMANDS_DROPPED_TOTAL).increment(1);
    }
}

/// A message on one of the meter's topics could not be used.
#[derive(Debug)]
pub struct DownlinkRefused<'a> {
    /// Its topic.
    pub topic: &'a str,
    /// What is wrong with it.
    pub error: &'a dyn Error,
}

impl DownlinkRefused<'_> {
    /// Logs and counts it.
    pub fn emit(self) {
        tracing::warn!(topic = %self.topic, error = %self.error, "refused a message from the hub");
        metrics::counter!(DOWNLINK_REFUSED_TOTAL).increment(1);
    }
}

/// The broker accepted the meter's connection.
#[derive(Debug)]
pub struct UplinkConnected<'a> {
    /// The meter.
    pub meter: &'a str,
    /// Broker host.
    pub host: &'a str,
    /// Broker port.
    pub port: u16,
}

impl UplinkConnected<'_> {
    /// Logs and counts it.
    pub fn emit(self) {
        tracing::info!(meter = %self.meter, host = %self.host, port = self.port, "connected to the broker");
        metrics::counter!(UPLINK_CONNECTS_TOTAL).increment(1);
    }
}

/// Whether the meter sends batches changed: the hub said it reads batches of up to
/// `batch_max` items, or (`None`) the meter sends single messages again, because it
/// reconnected, resent after the hub's silence, or the hub stopped saying it.
#[derive(Debug)]
pub struct BatchingChanged {
    /// The hub's `batch_max`, while the meter batches.
    pub batch_max: Option<usize>,
}

impl BatchingChanged {
    /// Logs it.
    pub fn emit(self) {
        match self.batch_max {
            Some(batch_max) => tracing::info!(
                batch_max,
                "the hub reads batches; a backlog goes many to a message"
            ),
            None => tracing::info!("sending single messages until the hub says it reads batches"),
        }
    }
}

/// A batch message went to the broker.
#[derive(Debug)]
pub struct BatchPublished;

impl BatchPublished {
    /// Counts it.
    pub fn emit(self) {
        metrics::counter!(UPLINK_BATCHES_TOTAL).increment(1);
    }
}

/// The broker cannot be reached: the connection was lost, or the first attempt of an
/// outage failed (later attempts stay quiet until a connection succeeds).
#[derive(Debug)]
pub struct BrokerUnreachable<'a> {
    /// The meter.
    pub meter: &'a str,
    /// Broker host.
    pub host: &'a str,
    /// Broker port.
    pub port: u16,
    /// Why.
    pub error: &'a dyn Error,
    /// Whether a connection was up (and is now lost).
    pub connection_lost: bool,
}

impl BrokerUnreachable<'_> {
    /// Logs it, and counts a lost connection.
    pub fn emit(self) {
        tracing::warn!(meter = %self.meter, host = %self.host, port = self.port, error = %self.error,
            "broker unreachable; retrying with backoff, measurements keep going to the outbox");
        if self.connection_lost {
            metrics::counter!(UPLINK_DISCONNECTS_TOTAL).increment(1);
        }
    }
}

/// An outbox was opened with messages waiting from before.
#[derive(Debug)]
pub struct OutboxOpened {
    /// Messages waiting.
    pub messages: u64,
}

impl OutboxOpened {
    /// Logs it and adds its messages to the depth.
    pub fn emit(self) {
        tracing::debug!(messages = self.messages, "outbox opened");
        metrics::gauge!(OUTBOX_MESSAGES).increment(self.messages as f64);
    }
}

/// Messages of one kind were recorded into the outbox.
#[derive(Debug)]
pub struct MessagesRecorded {
    /// Their topic.
    pub kind: TopicKind,
    /// How many.
    pub count: u64,
}

impl MessagesRecorded {
    /// Logs and counts them, and adds them to the depth.
    pub fn emit(self) {
        tracing::trace!(kind = self.kind.segment(), count = self.count, "recorded");
        metrics::counter!(OUTBOX_RECORDED_TOTAL, "kind" => self.kind.segment())
            .increment(self.count);
        metrics::gauge!(OUTBOX_MESSAGES).increment(self.count as f64);
    }
}

/// The hub confirmed messages stored; they left the outbox.
#[derive(Debug)]
pub struct MessagesAcknowledged {
    /// Highest sequence confirmed.
    pub up_to_seq: u64,
    /// Messages removed.
    pub removed: u64,
}

impl MessagesAcknowledged {
    /// Logs and counts them, and takes them off the depth.
    pub fn emit(self) {
        tracing::debug!(up_to = self.up_to_seq, removed = self.removed, "hub stored");
        metrics::counter!(OUTBOX_ACKED_TOTAL).increment(self.removed);
        metrics::gauge!(OUTBOX_MESSAGES).decrement(self.removed as f64);
    }
}

/// A full outbox dropped live readings to stay within its bound.
#[derive(Debug)]
pub struct LiveReadingsThinned {
    /// Readings dropped.
    pub dropped: u64,
    /// Unsent live readings left.
    pub kept: u64,
}

impl LiveReadingsThinned {
    /// Logs and counts them, and takes them off the depth.
    pub fn emit(self) {
        tracing::info!(
            dropped = self.dropped,
            kept = self.kept,
            "outbox full: every second older live reading dropped"
        );
        metrics::counter!(OUTBOX_THINNED_TOTAL).increment(self.dropped);
        metrics::gauge!(OUTBOX_MESSAGES).decrement(self.dropped as f64);
    }
}

/// An outbox was closed; its messages wait on disk for the next open.
#[derive(Debug)]
pub struct OutboxClosed {
    /// Messages waiting.
    pub messages: u64,
}

impl OutboxClosed {
    /// Logs it and takes its messages off the depth.
    pub fn emit(self) {
        tracing::debug!(messages = self.messages, "outbox closed");
        metrics::gauge!(OUTBOX_MESSAGES).decrement(self.messages as f64);
    }
}

/// The registers were saved to the register store.
#[derive(Debug)]
pub struct RegistersSaved {
    /// Saves over the store's life.
    pub writes: u64,
}

impl RegistersSaved {
    /// Logs and counts it.
    pub fn emit(self) {
        tracing::trace!(writes = self.writes, "registers saved");
        metrics::counter!(REGISTER_SAVES_TOTAL).increment(1);
    }
}
