//! Which topics a meter may touch, for the brokers' access checks (the embedded broker's
//! hooks, the exported Mosquitto ACL): its own meter-published kinds and its own Home
//! Assistant discovery documents to publish, its own command and storage-ack topics to
//! subscribe. It sits beside the topic grammar (`topics`) and the discovery documents
//! (`ha`), reading both, so neither needs the other.

use crate::ha::is_own_discovery_topic;
use crate::topics::{MeterId, Topics};

impl Topics {
    /// Whether `meter` may publish to `topic`: only its own meter-published kinds, and its
    /// own Home Assistant discovery documents.
    pub fn meter_may_publish(&self, meter: &MeterId, topic: &str) -> bool {
        self.parse(topic)
            .is_ok_and(|t| t.meter == *meter && t.kind.from_meter())
            || is_own_discovery_topic(meter, topic)
    }

    /// Whether `meter` may subscribe to `filter`: only its own command and storage-ack
    /// topics, spelled out (no wildcards).
    pub fn meter_may_subscribe(&self, meter: &MeterId, filter: &str) -> bool {
        !filter.contains(['+', '#'])
            && self
                .parse(filter)
                .is_ok_and(|t| t.meter == *meter && !t.kind.from_meter())
    }
}
