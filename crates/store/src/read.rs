//! The readings and records as both backends read them back: the columns of live readings,
//! rollups and dead letters beside the one mapping from those columns to the value, the
//! decoding of the JSON columns, and the gaps in a meter's sequence. Which rows to select
//! stays each backend's SQL.

use crate::rows::{ResultRow, narrow};
use crate::{DeadLetter, Gap, SeriesPoint, StoreError, corrupt, stored_meter_id, to_u64};
use joule_protocol::{EventMessage, LiveReading, MeterId, PhaseReading, Registers, RelayState};

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

/// The columns `series_point` reads, of `rollups`.
pub(crate) const ROLLUP_COLUMNS: &str = "bucket_ms, count, p_sum, p_min, p_max, v_sum, v_min,
    v_max, import_first, import_last, export_first, export_last";

/// One bucket of a series, from `ROLLUP_COLUMNS`: the sums become averages.
pub(crate) fn series_point(row: &impl ResultRow) -> Result<SeriesPoint, StoreError> {
    let count = row.int(1)?;
    let n = count.max(1) as f64;
    Ok(SeriesPoint {
        ts_ms: row.int(0)?,
        count: to_u64(count),
        p_avg_w: row.real(2)? / n,
        p_min_w: row.real(3)?,
        p_max_w: row.real(4)?,
        v_avg_v: row.real(5)? / n,
        v_min_v: row.real(6)?,
        v_max_v: row.real(7)?,
        import_first_mwh: to_u64(row.int(8)?),
        import_last_mwh: to_u64(row.int(9)?),
        export_first_mwh: to_u64(row.int(10)?),
        export_last_mwh: to_u64(row.int(11)?),
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
