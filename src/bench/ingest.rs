//! `joule bench ingest`: N meters publish live readings over MQTT QoS 1 for a fixed time
//! into a hub storing durably; figures: readings/s stored, publish-to-stored latency
//! (a storage ack is sent after the commit, so acked is queryable), readings lost, bytes
//! on disk per reading. The anchor in the same run: Debian's Mosquitto delivering the same
//! messages from the same publishers to one bare subscriber.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use joule_hub::config::HubConfig;
use joule_hub::service::Hub;
use joule_protocol::{
    LiveReading, MeterId, PAYLOAD_VERSION, Registers, RelayState, StorageAck, TopicKind, Topics,
    encode,
};
use joule_store::tokens;
use joule_store::{MeterDetails, NewMeter, Store};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;

use super::{Progress, machine, percentile, postgres_bytes, sqlite_bytes, write_json};
use crate::cli::BenchIngestArgs;

/// What one run of publishers measured.
#[derive(Debug, Default)]
struct Run {
    published: u64,
    delivered: u64,
    latencies_ms: Vec<f64>,
    window_s: f64,
}

/// What tells a publisher its readings arrived.
#[derive(Debug, Clone)]
enum Acks {
    /// The hub's storage acks (Joule).
    Storage,
    /// The bare subscriber's count of this meter's deliveries (the Mosquitto baseline:
    /// delivered in order, so the count is the highest seq delivered).
    Delivered(Arc<AtomicU64>),
}

/// One meter's publisher: as fast as the broker takes (or `rate` a second), keeping each
/// reading until it is acknowledged, like a real meter's outbox, with at most `WINDOW`
/// waiting. Both runs use the same closed loop, so they are compared at the same load.
async fn publisher(
    port: u16,
    meter: MeterId,
    token: Option<String>,
    rate_per_s: f64,
    running: Arc<AtomicBool>,
    acks: Acks,
    published: Arc<AtomicU64>,
) -> (u64, Vec<f64>) {
    let storage_acks = matches!(acks, Acks::Storage);
    let topics = Topics::default();
    let mut options = MqttOptions::new(meter.as_str(), "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(100);
    if let Some(token) = &token {
        options.set_credentials(meter.as_str(), token);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 200);
    let live_topic = topics.topic(&meter, TopicKind::Live);
    let _ = client.try_subscribe(topics.topic(&meter, TopicKind::Stored), QoS::AtLeastOnce);
    let base_ms = super::now_ms() - 600_000;
    let mut outbox: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut latencies = Vec::new();
    let mut seq = 0u64;
    let mut connected = false;
    let mut next_due = Instant::now();
    let mut drain_deadline: Option<Instant> = None;
    let mut last_progress = Instant::now();
    loop {
        let publishing = running.load(Ordering::Relaxed);
        if !publishing {
            let done = outbox.is_empty();
            let deadline =
                *drain_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(60));
            // Resend what waits for an ack, as a meter's outbox does, if acks stall.
            if storage_acks && last_progress.elapsed() > RESEND_AFTER {
                resend(&client, &live_topic, &outbox, base_ms);
                last_progress = Instant::now();
            }
            if done || Instant::now() > deadline {
                break;
            }
        }
        if storage_acks && connected && last_progress.elapsed() > RESEND_AFTER {
            resend(&client, &live_topic, &outbox, base_ms);
            last_progress = Instant::now();
        }
        while connected
            && publishing
            && outbox.len() < WINDOW
            && (rate_per_s <= 0.0 || Instant::now() >= next_due)
        {
            let reading = live_reading(seq + 1, base_ms);
            if client
                .try_publish(&live_topic, QoS::AtLeastOnce, false, encode(&reading))
                .is_err()
            {
                break;
            }
            seq += 1;
            published.fetch_add(1, Ordering::Relaxed);
            outbox.push_back((seq, Instant::now()));
            if rate_per_s > 0.0 {
                next_due += Duration::from_secs_f64(1.0 / rate_per_s);
            }
        }
        let poll = tokio::time::timeout(Duration::from_millis(50), eventloop.poll()).await;
        let mut acknowledged = match &acks {
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

/// Readings a meter keeps unacknowledged at most before it waits (its outbox window).
const WINDOW: usize = 200;
/// Without an ack for this long, a meter resends what is unacknowledged.
const RESEND_AFTER: Duration = Duration::from_secs(5);

/// Queues what `outbox` holds again (the hub stores each (meter, seq) once).
fn resend(client: &AsyncClient, topic: &str, outbox: &VecDeque<(u64, Instant)>, base_ms: i64) {
    for (seq, _) in outbox {
        let _ = client.try_publish(
            topic,
            QoS::AtLeastOnce,
            false,
            encode(&live_reading(*seq, base_ms)),
        );
    }
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

/// Runs `meters` publishers against `port` for `seconds`, showing progress.
async fn run_publishers(
    label: &'static str,
    port: u16,
    meters: &[(MeterId, Option<String>)],
    args: &BenchIngestArgs,
    acks: &[Acks],
    delivered: Arc<AtomicU64>,
) -> Run {
    let running = Arc::new(AtomicBool::new(true));
    let published = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = meters
        .iter()
        .zip(acks)
        .map(|((meter, token), acks)| {
            tokio::spawn(publisher(
                port,
                meter.clone(),
                token.clone(),
                args.rate,
                Arc::clone(&running),
                acks.clone(),
                Arc::clone(&published),
            ))
        })
        .collect();
    let window = Duration::from_secs(args.seconds);
    let mut progress = Progress::new(label, window);
    // The window opens once the first messages flow (connections are set up first).
    while delivered.load(Ordering::Relaxed) == 0 && published.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let delivered_at_start = delivered.load(Ordering::Relaxed);
    while started.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let rate = (delivered.load(Ordering::Relaxed) - delivered_at_start) as f64
            / started.elapsed().as_secs_f64();
        progress.show(&format!("{rate:>9.0} readings/s"));
    }
    let delivered_in_window = delivered.load(Ordering::Relaxed) - delivered_at_start;
    let window_s = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    let mut run = Run {
        delivered: delivered_in_window,
        window_s,
        ..Run::default()
    };
    for task in tasks {
        if let Ok((sent, latencies)) = task.await {
            run.published += sent;
            run.latencies_ms.extend(latencies);
        }
    }
    progress.finish(&format!(
        "{:.0} readings/s",
        run.delivered as f64 / run.window_s
    ));
    run
}

/// Debian's Mosquitto on a free port, anonymous, killed when dropped.
struct Mosquitto {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    fn start() -> anyhow::Result<Self> {
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

/// The bare subscriber of the baseline: counts every live reading delivered, in all and
/// per meter (`bench-NNNNNN` indexes `per_meter`).
async fn count_deliveries(
    port: u16,
    delivered: Arc<AtomicU64>,
    per_meter: Vec<Arc<AtomicU64>>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut options = MqttOptions::new("bench-subscriber", "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(1000);
    let (client, mut eventloop) = AsyncClient::new(options, 1000);
    let topics = Topics::default();
    let _ = client
        .subscribe(topics.all_meters(TopicKind::Live), QoS::AtLeastOnce)
        .await;
    let mut ready = Some(ready);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                delivered.fetch_add(1, Ordering::Relaxed);
                let index = publish
                    .topic
                    .split('/')
                    .find_map(|part| part.strip_prefix("bench-"))
                    .and_then(|n| n.parse::<usize>().ok());
                if let Some(count) = index.and_then(|i| per_meter.get(i)) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// `joule bench ingest`.
pub(crate) fn run(args: &BenchIngestArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    if args.meters == 0 || args.seconds == 0 {
        bail!("--meters and --seconds must be at least 1");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(measure(args))?;
    let joule_rate = report["joule"]["readings_per_s"].as_f64().unwrap_or(0.0);
    writeln!(
        out,
        "\njoule bench ingest — {} meters, {} s, {} store, {} broker, {}",
        args.meters,
        args.seconds,
        report["joule"]["backend"].as_str().unwrap_or("?"),
        report["joule"]["broker"].as_str().unwrap_or("?"),
        machine()
    )?;
    writeln!(out, "{:<34} {:>14}", "figure", "value")?;
    let rows = [
        ("stored readings/s (Joule)", format!("{joule_rate:.0}")),
        (
            "publish→stored p50 (ms)",
            format!(
                "{:.1}",
                report["joule"]["latency_p50_ms"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            ),
        ),
        (
            "publish→stored p99 (ms)",
            format!(
                "{:.1}",
                report["joule"]["latency_p99_ms"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
            ),
        ),
        ("readings lost", report["joule"]["lost"].to_string()),
        (
            "bytes on disk per reading",
            format!(
                "{:.0}",
                report["joule"]["bytes_per_reading"].as_f64().unwrap_or(0.0)
            ),
        ),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<34} {value:>14}")?;
    }
    if let Some(rate) = report["mosquitto"]["delivered_per_s"].as_f64() {
        writeln!(
            out,
            "{:<34} {:>14.0}",
            "Mosquitto → bare subscriber /s", rate
        )?;
        writeln!(
            out,
            "{:<34} {:>14.1}",
            "Mosquitto publish→delivered p99 (ms)",
            report["mosquitto"]["latency_p99_ms"]
                .as_f64()
                .unwrap_or(f64::NAN)
        )?;
        writeln!(
            out,
            "{:<34} {:>14.2}",
            "ratio Joule / Mosquitto",
            joule_rate / rate
        )?;
    }
    write_json(&args.json, &report)?;
    writeln!(out, "written to {}", args.json.display())?;
    if report["joule"]["lost"].as_u64() != Some(0) {
        bail!("readings were lost");
    }
    Ok(())
}

async fn measure(args: &BenchIngestArgs) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.sqlite");
    let mut config = HubConfig::load(None, |_| None)?;
    config.storage.sqlite = db.clone();
    config.storage.postgres = args.postgres.clone();
    let mqtt_port = match &args.broker {
        Some(url) => {
            let (_, port) = joule_hub::config::broker_address(url)
                .with_context(|| format!("--broker {url}: expected mqtt://host:port"))?;
            config.broker.url = Some(url.clone());
            config.broker.client_id = format!("joule-bench-hub-{}", std::process::id());
            port
        }
        None => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            config.broker.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            port
        }
    };
    let backend = if args.postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let broker = if args.broker.is_some() {
        "external"
    } else {
        "embedded"
    };
    let store: Arc<dyn Store> = crate::hub::open_store(&config).await?;
    let mut meters = Vec::with_capacity(args.meters);
    for n in 0..args.meters {
        let id = MeterId::new(&format!("bench-{n:06}"))?;
        let token = tokens::generate();
        store
            .add_meter(
                NewMeter {
                    id: id.clone(),
                    details: MeterDetails::default(),
                    token_hash: tokens::hash(&token),
                    // No Mosquitto hash: its PBKDF2 would dominate provisioning a fleet.
                    mosquitto_hash: None,
                },
                0,
            )
            .await?;
        meters.push((id, Some(token)));
    }
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let hub = tokio::spawn(Hub::new(config, Arc::clone(&store)).serve(http, async {
        let _ = stopped.await;
    }));
    while tokio::net::TcpStream::connect(("127.0.0.1", mqtt_port))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Stored readings are counted from the acks the meters receive.
    let stored_counter = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&stored_counter);
    let watcher_store = Arc::clone(&store);
    let watched: Vec<MeterId> = meters.iter().map(|(id, _)| id.clone()).collect();
    let watcher = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut total = 0;
            for id in &watched {
                total += watcher_store.contiguous_seq(id).await.unwrap_or(0);
            }
            counter.store(total, Ordering::Relaxed);
        }
    });
    let joule = run_publishers(
        "Joule",
        mqtt_port,
        &meters,
        args,
        &vec![Acks::Storage; meters.len()],
        Arc::clone(&stored_counter),
    )
    .await;
    watcher.abort();
    let _ = stop.send(());
    hub.await.context("hub task")??;
    let mut stored = 0;
    for (id, _) in &meters {
        stored += store.contiguous_seq(id).await?;
    }
    let lost = joule.published.saturating_sub(stored);
    let bytes = match &args.postgres {
        Some(conninfo) => postgres_bytes(conninfo).await?,
        None => sqlite_bytes(&db),
    };
    let mut latencies = joule.latencies_ms.clone();
    latencies.sort_by(f64::total_cmp);
    let mut report = json!({
        "machine": machine(),
        "meters": args.meters,
        "seconds": args.seconds,
        "rate_per_meter": args.rate,
        "joule": {
            "backend": backend,
            "broker": broker,
            "published": joule.published,
            "stored": stored,
            "lost": lost,
            "readings_per_s": joule.delivered as f64 / joule.window_s,
            "latency_p50_ms": percentile(&latencies, 50.0),
            "latency_p99_ms": percentile(&latencies, 99.0),
            "bytes_on_disk": bytes,
            "bytes_per_reading": bytes as f64 / stored.max(1) as f64,
        }
    });
    drop(store);
    if !args.no_baseline {
        let mosquitto = Mosquitto::start()?;
        let delivered = Arc::new(AtomicU64::new(0));
        let (ready, subscribed) = tokio::sync::oneshot::channel();
        let per_meter: Vec<Arc<AtomicU64>> =
            meters.iter().map(|_| Arc::new(AtomicU64::new(0))).collect();
        let acks: Vec<Acks> = per_meter
            .iter()
            .map(|count| Acks::Delivered(Arc::clone(count)))
            .collect();
        let subscriber = tokio::spawn(count_deliveries(
            mosquitto.port,
            Arc::clone(&delivered),
            per_meter,
            ready,
        ));
        let _ = subscribed.await;
        let anonymous: Vec<(MeterId, Option<String>)> =
            meters.iter().map(|(id, _)| (id.clone(), None)).collect();
        let baseline = run_publishers(
            "Mosquitto",
            mosquitto.port,
            &anonymous,
            args,
            &acks,
            Arc::clone(&delivered),
        )
        .await;
        subscriber.abort();
        let mut latencies = baseline.latencies_ms;
        latencies.sort_by(f64::total_cmp);
        report["mosquitto"] = json!({
            "published": baseline.published,
            "delivered_per_s": baseline.delivered as f64 / baseline.window_s,
            "latency_p50_ms": percentile(&latencies, 50.0),
            "latency_p99_ms": percentile(&latencies, 99.0),
        });
    }
    Ok(report)
}
