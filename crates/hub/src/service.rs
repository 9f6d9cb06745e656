//! The running ingest service: an MQTT client of the broker feeding the store.
//!
//! Two tasks. The reader polls the broker connection, judges each message ([`Ingest`]) and
//! queues the outcome (one per item of a meter's batch message) on a bounded channel,
//! acknowledging the MQTT delivery once queued;
//! when the queue is full it stops polling, so an overloaded store slows the broker rather
//! than growing the hub's memory. The writer takes batches off the queue (up to
//! `batch_max`, or whatever arrived within `batch_wait_ms`), writes each in one
//! transaction, and then tells every meter in the batch, on its `stored` topic, up to which
//! sequence number everything is stored, and, unless `ingest.uplink_batch_max` is 0, how
//! many items it reads in one batch message. Only then may the meter drop those messages.

use crate::billing::market::MarketCache;
use crate::broker::{EmbeddedBroker, RegistryCredentials};
use crate::config::{BrokerUrl, HubConfig, TlsFiles};
use crate::context::{Outgoing, Shared, WATCH_QUEUE, WatchInput};
use crate::ingest::{Ingest, Outcome};
use crate::market::MarketInputs;
use crate::telemetry::BatchStored;
use joule_clock::{SharedClock, SystemClock};
use joule_protocol::{Command, PAYLOAD_VERSION, StorageAck, TopicKind, Topics, encode};
use joule_store::tokens;
use joule_store::{Batch, CommandRecord, CommandStatus, Store, StoreError};
use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, TlsConfiguration, Transport,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast, mpsc, watch};

/// Why the service stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store failed; the hub stops rather than acknowledge what it did not store.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The broker connection could not be set up.
    #[error("broker: {0}")]
    Broker(String),
    /// The HTTP server failed.
    #[error("http: {0}")]
    Http(String),
    /// A certificate, key or CA file named by `key` could not be used.
    #[error("{key}: {source}")]
    Tls {
        /// The configuration key naming the file.
        key: &'static str,
        /// Why.
        source: joule_tls::TlsError,
    },
}

/// How the hub reaches its broker.
#[derive(Debug, Clone)]
pub struct BrokerConnection {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Username and password, when the broker asks for them.
    pub credentials: Option<(String, String)>,
    /// TLS settings, for an `mqtts://` broker.
    pub tls: Option<Arc<joule_tls::ClientConfig>>,
}

impl BrokerConnection {
    /// The external broker named by `[broker] url`, if there is one (a url that does not
    /// parse is refused when the configuration loads).
    pub fn external(config: &HubConfig) -> Result<Option<Self>, ServiceError> {
        let Some(url) = config.broker.url.as_deref().and_then(BrokerUrl::parse) else {
            return Ok(None);
        };
        let tls = if url.tls {
            let ca_file = config.broker.ca_file.as_deref();
            let tls = joule_tls::client_config(ca_file).map_err(|source| ServiceError::Tls {
                key: "broker.ca_file",
                source,
            })?;
            Some(tls)
        } else {
            None
        };
        let credentials = config
            .broker
            .username
            .clone()
            .map(|username| (username, config.broker.password.clone().unwrap_or_default()));
        Ok(Some(Self {
            host: url.host,
            port: url.port,
            credentials,
            tls,
        }))
    }
}

/// A TLS server configuration from the files `key` names.
fn server_tls(
    files: &TlsFiles,
    key: &'static str,
    alpn: &[&[u8]],
) -> Result<Arc<joule_tls::ServerConfig>, ServiceError> {
    joule_tls::server_config(&files.certificate, &files.key, alpn)
        .map_err(|source| ServiceError::Tls { key, source })
}

/// A hub ready to run: what its parts share, and the receiving ends of its queues.
#[derive(Debug)]
pub struct Hub {
    shared: Shared,
    commands: mpsc::Receiver<CommandRecord>,
    outgoing: mpsc::Receiver<Outgoing>,
    watch: mpsc::Receiver<WatchInput>,
    market: Arc<dyn MarketInputs>,
    /// Billing's figures in memory, when they are the market (then their refresher runs).
    market_cache: Option<MarketCache>,
}

impl Hub {
    /// A hub with `config` storing into `store`, whose alert and automation rules read
    /// bill forecasts and prices from billing (`billing::market`).
    pub fn new(config: HubConfig, store: Arc<dyn Store>) -> Self {
        Self::with_clock(config, store, SystemClock::shared())
    }

    /// A hub like [`Hub::new`] whose parts read the time from `clock` (tests pass a
    /// manual clock).
    pub fn with_clock(config: HubConfig, store: Arc<dyn Store>, clock: SharedClock) -> Self {
        let (commands_tx, commands) = mpsc::channel(1024);
        let (outgoing_tx, outgoing) = mpsc::channel(1024);
        let (watch_tx, watch) = mpsc::channel(WATCH_QUEUE);
        let (live, _) = broadcast::channel(4096);
        let market_cache = MarketCache::default();
        Self {
            shared: Shared {
                config: Arc::new(config),
                store,
                clock,
                live,
                commands: commands_tx,
                outgoing: outgoing_tx,
                watch: watch_tx,
                http: reqwest::Client::new(),
                billing_changed: Arc::new(Notify::new()),
            },
            commands,
            outgoing,
            watch,
            market: Arc::new(market_cache.clone()),
            market_cache: Some(market_cache),
        }
    }

    /// Uses `market` instead of billing for the bill forecasts and prices that alert and
    /// automation rules read (`market::Unpriced` knows none, so such rules never fire).
    pub fn with_market(mut self, market: Arc<dyn MarketInputs>) -> Self {
        self.market = market;
        self.market_cache = None;
        self
    }

    /// What the parts share (for the API).
    pub fn shared(&self) -> Shared {
        self.shared.clone()
    }

    /// Runs everything: the embedded broker (unless `[broker] url` names an external one),
    /// ingest and command dispatch, and the HTTP API on `http` — until the store fails or
    /// `shutdown` resolves.
    pub async fn serve(
        self,
        http: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServiceError> {
        let config = Arc::clone(&self.shared.config);
        let external = BrokerConnection::external(&config)?;
        let broker_tls = match &config.broker.tls {
            Some(files) => Some(server_tls(files, "broker.tls", &[])?),
            None => None,
        };
        let (stop, stopped) = watch::channel(false);
        let api = match &config.http.tls {
            Some(files) => {
                // HTTP/1.1 only: the API and the portal's server-sent events need no more.
                let tls = server_tls(files, "http.tls", &[b"http/1.1"])?;
                let http = crate::tls::TlsListener::new(http, tls)
                    .map_err(|error| ServiceError::Http(error.to_string()))?;
                tokio::spawn(crate::api::serve(http, self.shared(), stopped))
            }
            None => tokio::spawn(crate::api::serve(http, self.shared(), stopped)),
        };
        let result = if let Some(external) = external {
            self.ingest(&external, shutdown).await
        } else {
            // The hub's own login: a fresh secret every start, never stored.
            let secret = tokens::generate();
            let credentials = Arc::new(RegistryCredentials::new(
                Arc::clone(&self.shared.store),
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
            let loopback = if address.ip().is_unspecified() {
                std::net::SocketAddr::new([127, 0, 0, 1].into(), address.port())
            } else {
                address
            };
            let forwarder = match (config.broker.tls_listen, broker_tls) {
                (Some(listen), Some(tls)) => {
                    let tcp = tokio::net::TcpListener::bind(listen)
                        .await
                        .map_err(|error| {
                            ServiceError::Broker(format!("cannot listen on {listen}: {error}"))
                        })?;
                    let listener = crate::tls::TlsListener::new(tcp, tls)
                        .map_err(|error| ServiceError::Broker(error.to_string()))?;
                    tracing::info!(listen = %listener.local_addr(), "MQTT over TLS listening");
                    Some(crate::tls::forward_to_broker(listener, loopback))
                }
                _ => None,
            };
            let connection = BrokerConnection {
                host: loopback.ip().to_string(),
                port: loopback.port(),
                credentials: Some((config.broker.client_id.clone(), secret)),
                tls: None,
            };
            let result = self.ingest(&connection, shutdown).await;
            if let Some(forwarder) = forwarder {
                forwarder.abort();
            }
            drop(broker);
            result
        };
        let _ = stop.send(true);
        match api.await {
            Ok(Ok(())) => result,
            Ok(Err(error)) => result.and(Err(ServiceError::Http(error))),
            Err(error) => result.and(Err(ServiceError::Http(error.to_string()))),
        }
    }

    /// Connects to the broker and runs ingest and command dispatch (no HTTP) until the
    /// store fails or `shutdown` resolves.
    pub async fn ingest(
        self,
        broker: &BrokerConnection,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServiceError> {
        let Self {
            shared,
            commands,
            outgoing,
            watch,
            market,
            market_cache,
        } = self;
        let config = Arc::clone(&shared.config);
        let mut options =
            MqttOptions::new(&config.broker.client_id, broker.host.clone(), broker.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(false)
            .set_manual_acks(true)
            .set_max_packet_size(joule_protocol::MAX_PAYLOAD_BYTES + 1024, 64 * 1024);
        if let Some((username, password)) = &broker.credentials {
            options.set_credentials(username, password);
        }
        if let Some(tls) = &broker.tls {
            options.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::clone(tls))));
        }
        // Room for a batch's storage acks (one per meter in it) and the MQTT acks beside them.
        let (client, eventloop) = AsyncClient::new(options, 2 * config.ingest.batch_max + 1024);
        let topics = Topics::new(&config.topics.prefix);
        let (queue, receiver) = mpsc::channel(config.ingest.queue);
        let mut writer = tokio::spawn(write_batches(
            receiver,
            shared.clone(),
            client.clone(),
            topics.clone(),
            config.ingest.batch_max,
            Duration::from_millis(config.ingest.batch_wait_ms),
        ));
        let mut ingest = Ingest::new(topics.clone());
        for (meter, ts_ms, registers) in shared.store.latest_registers().await? {
            ingest.seed(meter, ts_ms, &registers);
        }
        let reader = tokio::spawn(read_messages(
            eventloop,
            client.clone(),
            topics.clone(),
            ingest,
            queue,
            Arc::clone(&shared.clock),
        ));
        let dispatcher = tokio::spawn(dispatch_commands(
            commands,
            shared.clone(),
            client.clone(),
            topics,
        ));
        let housekeeping = tokio::spawn(crate::housekeeping::run(shared.clone()));
        let publisher = tokio::spawn(publish_outgoing(outgoing, client.clone()));
        let watcher = tokio::spawn(crate::watcher::run(shared.clone(), watch, market));
        let prices = tokio::spawn(crate::billing::prices::fetch_sources(
            Arc::clone(&shared.store),
            config.billing.price_sources.clone(),
            Arc::clone(&shared.billing_changed),
        ));
        let market_refresher = market_cache.map(|cache| {
            tokio::spawn(crate::billing::market::run(
                Arc::clone(&shared.store),
                Arc::clone(&shared.clock),
                cache,
                Arc::clone(&shared.billing_changed),
            ))
        });
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
        dispatcher.abort();
        housekeeping.abort();
        publisher.abort();
        watcher.abort();
        prices.abort();
        if let Some(refresher) = market_refresher {
            refresher.abort();
        }
        let _ = client.disconnect().await;
        result.map_err(|error| ServiceError::Broker(format!("writer task: {error}")))?
    }
}

/// Runs the hub with `config` on `store` until `shutdown` resolves (`joule hub`).
pub async fn serve(
    config: HubConfig,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServiceError> {
    let http = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|error| {
            ServiceError::Http(format!("cannot listen on {}: {error}", config.http.listen))
        })?;
    tracing::info!(listen = %config.http.listen, "HTTP API and portal listening");
    Hub::new(config, store).serve(http, shutdown).await
}

/// Runs ingest only (no HTTP) against `broker` until `shutdown` resolves.
pub async fn run(
    config: &HubConfig,
    broker: &BrokerConnection,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServiceError> {
    Hub::new(config.clone(), store)
        .ingest(broker, shutdown)
        .await
}

/// Publishes commands to their meters, then marks them sent. Commands left pending by an
/// earlier run (stored, then the hub stopped) go first.
async fn dispatch_commands(
    mut commands: mpsc::Receiver<CommandRecord>,
    shared: Shared,
    client: AsyncClient,
    topics: Topics,
) {
    let pending = shared
        .store
        .commands(None, Some(CommandStatus::Pending), usize::MAX)
        .await;
    let leftover = match pending {
        Ok(pending) => pending.into_iter().rev().collect(),
        Err(error) => {
            tracing::error!(%error, "reading pending commands failed");
            Vec::new()
        }
    };
    let mut leftover = leftover.into_iter();
    loop {
        let command = match leftover.next() {
            Some(command) => command,
            None => match commands.recv().await {
                Some(command) => command,
                None => return,
            },
        };
        let wire = Command {
            v: PAYLOAD_VERSION,
            id: command.id,
            ts_ms: command.created_ms,
            expires_ms: Some(command.expires_ms),
            action: command.action.clone(),
        };
        let topic = topics.topic(&command.meter, TopicKind::Command);
        if let Err(error) = client
            .publish(topic, QoS::AtLeastOnce, false, encode(&wire))
            .await
        {
            tracing::error!(%error, id = command.id, "publishing a command failed");
            continue;
        }
        if let Err(error) = shared
            .store
            .set_command_status(command.id, CommandStatus::Sent, None, shared.now_ms())
            .await
        {
            tracing::error!(%error, id = command.id, "marking a command sent failed");
        }
    }
}

/// Publishes what alerts and automation hand the hub's MQTT connection.
async fn publish_outgoing(mut outgoing: mpsc::Receiver<Outgoing>, client: AsyncClient) {
    while let Some(message) = outgoing.recv().await {
        let result = client
            .publish(
                message.topic,
                QoS::AtLeastOnce,
                message.retain,
                message.payload,
            )
            .await
            .map_err(|error| error.to_string());
        // The asker may have given up waiting.
        let _ = message.done.send(result);
    }
}

/// Polls the broker: subscribes on every (re)connection, judges and queues messages.
async fn read_messages(
    mut eventloop: EventLoop,
    client: AsyncClient,
    topics: Topics,
    mut ingest: Ingest,
    queue: mpsc::Sender<Outcome>,
    clock: SharedClock,
) {
    let mut failures: u32 = 0;
    // This task alone polls the connection, so it must never wait on the client's request
    // queue (which only polling drains): deliveries to acknowledge wait here instead.
    let mut unacked: std::collections::VecDeque<rumqttc::Publish> =
        std::collections::VecDeque::new();
    loop {
        while let Some(publish) = unacked.front() {
            if client.try_ack(publish).is_err() {
                break;
            }
            unacked.pop_front();
        }
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                // Acks for deliveries of the old connection mean nothing to the new one.
                unacked.clear();
                tracing::info!("connected to the broker");
                for kind in TopicKind::ALL.into_iter().filter(|kind| kind.from_meter()) {
                    if let Err(error) =
                        client.try_subscribe(topics.all_meters(kind), QoS::AtLeastOnce)
                    {
                        tracing::error!(%error, "subscribing failed");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                // A batch's items go one by one, so the writer's batches stay the size the
                // configuration says; the delivery is acknowledged once all are queued.
                for outcome in ingest.accept(&publish.topic, &publish.payload, clock.now_ms()) {
                    if queue.send(outcome).await.is_err() {
                        return;
                    }
                }
                unacked.push_back(publish);
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
    shared: Shared,
    client: AsyncClient,
    topics: Topics,
    batch_max: usize,
    batch_wait: Duration,
) -> Result<(), ServiceError> {
    // What every storage ack tells meters about batches (nothing when they are off).
    let uplink_batch_max = Some(shared.config.ingest.uplink_batch_max).filter(|max| *max > 0);
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
                Outcome::Reject(letter) => {
                    batch.messages.extend(letter.settlement());
                    batch.dead_letters.push(letter);
                }
                Outcome::Status(meter, status) => {
                    tracing::info!(
                        meter = meter.as_str(),
                        status = status.as_str(),
                        "meter status"
                    );
                    batch.statuses.push((meter, status, shared.now_ms()));
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        let outcome = shared.store.write_batch(&batch).await?;
        crate::watcher::feed(&shared, &batch, &outcome);
        BatchStored {
            stored: outcome.stored,
            duplicates: outcome.duplicates,
            seconds: started.elapsed().as_secs_f64(),
            queue_depth: receiver.len(),
        }
        .emit();
        for (meter, up_to_seq) in outcome.acknowledged {
            let ack = StorageAck {
                v: PAYLOAD_VERSION,
                up_to_seq,
                ts_ms: shared.now_ms(),
                batch_max: uplink_batch_max,
            };
            let topic = topics.topic(&meter, TopicKind::Stored);
            // Never wait here: the reader may be waiting for this task to take from the queue,
            // and only the reader's polling sends publishes. Acks are cumulative, so one that
            // cannot be queued now is covered by the next batch's (or the meter resends).
            if let Err(error) = client.try_publish(topic, QoS::AtLeastOnce, false, encode(&ack)) {
                tracing::warn!(%error, meter = meter.as_str(), "storage ack not queued");
            }
        }
        for update in outcome.new_live {
            // Nobody listening is fine.
            let _ = shared.live.send(update);
        }
    }
}
