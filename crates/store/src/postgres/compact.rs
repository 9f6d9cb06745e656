//! PostgreSQL's side of compacted history (see `crate::compact`): the blocks table, moving
//! rows older than the cut into blocks, reading blocks back, and the upgrade of a database
//! written before blocks existed. The same SQL shapes as SQLite's (`sqlite/compact.rs`),
//! with PostgreSQL's placeholders and async client.

use super::interval_rows::IntervalRows;
use crate::compact::{self, BlockKind, Columnar, Compact, CompactionOutcome};
use crate::{StoreError, corrupt, read, stored_meter_id};
use joule_protocol::{IntervalRecord, LiveReading, MeterId};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, GenericClient, Row, Transaction};

/// Schema version 7: interval records as typed columns instead of JSON, and the blocks.
/// [`convert_json_intervals`] moves the old rows over in the same transaction. A block's
/// `end_ms` is just after its newest record (blocks written before 2026-12-08 hold their
/// period's end, also an upper bound; readers need no more).
pub(super) const MIGRATION: &str = r#"
ALTER TABLE intervals RENAME TO intervals_json;
ALTER TABLE intervals_json RENAME CONSTRAINT intervals_pkey TO intervals_json_pkey;
CREATE TABLE intervals (
    meter_id TEXT NOT NULL,
    v BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    interval_s BIGINT NOT NULL,
    import_mwh BIGINT NOT NULL,
    export_mwh BIGINT NOT NULL,
    q1_mvarh BIGINT NOT NULL,
    q2_mvarh BIGINT NOT NULL,
    q3_mvarh BIGINT NOT NULL,
    q4_mvarh BIGINT NOT NULL,
    apparent_import_mvah BIGINT NOT NULL,
    apparent_export_mvah BIGINT NOT NULL,
    tariffs TEXT,
    voltage_min_v DOUBLE PRECISION NOT NULL,
    voltage_max_v DOUBLE PRECISION NOT NULL,
    voltage_avg_v DOUBLE PRECISION NOT NULL,
    max_demand_w DOUBLE PRECISION,
    sags BIGINT NOT NULL,
    swells BIGINT NOT NULL,
    interruptions BIGINT NOT NULL,
    PRIMARY KEY (meter_id, ts_ms, seq)
);
CREATE TABLE blocks (
    meter_id TEXT NOT NULL,
    kind SMALLINT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    count BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (meter_id, kind, start_ms)
);
"#;

/// Rows converted per statement during the upgrade.
const CONVERT_CHUNK: i64 = 10_000;

/// Moves the interval records of a database written before version 7 from their JSON
/// column into typed rows, chunk by chunk in key order, logging progress every few
/// seconds, then drops the old table.
pub(super) async fn convert_json_intervals(
    transaction: &Transaction<'_>,
) -> Result<(), StoreError> {
    let total: i64 = transaction
        .query_one("SELECT count(*) FROM intervals_json", &[])
        .await?
        .try_get(0)?;
    if total > 0 {
        tracing::info!(
            records = total,
            "upgrading the store: interval records to typed columns"
        );
    }
    let started = Instant::now();
    let mut shown = Instant::now();
    let mut done = 0_i64;
    let mut after: (String, i64, i64) = (String::new(), i64::MIN, i64::MIN);
    loop {
        let rows = transaction
            .query(
                "SELECT meter_id, ts_ms, seq, record FROM intervals_json
                 WHERE (meter_id, ts_ms, seq) > ($1, $2, $3)
                 ORDER BY meter_id, ts_ms, seq LIMIT $4",
                &[&after.0, &after.1, &after.2, &CONVERT_CHUNK],
            )
            .await?;
        let Some(last) = rows.last() else { break };
        after = (last.try_get(0)?, last.try_get(1)?, last.try_get(2)?);
        let mut decoded = Vec::with_capacity(rows.len());
        for row in &rows {
            let meter = stored_meter_id(row.try_get(0)?)?;
            let record: IntervalRecord =
                serde_json::from_str(row.try_get(3)?).map_err(corrupt("interval record"))?;
            decoded.push((meter, record));
        }
        let mut typed = IntervalRows::default();
        for (meter, record) in &decoded {
            typed.push(meter, record)?;
        }
        typed.insert(transaction).await?;
        done += rows.len() as i64;
        if shown.elapsed() >= Duration::from_secs(2) {
            shown = Instant::now();
            tracing::info!(
                "upgrading the store: {done} of {total} interval records ({:.0} %)",
                done as f64 * 100.0 / total as f64
            );
        }
    }
    transaction
        .batch_execute("DROP TABLE intervals_json")
        .await?;
    if total > 0 {
        tracing::info!(
            "upgraded the store: {total} interval records in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The blocks of a meter's `kind` overlapping `[from_ms, to_ms)`, oldest first.
pub(super) async fn blocks(
    client: &impl GenericClient,
    meter: &MeterId,
    kind: BlockKind,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Vec<u8>>, StoreError> {
    client
        .query(
            "SELECT data FROM blocks WHERE meter_id = $1 AND kind = $2 AND start_ms < $4
             AND end_ms > $3 ORDER BY start_ms",
            &[&meter.as_str(), &kind.code(), &from_ms, &to_ms],
        )
        .await?
        .iter()
        .map(|row| Ok(row.try_get(0)?))
        .collect()
}

/// The newest record of a meter's `kind` in blocks that end after `after_ms` (a fresh
/// row's time: a block of a period over before it holds nothing newer and is not read).
pub(super) async fn newest_in_blocks<T: Columnar>(
    client: &impl GenericClient,
    meter: &str,
    kind: BlockKind,
    after_ms: i64,
) -> Result<Option<T>, StoreError> {
    let row = client
        .query_opt(
            "SELECT data FROM blocks WHERE meter_id = $1 AND kind = $2 AND end_ms > $3
             ORDER BY start_ms DESC LIMIT 1",
            &[&meter, &kind.code(), &after_ms],
        )
        .await?;
    Ok(match row {
        Some(row) => compact::decode::<T>(row.try_get(0)?)?
            .pop()
            .filter(|record| record.ts_ms() > after_ms),
        None => None,
    })
}

/// The meters that have stored anything (every one has a progress row).
pub(super) async fn meters(client: &Client) -> Result<Vec<String>, StoreError> {
    client
        .query("SELECT meter_id FROM progress ORDER BY meter_id", &[])
        .await?
        .iter()
        .map(|row| Ok(row.try_get(0)?))
        .collect()
}

/// Compacts one meter's rows older than the cut at `now_ms` in one transaction; the
/// caller takes the writer per meter, so ingest waits at most one meter's worth.
pub(super) async fn compact(
    client: &mut Client,
    meter: &str,
    now_ms: i64,
) -> Result<CompactionOutcome, StoreError> {
    let transaction = client.transaction().await?;
    let (rows, blocks) = compact_meter(&transaction, meter, now_ms).await?;
    // Dedup needs no sequence row at or below the contiguous mark (SQLite drops them as the
    // mark advances; here they would wait for retention).
    transaction
        .execute(
            "DELETE FROM seqs WHERE meter_id = $1
             AND seq <= (SELECT contiguous FROM progress WHERE meter_id = $1)",
            &[&meter],
        )
        .await?;
    transaction.commit().await?;
    Ok(CompactionOutcome {
        meters: u64::from(rows > 0),
        rows,
        blocks,
    })
}

/// Moves one meter's rows before each kind's cut at `now_ms` into blocks, and drops its
/// minute rollup rows before the live readings' cut (their blocks hold them); returns
/// (rows, blocks written).
async fn compact_meter(
    transaction: &Transaction<'_>,
    meter: &str,
    now_ms: i64,
) -> Result<(u64, u64), StoreError> {
    let mut moved = (0, 0);
    let parameter = |n: u8| format!("${n}");
    for kind in BlockKind::ALL {
        let take = kind.take_fresh_rows_sql(parameter);
        let cut_ms = kind.cut_ms(now_ms);
        let rows = transaction.query(take.as_str(), &[&meter, &cut_ms]).await?;
        if rows.is_empty() {
            continue;
        }
        let written = match kind {
            BlockKind::Interval => {
                write_blocks(transaction, meter, kind, mapped(&rows, read::interval)?).await?
            }
            BlockKind::Live => {
                write_blocks(transaction, meter, kind, mapped(&rows, read::reading)?).await?
            }
            BlockKind::HourRollup | BlockKind::DayRollup => {
                write_blocks(transaction, meter, kind, mapped(&rows, read::bucket)?).await?
            }
        };
        moved.0 += rows.len() as u64;
        moved.1 += written;
    }
    transaction
        .execute(
            compact::minute_rollups_delete_sql(parameter).as_str(),
            &[&meter, &BlockKind::Live.cut_ms(now_ms)],
        )
        .await?;
    Ok(moved)
}

fn mapped<T>(
    rows: &[Row],
    map: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(map).collect()
}

/// Merges `rows` into the blocks of their periods; returns the blocks written.
async fn write_blocks<T: Compact>(
    transaction: &Transaction<'_>,
    meter: &str,
    kind: BlockKind,
    rows: Vec<T>,
) -> Result<u64, StoreError> {
    let periods = compact::by_period(kind, rows);
    let written = periods.len() as u64;
    for ((start_ms, _), rows) in periods {
        let existing = transaction
            .query_opt(
                "SELECT data FROM blocks WHERE meter_id = $1 AND kind = $2 AND start_ms = $3",
                &[&meter, &kind.code(), &start_ms],
            )
            .await?;
        let records = match existing {
            Some(row) => compact::merge(compact::decode::<T>(row.try_get(0)?)?, rows),
            None => compact::merge(Vec::new(), rows),
        };
        write_block(transaction, meter, kind, start_ms, &records).await?;
    }
    Ok(written)
}

/// Writes (or replaces) the block of the period starting at `start_ms`, ending just after
/// its newest record ([`compact::block_end_ms`]); an empty one is deleted.
async fn write_block<T: Compact>(
    transaction: &Transaction<'_>,
    meter: &str,
    kind: BlockKind,
    start_ms: i64,
    records: &[T],
) -> Result<(), StoreError> {
    let Some(newest) = records.last() else {
        transaction
            .execute(
                "DELETE FROM blocks WHERE meter_id = $1 AND kind = $2 AND start_ms = $3",
                &[&meter, &kind.code(), &start_ms],
            )
            .await?;
        return Ok(());
    };
    transaction
        .execute(
            "INSERT INTO blocks (meter_id, kind, start_ms, end_ms, count, data)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (meter_id, kind, start_ms) DO UPDATE SET
                 end_ms = excluded.end_ms, count = excluded.count, data = excluded.data",
            &[
                &meter,
                &kind.code(),
                &start_ms,
                &compact::block_end_ms(newest),
                &(records.len() as i64),
                &compact::encode(records)?,
            ],
        )
        .await?;
    Ok(())
}

/// Deletes compacted live readings before `before_ms`: whole blocks, and the readings of
/// the blocks the cut falls in. Returns how many readings went.
pub(super) async fn prune_live_blocks(
    transaction: &Transaction<'_>,
    before_ms: i64,
) -> Result<u64, StoreError> {
    let kind = BlockKind::Live;
    let whole: i64 = transaction
        .query_one(
            "WITH gone AS (DELETE FROM blocks WHERE kind = $1 AND end_ms <= $2 RETURNING count)
             SELECT coalesce(sum(count), 0)::int8 FROM gone",
            &[&kind.code(), &before_ms],
        )
        .await?
        .try_get(0)?;
    let straddling = transaction
        .query(
            "SELECT meter_id, start_ms, data FROM blocks WHERE kind = $1
             AND start_ms < $2 AND end_ms > $2",
            &[&kind.code(), &before_ms],
        )
        .await?;
    let mut deleted = u64::try_from(whole).unwrap_or(0);
    for row in straddling {
        let meter: String = row.try_get(0)?;
        let readings = compact::decode::<LiveReading>(row.try_get(2)?)?;
        let (kept, gone) = compact::keep_from(readings, before_ms);
        deleted += gone;
        write_block(transaction, &meter, kind, row.try_get(1)?, &kept).await?;
    }
    Ok(deleted)
}
