//! Decoding payloads: bytes from a topic become a typed message, or a [`DecodeError`]
//! that names what is wrong and counts under a stable reason. Every message is checked
//! (`check`) before it is handed out; a batch's items are decoded and checked one by one,
//! as the single messages they stand for, so one bad item refuses only itself.

use crate::batch::{BatchItem, RefusedItem};
use crate::check;
use crate::error::{DecodeError, MAX_PAYLOAD_BYTES, invalid};
use crate::messages::{
    BATCH_VERSION, Command, CommandAck, EventMessage, IntervalRecord, LiveReading, Status,
    StorageAck,
};
use crate::topics::TopicKind;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A message from a meter.
#[derive(Debug, Clone, PartialEq)]
pub enum Uplink {
    /// Online or offline.
    Status(Status),
    /// A live reading.
    Live(LiveReading),
    /// An interval record.
    Interval(IntervalRecord),
    /// A batch of live readings and interval records, each item checked on its own.
    Batch(Vec<Result<BatchItem, RefusedItem>>),
    /// An event.
    Event(EventMessage),
    /// A command acknowledgement.
    CommandAck(CommandAck),
}

impl Uplink {
    /// The sequence number (status messages and batches have none of their own).
    pub fn seq(&self) -> Option<u64> {
        match self {
            Self::Status(_) | Self::Batch(_) => None,
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

fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, DecodeError> {
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
/// clock `now_ms` (Unix ms). A batch is refused as a whole only when its envelope is
/// wrong (size, shape, version, no items); otherwise each item carries its own verdict.
pub fn decode_uplink(kind: TopicKind, payload: &[u8], now_ms: i64) -> Result<Uplink, DecodeError> {
    match kind {
        TopicKind::Status => match payload {
            b"online" => Ok(Uplink::Status(Status::Online)),
            b"offline" => Ok(Uplink::Status(Status::Offline)),
            _ => Err(DecodeError::Schema(
                "status must be `online` or `offline`".into(),
            )),
        },
        TopicKind::Live => {
            let reading = parse(payload)?;
            check::live(&reading, now_ms)?;
            Ok(Uplink::Live(reading))
        }
        TopicKind::Interval => {
            let record = parse(payload)?;
            check::interval(&record, now_ms)?;
            Ok(Uplink::Interval(record))
        }
        TopicKind::Batch => decode_batch(payload, now_ms).map(Uplink::Batch),
        TopicKind::Event => {
            let event = parse(payload)?;
            check::event(&event, now_ms)?;
            Ok(Uplink::Event(event))
        }
        TopicKind::CommandAck => {
            let ack = parse(payload)?;
            check::command_ack(&ack, now_ms)?;
            Ok(Uplink::CommandAck(ack))
        }
        TopicKind::Command | TopicKind::Stored => Err(DecodeError::Direction(kind.segment())),
    }
}

/// The envelope of a batch; its items are decoded one by one.
#[derive(Deserialize)]
struct Envelope<'a> {
    v: u32,
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

/// The kinds a batch item may be.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ItemKind {
    Live,
    Interval,
}

/// What a batch item is, read before the item itself.
#[derive(Deserialize)]
struct Tagged {
    kind: ItemKind,
}

fn decode_batch(
    payload: &[u8],
    now_ms: i64,
) -> Result<Vec<Result<BatchItem, RefusedItem>>, DecodeError> {
    let envelope: Envelope<'_> = parse(payload)?;
    if envelope.v != BATCH_VERSION {
        return Err(DecodeError::Version(envelope.v));
    }
    if envelope.items.is_empty() {
        return Err(invalid("items", "must hold at least one item"));
    }
    Ok(envelope
        .items
        .into_iter()
        .map(|raw| {
            let item = raw.get().as_bytes();
            decode_item(item, now_ms).map_err(|error| RefusedItem {
                error,
                payload: item.to_vec(),
            })
        })
        .collect())
}

/// What a batch item is: read from its first bytes when it begins as meters write items
/// (`kind` first), which saves reading it twice; else from the object.
fn item_kind(item: &[u8]) -> Result<ItemKind, DecodeError> {
    if item.starts_with(br#"{"kind":"live","#) {
        Ok(ItemKind::Live)
    } else if item.starts_with(br#"{"kind":"interval","#) {
        Ok(ItemKind::Interval)
    } else {
        parse::<Tagged>(item).map(|tagged| tagged.kind)
    }
}

/// One batch item, decoded and checked as the single message of its kind.
fn decode_item(item: &[u8], now_ms: i64) -> Result<BatchItem, DecodeError> {
    Ok(match item_kind(item)? {
        ItemKind::Live => {
            let reading = parse(item)?;
            check::live(&reading, now_ms)?;
            BatchItem::Live(reading)
        }
        ItemKind::Interval => {
            let record = parse(item)?;
            check::interval(&record, now_ms)?;
            BatchItem::Interval(record)
        }
    })
}

/// Decodes and checks a hub message from a topic of `kind`, against the meter's clock.
pub fn decode_downlink(kind: TopicKind, payload: &[u8]) -> Result<Downlink, DecodeError> {
    match kind {
        TopicKind::Command => {
            let command = parse(payload)?;
            check::command(&command)?;
            Ok(Downlink::Command(command))
        }
        TopicKind::Stored => {
            let ack: StorageAck = parse(payload)?;
            check::version(ack.v)?;
            Ok(Downlink::Stored(ack))
        }
        _ => Err(DecodeError::Direction(kind.segment())),
    }
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
}
