//! `joule demo`: everything on one machine, in one process. The embedded broker, the hub
//! on SQLite and the portal; users and a neighbourhood of meters provisioned on the first
//! start; 60 days of history replayed through MQTT into the hub; then each home's real
//! meter agent, measuring through the metrology chain, with an outage and a tamper in
//! the first minutes. Ctrl-C stops the meters (they save their registers and say
//! `power_down`), then the hub. A restart with the same directory keeps everything and
//! fills only the gap since it last ran.

mod backfill;
mod provision;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use joule_hub::config::HubConfig;
use joule_hub::service;
use joule_meter::config::{Incident, IncidentKind};
use joule_protocol::MeterId;
use joule_store::Store;
use tokio::sync::watch;

use crate::cli::DemoArgs;
use crate::runtime::now_ms;
use crate::runtime::{block_on, init_logs_at, shutdown_signal};
use crate::sim::ProgressLine;
use crate::sim::agents::{self, AgentSpec};
use backfill::Backlog;
use provision::Demo;

/// Seconds between the live agents' readings.
const LIVE_INTERVAL_S: u32 = 1;

/// The incidents of the first minutes: home 2 loses its supply, the bakery's voltage tap
/// is removed.
fn incidents(home: usize) -> Vec<Incident> {
    match home {
        2 => vec![Incident {
            kind: IncidentKind::Interruption,
            after_s: 30,
            duration_s: 20,
        }],
        0 => vec![Incident {
            kind: IncidentKind::VoltageTapRemoved,
            after_s: 60,
            duration_s: 30,
        }],
        _ => Vec::new(),
    }
}

/// The hub's configuration for the demo: embedded broker and SQLite in `dir`, on
/// 127.0.0.1, live readings kept long enough for the whole history.
fn hub_config(args: &DemoArgs, dir: &Path) -> anyhow::Result<HubConfig> {
    let mut config = HubConfig::load(None, |_| None)?;
    config.storage.sqlite = dir.join("hub.sqlite");
    config.storage.live_retention_days = args.history_days + 30;
    config.broker.listen = ([127, 0, 0, 1], args.mqtt_port).into();
    config.http.listen = ([127, 0, 0, 1], args.http_port).into();
    Ok(config)
}

/// Runs `joule demo` until Ctrl-C.
pub(crate) fn run(args: &DemoArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let started = Instant::now();
    init_logs_at(tracing::Level::WARN);
    if args.meters == 0 || args.meters > 99 {
        bail!("--meters must be 1..=99");
    }
    let dir = &args.data;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = hub_config(args, dir)?;
    block_on(async {
        let store = crate::hub::open_store(&config).await?;
        let demo = provision::load_or_create(dir, store.as_ref(), args.meters, now_ms()).await?;
        provision::ensure_tariffs(store.as_ref(), now_ms()).await?;
        let (hub_stop, hub_stopping) = watch::channel(false);
        let hub = tokio::spawn(service::serve(config.clone(), store.clone(), async move {
            let mut stopping = hub_stopping;
            let _ = stopping.wait_for(|stop| *stop).await;
        }));
        wait_for_port(args.mqtt_port).await?;
        wait_for_port(args.http_port).await?;

        let backlogs = fill_history(dir, &demo, args.meters, args.history_days).await?;
        let (meters_stop, meters_stopping) = watch::channel(false);
        let broker = format!("mqtt://127.0.0.1:{}", args.mqtt_port);
        let mut tasks = Vec::new();
        for meter in demo.meters.iter().take(args.meters) {
            let spec = AgentSpec {
                id: meter.id.clone(),
                token: meter.token.clone(),
                broker: broker.clone(),
                home: provision::home_spec(meter.home),
                live_interval_s: LIVE_INTERVAL_S,
                incidents: incidents(meter.home),
            };
            let config = agents::write_config(&agents::meter_dir(dir, &meter.id), &spec)?;
            tasks.push(agents::spawn(config, meters_stopping.clone()));
        }
        wait_for_history(store.as_ref(), &backlogs).await?;
        bill_last_month(&store).await?;
        print_ready(out, args, &demo, started.elapsed())?;

        shutdown_signal().await;
        eprintln!("stopping: the meters save their registers, then the hub stores what is queued");
        let _ = meters_stop.send(true);
        let meters = agents::join_all(tasks).await;
        let _ = hub_stop.send(true);
        hub.await.context("the hub task panicked")??;
        meters?;
        writeln!(out, "stopped; the data stays in {}", dir.display())?;
        Ok(())
    })
}

/// Waits until something listens on 127.0.0.1:`port` (the hub's broker or API).
async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("the hub is not listening on port {port} after 20 s (is the port taken?)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Writes every meter's missing history into its outbox, on the blocking pool (the
/// fleet model is CPU work).
async fn fill_history(
    dir: &Path,
    demo: &Demo,
    meters: usize,
    history_days: u32,
) -> anyhow::Result<Vec<(MeterId, Backlog)>> {
    let now_ms = now_ms();
    let history_ms = i64::from(history_days) * 86_400_000;
    let mut tasks = Vec::new();
    for meter in demo.meters.iter().take(meters) {
        let meter_dir = agents::meter_dir(dir, &meter.id);
        let home = provision::home_spec(meter.home);
        let id = MeterId::new(&meter.id)?;
        tasks.push(tokio::task::spawn_blocking(move || {
            backfill::fill(&meter_dir, home, now_ms, history_ms).map(|backlog| (id, backlog))
        }));
    }
    let mut backlogs = Vec::new();
    for task in tasks {
        backlogs.push(task.await.context("a backfill task panicked")??);
    }
    Ok(backlogs)
}

/// Starts billing last month (in the demo plans' zone), unless it is billed already: the
/// bills appear in the portal a few seconds after the demo is ready.
async fn bill_last_month(store: &std::sync::Arc<dyn Store>) -> anyhow::Result<()> {
    let plans = provision::plans()?;
    let zone = plans
        .first()
        .context("the demo has tariff plans")?
        .0
        .time_zone();
    let today = zone.to_datetime(jiff::Timestamp::now()).date();
    let last_month = today.first_of_month().yesterday()?;
    let period = format!("{:04}-{:02}", last_month.year(), last_month.month());
    if !store.period_closed(&period).await? {
        joule_hub::billing::run::start(
            Arc::clone(store),
            &period,
            false,
            "demo",
            joule_clock::SystemClock::shared(),
        )
        .await?;
    }
    Ok(())
}

/// Waits until the hub has stored every meter's backlog, showing how far it is.
async fn wait_for_history(
    store: &dyn Store,
    backlogs: &[(MeterId, Backlog)],
) -> anyhow::Result<()> {
    let total: u64 = backlogs.iter().map(|(_, b)| b.messages).sum();
    let mut line = ProgressLine::new();
    loop {
        let mut behind = 0;
        for (id, backlog) in backlogs {
            let stored = store.contiguous_seq(id).await?;
            behind += backlog
                .last_seq
                .saturating_sub(stored)
                .min(backlog.messages);
        }
        if total > 0 {
            line.show(&format!(
                "history: {} of {total} readings and interval records stored",
                total - behind
            ));
        }
        if behind == 0 {
            line.finish();
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Prints the URL, the logins and how long it took.
fn print_ready(
    out: &mut impl Write,
    args: &DemoArgs,
    demo: &Demo,
    took: Duration,
) -> anyhow::Result<()> {
    writeln!(out)?;
    writeln!(out, "Joule demo ready in {:.1} s", took.as_secs_f64())?;
    writeln!(out, "  portal:  http://127.0.0.1:{}/", args.http_port)?;
    writeln!(out, "  broker:  mqtt://127.0.0.1:{}", args.mqtt_port)?;
    writeln!(
        out,
        "  {} meters with {} days of history; data in {}",
        args.meters,
        args.history_days,
        args.data.display()
    )?;
    writeln!(out, "  logins:")?;
    for login in &demo.logins {
        writeln!(
            out,
            "    {:<10} {:<9} password {}",
            login.username, login.role, login.password
        )?;
    }
    writeln!(out, "Ctrl-C stops everything; run it again to continue.")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_minutes_have_an_outage_and_a_tamper() {
        let all: Vec<Incident> = (0..4).flat_map(incidents).collect();
        assert!(all.iter().any(|i| i.kind == IncidentKind::Interruption));
        assert!(
            all.iter()
                .any(|i| i.kind == IncidentKind::VoltageTapRemoved)
        );
        assert!(all.iter().all(|i| i.after_s + i.duration_s <= 180));
    }
}
