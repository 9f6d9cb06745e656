//! `joule meter`: the meter agent as a service, until Ctrl-C or SIGTERM (then it says
//! `power_down`, saves its registers and tells the broker it is offline).

use anyhow::Context;
use joule_meter::agent::{self, Snapshot};
use joule_meter::config::MeterConfig;
use std::io::Write;
use tokio::sync::watch;

use crate::cli::MeterArgs;
use crate::runtime::{block_on, init_logs, shutdown_signal};

/// Runs the meter agent.
pub(crate) fn run(args: &MeterArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let config = MeterConfig::load(&args.config, |key| std::env::var(key).ok())?;
    if args.registers {
        let saved = agent::saved_registers(&config)?;
        writeln!(out, "{}", serde_json::to_string(&saved)?)?;
        return Ok(());
    }
    init_logs();
    block_on(async {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (snapshots, _) = watch::channel(Snapshot::default());
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        agent::run(config, stop_rx, snapshots)
            .await
            .context("the meter agent stopped")
    })
}
