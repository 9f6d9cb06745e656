//! `joule bench ingest`: N meters publish live readings over MQTT QoS 1 for a fixed time
//! into a hub storing durably, one reading to a message or `--batch` readings to a message
//! on the batch topic; figures: readings/s stored, publish-to-stored latency (a storage ack
//! is sent after the commit, so acked is queryable), readings lost, bytes on disk per
//! reading. The anchor in the same run: Debian's Mosquitto delivering the same messages
//! from the same publishers to one bare subscriber.

mod baseline;
mod publisher;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use joule_hub::config::HubConfig;
use joule_hub::service::Hub;
use joule_protocol::MeterId;
use joule_store::tokens;
use joule_store::{MeterDetails, NewMeter, Store};
use serde_json::json;

use super::{Progress, machine, percentile, postgres_bytes, sqlite_bytes, write_json};
use crate::cli::BenchIngestArgs;
use baseline::{Mosquitto, count_deliveries};
use publisher::{Acks, Publisher, batch_fits};

/// What one run of publishers measured.
#[derive(Debug, Default)]
struct Run {
    published: u64,
    delivered: u64,
    latencies_ms: Vec<f64>,
    window_s: f64,
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
            let publisher = Publisher {
                port,
                meter: meter.clone(),
                token: token.clone(),
                rate_per_s: args.rate,
                batch: usize::from(args.batch),
                acks: acks.clone(),
            };
            tokio::spawn(publisher.run(Arc::clone(&running), Arc::clone(&published)))
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

/// `joule bench ingest`.
pub(crate) fn run(args: &BenchIngestArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    if args.meters == 0 || args.seconds == 0 {
        bail!("--meters and --seconds must be at least 1");
    }
    if let Err(fit) = batch_fits(usize::from(args.batch)) {
        bail!(
            "--batch {}: that many readings exceed the 64 KiB payload limit; {fit} fit",
            args.batch
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(measure(args))?;
    let joule_rate = report["joule"]["readings_per_s"].as_f64().unwrap_or(0.0);
    writeln!(
        out,
        "\njoule bench ingest — {} meters, {} s, {} reading(s) per message, {} store, {} broker, {}",
        args.meters,
        args.seconds,
        args.batch,
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
    // The hub reads batches as large as the publishers send (they know it: they set it).
    config.ingest.uplink_batch_max = config.ingest.uplink_batch_max.max(u32::from(args.batch));
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
    let stored_readings_per_s = joule.delivered as f64 / joule.window_s;
    let mut report = json!({
        "machine": machine(),
        "meters": args.meters,
        "seconds": args.seconds,
        "rate_per_meter": args.rate,
        "batch": args.batch,
        "stored_readings_per_s": stored_readings_per_s,
        "joule": {
            "backend": backend,
            "broker": broker,
            "published": joule.published,
            "stored": stored,
            "lost": lost,
            "readings_per_s": stored_readings_per_s,
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
        if let Some(delivered_per_s) = report["mosquitto"]["delivered_per_s"].as_f64() {
            report["ratio_to_mosquitto"] = json!(stored_readings_per_s / delivered_per_s);
        }
    }
    Ok(report)
}
