//! `joule bench query`: the meter dashboard's queries (the latest reading, the last 24 h at
//! one-minute resolution, the last 30 days daily) and a year of daily values against a store holding N meters × D days
//! of 15-minute interval records, timed through the hub's HTTP API as a consumer's browser
//! asks them (authentication, access check, JSON), and beside each the same query straight
//! on the store in the same run: the anchor that shows what the database alone takes.

pub(crate) mod dataset;
mod sizes;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use joule_hub::config::HubConfig;
use joule_hub::service::Hub;
use joule_store::tokens;
use joule_store::{Resolution, Role, Store, UserRecord};
use serde_json::json;

use super::{Progress, machine, percentile, postgres_bytes, sqlite_bytes, write_json};
use crate::cli::BenchQueryArgs;
use dataset::{DAY_MS, Manifest};

/// The dashboard's queries, and a year of daily values (a history chart's longest range).
#[derive(Debug, Clone, Copy)]
enum Query {
    /// The latest live reading.
    Latest,
    /// The last 24 hours at one-minute resolution.
    DayByMinute,
    /// The last 30 days, one point a day.
    MonthByDay,
    /// A year of daily values (as much of it as the history holds).
    YearByDay,
}

impl Query {
    const ALL: [Self; 4] = [
        Self::Latest,
        Self::DayByMinute,
        Self::MonthByDay,
        Self::YearByDay,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Latest => "latest reading",
            Self::DayByMinute => "last 24 h at 1 min",
            Self::MonthByDay => "last 30 days daily",
            Self::YearByDay => "a year daily",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Latest => "latest",
            Self::DayByMinute => "day_by_minute",
            Self::MonthByDay => "month_by_day",
            Self::YearByDay => "year_by_day",
        }
    }

    /// The series' range and resolution ending at `end_ms`, if it is a series.
    fn series(self, end_ms: i64) -> Option<(i64, Resolution)> {
        match self {
            Self::Latest => None,
            Self::DayByMinute => Some((end_ms - DAY_MS, Resolution::Minute)),
            Self::MonthByDay => Some((end_ms - 30 * DAY_MS, Resolution::Day)),
            Self::YearByDay => Some((end_ms - 365 * DAY_MS, Resolution::Day)),
        }
    }

    /// The API path asking it of `meter`.
    fn path(self, meter: &str, end_ms: i64) -> String {
        match self.series(end_ms) {
            None => format!("/api/v1/meters/{meter}/latest"),
            Some((from_ms, resolution)) => format!(
                "/api/v1/meters/{meter}/series?from_ms={from_ms}&to_ms={end_ms}&resolution={}",
                match resolution {
                    Resolution::Minute => "minute",
                    _ => "day",
                }
            ),
        }
    }
}

/// Latencies of one query, ms: through the API (request sent to the whole body
/// received, as the browser waits for it) and on the store.
#[derive(Debug, Default)]
struct Timings {
    api_ms: Vec<f64>,
    store_ms: Vec<f64>,
    /// Points (or readings) the last answer held, to show the query found data.
    points: usize,
}

/// `joule bench query`.
pub(crate) fn run(args: &BenchQueryArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    if args.meters == 0 || args.days < 31 || args.rounds == 0 {
        bail!("--meters and --rounds must be at least 1, --days at least 31 (the 30-day query)");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(measure(args))?;
    writeln!(
        out,
        "\njoule bench query — {} meters × {} days ({} interval records), {} store, {} rounds, {}",
        report["meters"],
        report["days"],
        report["interval_records"],
        report["backend"].as_str().unwrap_or("?"),
        args.rounds,
        machine()
    )?;
    writeln!(
        out,
        "{:<22} {:>7} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "query (ms)", "points", "API p50", "API p99", "API max", "store p50", "store p99"
    )?;
    let mut worst_p99_ms = 0.0_f64;
    for query in Query::ALL {
        let figures = &report["queries"][query.key()];
        let number = |name: &str| figures[name].as_f64().unwrap_or(f64::NAN);
        worst_p99_ms = worst_p99_ms.max(number("api_p99_ms"));
        writeln!(
            out,
            "{:<22} {:>7} {:>12.2} {:>12.2} {:>12.2} {:>12.2} {:>12.2}",
            query.name(),
            figures["points"],
            number("api_p50_ms"),
            number("api_p99_ms"),
            number("api_max_ms"),
            number("store_p50_ms"),
            number("store_p99_ms"),
        )?;
    }
    writeln!(
        out,
        "target: API p99 under 20 ms for each — {}",
        if worst_p99_ms < 20.0 {
            "met"
        } else {
            "NOT met"
        }
    )?;
    writeln!(
        out,
        "history written at {:.0} messages/s through Store::write_batch; {:.2} GB on disk in all",
        report["write_messages_per_s"].as_f64().unwrap_or(0.0),
        report["bytes_on_disk"].as_f64().unwrap_or(0.0) / 1e9,
    )?;
    let figure = |key: &str| report[key].as_f64().unwrap_or(f64::NAN);
    writeln!(
        out,
        "bytes written to the device per message stored, WAL, checkpoints and compaction included: {:.0}; peak RSS of this process (hub and load generator): {:.0} MB",
        figure("device_bytes_written_per_message"),
        figure("peak_rss_mb"),
    )?;
    writeln!(
        out,
        "bytes on disk, everything included — interval record: {:.1} compacted (target ≤ 32), {} fresh (≤ 200); live reading with its rollups: {:.1} compacted (≤ 16), {} fresh",
        figure("interval_record_bytes_on_disk"),
        fresh_figure(
            &report,
            "interval_record_bytes_on_disk_fresh",
            "fresh_interval_rows"
        ),
        figure("live_reading_bytes_on_disk"),
        fresh_figure(
            &report,
            "live_reading_bytes_on_disk_fresh",
            "fresh_live_rows"
        ),
    )?;
    write_json(&args.json, &report)?;
    writeln!(out, "written to {}", args.json.display())?;
    Ok(())
}

/// A fresh bytes-per-record figure as printed, with the rows it is over.
fn fresh_figure(report: &serde_json::Value, key: &str, rows_key: &str) -> String {
    let rows = report[rows_key].as_f64().unwrap_or(0.0);
    match report[key].as_f64() {
        Some(bytes) => format!("{bytes:.0} (over {rows:.0} rows)"),
        None => format!("— (only {rows:.0} rows)"),
    }
}

async fn measure(args: &BenchQueryArgs) -> anyhow::Result<serde_json::Value> {
    let temporary = tempfile::tempdir()?;
    let dir = args
        .data
        .clone()
        .unwrap_or_else(|| temporary.path().to_owned());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let backend = if args.postgres.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let mut config = HubConfig::load(None, |_| None)?;
    config.storage.sqlite = dir.join("bench.sqlite");
    config.storage.postgres = args.postgres.clone();
    let mqtt_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    config.broker.listen = std::net::SocketAddr::from(([127, 0, 0, 1], mqtt_port));
    let store = crate::hub::open_store(&config).await?;
    let manifest = match Manifest::load(&dir)? {
        Some(manifest) => {
            if manifest.backend != backend {
                bail!(
                    "{} holds a {} dataset; use another --data for {backend}",
                    dir.display(),
                    manifest.backend
                );
            }
            eprintln!(
                "reusing the dataset in {}: {} meters × {} days (--meters and --days ignored)",
                dir.display(),
                manifest.meters,
                manifest.days
            );
            manifest
        }
        None => {
            if args.postgres.is_none() {
                check_room(&dir, args.meters, args.days)?;
            }
            // A hub keeps live readings for `storage.live_retention_days`; so does this one.
            let retention_ms = i64::from(config.storage.live_retention_days) * DAY_MS;
            let manifest = fill(&store, args, retention_ms, backend).await?;
            std::fs::write(
                Manifest::path(&dir),
                serde_json::to_string_pretty(&manifest)?,
            )?;
            manifest
        }
    };
    // The pass the hub's housekeeping makes when it starts, made before the clock starts:
    // a dataset written before the present hour (or reused) is brought to what a running
    // hub would hold now, so no compaction runs beside the timed queries.
    let catch_up = Instant::now();
    let caught_up = store.compact(super::now_ms()).await?;
    if caught_up.rows > 0 {
        eprintln!(
            "compacted {} rows written before this hour in {:.0} s, before timing",
            caught_up.rows,
            catch_up.elapsed().as_secs_f64()
        );
    }
    let token = tokens::generate();
    store
        .add_api_token(
            &manifest.consumer,
            &tokens::hash(&token),
            "joule bench query",
            super::now_ms(),
        )
        .await?;
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", http.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let hub = tokio::spawn(Hub::new(config, Arc::clone(&store)).serve(http, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    let timings = time_queries(&client, &base, &token, &store, &manifest, args.rounds).await?;
    let _ = stop.send(());
    hub.await.context("hub task")??;
    let bytes = match &args.postgres {
        Some(conninfo) => postgres_bytes(conninfo).await?,
        None => sqlite_bytes(&dir.join("bench.sqlite")),
    };
    let by_kind = match &args.postgres {
        Some(conninfo) => sizes::postgres(conninfo).await?,
        None => sizes::sqlite(&dir.join("bench.sqlite"))?,
    };
    // A fresh figure over fewer rows than meters (what an hourly pass leaves of live
    // readings) is mostly the tables' empty pages: none is given.
    let meters = manifest.meters as f64;
    let fresh = |bytes: f64, rows: f64| (rows >= meters).then_some(bytes);
    let mut queries = serde_json::Map::new();
    for (query, mut timing) in Query::ALL.into_iter().zip(timings) {
        timing.api_ms.sort_by(f64::total_cmp);
        timing.store_ms.sort_by(f64::total_cmp);
        queries.insert(
            query.key().to_owned(),
            json!({
                "points": timing.points,
                "api_p50_ms": percentile(&timing.api_ms, 50.0),
                "api_p99_ms": percentile(&timing.api_ms, 99.0),
                "api_max_ms": timing.api_ms.last(),
                "store_p50_ms": percentile(&timing.store_ms, 50.0),
                "store_p99_ms": percentile(&timing.store_ms, 99.0),
            }),
        );
    }
    Ok(json!({
        "machine": machine(),
        "backend": backend,
        "meters": manifest.meters,
        "days": manifest.days,
        "interval_records": manifest.intervals,
        "messages_written": manifest.messages,
        "write_messages_per_s": manifest.messages as f64 / manifest.write_s,
        "bytes_on_disk": bytes,
        "bytes_per_interval_record": bytes as f64 / manifest.intervals.max(1) as f64,
        "interval_record_bytes_on_disk": by_kind.interval_compacted,
        "interval_record_bytes_on_disk_fresh": fresh(by_kind.interval_fresh, by_kind.fresh_interval_rows),
        "live_reading_bytes_on_disk": by_kind.live_compacted,
        "live_reading_bytes_on_disk_fresh": fresh(by_kind.live_fresh, by_kind.fresh_live_rows),
        "fresh_interval_rows": by_kind.fresh_interval_rows,
        "fresh_live_rows": by_kind.fresh_live_rows,
        "rounds": args.rounds,
        "device_bytes_written_per_message": manifest
            .device_bytes_written
            .map(|bytes| bytes as f64 / manifest.messages.max(1) as f64),
        "peak_rss_mb": super::peak_rss_mb(),
        "queries": queries,
    }))
}

/// Refuses a SQLite dataset that would not fit on the disk holding `dir`.
fn check_room(dir: &Path, meters: usize, days: u32) -> anyhow::Result<()> {
    let stats = rustix::fs::statvfs(dir).with_context(|| format!("statvfs {}", dir.display()))?;
    let free = stats.f_bavail.saturating_mul(stats.f_frsize);
    let needed = dataset::sqlite_bytes_estimate(meters, days);
    // Leave the machine 2 GB to breathe.
    if needed.saturating_add(2_000_000_000) > free {
        bail!(
            "{meters} meters × {days} days need about {:.1} GB in {}, which has {:.1} GB free: \
             choose fewer --meters or --days, or another --data",
            needed as f64 / 1e9,
            dir.display(),
            free as f64 / 1e9
        );
    }
    Ok(())
}

/// Registers the consumer and writes the meters' history, ending at the last whole hour.
async fn fill(
    store: &Arc<dyn Store>,
    args: &BenchQueryArgs,
    retention_ms: i64,
    backend: &str,
) -> anyhow::Result<Manifest> {
    const CONSUMER: &str = "bench-consumer";
    let now_ms = super::now_ms();
    store
        .add_user(UserRecord {
            username: CONSUMER.to_owned(),
            role: Role::Consumer,
            // Never logs in with a password: the bench uses an API token.
            password_hash: "!".to_owned(),
            created_ms: now_ms,
        })
        .await?;
    let end_ms = now_ms - now_ms.rem_euclid(3_600_000);
    dataset::write(
        store,
        args.meters,
        args.days,
        end_ms,
        retention_ms,
        CONSUMER,
        backend,
    )
    .await
}

/// Rounds asked first and not counted: the client's first connection and the hub's
/// start-up are not what a dashboard waits for.
const WARM_UP_ROUNDS: usize = 10;

/// Asks every query `rounds` times of meters picked at random, each through the API and
/// on the store, alternating so that noise on the machine hits both alike.
async fn time_queries(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    store: &Arc<dyn Store>,
    manifest: &Manifest,
    rounds: usize,
) -> anyhow::Result<Vec<Timings>> {
    let mut timings: Vec<Timings> = Query::ALL.iter().map(|_| Timings::default()).collect();
    let mut progress = Progress::new("querying", Duration::from_secs(30));
    // A fixed xorshift sequence: the same meters in every run.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for round in 0..rounds + WARM_UP_ROUNDS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state % manifest.meters as u64) as usize;
        let meter = dataset::meter_id(n)?;
        for (query, timing) in Query::ALL.into_iter().zip(&mut timings) {
            let started = Instant::now();
            let response = client
                .get(format!(
                    "{base}{}",
                    query.path(meter.as_str(), manifest.end_ms)
                ))
                .bearer_auth(token)
                .send()
                .await?;
            let status = response.status();
            let bytes = response.bytes().await?;
            let api_ms = started.elapsed().as_secs_f64() * 1000.0;
            if !status.is_success() {
                bail!(
                    "{} of {meter}: HTTP {status}: {}",
                    query.name(),
                    String::from_utf8_lossy(&bytes)
                );
            }
            let body: serde_json::Value = serde_json::from_slice(&bytes)?;
            let started = Instant::now();
            let points = match query.series(manifest.end_ms) {
                None => store.latest_reading(&meter).await?.into_iter().count(),
                Some((from_ms, resolution)) => {
                    let width = resolution.bucket_ms().unwrap_or(1);
                    store
                        .series(
                            &meter,
                            resolution,
                            from_ms.div_euclid(width) * width,
                            manifest.end_ms,
                        )
                        .await?
                        .len()
                }
            };
            let store_ms = started.elapsed().as_secs_f64() * 1000.0;
            if round >= WARM_UP_ROUNDS {
                timing.api_ms.push(api_ms);
                timing.store_ms.push(store_ms);
            }
            let api_points = body["points"].as_array().map_or(1, Vec::len);
            if points == 0 || api_points != points {
                bail!(
                    "{} of {meter}: the store gave {points} points, the API {api_points}",
                    query.name()
                );
            }
            timing.points = points;
        }
        progress.show_fraction(
            (round + 1) as f64 / (rounds + WARM_UP_ROUNDS) as f64,
            &format!(
                "{} of {rounds} rounds",
                (round + 1).saturating_sub(WARM_UP_ROUNDS)
            ),
        );
    }
    progress.finish(&format!("{rounds} rounds"));
    Ok(timings)
}
