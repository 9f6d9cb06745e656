//! What alerts and automation keep: rules, settings and demand-response events as JSON
//! documents, alerts with their lifecycle, delivery attempts and automation runs.
//!
//! Rules, settings and DR events are read whole and written whole by their owners, and
//! their shape grows with new condition and trigger kinds, so each is one JSON document
//! (kind, owner, body) rather than columns per field: a new kind needs no migration.
//! Alerts are rows, because the store itself guarantees that one rule, meter and condition
//! has at most one alert that is not resolved (a partial unique index).

use super::rows::{ResultRow, narrow};
use super::{StoreError, corrupt, to_u64};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Where an alert is delivered besides the in-app list (which always has it).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A JSON POST to the user's webhook URL.
    Webhook,
    /// A message on the hub's MQTT broker (`{prefix}/v1/alerts/{username}`).
    Mqtt,
    /// An email to the user's address.
    Email,
}

impl Channel {
    /// Its stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Mqtt => "mqtt",
            Self::Email => "email",
        }
    }
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition holds and nobody has seen it yet.
    Open,
    /// Someone has seen it; it resolves when the condition clears.
    Acknowledged,
    /// Over: the condition cleared, or a user closed it.
    Resolved,
}

impl AlertState {
    /// Its stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Open, Self::Acknowledged, Self::Resolved]
            .into_iter()
            .find(|state| state.as_str() == name)
    }
}

/// An alert to store: one rule's condition raised on one meter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewAlert {
    /// The rule that raised it.
    pub rule_id: u64,
    /// The rule's owner, who sees it.
    pub owner: String,
    /// The meter.
    pub meter: String,
    /// Which condition of the rule (e.g. `power_above`, or the tamper event's kind).
    pub condition: String,
    /// What happened, for people.
    pub message: String,
    /// The value that raised it, in the condition's unit, if there is one.
    pub value: Option<f64>,
    /// When the condition was raised, Unix ms.
    pub opened_ms: i64,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    /// Its id.
    pub id: u64,
    /// What raised it (flattened into the JSON).
    #[serde(flatten)]
    pub raised: NewAlert,
    /// Where it is.
    pub state: AlertState,
    /// When someone acknowledged it, Unix ms.
    pub acknowledged_ms: Option<i64>,
    /// When it resolved, Unix ms.
    pub resolved_ms: Option<i64>,
    /// Who resolved it: a username, or `condition cleared`.
    pub resolved_by: Option<String>,
}

/// One attempt to deliver an alert on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryAttempt {
    /// The alert.
    pub alert_id: u64,
    /// The channel.
    pub channel: Channel,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When, Unix ms.
    pub ts_ms: i64,
    /// Whether the receiver took it.
    pub ok: bool,
    /// The receiver's answer or the error.
    pub detail: String,
}

/// The kinds of JSON documents kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// An alert rule (`alerts::AlertRuleSpec`).
    AlertRule,
    /// A user's notification settings (`alerts::NotificationSettings`).
    NotificationSettings,
    /// An automation rule (`automation::AutomationSpec`).
    Automation,
    /// A demand-response event (`automation::DrEventSpec`).
    DrEvent,
}

impl DocumentKind {
    /// Its stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AlertRule => "alert_rule",
            Self::NotificationSettings => "notification_settings",
            Self::Automation => "automation",
            Self::DrEvent => "dr_event",
        }
    }
}

/// A stored JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its id (shared by all kinds; 0 before it is stored).
    pub id: u64,
    /// Whose it is (a username).
    pub owner: String,
    /// The JSON body.
    pub body: String,
    /// When it was written, Unix ms.
    pub updated_ms: i64,
}

/// Which alerts to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only this user's.
    pub owner: Option<String>,
    /// Only in this state.
    pub state: Option<AlertState>,
    /// Only this id.
    pub id: Option<u64>,
    /// At most this many (`usize::MAX`: all).
    pub limit: usize,
}

/// Which alerts to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertKey {
    /// The rule.
    pub rule_id: u64,
    /// Only this meter (or every meter of the rule).
    pub meter: Option<String>,
    /// Only this condition (or every condition).
    pub condition: Option<String>,
}

/// One automation rule's firing: what triggered it and what each action did (or, in a
/// dry run, would have done).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AutomationRun {
    /// Its id (0 before it is stored).
    pub id: u64,
    /// The rule.
    pub rule_id: u64,
    /// When, Unix ms.
    pub ts_ms: i64,
    /// Whether nothing was done, only recorded.
    pub dry_run: bool,
    /// What triggered it.
    pub reason: String,
    /// Each action with its result.
    pub outcomes: Vec<ActionOutcome>,
}

/// What one action did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionOutcome {
    /// The action, for people (e.g. `publish home/switch/boiler/set: OFF`).
    pub action: String,
    /// Whether it succeeded (a dry run: whether it would be attempted).
    pub ok: bool,
    /// The result, the error, or `dry run: not done`.
    pub detail: String,
}

/// Storage for alerts and automation; part of every [`super::Store`].
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Stores a new document (its `id` 0) or replaces the one of that id and kind (its
    /// owner stays); returns its id.
    async fn put_document(
        &self,
        kind: DocumentKind,
        document: &Document,
    ) -> Result<u64, StoreError>;
    /// Documents of a kind, of one owner or all, by id.
    async fn documents(
        &self,
        kind: DocumentKind,
        owner: Option<&str>,
    ) -> Result<Vec<Document>, StoreError>;
    /// Deletes a document; whether it existed.
    async fn delete_document(&self, kind: DocumentKind, id: u64) -> Result<bool, StoreError>;

    /// Opens an alert, unless one for the same rule, meter and condition is not resolved
    /// yet (then `None`).
    async fn open_alert(&self, alert: &NewAlert) -> Result<Option<Alert>, StoreError>;
    /// Moves an alert on: open → acknowledged → resolved, never back. Returns it when it
    /// moved.
    async fn set_alert_state(
        &self,
        id: u64,
        state: AlertState,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<Alert>, StoreError>;
    /// Resolves every alert matching `key` that is not resolved; returns them.
    async fn resolve_alerts(
        &self,
        key: &AlertKey,
        by: &str,
        now_ms: i64,
    ) -> Result<Vec<Alert>, StoreError>;
    /// Alerts matching `filter`, newest first.
    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, StoreError>;
    /// Records a delivery attempt.
    async fn add_delivery(&self, attempt: &DeliveryAttempt) -> Result<(), StoreError>;
    /// An alert's delivery attempts, in order.
    async fn deliveries(&self, alert_id: u64) -> Result<Vec<DeliveryAttempt>, StoreError>;

    /// Records an automation run; returns it with its id.
    async fn add_automation_run(&self, run: &AutomationRun) -> Result<AutomationRun, StoreError>;
    /// Runs of one rule or all, newest first.
    async fn automation_runs(
        &self,
        rule_id: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AutomationRun>, StoreError>;
}

/// The SQL both backends use to read alerts (`placeholder(n)` spells parameter n).
pub(super) fn alerts_query(
    filter: &AlertFilter,
    placeholder: fn(usize) -> String,
) -> (String, Vec<String>) {
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE 1 = 1");
    let mut values = Vec::new();
    let id = filter.id.map(|id| id.to_string());
    let state = filter.state.map(|s| s.as_str().to_owned());
    for (column, value) in [("owner", filter.owner.clone()), ("state", state)] {
        if let Some(value) = value {
            values.push(value);
            sql.push_str(&format!(" AND {column} = {}", placeholder(values.len())));
        }
    }
    if let Some(id) = id {
        // The id is a number we formatted: safe to inline, and avoids a typed parameter.
        sql.push_str(&format!(" AND id = {id}"));
    }
    let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX).max(1);
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    (sql, values)
}

/// The columns `alert` reads, of `alerts` (a `SELECT` or a `RETURNING`).
pub(super) const ALERT_COLUMNS: &str = "id, rule_id, owner, meter_id, condition, message,
    value, state, opened_ms, acknowledged_ms, resolved_ms, resolved_by";

/// An alert, from `ALERT_COLUMNS`.
pub(super) fn alert(row: &impl ResultRow) -> Result<Alert, StoreError> {
    let state = row.text(7)?;
    Ok(Alert {
        id: to_u64(row.int(0)?),
        raised: NewAlert {
            rule_id: to_u64(row.int(1)?),
            owner: row.text(2)?,
            meter: row.text(3)?,
            condition: row.text(4)?,
            message: row.text(5)?,
            value: row.opt_real(6)?,
            opened_ms: row.int(8)?,
        },
        state: AlertState::parse(&state).ok_or(StoreError::Corrupt {
            what: "alert state",
            detail: state,
        })?,
        acknowledged_ms: row.opt_int(9)?,
        resolved_ms: row.opt_int(10)?,
        resolved_by: row.opt_text(11)?,
    })
}

/// The columns `document` reads, of `alerting_documents`.
pub(super) const DOCUMENT_COLUMNS: &str = "id, owner, body, updated_ms";

/// A document, from `DOCUMENT_COLUMNS`.
pub(super) fn document(row: &impl ResultRow) -> Result<Document, StoreError> {
    Ok(Document {
        id: to_u64(row.int(0)?),
        owner: row.text(1)?,
        body: row.text(2)?,
        updated_ms: row.int(3)?,
    })
}

/// The columns `delivery` reads, of `alert_deliveries`.
pub(super) const DELIVERY_COLUMNS: &str = "channel, attempt, ts_ms, ok, detail";

/// A delivery attempt of the alert `alert_id`, from `DELIVERY_COLUMNS`.
pub(super) fn delivery(row: &impl ResultRow, alert_id: u64) -> Result<DeliveryAttempt, StoreError> {
    Ok(DeliveryAttempt {
        alert_id,
        channel: stored_channel(row.text(0)?)?,
        attempt: narrow(row.int(1)?, "delivery attempt")?,
        ts_ms: row.int(2)?,
        ok: row.flag(3)?,
        detail: row.text(4)?,
    })
}

/// The columns `automation_run` reads, of `automation_runs`.
pub(super) const AUTOMATION_RUN_COLUMNS: &str = "id, rule_id, ts_ms, dry_run, reason, outcomes";

/// An automation run, from `AUTOMATION_RUN_COLUMNS`.
pub(super) fn automation_run(row: &impl ResultRow) -> Result<AutomationRun, StoreError> {
    Ok(AutomationRun {
        id: to_u64(row.int(0)?),
        rule_id: to_u64(row.int(1)?),
        ts_ms: row.int(2)?,
        dry_run: row.flag(3)?,
        reason: row.text(4)?,
        outcomes: serde_json::from_str(&row.text(5)?)
            .map_err(corrupt("automation run outcomes"))?,
    })
}

/// The states an alert may move to `state` from.
pub(super) fn state_may_follow(state: AlertState) -> &'static [&'static str] {
    match state {
        AlertState::Open => &[],
        AlertState::Acknowledged => &["open"],
        AlertState::Resolved => &["open", "acknowledged"],
    }
}

/// A delivery channel read back.
fn stored_channel(name: String) -> Result<Channel, StoreError> {
    serde_json::from_value(serde_json::Value::String(name)).map_err(corrupt("delivery channel"))
}
