//! Decoding and checking payloads: bytes from a topic become a typed message, or a
//! [`DecodeError`] that names what is wrong and counts under a stable reason.
//!
//! Checking covers what one message can show by itself: the version, the schema, units
//! and ranges, and a timestamp within sane bounds of the receiver's clock. What needs
//! history (registers that never go backwards, duplicates, gaps) is the hub's ingest.

use crate::messages::{
    Action, Command, CommandAck, EventMessage, EventState, IntervalRecord, LiveReading,
    PAYLOAD_VERSION, Registers, Status, StorageAck,
};
use crate::topics::TopicKind;
use joule_metrology::{MAX_PHASES, MAX_TARIFFS};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Largest payload accepted, bytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// How far in the future a meter's timestamp may be (clock skew), ms.
pub const MAX_FUTURE_MS: i64 = 5 * 60 * 1000;

/// How old a meter's message may be (a backlog replayed after a long outage), ms.
pub const MAX_AGE_MS: i64 = 400 * 24 * 3600 * 1000;

/// A message from a meter.
#[derive(Debug, Clone, PartialEq)]
pub enum Uplink {
    /// Online or offline.
    Status(Status),
    /// A live reading.
    Live(LiveReading),
    /// An interval record.
    Interval(IntervalRecord),
    /// An event.
    Event(EventMessage),
    /// A command acknowledgement.
    CommandAck(CommandAck),
}

impl Uplink {
    /// The sequence number (status messages have none).
    pub fn seq(&self) -> Option<u64> {
        match self {
            Self::Status(_) => None,
            Self::Live(m) => Some(m.seq),
            Self::Interval(m) => Some(m.seq),
            Self::Event(m) => Some(m.seq),
            Self::CommandAck(m) => Some(m.seq),
        }
    }
}

/// A message from the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum Downlink {
    /// A command.
    Command(Command),
    /// A storage acknowledgement.
    Stored(StorageAck),
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// Larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload of {0} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not JSON of the expected shape.
    #[error("payload does not match the schema: {0}")]
    Schema(String),
    /// A payload version this build does not read.
    #[error("payload version {0} is not supported (this build reads v{PAYLOAD_VERSION})")]
    Version(u32),
    /// A field is out of range.
    #[error("field `{field}` {reason}")]
    Invalid {
        /// The field (nested with dots).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The topic kind flows the other way.
    #[error("topic kind `{0}` is not sent in this direction")]
    Direction(&'static str),
}

impl DecodeError {
    /// A short stable name for counting rejects by reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Schema(_) => "schema",
            Self::Version(_) => "version",
            Self::Invalid { .. } => "invalid",
            Self::Direction(_) => "direction",
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> DecodeError {
    DecodeError::Invalid {
        field,
        reason: reason.into(),
    }
}

fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(DecodeError::TooLarge(payload.len()));
    }
    serde_json::from_slice(payload).map_err(|error| DecodeError::Schema(error.to_string()))
}

/// Encodes a message as JSON bytes.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    // Serialising these types cannot fail: no maps with non-string keys, no foreign types.
    serde_json::to_vec(message).unwrap_or_default()
}

/// Decodes and checks a meter's message from a topic of `kind`, against the receiver's
/// clock `now_ms` (Unix ms).
pub fn decode_uplink(kind: TopicKind, payload: &[u8], now_ms: i64) -> Result<Uplink, DecodeError> {
    let message = match kind {
        TopicKind::Status => Uplink::Status(match payload {
            b"online" => Status::Online,
            b"offline" => Status::Offline,
            _ => {
                return Err(DecodeError::Schema(
                    "status must be `online` or `offline`".into(),
                ));
            }
        }),
        TopicKind::Live => Uplink::Live(parse(payload)?),
        TopicKind::Interval => Uplink::Interval(parse(payload)?),
        TopicKind::Event => Uplink::Event(parse(payload)?),
        TopicKind::CommandAck => Uplink::CommandAck(parse(payload)?),
        TopicKind::Command | TopicKind::Stored => {
            return Err(DecodeError::Direction(kind.segment()));
        }
    };
    check_uplink(&message, now_ms)?;
    Ok(message)
}

/// Decodes and checks a hub message from a topic of `kind`, against the meter's clock.
pub fn decode_downlink(kind: TopicKind, payload: &[u8]) -> Result<Downlink, DecodeError> {
    let message = match kind {
        TopicKind::Command => Downlink::Command(parse(payload)?),
        TopicKind::Stored => Downlink::Stored(parse(payload)?),
        _ => return Err(DecodeError::Direction(kind.segment())),
    };
    match &message {
        Downlink::Command(command) => check_command(command)?,
        Downlink::Stored(ack) => version(ack.v)?,
    }
    Ok(message)
}

fn version(v: u32) -> Result<(), DecodeError> {
    if v == PAYLOAD_VERSION {
        Ok(())
    } else {
        Err(DecodeError::Version(v))
    }
}

fn header(v: u32, seq: u64, ts_ms: i64, now_ms: i64) -> Result<(), DecodeError> {
    version(v)?;
    if seq == 0 {
        return Err(invalid("seq", "must be at least 1"));
    }
    if ts_ms > now_ms + MAX_FUTURE_MS {
        return Err(invalid(
            "ts_ms",
            format!(
                "is {} s ahead of the receiver's clock",
                (ts_ms - now_ms) / 1000
            ),
        ));
    }
    if ts_ms < now_ms - MAX_AGE_MS {
        return Err(invalid("ts_ms", "is more than 400 days old"));
    }
    Ok(())
}

fn within(field: &'static str, value: f64, low: f64, high: f64) -> Result<(), DecodeError> {
    if value.is_finite() && value >= low && value <= high {
        Ok(())
    } else {
        Err(invalid(field, format!("must be within {low}..={high}")))
    }
}

fn check_registers(registers: &Registers) -> Result<(), DecodeError> {
    // mWh in an i64-safe range keeps every store (PostgreSQL BIGINT included) exact.
    let limit = i64::MAX as u64;
    let all = [
        registers.import_mwh,
        registers.export_mwh,
        registers.apparent_import_mvah,
        registers.apparent_export_mvah,
    ];
    if all
        .into_iter()
        .chain(registers.reactive_mvarh)
        .any(|value| value > limit)
    {
        return Err(invalid("registers", "exceed the storable range"));
    }
    Ok(())
}

fn check_power(
    prefix_v: &'static str,
    voltage_v: f64,
    current_a: f64,
    p_w: f64,
    q_var: f64,
    s_va: f64,
    pf: f64,
) -> Result<(), DecodeError> {
    within(prefix_v, voltage_v, 0.0, 1000.0)?;
    within("current_a", current_a, 0.0, 10_000.0)?;
    within("p_w", p_w, -10e6, 10e6)?;
    within("q_var", q_var, -10e6, 10e6)?;
    within("s_va", s_va, 0.0, 10e6)?;
    within("pf", pf, -1.0, 1.0)
}

fn check_uplink(message: &Uplink, now_ms: i64) -> Result<(), DecodeError> {
    match message {
        Uplink::Status(_) => Ok(()),
        Uplink::Live(m) => {
            header(m.v, m.seq, m.ts_ms, now_ms)?;
            check_power(
                "voltage_v",
                m.voltage_v,
                m.current_a,
                m.p_w,
                m.q_var,
                m.s_va,
                m.pf,
            )?;
            if let Some(freq_hz) = m.freq_hz {
                within("freq_hz", freq_hz, 40.0, 70.0)?;
            }
            if !(m.phases.is_empty() || m.phases.len() == MAX_PHASES) {
                return Err(invalid("phases", "must be absent or list three phases"));
            }
            for phase in &m.phases {
                check_power(
                    "phases.voltage_v",
                    phase.voltage_v,
                    phase.current_a,
                    phase.p_w,
                    phase.q_var,
                    phase.s_va,
                    phase.pf,
                )?;
            }
            if usize::from(m.tariff) >= MAX_TARIFFS {
                return Err(invalid("tariff", format!("must be below {MAX_TARIFFS}")));
            }
            check_registers(&m.registers)
        }
        Uplink::Interval(m) => {
            header(m.v, m.seq, m.ts_ms, now_ms)?;
            if m.interval_s == 0 || 86_400 % m.interval_s != 0 {
                return Err(invalid("interval_s", "must divide a day (e.g. 900)"));
            }
            if m.ts_ms % (i64::from(m.interval_s) * 1000) != 0 {
                return Err(invalid("ts_ms", "must be aligned to the interval"));
            }
            within("voltage_min_v", m.voltage_min_v, 0.0, 1000.0)?;
            within("voltage_max_v", m.voltage_max_v, m.voltage_min_v, 1000.0)?;
            within(
                "voltage_avg_v",
                m.voltage_avg_v,
                m.voltage_min_v,
                m.voltage_max_v,
            )?;
            if let Some(demand) = m.max_demand_w {
                within("max_demand_w", demand, 0.0, 10e6)?;
            }
            if m.tariffs
                .iter()
                .any(|t| usize::from(t.tariff) >= MAX_TARIFFS)
            {
                return Err(invalid(
                    "tariffs.tariff",
                    format!("must be below {MAX_TARIFFS}"),
                ));
            }
            check_registers(&m.registers)
        }
        Uplink::Event(m) => {
            header(m.v, m.seq, m.ts_ms, now_ms)?;
            if m.phase
                .is_some_and(|phase| phase == 0 || usize::from(phase) > MAX_PHASES)
            {
                return Err(invalid("phase", "must be 1, 2 or 3"));
            }
            if let Some(duration_s) = m.duration_s {
                within("duration_s", duration_s, 0.0, MAX_AGE_MS as f64 / 1000.0)?;
            }
            if let Some(extreme) = m.extreme {
                within("extreme", extreme, -10e6, 10e6)?;
            }
            if m.state == EventState::Ended && m.started_ms.is_some_and(|started| started > m.ts_ms)
            {
                return Err(invalid("started_ms", "is after the event's end"));
            }
            if m.detail.as_ref().is_some_and(|detail| detail.len() > 1024) {
                return Err(invalid("detail", "must be at most 1024 bytes"));
            }
            Ok(())
        }
        Uplink::CommandAck(m) => {
            header(m.v, m.seq, m.ts_ms, now_ms)?;
            if m.detail.as_ref().is_some_and(|detail| detail.len() > 1024) {
                return Err(invalid("detail", "must be at most 1024 bytes"));
            }
            Ok(())
        }
    }
}

fn check_command(command: &Command) -> Result<(), DecodeError> {
    version(command.v)?;
    if command
        .expires_ms
        .is_some_and(|expires| expires <= command.ts_ms)
    {
        return Err(invalid("expires_ms", "must be after ts_ms"));
    }
    match &command.action {
        Action::Disconnect { reason }
        | Action::Reconnect { reason }
        | Action::ArmReconnect { reason } => {
            if reason.trim().is_empty() {
                return Err(invalid("action.reason", "must say why"));
            }
        }
        Action::LoadLimit {
            limit_w: Some(limit_w),
            ..
        } => within("action.limit_w", *limit_w, 0.0, 10e6)?,
        Action::Calibrate {
            phase,
            v_scale,
            i_scale,
            i_delay_us,
        } => {
            if *phase == 0 || usize::from(*phase) > MAX_PHASES {
                return Err(invalid("action.phase", "must be 1, 2 or 3"));
            }
            within("action.v_scale", *v_scale, f64::MIN_POSITIVE, 1e6)?;
            within("action.i_scale", *i_scale, f64::MIN_POSITIVE, 1e6)?;
            within("action.i_delay_us", *i_delay_us, -10_000.0, 10_000.0)?;
        }
        Action::TariffSchedule { switches, .. } => {
            for switch in switches {
                if usize::from(switch.tariff) >= MAX_TARIFFS {
                    return Err(invalid(
                        "action.switches.tariff",
                        format!("must be below {MAX_TARIFFS}"),
                    ));
                }
                if !valid_hh_mm(&switch.start) {
                    return Err(invalid("action.switches.start", "must be HH:MM"));
                }
            }
        }
        Action::PriceSignal { prices, .. } => {
            if prices
                .iter()
                .any(|p| p.end_ms <= p.start_ms || !p.price_per_kwh.is_finite())
            {
                return Err(invalid(
                    "action.prices",
                    "need end after start and a finite price",
                ));
            }
        }
        Action::LoadLimit { limit_w: None, .. }
        | Action::TimeSync { .. }
        | Action::ResetMaxDemand => {}
    }
    Ok(())
}

/// Whether `text` is a local time `HH:MM` (00:00 to 23:59).
fn valid_hh_mm(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 5
        && bytes[2] == b':'
        && text[..2]
            .parse::<u8>()
            .is_ok_and(|h| h < 24 && bytes[0].is_ascii_digit())
        && text[3..]
            .parse::<u8>()
            .is_ok_and(|m| m < 60 && bytes[3].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000;

    fn live(extra: &str) -> String {
        format!(
            r#"{{"v":1,"seq":7,"ts_ms":{NOW},"voltage_v":230.1,"current_a":4.2,"p_w":950.0,"q_var":120.0,"s_va":966.4,"pf":0.983,"freq_hz":50.01,"registers":{{"import_mwh":1,"export_mwh":0,"reactive_mvarh":[0,0,0,0],"apparent_import_mvah":1,"apparent_export_mvah":0}},"tariff":0,"relay":"connected"{extra}}}"#
        )
    }

    #[test]
    fn a_valid_live_reading_decodes() {
        let message = decode_uplink(TopicKind::Live, live("").as_bytes(), NOW).expect("valid");
        assert_eq!(message.seq(), Some(7));
        // Unknown fields are ignored (forward compatible within v1).
        assert!(decode_uplink(TopicKind::Live, live(r#","new_field":1"#).as_bytes(), NOW).is_ok());
    }

    #[test]
    fn bad_payloads_are_refused_with_a_reason() {
        let cases: [(&[u8], &str); 6] = [
            (b"not json", "schema"),
            (b"{}", "schema"),
            (
                &live("").replace(r#""v":1"#, r#""v":2"#).into_bytes(),
                "version",
            ),
            (
                &live("")
                    .replace(r#""pf":0.983"#, r#""pf":1.5"#)
                    .into_bytes(),
                "invalid",
            ),
            (
                &live("").replace(r#""seq":7"#, r#""seq":0"#).into_bytes(),
                "invalid",
            ),
            (
                &live("")
                    .replace(r#""relay":"connected""#, r#""relay":"on""#)
                    .into_bytes(),
                "schema",
            ),
        ];
        for (payload, reason) in cases {
            let error = decode_uplink(TopicKind::Live, payload, NOW).expect_err("refused");
            assert_eq!(error.reason(), reason, "{error}");
        }
        let future = live("").replace(&NOW.to_string(), &(NOW + 3_600_000).to_string());
        let error = decode_uplink(TopicKind::Live, future.as_bytes(), NOW).expect_err("future");
        assert!(error.to_string().contains("ahead"), "{error}");
        let huge = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert_eq!(
            decode_uplink(TopicKind::Live, &huge, NOW)
                .expect_err("big")
                .reason(),
            "too_large"
        );
        assert_eq!(
            decode_uplink(TopicKind::Command, b"{}", NOW)
                .expect_err("dir")
                .reason(),
            "direction"
        );
        assert_eq!(
            decode_uplink(TopicKind::Status, b"maybe", NOW)
                .expect_err("status")
                .reason(),
            "schema"
        );
    }

    #[test]
    fn commands_need_a_reason_to_switch() {
        let command = |action: &str| format!(r#"{{"v":1,"id":3,"ts_ms":{NOW},"action":{action}}}"#);
        assert!(
            decode_downlink(
                TopicKind::Command,
                command(r#"{"type":"disconnect","reason":"non-payment"}"#).as_bytes()
            )
            .is_ok()
        );
        let error = decode_downlink(
            TopicKind::Command,
            command(r#"{"type":"disconnect","reason":" "}"#).as_bytes(),
        );
        assert!(matches!(
            error,
            Err(DecodeError::Invalid {
                field: "action.reason",
                ..
            })
        ));
        let schedule = r#"{"type":"tariff_schedule","timezone":"Europe/Amsterdam","switches":[{"days":"weekdays","start":"25:00","tariff":1}]}"#;
        assert!(decode_downlink(TopicKind::Command, command(schedule).as_bytes()).is_err());
    }

    #[test]
    fn hh_mm() {
        for good in ["00:00", "07:30", "23:59"] {
            assert!(valid_hh_mm(good), "{good}");
        }
        for bad in ["24:00", "7:30", "07:60", "+7:30", "07-30", "0730", "07:3x"] {
            assert!(!valid_hh_mm(bad), "{bad}");
        }
    }
}
