//! `joule tariffs` and `joule billing`: tariff plans and billing runs on the hub's store,
//! whether or not the hub is running.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use joule_hub::config::HubConfig;
use joule_hub::store::{AuditEntry, RunStatus, Store};

use crate::cli::{BillingCommand, HubArgs, TariffsCommand};
use crate::runtime::block_on;

async fn open(args: &HubArgs) -> anyhow::Result<Arc<dyn Store>> {
    let config = HubConfig::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    crate::hub::open_store(&config).await
}

/// The dates a plan's versions take effect, as a list.
fn versions(plan: &joule_tariff::Plan) -> String {
    let dates: Vec<String> = plan
        .versions()
        .iter()
        .map(|v| v.effective_from.to_string())
        .collect();
    dates.join(", ")
}

fn audit(action: &str, target: &str, detail: &str) -> AuditEntry {
    AuditEntry {
        ts_ms: joule_hub::service::now_ms(),
        actor: "cli".to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.to_owned(),
    }
}

/// `joule tariffs add|list`.
pub(crate) fn tariffs(command: &TariffsCommand, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        match command {
            TariffsCommand::Add(args) => {
                let toml = std::fs::read_to_string(&args.file)
                    .with_context(|| format!("reading {}", args.file.display()))?;
                let store = open(&args.hub).await?;
                let record = store
                    .put_tariff(&toml, joule_hub::service::now_ms())
                    .await
                    .with_context(|| format!("storing {}", args.file.display()))?;
                store.audit(audit("tariff.add", &record.name, "")).await?;
                writeln!(
                    out,
                    "tariff {} stored ({} {}, versions from {})",
                    record.name,
                    record.plan.currency(),
                    record.plan.time_zone_name(),
                    versions(&record.plan)
                )?;
            }
            TariffsCommand::List(args) => {
                let store = open(args).await?;
                writeln!(
                    out,
                    "{:<24} {:<8} {:<20} versions from",
                    "name", "currency", "time zone"
                )?;
                for tariff in store.tariffs().await? {
                    writeln!(
                        out,
                        "{:<24} {:<8} {:<20} {}",
                        tariff.name,
                        tariff.plan.currency(),
                        tariff.plan.time_zone_name(),
                        versions(&tariff.plan)
                    )?;
                }
            }
        }
        Ok(())
    })
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
            joule_hub::service::now_ms,
        )
        .await?;
        let detail = if args.rerun { "rerun" } else { "" };
        store
            .audit(audit("billing.run", &args.period, detail))
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
