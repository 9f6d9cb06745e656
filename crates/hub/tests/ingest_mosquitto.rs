//! End to end through Debian's Mosquitto: a meter publishes, the hub stores and
//! acknowledges, resends are stored once, garbage becomes a dead letter; batches are
//! stored item by item, a bad item a dead letter of its own.

use joule_hub::config::HubConfig;
use joule_hub::service;
use joule_protocol::{
    BatchBuilder, MAX_PAYLOAD_BYTES, MeterId, StorageAck, TopicKind, Topics, encode,
};
use joule_store::{SqliteStore, Store};
use joule_testkit::{Mosquitto, interval_record, reading, recent_ms};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meter_publishes_and_the_hub_stores_and_acknowledges_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path(), "allow_anonymous true");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let config = HubConfig::load(None, |v| match v {
        "JOULE_HUB_BROKER_URL" => Some(url.clone()),
        "JOULE_HUB_HTTP_LISTEN" => Some("127.0.0.1:0".into()),
        _ => None,
    })
    .expect("config");
    let store = Arc::new(SqliteStore::open(&dir.path().join("hub.sqlite")).expect("store"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let hub = tokio::spawn({
        let store = Arc::clone(&store);
        async move {
            service::serve(config, store, async {
                let _ = stopped.await;
            })
            .await
        }
    });

    let meter = MeterId::new("m-1").expect("id");
    let topics = Topics::default();
    let mut options = MqttOptions::new("m-1", "127.0.0.1", broker.port);
    options.set_keep_alive(Duration::from_secs(10));
    let (client, mut eventloop) = AsyncClient::new(options, 512);
    client
        .subscribe(topics.topic(&meter, TopicKind::Stored), QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let base_ms = recent_ms();
    let live = topics.topic(&meter, TopicKind::Live);
    let publisher = tokio::spawn({
        let client = client.clone();
        async move {
            // Give the hub time to subscribe before the first message.
            tokio::time::sleep(Duration::from_millis(500)).await;
            for seq in (1..=200).chain(50..=100) {
                client
                    .publish(
                        &live,
                        QoS::AtLeastOnce,
                        false,
                        encode(&reading(seq, base_ms)),
                    )
                    .await
                    .expect("publish");
            }
            client
                .publish(&live, QoS::AtLeastOnce, false, b"{not json".to_vec())
                .await
                .expect("publish");
        }
    });

    let mut acknowledged = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while acknowledged < 200 {
        let event = tokio::time::timeout_at(deadline, eventloop.poll())
            .await
            .expect("storage ack for seq 200 within 30 s")
            .expect("meter connection");
        if let Event::Incoming(Packet::Publish(publish)) = event {
            let ack: StorageAck = serde_json::from_slice(&publish.payload).expect("storage ack");
            assert!(ack.up_to_seq >= acknowledged, "acks only move forward");
            acknowledged = ack.up_to_seq;
        }
    }
    publisher.await.expect("publisher");
    // Let the dead letter reach the store, then stop the hub cleanly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).expect("stop");
    hub.await.expect("hub task").expect("hub ran cleanly");

    let readings = store.readings(&meter, 0, i64::MAX).await.expect("readings");
    assert_eq!(readings.len(), 200, "every reading once, resends ignored");
    assert!(readings.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    let letters = store.dead_letters(10).await.expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].reason, "schema");
    assert_eq!(letters[0].meter.as_deref(), Some("m-1"));
}

/// Waits for storage acks until one covers `seq`; returns the last ack.
async fn ack_covering(eventloop: &mut rumqttc::EventLoop, seq: u64) -> StorageAck {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let Ok(event) = tokio::time::timeout_at(deadline, eventloop.poll()).await else {
            panic!("no storage ack covering {seq} within 30 s");
        };
        let event = event.expect("meter connection");
        if let Event::Incoming(Packet::Publish(publish)) = event {
            let ack: StorageAck = serde_json::from_slice(&publish.payload).expect("storage ack");
            if ack.up_to_seq >= seq {
                return ack;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meter_told_batch_max_sends_batches_stored_item_by_item() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path(), "allow_anonymous true");
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let config = HubConfig::load(None, |v| match v {
        "JOULE_HUB_BROKER_URL" => Some(url.clone()),
        "JOULE_HUB_HTTP_LISTEN" => Some("127.0.0.1:0".into()),
        _ => None,
    })
    .expect("config");
    let store = Arc::new(SqliteStore::open(&dir.path().join("hub.sqlite")).expect("store"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let hub = tokio::spawn({
        let store = Arc::clone(&store);
        async move {
            service::serve(config, store, async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let meter = MeterId::new("m-1").expect("id");
    let topics = Topics::default();
    let mut options = MqttOptions::new("m-1", "127.0.0.1", broker.port);
    options
        .set_keep_alive(Duration::from_secs(10))
        .set_max_packet_size(MAX_PAYLOAD_BYTES + 1024, MAX_PAYLOAD_BYTES + 1024);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    client
        .subscribe(topics.topic(&meter, TopicKind::Stored), QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let base_ms = recent_ms();
    let publish = |kind, payload: Vec<u8>| {
        let client = client.clone();
        let topic = topics.topic(&meter, kind);
        async move {
            client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .expect("publish");
        }
    };
    // A single message first, as a meter does until the hub has said it reads batches.
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish(TopicKind::Live, encode(&reading(1, base_ms))).await;
    let ack = ack_covering(&mut eventloop, 1).await;
    assert_eq!(ack.batch_max, Some(500), "the hub says it reads batches");

    // Then 300 more in three batches: an interval record among them and one reading out
    // of range, then a batch resending numbers already stored.
    let interval_ms = base_ms - base_ms.rem_euclid(900_000);
    let item = |seq: u64| match seq {
        2 => (
            TopicKind::Interval,
            encode(&interval_record(2, interval_ms, 1, 0)),
        ),
        150 => {
            let mut wild = reading(150, base_ms);
            wild.voltage_v = -5.0;
            (TopicKind::Live, encode(&wild))
        }
        _ => (TopicKind::Live, encode(&reading(seq, base_ms))),
    };
    let batches: Vec<Vec<u64>> = vec![
        (2..=101).collect(),
        (102..=201).collect(),
        (202..=301).collect(),
        (50..=120).collect(),
    ];
    for seqs in batches {
        let mut batch = BatchBuilder::new(100);
        for seq in seqs {
            let (kind, json) = item(seq);
            assert!(batch.push(kind, &json), "item {seq} fits");
        }
        publish(TopicKind::Batch, batch.finish()).await;
    }
    let ack = ack_covering(&mut eventloop, 301).await;
    assert_eq!(ack.up_to_seq, 301, "settled past the refused item");
    assert_eq!(ack.batch_max, Some(500));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).expect("stop");
    hub.await.expect("hub task").expect("hub ran cleanly");

    let readings = store.readings(&meter, 0, i64::MAX).await.expect("readings");
    let seqs: Vec<u64> = readings.iter().map(|r| r.seq).collect();
    let expected: Vec<u64> = (1..=301).filter(|seq| ![2, 150].contains(seq)).collect();
    assert_eq!(seqs, expected, "every reading once, resends ignored");
    let intervals = store
        .intervals(&meter, 0, i64::MAX)
        .await
        .expect("intervals");
    assert_eq!(intervals.iter().map(|r| r.seq).collect::<Vec<_>>(), [2]);
    let letters = store.dead_letters(10).await.expect("dead letters");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(
        (letters[0].reason.as_str(), letters[0].seq),
        ("invalid", Some(150))
    );
    assert!(letters[0].topic.ends_with("/m-1/batch"));
}
