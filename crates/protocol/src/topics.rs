//! MQTT topic names: building them, parsing them, and deciding what a meter may touch.
//!
//! Every topic of a meter lives under `{prefix}/v1/meters/{meter_id}/`, so a broker ACL of
//! one pattern per direction confines a meter to itself, and the version in the path lets a
//! v2 contract run beside v1 during an upgrade.

use core::fmt;

/// The default topic prefix.
pub const DEFAULT_PREFIX: &str = "joule";

/// The version segment of every topic.
pub const TOPIC_VERSION: &str = "v1";

/// Longest meter id accepted, in bytes.
pub const MAX_METER_ID_LEN: usize = 64;

/// What a topic carries, and who publishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// Meter → hub, retained: `online` or `offline` (the MQTT last will).
    Status,
    /// Meter → hub: live readings, about every second.
    Live,
    /// Meter → hub: interval records (register snapshots every 15 minutes).
    Interval,
    /// Meter → hub: live readings and interval records many to a message (a backlog, to a
    /// hub that said it reads batches).
    Batch,
    /// Meter → hub: events (tamper, power quality, relay, power up/down, alarms).
    Event,
    /// Meter → hub: acknowledgements of commands.
    CommandAck,
    /// Hub → meter: commands.
    Command,
    /// Hub → meter: the highest sequence number stored durably.
    Stored,
}

impl TopicKind {
    /// Every kind, in documentation order.
    pub const ALL: [Self; 8] = [
        Self::Status,
        Self::Live,
        Self::Interval,
        Self::Batch,
        Self::Event,
        Self::CommandAck,
        Self::Command,
        Self::Stored,
    ];

    /// The last path segment.
    pub const fn segment(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Live => "live",
            Self::Interval => "interval",
            Self::Batch => "batch",
            Self::Event => "event",
            Self::CommandAck => "ack",
            Self::Command => "cmd",
            Self::Stored => "stored",
        }
    }

    /// Whether the meter publishes this kind (otherwise the hub does).
    pub const fn from_meter(self) -> bool {
        !matches!(self, Self::Command | Self::Stored)
    }

    /// Whether messages of this kind may travel as items of a batch.
    pub const fn in_batches(self) -> bool {
        matches!(self, Self::Live | Self::Interval)
    }

    /// The kind whose last path segment is `segment`.
    pub fn from_segment(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.segment() == segment)
    }
}

/// A meter id: 1 to 64 characters of ASCII letters, digits, `-`, `_` and `.`, so it can
/// stand in a topic (no `/`, `+` or `#`), a URL and a file name as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct MeterId(String);

impl<'de> serde::Deserialize<'de> for MeterId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        Self::new(&id).map_err(serde::de::Error::custom)
    }
}

impl MeterId {
    /// Checks and wraps a meter id.
    pub fn new(id: &str) -> Result<Self, TopicError> {
        let valid = !id.is_empty()
            && id.len() <= MAX_METER_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && id != "."
            && id != "..";
        if valid {
            Ok(Self(id.to_owned()))
        } else {
            Err(TopicError::MeterId(id.to_owned()))
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MeterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A parsed meter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterTopic {
    /// The meter.
    pub meter: MeterId,
    /// What the topic carries.
    pub kind: TopicKind,
}

/// Why a topic is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The topic does not have the `{prefix}/v1/meters/{id}/{kind}` shape.
    #[error("topic `{0}` is not {{prefix}}/v1/meters/{{meter_id}}/{{kind}}")]
    Shape(String),
    /// The version segment is not one this build speaks.
    #[error("topic `{0}` has protocol version `{1}`; this hub speaks v1")]
    Version(String, String),
    /// The last segment is not a known kind.
    #[error("topic `{0}` ends in an unknown kind")]
    Kind(String),
    /// The meter id has characters or a length a topic cannot carry.
    #[error("meter id `{0}` must be 1-64 characters of letters, digits, '-', '_' and '.'")]
    MeterId(String),
}

/// Builds and parses the topics under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self::new(DEFAULT_PREFIX)
    }
}

impl Topics {
    /// Topics under `prefix` (a topic path without wildcards, e.g. `joule` or `site/joule`).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The topic of one kind for one meter.
    pub fn topic(&self, meter: &MeterId, kind: TopicKind) -> String {
        format!(
            "{}/{TOPIC_VERSION}/meters/{meter}/{}",
            self.prefix,
            kind.segment()
        )
    }

    /// The filter that matches one kind for every meter (for the hub's subscriptions).
    pub fn all_meters(&self, kind: TopicKind) -> String {
        format!(
            "{}/{TOPIC_VERSION}/meters/+/{}",
            self.prefix,
            kind.segment()
        )
    }

    /// Parses a topic under this prefix.
    pub fn parse(&self, topic: &str) -> Result<MeterTopic, TopicError> {
        let shape = || TopicError::Shape(topic.to_owned());
        let rest = topic
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(shape)?;
        let mut segments = rest.split('/');
        let (Some(version), Some("meters"), Some(id), Some(kind), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(shape());
        };
        if version != TOPIC_VERSION {
            return Err(TopicError::Version(topic.to_owned(), version.to_owned()));
        }
        let meter = MeterId::new(id)?;
        let kind =
            TopicKind::from_segment(kind).ok_or_else(|| TopicError::Kind(topic.to_owned()))?;
        Ok(MeterTopic { meter, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> MeterId {
        MeterId::new(s).expect("valid id")
    }

    #[test]
    fn topics_round_trip() {
        let topics = Topics::default();
        for kind in TopicKind::ALL {
            let topic = topics.topic(&id("m-0001"), kind);
            assert_eq!(
                topics.parse(&topic),
                Ok(MeterTopic {
                    meter: id("m-0001"),
                    kind
                })
            );
        }
        assert_eq!(
            topics.topic(&id("m-1"), TopicKind::Live),
            "joule/v1/meters/m-1/live"
        );
        assert_eq!(
            topics.all_meters(TopicKind::Event),
            "joule/v1/meters/+/event"
        );
    }

    #[test]
    fn foreign_and_malformed_topics_are_refused() {
        let topics = Topics::new("site/joule/");
        assert!(matches!(
            topics.parse("joule/v1/meters/a/live"),
            Err(TopicError::Shape(_))
        ));
        assert!(matches!(
            topics.parse("site/joule/v2/meters/a/live"),
            Err(TopicError::Version(_, v)) if v == "v2"
        ));
        assert!(matches!(
            topics.parse("site/joule/v1/meters/a/b/live"),
            Err(TopicError::Shape(_))
        ));
        assert!(matches!(
            topics.parse("site/joule/v1/meters/a/what"),
            Err(TopicError::Kind(_))
        ));
        assert!(matches!(
            topics.parse("site/joule/v1/meters/+/live"),
            Err(TopicError::MeterId(_))
        ));
        for bad in ["", "a/b", "a+b", "#", "..", &"x".repeat(65)] {
            assert!(MeterId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_meter_reaches_only_its_own_topics() {
        let topics = Topics::default();
        let (me, other) = (id("m-1"), id("m-2"));
        assert!(topics.meter_may_publish(&me, "joule/v1/meters/m-1/live"));
        assert!(topics.meter_may_publish(&me, "joule/v1/meters/m-1/status"));
        assert!(topics.meter_may_publish(&me, "joule/v1/meters/m-1/batch"));
        assert!(!topics.meter_may_publish(&me, "joule/v1/meters/m-2/batch"));
        assert!(!topics.meter_may_publish(&me, "joule/v1/meters/m-2/live"));
        assert!(!topics.meter_may_publish(&me, "joule/v1/meters/m-1/cmd"));
        assert!(!topics.meter_may_publish(&me, "joule/v1/meters/m-1/stored"));
        assert!(topics.meter_may_subscribe(&me, "joule/v1/meters/m-1/cmd"));
        assert!(topics.meter_may_subscribe(&me, "joule/v1/meters/m-1/stored"));
        assert!(!topics.meter_may_subscribe(&me, "joule/v1/meters/+/cmd"));
        assert!(!topics.meter_may_subscribe(&me, "joule/v1/meters/m-1/#"));
        assert!(!topics.meter_may_subscribe(&me, "joule/v1/meters/m-1/live"));
        assert!(!topics.meter_may_subscribe(&other, "joule/v1/meters/m-1/cmd"));
    }
}
