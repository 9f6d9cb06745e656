//! The PostgreSQL ingest path: one transaction per batch, a handful of set-based statements
//! whatever the batch's size.
//!
//! Every table gets its rows in one `INSERT … SELECT FROM unnest(arrays)`, so a batch of a
//! thousand readings costs the same few round trips as a batch of one. Dedup is the
//! `seqs` table's primary key: the sequence rows go in first with `ON CONFLICT DO
//! NOTHING RETURNING`, and only the messages that came back are stored. The day
//! partitions of the fresh-row tables are made before the batch's transaction (see
//! `partitions`).

use super::accounts;
use super::interval_rows::IntervalRows;
use super::partitions::Partitions;
use crate::compact::MINUTE_MS;
use crate::{
    Batch, BatchOutcome, Bucket, StoreError, Stored, corrupt, event_kind_name, rollup_deltas,
    status_of_ack, to_i64, to_u64,
};
use joule_protocol::{EventMessage, LiveReading, MeterId, Status};
use std::collections::{BTreeMap, HashMap, HashSet};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Transaction};

/// The writer connection and what it knows about the fresh-row tables' partitions.
#[derive(Debug)]
pub(super) struct Writer {
    client: Client,
    partitions: Partitions,
}

impl Writer {
    /// Wraps the (migrated) writer connection.
    pub(super) async fn new(client: Client) -> Result<Self, StoreError> {
        let partitions = Partitions::of(&client).await?;
        Ok(Self { client, partitions })
    }

    /// The connection, for single statements.
    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    /// The connection, for transactions.
    pub(super) fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Drops the partitions that compaction up to `cut_ms` emptied.
    pub(super) async fn drop_compacted(&mut self, cut_ms: i64) -> Result<(), StoreError> {
        self.partitions
            .drop_compacted(&mut self.client, cut_ms)
            .await
    }

    /// Writes a batch in one transaction (see [`crate::Store::write_batch`]).
    pub(super) async fn write_batch(&mut self, batch: &Batch) -> Result<BatchOutcome, StoreError> {
        self.partitions.make(&mut self.client, batch).await?;
        let transaction = self.client.transaction().await?;
        let outcome = write_in(&transaction, batch).await?;
        transaction.commit().await?;
        Ok(outcome)
    }

    /// Deletes live readings older than `before_ms` and the sequence rows the contiguous
    /// mark already covers (dedup no longer needs them). Partitions wholly before
    /// `before_ms` are dropped rather than emptied row by row.
    pub(super) async fn prune_live(&mut self, before_ms: i64) -> Result<u64, StoreError> {
        let dropped = self
            .partitions
            .drop_live_before(&mut self.client, before_ms)
            .await?;
        let transaction = self.client.transaction().await?;
        // Minute rollup rows not compacted yet go with their readings, as compacted ones do
        // (whole minutes: the one the cut falls in stays).
        transaction
            .execute(
                &format!("DELETE FROM rollups WHERE width_ms = {MINUTE_MS} AND bucket_ms < $1"),
                &[&(before_ms.div_euclid(MINUTE_MS) * MINUTE_MS)],
            )
            .await?;
        let deleted = transaction
            .execute("DELETE FROM live WHERE ts_ms < $1", &[&before_ms])
            .await?
            + super::compact::prune_live_blocks(&transaction, before_ms).await?;
        transaction
            .execute(
                "DELETE FROM seqs USING progress
                 WHERE progress.meter_id = seqs.meter_id AND seqs.ts_ms < $1
                   AND seqs.seq <= progress.contiguous",
                &[&before_ms],
            )
            .await?;
        transaction.commit().await?;
        Ok(dropped + deleted)
    }
}

/// The batch's work inside its transaction.
async fn write_in(
    transaction: &Transaction<'_>,
    batch: &Batch,
) -> Result<BatchOutcome, StoreError> {
    let mut outcome = BatchOutcome::default();
    let meters: Vec<&str> = batch
        .messages
        .iter()
        .map(|(meter, _)| meter.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let marks: HashMap<String, i64> = transaction
        .query(
            "SELECT meter_id, contiguous FROM progress WHERE meter_id = ANY($1)",
            &[&meters],
        )
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    // At or below the contiguous mark a message is stored (its seq row may be pruned); a
    // second copy in the same batch is a resend too.
    let mut touched: BTreeMap<&MeterId, i64> = BTreeMap::new();
    let mut in_batch = HashSet::new();
    let mut candidates = Vec::new();
    for (meter, message) in &batch.messages {
        let last = touched.entry(meter).or_insert(i64::MIN);
        *last = (*last).max(message.ts_ms());
        let mark = marks.get(meter.as_str()).copied().unwrap_or(0);
        if to_i64(message.seq()) > mark && in_batch.insert((meter, message.seq())) {
            candidates.push((meter, message));
        } else {
            outcome.duplicates += 1;
        }
    }
    let new = insert_seqs(transaction, &candidates).await?;
    let mut rows = NewRows::default();
    for (meter, message) in candidates {
        let is_new = new
            .get(meter.as_str())
            .is_some_and(|seqs| seqs.contains(&to_i64(message.seq())));
        if !is_new {
            outcome.duplicates += 1;
            continue;
        }
        if !matches!(message, Stored::Refused { .. }) {
            outcome.stored += 1;
        }
        match message {
            Stored::Live(reading) => {
                rows.live.push(meter, reading)?;
                outcome.new_live.push((meter.clone(), reading.clone()));
            }
            Stored::Interval(record) => rows.intervals.push(meter, record)?,
            Stored::Event(event) => rows.events.push(meter, event)?,
            Stored::CommandAck(ack) => {
                // In batch order, one statement each: a later ack must not undo an earlier
                // final one, and acks are rare beside readings.
                accounts::set_command_status(
                    transaction,
                    ack.command_id,
                    Some(meter),
                    status_of_ack(ack.status),
                    ack.detail.as_deref(),
                    ack.ts_ms,
                )
                .await?;
            }
            Stored::Refused { .. } => {}
        }
    }
    rows.live.insert(transaction).await?;
    rows.intervals.insert(transaction).await?;
    rows.events.insert(transaction).await?;
    write_rollups(transaction, &outcome).await?;
    write_dead_letters(transaction, batch).await?;
    write_statuses(transaction, batch).await?;
    outcome.acknowledged = advance_progress(transaction, &touched).await?;
    Ok(outcome)
}

/// Inserts the candidates' sequence rows; returns the (meter, seq) pairs that were new.
async fn insert_seqs(
    transaction: &Transaction<'_>,
    candidates: &[(&MeterId, &Stored)],
) -> Result<HashMap<String, HashSet<i64>>, StoreError> {
    if candidates.is_empty() {
        return Ok(HashMap::new());
    }
    let meters: Vec<&str> = candidates.iter().map(|(m, _)| m.as_str()).collect();
    let seqs: Vec<i64> = candidates.iter().map(|(_, s)| to_i64(s.seq())).collect();
    let kinds: Vec<&str> = candidates.iter().map(|(_, s)| s.kind()).collect();
    let times: Vec<i64> = candidates.iter().map(|(_, s)| s.ts_ms()).collect();
    let inserted = transaction
        .query(
            "INSERT INTO seqs (meter_id, seq, kind, ts_ms)
             SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[])
             ON CONFLICT DO NOTHING
             RETURNING meter_id, seq",
            &[&meters, &seqs, &kinds, &times],
        )
        .await?;
    let mut new: HashMap<String, HashSet<i64>> = HashMap::new();
    for row in inserted {
        new.entry(row.try_get(0)?)
            .or_default()
            .insert(row.try_get(1)?);
    }
    Ok(new)
}

/// The new rows of a batch, column by column, for `unnest`.
#[derive(Debug, Default)]
struct NewRows<'a> {
    live: LiveRows<'a>,
    intervals: IntervalRows<'a>,
    events: EventRows<'a>,
}

#[derive(Debug, Default)]
struct LiveRows<'a> {
    meter: Vec<&'a str>,
    ts_ms: Vec<i64>,
    seq: Vec<i64>,
    voltage_v: Vec<f64>,
    current_a: Vec<f64>,
    p_w: Vec<f64>,
    q_var: Vec<f64>,
    s_va: Vec<f64>,
    pf: Vec<f64>,
    freq_hz: Vec<Option<f64>>,
    import_mwh: Vec<i64>,
    export_mwh: Vec<i64>,
    reactive_mvarh: Vec<String>,
    apparent_import_mvah: Vec<i64>,
    apparent_export_mvah: Vec<i64>,
    tariff: Vec<i16>,
    relay: Vec<&'static str>,
    phases: Vec<Option<String>>,
}

impl<'a> LiveRows<'a> {
    fn push(&mut self, meter: &'a MeterId, m: &LiveReading) -> Result<(), StoreError> {
        self.meter.push(meter.as_str());
        self.ts_ms.push(m.ts_ms);
        self.seq.push(to_i64(m.seq));
        self.voltage_v.push(m.voltage_v);
        self.current_a.push(m.current_a);
        self.p_w.push(m.p_w);
        self.q_var.push(m.q_var);
        self.s_va.push(m.s_va);
        self.pf.push(m.pf);
        self.freq_hz.push(m.freq_hz);
        self.import_mwh.push(to_i64(m.registers.import_mwh));
        self.export_mwh.push(to_i64(m.registers.export_mwh));
        self.reactive_mvarh.push(
            serde_json::to_string(&m.registers.reactive_mvarh).map_err(corrupt("registers"))?,
        );
        self.apparent_import_mvah
            .push(to_i64(m.registers.apparent_import_mvah));
        self.apparent_export_mvah
            .push(to_i64(m.registers.apparent_export_mvah));
        self.tariff.push(i16::from(m.tariff));
        self.relay.push(m.relay.as_str());
        self.phases.push(if m.phases.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&m.phases).map_err(corrupt("phases"))?)
        });
        Ok(())
    }

    async fn insert(&self, transaction: &Transaction<'_>) -> Result<(), StoreError> {
        if self.meter.is_empty() {
            return Ok(());
        }
        transaction
            .execute(
                "INSERT INTO live (meter_id, ts_ms, seq, voltage_v, current_a, p_w, q_var, s_va,
                     pf, freq_hz, import_mwh, export_mwh, reactive_mvarh, apparent_import_mvah,
                     apparent_export_mvah, tariff, relay, phases)
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::float8[],
                     $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[],
                     $10::float8[], $11::int8[], $12::int8[], $13::text[], $14::int8[],
                     $15::int8[], $16::int2[], $17::text[], $18::text[])",
                &[
                    &self.meter,
                    &self.ts_ms,
                    &self.seq,
                    &self.voltage_v,
                    &self.current_a,
                    &self.p_w,
                    &self.q_var,
                    &self.s_va,
                    &self.pf,
                    &self.freq_hz,
                    &self.import_mwh,
                    &self.export_mwh,
                    &self.reactive_mvarh,
                    &self.apparent_import_mvah,
                    &self.apparent_export_mvah,
                    &self.tariff,
                    &self.relay,
                    &self.phases,
                ],
            )
            .await?;
        Ok(())
    }
}

#[derive(Debug, Default)]
struct EventRows<'a> {
    meter: Vec<&'a str>,
    seq: Vec<i64>,
    ts_ms: Vec<i64>,
    kind: Vec<String>,
    event: Vec<String>,
}

impl<'a> EventRows<'a> {
    fn push(&mut self, meter: &'a MeterId, m: &EventMessage) -> Result<(), StoreError> {
        self.meter.push(meter.as_str());
        self.seq.push(to_i64(m.seq));
        self.ts_ms.push(m.ts_ms);
        self.kind.push(event_kind_name(m));
        self.event
            .push(serde_json::to_string(m).map_err(corrupt("event"))?);
        Ok(())
    }

    async fn insert(&self, transaction: &Transaction<'_>) -> Result<(), StoreError> {
        if self.meter.is_empty() {
            return Ok(());
        }
        transaction
            .execute(
                "INSERT INTO events (meter_id, seq, ts_ms, kind, event)
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[])",
                &[&self.meter, &self.seq, &self.ts_ms, &self.kind, &self.event],
            )
            .await?;
        Ok(())
    }
}

/// Folds the batch's new live readings into the rollups (each bucket once: `rollup_deltas`
/// merges a batch's readings per bucket, as `ON CONFLICT DO UPDATE` requires).
async fn write_rollups(
    transaction: &Transaction<'_>,
    outcome: &BatchOutcome,
) -> Result<(), StoreError> {
    let deltas = rollup_deltas(&outcome.new_live);
    if deltas.is_empty() {
        return Ok(());
    }
    let column = |value: fn(&crate::SeriesPoint) -> i64| -> Vec<i64> {
        deltas.iter().map(|(_, _, point)| value(point)).collect()
    };
    let float = |value: fn(&crate::SeriesPoint) -> f64| -> Vec<f64> {
        deltas.iter().map(|(_, _, point)| value(point)).collect()
    };
    let buckets: Vec<Bucket> = deltas
        .iter()
        .map(|(_, _, point)| Bucket::of(point))
        .collect();
    let sums = |value: fn(&Bucket) -> f64| -> Vec<f64> { buckets.iter().map(value).collect() };
    let meters: Vec<&str> = deltas.iter().map(|(meter, _, _)| meter.as_str()).collect();
    let widths: Vec<i64> = deltas
        .iter()
        .map(|(_, resolution, _)| resolution.bucket_ms().unwrap_or(1))
        .collect();
    let params: [&(dyn ToSql + Sync); 14] = [
        &meters,
        &widths,
        &column(|p| p.ts_ms),
        &column(|p| to_i64(p.count)),
        &sums(|b| b.p_sum),
        &float(|p| p.p_min_w),
        &float(|p| p.p_max_w),
        &sums(|b| b.v_sum),
        &float(|p| p.v_min_v),
        &float(|p| p.v_max_v),
        &column(|p| to_i64(p.import_first_mwh)),
        &column(|p| to_i64(p.import_last_mwh)),
        &column(|p| to_i64(p.export_first_mwh)),
        &column(|p| to_i64(p.export_last_mwh)),
    ];
    transaction
        .execute(
            "INSERT INTO rollups AS r (meter_id, width_ms, bucket_ms, count, p_sum, p_min, p_max,
                 v_sum, v_min, v_max, import_first, import_last, export_first, export_last)
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[],
                 $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[],
                 $10::float8[], $11::int8[], $12::int8[], $13::int8[], $14::int8[])
             ON CONFLICT (meter_id, width_ms, bucket_ms) DO UPDATE SET
                 count = r.count + excluded.count,
                 p_sum = r.p_sum + excluded.p_sum,
                 p_min = LEAST(r.p_min, excluded.p_min),
                 p_max = GREATEST(r.p_max, excluded.p_max),
                 v_sum = r.v_sum + excluded.v_sum,
                 v_min = LEAST(r.v_min, excluded.v_min),
                 v_max = GREATEST(r.v_max, excluded.v_max),
                 import_first = LEAST(r.import_first, excluded.import_first),
                 import_last = GREATEST(r.import_last, excluded.import_last),
                 export_first = LEAST(r.export_first, excluded.export_first),
                 export_last = GREATEST(r.export_last, excluded.export_last)",
            &params,
        )
        .await?;
    Ok(())
}

async fn write_dead_letters(
    transaction: &Transaction<'_>,
    batch: &Batch,
) -> Result<(), StoreError> {
    let letters = &batch.dead_letters;
    if letters.is_empty() {
        return Ok(());
    }
    let received: Vec<i64> = letters.iter().map(|l| l.received_ms).collect();
    let topics: Vec<&str> = letters.iter().map(|l| l.topic.as_str()).collect();
    let meters: Vec<Option<&str>> = letters.iter().map(|l| l.meter.as_deref()).collect();
    let reasons: Vec<&str> = letters.iter().map(|l| l.reason.as_str()).collect();
    let details: Vec<&str> = letters.iter().map(|l| l.detail.as_str()).collect();
    let payloads: Vec<&[u8]> = letters.iter().map(|l| l.payload.as_slice()).collect();
    let seqs: Vec<Option<i64>> = letters.iter().map(|l| l.seq.map(to_i64)).collect();
    // WITH ORDINALITY keeps the batch's order in the ids, which `dead_letters` sorts by.
    transaction
        .execute(
            "INSERT INTO dead_letters (received_ms, topic, meter_id, reason, detail, payload, seq)
             SELECT received_ms, topic, meter_id, reason, detail, payload, seq
             FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[],
                 $6::bytea[], $7::int8[]) WITH ORDINALITY
                 AS l(received_ms, topic, meter_id, reason, detail, payload, seq, n)
             ORDER BY n",
            &[
                &received, &topics, &meters, &reasons, &details, &payloads, &seqs,
            ],
        )
        .await?;
    Ok(())
}

/// Records presence: per meter the batch's newest status, and only if it is not older than
/// the stored one (which is what applying them one by one in order would leave).
async fn write_statuses(transaction: &Transaction<'_>, batch: &Batch) -> Result<(), StoreError> {
    let mut newest: BTreeMap<&str, (bool, i64)> = BTreeMap::new();
    for (meter, status, seen_ms) in &batch.statuses {
        let online = *status == Status::Online;
        newest
            .entry(meter.as_str())
            .and_modify(|kept| {
                if *seen_ms >= kept.1 {
                    *kept = (online, *seen_ms);
                }
            })
            .or_insert((online, *seen_ms));
    }
    if newest.is_empty() {
        return Ok(());
    }
    let meters: Vec<&str> = newest.keys().copied().collect();
    let online: Vec<bool> = newest.values().map(|(online, _)| *online).collect();
    let seen: Vec<i64> = newest.values().map(|(_, seen_ms)| *seen_ms).collect();
    transaction
        .execute(
            "UPDATE meters SET online = s.online, status_ms = s.seen_ms
             FROM unnest($1::text[], $2::bool[], $3::int8[]) AS s(id, online, seen_ms)
             WHERE meters.id = s.id AND (meters.status_ms IS NULL OR meters.status_ms <= s.seen_ms)",
            &[&meters, &online, &seen],
        )
        .await?;
    Ok(())
}

/// Moves every touched meter's contiguous mark over the sequence rows now present, in one
/// statement; returns the new marks by meter.
///
/// Gaps and islands: above the old mark, `seq - mark - row_number()` is 0 exactly for the
/// run of seqs that continues the mark without a hole, so the new mark is that run's end.
async fn advance_progress(
    transaction: &Transaction<'_>,
    touched: &BTreeMap<&MeterId, i64>,
) -> Result<Vec<(MeterId, u64)>, StoreError> {
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    let meters: Vec<&str> = touched.keys().map(|meter| meter.as_str()).collect();
    let last_ms: Vec<i64> = touched.values().copied().collect();
    let rows = transaction
        .query(
            "WITH touched AS (
                 SELECT t.meter_id, t.last_ms,
                        COALESCE(p.contiguous, 0) AS contiguous, COALESCE(p.highest, 0) AS highest
                 FROM unnest($1::text[], $2::int8[]) AS t(meter_id, last_ms)
                 LEFT JOIN progress p ON p.meter_id = t.meter_id
             ),
             above AS (
                 SELECT s.meter_id, s.seq,
                        s.seq - t.contiguous
                            - row_number() OVER (PARTITION BY s.meter_id ORDER BY s.seq) AS island
                 FROM seqs s JOIN touched t ON t.meter_id = s.meter_id
                 WHERE s.seq > t.contiguous
             ),
             runs AS (
                 SELECT meter_id, MAX(seq) FILTER (WHERE island = 0) AS contiguous,
                        MAX(seq) AS highest
                 FROM above GROUP BY meter_id
             )
             INSERT INTO progress AS p (meter_id, contiguous, highest, last_ms)
             SELECT t.meter_id, GREATEST(t.contiguous, r.contiguous),
                    GREATEST(t.highest, r.highest), t.last_ms
             FROM touched t LEFT JOIN runs r ON r.meter_id = t.meter_id
             ON CONFLICT (meter_id) DO UPDATE SET
                 contiguous = excluded.contiguous,
                 highest = excluded.highest,
                 last_ms = GREATEST(p.last_ms, excluded.last_ms)
             RETURNING meter_id, contiguous",
            &[&meters, &last_ms],
        )
        .await?;
    let marks: HashMap<String, i64> = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    Ok(touched
        .keys()
        .map(|meter| {
            let mark = marks.get(meter.as_str()).copied().unwrap_or(0);
            ((*meter).clone(), to_u64(mark))
        })
        .collect())
}
