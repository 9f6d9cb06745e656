//! The readings and records as both backends keep them: the columns of live readings,
//! interval records, rollups and dead letters beside the one mapping from those columns
//! to the value (and, for interval records, from the value to the columns), the decoding
//! of the JSON columns, the newest registers of a meter, and the gaps in a meter's
//! sequence. Which rows to select stays each backend's SQL.

use crate::rows::{ResultRow, narrow};
use crate::{
    Bucket, DeadLetter, Gap, IntervalRegisters, StoreError, corrupt, stored_meter_id, to_i64,
    to_u64,
};
use joule_protocol::{
    EventMessage, IntervalRecord, LiveReading, MeterId, PhaseReading, PqCounters, Registers,
    RelayState,
};

/// A row's or a block's newest `(time, import, export)`: an hour bucket's start and last
/// registers, or an interval record's end and registers.
pub(crate) type Newest = (i64, u64, u64);

/// The hour bucket's registers count as of the hour's end.
const HOUR_END_MS: i64 = 3_600_000 - 1;

/// A meter's newest registers, for ingest's regression check after a restart: of its
/// newest hour bucket and its newest interval record, the later. Each is its newest row's
/// or its newest block's, whichever is later; a bucket in both (a late reading for the
/// block's last hour) is one bucket, whose registers are the higher of its two parts'
/// (registers only grow). The backends find the blocks' newest only where a block ends
/// after the row (for buckets, at or after it).
pub(crate) fn newest_registers(
    (row_bucket, block_bucket): (Option<Newest>, Option<&Bucket>),
    (row_record, block_record): (Option<Newest>, Option<&IntervalRegisters>),
) -> Option<(i64, Registers)> {
    let block_bucket = block_bucket.map(|b| (b.bucket_ms, b.import_last, b.export_last));
    let bucket = match (row_bucket, block_bucket) {
        (Some(row), Some(block)) if row.0 == block.0 => {
            Some((row.0, row.1.max(block.1), row.2.max(block.2)))
        }
        (row, block) => row.max(block),
    }
    .map(|(bucket_ms, import, export)| (bucket_ms + HOUR_END_MS, import, export));
    let record = row_record.max(block_record.map(|r| (r.ts_ms, r.import_mwh, r.export_mwh)));
    let (ts_ms, import_mwh, export_mwh) = bucket.max(record)?;
    Some((
        ts_ms,
        Registers {
            import_mwh,
            export_mwh,
            ..Registers::default()
        },
    ))
}

/// The columns `reading` reads, of `live`.
pub(crate) const READING_COLUMNS: &str = "seq, ts_ms, voltage_v, current_a, p_w, q_var, s_va,
    pf, freq_hz, import_mwh, export_mwh, reactive_mvarh, apparent_import_mvah,
    apparent_export_mvah, tariff, relay, phases";

/// A live reading, from `READING_COLUMNS`.
pub(crate) fn reading(row: &impl ResultRow) -> Result<LiveReading, StoreError> {
    let phases: Vec<PhaseReading> = match row.opt_text(16)? {
        Some(text) => serde_json::from_str(&text).map_err(corrupt("phases"))?,
        None => Vec::new(),
    };
    Ok(LiveReading {
        v: joule_protocol::PAYLOAD_VERSION,
        seq: to_u64(row.int(0)?),
        ts_ms: row.int(1)?,
        voltage_v: row.real(2)?,
        current_a: row.real(3)?,
        p_w: row.real(4)?,
        q_var: row.real(5)?,
        s_va: row.real(6)?,
        pf: row.real(7)?,
        freq_hz: row.opt_real(8)?,
        registers: Registers {
            import_mwh: to_u64(row.int(9)?),
            export_mwh: to_u64(row.int(10)?),
            reactive_mvarh: serde_json::from_str(&row.text(11)?).map_err(corrupt("registers"))?,
            apparent_import_mvah: to_u64(row.int(12)?),
            apparent_export_mvah: to_u64(row.int(13)?),
        },
        tariff: narrow(row.small(14)?, "tariff")?,
        phases,
        relay: relay_from_name(row.text(15)?)?,
    })
}

/// A relay state read back: its wire name.
fn relay_from_name(name: String) -> Result<RelayState, StoreError> {
    serde_json::from_value(serde_json::Value::String(name)).map_err(corrupt("relay state"))
}

/// The columns `interval` reads, of `intervals`: every field typed, tariffs (rarely more
/// than a few) as JSON.
pub(crate) const INTERVAL_COLUMNS: &str = "v, seq, ts_ms, interval_s, import_mwh, export_mwh,
    q1_mvarh, q2_mvarh, q3_mvarh, q4_mvarh, apparent_import_mvah, apparent_export_mvah,
    tariffs, voltage_min_v, voltage_max_v, voltage_avg_v, max_demand_w, sags, swells,
    interruptions";

/// The columns `interval_registers` reads, of `intervals`.
pub(crate) const INTERVAL_REGISTER_COLUMNS: &str =
    "seq, ts_ms, interval_s, import_mwh, export_mwh, max_demand_w";

/// An interval record's registers, from `INTERVAL_REGISTER_COLUMNS`.
pub(crate) fn interval_registers(row: &impl ResultRow) -> Result<IntervalRegisters, StoreError> {
    Ok(IntervalRegisters {
        seq: to_u64(row.int(0)?),
        ts_ms: row.int(1)?,
        interval_s: narrow(row.int(2)?, "interval length")?,
        import_mwh: to_u64(row.int(3)?),
        export_mwh: to_u64(row.int(4)?),
        max_demand_w: row.opt_real(5)?,
    })
}

/// An interval record, from `INTERVAL_COLUMNS`.
pub(crate) fn interval(row: &impl ResultRow) -> Result<IntervalRecord, StoreError> {
    let count = |column: usize, what: &'static str| -> Result<u32, StoreError> {
        narrow(row.int(column)?, what)
    };
    Ok(IntervalRecord {
        v: count(0, "payload version")?,
        seq: to_u64(row.int(1)?),
        ts_ms: row.int(2)?,
        interval_s: count(3, "interval length")?,
        registers: Registers {
            import_mwh: to_u64(row.int(4)?),
            export_mwh: to_u64(row.int(5)?),
            reactive_mvarh: [
                to_u64(row.int(6)?),
                to_u64(row.int(7)?),
                to_u64(row.int(8)?),
                to_u64(row.int(9)?),
            ],
            apparent_import_mvah: to_u64(row.int(10)?),
            apparent_export_mvah: to_u64(row.int(11)?),
        },
        tariffs: match row.opt_text(12)? {
            Some(text) => serde_json::from_str(&text).map_err(corrupt("tariff registers"))?,
            None => Vec::new(),
        },
        voltage_min_v: row.real(13)?,
        voltage_max_v: row.real(14)?,
        voltage_avg_v: row.real(15)?,
        max_demand_w: row.opt_real(16)?,
        pq: PqCounters {
            sags: count(17, "sag count")?,
            swells: count(18, "swell count")?,
            interruptions: count(19, "interruption count")?,
        },
    })
}

/// An interval record's values as both backends write them, in `INTERVAL_COLUMNS` order.
#[derive(Debug)]
pub(crate) struct IntervalValues {
    /// v, seq, ts_ms, interval_s and the eight registers.
    pub(crate) ints: [i64; 12],
    /// The tariff registers as JSON, or NULL when there are none.
    pub(crate) tariffs: Option<String>,
    /// Voltage min, max, average.
    pub(crate) volts: [f64; 3],
    /// The maximum demand register.
    pub(crate) max_demand_w: Option<f64>,
    /// Sags, swells, interruptions.
    pub(crate) pq: [i64; 3],
}

impl IntervalValues {
    /// The values of `record`.
    pub(crate) fn of(record: &IntervalRecord) -> Result<Self, StoreError> {
        let r = &record.registers;
        Ok(Self {
            ints: [
                i64::from(record.v),
                to_i64(record.seq),
                record.ts_ms,
                i64::from(record.interval_s),
                to_i64(r.import_mwh),
                to_i64(r.export_mwh),
                to_i64(r.reactive_mvarh[0]),
                to_i64(r.reactive_mvarh[1]),
                to_i64(r.reactive_mvarh[2]),
                to_i64(r.reactive_mvarh[3]),
                to_i64(r.apparent_import_mvah),
                to_i64(r.apparent_export_mvah),
            ],
            tariffs: if record.tariffs.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&record.tariffs).map_err(corrupt("tariff registers"))?)
            },
            volts: [
                record.voltage_min_v,
                record.voltage_max_v,
                record.voltage_avg_v,
            ],
            max_demand_w: record.max_demand_w,
            pq: [
                i64::from(record.pq.sags),
                i64::from(record.pq.swells),
                i64::from(record.pq.interruptions),
            ],
        })
    }
}

/// The columns `series_point` reads, of `rollups`.
pub(crate) const ROLLUP_COLUMNS: &str = "bucket_ms, count, p_sum, p_min, p_max, v_sum, v_min,
    v_max, import_first, import_last, export_first, export_last";

/// One bucket of a series as stored, from `ROLLUP_COLUMNS`.
pub(crate) fn bucket(row: &impl ResultRow) -> Result<Bucket, StoreError> {
    Ok(Bucket {
        bucket_ms: row.int(0)?,
        count: to_u64(row.int(1)?),
        p_sum: row.real(2)?,
        p_min: row.real(3)?,
        p_max: row.real(4)?,
        v_sum: row.real(5)?,
        v_min: row.real(6)?,
        v_max: row.real(7)?,
        import_first: to_u64(row.int(8)?),
        import_last: to_u64(row.int(9)?),
        export_first: to_u64(row.int(10)?),
        export_last: to_u64(row.int(11)?),
    })
}

/// The columns `dead_letter` reads, of `dead_letters`.
pub(crate) const DEAD_LETTER_COLUMNS: &str =
    "received_ms, topic, meter_id, reason, detail, payload, seq";

/// A dead letter, from `DEAD_LETTER_COLUMNS`.
pub(crate) fn dead_letter(row: &impl ResultRow) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        received_ms: row.int(0)?,
        topic: row.text(1)?,
        meter: row.opt_text(2)?,
        reason: row.text(3)?,
        detail: row.text(4)?,
        payload: row.bytes(5)?,
        seq: row.opt_int(6)?.map(to_u64),
    })
}

/// The JSON document in a row's first column (an interval record, an event), decoded.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    row: &impl ResultRow,
    what: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(&row.text(0)?).map_err(corrupt(what))
}

/// An event with its meter, from `SELECT meter_id, event`.
pub(crate) fn meter_event(row: &impl ResultRow) -> Result<(MeterId, EventMessage), StoreError> {
    let event = serde_json::from_str(&row.text(1)?).map_err(corrupt("event"))?;
    Ok((stored_meter_id(&row.text(0)?)?, event))
}

/// The holes in a meter's sequence: `seqs` are the stored sequence numbers above the
/// contiguous mark, in order.
pub(crate) fn gaps_above(contiguous: i64, seqs: &[i64]) -> Vec<Gap> {
    let mut expected = contiguous + 1;
    let mut gaps = Vec::new();
    for &seq in seqs {
        if seq > expected {
            gaps.push(Gap {
                from: to_u64(expected),
                to: to_u64(seq - 1),
            });
        }
        expected = seq + 1;
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(bucket_ms: i64, import_last: u64) -> Bucket {
        Bucket {
            bucket_ms,
            count: 1,
            p_sum: 0.0,
            p_min: 0.0,
            p_max: 0.0,
            v_sum: 0.0,
            v_min: 0.0,
            v_max: 0.0,
            import_first: import_last,
            import_last,
            export_first: 0,
            export_last: 0,
        }
    }

    fn import(newest: Option<(i64, Registers)>) -> Option<(i64, u64)> {
        newest.map(|(ts_ms, registers)| (ts_ms, registers.import_mwh))
    }

    #[test]
    fn the_newest_registers_are_the_later_of_bucket_and_record() {
        const H: i64 = 3_600_000;
        // A bucket split between a block and a row (a late reading earlier in the hour):
        // one bucket, with the higher registers, as of the hour's end.
        let block = bucket(5 * H, 900);
        assert_eq!(
            import(newest_registers(
                (Some((5 * H, 700, 0)), Some(&block)),
                (None, None)
            )),
            Some((6 * H - 1, 900))
        );
        // The block's newer bucket wins over an older row.
        assert_eq!(
            import(newest_registers(
                (Some((4 * H, 700, 0)), Some(&block)),
                (None, None)
            )),
            Some((6 * H - 1, 900))
        );
        // An interval record after the bucket's hour wins.
        let record = IntervalRegisters {
            seq: 9,
            ts_ms: 6 * H,
            interval_s: 900,
            import_mwh: 950,
            export_mwh: 0,
            max_demand_w: None,
        };
        assert_eq!(
            import(newest_registers(
                (None, Some(&block)),
                (Some((5 * H, 800, 0)), Some(&record))
            )),
            Some((6 * H, 950))
        );
        assert_eq!(newest_registers((None, None), (None, None)), None);
    }
}
