//! Batches: a meter catching up (after an outage, on its first connection) sends many live
//! readings and interval records in one message instead of one message each, so its
//! backlog is not held to the broker's message rate.
//!
//! A batch is an envelope, `{"v": 2, "items": [...]}`, whose items are the v1 payloads of
//! single live readings and interval records with their `kind` added; each keeps its own
//! `v`, `seq` and `ts_ms` and is checked exactly as the single message would be, so one bad
//! item is refused on its own. Events and command acknowledgements are rare and urgent:
//! they stay single messages. A meter sends batches only to a hub that says it reads them
//! (the `batch_max` of its storage acknowledgements) and closes each batch at `batch_max`
//! items or at [`MAX_PAYLOAD_BYTES`], whichever comes first.

use crate::error::{DecodeError, MAX_PAYLOAD_BYTES};
use crate::messages::{BATCH_VERSION, IntervalRecord, LiveReading};
use crate::topics::TopicKind;

/// One item of a batch that passed the checks of its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchItem {
    /// A live reading.
    Live(LiveReading),
    /// An interval record.
    Interval(IntervalRecord),
}

/// One item of a batch refused on its own: why, and the item as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedItem {
    /// Why it was refused.
    pub error: DecodeError,
    /// The item's JSON as received.
    pub payload: Vec<u8>,
}

/// Fills one batch payload from the JSON of single messages (as a meter's outbox holds
/// them), byte for byte: each item is its message's JSON object with `kind` put first.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    payload: Vec<u8>,
    items: usize,
    max_items: usize,
}

/// What closes the envelope.
const CLOSE: &[u8] = b"]}";

impl BatchBuilder {
    /// An empty batch that takes at most `max_items` items.
    pub fn new(max_items: usize) -> Self {
        Self {
            payload: format!("{{\"v\":{BATCH_VERSION},\"items\":[").into_bytes(),
            items: 0,
            max_items,
        }
    }

    /// Adds `message`, the JSON object of a single message of `kind`, as the next item.
    /// Returns false, adding nothing, when `kind` does not travel in batches, `message` is
    /// not a JSON object, or the batch is full (`max_items` items, or the item would take
    /// the payload past [`MAX_PAYLOAD_BYTES`]).
    pub fn push(&mut self, kind: TopicKind, message: &[u8]) -> bool {
        if !kind.in_batches() || self.items >= self.max_items {
            return false;
        }
        let Some(members) = message.trim_ascii().strip_prefix(b"{") else {
            return false;
        };
        let tag = format!("{{\"kind\":\"{}\"", kind.segment());
        let empty = members.trim_ascii_start().starts_with(b"}");
        let separator = usize::from(self.items > 0);
        let item_len = tag.len() + usize::from(!empty) + members.len();
        if self.payload.len() + separator + item_len + CLOSE.len() > MAX_PAYLOAD_BYTES {
            return false;
        }
        if separator == 1 {
            self.payload.push(b',');
        }
        self.payload.extend_from_slice(tag.as_bytes());
        if !empty {
            self.payload.push(b',');
        }
        self.payload.extend_from_slice(members);
        self.items += 1;
        true
    }

    /// Items added so far.
    pub fn len(&self) -> usize {
        self.items
    }

    /// Whether no item was added.
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The finished payload.
    pub fn finish(mut self) -> Vec<u8> {
        self.payload.extend_from_slice(CLOSE);
        self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_objects_of_batched_kinds_go_in_and_never_past_the_item_limit() {
        let mut batch = BatchBuilder::new(2);
        assert!(!batch.push(TopicKind::Event, b"{\"v\":1}"));
        assert!(!batch.push(TopicKind::Live, b"[1]"));
        assert!(batch.is_empty());
        assert!(batch.push(TopicKind::Live, b" {\"v\":1,\"seq\":4} "));
        assert!(batch.push(TopicKind::Interval, b"{}"));
        assert!(!batch.push(TopicKind::Live, b"{\"v\":1}"));
        assert_eq!(batch.len(), 2);
        assert_eq!(
            String::from_utf8(batch.finish()).expect("UTF-8"),
            r#"{"v":2,"items":[{"kind":"live","v":1,"seq":4},{"kind":"interval"}]}"#
        );
    }
}
