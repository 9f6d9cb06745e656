//! Housekeeping, every few seconds: commands past their expiry time out (a meter that never
//! answered cannot leave one pending for ever); once an hour live readings past
//! `storage.live_retention_days` are deleted (rollups, interval records and events stay);
//! and once an hour, at start and after each full hour, the history is compacted into
//! blocks (`joule_store::Store::compact`: live readings up to the start of the hour, the
//! rest up to the start of the day).

use crate::context::Shared;
use crate::telemetry::CommandTimedOut;
use std::time::Duration;

/// Periodic upkeep: commands past their expiry time out; live readings past retention go;
/// the history is compacted once an hour.
pub async fn run(shared: Shared) {
    let retention_ms = i64::from(shared.config.storage.live_retention_days) * 86_400_000;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last_prune_ms = 0;
    let mut compacted_hour = None;
    loop {
        tick.tick().await;
        let now = shared.now_ms();
        match shared.store.expire_commands(now).await {
            Ok(expired) => {
                for command in expired {
                    CommandTimedOut {
                        id: command.id,
                        meter: command.meter.as_str(),
                    }
                    .emit();
                }
            }
            Err(error) => tracing::error!(%error, "expiring commands failed"),
        }
        if now - last_prune_ms >= 3_600_000 {
            last_prune_ms = now;
            match shared.store.prune_live(now - retention_ms).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "live readings past retention deleted"),
                Err(error) => tracing::error!(%error, "pruning live readings failed"),
            }
        }
        let hour = now.div_euclid(3_600_000);
        if compacted_hour != Some(hour) {
            let started = std::time::Instant::now();
            match shared.store.compact(now).await {
                Ok(outcome) => {
                    compacted_hour = Some(hour);
                    if outcome.rows > 0 {
                        tracing::info!(
                            meters = outcome.meters,
                            rows = outcome.rows,
                            blocks = outcome.blocks,
                            seconds = started.elapsed().as_secs_f64(),
                            "history compacted"
                        );
                    }
                }
                Err(error) => tracing::error!(%error, "compacting history failed"),
            }
        }
    }
}
