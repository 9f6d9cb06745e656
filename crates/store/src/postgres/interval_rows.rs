//! Interval records as PostgreSQL takes them in bulk: one array per typed column, inserted
//! with one `unnest` statement (by the ingest path and by the upgrade from JSON rows).

use crate::StoreError;
use crate::read::{INTERVAL_COLUMNS, IntervalValues};
use joule_protocol::{IntervalRecord, MeterId};
use tokio_postgres::Transaction;

/// Interval records to insert, as one array per column of `INTERVAL_COLUMNS` (integers
/// first, then tariffs, then reals).
#[derive(Debug, Default)]
pub(super) struct IntervalRows<'a> {
    meter: Vec<&'a str>,
    /// v, seq, ts_ms, interval_s, the eight registers: twelve columns.
    ints: [Vec<i64>; 12],
    tariffs: Vec<Option<String>>,
    /// Voltage min, max, average.
    volts: [Vec<f64>; 3],
    max_demand_w: Vec<Option<f64>>,
    /// Sags, swells, interruptions.
    pq: [Vec<i64>; 3],
}

impl<'a> IntervalRows<'a> {
    pub(super) fn push(
        &mut self,
        meter: &'a MeterId,
        record: &IntervalRecord,
    ) -> Result<(), StoreError> {
        let values = IntervalValues::of(record)?;
        self.meter.push(meter.as_str());
        for (column, value) in self.ints.iter_mut().zip(values.ints) {
            column.push(value);
        }
        self.tariffs.push(values.tariffs);
        for (column, value) in self.volts.iter_mut().zip(values.volts) {
            column.push(value);
        }
        self.max_demand_w.push(values.max_demand_w);
        for (column, value) in self.pq.iter_mut().zip(values.pq) {
            column.push(value);
        }
        Ok(())
    }

    pub(super) async fn insert(&self, transaction: &Transaction<'_>) -> Result<(), StoreError> {
        if self.meter.is_empty() {
            return Ok(());
        }
        let [v, seq, ts, len, i, e, q1, q2, q3, q4, ai, ae] = &self.ints;
        let [vmin, vmax, vavg] = &self.volts;
        let [sags, swells, interruptions] = &self.pq;
        transaction
            .execute(
                &format!(
                    "INSERT INTO intervals (meter_id, {INTERVAL_COLUMNS})
                     SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[],
                         $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[],
                         $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::text[],
                         $15::float8[], $16::float8[], $17::float8[], $18::float8[],
                         $19::int8[], $20::int8[], $21::int8[])"
                ),
                &[
                    &self.meter,
                    v,
                    seq,
                    ts,
                    len,
                    i,
                    e,
                    q1,
                    q2,
                    q3,
                    q4,
                    ai,
                    ae,
                    &self.tariffs,
                    vmin,
                    vmax,
                    vavg,
                    &self.max_demand_w,
                    sags,
                    swells,
                    interruptions,
                ],
            )
            .await?;
        Ok(())
    }
}
