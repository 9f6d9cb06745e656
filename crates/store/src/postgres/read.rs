//! PostgreSQL queries for the readers: progress, series, readings, records. They run on the
//! reader connection, which sees the last committed batch and never waits for the writer.

use crate::{
    DeadLetter, Gap, Resolution, SeriesPoint, StoreError, corrupt, relay_from_name,
    stored_meter_id, to_i64, to_u64,
};
use joule_protocol::{EventMessage, LiveReading, MeterId, PhaseReading, Registers};
use tokio_postgres::{Client, Row};

pub(super) async fn contiguous_seq(client: &Client, meter: &MeterId) -> Result<u64, StoreError> {
    let row = client
        .query_opt(
            "SELECT contiguous FROM progress WHERE meter_id = $1",
            &[&meter.as_str()],
        )
        .await?;
    Ok(match row {
        Some(row) => to_u64(row.try_get(0)?),
        None => 0,
    })
}

pub(super) async fn gaps(client: &Client, meter: &MeterId) -> Result<Vec<Gap>, StoreError> {
    let contiguous = to_i64(contiguous_seq(client, meter).await?);
    let rows = client
        .query(
            "SELECT seq FROM seqs WHERE meter_id = $1 AND seq > $2 ORDER BY seq",
            &[&meter.as_str(), &contiguous],
        )
        .await?;
    let mut expected = contiguous + 1;
    let mut gaps = Vec::new();
    for row in rows {
        let seq: i64 = row.try_get(0)?;
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

pub(super) async fn latest_registers(
    client: &Client,
) -> Result<Vec<(MeterId, i64, Registers)>, StoreError> {
    // The newest hour rollup (live readings may be pruned; rollups stay) and interval
    // record per meter. A rollup's registers are the hour's last, so they count as of the
    // hour's end. Two index seeks per meter that has sent anything (LATERAL): sorting every record by meter took
    // seconds per thousand meters, while the hub waited to start ingesting.
    let rows = client
        .query(
            "SELECT p.meter_id, latest.ts_ms, latest.import_mwh, latest.export_mwh
             FROM progress p CROSS JOIN LATERAL (
                 SELECT * FROM (
                     (SELECT bucket_ms + 3599999 AS ts_ms, import_last AS import_mwh,
                             export_last AS export_mwh
                      FROM rollups WHERE meter_id = p.meter_id AND width_ms = 3600000
                      ORDER BY bucket_ms DESC LIMIT 1)
                     UNION ALL
                     (SELECT ts_ms, import_mwh, export_mwh FROM intervals
                      WHERE meter_id = p.meter_id ORDER BY ts_ms DESC LIMIT 1)
                 ) AS newest ORDER BY ts_ms DESC LIMIT 1
             ) AS latest ORDER BY p.meter_id",
            &[],
        )
        .await?;
    let mut latest = Vec::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        let registers = Registers {
            import_mwh: to_u64(row.try_get(2)?),
            export_mwh: to_u64(row.try_get(3)?),
            ..Registers::default()
        };
        latest.push((stored_meter_id(&id)?, row.try_get(1)?, registers));
    }
    Ok(latest)
}

const LIVE_COLUMNS: &str = "SELECT seq, ts_ms, voltage_v, current_a, p_w, q_var, s_va, pf, freq_hz,
    import_mwh, export_mwh, reactive_mvarh, apparent_import_mvah, apparent_export_mvah, tariff,
    relay, phases FROM live";

pub(super) async fn latest_reading(
    client: &Client,
    meter: &MeterId,
) -> Result<Option<LiveReading>, StoreError> {
    let row = client
        .query_opt(
            &format!("{LIVE_COLUMNS} WHERE meter_id = $1 ORDER BY ts_ms DESC, seq DESC LIMIT 1"),
            &[&meter.as_str()],
        )
        .await?;
    row.as_ref().map(live_from_row).transpose()
}

pub(super) async fn readings(
    client: &Client,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<LiveReading>, StoreError> {
    client
        .query(
            &format!(
                "{LIVE_COLUMNS} WHERE meter_id = $1 AND ts_ms >= $2 AND ts_ms < $3
                 ORDER BY ts_ms, seq"
            ),
            &[&meter.as_str(), &from_ms, &to_ms],
        )
        .await?
        .iter()
        .map(live_from_row)
        .collect()
}

pub(super) async fn series(
    client: &Client,
    meter: &MeterId,
    resolution: Resolution,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let Some(width_ms) = resolution.bucket_ms() else {
        return Ok(readings(client, meter, from_ms, to_ms)
            .await?
            .iter()
            .map(SeriesPoint::of)
            .collect());
    };
    let rows = client
        .query(
            "SELECT bucket_ms, count, p_sum, p_min, p_max, v_sum, v_min, v_max, import_first,
                    import_last, export_first, export_last
             FROM rollups
             WHERE meter_id = $1 AND width_ms = $2 AND bucket_ms >= $3 AND bucket_ms < $4
             ORDER BY bucket_ms",
            &[&meter.as_str(), &width_ms, &from_ms, &to_ms],
        )
        .await?;
    let mut points = Vec::with_capacity(rows.len());
    for row in rows {
        let count: i64 = row.try_get(1)?;
        let n = count.max(1) as f64;
        points.push(SeriesPoint {
            ts_ms: row.try_get(0)?,
            count: to_u64(count),
            p_avg_w: row.try_get::<_, f64>(2)? / n,
            p_min_w: row.try_get(3)?,
            p_max_w: row.try_get(4)?,
            v_avg_v: row.try_get::<_, f64>(5)? / n,
            v_min_v: row.try_get(6)?,
            v_max_v: row.try_get(7)?,
            import_first_mwh: to_u64(row.try_get(8)?),
            import_last_mwh: to_u64(row.try_get(9)?),
            export_first_mwh: to_u64(row.try_get(10)?),
            export_last_mwh: to_u64(row.try_get(11)?),
        });
    }
    Ok(points)
}

/// A JSON column selected by `sql` (with the meter and time range as parameters), decoded.
pub(super) async fn json_in_range<T: serde::de::DeserializeOwned>(
    client: &Client,
    sql: &str,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    let rows = client
        .query(sql, &[&meter.as_str(), &from_ms, &to_ms])
        .await?;
    let mut decoded = Vec::with_capacity(rows.len());
    for row in rows {
        let text: String = row.try_get(0)?;
        decoded.push(serde_json::from_str(&text).map_err(corrupt(what))?);
    }
    Ok(decoded)
}

pub(super) async fn recent_events(
    client: &Client,
    limit: usize,
) -> Result<Vec<(MeterId, EventMessage)>, StoreError> {
    let rows = client
        .query(
            "SELECT meter_id, event FROM events ORDER BY ts_ms DESC, meter_id, seq DESC LIMIT $1",
            &[&i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let meter: String = row.try_get(0)?;
        let event: String = row.try_get(1)?;
        let event = serde_json::from_str(&event).map_err(corrupt("event"))?;
        events.push((stored_meter_id(&meter)?, event));
    }
    Ok(events)
}

pub(super) async fn dead_letters(
    client: &Client,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let rows = client
        .query(
            "SELECT received_ms, topic, meter_id, reason, detail, payload, seq FROM dead_letters
             ORDER BY id DESC LIMIT $1",
            &[&i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?;
    let mut letters = Vec::with_capacity(rows.len());
    for row in rows {
        letters.push(DeadLetter {
            received_ms: row.try_get(0)?,
            topic: row.try_get(1)?,
            meter: row.try_get(2)?,
            reason: row.try_get(3)?,
            detail: row.try_get(4)?,
            payload: row.try_get(5)?,
            seq: row.try_get::<_, Option<i64>>(6)?.map(to_u64),
        });
    }
    Ok(letters)
}

fn live_from_row(row: &Row) -> Result<LiveReading, StoreError> {
    let reactive: String = row.try_get(11)?;
    let phases: Option<String> = row.try_get(16)?;
    let phases: Vec<PhaseReading> = match phases {
        Some(text) => serde_json::from_str(&text).map_err(corrupt("phases"))?,
        None => Vec::new(),
    };
    let tariff: i16 = row.try_get(14)?;
    Ok(LiveReading {
        v: joule_protocol::PAYLOAD_VERSION,
        seq: to_u64(row.try_get(0)?),
        ts_ms: row.try_get(1)?,
        voltage_v: row.try_get(2)?,
        current_a: row.try_get(3)?,
        p_w: row.try_get(4)?,
        q_var: row.try_get(5)?,
        s_va: row.try_get(6)?,
        pf: row.try_get(7)?,
        freq_hz: row.try_get(8)?,
        registers: Registers {
            import_mwh: to_u64(row.try_get(9)?),
            export_mwh: to_u64(row.try_get(10)?),
            reactive_mvarh: serde_json::from_str(&reactive).map_err(corrupt("registers"))?,
            apparent_import_mvah: to_u64(row.try_get(12)?),
            apparent_export_mvah: to_u64(row.try_get(13)?),
        },
        tariff: u8::try_from(tariff).map_err(|error| StoreError::Corrupt {
            what: "tariff",
            detail: error.to_string(),
        })?,
        phases,
        relay: relay_from_name(row.try_get(15)?)?,
    })
}
