//! `kill -9` the hub (and with it the embedded broker) at moments chosen by a seeded
//! sequence while a meter streams readings, restart it, and check at the end that every
//! reading is stored exactly once. The meter behaves as a real one must: it keeps each
//! message until a storage acknowledgement covers it and resends the rest on reconnect.

mod common;

use common::HubProcess;
use joule_protocol::{MeterId, StorageAck, TopicKind, Topics, encode};
use joule_store::{SqliteStore, Store};
use joule_testkit::{free_port, reading, recent_ms};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::collections::BTreeMap;
use std::time::Duration;

/// Readings the meter sends in all.
const READINGS: u64 = 3000;

/// The meter: streams readings, keeps them until acknowledged, resends after reconnects
/// and when acks stop coming (a resend may have reached the broker before the restarted
/// hub subscribed again). Returns when every reading is acknowledged.
async fn meter(port: u16, token: String) {
    let topics = Topics::default();
    let id = MeterId::new("m-1").expect("id");
    let live = topics.topic(&id, TopicKind::Live);
    let base_ms = recent_ms();
    let mut outbox: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut next_seq = 1;
    let mut acknowledged = 0;
    while acknowledged < READINGS {
        let mut options = MqttOptions::new("m-1", "127.0.0.1", port);
        options
            .set_credentials("m-1", token.clone())
            .set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 4096);
        // One connection: resend what is unacknowledged, then stream, until it drops.
        let mut connected = false;
        let mut tick = tokio::time::interval(Duration::from_millis(2));
        let mut resend_check = tokio::time::interval(Duration::from_secs(1));
        let mut last_progress = tokio::time::Instant::now();
        loop {
            tokio::select! {
                event = eventloop.poll() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        let _ = client.try_subscribe(topics.topic(&id, TopicKind::Stored), QoS::AtLeastOnce);
                        for payload in outbox.values() {
                            let _ = client.try_publish(&live, QoS::AtLeastOnce, false, payload.clone());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let ack: StorageAck = serde_json::from_slice(&publish.payload).expect("storage ack");
                        if ack.up_to_seq > acknowledged {
                            last_progress = tokio::time::Instant::now();
                        }
                        acknowledged = acknowledged.max(ack.up_to_seq);
                        outbox.retain(|&seq, _| seq > acknowledged);
                        if acknowledged >= READINGS {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                },
                _ = resend_check.tick(), if connected && !outbox.is_empty() => {
                    if last_progress.elapsed() > Duration::from_secs(3) {
                        last_progress = tokio::time::Instant::now();
                        for payload in outbox.values() {
                            let _ = client.try_publish(&live, QoS::AtLeastOnce, false, payload.clone());
                        }
                    }
                }
                _ = tick.tick(), if connected && next_seq <= READINGS => {
                    for _ in 0..4 {
                        if next_seq > READINGS {
                            break;
                        }
                        let payload = encode(&reading(next_seq, base_ms));
                        outbox.insert(next_seq, payload.clone());
                        let _ = client.try_publish(&live, QoS::AtLeastOnce, false, payload);
                        next_seq += 1;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn kill_minus_nine_at_any_moment_loses_nothing_and_stores_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let process = HubProcess {
        store: dir.path().join("hub.sqlite"),
        port: free_port(),
    };
    let token = process.add_meter("m-1");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let meter_task = runtime.spawn(meter(process.port, token));
    let mut hub = process.spawn();
    // Kill at moments from a fixed linear congruential sequence (deterministic run to run).
    let mut state: u32 = 0x2545_f491;
    let mut kills = 0;
    while kills < 4 && !meter_task.is_finished() {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        std::thread::sleep(Duration::from_millis(400 + u64::from(state >> 22)));
        hub.kill().expect("kill -9");
        hub.wait().expect("reap");
        kills += 1;
        std::thread::sleep(Duration::from_millis(150));
        hub = process.spawn();
    }
    runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(120), meter_task).await })
        .expect("every reading acknowledged within two minutes")
        .expect("meter task");
    hub.kill().expect("stop the hub");
    hub.wait().expect("reap");
    assert!(
        kills >= 2,
        "the hub was killed during the stream ({kills} times)"
    );

    let store = SqliteStore::open(&process.store).expect("store");
    let id = MeterId::new("m-1").expect("id");
    let readings = runtime
        .block_on(store.readings(&id, 0, i64::MAX))
        .expect("readings");
    let seqs: Vec<u64> = readings.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (1..=READINGS).collect::<Vec<_>>(),
        "every reading exactly once"
    );
    assert_eq!(
        runtime.block_on(store.contiguous_seq(&id)).expect("mark"),
        READINGS
    );
}
