//! The embedded broker with the hub's registry: a meter with its token is heard and
//! acknowledged, singly and in batches; wrong credentials, foreign topics (batches
//! included) and foreign subscriptions are refused.

use joule_hub::config::HubConfig;
use joule_hub::service;
use joule_protocol::{BatchBuilder, MeterId, StorageAck, TopicKind, Topics, encode};
use joule_store::tokens;
use joule_store::{MeterDetails, NewMeter, SqliteStore, Store};
use joule_testkit::{client, connects, free_port, reading, recent_ms};
use rumqttc::{Event, Packet, QoS};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meters_reach_their_own_topics_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("hub.sqlite")).expect("store"));
    let token = tokens::generate();
    for id in ["m-1", "m-2"] {
        let meter = NewMeter {
            id: MeterId::new(id).expect("id"),
            details: MeterDetails {
                name: id.into(),
                ..MeterDetails::default()
            },
            token_hash: tokens::hash(&token),
            mosquitto_hash: None,
        };
        store.add_meter(meter, 0).await.expect("add meter");
    }
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let config = HubConfig::load(None, |v| match v {
        "JOULE_HUB_BROKER_LISTEN" => Some(listen.clone()),
        "JOULE_HUB_HTTP_LISTEN" => Some("127.0.0.1:0".into()),
        _ => None,
    })
    .expect("config");
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
    let started = tokio::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "embedded broker did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Wrong token, unknown meter: refused.
    let (_c, mut bad) = client(port, "m-1", "not-the-token");
    assert!(!connects(&mut bad).await, "a wrong token is refused");
    let (_c, mut unknown) = client(port, "m-9", &token);
    assert!(!connects(&mut unknown).await, "an unknown meter is refused");

    // The right token: connected; its own topics work, others do not.
    let topics = Topics::default();
    let base_ms = recent_ms();
    let (me, other) = (
        MeterId::new("m-1").expect("id"),
        MeterId::new("m-2").expect("id"),
    );
    let (meter, mut events) = client(port, "m-1", &token);
    assert!(connects(&mut events).await);
    meter
        .subscribe(topics.topic(&other, TopicKind::Command), QoS::AtLeastOnce)
        .await
        .expect("queue");
    meter
        .subscribe(topics.topic(&me, TopicKind::Stored), QoS::AtLeastOnce)
        .await
        .expect("queue");
    meter
        .publish(
            topics.topic(&other, TopicKind::Live),
            QoS::AtLeastOnce,
            false,
            encode(&reading(1, base_ms)),
        )
        .await
        .expect("queue");
    // Give the hub's subscription time to land before the readings that count.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for seq in 1..=20 {
        meter
            .publish(
                topics.topic(&me, TopicKind::Live),
                QoS::AtLeastOnce,
                false,
                encode(&reading(seq, base_ms)),
            )
            .await
            .expect("queue");
    }
    // A batch of the next 20 on its own batch topic counts; one on m-2's does not.
    for (owner, seqs) in [(&other, 1..=20), (&me, 21..=40)] {
        let mut batch = BatchBuilder::new(20);
        for seq in seqs {
            assert!(batch.push(TopicKind::Live, &encode(&reading(seq, base_ms))));
        }
        meter
            .publish(
                topics.topic(owner, TopicKind::Batch),
                QoS::AtLeastOnce,
                false,
                batch.finish(),
            )
            .await
            .expect("queue");
    }
    let mut sub_results = Vec::new();
    let mut acknowledged = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while acknowledged < 40 || sub_results.len() < 2 {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .expect("acks in time")
            .expect("connection");
        match event {
            Event::Incoming(Packet::SubAck(ack)) => sub_results.extend(ack.return_codes),
            Event::Incoming(Packet::Publish(publish)) => {
                let ack: StorageAck =
                    serde_json::from_slice(&publish.payload).expect("storage ack");
                acknowledged = acknowledged.max(ack.up_to_seq);
            }
            _ => {}
        }
    }
    assert_eq!(
        sub_results,
        [
            rumqttc::SubscribeReasonCode::Failure,
            rumqttc::SubscribeReasonCode::Success(QoS::AtLeastOnce)
        ],
        "another meter's command topic is refused, its own storage acks granted"
    );
    stop.send(()).expect("stop");
    hub.await.expect("hub task").expect("hub ran cleanly");
    assert_eq!(
        store
            .readings(&me, 0, i64::MAX)
            .await
            .expect("readings")
            .len(),
        40
    );
    assert!(
        store
            .readings(&other, 0, i64::MAX)
            .await
            .expect("readings")
            .is_empty(),
        "m-1 cannot publish as m-2"
    );
    assert!(
        store
            .dead_letters(10)
            .await
            .expect("dead letters")
            .is_empty()
    );
}
