//! `joule sim`: a fleet of simulated meters against any hub over MQTT, for load tests and
//! demos. Waveform level runs the real meter agent per home (through the metrology chain;
//! a few dozen per core); register level (`--register-level`) runs the fleet model with
//! the agent's outbox and uplink (thousands). Meters come from a token file or are
//! registered through the hub's API.

pub(crate) mod agents;
pub(crate) mod api;
pub(crate) mod credentials;
pub(crate) mod register;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, bail};
use joule_sim::fleet::{Cadence, neighbourhood_home};
use tokio::sync::watch;

use crate::cli::SimArgs;
use crate::runtime::{block_on, init_logs_at, shutdown_signal};
use credentials::{Credentials, read_tokens};
use register::{FleetSettings, FleetTotals};

/// The meters to simulate: from the token file, or registered through the API now.
async fn credentials(args: &SimArgs) -> anyhow::Result<Vec<Credentials>> {
    if let Some(path) = &args.tokens {
        let mut all = read_tokens(path)?;
        if all.len() < args.meters {
            bail!(
                "{} lists {} meters, --meters asks for {}",
                path.display(),
                all.len(),
                args.meters
            );
        }
        all.truncate(args.meters);
        return Ok(all);
    }
    let (Some(url), Some(user)) = (&args.hub_api, &args.user) else {
        bail!("give --tokens FILE, or --hub-api URL and --user to register the meters");
    };
    let password = std::env::var(&args.password_env)
        .with_context(|| format!("the password of {user} goes in ${}", args.password_env))?;
    let session = api::Session::login(url, user, &password).await?;
    let mut all = Vec::with_capacity(args.meters);
    for index in 0..args.meters {
        let id = format!("{}-{:05}", args.prefix, index + 1);
        let home = neighbourhood_home(args.seed, index);
        let details = serde_json::json!({
            "name": format!("simulated home {}", index + 1),
            "feeder": format!("feeder-{}", index % 2 + 1),
            "transformer": format!("transformer-{}", index % 3 + 1),
            "location": if home.three_phase { "small business" } else { "home" },
        });
        all.push(session.add_meter(&id, details).await?);
    }
    eprintln!("registered {} meters through {url}", all.len());
    Ok(all)
}

/// Runs `joule sim`.
pub(crate) fn run(args: &SimArgs, out: &mut impl Write) -> anyhow::Result<()> {
    init_logs_at(tracing::Level::WARN);
    if !args.register_level && (args.speed != 1.0 || args.history_hours > 0.0) {
        bail!(
            "--speed and --history-hours need --register-level (waveform meters run in real time)"
        );
    }
    if !(args.speed.is_finite() && args.speed >= 1.0) {
        bail!("--speed must be at least 1");
    }
    let broker = joule_config::BrokerUrl::parse(&args.broker)
        .filter(|url| !url.tls)
        .context("--broker must be mqtt://host[:port]")?;
    let totals = block_on(async {
        let credentials = credentials(args).await?;
        let (stop_tx, stop) = watch::channel(false);
        let seconds = args.seconds;
        tokio::spawn(async move {
            match seconds {
                Some(s) => tokio::select! {
                    () = shutdown_signal() => {}
                    () = tokio::time::sleep(Duration::from_secs(s)) => {}
                },
                None => shutdown_signal().await,
            }
            let _ = stop_tx.send(true);
        });
        if args.register_level {
            run_register_level(args, &broker, &credentials, stop).await
        } else {
            run_agents(args, &credentials, stop).await
        }
    })?;
    if let Some((totals, elapsed)) = totals {
        writeln!(
            out,
            "sim: {} meters, {} messages recorded, {} stored by the hub in {:.1} s after connecting ({:.0} stored/s), {} left unsent",
            args.meters,
            totals.recorded,
            totals.stored,
            elapsed.as_secs_f64(),
            totals.stored as f64 / elapsed.as_secs_f64().max(1e-9),
            totals.waiting
        )?;
    }
    Ok(())
}

/// Register level: the fleet model, the agent's outbox and uplink per meter.
async fn run_register_level(
    args: &SimArgs,
    broker: &joule_config::BrokerUrl,
    credentials: &[Credentials],
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<(FleetTotals, Duration)>> {
    let live = args.live_interval_s;
    let cadence = Cadence {
        step_s: if live <= 60 { live } else { 60 },
        live_every_s: live,
        interval_s: 900,
    };
    if !cadence.is_valid() {
        bail!("--live-interval-s must divide 900, or be a multiple of 60 that does");
    }
    let settings = FleetSettings {
        host: broker.host.clone(),
        port: broker.port,
        prefix: args.topic_prefix.clone(),
        seed: args.seed,
        speed: args.speed,
        history: Duration::from_secs_f64(args.history_hours.max(0.0) * 3600.0),
        cadence,
    };
    let mut line = ProgressLine::new();
    let mut last = (0u64, Duration::ZERO);
    let totals = register::run(&settings, credentials, stop, |totals, elapsed| {
        let rate = (totals.stored - last.0) as f64 / (elapsed - last.1).as_secs_f64().max(1e-9);
        last = (totals.stored, elapsed);
        let sim_time = jiff::Timestamp::from_millisecond(totals.sim_ms)
            .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        line.show(&format!(
            "{:>4.0} s  sim {sim_time}  connected {}/{}  recorded {}  stored {} ({rate:.0}/s)  waiting {}",
            elapsed.as_secs_f64(),
            totals.connected,
            credentials.len(),
            totals.recorded,
            totals.stored,
            totals.waiting
        ));
    })
    .await?;
    line.finish();
    Ok(Some((totals, totals.running)))
}

/// Waveform level: the real meter agent per home, data under `--data` (or a temporary
/// directory removed at the end).
async fn run_agents(
    args: &SimArgs,
    credentials: &[Credentials],
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<(FleetTotals, Duration)>> {
    let temporary = tempfile::tempdir().context("creating a temporary data directory")?;
    let root = args.data.as_deref().unwrap_or(temporary.path());
    let mut tasks = Vec::with_capacity(credentials.len());
    for (index, credential) in credentials.iter().enumerate() {
        let spec = agents::AgentSpec {
            id: credential.id.clone(),
            token: credential.token.clone(),
            broker: args.broker.clone(),
            home: neighbourhood_home(args.seed, index),
            live_interval_s: args.live_interval_s,
            incidents: Vec::new(),
        };
        let config = agents::write_config(&agents::meter_dir(root, &credential.id), &spec)?;
        tasks.push(agents::spawn(config, stop.clone()));
    }
    eprintln!(
        "{} meter agents running (data in {}); Ctrl-C stops them",
        tasks.len(),
        root.display()
    );
    agents::join_all(tasks).await?;
    Ok(None)
}

/// A progress line: rewritten in place on a terminal, a plain line every 5 s otherwise.
#[derive(Debug)]
pub(crate) struct ProgressLine {
    terminal: bool,
    last_line: Option<std::time::Instant>,
}

impl ProgressLine {
    /// A line on stderr.
    pub(crate) fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last_line: None,
        }
    }

    /// Shows `text`.
    pub(crate) fn show(&mut self, text: &str) {
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r{text}   ");
            let _ = err.flush();
        } else if self
            .last_line
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(5))
        {
            self.last_line = Some(std::time::Instant::now());
            let _ = writeln!(err, "{text}");
        }
    }

    /// Ends the line on a terminal.
    pub(crate) fn finish(&self) {
        if self.terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_skip_comments_and_name_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "# meters\nm-1 abc\n\n  m-2   def \n").unwrap();
        let read = read_tokens(&path).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(
            (read[1].id.as_str(), read[1].token.as_str()),
            ("m-2", "def")
        );
        std::fs::write(&path, "m-1 abc\nm-2\n").unwrap();
        let error = read_tokens(&path).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
    }
}
