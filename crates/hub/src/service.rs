//! The running ingest service: an MQTT client of the broker feeding the store.
//!
//! Two tasks. The reader polls the broker connection, judges each message ([`Ingest`]) and
//! queues the outcome on a bounded channel, acknowledging the MQTT delivery once queued;
//! when the queue is full it stops polling, so an overloaded store slows the broker rather
//! than growing the hub's memory. The writer takes batches off the queue (up to
//! `batch_max`, or whatever arrived within `batch_wait_ms`), writes each in one
//! transaction, and then tells every meter in the batch, on its `stored` topic, up to which
//! sequence number everything is stored. Only then may the meter drop those messages.

use crate::broker::{EmbeddedBroker, RegistryCredentials};
use crate::config::{HubConfig, broker_address};
use crate::ingest::{Ingest, Outcome};
use crate::store::{Batch, BatchOutcome, SqliteStore, StoreError};
use crate::tokens;
use joule_protocol::{PAYLOAD_VERSION, StorageAck, TopicKind, Topics, encode};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Why the service stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store failed; the hub stops rather than acknowledge what it did not store.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The broker connection could not be set up.
    #[error("broker: {0}")]
    Broker(String),
}

/// The current time in Unix ms (the service's only clock).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// How the hub reaches its broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConnection {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Username and password, when the broker asks for them.
    pub credentials: Option<(String, String)>,
}

impl BrokerConnection {
    /// The external broker named by `[broker] url`, if there is one.
    pub fn external(config: &HubConfig) -> Option<Self> {
        let (host, port) = broker_address(config.broker.url.as_deref()?)?;
        let credentials = config
            .broker
            .username
            .clone()
            .map(|username| (username, config.broker.password.clone().unwrap_or_default()));
        Some(Self {
            host,
            port,
            credentials,
        })
    }
}

/// Runs the hub: the embedded broker (unless `[broker] url` names an external one) and
/// ingest, until the store fails or `shutdown` resolves.
pub async fn serve(
    config: &HubConfig,
    store: Arc<SqliteStore>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServiceError> {
    if let Some(external) = BrokerConnection::external(config) {
        return run(config, &external, store, shutdown).await;
    }
    // The hub's own login: a fresh secret every start, never stored.
    let secret = tokens::generate();
    let credentials = Arc::new(RegistryCredentials::new(
        Arc::clone(&store),
        config.broker.client_id.clone(),
        secret.clone(),
    ));
    let broker = EmbeddedBroker::start(
        config.broker.listen,
        credentials,
        Topics::new(&config.topics.prefix),
    )
    .await
    .map_err(|error| ServiceError::Broker(error.to_string()))?;
    let address = broker.local_addr();
    let host = if address.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        address.ip().to_string()
    };
    let connection = BrokerConnection {
        host,
        port: address.port(),
        credentials: Some((config.broker.client_id.clone(), secret)),
    };
    let result = run(config, &connection, store, shutdown).await;
    drop(broker);
    result
}

/// Connects to the broker and runs ingest until the store fails or `shutdown` resolves.
pub async fn run(
    config: &HubConfig,
    broker: &BrokerConnection,
    store: Arc<SqliteStore>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServiceError> {
    let mut options = MqttOptions::new(&config.broker.client_id, broker.host.clone(), broker.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_max_packet_size(joule_protocol::MAX_PAYLOAD_BYTES + 1024, 64 * 1024);
    if let Some((username, password)) = &broker.credentials {
        options.set_credentials(username, password);
    }
    let (client, eventloop) = AsyncClient::new(options, 1024);
    let topics = Topics::new(&config.topics.prefix);
    let (queue, receiver) = mpsc::channel(config.ingest.queue);
    let writer = tokio::spawn(write_batches(
        receiver,
        Arc::clone(&store),
        client.clone(),
        topics.clone(),
        config.ingest.batch_max,
        Duration::from_millis(config.ingest.batch_wait_ms),
    ));
    let mut ingest = Ingest::new(topics.clone());
    let seed_store = Arc::clone(&store);
    let latest = tokio::task::spawn_blocking(move || seed_store.latest_registers())
        .await
        .map_err(|error| ServiceError::Broker(format!("seeding task: {error}")))??;
    for (meter, ts_ms, registers) in latest {
        ingest.seed(meter, ts_ms, &registers);
    }
    let reader = tokio::spawn(read_messages(
        eventloop,
        client.clone(),
        topics,
        ingest,
        queue,
    ));
    let mut writer = writer;
    let result = tokio::select! {
        () = shutdown => {
            tracing::info!("shutting down");
            // Stopping the reader closes the queue; the writer stores what is queued and
            // acknowledges it before it ends.
            reader.abort();
            (&mut writer).await
        }
        result = &mut writer => {
            reader.abort();
            result
        }
    };
    let _ = client.disconnect().await;
    result.map_err(|error| ServiceError::Broker(format!("writer task: {error}")))?
}

/// Polls the broker: subscribes on every (re)connection, judges and queues messages.
async fn read_messages(
    mut eventloop: EventLoop,
    client: AsyncClient,
    topics: Topics,
    mut ingest: Ingest,
    queue: mpsc::Sender<Outcome>,
) {
    let mut failures: u32 = 0;
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                tracing::info!("connected to the broker");
                for kind in TopicKind::ALL.into_iter().filter(|kind| kind.from_meter()) {
                    if let Err(error) = client
                        .subscribe(topics.all_meters(kind), QoS::AtLeastOnce)
                        .await
                    {
                        tracing::error!(%error, "subscribing failed");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let outcome = ingest.accept(&publish.topic, &publish.payload, now_ms());
                if queue.send(outcome).await.is_err() {
                    return;
                }
                if let Err(error) = client.ack(&publish).await {
                    tracing::warn!(%error, "acknowledging a delivery failed");
                }
            }
            Ok(_) => {}
            Err(error) => {
                failures = failures.saturating_add(1);
                let backoff = Duration::from_millis(200 * u64::from(failures.min(25)));
                tracing::warn!(%error, ?backoff, "broker connection lost; reconnecting");
                tokio::time::sleep(backoff).await;
            }
        }
    }
}

/// Writes batches and publishes storage acknowledgements after each commit.
async fn write_batches(
    mut receiver: mpsc::Receiver<Outcome>,
    store: Arc<SqliteStore>,
    client: AsyncClient,
    topics: Topics,
    batch_max: usize,
    batch_wait: Duration,
) -> Result<(), ServiceError> {
    let mut pending: Vec<Outcome> = Vec::with_capacity(batch_max);
    loop {
        let Some(first) = receiver.recv().await else {
            return Ok(());
        };
        pending.push(first);
        let deadline = tokio::time::Instant::now() + batch_wait;
        while pending.len() < batch_max {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(outcome)) => pending.push(outcome),
                Ok(None) | Err(_) => break,
            }
        }
        let mut batch = Batch::default();
        for outcome in pending.drain(..) {
            match outcome {
                Outcome::Accept(meter, message) => batch.messages.push((meter, message)),
                Outcome::Reject(letter) => batch.dead_letters.push(letter),
                Outcome::Status(meter, status) => {
                    tracing::info!(
                        meter = meter.as_str(),
                        status = status.as_str(),
                        "meter status"
                    );
                }
            }
        }
        if batch.messages.is_empty() && batch.dead_letters.is_empty() {
            continue;
        }
        let writer_store = Arc::clone(&store);
        let outcome: BatchOutcome =
            tokio::task::spawn_blocking(move || writer_store.write_batch(&batch))
                .await
                .map_err(|error| ServiceError::Broker(format!("writer task: {error}")))??;
        for (meter, up_to_seq) in outcome.acknowledged {
            let ack = StorageAck {
                v: PAYLOAD_VERSION,
                up_to_seq,
                ts_ms: now_ms(),
            };
            let topic = topics.topic(&meter, TopicKind::Stored);
            // Never wait here: the reader may be waiting for this task to take from the queue,
            // and only the reader's polling sends publishes. Acks are cumulative, so one that
            // cannot be queued now is covered by the next batch's (or the meter resends).
            if let Err(error) = client.try_publish(topic, QoS::AtLeastOnce, false, encode(&ack)) {
                tracing::warn!(%error, meter = meter.as_str(), "storage ack not queued");
            }
        }
    }
}
