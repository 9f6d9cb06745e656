//! The SQLite ingest path: one transaction per batch.

use super::accounts;
use super::intervals::insert_interval;
use crate::compact::MINUTE_MS;
use crate::{
    Batch, BatchOutcome, Bucket, StoreError, Stored, corrupt, event_kind_name, rollup_deltas,
    status_of_ack, to_i64, to_u64,
};
use joule_protocol::{MeterId, Status};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::BTreeMap;

/// Writes a batch in one transaction (see [`crate::Store::write_batch`]).
pub(super) fn write_batch(
    connection: &mut Connection,
    batch: &Batch,
) -> Result<BatchOutcome, StoreError> {
    let transaction = connection.transaction()?;
    let mut outcome = BatchOutcome::default();
    let mut marks: BTreeMap<&MeterId, Mark> = BTreeMap::new();
    for (meter, message) in &batch.messages {
        let mark = match marks.entry(meter) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(Mark::of(&transaction, meter)?)
            }
        };
        if mark.store(&transaction, meter, message)? {
            match message {
                Stored::Live(reading) => {
                    outcome.stored += 1;
                    outcome.new_live.push((meter.clone(), reading.clone()));
                }
                Stored::Refused { .. } => {}
                _ => outcome.stored += 1,
            }
        } else {
            outcome.duplicates += 1;
        }
        mark.last_ms = mark.last_ms.max(message.ts_ms());
    }
    write_rollups(&transaction, &outcome)?;
    for letter in &batch.dead_letters {
        transaction.execute(
            "INSERT INTO dead_letters (received_ms, topic, meter_id, reason, detail, payload, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                letter.received_ms,
                letter.topic,
                letter.meter,
                letter.reason,
                letter.detail,
                letter.payload,
                letter.seq.map(to_i64)
            ],
        )?;
    }
    for (meter, status, seen_ms) in &batch.statuses {
        transaction.execute(
            "UPDATE meters SET online = ?2, status_ms = ?3
             WHERE id = ?1 AND (status_ms IS NULL OR status_ms <= ?3)",
            params![meter.as_str(), *status == Status::Online, seen_ms],
        )?;
    }
    for (meter, mark) in marks {
        let contiguous = mark.advance(&transaction, meter)?;
        outcome.acknowledged.push((meter.clone(), contiguous));
    }
    transaction.commit()?;
    Ok(outcome)
}

/// A meter's place in its sequence while a batch is written.
///
/// Deduplication needs a sequence row only for a message that arrives out of order: one
/// whose seq is the next after the contiguous mark and above every seq stored is new for
/// certain, and the mark moves over it, so it is stored without one (most messages: a
/// meter's outbox sends in order). Only the others go through `seqs`, and only then does
/// the mark walk over the rows there.
#[derive(Debug)]
struct Mark {
    /// Up to which seq everything is stored.
    contiguous: i64,
    /// The highest seq stored.
    highest: i64,
    /// Whether `seqs` holds rows above `contiguous` (from before, or written now).
    out_of_order: bool,
    /// The newest message time in the batch.
    last_ms: i64,
}

impl Mark {
    fn of(transaction: &Transaction<'_>, meter: &MeterId) -> Result<Self, StoreError> {
        let (contiguous, highest): (i64, i64) = transaction
            .prepare_cached("SELECT contiguous, highest FROM progress WHERE meter_id = ?1")?
            .query_row(params![meter.as_str()], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?
            .unwrap_or((0, 0));
        Ok(Self {
            contiguous,
            highest,
            out_of_order: highest > contiguous,
            last_ms: i64::MIN,
        })
    }

    /// Stores `message` unless it is stored already; returns whether it was new.
    fn store(
        &mut self,
        transaction: &Transaction<'_>,
        meter: &MeterId,
        message: &Stored,
    ) -> Result<bool, StoreError> {
        let seq = to_i64(message.seq());
        // At or below the contiguous mark it is stored (its seq row may be pruned).
        if seq <= self.contiguous {
            return Ok(false);
        }
        if seq == self.contiguous + 1 && seq > self.highest {
            insert_data(transaction, meter, message)?;
            self.contiguous = seq;
            self.highest = seq;
            return Ok(true);
        }
        let new = transaction
            .prepare_cached(
                "INSERT OR IGNORE INTO seqs (meter_id, seq, kind, ts_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                meter.as_str(),
                seq,
                message.kind(),
                message.ts_ms()
            ])?
            == 1;
        if new {
            insert_data(transaction, meter, message)?;
            self.highest = self.highest.max(seq);
            self.out_of_order = true;
        }
        Ok(new)
    }

    /// Moves the contiguous mark over every seq now present and records it; returns it.
    fn advance(
        mut self,
        transaction: &Transaction<'_>,
        meter: &MeterId,
    ) -> Result<u64, StoreError> {
        if self.out_of_order {
            let mut statement = transaction.prepare_cached(
                "SELECT seq FROM seqs WHERE meter_id = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let mut rows = statement.query(params![meter.as_str(), self.contiguous])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                self.highest = self.highest.max(seq);
                if seq == self.contiguous + 1 {
                    self.contiguous = seq;
                }
            }
            drop(rows);
            // Dedup and gaps look only above the mark, so the rows it covers can go now;
            // the table keeps only what arrived out of order.
            transaction
                .prepare_cached("DELETE FROM seqs WHERE meter_id = ?1 AND seq <= ?2")?
                .execute(params![meter.as_str(), self.contiguous])?;
        }
        transaction
            .prepare_cached(
                "INSERT INTO progress (meter_id, contiguous, highest, last_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (meter_id) DO UPDATE SET contiguous = ?2, highest = ?3,
                 last_ms = MAX(last_ms, ?4)",
            )?
            .execute(params![
                meter.as_str(),
                self.contiguous,
                self.highest,
                self.last_ms
            ])?;
        Ok(to_u64(self.contiguous))
    }
}

/// Folds the batch's new live readings into the rollups.
fn write_rollups(transaction: &Transaction<'_>, outcome: &BatchOutcome) -> Result<(), StoreError> {
    let mut statement = transaction.prepare_cached(
        "INSERT INTO rollups (meter_id, width_ms, bucket_ms, count, p_sum, p_min, p_max, v_sum,
             v_min, v_max, import_first, import_last, export_first, export_last)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (meter_id, width_ms, bucket_ms) DO UPDATE SET
             count = count + excluded.count,
             p_sum = p_sum + excluded.p_sum,
             p_min = MIN(p_min, excluded.p_min),
             p_max = MAX(p_max, excluded.p_max),
             v_sum = v_sum + excluded.v_sum,
             v_min = MIN(v_min, excluded.v_min),
             v_max = MAX(v_max, excluded.v_max),
             import_first = MIN(import_first, excluded.import_first),
             import_last = MAX(import_last, excluded.import_last),
             export_first = MIN(export_first, excluded.export_first),
             export_last = MAX(export_last, excluded.export_last)",
    )?;
    for (meter, resolution, point) in rollup_deltas(&outcome.new_live) {
        let bucket = Bucket::of(&point);
        statement.execute(params![
            meter.as_str(),
            resolution.bucket_ms(),
            bucket.bucket_ms,
            to_i64(bucket.count),
            bucket.p_sum,
            bucket.p_min,
            bucket.p_max,
            bucket.v_sum,
            bucket.v_min,
            bucket.v_max,
            to_i64(bucket.import_first),
            to_i64(bucket.import_last),
            to_i64(bucket.export_first),
            to_i64(bucket.export_last),
        ])?;
    }
    Ok(())
}

/// Inserts a new message's data where its kind is kept.
fn insert_data(
    transaction: &Transaction<'_>,
    meter: &MeterId,
    message: &Stored,
) -> Result<(), StoreError> {
    match message {
        Stored::Live(m) => {
            let phases = if m.phases.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&m.phases).map_err(corrupt("phases"))?)
            };
            transaction
                .prepare_cached(
                    "INSERT INTO live (meter_id, ts_ms, seq, voltage_v, current_a, p_w, q_var,
                     s_va, pf, freq_hz, import_mwh, export_mwh, reactive_mvarh,
                     apparent_import_mvah, apparent_export_mvah, tariff, relay, phases)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                     ?16, ?17, ?18)",
                )?
                .execute(params![
                    meter.as_str(),
                    m.ts_ms,
                    to_i64(m.seq),
                    m.voltage_v,
                    m.current_a,
                    m.p_w,
                    m.q_var,
                    m.s_va,
                    m.pf,
                    m.freq_hz,
                    to_i64(m.registers.import_mwh),
                    to_i64(m.registers.export_mwh),
                    serde_json::to_string(&m.registers.reactive_mvarh)
                        .map_err(corrupt("registers"))?,
                    to_i64(m.registers.apparent_import_mvah),
                    to_i64(m.registers.apparent_export_mvah),
                    m.tariff,
                    m.relay.as_str(),
                    phases,
                ])?;
        }
        Stored::Interval(m) => insert_interval(transaction, meter, m)?,
        Stored::Event(m) => {
            transaction.execute(
                "INSERT INTO events (meter_id, seq, ts_ms, kind, event) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    meter.as_str(),
                    to_i64(m.seq),
                    m.ts_ms,
                    event_kind_name(m),
                    serde_json::to_string(m).map_err(corrupt("event"))?,
                ],
            )?;
        }
        Stored::CommandAck(ack) => {
            accounts::set_command_status(
                transaction,
                ack.command_id,
                Some(meter),
                status_of_ack(ack.status),
                ack.detail.as_deref(),
                ack.ts_ms,
            )?;
        }
        Stored::Refused { .. } => {}
    }
    Ok(())
}

/// Deletes live readings older than `before_ms`, with their minute buckets, and the
/// sequence rows the contiguous mark covers: a range of the primary key per meter, so the
/// work is the rows deleted (a scan of the whole table held the writer for seconds per
/// thousand meters, every hour).
pub(super) fn prune_live(connection: &mut Connection, before_ms: i64) -> Result<u64, StoreError> {
    let transaction = connection.transaction()?;
    let meters = transaction
        .prepare("SELECT meter_id FROM progress")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut deleted = 0;
    {
        let mut delete =
            transaction.prepare("DELETE FROM live WHERE meter_id = ?1 AND ts_ms < ?2")?;
        // Minute rollup rows not compacted yet go with their readings, as compacted ones do
        // (whole minutes: the one the cut falls in stays).
        let mut minutes = transaction.prepare(&crate::compact::minute_rollups_delete_sql(|n| {
            format!("?{n}")
        }))?;
        let minute_ms = before_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        // Sequence rows the mark covers: ingest deletes those it walks over, but a store
        // written before it stopped writing one per message keeps them until here.
        let mut covered = transaction.prepare(
            "DELETE FROM seqs WHERE meter_id = ?1
             AND seq <= (SELECT contiguous FROM progress WHERE meter_id = ?1)",
        )?;
        for meter in meters {
            deleted += delete.execute(params![meter, before_ms])? as u64;
            minutes.execute(params![meter, minute_ms])?;
            covered.execute(params![meter])?;
            deleted += super::compact::prune_live_blocks(&transaction, &meter, before_ms)?;
        }
    }
    transaction.commit()?;
    Ok(deleted)
}
