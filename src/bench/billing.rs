//! `joule bench billing`: the work of a billing run over many meters, each with a month of
//! 15-minute interval records, in memory: the hub's conversion of cumulative records to
//! interval energy (`joule_hub::billing::convert`) and its billing of a chunk of meters
//! (`joule_hub::billing::run::bill_chunk`, one prepared period, `bill_fleet` on every core).
//! The figure is meters per second; the target (issue 5) is 100,000 meters in under 60 s.
//! With `--from-store DIR` the records are instead read from the store `joule bench query
//! --data DIR` filled (compacted, as a hub keeps them), every meter's last whole month,
//! as the hub's run reads them (`joule_hub::billing::closed_period_intervals`, a few
//! meters at a time), and the reads are part of the figure (issue 16:
//! 5,000 meter-months per second).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use jiff::civil::date;
use joule_hub::billing::closed_period_intervals;
use joule_hub::billing::convert::{MeterIntervals, from_records};
use joule_hub::billing::run::{MeterInput, bill_chunk};
use joule_protocol::MeterId;
use joule_store::{IntervalRegisters, PostgresStore, SqliteStore, Store};
use joule_tariff::{Market, Period, Plan};
use serde_json::json;

use super::query::dataset;
use super::{machine, write_json};
use crate::cli::BenchBillingArgs;

/// Meters converted and billed together, as a run's chunk (`joule_hub::billing::run`):
/// larger chunks hold more meters' intervals at once, which the kernel then hands out
/// afresh for every chunk.
const CHUNK: usize = 200;

/// Meters read at once from a store, as the hub's billing run reads them.
const READS_IN_FLIGHT: usize = 4;

/// Distinct households; meter n uses household n mod this.
const HOUSEHOLDS: usize = 200;

/// A time-of-use plan with what makes billing work: two seasons, weekday and weekend
/// switches, holidays, a demand window, standing charges per day and month, a levy, VAT
/// and export paid under net billing.
const PLAN: &str = r#"name = "bench-tou"
currency = "EUR"
time_zone = "Europe/Amsterdam"
holidays = ["2026-01-01", "2026-04-06", "2026-05-14", "2026-05-25", "2026-12-25"]

[[versions]]
effective_from = 2026-01-01
fixed = { per_day = 0.52, per_month = 5.99 }
levies = [{ name = "Energy tax", per_kwh = 0.1088 }]
taxes = [{ name = "VAT", percent = 21 }]
export = { kind = "net_billing", price_per_kwh = 0.07 }
demand = { price_per_kw = 3.50, window = { days = "weekday", from = "17:00", to = "21:00" } }

[versions.import]
kind = "time_of_use"

[[versions.import.seasons]]
name = "summer"
from = "04-01"
to = "09-30"
prices = { off_peak = 0.21, mid_peak = 0.25, on_peak = 0.31 }
switches = [
  { days = "weekday", at = "00:00", period = "off_peak" },
  { days = "weekday", at = "07:00", period = "mid_peak" },
  { days = "weekday", at = "17:00", period = "on_peak" },
  { days = "weekday", at = "21:00", period = "mid_peak" },
  { days = "weekday", at = "23:00", period = "off_peak" },
  { days = ["weekend", "holiday"], at = "00:00", period = "off_peak" },
]

[[versions.import.seasons]]
name = "winter"
from = "10-01"
to = "03-31"
prices = { off_peak = 0.22, on_peak = 0.29 }
switches = [
  { days = "weekday", at = "00:00", period = "off_peak" },
  { days = "weekday", at = "07:00", period = "on_peak" },
  { days = "weekday", at = "23:00", period = "off_peak" },
  { days = "weekend", at = "00:00", period = "off_peak" },
]
"#;

/// One household's month of records: base load, an evening peak, and for every third
/// household midday solar export; cumulative registers at the end of each quarter hour.
fn household(variant: usize, period: Period) -> Vec<IntervalRegisters> {
    let start_s = period.start().as_second();
    let quarters = (period.end().as_second() - start_s) / 900;
    let v = variant as u64;
    let (mut import_mwh, mut export_mwh) = (5_000_000_000 + v * 1_000_000, 0u64);
    (0..=quarters)
        .map(|k| {
            let hour_utc = (k / 4) % 24;
            let mut power_w: i64 = 150 + (variant as i64 % 90);
            if (15..19).contains(&hour_utc) {
                power_w += 1_200 + (variant as i64 % 7) * 100;
            }
            if variant.is_multiple_of(3) && (9..14).contains(&hour_utc) {
                power_w -= 2_000;
            }
            if k > 0 {
                // W over 900 s = W × 250 mWh.
                let energy = power_w.unsigned_abs() * 250;
                if power_w >= 0 {
                    import_mwh += energy;
                } else {
                    export_mwh += energy;
                }
            }
            IntervalRegisters {
                seq: k as u64 + 1,
                ts_ms: (start_s + k * 900) * 1000,
                interval_s: 900,
                import_mwh,
                export_mwh,
                max_demand_w: None,
            }
        })
        .collect()
}

/// Where the meters' records come from.
enum Records {
    /// Made in memory: meter n has household n mod `HOUSEHOLDS`.
    Households(Vec<Vec<IntervalRegisters>>),
    /// Read from a stored history, meter by meter.
    Store {
        store: Arc<dyn Store>,
        runtime: tokio::runtime::Runtime,
    },
}

impl Records {
    /// Meters `first..first + count`'s interval energy over `[from_ms, to_ms)`. From a
    /// store, as the hub's billing run gets it: `closed_period_intervals` (the records
    /// around the period, converted), a few meters at a time.
    fn intervals(
        &self,
        first: usize,
        count: usize,
        from_ms: i64,
        to_ms: i64,
    ) -> anyhow::Result<Vec<MeterIntervals>> {
        match self {
            Self::Households(households) => Ok((first..first + count)
                .map(|n| from_records(&households[n % HOUSEHOLDS], from_ms, to_ms))
                .collect()),
            Self::Store { store, runtime } => runtime.block_on(async {
                let ids = (first..first + count)
                    .map(dataset::meter_id)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let mut intervals = Vec::with_capacity(count);
                for group in ids.chunks(READS_IN_FLIGHT) {
                    let reads = group
                        .iter()
                        .map(|id| closed_period_intervals(store.as_ref(), id, from_ms, to_ms));
                    intervals.extend(futures_util::future::try_join_all(reads).await?);
                }
                Ok(intervals)
            }),
        }
    }
}

/// The stored history in `dir` (see `joule bench query --data`), its meter count and the
/// last whole month it holds in the plan's time zone.
fn stored(
    dir: &Path,
    postgres: Option<&str>,
    plan: &Plan,
) -> anyhow::Result<(Records, usize, Period)> {
    let manifest = dataset::Manifest::load(dir)?
        .with_context(|| format!("{} holds no `joule bench query` history", dir.display()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let store: Arc<dyn Store> = match postgres {
        Some(conninfo) => Arc::new(runtime.block_on(PostgresStore::connect(conninfo))?),
        None => Arc::new(SqliteStore::open(&dir.join("bench.sqlite"))?),
    };
    let end = jiff::Timestamp::from_millisecond(manifest.end_ms)?
        .to_zoned_datetime(plan.time_zone().clone())
        .date()
        .first_of_month();
    let start = end.checked_sub(jiff::ToSpan::month(1))?;
    let period = Period::from_dates(plan, start, end)?;
    Ok((Records::Store { store, runtime }, manifest.meters, period))
}

/// Runs the benchmark and prints its table.
pub(crate) fn run(args: &BenchBillingArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let plan = Plan::from_toml(PLAN).context("the benchmark's plan")?;
    let (records, meters, period) = match &args.from_store {
        Some(dir) => stored(dir, args.postgres.as_deref(), &plan)?,
        None => {
            let period = Period::from_dates(&plan, date(2026, 6, 1), date(2026, 7, 1))?;
            let households = (0..HOUSEHOLDS).map(|v| household(v, period)).collect();
            (Records::Households(households), args.meters, period)
        }
    };
    let (from_ms, to_ms) = (
        period.start().as_millisecond(),
        period.end().as_millisecond(),
    );
    let market = Market::default();
    let now = period.end();
    let terminal = std::io::stderr().is_terminal();
    let (mut convert_s, mut bill_s) = (0.0, 0.0);
    let (mut billed, mut failed, mut total_minor, mut intervals) = (0u64, 0u64, 0i64, 0usize);
    let started = Instant::now();
    let mut last_line = Instant::now();
    let mut done = 0;
    while done < meters {
        let chunk = CHUNK.min(meters - done);
        let converting = Instant::now();
        let chunk_intervals = records.intervals(done, chunk, from_ms, to_ms)?;
        let inputs: Vec<MeterInput> = (done..done + chunk)
            .zip(chunk_intervals)
            .map(|(n, data)| {
                intervals += data.intervals.len();
                Ok(MeterInput {
                    meter: MeterId::new(&format!("m-{n:06}"))?,
                    data,
                    credit_in_mwh: 0,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        convert_s += converting.elapsed().as_secs_f64();
        let billing = Instant::now();
        for bill in bill_chunk(&plan, period, &market, &inputs, now, threads) {
            match bill {
                Ok(bill) => {
                    billed += 1;
                    total_minor += bill.total_minor;
                }
                Err(_) => failed += 1,
            }
        }
        bill_s += billing.elapsed().as_secs_f64();
        done += chunk;
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        let line = format!("billing: {done}/{meters} meters, {rate:.0} meters/s");
        if terminal {
            eprint!("\r{line}   ");
        } else if last_line.elapsed() >= Duration::from_secs(5) || done == meters {
            last_line = Instant::now();
            eprintln!("{line}");
        }
    }
    if terminal {
        eprintln!();
    }
    let wall_s = started.elapsed().as_secs_f64();
    let per_second = meters as f64 / wall_s.max(1e-9);
    let projected_s = 100_000.0 / per_second;
    let source = match &args.from_store {
        Some(dir) => format!("records read from the store in {}", dir.display()),
        None => "records made in memory".to_owned(),
    };
    writeln!(
        out,
        "billing run, {} to {} (a month in Europe/Amsterdam), 15-minute records, time-of-use plan, {source}",
        period.start(),
        period.end()
    )?;
    writeln!(out, "| | |\n|---|---:|")?;
    writeln!(out, "| meters | {meters} |")?;
    writeln!(out, "| intervals billed | {intervals} |")?;
    writeln!(out, "| threads billing | {threads} |")?;
    let records_line = if args.from_store.is_some() {
        format!(
            "records read from the store and converted to intervals, {READS_IN_FLIGHT} meters at a time"
        )
    } else {
        "records to intervals".to_owned()
    };
    writeln!(out, "| {records_line} | {convert_s:.2} s |")?;
    writeln!(
        out,
        "| bills (prepare, validate, allocate, lines) | {bill_s:.2} s |"
    )?;
    writeln!(out, "| wall | {wall_s:.2} s |")?;
    writeln!(out, "| **meters per second** | **{per_second:.0}** |")?;
    writeln!(
        out,
        "| 100,000 meters at that rate | {projected_s:.1} s (target < 60 s) |"
    )?;
    writeln!(out, "| bills failed | {failed} |")?;
    writeln!(out, "machine: {}", machine())?;
    anyhow::ensure!(failed == 0, "{failed} bills failed");
    write_json(
        &args.json,
        &json!({
            "benchmark": "billing",
            "from_store": args.from_store.is_some(),
            "meters": meters,
            "intervals": intervals,
            "threads": threads,
            "convert_s": convert_s,
            "bill_s": bill_s,
            "wall_s": wall_s,
            "meters_per_second": per_second,
            "projected_100k_s": projected_s,
            "billed": billed,
            "total_minor": total_minor,
            "machine": machine(),
        }),
    )?;
    writeln!(out, "figures written to {}", args.json.display())?;
    Ok(())
}
