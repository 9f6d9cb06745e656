//! An interval record as SQLite keeps it: one typed row (written by the ingest path and by
//! the upgrade from JSON rows).

use crate::StoreError;
use crate::read::{INTERVAL_COLUMNS, IntervalValues};
use joule_protocol::{IntervalRecord, MeterId};
use rusqlite::{ToSql, Transaction};

/// Inserts an interval record as its typed row.
pub(super) fn insert_interval(
    transaction: &Transaction<'_>,
    meter: &MeterId,
    record: &IntervalRecord,
) -> Result<(), StoreError> {
    let values = IntervalValues::of(record)?;
    let meter = meter.as_str();
    let mut params: Vec<&dyn ToSql> = vec![&meter];
    params.extend(values.ints.iter().map(|v| v as &dyn ToSql));
    params.push(&values.tariffs);
    params.extend(values.volts.iter().map(|v| v as &dyn ToSql));
    params.push(&values.max_demand_w);
    params.extend(values.pq.iter().map(|v| v as &dyn ToSql));
    transaction
        .prepare_cached(&format!(
            "INSERT INTO intervals (meter_id, {INTERVAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5,
             ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
        ))?
        .execute(params.as_slice())?;
    Ok(())
}
