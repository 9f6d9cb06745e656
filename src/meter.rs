//! `joule meter`: the meter agent as a service, until Ctrl-C or SIGTERM (then it says
//! `power_down`, saves its registers and tells the broker it is offline); with
//! `--display` it shows its display on the terminal too, and `joule meter display
//! --connect` shows a running meter's. With `[metrics] listen` it serves its own metrics.

use anyhow::Context;
use joule_meter::agent;
use joule_meter::clock::SystemClock;
use joule_meter::config::MeterConfig;
use joule_meter::display::{Panel, socket, terminal};
use joule_meter::telemetry::exporter;
use std::io::Write;
use tokio::sync::watch;

use crate::cli::{MeterAction, MeterArgs};
use crate::runtime::{block_on, init_logs, init_logs_to, shutdown_signal};

/// Runs the meter agent, or its display.
pub(crate) fn run(args: &MeterArgs, out: &mut impl Write) -> anyhow::Result<()> {
    if let Some(MeterAction::Display { connect }) = &args.action {
        return display(connect);
    }
    let path = args.config.as_deref().context("--config is required")?;
    let config = MeterConfig::load(path, |key| std::env::var(key).ok())?;
    if args.registers {
        let saved = agent::saved_registers(&config)?;
        writeln!(out, "{}", serde_json::to_string(&saved)?)?;
        return Ok(());
    }
    if args.display {
        std::fs::create_dir_all(&config.meter.data_dir)?;
        let log = config.meter.data_dir.join("meter.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        init_logs_to(file);
    } else {
        init_logs();
    }
    block_on(async {
        if let Some(listen) = config.metrics.listen {
            exporter::serve(listen)?;
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let (panel, handle) = Panel::new();
        let on_screen = args.display.then(|| {
            let stopped = stop_rx.clone();
            let stop = stop_tx.clone();
            std::thread::spawn(move || {
                let shown = terminal::run(handle.snapshots, handle.button, stopped);
                // Leaving the display stops the meter it belongs to.
                let _ = stop.send(true);
                shown
            })
        });
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let ran = agent::run(config, SystemClock::shared(), stop_rx, panel)
            .await
            .context("the meter agent stopped");
        if let Some(screen) = on_screen {
            let _ = screen.join();
        }
        ran
    })
}

/// Shows a running meter's display until `q` or the meter goes away.
fn display(address: &str) -> anyhow::Result<()> {
    block_on(async {
        let (snapshots, button) = socket::connect(address)
            .await
            .with_context(|| format!("connecting to the meter's display socket {address}"))?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut closed = snapshots.clone();
        tokio::spawn(async move {
            // The connection ended: the snapshots' sender is gone.
            while closed.changed().await.is_ok() {}
            let _ = stop_tx.send(true);
        });
        tokio::task::spawn_blocking(move || terminal::run(snapshots, button, stop_rx))
            .await?
            .context("the display failed")
    })
}
