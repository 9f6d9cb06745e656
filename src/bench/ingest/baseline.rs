//! The anchor of `joule bench ingest`: Debian's Mosquitto delivering the same messages from
//! the same publishers to one bare subscriber, which counts the readings delivered (a
//! batch's items each) in all and per meter; the per-meter counts are the publishers'
//! acknowledgements.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use joule_protocol::{MAX_PAYLOAD_BYTES, TopicKind, Topics};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeFilter};

/// Debian's Mosquitto on a free port, anonymous, killed when dropped.
pub(super) struct Mosquitto {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(super) port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts it.
    pub(super) fn start() -> anyhow::Result<Self> {
        let binary = std::path::Path::new("/usr/sbin/mosquitto");
        if !binary.exists() {
            bail!(
                "the baseline needs Debian's mosquitto (apt-get install mosquitto), or pass --no-baseline"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_queued_messages 100000\nmax_inflight_messages 100\n"
            ),
        )?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting mosquitto")?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("mosquitto did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self {
            child,
            port,
            _dir: dir,
        })
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bare subscriber: counts every reading delivered on the `live` and `batch` topics, in
/// all and per meter (`bench-NNNNNN` indexes `per_meter`).
pub(super) async fn count_deliveries(
    port: u16,
    delivered: Arc<AtomicU64>,
    per_meter: Vec<Arc<AtomicU64>>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut options = MqttOptions::new("bench-subscriber", "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(1000)
        .set_max_packet_size(MAX_PAYLOAD_BYTES + 1024, MAX_PAYLOAD_BYTES + 1024);
    let (client, mut eventloop) = AsyncClient::new(options, 1000);
    let topics = Topics::default();
    let filters = [TopicKind::Live, TopicKind::Batch]
        .map(|kind| SubscribeFilter::new(topics.all_meters(kind), QoS::AtLeastOnce));
    let _ = client.subscribe_many(filters).await;
    let mut ready = Some(ready);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let readings = if publish.topic.ends_with("/batch") {
                    items(&publish.payload)
                } else {
                    1
                };
                delivered.fetch_add(readings, Ordering::Relaxed);
                let index = publish
                    .topic
                    .split('/')
                    .find_map(|part| part.strip_prefix("bench-"))
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(count) = index.and_then(|i| per_meter.get(i)) {
                    count.fetch_add(readings, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The items of a batch as the publishers write them (each opens with its `kind`), counted
/// without parsing: the bare subscriber stays as cheap as a subscriber can be.
fn items(payload: &[u8]) -> u64 {
    const ITEM: &[u8] = b"{\"kind\":";
    payload
        .windows(ITEM.len())
        .filter(|window| *window == ITEM)
        .count() as u64
}
