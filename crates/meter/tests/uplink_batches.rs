//! The uplink draining a backlog of 1,000 messages through Debian's Mosquitto to a scripted
//! hub: in batches once the hub's storage acks carry `batch_max`, singly when they do not,
//! and singly again after a reconnect and after the hub falls silent (a hub that reads
//! only v1 took its place), losing nothing either way.

use joule_meter::outbox::Outbox;
use joule_meter::uplink::{self, LinkState, UplinkChannels, UplinkSettings};
use joule_protocol::{MeterId, PAYLOAD_VERSION, StorageAck, TopicKind, Topics, encode};
use joule_testkit::Mosquitto;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};

const BACKLOG: u64 = 1000;

/// One MQTT message the hub received: its kind and the sequence numbers it carried.
#[derive(Debug, Clone, PartialEq)]
struct Received {
    kind: TopicKind,
    seqs: Vec<u64>,
}

/// A hub played by the test: subscribed to the meter's data topics of `kinds`, it notes
/// what arrives and acknowledges the contiguous numbers, with `batch_max` or without.
struct ScriptedHub {
    client: AsyncClient,
    eventloop: EventLoop,
    topics: Topics,
    meter: MeterId,
    batch_max: Option<u32>,
    stored: BTreeSet<u64>,
    received: Vec<Received>,
}

impl ScriptedHub {
    async fn connect(port: u16, name: &str, kinds: &[TopicKind], batch_max: Option<u32>) -> Self {
        let mut options = MqttOptions::new(name, "127.0.0.1", port);
        options
            .set_keep_alive(Duration::from_secs(10))
            .set_max_packet_size(128 * 1024, 128 * 1024);
        let (client, eventloop) = AsyncClient::new(options, 256);
        let topics = Topics::default();
        let meter = MeterId::new("m-1").expect("id");
        for kind in kinds {
            client
                .subscribe(topics.topic(&meter, *kind), QoS::AtLeastOnce)
                .await
                .expect("subscribe");
        }
        let mut hub = Self {
            client,
            eventloop,
            topics,
            meter,
            batch_max,
            stored: BTreeSet::new(),
            received: Vec::new(),
        };
        hub.poll_until(|event| matches!(event, Event::Incoming(Packet::SubAck(_))))
            .await;
        hub
    }

    /// Polls until `done` says so for an event, for at most 30 s.
    async fn poll_until(&mut self, mut done: impl FnMut(&Event) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let Ok(event) = tokio::time::timeout_at(deadline, self.eventloop.poll()).await else {
                panic!("the scripted hub waited 30 s in vain");
            };
            let event = event.expect("the hub's connection");
            if done(&event) {
                return;
            }
        }
    }

    /// Receives until every number up to `seq` is stored, acknowledging every 50 ms what is
    /// stored by then, as the hub's writer does after each transaction.
    async fn store_until(&mut self, seq: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut ticker = tokio::time::interval(Duration::from_millis(50));
        let mut acked = 0;
        while acked < seq {
            tokio::select! {
                event = self.eventloop.poll() => {
                    if let Event::Incoming(Packet::Publish(publish)) = event.expect("the hub's connection") {
                        self.receive(&publish.topic, &publish.payload);
                    }
                }
                _ = ticker.tick() => {
                    if self.contiguous() > acked {
                        acked = self.contiguous();
                        self.acknowledge(acked);
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    panic!("stored up to {} of {seq} after 30 s", self.contiguous());
                }
            }
        }
        // Let the last ack go out.
        let flush = tokio::time::sleep(Duration::from_millis(300));
        tokio::pin!(flush);
        loop {
            tokio::select! {
                event = self.eventloop.poll() => { event.expect("the hub's connection"); }
                () = &mut flush => return,
            }
        }
    }

    fn receive(&mut self, topic: &str, payload: &[u8]) {
        let kind = self.topics.parse(topic).expect("a meter topic").kind;
        let json: serde_json::Value = serde_json::from_slice(payload).expect("JSON");
        let seqs: Vec<u64> = match kind {
            TopicKind::Batch => json["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|item| item["seq"].as_u64().expect("an item's seq"))
                .collect(),
            _ => vec![json["seq"].as_u64().expect("seq")],
        };
        self.stored.extend(&seqs);
        self.received.push(Received { kind, seqs });
    }

    fn acknowledge(&self, up_to_seq: u64) {
        let ack = StorageAck {
            v: PAYLOAD_VERSION,
            up_to_seq,
            ts_ms: 0,
            batch_max: self.batch_max,
        };
        self.client
            .try_publish(
                self.topics.topic(&self.meter, TopicKind::Stored),
                QoS::AtLeastOnce,
                false,
                encode(&ack),
            )
            .expect("ack queued");
    }

    fn contiguous(&self) -> u64 {
        (1..)
            .take_while(|seq| self.stored.contains(seq))
            .last()
            .unwrap_or(0)
    }

    fn batches(&self) -> Vec<&Received> {
        self.received
            .iter()
            .filter(|r| r.kind == TopicKind::Batch)
            .collect()
    }
}

const SINGLES: [TopicKind; 4] = [
    TopicKind::Live,
    TopicKind::Interval,
    TopicKind::Event,
    TopicKind::CommandAck,
];

fn every_kind() -> Vec<TopicKind> {
    let mut kinds = SINGLES.to_vec();
    kinds.push(TopicKind::Batch);
    kinds
}

/// An outbox in `dir` holding a backlog: live readings, an interval record every tenth
/// message and an event every hundredth (numbered when sent, from 1).
fn backlog(dir: &Path) -> Arc<Mutex<Outbox>> {
    let mut outbox = Outbox::open(&dir.join("outbox.sqlite"), BACKLOG * 2).expect("outbox");
    let bodies: Vec<(TopicKind, Vec<u8>)> = (1..=BACKLOG)
        .map(|n| {
            let kind = match n {
                n if n % 100 == 50 => TopicKind::Event,
                n if n % 10 == 0 => TopicKind::Interval,
                _ => TopicKind::Live,
            };
            (kind, format!(r#"{{"v":1,"seq":0,"n":{n}}}"#).into_bytes())
        })
        .collect();
    let messages: Vec<(TopicKind, &[u8])> = bodies
        .iter()
        .map(|(kind, body)| (*kind, body.as_slice()))
        .collect();
    outbox.push_many(&messages, b"{}", 0).expect("backlog");
    Arc::new(Mutex::new(outbox))
}

/// Starts the uplink of meter `m-1` on `port`, at most 100 messages unconfirmed and a
/// resend after 2 s without progress; returns what stops it.
fn start_uplink(
    port: u16,
    outbox: Arc<Mutex<Outbox>>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let settings = UplinkSettings {
        meter: MeterId::new("m-1").expect("id"),
        host: "127.0.0.1".into(),
        port,
        tls: None,
        token: "token".into(),
        topics: Topics::default(),
        keep_alive_s: 5,
        replay_per_s: 5000,
        window: 100,
        ack_timeout_s: 2,
        home_assistant: false,
    };
    let (commands, _) = mpsc::channel(8);
    let channels = UplinkChannels {
        outbox,
        wake: Arc::new(Notify::new()),
        commands,
        link: watch::channel(LinkState::default()).0,
    };
    let (stop, stopping) = watch::channel(false);
    let task = tokio::spawn(async move {
        uplink::run(settings, channels, stopping)
            .await
            .expect("uplink");
    });
    (stop, task)
}

fn all_seqs() -> Vec<u64> {
    (1..=BACKLOG).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_goes_in_batches_once_the_hub_says_it_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path(), "allow_anonymous true");
    let mut hub = ScriptedHub::connect(broker.port, "hub", &every_kind(), Some(40)).await;
    let (stop, uplink) = start_uplink(broker.port, backlog(dir.path()));
    hub.store_until(BACKLOG).await;
    let _ = stop.send(true);
    uplink.await.expect("uplink task");

    let carried: Vec<u64> = hub.received.iter().flat_map(|r| r.seqs.clone()).collect();
    assert_eq!(carried, all_seqs(), "each once, in order");
    let first = &hub.received[0];
    assert_ne!(first.kind, TopicKind::Batch, "single until the hub said so");
    let batches = hub.batches();
    let batched: usize = batches.iter().map(|b| b.seqs.len()).sum();
    assert!(batched >= 800, "{batched} of {BACKLOG} went in batches");
    assert!(batches.iter().all(|b| (2..=40).contains(&b.seqs.len())));
    for single in hub.received.iter().filter(|r| r.kind != TopicKind::Batch) {
        assert_eq!(single.seqs.len(), 1);
    }
    let events: Vec<&Received> = hub
        .received
        .iter()
        .filter(|r| r.kind == TopicKind::Event)
        .collect();
    assert_eq!(events.len(), 10, "events travel alone");
    assert!(
        hub.received.len() < 150,
        "{} MQTT messages for {BACKLOG}",
        hub.received.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_hubs_word_a_backlog_goes_singly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path(), "allow_anonymous true");
    let mut hub = ScriptedHub::connect(broker.port, "hub", &SINGLES, None).await;
    let (stop, uplink) = start_uplink(broker.port, backlog(dir.path()));
    hub.store_until(BACKLOG).await;
    let _ = stop.send(true);
    uplink.await.expect("uplink task");
    assert!(hub.batches().is_empty());
    let carried: Vec<u64> = hub.received.iter().flat_map(|r| r.seqs.clone()).collect();
    assert_eq!(carried, all_seqs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_reconnect_and_after_silence_the_meter_sends_singly_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker_dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(broker_dir.path(), "allow_anonymous true");
    let port = broker.port;
    let mut hub = ScriptedHub::connect(port, "hub", &every_kind(), Some(40)).await;
    let (stop, uplink) = start_uplink(port, backlog(dir.path()));
    hub.store_until(300).await;
    assert!(
        !hub.batches().is_empty(),
        "batches before the broker restart"
    );

    // The broker restarts: the meter reconnects and starts over with single messages. (The
    // pause lets the broker take what the meter has in flight, so no batch of the old
    // connection is retransmitted by the MQTT client on the new one.)
    drop(hub);
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(broker);
    let broker = Mosquitto::start_on(broker_dir.path(), port, "allow_anonymous true");
    let mut hub = ScriptedHub::connect(port, "hub", &every_kind(), Some(40)).await;
    hub.stored.extend(1..=300);
    hub.store_until(600).await;
    assert_ne!(
        hub.received[0].kind,
        TopicKind::Batch,
        "the first message after a reconnect goes alone"
    );
    assert!(!hub.batches().is_empty(), "batches again once told");

    // That hub is replaced by one that reads only v1, without the meter reconnecting: its
    // batches go nowhere until it resends, singly, after 2 s without an ack.
    let resumed_after = hub.contiguous();
    drop(hub);
    let mut old_hub = ScriptedHub::connect(port, "old-hub", &SINGLES, None).await;
    old_hub.stored.extend(1..=resumed_after);
    old_hub.store_until(BACKLOG).await;
    let _ = stop.send(true);
    uplink.await.expect("uplink task");
    drop(broker);
    assert!(old_hub.batches().is_empty());
    let carried: BTreeSet<u64> = old_hub
        .received
        .iter()
        .flat_map(|r| r.seqs.clone())
        .filter(|seq| *seq > resumed_after)
        .collect();
    assert_eq!(
        carried,
        (resumed_after + 1..=BACKLOG).collect(),
        "everything not acknowledged reached the old hub, singly"
    );
}
