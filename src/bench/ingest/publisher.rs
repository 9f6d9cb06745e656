//! The benchmark's meters: each publishes live readings over its own MQTT connection, one
//! to a message on its `live` topic or `batch` readings to a message on its `batch` topic,
//! and keeps every reading until it is acknowledged, like a real meter's outbox. The same
//! loop runs against the hub (storage acks) and against the bare Mosquitto (delivery
//! counts), so both runs are compared at the same load.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use joule_protocol::{
    BatchBuilder, LiveReading, MAX_PAYLOAD_BYTES, MeterId, PAYLOAD_VERSION, Registers, RelayState,
    StorageAck, TopicKind, Topics, encode,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// Readings a meter keeps unacknowledged at most before it waits (its outbox window), or
/// [`WINDOW_BATCHES`] batches when that is more.
const WINDOW: usize = 200;
/// Batches a meter keeps unacknowledged at most, when they hold more than [`WINDOW`].
const WINDOW_BATCHES: usize = 4;
/// Without an ack for this long, a meter resends what is unacknowledged.
const RESEND_AFTER: Duration = Duration::from_secs(5);

/// What tells a publisher its readings arrived.
#[derive(Debug, Clone)]
pub(super) enum Acks {
    /// The hub's storage acks (Joule).
    Storage,
    /// The bare subscriber's count of this meter's readings delivered (the Mosquitto
    /// baseline: delivered in order, so the count is the highest seq delivered).
    Delivered(Arc<AtomicU64>),
}

/// One publisher's settings.
#[derive(Debug, Clone)]
pub(super) struct Publisher {
    /// The broker's port on 127.0.0.1.
    pub(super) port: u16,
    /// The meter.
    pub(super) meter: MeterId,
    /// Its token, when the broker asks for one.
    pub(super) token: Option<String>,
    /// Readings a second (0: as fast as acknowledgements allow).
    pub(super) rate_per_s: f64,
    /// Readings per MQTT message (1: single messages on the `live` topic).
    pub(super) batch: usize,
    /// How it learns what arrived.
    pub(super) acks: Acks,
}

/// Whether `batch` readings as the publishers write them (numbered higher than a meter's
/// numbers get in a run) fit in one payload; the most that do when not.
pub(super) fn batch_fits(batch: usize) -> Result<(), usize> {
    let mut builder = BatchBuilder::new(batch);
    let mut seq = 100_000_000;
    while builder.len() < batch && builder.push(TopicKind::Live, &encode(&live_reading(seq, 0))) {
        seq += 1;
    }
    if builder.len() == batch {
        Ok(())
    } else {
        Err(builder.len())
    }
}

impl Publisher {
    /// Publishes while `running`, then drains for up to a minute; returns the readings
    /// published and the publish-to-acknowledged latency of each acknowledged one, ms.
    pub(super) async fn run(
        self,
        running: Arc<AtomicBool>,
        published: Arc<AtomicU64>,
    ) -> (u64, Vec<f64>) {
        let storage_acks = matches!(self.acks, Acks::Storage);
        let meter = self.meter.clone();
        let topics = Topics::default();
        let mut options = MqttOptions::new(meter.as_str(), "127.0.0.1", self.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_inflight(100)
            .set_max_packet_size(MAX_PAYLOAD_BYTES + 1024, MAX_PAYLOAD_BYTES + 1024);
        if let Some(token) = &self.token {
            options.set_credentials(meter.as_str(), token);
        }
        let (client, mut eventloop) = AsyncClient::new(options, 200);
        let kind = if self.batch > 1 {
            TopicKind::Batch
        } else {
            TopicKind::Live
        };
        let topic = topics.topic(&meter, kind);
        let _ = client.try_subscribe(topics.topic(&meter, TopicKind::Stored), QoS::AtLeastOnce);
        let window = WINDOW.max(WINDOW_BATCHES * self.batch);
        let base_ms = super::super::now_ms() - 600_000;
        let message = |first: u64, count: usize| payload(first, count, base_ms);
        let mut outbox: VecDeque<(u64, Instant)> = VecDeque::new();
        let mut latencies = Vec::new();
        let mut seq = 0u64;
        let mut connected = false;
        // Readings due and not yet published (with a rate; without one, as many as fit).
        let mut due = 0usize;
        let mut next_due = Instant::now();
        let mut drain_deadline: Option<Instant> = None;
        let mut last_progress = Instant::now();
        loop {
            let publishing = running.load(Ordering::Relaxed);
            if !publishing {
                let deadline =
                    *drain_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(60));
                if outbox.is_empty() || Instant::now() > deadline {
                    break;
                }
            }
            // Resend what waits for an ack, as a meter's outbox does, if acks stall.
            if storage_acks && (connected || !publishing) && last_progress.elapsed() > RESEND_AFTER
            {
                let seqs: Vec<u64> = outbox.iter().map(|(seq, _)| *seq).collect();
                for chunk in seqs.chunks(self.batch) {
                    let _ = client.try_publish(
                        &topic,
                        QoS::AtLeastOnce,
                        false,
                        message(chunk[0], chunk.len()),
                    );
                }
                last_progress = Instant::now();
            }
            if self.rate_per_s > 0.0 {
                while Instant::now() >= next_due && due < window {
                    due += 1;
                    next_due += Duration::from_secs_f64(1.0 / self.rate_per_s);
                }
            } else {
                due = window;
            }
            while connected
                && publishing
                && due >= self.batch
                && outbox.len() + self.batch <= window
            {
                if client
                    .try_publish(
                        &topic,
                        QoS::AtLeastOnce,
                        false,
                        message(seq + 1, self.batch),
                    )
                    .is_err()
                {
                    break;
                }
                let now = Instant::now();
                for _ in 0..self.batch {
                    seq += 1;
                    outbox.push_back((seq, now));
                }
                due -= self.batch;
                published.fetch_add(self.batch as u64, Ordering::Relaxed);
            }
            let poll = tokio::time::timeout(Duration::from_millis(50), eventloop.poll()).await;
            let mut acknowledged = match &self.acks {
                Acks::Delivered(count) => Some(count.load(Ordering::Relaxed)),
                Acks::Storage => None,
            };
            match poll {
                Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => connected = true,
                Ok(Ok(Event::Incoming(Packet::Publish(publish)))) => {
                    if let Ok(ack) = serde_json::from_slice::<StorageAck>(&publish.payload) {
                        acknowledged = Some(ack.up_to_seq);
                    }
                }
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, meter = meter.as_str(), "bench publisher connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            if let Some(up_to_seq) = acknowledged {
                let now = Instant::now();
                while outbox.front().is_some_and(|(s, _)| *s <= up_to_seq) {
                    if let Some((_, sent)) = outbox.pop_front() {
                        latencies.push(now.duration_since(sent).as_secs_f64() * 1000.0);
                        last_progress = now;
                    }
                }
            }
        }
        // Never wait on a full request queue here.
        let _ = client.try_disconnect();
        (seq, latencies)
    }
}

/// The payload carrying readings `first..first + count`: a single live reading, or a batch.
fn payload(first: u64, count: usize, base_ms: i64) -> Vec<u8> {
    if count == 1 {
        return encode(&live_reading(first, base_ms));
    }
    let mut batch = BatchBuilder::new(count);
    for seq in (first..).take(count) {
        // `batch_fits` checked at the start that a whole batch fits.
        batch.push(TopicKind::Live, &encode(&live_reading(seq, base_ms)));
    }
    batch.finish()
}

/// A realistic live reading (about 330 bytes of JSON).
fn live_reading(seq: u64, base_ms: i64) -> LiveReading {
    let wobble = (seq % 97) as f64;
    let p_w = 950.0 + wobble;
    let q_var = 120.0;
    let s_va = p_w.hypot(q_var);
    LiveReading {
        v: PAYLOAD_VERSION,
        seq,
        ts_ms: base_ms + i64::try_from(seq).unwrap_or(0),
        voltage_v: 229.5 + wobble * 0.01,
        current_a: 4.2,
        p_w,
        q_var,
        s_va,
        pf: p_w / s_va,
        freq_hz: Some(50.01),
        phases: Vec::new(),
        registers: Registers {
            import_mwh: 12_345_678 + seq * 10,
            export_mwh: 0,
            reactive_mvarh: [1000, 0, 0, 0],
            apparent_import_mvah: 12_500_000 + seq * 10,
            apparent_export_mvah: 0,
        },
        tariff: 1,
        relay: RelayState::Connected,
    }
}
