//! Bytes on disk per interval record and per live reading, everything included, apart for
//! compacted and fresh data: compacted, a kind's share of the blocks table (indexes
//! included) over the records its blocks hold; fresh, its rows' tables with their indexes
//! over the rows. Live readings carry the rollups made from them, interval records the
//! sequence bookkeeping. Asked of the database itself (SQLite's `dbstat`, PostgreSQL's
//! relation sizes), so free pages and file slack are not counted to either.

use std::path::Path;

use anyhow::Context;

/// The block kind code `joule_store` gives interval records; every other kind holds live
/// readings or their rollups.
const INTERVAL_KIND: i64 = 1;
/// The block kind code of live readings.
const LIVE_KIND: i64 = 2;

/// What the database told: table bytes, block payloads and record counts.
#[derive(Debug, Clone, Copy, Default)]
struct Census {
    /// The blocks table with its index.
    blocks_bytes: f64,
    /// Compressed bytes in interval blocks, and in live and rollup blocks.
    interval_payload: f64,
    live_payload: f64,
    /// Records in interval blocks, and live readings in live blocks.
    compacted_intervals: f64,
    compacted_live: f64,
    /// `intervals` and `seqs` with their indexes; `live` and `rollups` with theirs.
    fresh_interval_bytes: f64,
    fresh_live_bytes: f64,
    /// Rows in `intervals`, and in `live`.
    fresh_intervals: f64,
    fresh_live: f64,
}

/// Bytes per record, compacted and fresh, for interval records and live readings.
#[derive(Debug, Clone, Copy)]
pub(super) struct KindBytes {
    pub(super) interval_compacted: f64,
    pub(super) interval_fresh: f64,
    pub(super) live_compacted: f64,
    pub(super) live_fresh: f64,
    /// Fresh rows the fresh figures are over: an hourly pass leaves few live rows, over
    /// which the tables' pages say little.
    pub(super) fresh_interval_rows: f64,
    pub(super) fresh_live_rows: f64,
}

impl From<Census> for KindBytes {
    fn from(c: Census) -> Self {
        let per = |bytes: f64, count: f64| if count > 0.0 { bytes / count } else { 0.0 };
        let payload = c.interval_payload + c.live_payload;
        let share = |part: f64| {
            if payload > 0.0 {
                c.blocks_bytes * part / payload
            } else {
                0.0
            }
        };
        Self {
            interval_compacted: per(share(c.interval_payload), c.compacted_intervals),
            interval_fresh: per(c.fresh_interval_bytes, c.fresh_intervals),
            live_compacted: per(share(c.live_payload), c.compacted_live),
            live_fresh: per(c.fresh_live_bytes, c.fresh_live),
            fresh_interval_rows: c.fresh_intervals,
            fresh_live_rows: c.fresh_live,
        }
    }
}

/// What the SQLite file at `path` spends on each kind.
pub(super) fn sqlite(path: &Path) -> anyhow::Result<KindBytes> {
    let db =
        rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    let number = |sql: &str| -> anyhow::Result<f64> {
        Ok(db.query_row(sql, [], |row| row.get::<_, i64>(0))? as f64)
    };
    let pages = |names: &str| {
        number(&format!(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN ({names})"
        ))
    };
    let autoindexes = |table: &str| {
        number(&format!(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'sqlite_autoindex_{table}%'"
        ))
    };
    Ok(Census {
        blocks_bytes: pages("'blocks'")? + autoindexes("blocks")?,
        interval_payload: number(&format!(
            "SELECT coalesce(sum(length(data)), 0) FROM blocks WHERE kind = {INTERVAL_KIND}"
        ))?,
        live_payload: number(&format!(
            "SELECT coalesce(sum(length(data)), 0) FROM blocks WHERE kind <> {INTERVAL_KIND}"
        ))?,
        compacted_intervals: number(&format!(
            "SELECT coalesce(sum(count), 0) FROM blocks WHERE kind = {INTERVAL_KIND}"
        ))?,
        compacted_live: number(&format!(
            "SELECT coalesce(sum(count), 0) FROM blocks WHERE kind = {LIVE_KIND}"
        ))?,
        fresh_interval_bytes: pages("'intervals', 'seqs'")?,
        fresh_live_bytes: pages("'live', 'rollups'")?,
        fresh_intervals: number("SELECT count(*) FROM intervals")?,
        fresh_live: number("SELECT count(*) FROM live")?,
    }
    .into())
}

/// What the PostgreSQL database at `conninfo` spends on each kind.
pub(super) async fn postgres(conninfo: &str) -> anyhow::Result<KindBytes> {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(connection);
    let number = |sql: String| {
        let client = &client;
        async move {
            let row = client
                .query_one(&format!("SELECT ({sql})::int8"), &[])
                .await?;
            anyhow::Ok(row.get::<_, i64>(0) as f64)
        }
    };
    let census = Census {
        blocks_bytes: number("pg_total_relation_size('blocks')".into()).await?,
        interval_payload: number(format!(
            "SELECT coalesce(sum(pg_column_size(data)), 0) FROM blocks WHERE kind = {INTERVAL_KIND}"
        ))
        .await?,
        live_payload: number(format!(
            "SELECT coalesce(sum(pg_column_size(data)), 0) FROM blocks WHERE kind <> {INTERVAL_KIND}"
        ))
        .await?,
        compacted_intervals: number(format!(
            "SELECT coalesce(sum(count), 0) FROM blocks WHERE kind = {INTERVAL_KIND}"
        ))
        .await?,
        compacted_live: number(format!(
            "SELECT coalesce(sum(count), 0) FROM blocks WHERE kind = {LIVE_KIND}"
        ))
        .await?,
        fresh_interval_bytes: number(format!(
            "{} + pg_total_relation_size('seqs')",
            partitioned_size("intervals")
        ))
        .await?,
        fresh_live_bytes: number(format!(
            "{} + {}",
            partitioned_size("live"),
            partitioned_size("rollups")
        ))
        .await?,
        fresh_intervals: number("SELECT count(*) FROM intervals".into()).await?,
        fresh_live: number("SELECT count(*) FROM live".into()).await?,
    };
    task.abort();
    Ok(census.into())
}

/// The SQL for the size of a partitioned table: its partitions', indexes included.
fn partitioned_size(table: &str) -> String {
    format!(
        "coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('{table}')), 0)"
    )
}
