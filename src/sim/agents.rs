//! Waveform-level meters: the real meter agent, in this process, one per home, each with
//! its own `meter.toml` and data directory (registers, outbox) as `joule meter` would
//! have. Used by `joule sim` without `--register-level` and by `joule demo`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use joule_meter::agent;
use joule_meter::clock::SystemClock;
use joule_meter::config::{Incident, IncidentKind, MeterConfig};
use joule_meter::display::Panel;
use joule_sim::household::HouseholdSpec;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What one agent's configuration says.
#[derive(Debug, Clone)]
pub(crate) struct AgentSpec {
    /// Meter id.
    pub(crate) id: String,
    /// Device token.
    pub(crate) token: String,
    /// `mqtt://host:port`.
    pub(crate) broker: String,
    /// The home.
    pub(crate) home: HouseholdSpec,
    /// Seconds between live readings.
    pub(crate) live_interval_s: u32,
    /// Incidents in the first minutes.
    pub(crate) incidents: Vec<Incident>,
}

/// Writes `DIR/meter.toml` for `spec` (the data directory is `DIR`) and loads it back
/// through the meter's own configuration loader.
pub(crate) fn write_config(dir: &Path, spec: &AgentSpec) -> anyhow::Result<MeterConfig> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let incidents: String = spec
        .incidents
        .iter()
        .map(|incident| {
            let kind = match incident.kind {
                IncidentKind::Interruption => "interruption",
                IncidentKind::VoltageTapRemoved => "voltage_tap_removed",
            };
            format!(
                "\n[[source.incidents]]\nkind = \"{kind}\"\nafter_s = {}\nduration_s = {}\n",
                incident.after_s, incident.duration_s
            )
        })
        .collect();
    let home = &spec.home;
    let text = format!(
        "# Written by joule for a simulated meter; `joule meter --config` runs it too.\n\
         [meter]\nid = {id:?}\ndata_dir = {data:?}\ntimezone = \"UTC\"\nlive_interval_s = {live}\n\n\
         [uplink]\nbroker = {broker:?}\ntoken = {token:?}\nreplay_per_s = 5000\nwindow = 200\nack_timeout_s = 10\n\n\
         [source]\nkind = \"simulated\"\nseed = {seed}\nsolar_peak_w = {solar:.1}\n\
         ev_charger_w = {ev:.1}\nheat_pump_w = {hp:.1}\nthree_phase = {three}\n{incidents}",
        id = spec.id,
        data = dir.display().to_string(),
        live = spec.live_interval_s,
        broker = spec.broker,
        token = spec.token,
        seed = home.seed,
        solar = home.solar_peak_w,
        ev = home.ev_charger_w,
        hp = home.heat_pump_w,
        three = home.three_phase,
    );
    let path = dir.join("meter.toml");
    crate::hub::write_private(&path, &text)?;
    Ok(MeterConfig::load(&path, |_| None)?)
}

/// Starts the agent for `config`; it stops (saving its registers) when `stop` turns true.
pub(crate) fn spawn(
    config: MeterConfig,
    stop: watch::Receiver<bool>,
) -> JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let id = config.meter.id.clone();
        let (panel, _display) = Panel::new();
        agent::run(config, SystemClock::shared(), stop, panel)
            .await
            .with_context(|| format!("meter {id} stopped"))
    })
}

/// Waits for every agent, reporting the first failure.
pub(crate) async fn join_all(tasks: Vec<JoinHandle<anyhow::Result<()>>>) -> anyhow::Result<()> {
    let mut first_error = None;
    for task in tasks {
        let result = task.await.context("a meter task panicked").and_then(|r| r);
        if let Err(error) = result {
            tracing::error!(error = format!("{error:#}"), "meter agent");
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The data directory of meter `id` under `root`.
pub(crate) fn meter_dir(root: &Path, id: &str) -> PathBuf {
    root.join("meters").join(id)
}
