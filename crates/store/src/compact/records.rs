//! Each kind of compacted record as columns: which fields, in which order, both ways.
//!
//! A field's column is written and read in the same position of the same function pair,
//! so the two directions cannot drift apart; the round-trip tests in `compact/tests.rs`
//! hold them to "every record reads back exactly as stored". Two projections,
//! [`IntervalRegisters`] (billing's) and [`LiveSample`] (the minute chart's), read a few
//! columns of a kind's blocks and skip the rest; their tests hold them to the fields of
//! the records read whole.

use super::columns::{ColumnReader, ColumnWriter};
use crate::{Bucket, IntervalRegisters, StoreError};
use joule_protocol::{
    IntervalRecord, LiveReading, PhaseReading, PqCounters, Registers, RelayState, TariffRegisters,
};

/// A record read from compacted blocks: a kind kept there, or a projection of one.
pub(crate) trait Columnar: Sized {
    /// The record's time, Unix ms: what places it in a block's period.
    fn ts_ms(&self) -> i64;
    /// The key that orders records within a block and tells two records apart.
    fn order_key(&self) -> (i64, u64);
    /// Folds another part of the record with the same key into this one (a rollup bucket
    /// written in two parts); a record stored twice is the same, so the default keeps it.
    fn absorb(&mut self, _other: &Self) {}
    /// Reads the records of a block.
    fn read(columns: &mut ColumnReader) -> Result<Vec<Self>, StoreError>;
}

/// A record kept in compacted blocks: written by `write`, read back whole by
/// [`Columnar::read`].
pub(crate) trait Compact: Columnar {
    /// Writes `records` as columns.
    fn write(records: &[Self], columns: &mut ColumnWriter);
}

/// Builds a block's `n` records, one per index, in a vector allocated once (a block
/// holds thousands; growing the vector would copy them over and over).
fn build<T>(
    n: usize,
    mut record: impl FnMut(usize) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        records.push(record(i)?);
    }
    Ok(records)
}

/// The columns `registers_write` writes.
const REGISTER_COLUMNS: usize = 8;

fn registers_write<'a>(
    registers: impl Iterator<Item = &'a Registers> + Clone,
    c: &mut ColumnWriter,
) {
    c.unsigned(registers.clone().map(|r| r.import_mwh));
    c.unsigned(registers.clone().map(|r| r.export_mwh));
    for quadrant in 0..4 {
        c.unsigned(registers.clone().map(|r| r.reactive_mvarh[quadrant]));
    }
    c.unsigned(registers.clone().map(|r| r.apparent_import_mvah));
    c.unsigned(registers.map(|r| r.apparent_export_mvah));
}

fn registers_read(c: &mut ColumnReader) -> Result<Vec<Registers>, StoreError> {
    let import = c.unsigned()?;
    let export = c.unsigned()?;
    let reactive = [c.unsigned()?, c.unsigned()?, c.unsigned()?, c.unsigned()?];
    let apparent_import = c.unsigned()?;
    let apparent_export = c.unsigned()?;
    let n = c.count();
    if [&import, &export, &apparent_import, &apparent_export]
        .iter()
        .chain(reactive.iter().collect::<Vec<_>>().iter())
        .any(|column| column.len() != n)
    {
        return Err(short());
    }
    Ok((0..n)
        .map(|i| Registers {
            import_mwh: import[i],
            export_mwh: export[i],
            reactive_mvarh: [
                reactive[0][i],
                reactive[1][i],
                reactive[2][i],
                reactive[3][i],
            ],
            apparent_import_mvah: apparent_import[i],
            apparent_export_mvah: apparent_export[i],
        })
        .collect())
}

/// Checks that each per-record column (given by its length) has one value per record.
fn one_per_record(n: usize, lengths: &[usize]) -> Result<(), StoreError> {
    if lengths.iter().all(|&len| len == n) {
        Ok(())
    } else {
        Err(short())
    }
}

fn short() -> StoreError {
    StoreError::Corrupt {
        what: "compacted block",
        detail: "a column's length differs from the record count".to_owned(),
    }
}

/// Splits `flat` into consecutive runs of `counts[i]` items.
fn runs<T: Clone>(counts: &[u64], flat: &[T]) -> Result<Vec<Vec<T>>, StoreError> {
    let mut rest = flat;
    let mut runs = Vec::with_capacity(counts.len());
    for &count in counts {
        let count = usize::try_from(count).map_err(|_| short())?;
        if count > rest.len() {
            return Err(short());
        }
        let (run, tail) = rest.split_at(count);
        runs.push(run.to_vec());
        rest = tail;
    }
    if rest.is_empty() {
        Ok(runs)
    } else {
        Err(short())
    }
}

fn u8_of(value: u64, what: &'static str) -> Result<u8, StoreError> {
    u8::try_from(value).map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("{value} is out of range"),
    })
}

fn u32_of(value: u64, what: &'static str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("{value} is out of range"),
    })
}

impl Compact for IntervalRecord {
    fn write(records: &[Self], c: &mut ColumnWriter) {
        c.unsigned(records.iter().map(|r| u64::from(r.v)));
        c.unsigned(records.iter().map(|r| r.seq));
        c.signed(records.iter().map(|r| r.ts_ms));
        c.unsigned(records.iter().map(|r| u64::from(r.interval_s)));
        registers_write(records.iter().map(|r| &r.registers), c);
        c.unsigned(records.iter().map(|r| r.tariffs.len() as u64));
        let tariffs = records.iter().flat_map(|r| &r.tariffs);
        c.unsigned(tariffs.clone().map(|t| u64::from(t.tariff)));
        c.unsigned(tariffs.clone().map(|t| t.import_mwh));
        c.unsigned(tariffs.map(|t| t.export_mwh));
        c.float(records.iter().map(|r| r.voltage_min_v));
        c.float(records.iter().map(|r| r.voltage_max_v));
        c.float(records.iter().map(|r| r.voltage_avg_v));
        c.optional_float(records.iter().map(|r| r.max_demand_w));
        c.unsigned(records.iter().map(|r| u64::from(r.pq.sags)));
        c.unsigned(records.iter().map(|r| u64::from(r.pq.swells)));
        c.unsigned(records.iter().map(|r| u64::from(r.pq.interruptions)));
    }
}

impl Columnar for IntervalRecord {
    fn ts_ms(&self) -> i64 {
        self.ts_ms
    }

    fn order_key(&self) -> (i64, u64) {
        (self.ts_ms, self.seq)
    }

    fn read(c: &mut ColumnReader) -> Result<Vec<Self>, StoreError> {
        let v = c.unsigned()?;
        let seq = c.unsigned()?;
        let ts_ms = c.signed()?;
        let interval_s = c.unsigned()?;
        let registers = registers_read(c)?;
        let tariff_counts = c.unsigned()?;
        let tariff = c.unsigned()?;
        let tariff_import = c.unsigned()?;
        let tariff_export = c.unsigned()?;
        if tariff.len() != tariff_import.len() || tariff.len() != tariff_export.len() {
            return Err(short());
        }
        let mut flat = Vec::with_capacity(tariff.len());
        for i in 0..tariff.len() {
            flat.push(TariffRegisters {
                tariff: u8_of(tariff[i], "tariff number")?,
                import_mwh: tariff_import[i],
                export_mwh: tariff_export[i],
            });
        }
        let tariffs = runs(&tariff_counts, &flat)?;
        let voltage_min_v = c.float()?;
        let voltage_max_v = c.float()?;
        let voltage_avg_v = c.float()?;
        let max_demand_w = c.optional_float()?;
        let sags = c.unsigned()?;
        let swells = c.unsigned()?;
        let interruptions = c.unsigned()?;
        let n = c.count();
        one_per_record(
            n,
            &[
                v.len(),
                seq.len(),
                ts_ms.len(),
                interval_s.len(),
                tariffs.len(),
                voltage_min_v.len(),
                voltage_max_v.len(),
                voltage_avg_v.len(),
                max_demand_w.len(),
                sags.len(),
                swells.len(),
                interruptions.len(),
            ],
        )?;
        let mut tariffs = tariffs.into_iter();
        build(n, |i| {
            Ok(IntervalRecord {
                v: u32_of(v[i], "payload version")?,
                seq: seq[i],
                ts_ms: ts_ms[i],
                interval_s: u32_of(interval_s[i], "interval length")?,
                registers: registers[i],
                tariffs: tariffs.next().unwrap_or_default(),
                voltage_min_v: voltage_min_v[i],
                voltage_max_v: voltage_max_v[i],
                voltage_avg_v: voltage_avg_v[i],
                max_demand_w: max_demand_w[i],
                pq: PqCounters {
                    sags: u32_of(sags[i], "sag count")?,
                    swells: u32_of(swells[i], "swell count")?,
                    interruptions: u32_of(interruptions[i], "interruption count")?,
                },
            })
        })
    }
}

impl Columnar for IntervalRegisters {
    fn ts_ms(&self) -> i64 {
        self.ts_ms
    }

    fn order_key(&self) -> (i64, u64) {
        (self.ts_ms, self.seq)
    }

    /// The columns `IntervalRecord::write` lays out, skipping those billing does not read.
    fn read(c: &mut ColumnReader) -> Result<Vec<Self>, StoreError> {
        c.skip(1)?; // payload version
        let seq = c.unsigned()?;
        let ts_ms = c.signed()?;
        let interval_s = c.unsigned()?;
        let import = c.unsigned()?;
        let export = c.unsigned()?;
        // The other registers; the tariff counts, numbers and registers; three voltages.
        c.skip(REGISTER_COLUMNS - 2 + 4 + 3)?;
        let max_demand_w = c.optional_float()?;
        let n = c.count();
        one_per_record(
            n,
            &[
                seq.len(),
                ts_ms.len(),
                interval_s.len(),
                import.len(),
                export.len(),
                max_demand_w.len(),
            ],
        )?;
        build(n, |i| {
            Ok(IntervalRegisters {
                seq: seq[i],
                ts_ms: ts_ms[i],
                interval_s: u32_of(interval_s[i], "interval length")?,
                import_mwh: import[i],
                export_mwh: export[i],
                max_demand_w: max_demand_w[i],
            })
        })
    }
}

/// A relay state's code in a column.
fn relay_code(relay: RelayState) -> u64 {
    match relay {
        RelayState::Connected => 0,
        RelayState::Disconnected => 1,
        RelayState::ReadyForReconnection => 2,
    }
}

fn relay_of(code: u64) -> Result<RelayState, StoreError> {
    match code {
        0 => Ok(RelayState::Connected),
        1 => Ok(RelayState::Disconnected),
        2 => Ok(RelayState::ReadyForReconnection),
        other => Err(StoreError::Corrupt {
            what: "relay state",
            detail: format!("code {other}"),
        }),
    }
}

impl Compact for LiveReading {
    fn write(records: &[Self], c: &mut ColumnWriter) {
        c.unsigned(records.iter().map(|r| u64::from(r.v)));
        c.unsigned(records.iter().map(|r| r.seq));
        c.signed(records.iter().map(|r| r.ts_ms));
        c.float(records.iter().map(|r| r.voltage_v));
        c.float(records.iter().map(|r| r.current_a));
        c.float(records.iter().map(|r| r.p_w));
        c.float(records.iter().map(|r| r.q_var));
        c.float(records.iter().map(|r| r.s_va));
        c.float(records.iter().map(|r| r.pf));
        c.optional_float(records.iter().map(|r| r.freq_hz));
        c.unsigned(records.iter().map(|r| r.phases.len() as u64));
        let phases = records.iter().flat_map(|r| &r.phases);
        c.float(phases.clone().map(|p| p.voltage_v));
        c.float(phases.clone().map(|p| p.current_a));
        c.float(phases.clone().map(|p| p.p_w));
        c.float(phases.clone().map(|p| p.q_var));
        c.float(phases.clone().map(|p| p.s_va));
        c.float(phases.map(|p| p.pf));
        registers_write(records.iter().map(|r| &r.registers), c);
        c.unsigned(records.iter().map(|r| u64::from(r.tariff)));
        c.unsigned(records.iter().map(|r| relay_code(r.relay)));
    }
}

impl Columnar for LiveReading {
    fn ts_ms(&self) -> i64 {
        self.ts_ms
    }

    fn order_key(&self) -> (i64, u64) {
        (self.ts_ms, self.seq)
    }

    fn read(c: &mut ColumnReader) -> Result<Vec<Self>, StoreError> {
        let v = c.unsigned()?;
        let seq = c.unsigned()?;
        let ts_ms = c.signed()?;
        let voltage_v = c.float()?;
        let current_a = c.float()?;
        let p_w = c.float()?;
        let q_var = c.float()?;
        let s_va = c.float()?;
        let pf = c.float()?;
        let freq_hz = c.optional_float()?;
        let phase_counts = c.unsigned()?;
        let phase_columns = [
            c.float()?,
            c.float()?,
            c.float()?,
            c.float()?,
            c.float()?,
            c.float()?,
        ];
        let flat_len = phase_columns[0].len();
        if phase_columns.iter().any(|column| column.len() != flat_len) {
            return Err(short());
        }
        let flat: Vec<PhaseReading> = (0..flat_len)
            .map(|i| PhaseReading {
                voltage_v: phase_columns[0][i],
                current_a: phase_columns[1][i],
                p_w: phase_columns[2][i],
                q_var: phase_columns[3][i],
                s_va: phase_columns[4][i],
                pf: phase_columns[5][i],
            })
            .collect();
        let phases = runs(&phase_counts, &flat)?;
        let registers = registers_read(c)?;
        let tariff = c.unsigned()?;
        let relay = c.unsigned()?;
        let n = c.count();
        one_per_record(
            n,
            &[
                v.len(),
                seq.len(),
                ts_ms.len(),
                voltage_v.len(),
                current_a.len(),
                p_w.len(),
                q_var.len(),
                s_va.len(),
                pf.len(),
                freq_hz.len(),
                phases.len(),
                tariff.len(),
                relay.len(),
            ],
        )?;
        let mut phases = phases.into_iter();
        build(n, |i| {
            Ok(LiveReading {
                v: u32_of(v[i], "payload version")?,
                seq: seq[i],
                ts_ms: ts_ms[i],
                voltage_v: voltage_v[i],
                current_a: current_a[i],
                p_w: p_w[i],
                q_var: q_var[i],
                s_va: s_va[i],
                pf: pf[i],
                freq_hz: freq_hz[i],
                phases: phases.next().unwrap_or_default(),
                registers: registers[i],
                tariff: u8_of(tariff[i], "tariff")?,
                relay: relay_of(relay[i])?,
            })
        })
    }
}

/// What a minute bucket sums of a live reading: its time, power, voltage and import and
/// export registers, read from 6 of a live block's 28 columns (a day by the minute reads
/// every reading of a day, 86,400 at one a second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LiveSample {
    pub(crate) seq: u64,
    pub(crate) ts_ms: i64,
    pub(crate) voltage_v: f64,
    pub(crate) p_w: f64,
    pub(crate) import_mwh: u64,
    pub(crate) export_mwh: u64,
}

impl Columnar for LiveSample {
    fn ts_ms(&self) -> i64 {
        self.ts_ms
    }

    fn order_key(&self) -> (i64, u64) {
        (self.ts_ms, self.seq)
    }

    /// The columns `LiveReading::write` lays out, skipping those a bucket does not sum.
    fn read(c: &mut ColumnReader) -> Result<Vec<Self>, StoreError> {
        c.skip(1)?; // payload version
        let seq = c.unsigned()?;
        let ts_ms = c.signed()?;
        let voltage_v = c.float()?;
        c.skip(1)?; // current
        let p_w = c.float()?;
        // Reactive and apparent power, power factor; frequency (two columns); the phase
        // counts and the six phase columns.
        c.skip(3 + 2 + 1 + 6)?;
        let import = c.unsigned()?;
        let export = c.unsigned()?;
        let n = c.count();
        one_per_record(
            n,
            &[
                seq.len(),
                ts_ms.len(),
                voltage_v.len(),
                p_w.len(),
                import.len(),
                export.len(),
            ],
        )?;
        build(n, |i| {
            Ok(LiveSample {
                seq: seq[i],
                ts_ms: ts_ms[i],
                voltage_v: voltage_v[i],
                p_w: p_w[i],
                import_mwh: import[i],
                export_mwh: export[i],
            })
        })
    }
}

impl Compact for Bucket {
    fn write(records: &[Self], c: &mut ColumnWriter) {
        c.signed(records.iter().map(|b| b.bucket_ms));
        c.unsigned(records.iter().map(|b| b.count));
        c.float(records.iter().map(|b| b.p_sum));
        c.float(records.iter().map(|b| b.p_min));
        c.float(records.iter().map(|b| b.p_max));
        c.float(records.iter().map(|b| b.v_sum));
        c.float(records.iter().map(|b| b.v_min));
        c.float(records.iter().map(|b| b.v_max));
        c.unsigned(records.iter().map(|b| b.import_first));
        c.unsigned(records.iter().map(|b| b.import_last));
        c.unsigned(records.iter().map(|b| b.export_first));
        c.unsigned(records.iter().map(|b| b.export_last));
    }
}

impl Columnar for Bucket {
    fn ts_ms(&self) -> i64 {
        self.bucket_ms
    }

    fn order_key(&self) -> (i64, u64) {
        (self.bucket_ms, 0)
    }

    fn absorb(&mut self, other: &Self) {
        self.merge(other);
    }

    fn read(c: &mut ColumnReader) -> Result<Vec<Self>, StoreError> {
        let bucket_ms = c.signed()?;
        let bucket_ms = c.per_record(bucket_ms)?;
        let count = c.unsigned()?;
        let count = c.per_record(count)?;
        let floats: Vec<Vec<f64>> = (0..6)
            .map(|_| c.float().and_then(|column| c.per_record(column)))
            .collect::<Result<_, _>>()?;
        let registers: Vec<Vec<u64>> = (0..4)
            .map(|_| c.unsigned().and_then(|column| c.per_record(column)))
            .collect::<Result<_, _>>()?;
        build(c.count(), |i| {
            Ok(Bucket {
                bucket_ms: bucket_ms[i],
                count: count[i],
                p_sum: floats[0][i],
                p_min: floats[1][i],
                p_max: floats[2][i],
                v_sum: floats[3][i],
                v_min: floats[4][i],
                v_max: floats[5][i],
                import_first: registers[0][i],
                import_last: registers[1][i],
                export_first: registers[2][i],
                export_last: registers[3][i],
            })
        })
    }
}
