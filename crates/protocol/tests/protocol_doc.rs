//! docs/PROTOCOL.md is part of the contract: every example it shows must decode, pass the
//! checks, and survive a round trip; every topic kind must have one, a batch must show both
//! kinds of item, and a storage acknowledgement must show the batch capability.

use joule_protocol::{
    BatchBuilder, BatchItem, Downlink, TopicKind, Topics, Uplink, decode_downlink, decode_uplink,
    encode,
};
use std::collections::HashSet;

/// The receiver's clock for the examples (just after the latest example timestamp).
const NOW_MS: i64 = 1_795_001_400_000;

/// The fenced blocks that carry a `topic=`: (topic, body).
fn examples() -> Vec<(String, String)> {
    let document = include_str!("../../../docs/PROTOCOL.md");
    let mut examples = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in document.lines() {
        match &mut current {
            Some((topic, body)) => {
                if line.trim_start().starts_with("```") {
                    examples.push((topic.clone(), body.clone()));
                    current = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
            None => {
                let topic = line.trim_start().strip_prefix("```").and_then(|info| {
                    info.split_whitespace()
                        .find_map(|w| w.strip_prefix("topic="))
                });
                if let Some(topic) = topic {
                    current = Some((topic.to_owned(), String::new()));
                }
            }
        }
    }
    examples
}

#[test]
fn every_example_decodes_checks_and_round_trips() {
    let topics = Topics::default();
    let mut kinds = HashSet::new();
    let mut item_kinds = HashSet::new();
    let mut batch_max_shown = false;
    let examples = examples();
    assert!(
        examples.len() >= 10,
        "found only {} examples",
        examples.len()
    );
    for (topic, body) in examples {
        let parsed = topics
            .parse(&topic)
            .unwrap_or_else(|e| panic!("{topic}: {e}"));
        kinds.insert(parsed.kind);
        if parsed.kind.from_meter() {
            let payload = if parsed.kind == TopicKind::Status {
                body.trim().as_bytes()
            } else {
                body.as_bytes()
            };
            let message = decode_uplink(parsed.kind, payload, NOW_MS)
                .unwrap_or_else(|e| panic!("{topic}: {e}\n{body}"));
            let again = match &message {
                Uplink::Status(_) => message.clone(),
                Uplink::Live(m) => {
                    decode_uplink(parsed.kind, &encode(m), NOW_MS).expect("round trip")
                }
                Uplink::Interval(m) => {
                    decode_uplink(parsed.kind, &encode(m), NOW_MS).expect("round trip")
                }
                Uplink::Event(m) => {
                    decode_uplink(parsed.kind, &encode(m), NOW_MS).expect("round trip")
                }
                Uplink::CommandAck(m) => {
                    decode_uplink(parsed.kind, &encode(m), NOW_MS).expect("round trip")
                }
                Uplink::Batch(items) => {
                    decode_uplink(parsed.kind, &rebatch(items, &mut item_kinds), NOW_MS)
                        .expect("round trip")
                }
            };
            assert_eq!(message, again, "{topic}");
        } else {
            let message = decode_downlink(parsed.kind, body.as_bytes())
                .unwrap_or_else(|e| panic!("{topic}: {e}\n{body}"));
            let again = match &message {
                Downlink::Command(m) => {
                    decode_downlink(parsed.kind, &encode(m)).expect("round trip")
                }
                Downlink::Stored(m) => {
                    batch_max_shown |= m.batch_max.is_some();
                    decode_downlink(parsed.kind, &encode(m)).expect("round trip")
                }
            };
            assert_eq!(message, again, "{topic}");
        }
    }
    for kind in TopicKind::ALL {
        assert!(
            kinds.contains(&kind),
            "docs/PROTOCOL.md has no example for `{}`",
            kind.segment()
        );
    }
    assert_eq!(
        item_kinds,
        HashSet::from([TopicKind::Live, TopicKind::Interval]),
        "the batch examples show both kinds of item"
    );
    assert!(
        batch_max_shown,
        "a storage acknowledgement example shows `batch_max`"
    );
}

/// The batch again, from its items encoded as single messages (as a meter's outbox holds
/// them); every item of an example must pass its checks. Notes the kinds of item seen.
fn rebatch(
    items: &[Result<BatchItem, joule_protocol::RefusedItem>],
    kinds: &mut HashSet<TopicKind>,
) -> Vec<u8> {
    let mut batch = BatchBuilder::new(items.len());
    for item in items {
        let (kind, json) = match item {
            Ok(BatchItem::Live(m)) => (TopicKind::Live, encode(m)),
            Ok(BatchItem::Interval(m)) => (TopicKind::Interval, encode(m)),
            Err(refused) => panic!("a batch item is refused: {}", refused.error),
        };
        kinds.insert(kind);
        assert!(batch.push(kind, &json), "the items fit again");
    }
    batch.finish()
}
