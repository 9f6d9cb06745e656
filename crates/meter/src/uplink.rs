//! The MQTT uplink: drains the outbox to the broker and brings commands and storage acks
//! back.
//!
//! The meter logs in as itself (username = meter id, password = device token) with a
//! persistent session, so commands sent while it is offline wait at the broker. Its last
//! will is a retained `offline`; on every connection it publishes a retained `online`,
//! subscribes to its `cmd` and `stored` topics and resends everything the hub has not
//! confirmed, from the oldest. Publishing is paced: at most `window` messages unconfirmed
//! and at most `replay_per_s` MQTT messages a second, so a day's backlog after an outage
//! drains without flooding the hub. Once a storage ack on this connection says the hub
//! reads batches (`batch_max`), runs of live readings and interval records go many to an
//! MQTT message ([`crate::batching`]); each item still counts against `window`. When the
//! hub confirms nothing for `ack_timeout_s` the unconfirmed messages are sent again, singly
//! (the hub's deduplication keeps them once), in case the hub that said it reads batches
//! is gone. A lost connection is retried with exponential backoff and jitter, logged once
//! per outage.

use crate::batching;
use crate::outbox::{Outbox, OutboxError};
use crate::telemetry::events::{
    BatchPublished, BatchingChanged, BrokerUnreachable, CommandDropped, DownlinkRefused,
    UplinkConnected,
};
use joule_protocol::{
    Command, DecodeError, Downlink, MAX_PAYLOAD_BYTES, MeterId, Status, TopicKind, Topics,
    decode_downlink, discovery_documents,
};
use rand::RngExt;
use rumqttc::{
    AsyncClient, Event, LastWill, MqttOptions, Packet, QoS, TlsConfiguration, Transport,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, watch};

/// How the uplink is set up.
#[derive(Debug, Clone)]
pub struct UplinkSettings {
    /// The meter.
    pub meter: MeterId,
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// TLS to the broker, when the URL is `mqtts://`.
    pub tls: Option<Arc<joule_tls::ClientConfig>>,
    /// Device token.
    pub token: String,
    /// Topic layout.
    pub topics: Topics,
    /// Keep-alive, s.
    pub keep_alive_s: u16,
    /// Most MQTT messages a second (a batch is one).
    pub replay_per_s: u32,
    /// Most unconfirmed messages (each item of a batch is one).
    pub window: u32,
    /// Resend after this long without confirmation, s.
    pub ack_timeout_s: u32,
    /// Publish Home Assistant discovery documents on connect.
    pub home_assistant: bool,
}

/// The link as the display and the logs see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkState {
    /// Connected to the broker now.
    pub connected: bool,
    /// Highest sequence the hub confirmed stored.
    pub acked_seq: u64,
    /// Why the last connection attempt failed.
    pub last_error: Option<String>,
}

/// Why the uplink stopped.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// The outbox failed (the disk): nothing can be sent or confirmed safely.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// What the uplink shares with the agent.
#[derive(Debug, Clone)]
pub struct UplinkChannels {
    /// The outbox both use.
    pub outbox: Arc<Mutex<Outbox>>,
    /// New messages are waiting.
    pub wake: Arc<Notify>,
    /// Commands for the agent.
    pub commands: mpsc::Sender<Command>,
    /// The link's state.
    pub link: watch::Sender<LinkState>,
}

const TICK: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long a stopping uplink keeps sending so the last messages (`power_down`) reach the
/// hub; what is left waits in the outbox for the next start.
const DRAIN: Duration = Duration::from_secs(3);

/// Runs the uplink until `shutdown` turns true; then drains the outbox for up to
/// [`DRAIN`], says `offline` and disconnects.
pub async fn run(
    settings: UplinkSettings,
    channels: UplinkChannels,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), UplinkError> {
    let meter = settings.meter.clone();
    let topic = |kind| settings.topics.topic(&meter, kind);
    let mut options = MqttOptions::new(meter.as_str(), settings.host.clone(), settings.port);
    options
        .set_credentials(meter.as_str(), settings.token.clone())
        .set_keep_alive(Duration::from_secs(u64::from(settings.keep_alive_s.max(5))))
        .set_clean_session(false)
        .set_transport(match &settings.tls {
            Some(config) => Transport::Tls(TlsConfiguration::Rustls(config.clone())),
            None => Transport::Tcp,
        })
        // A full batch is MAX_PAYLOAD_BYTES of payload; the rest is room for the topic.
        .set_max_packet_size(MAX_PAYLOAD_BYTES + 1024, MAX_PAYLOAD_BYTES + 1024)
        .set_last_will(LastWill::new(
            topic(TopicKind::Status),
            Status::Offline.as_str(),
            QoS::AtLeastOnce,
            true,
        ));
    let capacity = settings.window as usize + 64;
    let (client, mut eventloop) = AsyncClient::new(options, capacity);
    let lock = || {
        channels
            .outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };

    // Backoff, pacing and the ack timeout run on the monotonic clock (`Instant`), not the
    // meter's wall clock: a time sync that steps the clock must not stall or burst them.
    let mut acked = lock().depth()?.acked_seq;
    let mut cursor = acked + 1;
    let mut connected = false;
    let mut backoff = Duration::from_millis(500);
    let mut last_progress = Instant::now();
    let mut tokens = f64::from(settings.replay_per_s);
    let mut refilled = Instant::now();
    let mut draining: Option<Instant> = None;
    // The hub's word on batches, heard on this connection (`None`: send single messages).
    let mut batch_max: Option<usize> = None;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    channels.link.send_modify(|link| link.acked_seq = acked);
    loop {
        tokio::select! {
            event = eventloop.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    UplinkConnected { meter: meter.as_str(), host: &settings.host, port: settings.port }.emit();
                    connected = true;
                    backoff = Duration::from_millis(500);
                    cursor = acked + 1;
                    last_progress = Instant::now();
                    forget_batching(&mut batch_max);
                    let _ = client.try_publish(topic(TopicKind::Status), QoS::AtLeastOnce, true, Status::Online.as_str());
                    let _ = client.try_subscribe(topic(TopicKind::Command), QoS::AtLeastOnce);
                    let _ = client.try_subscribe(topic(TopicKind::Stored), QoS::AtLeastOnce);
                    if settings.home_assistant {
                        for (config_topic, document) in discovery_documents(&settings.topics, &meter, "Joule meter") {
                            let _ = client.try_publish(config_topic, QoS::AtLeastOnce, true, document.to_string());
                        }
                    }
                    channels.link.send_modify(|link| {
                        link.connected = true;
                        link.last_error = None;
                    });
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    match incoming(&settings.topics, &meter, &publish.topic, &publish.payload) {
                        Ok(Downlink::Stored(ack)) => {
                            let said = ack.batch_max.and_then(|max| usize::try_from(max).ok());
                            if said != batch_max {
                                batch_max = said;
                                BatchingChanged { batch_max }.emit();
                            }
                            if ack.up_to_seq > acked {
                                lock().ack(ack.up_to_seq)?;
                                acked = ack.up_to_seq;
                                cursor = cursor.max(acked + 1);
                                last_progress = Instant::now();
                                channels.link.send_modify(|link| link.acked_seq = acked);
                            }
                        }
                        Ok(Downlink::Command(command)) => {
                            if channels.commands.try_send(command).is_err() {
                                CommandDropped.emit();
                            }
                        }
                        Err(error) => DownlinkRefused { topic: &publish.topic, error: &error }.emit(),
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    if connected || channels.link.borrow().last_error.is_none() {
                        BrokerUnreachable {
                            meter: meter.as_str(),
                            host: &settings.host,
                            port: settings.port,
                            error: &error,
                            connection_lost: connected,
                        }
                        .emit();
                    }
                    connected = false;
                    channels.link.send_modify(|link| {
                        link.connected = false;
                        link.last_error = Some(error.to_string());
                    });
                    let jitter = rand::rng().random_range(0.5..1.0);
                    tokio::select! {
                        () = tokio::time::sleep(backoff.mul_f64(jitter)) => {}
                        _ = shutdown.changed() => return Ok(()),
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
            _ = ticker.tick() => {}
            () = channels.wake.notified() => {}
            _ = shutdown.changed(), if draining.is_none() => {
                draining = Some(Instant::now() + DRAIN);
            }
        }
        if let Some(deadline) = draining
            && (!connected || Instant::now() >= deadline || lock().depth()?.messages == 0)
        {
            if connected {
                let _ = client.try_publish(
                    topic(TopicKind::Status),
                    QoS::AtLeastOnce,
                    true,
                    Status::Offline.as_str(),
                );
                let _ = client.try_disconnect();
                let deadline = tokio::time::sleep(Duration::from_secs(2));
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        event = eventloop.poll() => if event.is_err() { break },
                        () = &mut deadline => break,
                    }
                }
            }
            return Ok(());
        }
        if !connected {
            continue;
        }
        let elapsed = refilled.elapsed().as_secs_f64();
        refilled = Instant::now();
        let rate = f64::from(settings.replay_per_s);
        tokens = (tokens + elapsed * rate).min(rate);
        if cursor > acked + 1
            && last_progress.elapsed() > Duration::from_secs(u64::from(settings.ack_timeout_s))
        {
            tracing::info!(
                from = acked + 1,
                "no storage ack for a while; resending what the hub has not confirmed"
            );
            cursor = acked + 1;
            last_progress = Instant::now();
            forget_batching(&mut batch_max);
        }
        let in_flight = cursor - 1 - acked;
        let room = u64::from(settings.window).saturating_sub(in_flight);
        let per_publish = batch_max.map_or(1, |max| max as u64);
        let limit = room.min((tokens as u64).saturating_mul(per_publish));
        if limit == 0 {
            continue;
        }
        let messages = lock().next_batch(cursor, usize::try_from(limit).unwrap_or(usize::MAX))?;
        for publish in batching::publishes(messages, batch_max) {
            if tokens < 1.0 {
                break;
            }
            let batch = publish.kind == TopicKind::Batch;
            if client
                .try_publish(
                    topic(publish.kind),
                    QoS::AtLeastOnce,
                    false,
                    publish.payload,
                )
                .is_err()
            {
                break;
            }
            if batch {
                BatchPublished.emit();
            }
            cursor = publish.last_seq + 1;
            tokens -= 1.0;
        }
    }
}

/// Back to single messages until a storage ack on this connection says otherwise.
fn forget_batching(batch_max: &mut Option<usize>) {
    if batch_max.take().is_some() {
        BatchingChanged { batch_max: None }.emit();
    }
}

/// Decodes a message from the hub on one of this meter's topics.
fn incoming(
    topics: &Topics,
    meter: &MeterId,
    topic: &str,
    payload: &[u8],
) -> Result<Downlink, DecodeError> {
    let parsed = topics
        .parse(topic)
        .map_err(|error| DecodeError::Schema(error.to_string()))?;
    if &parsed.meter != meter {
        return Err(DecodeError::Schema(format!(
            "topic {topic} is not this meter's"
        )));
    }
    decode_downlink(parsed.kind, payload)
}
