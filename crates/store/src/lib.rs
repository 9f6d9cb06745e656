//! Storage: what the hub keeps, behind one interface with a backend per database.
//!
//! The ingest path writes in batches: one transaction per batch, deduplicated on
//! (meter, seq), and returns for every meter the highest sequence number up to which every
//! message is now stored — the number the hub acknowledges to the meter. Live readings
//! also update the 1-minute, 1-hour and 1-day rollups in the same transaction, so charts
//! never read raw data for long ranges. Readers query meters, series, interval records,
//! events, gaps and dead letters; the API keeps users, sessions, commands and the audit
//! log here too. Two backends: SQLite (the default, one file) and PostgreSQL (fleets).

mod accounts;
mod alerting;
mod billing;
mod compact;
mod config;
mod error;
mod model;
pub mod passwords;
mod postgres;
mod read;
mod rows;
mod sqlite;
pub mod tokens;

pub use alerting::{
    ActionOutcome, Alert, AlertFilter, AlertKey, AlertState, AlertStore, AutomationRun, Channel,
    DeliveryAttempt, Document, DocumentKind, NewAlert,
};
pub use billing::{
    BillRecord, BillingRun, BillingStore, CurrencyTotal, RunStatus, RunSummary, TariffRecord,
};
use billing::{BillsOf, check_replacement, parse_plan, stored_plan};
pub use compact::CompactionOutcome;
pub use config::{OpenError, STORAGE_OVERRIDES, StorageConfig};
pub use error::{StoreError, corrupt};
pub use model::*;
pub use postgres::PostgresStore;
pub(crate) use rows::{stored_meter_id, to_i64, to_u64};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use joule_protocol::{EventMessage, IntervalRecord, LiveReading, MeterId, Registers};

/// The hub's storage. Every backend passes the same suite (`tests/store.rs`).
/// Billing's part is `BillingStore` (in `billing.rs`), which every store is too.
#[async_trait]
pub trait Store: AlertStore + BillingStore + Send + Sync + std::fmt::Debug {
    /// Registers a meter.
    async fn add_meter(&self, meter: NewMeter, now_ms: i64) -> Result<(), StoreError>;
    /// Revokes a meter's token: it can no longer authenticate.
    async fn revoke_meter(&self, id: &MeterId) -> Result<(), StoreError>;
    /// Gives a meter to a consumer (or to nobody).
    async fn set_meter_owner(&self, id: &MeterId, owner: Option<&str>) -> Result<(), StoreError>;
    /// Meters matching `filter`, by id.
    async fn meters(&self, filter: &MeterFilter) -> Result<Vec<MeterRecord>, StoreError>;
    /// One meter.
    async fn meter(&self, id: &MeterId) -> Result<Option<MeterRecord>, StoreError>;
    /// The token hash of a meter that may connect (not revoked).
    async fn active_token_hash(&self, id: &MeterId) -> Result<Option<String>, StoreError>;
    /// The Mosquitto password hashes of the meters that may connect, by id.
    async fn mosquitto_hashes(&self) -> Result<Vec<(MeterId, String)>, StoreError>;

    /// Writes a batch in one transaction. Messages already stored are skipped; the outcome
    /// says, per meter, up to which seq everything is stored.
    async fn write_batch(&self, batch: &Batch) -> Result<BatchOutcome, StoreError>;
    /// Up to which seq everything of a meter is stored (0: nothing yet).
    async fn contiguous_seq(&self, meter: &MeterId) -> Result<u64, StoreError>;
    /// The holes in a meter's sequence between what is contiguous and the highest seen.
    async fn gaps(&self, meter: &MeterId) -> Result<Vec<Gap>, StoreError>;
    /// Every meter's latest stored import/export registers with their time (ingest's
    /// regression check after a restart).
    async fn latest_registers(&self) -> Result<Vec<(MeterId, i64, Registers)>, StoreError>;

    /// The latest live reading of a meter.
    async fn latest_reading(&self, meter: &MeterId) -> Result<Option<LiveReading>, StoreError>;
    /// Live readings of a meter with `from_ms <= ts_ms < to_ms`, oldest first.
    async fn readings(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<LiveReading>, StoreError>;
    /// A meter's series at `resolution` for `from_ms <= ts_ms < to_ms` (bucket starts),
    /// oldest first.
    async fn series(
        &self,
        meter: &MeterId,
        resolution: Resolution,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<SeriesPoint>, StoreError>;
    /// Interval records of a meter with `from_ms <= ts_ms < to_ms`, oldest first.
    async fn intervals(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IntervalRecord>, StoreError>;
    /// The registers of the same records as [`Store::intervals`]: what billing reads,
    /// from fewer columns (in compacted blocks, the others are not decompressed).
    async fn interval_registers(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IntervalRegisters>, StoreError>;
    /// Events of a meter with `from_ms <= ts_ms < to_ms`, oldest first.
    async fn events(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<EventMessage>, StoreError>;
    /// The most recent events of every meter, newest first (the operators' events view).
    async fn recent_events(&self, limit: usize)
    -> Result<Vec<(MeterId, EventMessage)>, StoreError>;
    /// The most recent dead letters, newest first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError>;
    /// Deletes live readings older than `before_ms`, and with them the one-minute rollups
    /// of their compacted days (hour and day rollups, intervals and events stay); returns
    /// how many readings went.
    async fn prune_live(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Moves every meter's live readings from before the start of the hour, and interval
    /// records and hour and day rollups from before the start of the day (UTC, at
    /// `now_ms`), into compacted blocks, one transaction per meter so ingest waits at most
    /// one meter's worth. Readers see the same records before and after (a minute's
    /// buckets are summed from the compacted readings).
    async fn compact(&self, now_ms: i64) -> Result<CompactionOutcome, StoreError>;

    /// Adds a user.
    async fn add_user(&self, user: UserRecord) -> Result<(), StoreError>;
    /// A user by name.
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Every user, by name.
    async fn users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Replaces a user's password hash and ends their sessions.
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError>;
    /// Stores a new session.
    async fn add_session(&self, session: SessionRecord) -> Result<(), StoreError>;
    /// A session that has not expired at `now_ms`, with its user.
    async fn session(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<(SessionRecord, UserRecord)>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    /// Stores an API token's hash for a user.
    async fn add_api_token(
        &self,
        username: &str,
        token_hash: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// The user an API token belongs to.
    async fn api_token_user(&self, token_hash: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Stores a new command (status pending) and returns it with its id.
    async fn add_command(
        &self,
        meter: &MeterId,
        action: &joule_protocol::Action,
        created_by: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<CommandRecord, StoreError>;
    /// Moves a command on (only forward: a final status is never changed).
    async fn set_command_status(
        &self,
        id: u64,
        status: CommandStatus,
        detail: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// One command.
    async fn command(&self, id: u64) -> Result<Option<CommandRecord>, StoreError>;
    /// Commands, newest first, for one meter or all, in one status or any.
    async fn commands(
        &self,
        meter: Option<&MeterId>,
        status: Option<CommandStatus>,
        limit: usize,
    ) -> Result<Vec<CommandRecord>, StoreError>;
    /// Marks commands still pending, sent or accepted past their expiry as timed out;
    /// returns them.
    async fn expire_commands(&self, now_ms: i64) -> Result<Vec<CommandRecord>, StoreError>;

    /// Appends to the audit log.
    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError>;
    /// The most recent audit entries, newest first.
    async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
}

/// The event kind as stored: its wire name.
fn event_kind_name(event: &EventMessage) -> String {
    serde_json::to_value(event.kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The status a command acknowledgement moves a command to.
pub fn status_of_ack(status: joule_protocol::AckStatus) -> CommandStatus {
    match status {
        joule_protocol::AckStatus::Accepted => CommandStatus::Accepted,
        joule_protocol::AckStatus::Rejected => CommandStatus::Rejected,
        joule_protocol::AckStatus::Done => CommandStatus::Done,
        joule_protocol::AckStatus::Failed => CommandStatus::Failed,
    }
}
