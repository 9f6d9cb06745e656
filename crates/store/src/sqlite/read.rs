//! SQLite queries for the readers: progress, series, readings, records.

use crate::{
    DeadLetter, Gap, Resolution, SeriesPoint, StoreError, corrupt, relay_from_name,
    stored_meter_id, to_u64,
};
use joule_protocol::{EventMessage, LiveReading, MeterId, PhaseReading, Registers};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) fn contiguous_seq(connection: &Connection, meter: &MeterId) -> Result<u64, StoreError> {
    let contiguous: Option<i64> = connection
        .query_row(
            "SELECT contiguous FROM progress WHERE meter_id = ?1",
            params![meter.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    Ok(contiguous.map_or(0, to_u64))
}

pub(super) fn gaps(connection: &Connection, meter: &MeterId) -> Result<Vec<Gap>, StoreError> {
    let contiguous = crate::to_i64(contiguous_seq(connection, meter)?);
    let mut statement = connection
        .prepare_cached("SELECT seq FROM seqs WHERE meter_id = ?1 AND seq > ?2 ORDER BY seq")?;
    let seqs = statement.query_map(params![meter.as_str(), contiguous], |row| {
        row.get::<_, i64>(0)
    })?;
    let mut expected = contiguous + 1;
    let mut gaps = Vec::new();
    for seq in seqs {
        let seq = seq?;
        if seq > expected {
            gaps.push(Gap {
                from: to_u64(expected),
                to: to_u64(seq - 1),
            });
        }
        expected = seq + 1;
    }
    Ok(gaps)
}

pub(super) fn latest_registers(
    connection: &Connection,
) -> Result<Vec<(MeterId, i64, Registers)>, StoreError> {
    // The newest hour rollup (live readings may be pruned; rollups stay) and interval
    // record per meter. A rollup's registers are the hour's last, so they count as of the
    // hour's end. Two index seeks per meter: a scan of every record grouped by meter
    // took seconds per thousand meters, with the reader held and the hub not yet ingesting.
    let mut rollup = connection.prepare_cached(
        "SELECT bucket_ms + 3599999, import_last, export_last FROM rollups
         WHERE meter_id = ?1 AND width_ms = 3600000 ORDER BY bucket_ms DESC LIMIT 1",
    )?;
    let mut record = connection.prepare_cached(
        "SELECT ts_ms, import_mwh, export_mwh FROM intervals
         WHERE meter_id = ?1 ORDER BY ts_ms DESC LIMIT 1",
    )?;
    // Every meter that has sent anything has a progress row.
    let mut meters =
        connection.prepare_cached("SELECT meter_id FROM progress ORDER BY meter_id")?;
    let ids = meters
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let newest = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, i64, i64)> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    };
    let mut latest = Vec::new();
    for id in ids {
        let from_rollup = rollup.query_row(params![id], newest).optional()?;
        let from_record = record.query_row(params![id], newest).optional()?;
        let Some((ts_ms, import_mwh, export_mwh)) = from_rollup.max(from_record) else {
            continue;
        };
        let registers = Registers {
            import_mwh: to_u64(import_mwh),
            export_mwh: to_u64(export_mwh),
            ..Registers::default()
        };
        latest.push((stored_meter_id(&id)?, ts_ms, registers));
    }
    Ok(latest)
}

const LIVE_COLUMNS: &str = "SELECT seq, ts_ms, voltage_v, current_a, p_w, q_var, s_va, pf, freq_hz,
    import_mwh, export_mwh, reactive_mvarh, apparent_import_mvah, apparent_export_mvah, tariff,
    relay, phases FROM live";

pub(super) fn latest_reading(
    connection: &Connection,
    meter: &MeterId,
) -> Result<Option<LiveReading>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{LIVE_COLUMNS} WHERE meter_id = ?1 ORDER BY ts_ms DESC, seq DESC LIMIT 1"
    ))?;
    let mut rows = statement.query(params![meter.as_str()])?;
    rows.next()?.map(live_from_row).transpose()
}

pub(super) fn readings(
    connection: &Connection,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<LiveReading>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{LIVE_COLUMNS} WHERE meter_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms, seq"
    ))?;
    let mut rows = statement.query(params![meter.as_str(), from_ms, to_ms])?;
    let mut readings = Vec::new();
    while let Some(row) = rows.next()? {
        readings.push(live_from_row(row)?);
    }
    Ok(readings)
}

pub(super) fn series(
    connection: &Connection,
    meter: &MeterId,
    resolution: Resolution,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let Some(width_ms) = resolution.bucket_ms() else {
        return Ok(readings(connection, meter, from_ms, to_ms)?
            .iter()
            .map(SeriesPoint::of)
            .collect());
    };
    let mut statement = connection.prepare_cached(
        "SELECT bucket_ms, count, p_sum, p_min, p_max, v_sum, v_min, v_max, import_first,
                import_last, export_first, export_last
         FROM rollups WHERE meter_id = ?1 AND width_ms = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4
         ORDER BY bucket_ms",
    )?;
    let rows = statement.query_map(params![meter.as_str(), width_ms, from_ms, to_ms], |row| {
        let count: i64 = row.get(1)?;
        let n = count.max(1) as f64;
        Ok(SeriesPoint {
            ts_ms: row.get(0)?,
            count: to_u64(count),
            p_avg_w: row.get::<_, f64>(2)? / n,
            p_min_w: row.get(3)?,
            p_max_w: row.get(4)?,
            v_avg_v: row.get::<_, f64>(5)? / n,
            v_min_v: row.get(6)?,
            v_max_v: row.get(7)?,
            import_first_mwh: to_u64(row.get(8)?),
            import_last_mwh: to_u64(row.get(9)?),
            export_first_mwh: to_u64(row.get(10)?),
            export_last_mwh: to_u64(row.get(11)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A JSON column selected by `sql` (with the meter and time range as parameters), decoded.
pub(super) fn json_in_range<T: serde::de::DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map(params![meter.as_str(), from_ms, to_ms], |row| {
        row.get::<_, String>(0)
    })?;
    let mut decoded = Vec::new();
    for row in rows {
        decoded.push(serde_json::from_str(&row?).map_err(corrupt(what))?);
    }
    Ok(decoded)
}

pub(super) fn recent_events(
    connection: &Connection,
    limit: usize,
) -> Result<Vec<(MeterId, EventMessage)>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT meter_id, event FROM events ORDER BY ts_ms DESC, meter_id, seq DESC LIMIT ?1",
    )?;
    let rows = statement.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (meter, event) = row?;
        let event = serde_json::from_str(&event).map_err(corrupt("event"))?;
        events.push((stored_meter_id(&meter)?, event));
    }
    Ok(events)
}

pub(super) fn dead_letters(
    connection: &Connection,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let mut statement = connection.prepare(
        "SELECT received_ms, topic, meter_id, reason, detail, payload, seq FROM dead_letters
         ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = statement.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
        Ok(DeadLetter {
            received_ms: row.get(0)?,
            topic: row.get(1)?,
            meter: row.get(2)?,
            reason: row.get(3)?,
            detail: row.get(4)?,
            payload: row.get(5)?,
            seq: row.get::<_, Option<i64>>(6)?.map(to_u64),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn live_from_row(row: &rusqlite::Row<'_>) -> Result<LiveReading, StoreError> {
    let reactive: String = row.get(11)?;
    let phases: Option<String> = row.get(16)?;
    let phases: Vec<PhaseReading> = match phases {
        Some(text) => serde_json::from_str(&text).map_err(corrupt("phases"))?,
        None => Vec::new(),
    };
    Ok(LiveReading {
        v: joule_protocol::PAYLOAD_VERSION,
        seq: to_u64(row.get(0)?),
        ts_ms: row.get(1)?,
        voltage_v: row.get(2)?,
        current_a: row.get(3)?,
        p_w: row.get(4)?,
        q_var: row.get(5)?,
        s_va: row.get(6)?,
        pf: row.get(7)?,
        freq_hz: row.get(8)?,
        registers: Registers {
            import_mwh: to_u64(row.get(9)?),
            export_mwh: to_u64(row.get(10)?),
            reactive_mvarh: serde_json::from_str(&reactive).map_err(corrupt("registers"))?,
            apparent_import_mvah: to_u64(row.get(12)?),
            apparent_export_mvah: to_u64(row.get(13)?),
        },
        tariff: row.get(14)?,
        phases,
        relay: relay_from_name(row.get(15)?)?,
    })
}
