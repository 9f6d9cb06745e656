//! `joule meter`: the meter agent as a service, until Ctrl-C or SIGTERM (then it says
//! `power_down`, saves its registers and tells the broker it is offline).

use anyhow::Context;
use joule_meter::agent::{self, Snapshot};
use joule_meter::config::MeterConfig;
use tokio::sync::watch;

use crate::cli::MeterArgs;
use crate::runtime::{block_on, init_logs, shutdown_signal};

/// Runs the meter agent.
pub(crate) fn run(args: &MeterArgs) -> anyhow::Result<()> {
    init_logs();
    let config = MeterConfig::load(&args.config, |key| std::env::var(key).ok())?;
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
