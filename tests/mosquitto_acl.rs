//! An external Mosquitto configured by `joule hub export-mosquitto-auth` enforces the same
//! rules as the embedded broker: tokens log in, wrong ones do not, a meter's data (single
//! messages and batches) reaches the hub, and a meter can neither publish as another nor
//! read another's commands.

mod common;

use joule_protocol::{BatchBuilder, MeterId, StorageAck, TopicKind, Topics, encode};
use joule_store::{SqliteStore, Store};
use joule_testkit::{Mosquitto, Process, client, connects, free_port, reading, recent_ms};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::path::Path;
use std::time::Duration;

fn add_meter(config: &Path, id: &str) -> String {
    let printed = common::joule_ok(&["meters", "add", id, "--config", &config.to_string_lossy()]);
    common::printed_token(printed.as_bytes())
}

#[test]
fn exported_auth_makes_mosquitto_enforce_the_meter_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "[broker]\nurl = \"mqtt://127.0.0.1:{port}\"\nusername = \"joule-hub\"\npassword = \"hub-secret\"\n\
             [storage]\nsqlite = \"{}\"\n",
            dir.path().join("hub.sqlite").display()
        ),
    )
    .expect("write hub.toml");
    let token = add_meter(&config, "m-1");
    add_meter(&config, "m-2");
    let (passwords, acl) = (dir.path().join("passwords"), dir.path().join("acl"));
    let printed = common::joule_ok(&[
        "hub",
        "export-mosquitto-auth",
        "--config",
        &config.to_string_lossy(),
        "--password-file",
        &passwords.to_string_lossy(),
        "--acl-file",
        &acl.to_string_lossy(),
    ]);
    assert!(printed.contains("2 meters"), "{printed}");
    // Running as root, Mosquitto would drop to its own user, which cannot read the
    // test's private temporary directory.
    let _broker = Mosquitto::start_on(
        dir.path(),
        port,
        &format!(
            "user root\nallow_anonymous false\npassword_file {}\nacl_file {}",
            passwords.display(),
            acl.display()
        ),
    );
    let _hub = Process(common::spawn_hub_with_config(&config.to_string_lossy()));

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let (_c, mut wrong) = client(port, "m-1", "not-the-token");
        assert!(!connects(&mut wrong).await, "a wrong token is refused");

        let topics = Topics::default();
        let base_ms = recent_ms();
        let (me, other) = (
            MeterId::new("m-1").expect("id"),
            MeterId::new("m-2").expect("id"),
        );
        let (meter, mut events) = client(port, "m-1", &token);
        assert!(connects(&mut events).await, "the meter's token logs in");
        meter
            .subscribe(topics.topic(&me, TopicKind::Stored), QoS::AtLeastOnce)
            .await
            .expect("queue");
        meter
            .subscribe(topics.topic(&other, TopicKind::Command), QoS::AtLeastOnce)
            .await
            .expect("queue");
        // Let the hub connect and subscribe before the readings that count.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        meter
            .publish(
                topics.topic(&other, TopicKind::Live),
                QoS::AtLeastOnce,
                false,
                encode(&reading(1, base_ms)),
            )
            .await
            .expect("queue");
        for seq in 1..=10 {
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
        // Batches: on its own topic they reach the hub, on m-2's they do not.
        for (owner, seqs) in [(&other, 1..=10), (&me, 11..=20)] {
            let mut batch = BatchBuilder::new(10);
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
        // The hub's login may write to m-2's command topic; m-1 must not read it.
        let (hub, mut hub_events) = client(port, "joule-hub-test", "x");
        drop(hub);
        assert!(
            !connects(&mut hub_events).await,
            "no login without a password entry"
        );
        let (operator, mut operator_events) = {
            let mut options = MqttOptions::new("joule-hub-operator", "127.0.0.1", port);
            options.set_credentials("joule-hub", "hub-secret");
            AsyncClient::new(options, 16)
        };
        assert!(
            connects(&mut operator_events).await,
            "the hub's login works"
        );
        operator
            .publish(
                topics.topic(&other, TopicKind::Command),
                QoS::AtLeastOnce,
                false,
                b"{}".to_vec(),
            )
            .await
            .expect("queue");
        tokio::spawn(async move { while operator_events.poll().await.is_ok() {} });

        let mut acknowledged = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut foreign_command = false;
        while acknowledged < 20 || tokio::time::Instant::now() < deadline - Duration::from_secs(18)
        {
            let Ok(event) = tokio::time::timeout_at(deadline, events.poll()).await else {
                break;
            };
            if let Event::Incoming(Packet::Publish(publish)) = event.expect("meter connection") {
                if publish.topic.ends_with("/cmd") {
                    foreign_command = true;
                } else {
                    let ack: StorageAck = serde_json::from_slice(&publish.payload).expect("ack");
                    acknowledged = acknowledged.max(ack.up_to_seq);
                }
            }
        }
        assert_eq!(
            acknowledged, 20,
            "the meter's own readings and batch are stored and acknowledged"
        );
        assert!(!foreign_command, "m-1 read m-2's command");
    });
    drop(_hub);
    let store = SqliteStore::open(&dir.path().join("hub.sqlite")).expect("store");
    let other = MeterId::new("m-2").expect("id");
    assert!(
        runtime
            .block_on(store.readings(&other, 0, i64::MAX))
            .expect("readings")
            .is_empty(),
        "m-1 published as m-2"
    );
    assert_eq!(
        runtime
            .block_on(store.readings(&MeterId::new("m-1").expect("id"), 0, i64::MAX))
            .expect("readings")
            .len(),
        20
    );
}
