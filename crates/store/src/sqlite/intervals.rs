//! An interval record as SQLite keeps it: one typed row (written by the ingest path and by
//! the upgrade from JSON rows).

use crate::read::{INTERVAL_COLUMNS, interval_tariffs};
use crate::{StoreError, to_i64};
use joule_protocol::{IntervalRecord, MeterId};
use rusqlite::{Transaction, params};

/// Inserts an interval record as its typed row.
pub(super) fn insert_interval(
    transaction: &Transaction<'_>,
    meter: &MeterId,
    record: &IntervalRecord,
) -> Result<(), StoreError> {
    let r = &record.registers;
    transaction
        .prepare_cached(&format!(
            "INSERT INTO intervals (meter_id, {INTERVAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5,
             ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
        ))?
        .execute(params![
            meter.as_str(),
            record.v,
            to_i64(record.seq),
            record.ts_ms,
            record.interval_s,
            to_i64(r.import_mwh),
            to_i64(r.export_mwh),
            to_i64(r.reactive_mvarh[0]),
            to_i64(r.reactive_mvarh[1]),
            to_i64(r.reactive_mvarh[2]),
            to_i64(r.reactive_mvarh[3]),
            to_i64(r.apparent_import_mvah),
            to_i64(r.apparent_export_mvah),
            interval_tariffs(record)?,
            record.voltage_min_v,
            record.voltage_max_v,
            record.voltage_avg_v,
            record.max_demand_w,
            record.pq.sags,
            record.pq.swells,
            record.pq.interruptions,
        ])?;
    Ok(())
}
