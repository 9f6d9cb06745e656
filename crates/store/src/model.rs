//! What the store keeps, as plain types shared by every backend.

use joule_protocol::{
    Action, CommandAck, EventMessage, IntervalRecord, LiveReading, MeterId, Status,
};
use serde::{Deserialize, Serialize};

/// What describes a meter for people and grid views: what an admin sets when registering
/// it, kept in the registry and shown by the API (flattened into the JSON of both).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeterDetails {
    /// A name for people.
    #[serde(default)]
    pub name: String,
    /// The consumer it belongs to (a username), if any.
    pub owner: Option<String>,
    /// Where it is installed (an address or a description).
    pub location: Option<String>,
    /// Feeder it hangs on (grid views).
    pub feeder: Option<String>,
    /// Transformer it hangs on (grid views).
    pub transformer: Option<String>,
    /// The tariff plan it is billed on.
    pub tariff: Option<String>,
    /// Installation date, `YYYY-MM-DD`.
    pub install_date: Option<String>,
}

/// A meter in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MeterRecord {
    /// The meter's id (its MQTT username).
    #[schema(value_type = String)]
    pub id: MeterId,
    /// Name, owner, location, grid position, tariff, installation date.
    #[serde(flatten)]
    pub details: MeterDetails,
    /// When it was added, Unix ms.
    pub created_ms: i64,
    /// Whether its token was revoked (it may no longer connect or publish).
    pub revoked: bool,
    /// Its last reported presence: `true` online, `false` offline, absent if never seen.
    pub online: Option<bool>,
    /// When the presence last changed, Unix ms.
    pub status_ms: Option<i64>,
}

/// What to register for a new meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMeter {
    /// The meter's id.
    pub id: MeterId,
    /// Name, owner, location, grid position, tariff, installation date.
    pub details: MeterDetails,
    /// SHA-256 of the device token, hex (the token itself is never stored).
    pub token_hash: String,
    /// The token hashed for Mosquitto's password file (`tokens::mosquitto_hash`).
    pub mosquitto_hash: Option<String>,
}

impl NewMeter {
    /// A meter whose device token is `token`: only its hashes are kept.
    pub fn with_token(id: MeterId, details: MeterDetails, token: &str) -> Self {
        Self {
            id,
            details,
            token_hash: crate::tokens::hash(token),
            mosquitto_hash: Some(crate::tokens::mosquitto_hash(token)),
        }
    }
}

/// Which meters to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeterFilter {
    /// Only this consumer's meters.
    pub owner: Option<String>,
    /// Only meters on this feeder.
    pub feeder: Option<String>,
    /// Only meters on this transformer.
    pub transformer: Option<String>,
    /// Only meters whose id or name contains this (case-insensitive).
    pub search: Option<String>,
    /// Skip this many (paging).
    pub offset: u32,
    /// At most this many; 0 means no limit.
    pub limit: u32,
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
    /// A command acknowledgement: moves the command's lifecycle on.
    CommandAck(CommandAck),
    /// The sequence number of a message refused at ingest (kept as a dead letter): settled
    /// like a stored one, because resending cannot change the verdict and an unsettled
    /// number would hold the meter's contiguous acknowledgement back for ever.
    Refused {
        /// The refused message's sequence number.
        seq: u64,
        /// When the hub received it, Unix ms (the message's own time is not trusted).
        received_ms: i64,
    },
}

impl Stored {
    /// The message's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            Self::Live(m) => m.seq,
            Self::Interval(m) => m.seq,
            Self::Event(m) => m.seq,
            Self::CommandAck(m) => m.seq,
            Self::Refused { seq, .. } => *seq,
        }
    }

    /// The message's timestamp, Unix ms.
    pub fn ts_ms(&self) -> i64 {
        match self {
            Self::Live(m) => m.ts_ms,
            Self::Interval(m) => m.ts_ms,
            Self::Event(m) => m.ts_ms,
            Self::CommandAck(m) => m.ts_ms,
            Self::Refused { received_ms, .. } => *received_ms,
        }
    }

    /// The kind's stored name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Live(_) => "live",
            Self::Interval(_) => "interval",
            Self::Event(_) => "event",
            Self::CommandAck(_) => "ack",
            Self::Refused { .. } => "refused",
        }
    }
}

/// A message refused at ingest, kept for inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    /// When it arrived, Unix ms.
    pub received_ms: i64,
    /// The topic it came on.
    pub topic: String,
    /// The meter, when the topic named a valid one.
    pub meter: Option<String>,
    /// The stable reason (e.g. `schema`, `invalid`, `regression`).
    pub reason: String,
    /// The sequence number the message carried, when it could be read and the refusal is
    /// final; the hub settles (acknowledges) it so the meter's outbox moves on.
    pub seq: Option<u64>,
    /// The readable explanation.
    pub detail: String,
    /// The payload as received (cut to 64 KiB).
    #[serde(serialize_with = "lossy_text")]
    #[schema(value_type = String)]
    pub payload: Vec<u8>,
}

impl DeadLetter {
    /// The sequence number to settle for this refusal, when it has one.
    pub fn settlement(&self) -> Option<(MeterId, Stored)> {
        let meter = MeterId::new(self.meter.as_deref()?).ok()?;
        let seq = self.seq?;
        Some((
            meter,
            Stored::Refused {
                seq,
                received_ms: self.received_ms,
            },
        ))
    }
}

fn lossy_text<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&String::from_utf8_lossy(bytes))
}

/// One batch of ingest work, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Accepted messages, with their meter.
    pub messages: Vec<(MeterId, Stored)>,
    /// Refused messages.
    pub dead_letters: Vec<DeadLetter>,
    /// Presence changes, with the time they were seen (Unix ms).
    pub statuses: Vec<(MeterId, Status, i64)>,
}

impl Batch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.dead_letters.is_empty() && self.statuses.is_empty()
    }
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// Messages stored for the first time.
    pub stored: usize,
    /// Messages already stored before (resends), ignored.
    pub duplicates: usize,
    /// Per meter touched: every message up to this seq is stored (what to acknowledge).
    pub acknowledged: Vec<(MeterId, u64)>,
    /// The live readings stored for the first time (for live streams to subscribers).
    pub new_live: Vec<(MeterId, LiveReading)>,
}

/// A hole in a meter's sequence: messages `from..=to` have not arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Gap {
    /// First missing seq.
    pub from: u64,
    /// Last missing seq.
    pub to: u64,
}

/// The resolution of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Every live reading as stored.
    Raw,
    /// One point per minute.
    Minute,
    /// One point per hour.
    Hour,
    /// One point per UTC day.
    Day,
}

impl Resolution {
    /// The bucket width, ms (`None` for raw).
    pub const fn bucket_ms(self) -> Option<i64> {
        match self {
            Self::Raw => None,
            Self::Minute => Some(60_000),
            Self::Hour => Some(3_600_000),
            Self::Day => Some(86_400_000),
        }
    }

    /// The rollups maintained at ingest.
    pub const ROLLUPS: [Self; 3] = [Self::Minute, Self::Hour, Self::Day];
}

/// An interval record's registers, as billing reads them: the snapshot at the end of
/// the interval, without the record's other fields, so a billing run reads fewer
/// columns ([`Store::interval_registers`](crate::Store::interval_registers)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalRegisters {
    /// Per-meter sequence number.
    pub seq: u64,
    /// End of the interval, Unix ms.
    pub ts_ms: i64,
    /// Length of the interval, s.
    pub interval_s: u32,
    /// Import register at the end of the interval, mWh.
    pub import_mwh: u64,
    /// Export register at the end of the interval, mWh.
    pub export_mwh: u64,
    /// Maximum demand register at the end of the interval, W.
    pub max_demand_w: Option<f64>,
}

impl From<&IntervalRecord> for IntervalRegisters {
    fn from(record: &IntervalRecord) -> Self {
        Self {
            seq: record.seq,
            ts_ms: record.ts_ms,
            interval_s: record.interval_s,
            import_mwh: record.registers.import_mwh,
            export_mwh: record.registers.export_mwh,
            max_demand_w: record.max_demand_w,
        }
    }
}

/// One point of a meter's time series: a rollup bucket, or one raw reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    /// Start of the bucket (or the reading's time), Unix ms.
    pub ts_ms: i64,
    /// Readings in the bucket.
    pub count: u64,
    /// Average active power, W (+ import, − export).
    pub p_avg_w: f64,
    /// Lowest active power, W.
    pub p_min_w: f64,
    /// Highest active power, W.
    pub p_max_w: f64,
    /// Average voltage, V.
    pub v_avg_v: f64,
    /// Lowest voltage, V.
    pub v_min_v: f64,
    /// Highest voltage, V.
    pub v_max_v: f64,
    /// Import register at the first reading in the bucket, mWh.
    pub import_first_mwh: u64,
    /// Import register at the last reading in the bucket, mWh.
    pub import_last_mwh: u64,
    /// Export register at the first reading in the bucket, mWh.
    pub export_first_mwh: u64,
    /// Export register at the last reading in the bucket, mWh.
    pub export_last_mwh: u64,
}

impl SeriesPoint {
    /// The point for one reading.
    pub fn of(reading: &LiveReading) -> Self {
        Self {
            ts_ms: reading.ts_ms,
            count: 1,
            p_avg_w: reading.p_w,
            p_min_w: reading.p_w,
            p_max_w: reading.p_w,
            v_avg_v: reading.voltage_v,
            v_min_v: reading.voltage_v,
            v_max_v: reading.voltage_v,
            import_first_mwh: reading.registers.import_mwh,
            import_last_mwh: reading.registers.import_mwh,
            export_first_mwh: reading.registers.export_mwh,
            export_last_mwh: reading.registers.export_mwh,
        }
    }

    /// Folds another point of the same bucket into this one.
    pub fn merge(&mut self, other: &Self) {
        let total = self.count + other.count;
        if total == 0 {
            return;
        }
        let (a, b) = (self.count as f64, other.count as f64);
        self.p_avg_w = (self.p_avg_w * a + other.p_avg_w * b) / (a + b);
        self.v_avg_v = (self.v_avg_v * a + other.v_avg_v * b) / (a + b);
        self.p_min_w = self.p_min_w.min(other.p_min_w);
        self.p_max_w = self.p_max_w.max(other.p_max_w);
        self.v_min_v = self.v_min_v.min(other.v_min_v);
        self.v_max_v = self.v_max_v.max(other.v_max_v);
        // Registers never go backwards, so first and last are the extremes.
        self.import_first_mwh = self.import_first_mwh.min(other.import_first_mwh);
        self.import_last_mwh = self.import_last_mwh.max(other.import_last_mwh);
        self.export_first_mwh = self.export_first_mwh.min(other.export_first_mwh);
        self.export_last_mwh = self.export_last_mwh.max(other.export_last_mwh);
        self.count = total;
    }
}

/// One rollup bucket as stored: sums rather than averages, so that two parts of a bucket
/// (one compacted, one written late) merge exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    /// Start of the bucket, Unix ms.
    pub(crate) bucket_ms: i64,
    /// Readings in it.
    pub(crate) count: u64,
    /// Sum of active power, W.
    pub(crate) p_sum: f64,
    /// Lowest active power, W.
    pub(crate) p_min: f64,
    /// Highest active power, W.
    pub(crate) p_max: f64,
    /// Sum of voltage, V.
    pub(crate) v_sum: f64,
    /// Lowest voltage, V.
    pub(crate) v_min: f64,
    /// Highest voltage, V.
    pub(crate) v_max: f64,
    /// Import register at the first reading, mWh.
    pub(crate) import_first: u64,
    /// Import register at the last reading, mWh.
    pub(crate) import_last: u64,
    /// Export register at the first reading, mWh.
    pub(crate) export_first: u64,
    /// Export register at the last reading, mWh.
    pub(crate) export_last: u64,
}

impl Bucket {
    /// The bucket holding `point`'s readings (its averages times its count).
    pub(crate) fn of(point: &SeriesPoint) -> Self {
        let count = point.count as f64;
        Self {
            bucket_ms: point.ts_ms,
            count: point.count,
            p_sum: point.p_avg_w * count,
            p_min: point.p_min_w,
            p_max: point.p_max_w,
            v_sum: point.v_avg_v * count,
            v_min: point.v_min_v,
            v_max: point.v_max_v,
            import_first: point.import_first_mwh,
            import_last: point.import_last_mwh,
            export_first: point.export_first_mwh,
            export_last: point.export_last_mwh,
        }
    }

    /// The series point it stands for: the sums become averages.
    pub(crate) fn point(&self) -> SeriesPoint {
        let n = self.count.max(1) as f64;
        SeriesPoint {
            ts_ms: self.bucket_ms,
            count: self.count,
            p_avg_w: self.p_sum / n,
            p_min_w: self.p_min,
            p_max_w: self.p_max,
            v_avg_v: self.v_sum / n,
            v_min_v: self.v_min,
            v_max_v: self.v_max,
            import_first_mwh: self.import_first,
            import_last_mwh: self.import_last,
            export_first_mwh: self.export_first,
            export_last_mwh: self.export_last,
        }
    }

    /// Folds another part of the same bucket into this one (what the rollup upsert does).
    pub(crate) fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.p_sum += other.p_sum;
        self.p_min = self.p_min.min(other.p_min);
        self.p_max = self.p_max.max(other.p_max);
        self.v_sum += other.v_sum;
        self.v_min = self.v_min.min(other.v_min);
        self.v_max = self.v_max.max(other.v_max);
        self.import_first = self.import_first.min(other.import_first);
        self.import_last = self.import_last.max(other.import_last);
        self.export_first = self.export_first.min(other.export_first);
        self.export_last = self.export_last.max(other.export_last);
    }
}

/// The rollup buckets a batch of new readings changes, folded per (meter, resolution,
/// bucket start) so each is written once per batch.
pub fn rollup_deltas(
    readings: &[(MeterId, LiveReading)],
) -> Vec<(MeterId, Resolution, SeriesPoint)> {
    let mut buckets: std::collections::BTreeMap<(&MeterId, i64, i64), SeriesPoint> =
        std::collections::BTreeMap::new();
    for (meter, reading) in readings {
        for resolution in Resolution::ROLLUPS {
            let width = resolution.bucket_ms().unwrap_or(1);
            let start = reading.ts_ms.div_euclid(width) * width;
            let mut point = SeriesPoint::of(reading);
            point.ts_ms = start;
            buckets
                .entry((meter, width, start))
                .and_modify(|bucket| bucket.merge(&point))
                .or_insert(point);
        }
    }
    buckets
        .into_iter()
        .map(|((meter, width, _), point)| {
            let resolution = Resolution::ROLLUPS
                .into_iter()
                .find(|r| r.bucket_ms() == Some(width))
                .unwrap_or(Resolution::Minute);
            (meter.clone(), resolution, point)
        })
        .collect()
}

/// A user's role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees their own meters only.
    Consumer,
    /// The fleet and commands.
    Operator,
    /// Users, meters and tariffs too.
    Admin,
}

impl Role {
    /// Its stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Consumer => "consumer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "consumer" => Some(Self::Consumer),
            "operator" => Some(Self::Operator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Argon2id hash in PHC format.
    pub password_hash: String,
    /// When it was created, Unix ms.
    pub created_ms: i64,
}

/// A browser session (the cookie holds the token; only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session token, hex.
    pub token_hash: String,
    /// Whose session.
    pub username: String,
    /// The CSRF token every state-changing request must echo.
    pub csrf_token: String,
    /// When it was created, Unix ms.
    pub created_ms: i64,
    /// When it stops working, Unix ms.
    pub expires_ms: i64,
}

/// Where a command is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Stored, not yet handed to the broker.
    Pending,
    /// Published to the meter's command topic.
    Sent,
    /// The meter accepted it and is carrying it out.
    Accepted,
    /// The meter carried it out.
    Done,
    /// The meter refused it.
    Rejected,
    /// The meter tried and failed.
    Failed,
    /// No final answer before it expired.
    TimedOut,
}

impl CommandStatus {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Accepted => "accepted",
            Self::Done => "done",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Sent,
            Self::Accepted,
            Self::Done,
            Self::Rejected,
            Self::Failed,
            Self::TimedOut,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }

    /// The stored names of the statuses a command may move to this one from: its lifecycle
    /// only goes forward (pending, sent, accepted, then one final status).
    pub fn may_follow(self) -> &'static [&'static str] {
        match self {
            Self::Pending => &[],
            Self::Sent => &["pending"],
            Self::Accepted => &["pending", "sent"],
            Self::Done | Self::Rejected | Self::Failed | Self::TimedOut => {
                &["pending", "sent", "accepted"]
            }
        }
    }

    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Done | Self::Rejected | Self::Failed | Self::TimedOut
        )
    }
}

/// A command and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CommandRecord {
    /// Its id (the wire `id`).
    pub id: u64,
    /// The meter it is for.
    #[schema(value_type = String)]
    pub meter: MeterId,
    /// What it asks.
    #[schema(value_type = Object)]
    pub action: Action,
    /// Where it is.
    pub status: CommandStatus,
    /// Who asked (a username, or `automation`).
    pub created_by: String,
    /// When it was asked, Unix ms.
    pub created_ms: i64,
    /// When its status last changed, Unix ms.
    pub updated_ms: i64,
    /// After this the meter must refuse it, Unix ms.
    pub expires_ms: i64,
    /// The meter's explanation, or why it failed.
    pub detail: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When, Unix ms.
    pub ts_ms: i64,
    /// Who (a username, `cli`, or `automation`).
    pub actor: String,
    /// What, e.g. `command.disconnect`, `user.add`, `meter.revoke`.
    pub action: String,
    /// On what (a meter id or a username).
    pub target: String,
    /// Details (a reason, the fields changed).
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_record_is_flat_json() {
        let record = MeterRecord {
            id: MeterId::new("m-1").expect("id"),
            details: MeterDetails {
                name: "Flat 3".into(),
                owner: Some("alice".into()),
                ..MeterDetails::default()
            },
            created_ms: 1,
            revoked: false,
            online: None,
            status_ms: None,
        };
        let json = serde_json::to_value(&record).expect("json");
        assert_eq!(json["id"], "m-1");
        assert_eq!(json["name"], "Flat 3");
        assert_eq!(json["owner"], "alice");
        assert!(json.get("details").is_none());
        let back: MeterRecord = serde_json::from_value(json).expect("back");
        assert_eq!(back, record);
    }
}
