//! What the hub tells its operators: one small struct per observable event, whose `emit`
//! logs it (structured `tracing` fields) and counts it (the `metrics` facade, rendered at
//! `/metrics`) together, the way vectordotdev/vector's internal events do. A name is
//! defined once here; `tests/metric_names.rs` checks that docs/OPERATIONS.md explains
//! every name the code emits.
//!
//! A leaf: it imports nothing from the rest of the hub.

/// Metric names (Prometheus), each documented in docs/OPERATIONS.md.
pub mod names {
    /// Messages ingest accepted for storage.
    pub const INGEST_ACCEPTED_TOTAL: &str = "joule_ingest_accepted_total";
    /// Messages ingest refused, by `reason` (kept as dead letters).
    pub const INGEST_REJECTED_TOTAL: &str = "joule_ingest_rejected_total";
    /// Batch messages received from meters (their items count as messages).
    pub const INGEST_UPLINK_BATCHES_TOTAL: &str = "joule_ingest_uplink_batches_total";
    /// Items in the batch messages received from meters.
    pub const INGEST_UPLINK_BATCH_ITEMS_TOTAL: &str = "joule_ingest_uplink_batch_items_total";
    /// Messages newly stored by committed batches.
    pub const INGEST_STORED_TOTAL: &str = "joule_ingest_stored_total";
    /// Messages a batch found stored already (resends).
    pub const INGEST_DUPLICATES_TOTAL: &str = "joule_ingest_duplicates_total";
    /// Judged messages waiting for the batch writer.
    pub const INGEST_QUEUE_DEPTH: &str = "joule_ingest_queue_depth";
    /// Time to write one batch in one transaction, seconds.
    pub const STORE_BATCH_SECONDS: &str = "joule_store_batch_seconds";
    /// Meters online now.
    pub const METERS_ONLINE: &str = "joule_meters_online";
    /// Meters registered.
    pub const METERS_REGISTERED: &str = "joule_meters_registered";
    /// Commands issued (stored pending), by `action`.
    pub const COMMANDS_ISSUED_TOTAL: &str = "joule_commands_issued_total";
    /// Commands that expired before the meter answered.
    pub const COMMANDS_TIMED_OUT_TOTAL: &str = "joule_commands_timed_out_total";
    /// Inputs the watcher's full queue dropped.
    pub const WATCH_DROPPED_TOTAL: &str = "joule_watch_dropped_total";
    /// Alerts opened.
    pub const ALERTS_OPENED_TOTAL: &str = "joule_alerts_opened_total";
    /// Alert delivery attempts, by `channel` and `ok`.
    pub const ALERT_DELIVERIES_TOTAL: &str = "joule_alert_deliveries_total";
    /// Automation runs, by `dry_run`.
    pub const AUTOMATION_RUNS_TOTAL: &str = "joule_automation_runs_total";
    /// Price fetches that stored prices.
    pub const PRICES_FETCHED_TOTAL: &str = "joule_prices_fetched_total";
    /// Price fetches that failed.
    pub const PRICES_FETCH_FAILED_TOTAL: &str = "joule_prices_fetch_failed_total";
    /// Time of one pass over the figures money alerts read, seconds.
    pub const MARKET_PASS_SECONDS: &str = "joule_market_pass_seconds";
    /// Plans or meters whose prices or forecast could not be worked out in a pass.
    pub const MARKET_REFRESH_FAILED_TOTAL: &str = "joule_market_refresh_failed_total";
}

fn flag(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// Ingest refused a message. Counted every time; logged by the caller at most once per
/// meter a minute (`log` says whether this one is logged), so a meter sending rubbish
/// cannot flood the log.
#[derive(Debug)]
pub struct MessageRefused<'a> {
    /// The topic it came on.
    pub topic: &'a str,
    /// Why, as a stable reason code.
    pub reason: &'static str,
    /// Details for people.
    pub detail: &'a str,
}

impl MessageRefused<'_> {
    /// Counts it, and logs it when `log`.
    pub fn emit(&self, log: bool) {
        metrics::counter!(names::INGEST_REJECTED_TOTAL, "reason" => self.reason).increment(1);
        if log {
            tracing::warn!(
                topic = self.topic,
                reason = self.reason,
                detail = self.detail,
                "message refused"
            );
        }
    }
}

/// Ingest accepted messages for storage: one, or a batch's items together (counted, not
/// logged: the common case).
#[derive(Debug)]
pub struct MessagesAccepted {
    /// How many.
    pub messages: u64,
}

impl MessagesAccepted {
    /// Counts them.
    pub fn emit(&self) {
        metrics::counter!(names::INGEST_ACCEPTED_TOTAL).increment(self.messages);
    }
}

/// A meter's batch message arrived with a sound envelope; its items are judged (and
/// counted as accepted or refused) one by one (counted, not logged: the common case
/// while meters catch up).
#[derive(Debug)]
pub struct UplinkBatchReceived {
    /// Items in it.
    pub items: usize,
}

impl UplinkBatchReceived {
    /// Counts it and its items.
    pub fn emit(&self) {
        metrics::counter!(names::INGEST_UPLINK_BATCHES_TOTAL).increment(1);
        metrics::counter!(names::INGEST_UPLINK_BATCH_ITEMS_TOTAL).increment(self.items as u64);
    }
}

/// A batch was written in one transaction.
#[derive(Debug)]
pub struct BatchStored {
    /// Messages newly stored.
    pub stored: usize,
    /// Messages found stored already.
    pub duplicates: usize,
    /// How long the transaction took, seconds.
    pub seconds: f64,
    /// Judged messages still waiting for the writer.
    pub queue_depth: usize,
}

impl BatchStored {
    /// Counts and times it; logs it at debug level.
    pub fn emit(&self) {
        metrics::histogram!(names::STORE_BATCH_SECONDS).record(self.seconds);
        metrics::counter!(names::INGEST_STORED_TOTAL).increment(self.stored as u64);
        metrics::counter!(names::INGEST_DUPLICATES_TOTAL).increment(self.duplicates as u64);
        metrics::gauge!(names::INGEST_QUEUE_DEPTH).set(self.queue_depth as f64);
        tracing::debug!(
            stored = self.stored,
            duplicates = self.duplicates,
            seconds = self.seconds,
            queue_depth = self.queue_depth,
            "batch stored"
        );
    }
}

/// A command was issued to a meter (stored pending, audited).
#[derive(Debug)]
pub struct CommandIssued<'a> {
    /// The command's id.
    pub id: u64,
    /// The meter.
    pub meter: &'a str,
    /// The command's type.
    pub action: &'a str,
    /// Who issued it.
    pub actor: &'a str,
}

impl CommandIssued<'_> {
    /// Logs and counts it.
    pub fn emit(&self) {
        metrics::counter!(names::COMMANDS_ISSUED_TOTAL, "action" => self.action.to_owned())
            .increment(1);
        tracing::info!(
            id = self.id,
            meter = self.meter,
            action = self.action,
            actor = self.actor,
            "command issued"
        );
    }
}

/// A command expired before its meter answered.
#[derive(Debug)]
pub struct CommandTimedOut<'a> {
    /// The command's id.
    pub id: u64,
    /// The meter.
    pub meter: &'a str,
}

impl CommandTimedOut<'_> {
    /// Logs and counts it.
    pub fn emit(&self) {
        metrics::counter!(names::COMMANDS_TIMED_OUT_TOTAL).increment(1);
        tracing::warn!(id = self.id, meter = self.meter, "command timed out");
    }
}

/// One attempt to deliver an alert on a channel.
#[derive(Debug)]
pub struct AlertDelivery<'a> {
    /// The alert.
    pub alert_id: u64,
    /// The channel (`webhook`, `mqtt`, `email`).
    pub channel: &'static str,
    /// Which attempt (1 for the first).
    pub attempt: u32,
    /// Whether the receiver took it.
    pub ok: bool,
    /// The receiver's answer or the error.
    pub detail: &'a str,
}

impl AlertDelivery<'_> {
    /// Counts it and logs it at debug level (the deliverer logs the retries and the
    /// giving up, which it decides).
    pub fn emit(&self) {
        metrics::counter!(names::ALERT_DELIVERIES_TOTAL, "channel" => self.channel,
            "ok" => flag(self.ok))
        .increment(1);
        tracing::debug!(
            alert = self.alert_id,
            channel = self.channel,
            attempt = self.attempt,
            ok = self.ok,
            detail = self.detail,
            "alert delivery attempt"
        );
    }
}

/// An automation rule ran (for real or as a dry run).
#[derive(Debug)]
pub struct AutomationRan {
    /// The rule.
    pub rule_id: u64,
    /// Whether it only said what it would do.
    pub dry_run: bool,
    /// How many of its actions succeeded, of how many.
    pub ok: usize,
    /// Its actions.
    pub actions: usize,
}

impl AutomationRan {
    /// Logs and counts it.
    pub fn emit(&self) {
        metrics::counter!(names::AUTOMATION_RUNS_TOTAL, "dry_run" => flag(self.dry_run))
            .increment(1);
        tracing::info!(
            rule = self.rule_id,
            dry_run = self.dry_run,
            ok = self.ok,
            actions = self.actions,
            "automation ran"
        );
    }
}
