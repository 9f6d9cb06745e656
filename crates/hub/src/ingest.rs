//! Ingest: from an MQTT message to something to store, or a dead letter with a reason.
//!
//! Everything a single message can show is checked by the protocol crate (schema, version,
//! ranges, timestamps); here the hub adds what needs history: registers must never go
//! backwards. A refusal never panics, is counted by reason, logged at most once per meter
//! per minute, and kept as a dead letter; it changes nothing else, except that a final
//! refusal of a numbered message settles its sequence number (see [`Stored::Refused`]).
//! A batch is judged item by item, in order, each exactly as the single message it stands
//! for: one outcome per item.

use crate::telemetry::{MessageRefused, MessagesAccepted, UplinkBatchReceived};
use joule_protocol::{
    BatchItem, DecodeError, MAX_PAYLOAD_BYTES, MeterId, RefusedItem, Registers, Status, TopicKind,
    Topics, Uplink, decode_uplink, encode,
};
use joule_store::{DeadLetter, Stored};
use std::collections::{BTreeMap, HashMap};

/// What became of one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// To be stored.
    Accept(MeterId, Stored),
    /// A status change (not stored in the batch; the caller tracks presence).
    Status(MeterId, Status),
    /// Refused; keep it as a dead letter.
    Reject(DeadLetter),
}

/// The sequence number of a meter's message that failed to decode, when the refusal is
/// final: any error but an unknown payload version (a newer meter, which a hub upgrade will
/// understand, so it must keep resending) on a `numbered` message (a batch's items are; a
/// batch's envelope and status messages are not).
fn final_refusal_seq(numbered: bool, error: &DecodeError, payload: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Numbered {
        seq: u64,
    }
    if !numbered || matches!(error, DecodeError::Version(_)) {
        return None;
    }
    serde_json::from_slice::<Numbered>(payload)
        .ok()
        .map(|numbered| numbered.seq)
}

/// Counts of what ingest did, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestCounts {
    /// Messages accepted.
    pub accepted: u64,
    /// Messages refused, by stable reason.
    pub rejected: BTreeMap<&'static str, u64>,
}

/// The latest registers seen from a meter, with their time.
#[derive(Debug, Clone, Copy)]
struct LastRegisters {
    ts_ms: i64,
    import_mwh: u64,
    export_mwh: u64,
}

/// The ingest checks, with the little state they need.
#[derive(Debug)]
pub struct Ingest {
    topics: Topics,
    last_registers: HashMap<MeterId, LastRegisters>,
    last_log_ms: HashMap<String, i64>,
    counts: IngestCounts,
}

impl Ingest {
    /// Ingest for topics under `topics`.
    pub fn new(topics: Topics) -> Self {
        Self {
            topics,
            last_registers: HashMap::new(),
            last_log_ms: HashMap::new(),
            counts: IngestCounts::default(),
        }
    }

    /// What has been counted so far.
    pub fn counts(&self) -> &IngestCounts {
        &self.counts
    }

    /// Tells ingest a meter's latest stored registers (after a restart), so a regression
    /// against what was stored before is caught too.
    pub fn seed(&mut self, meter: MeterId, ts_ms: i64, registers: &Registers) {
        self.last_registers.insert(
            meter,
            LastRegisters {
                ts_ms,
                import_mwh: registers.import_mwh,
                export_mwh: registers.export_mwh,
            },
        );
    }

    /// Judges one MQTT message received at `now_ms`: one outcome, or one per item of a
    /// batch whose envelope is sound.
    pub fn accept(&mut self, topic: &str, payload: &[u8], now_ms: i64) -> Vec<Outcome> {
        let parsed = match self.topics.parse(topic) {
            Ok(parsed) => parsed,
            Err(error) => {
                let refusal = Refusal::new(topic, None, "topic", error.to_string());
                return vec![self.reject(refusal, payload, now_ms)];
            }
        };
        let meter = parsed.meter;
        let message = match decode_uplink(parsed.kind, payload, now_ms) {
            Ok(message) => message,
            Err(error) => {
                let numbered = matches!(
                    parsed.kind,
                    TopicKind::Live
                        | TopicKind::Interval
                        | TopicKind::Event
                        | TopicKind::CommandAck
                );
                let refusal = Refusal::new(topic, Some(&meter), error.reason(), error.to_string())
                    .settling(final_refusal_seq(numbered, &error, payload));
                return vec![self.reject(refusal, payload, now_ms)];
            }
        };
        let stored = match message {
            Uplink::Status(status) => return vec![Outcome::Status(meter, status)],
            Uplink::Batch(items) => {
                UplinkBatchReceived { items: items.len() }.emit();
                let accepted_before = self.counts.accepted;
                let outcomes = items
                    .into_iter()
                    .map(|item| self.item(topic, &meter, item, now_ms))
                    .collect();
                MessagesAccepted {
                    messages: self.counts.accepted - accepted_before,
                }
                .emit();
                return outcomes;
            }
            Uplink::Live(reading) => Stored::Live(reading),
            Uplink::Interval(record) => Stored::Interval(record),
            Uplink::Event(event) => Stored::Event(event),
            Uplink::CommandAck(ack) => Stored::CommandAck(ack),
        };
        let outcome = self.judge(topic, meter, stored, Some(payload), now_ms);
        if matches!(outcome, Outcome::Accept(..)) {
            MessagesAccepted { messages: 1 }.emit();
        }
        vec![outcome]
    }

    /// Judges one item of a batch as the single message it stands for.
    fn item(
        &mut self,
        topic: &str,
        meter: &MeterId,
        item: Result<BatchItem, RefusedItem>,
        now_ms: i64,
    ) -> Outcome {
        match item {
            Ok(BatchItem::Live(reading)) => {
                self.judge(topic, meter.clone(), Stored::Live(reading), None, now_ms)
            }
            Ok(BatchItem::Interval(record)) => {
                self.judge(topic, meter.clone(), Stored::Interval(record), None, now_ms)
            }
            Err(RefusedItem { error, payload }) => {
                let refusal = Refusal::new(topic, Some(meter), error.reason(), error.to_string())
                    .settling(final_refusal_seq(true, &error, &payload));
                self.reject(refusal, &payload, now_ms)
            }
        }
    }

    /// Accepts a decoded message (counted by the caller) unless its registers went
    /// backwards. If they did, the
    /// dead letter keeps the payload `received`, or for a batch item (whose bytes are not
    /// kept once it decoded) the item encoded again.
    fn judge(
        &mut self,
        topic: &str,
        meter: MeterId,
        stored: Stored,
        received: Option<&[u8]>,
        now_ms: i64,
    ) -> Outcome {
        let registers = match &stored {
            Stored::Live(reading) => Some((reading.ts_ms, reading.registers)),
            Stored::Interval(record) => Some((record.ts_ms, record.registers)),
            _ => None,
        };
        if let Some((ts_ms, registers)) = registers
            && let Err(detail) = self.check_registers(&meter, ts_ms, &registers)
        {
            let json = received.map_or_else(
                || match &stored {
                    Stored::Live(reading) => encode(reading),
                    Stored::Interval(record) => encode(record),
                    _ => Vec::new(),
                },
                <[u8]>::to_vec,
            );
            let refusal = Refusal::new(topic, Some(&meter), "regression", detail)
                .settling(Some(stored.seq()));
            return self.reject(refusal, &json, now_ms);
        }
        self.counts.accepted += 1;
        Outcome::Accept(meter, stored)
    }

    /// Registers must not go backwards: a message newer than the latest seen must not show
    /// less energy. (An older one, replayed from an outbox, is judged by the store's dedup.)
    fn check_registers(
        &mut self,
        meter: &MeterId,
        ts_ms: i64,
        registers: &Registers,
    ) -> Result<(), String> {
        let last = self.last_registers.get(meter).copied();
        if let Some(last) = last {
            if ts_ms < last.ts_ms {
                return Ok(());
            }
            if registers.import_mwh < last.import_mwh || registers.export_mwh < last.export_mwh {
                return Err(format!(
                    "registers went backwards: import {} -> {} mWh, export {} -> {} mWh",
                    last.import_mwh, registers.import_mwh, last.export_mwh, registers.export_mwh
                ));
            }
        }
        self.seed(meter.clone(), ts_ms, registers);
        Ok(())
    }

    fn reject(&mut self, refusal: Refusal<'_>, payload: &[u8], now_ms: i64) -> Outcome {
        let Refusal {
            topic,
            meter,
            reason,
            detail,
            seq,
        } = refusal;
        *self.counts.rejected.entry(reason).or_default() += 1;
        let key = meter.map_or_else(|| topic.to_owned(), ToString::to_string);
        let last = self.last_log_ms.get(&key).copied();
        let log = last.is_none_or(|last| now_ms - last >= 60_000);
        if log {
            self.last_log_ms.insert(key, now_ms);
        }
        MessageRefused {
            topic,
            reason,
            detail: &detail,
        }
        .emit(log);
        Outcome::Reject(DeadLetter {
            received_ms: now_ms,
            topic: topic.to_owned(),
            meter: meter.map(ToString::to_string),
            reason: reason.to_owned(),
            seq,
            detail,
            payload: payload[..payload.len().min(MAX_PAYLOAD_BYTES)].to_vec(),
        })
    }
}

/// Why a message is refused, before it becomes a dead letter.
struct Refusal<'a> {
    topic: &'a str,
    meter: Option<&'a MeterId>,
    reason: &'static str,
    detail: String,
    seq: Option<u64>,
}

impl<'a> Refusal<'a> {
    fn new(
        topic: &'a str,
        meter: Option<&'a MeterId>,
        reason: &'static str,
        detail: String,
    ) -> Self {
        Self {
            topic,
            meter,
            reason,
            detail,
            seq: None,
        }
    }

    /// Settles `seq` with the refusal (see [`Stored::Refused`]).
    fn settling(self, seq: Option<u64>) -> Self {
        Self { seq, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000;

    fn live(seq: u64, ts_ms: i64, import_mwh: u64) -> String {
        format!(
            r#"{{"v":1,"seq":{seq},"ts_ms":{ts_ms},"voltage_v":230,"current_a":1,"p_w":230,"q_var":0,"s_va":230,"pf":1,"registers":{{"import_mwh":{import_mwh},"export_mwh":0,"reactive_mvarh":[0,0,0,0],"apparent_import_mvah":0,"apparent_export_mvah":0}},"tariff":0,"relay":"connected"}}"#
        )
    }

    /// The one outcome of a single message.
    fn one(ingest: &mut Ingest, topic: &str, payload: &[u8], now_ms: i64) -> Outcome {
        let mut outcomes = ingest.accept(topic, payload, now_ms);
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        outcomes.remove(0)
    }

    #[test]
    fn accepts_rejects_and_counts() {
        let mut ingest = Ingest::new(Topics::default());
        let topic = "joule/v1/meters/m-1/live";
        assert!(matches!(
            one(&mut ingest, topic, live(1, NOW, 100).as_bytes(), NOW),
            Outcome::Accept(..)
        ));
        assert!(matches!(
            one(&mut ingest, topic, live(2, NOW + 1000, 150).as_bytes(), NOW),
            Outcome::Accept(..)
        ));
        // Newer but less energy: refused.
        let Outcome::Reject(letter) =
            one(&mut ingest, topic, live(3, NOW + 2000, 120).as_bytes(), NOW)
        else {
            panic!("a regression must be refused");
        };
        assert_eq!(letter.reason, "regression");
        assert_eq!(
            letter.settlement(),
            Some((
                MeterId::new("m-1").unwrap(),
                Stored::Refused {
                    seq: 3,
                    received_ms: NOW
                }
            )),
            "a final refusal settles its number"
        );
        // An older message replayed from an outbox is not a regression.
        assert!(matches!(
            one(&mut ingest, topic, live(1, NOW, 100).as_bytes(), NOW),
            Outcome::Accept(..)
        ));
        assert!(matches!(
            one(&mut ingest, "joule/v1/meters/m-1/cmd", b"{}", NOW),
            Outcome::Reject(_)
        ));
        assert!(matches!(
            one(&mut ingest, "elsewhere/x", b"{}", NOW),
            Outcome::Reject(_)
        ));
        assert!(matches!(
            one(&mut ingest, topic, b"{", NOW),
            Outcome::Reject(DeadLetter { seq: None, .. })
        ));
        // Out of range but numbered: refused for good, so settled.
        let wild = live(4, NOW + 3000, 200).replace(r#""voltage_v":230"#, r#""voltage_v":-5"#);
        assert!(matches!(
            one(&mut ingest, topic, wild.as_bytes(), NOW),
            Outcome::Reject(DeadLetter { seq: Some(4), .. })
        ));
        // A newer payload version is not settled: a hub upgrade will read it.
        let newer = live(5, NOW + 4000, 200).replace(r#""v":1"#, r#""v":9"#);
        assert!(matches!(
            one(&mut ingest, topic, newer.as_bytes(), NOW),
            Outcome::Reject(DeadLetter { seq: None, .. })
        ));
        assert!(matches!(
            one(&mut ingest, "joule/v1/meters/m-1/status", b"offline", NOW),
            Outcome::Status(_, Status::Offline)
        ));
        let counts = ingest.counts();
        assert_eq!(counts.accepted, 3);
        assert_eq!(counts.rejected.get("regression"), Some(&1));
        assert_eq!(counts.rejected.get("direction"), Some(&1));
        assert_eq!(counts.rejected.get("topic"), Some(&1));
        assert_eq!(counts.rejected.get("schema"), Some(&1));
        assert_eq!(counts.rejected.get("invalid"), Some(&1));
        assert_eq!(counts.rejected.get("version"), Some(&1));
    }

    #[test]
    fn a_batch_is_judged_item_by_item_in_order() {
        let mut ingest = Ingest::new(Topics::default());
        let mut batch = joule_protocol::BatchBuilder::new(10);
        let wild = live(3, NOW + 2000, 160).replace(r#""pf":1"#, r#""pf":7"#);
        let newer = live(5, NOW + 4000, 180).replace(r#""v":1"#, r#""v":9"#);
        for item in [
            live(1, NOW, 100),
            live(2, NOW + 1000, 150),
            wild,
            live(4, NOW + 3000, 120),
            newer,
            live(6, NOW + 5000, 200),
        ] {
            assert!(batch.push(TopicKind::Live, item.as_bytes()));
        }
        let topic = "joule/v1/meters/m-1/batch";
        let outcomes = ingest.accept(topic, &batch.finish(), NOW);
        let verdicts: Vec<(&str, Option<u64>)> = outcomes
            .iter()
            .map(|outcome| match outcome {
                Outcome::Accept(_, stored) => ("stored", Some(stored.seq())),
                Outcome::Reject(letter) => (letter.reason.as_str(), letter.seq),
                Outcome::Status(..) => ("status", None),
            })
            .collect();
        assert_eq!(
            verdicts,
            [
                ("stored", Some(1)),
                ("stored", Some(2)),
                ("invalid", Some(3)),
                ("regression", Some(4)),
                ("version", None),
                ("stored", Some(6)),
            ],
            "each item as its single message would be; a newer version is not settled"
        );
        let Outcome::Reject(letter) = &outcomes[3] else {
            panic!("a regression");
        };
        assert_eq!(letter.topic, topic);
        let kept: serde_json::Value = serde_json::from_slice(&letter.payload).expect("JSON");
        assert_eq!(kept["seq"], 4, "the item is kept, not the batch");
        assert!(matches!(
            one(&mut ingest, topic, br#"{"v":2,"items":[]}"#, NOW),
            Outcome::Reject(DeadLetter { seq: None, .. })
        ));
        let counts = ingest.counts();
        assert_eq!(counts.accepted, 3);
        assert_eq!(counts.rejected.get("invalid"), Some(&2));
    }
}
