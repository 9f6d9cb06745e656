//! Register-level meters over MQTT: each home's `joule_sim::fleet::RegisterMeter` writes
//! its readings into an outbox (in memory: a simulated meter has no power cut to survive)
//! that the meter agent's own uplink drains, so every simulated meter honours the hub's
//! storage acks exactly as a real one does: numbered once, resent until stored.
//!
//! Simulated time starts `history` before now and runs `speed` times faster than real
//! time until it reaches now, then follows the clock. It only moves while the fleet's
//! backlog is small, so a hub slower than the fleet slows the simulation instead of
//! piling readings up in memory.

use crate::runtime::now_ms;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use joule_meter::outbox::Outbox;
use joule_meter::uplink::{self, LinkState, UplinkChannels, UplinkSettings};
use joule_protocol::{MeterId, TopicKind, Topics, encode};
use joule_sim::fleet::{Cadence, RegisterMeter, Report, Start, neighbourhood_home};
use tokio::sync::{Notify, mpsc, watch};

use super::credentials::Credentials;

/// How long the fleet waits for its meters to connect before simulated time starts.
const CONNECT_WAIT: Duration = Duration::from_secs(120);

/// Unsent messages per meter beyond which simulated time waits for the hub.
const BACKLOG_PER_METER: u64 = 400;

/// How a register-level fleet runs.
#[derive(Debug, Clone)]
pub(crate) struct FleetSettings {
    /// The broker's host and port.
    pub(crate) host: String,
    /// The broker's port.
    pub(crate) port: u16,
    /// Topic prefix.
    pub(crate) prefix: String,
    /// Seed of the neighbourhood.
    pub(crate) seed: u64,
    /// Simulated seconds per real second while behind the clock.
    pub(crate) speed: f64,
    /// How far before now simulated time starts.
    pub(crate) history: Duration,
    /// Sampling and reporting periods.
    pub(crate) cadence: Cadence,
}

/// One simulated meter: its model, its outbox and its uplink's state.
struct SimMeter {
    model: RegisterMeter,
    outbox: Arc<Mutex<Outbox>>,
    wake: Arc<Notify>,
    link: watch::Receiver<LinkState>,
}

impl std::fmt::Debug for SimMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimMeter")
            .field("now_ms", &self.model.now_ms())
            .finish_non_exhaustive()
    }
}

/// Totals for the progress line and the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct FleetTotals {
    /// Meters connected to the broker now.
    pub(crate) connected: usize,
    /// Messages recorded into the outboxes.
    pub(crate) recorded: u64,
    /// Messages the hub confirmed stored.
    pub(crate) stored: u64,
    /// Messages waiting in the outboxes.
    pub(crate) waiting: u64,
    /// Simulated time, Unix ms.
    pub(crate) sim_ms: i64,
    /// How long simulated time has been running (after the fleet connected).
    pub(crate) running: Duration,
}

/// Runs the fleet until `stop` turns true; `report` is called about once a second with
/// the totals. Returns the totals at the end, after the uplinks drained.
pub(crate) async fn run(
    settings: &FleetSettings,
    credentials: &[Credentials],
    mut stop: watch::Receiver<bool>,
    mut report: impl FnMut(&FleetTotals, Duration),
) -> anyhow::Result<FleetTotals> {
    let start_ms = now_ms() - i64::try_from(settings.history.as_millis()).unwrap_or(0);
    let (uplink_stop, uplink_stopping) = watch::channel(false);
    let mut meters = Vec::with_capacity(credentials.len());
    let mut uplinks = Vec::with_capacity(credentials.len());
    for (index, credential) in credentials.iter().enumerate() {
        let (meter, task) = start_meter(settings, credential, index, start_ms, &uplink_stopping)?;
        meters.push(meter);
        uplinks.push(task);
    }
    // Simulated time starts once the fleet is connected (a thousand logins take a while
    // on a small machine), so the first minutes are not reported in one burst.
    let connecting = Instant::now();
    while connected(&meters) < meters.len() && connecting.elapsed() < CONNECT_WAIT {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.changed() => break,
        }
    }
    let started = Instant::now();
    let mut sim_ms = start_ms + i64::try_from(connecting.elapsed().as_millis()).unwrap_or(0);
    let mut recorded = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(200));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_tick = Instant::now();
    let mut last_report = Instant::now();
    let mut reports = Vec::new();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        let elapsed = last_tick.elapsed();
        last_tick = Instant::now();
        let waiting = waiting(&meters)?;
        if waiting < BACKLOG_PER_METER * meters.len() as u64 {
            let step_ms = (elapsed.as_secs_f64() * settings.speed * 1000.0) as i64;
            sim_ms = (sim_ms + step_ms).min(now_ms());
        }
        for meter in &mut meters {
            reports.clear();
            meter.model.advance_to(sim_ms, &mut reports);
            if reports.is_empty() {
                continue;
            }
            let bodies: Vec<(TopicKind, Vec<u8>)> = reports.iter().map(encode_report).collect();
            let messages: Vec<(TopicKind, &[u8])> =
                bodies.iter().map(|(k, b)| (*k, b.as_slice())).collect();
            lock(&meter.outbox).push_many(&messages, b"{}", sim_ms)?;
            meter.wake.notify_one();
            recorded += messages.len() as u64;
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            report(
                &totals(&meters, recorded, sim_ms, started)?,
                started.elapsed(),
            );
        }
    }
    let _ = uplink_stop.send(true);
    for task in uplinks {
        match task.await {
            Ok(result) => result?,
            Err(error) => tracing::error!(%error, "a simulated meter's uplink failed"),
        }
    }
    totals(&meters, recorded, sim_ms, started)
}

/// Builds one meter and starts its uplink.
fn start_meter(
    settings: &FleetSettings,
    credential: &Credentials,
    index: usize,
    start_ms: i64,
    stopping: &watch::Receiver<bool>,
) -> anyhow::Result<(
    SimMeter,
    tokio::task::JoinHandle<Result<(), uplink::UplinkError>>,
)> {
    let id =
        MeterId::new(&credential.id).with_context(|| format!("meter id `{}`", credential.id))?;
    // In memory: the meter's outbox without the disk it would need to survive power cuts.
    let outbox = Outbox::open(std::path::Path::new(":memory:"), 1_000_000)?;
    let outbox = Arc::new(Mutex::new(outbox));
    let wake = Arc::new(Notify::new());
    let (link_tx, link) = watch::channel(LinkState::default());
    // A simulated meter obeys no commands: they time out at the hub.
    let (commands, _ignored) = mpsc::channel(1);
    let uplink_settings = UplinkSettings {
        meter: id,
        host: settings.host.clone(),
        port: settings.port,
        tls: None,
        token: credential.token.clone(),
        topics: Topics::new(&settings.prefix),
        keep_alive_s: 30,
        replay_per_s: 20_000,
        window: 1_000,
        ack_timeout_s: 30,
        home_assistant: false,
    };
    let channels = UplinkChannels {
        outbox: outbox.clone(),
        wake: wake.clone(),
        commands,
        link: link_tx,
    };
    let task = tokio::spawn(uplink::run(uplink_settings, channels, stopping.clone()));
    let start = Start {
        ts_ms: start_ms,
        ..Start::default()
    };
    let spec = neighbourhood_home(settings.seed, index);
    let model = RegisterMeter::new(spec, 0.0, settings.cadence, start);
    Ok((
        SimMeter {
            model,
            outbox,
            wake,
            link,
        },
        task,
    ))
}

/// A report as the topic it goes to and its JSON.
pub(crate) fn encode_report(report: &Report) -> (TopicKind, Vec<u8>) {
    match report {
        Report::Live(live) => (TopicKind::Live, encode(live)),
        Report::Interval(record) => (TopicKind::Interval, encode(record)),
    }
}

fn lock(outbox: &Mutex<Outbox>) -> std::sync::MutexGuard<'_, Outbox> {
    outbox
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn waiting(meters: &[SimMeter]) -> anyhow::Result<u64> {
    let mut sum = 0;
    for meter in meters {
        sum += lock(&meter.outbox).depth()?.messages;
    }
    Ok(sum)
}

fn connected(meters: &[SimMeter]) -> usize {
    meters.iter().filter(|m| m.link.borrow().connected).count()
}

fn totals(
    meters: &[SimMeter],
    recorded: u64,
    sim_ms: i64,
    started: Instant,
) -> anyhow::Result<FleetTotals> {
    let mut totals = FleetTotals {
        recorded,
        sim_ms,
        running: started.elapsed(),
        ..FleetTotals::default()
    };
    totals.connected = connected(meters);
    totals.stored = meters.iter().map(|m| m.link.borrow().acked_seq).sum();
    totals.waiting = waiting(meters)?;
    Ok(totals)
}
