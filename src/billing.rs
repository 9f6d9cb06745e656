//! `joule billing`: billing runs on the hub's store, whether or not the hub is running.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use joule_hub::config::HubConfig;
use joule_store::{AuditEntry, RunStatus, Store};

use crate::cli::{BillingCommand, HubArgs};
use crate::runtime::block_on;

async fn open(args: &HubArgs) -> anyhow::Result<Arc<dyn Store>> {
    let config = HubConfig::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    crate::hub::open_store(&config).await
}

/// `joule billing run`: starts the run and follows it to its end.
pub(crate) fn billing(command: &BillingCommand, out: &mut impl Write) -> anyhow::Result<()> {
    let BillingCommand::Run(args) = command;
    block_on(async {
        let store = open(&args.hub).await?;
        let run = joule_hub::billing::run::start(
            Arc::clone(&store),
            &args.period,
            args.rerun,
            "cli",
            joule_clock::SystemClock::shared(),
        )
        .await?;
        let detail = if args.rerun { "rerun" } else { "" };
        store
            .audit(AuditEntry {
                ts_ms: crate::runtime::now_ms(),
                actor: "cli".to_owned(),
                action: "billing.run".to_owned(),
                target: args.period.clone(),
                detail: detail.to_owned(),
            })
            .await?;
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let mut last_line = std::time::Instant::now();
        let run = loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = store
                .billing_run(run.id)
                .await?
                .context("the billing run disappeared")?;
            let line = format!(
                "billing {}: {}/{} meters",
                now.period, now.meters_done, now.meters_total
            );
            if terminal {
                eprint!("\r{line}   ");
            } else if last_line.elapsed() >= Duration::from_secs(5) {
                last_line = std::time::Instant::now();
                eprintln!("{line}");
            }
            if now.status != RunStatus::Running {
                if terminal {
                    eprintln!();
                }
                break now;
            }
        };
        let summary = &run.summary;
        writeln!(
            out,
            "run {} for {}: {} ({} billed, {} failed, {} with estimates, {} with findings)",
            run.id,
            run.period,
            run.status.name(),
            summary.billed,
            summary.failed,
            summary.with_estimates,
            summary.with_findings
        )?;
        for total in &summary.totals {
            writeln!(
                out,
                "  total {} {}",
                joule_tariff::format_minor(total.total_minor, total.currency_digits),
                total.currency
            )?;
        }
        for error in &summary.errors {
            writeln!(out, "  {error}")?;
        }
        if run.status == RunStatus::Failed {
            anyhow::bail!("billing run {} failed", run.id);
        }
        Ok(())
    })
}
