//! What the outbox's messages go out as: each on its own topic, as always, or, once the hub
//! has said it reads batches (the `batch_max` of its storage acks), runs of consecutive live
//! readings and interval records as batch messages, so a backlog is not held to one MQTT
//! message per reading. Events and command acks always go alone, and so does a reading that
//! has no batchable neighbour: a meter keeping up sends single messages as before.
//!
//! Pure: the uplink hands in the numbered messages and publishes what comes back, in order.
//! Numbering is untouched; a message resent later may travel alone or in another batch with
//! the same number.

use crate::outbox::Numbered;
use joule_protocol::{BatchBuilder, TopicKind};

/// One MQTT message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// The topic kind: the message's own, or `batch`.
    pub kind: TopicKind,
    /// The payload.
    pub payload: Vec<u8>,
    /// The highest sequence number it carries (the last, since they go in order).
    pub last_seq: u64,
    /// How many outbox messages it carries.
    pub messages: usize,
}

impl Publish {
    fn single(message: Numbered) -> Self {
        Self {
            kind: message.kind,
            last_seq: message.seq,
            payload: message.payload,
            messages: 1,
        }
    }
}

/// The publishes for `messages` (in sequence order): with `batch_max` (the hub's word; `None`
/// when it has said nothing on this connection) every run of two or more live readings and
/// interval records goes in batches of up to `batch_max` items and the payload limit; all
/// else goes alone.
pub fn publishes(messages: Vec<Numbered>, batch_max: Option<usize>) -> Vec<Publish> {
    let batch_max = batch_max.filter(|max| *max >= 2);
    let mut out = Vec::new();
    let mut messages = messages.into_iter().peekable();
    while let Some(first) = messages.next() {
        let Some(max) = batch_max else {
            out.push(Publish::single(first));
            continue;
        };
        let mut batch = BatchBuilder::new(max);
        if !batch.push(first.kind, &first.payload) {
            out.push(Publish::single(first));
            continue;
        }
        let mut last_seq = first.seq;
        while let Some(next) = messages.peek() {
            if !batch.push(next.kind, &next.payload) {
                break;
            }
            last_seq = next.seq;
            messages.next();
        }
        if batch.len() == 1 {
            out.push(Publish::single(first));
        } else {
            out.push(Publish {
                kind: TopicKind::Batch,
                messages: batch.len(),
                payload: batch.finish(),
                last_seq,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64, kind: TopicKind) -> Numbered {
        Numbered {
            seq,
            kind,
            payload: format!(r#"{{"v":1,"seq":{seq},"note":"{}"}}"#, "x".repeat(200)).into_bytes(),
        }
    }

    /// (kind, first seq, last seq) of each publish.
    fn shape(publishes: &[Publish]) -> Vec<(&'static str, u64, u64)> {
        publishes
            .iter()
            .map(|p| {
                let first = p.last_seq + 1 - p.messages as u64;
                (p.kind.segment(), first, p.last_seq)
            })
            .collect()
    }

    fn run() -> Vec<Numbered> {
        let kinds = [
            TopicKind::Live,
            TopicKind::Interval,
            TopicKind::Live,
            TopicKind::Event,
            TopicKind::Live,
            TopicKind::CommandAck,
            TopicKind::Live,
            TopicKind::Live,
            TopicKind::Live,
            TopicKind::Live,
            TopicKind::Live,
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(k, kind)| message(k as u64 + 1, kind))
            .collect()
    }

    #[test]
    fn without_the_hubs_word_everything_goes_alone() {
        let out = publishes(run(), None);
        assert_eq!(out.len(), 11);
        assert!(
            out.iter()
                .all(|p| p.messages == 1 && p.kind != TopicKind::Batch)
        );
        assert_eq!(out[3].kind, TopicKind::Event);
        assert_eq!(
            publishes(run(), Some(1)).len(),
            11,
            "a batch of one is none"
        );
    }

    #[test]
    fn runs_of_readings_and_records_go_in_batches_events_and_acks_alone() {
        let out = publishes(run(), Some(3));
        assert_eq!(
            shape(&out),
            [
                ("batch", 1, 3),
                ("event", 4, 4),
                ("live", 5, 5),
                ("ack", 6, 6),
                ("batch", 7, 9),
                ("batch", 10, 11),
            ]
        );
        let batch: serde_json::Value = serde_json::from_slice(&out[0].payload).expect("JSON");
        assert_eq!(batch["v"], 2);
        assert_eq!(batch["items"][1]["kind"], "interval");
        assert_eq!(batch["items"][1]["seq"], 2);
    }

    #[test]
    fn a_batch_closes_at_the_payload_limit() {
        let messages: Vec<Numbered> = (1..=1000)
            .map(|seq| message(seq, TopicKind::Live))
            .collect();
        let out = publishes(messages, Some(500));
        assert!(out.len() > 2, "{} publishes", out.len());
        assert!(
            out.iter()
                .all(|p| p.payload.len() <= joule_protocol::MAX_PAYLOAD_BYTES)
        );
        assert_eq!(out.iter().map(|p| p.messages).sum::<usize>(), 1000);
        assert_eq!(out.last().map(|p| p.last_seq), Some(1000));
    }
}
