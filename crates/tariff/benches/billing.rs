//! Billing throughput: one meter-month of 15-minute data (June 2026, 2,880 intervals)
//! under a time-of-use plan and under a dynamic plan, then a fleet run on every core.
//!
//! Target (issue 5): 100,000 meter-months in under 60 s on the project's 2-core machine.
//! Prints meters per second and the extrapolated time for 100,000 meters.

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use jiff::civil::date;
use joule_tariff::{
    Interval, Market, MeterData, Micros, Period, Plan, PreparedPeriod, PricePoint, PriceSeries,
    RegisterRead, RegisterReads, ValidationRules, bill_fleet,
};
use std::hint::black_box;
use std::time::Instant;

const TOU: &str = r#"
name = "Residential time of use"
currency = "EUR"
time_zone = "Europe/Amsterdam"
holidays = ["2026-05-25", "2026-12-25", "2026-12-26"]

[[versions]]
effective_from = 2026-01-01
fixed = { per_day = 0.45, per_month = 2.5 }
levies = [{ name = "Energy tax", per_kwh = 0.1088 }]
taxes = [{ name = "VAT", percent = 21 }]
demand = { price_per_kw = 1.5, window = { days = "weekday", from = "17:00", to = "21:00" } }
export = { kind = "net_billing", price_per_kwh = 0.05 }

[versions.import]
kind = "time_of_use"

[[versions.import.seasons]]
name = "summer"
from = "04-01"
to = "09-30"
prices = { off_peak = 0.21, shoulder = 0.26, peak = 0.34 }
switches = [
  { days = "weekday", at = "00:00", period = "off_peak" },
  { days = "weekday", at = "07:00", period = "shoulder" },
  { days = "weekday", at = "17:00", period = "peak" },
  { days = "weekday", at = "21:00", period = "shoulder" },
  { days = "weekday", at = "23:00", period = "off_peak" },
  { days = "weekend", at = "00:00", period = "off_peak" },
]

[[versions.import.seasons]]
name = "winter"
from = "10-01"
to = "03-31"
prices = { off_peak = 0.23, peak = 0.31 }
switches = [
  { days = "weekday", at = "00:00", period = "off_peak" },
  { days = "weekday", at = "07:00", period = "peak" },
  { days = "weekday", at = "23:00", period = "off_peak" },
  { days = "weekend", at = "00:00", period = "off_peak" },
]
"#;

const DYNAMIC: &str = r#"
name = "Dynamic"
currency = "EUR"
time_zone = "Europe/Amsterdam"

[[versions]]
effective_from = 2026-01-01
fixed = { per_month = 5.99 }
levies = [{ name = "Energy tax", per_kwh = 0.1088 }]
taxes = [{ name = "VAT", percent = 21 }]

[versions.import]
kind = "dynamic"
series = "day-ahead"
adder_per_kwh = 0.0182
multiplier = 1.0

[versions.export]
kind = "net_billing"
series = "day-ahead"
adder_per_kwh = -0.0182
"#;

/// A cheap deterministic generator (SplitMix64).
struct Mix(u64);

impl Mix {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    }
}

/// A household month: a base load, evening peaks, noise, and solar export at midday.
fn household(period: Period, seed: u64) -> (Vec<Interval>, RegisterReads) {
    let mut mix = Mix(seed);
    let start = period.start().as_second();
    let count = (period.end().as_second() - start) / 900;
    let data: Vec<Interval> = (0..count)
        .map(|k| {
            let hour = (k / 4 + 2) % 24;
            let base = 60_000 + mix.next(40_000) as i64;
            let evening = if (17..22).contains(&hour) {
                150_000 + mix.next(200_000) as i64
            } else {
                0
            };
            let solar = if (9..17).contains(&hour) {
                mix.next(500_000) as i64
            } else {
                0
            };
            let net = base + evening - solar;
            Interval {
                start: Timestamp::from_second(start + k * 900).expect("in range"),
                duration_s: 900,
                import_mwh: net.max(0),
                export_mwh: (-net).max(0),
                max_demand_w: None,
                estimated: false,
            }
        })
        .collect();
    let import: i64 = data.iter().map(|i| i.import_mwh).sum();
    let export: i64 = data.iter().map(|i| i.export_mwh).sum();
    let reads = RegisterReads {
        start: RegisterRead {
            import_mwh: 5_000_000_000,
            export_mwh: 1_000_000_000,
        },
        end: RegisterRead {
            import_mwh: 5_000_000_000 + import as u64,
            export_mwh: 1_000_000_000 + export as u64,
        },
    };
    (data, reads)
}

/// 15-minute day-ahead prices over the period.
fn day_ahead(period: Period) -> Market {
    let mut mix = Mix(7);
    let start = period.start().as_second() - 86_400;
    let points = (0..(40 * 96))
        .map(|k| PricePoint {
            start: Timestamp::from_second(start + k * 900).expect("in range"),
            end: Timestamp::from_second(start + (k + 1) * 900).expect("in range"),
            price_per_kwh: Micros(mix.next(300_000) as i64 - 30_000),
        })
        .collect();
    Market {
        series: [(
            "day-ahead".to_owned(),
            PriceSeries::new(points).expect("ordered"),
        )]
        .into(),
        critical_peaks: Vec::new(),
    }
}

fn meter<'a>(data: &'a [Interval], reads: RegisterReads) -> MeterData<'a> {
    MeterData {
        meter: "m-bench",
        intervals: data,
        registers: Some(reads),
        credit_in_mwh: 0,
        rules: ValidationRules {
            max_power_w: Some(17_250),
            ..ValidationRules::default()
        },
    }
}

fn one_meter_month(c: &mut Criterion) {
    for (name, text) in [("tou", TOU), ("dynamic", DYNAMIC)] {
        let plan = Plan::from_toml(text).expect("bench plan");
        let period = Period::from_dates(&plan, date(2026, 6, 1), date(2026, 7, 1)).expect("June");
        let market = day_ahead(period);
        let prepared = PreparedPeriod::new(&plan, period, &market).expect("prepared");
        let (data, reads) = household(period, 1);
        assert_eq!(data.len(), 2880);
        c.bench_function(&format!("bill one meter-month ({name})"), |b| {
            b.iter(|| {
                prepared
                    .bill(black_box(&meter(&data, reads)))
                    .expect("bill")
            })
        });
        c.bench_function(&format!("prepare a month ({name})"), |b| {
            b.iter(|| PreparedPeriod::new(&plan, black_box(period), &market).expect("prepared"))
        });
    }
}

/// Meters per second, single-threaded and over every core with `bill_fleet`, and the
/// extrapolated time for 100,000 meters.
fn fleet(_: &mut Criterion) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (name, text) in [("tou", TOU), ("dynamic", DYNAMIC)] {
        let plan = Plan::from_toml(text).expect("bench plan");
        let period = Period::from_dates(&plan, date(2026, 6, 1), date(2026, 7, 1)).expect("June");
        let market = day_ahead(period);
        let households: Vec<(Vec<Interval>, RegisterReads)> =
            (0..200).map(|seed| household(period, seed)).collect();
        let meters: Vec<MeterData<'_>> = (0..4_000)
            .map(|k| {
                let (data, reads) = &households[k % households.len()];
                meter(data, *reads)
            })
            .collect();
        let started = Instant::now();
        let prepared = PreparedPeriod::new(&plan, period, &market).expect("prepared");
        let single: usize = meters[..1_000]
            .iter()
            .map(|m| prepared.bill(m).expect("bill").lines.len())
            .sum();
        let single_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let prepared = PreparedPeriod::new(&plan, period, &market).expect("prepared");
        let bills = bill_fleet(&prepared, &meters, threads);
        let fleet_s = started.elapsed().as_secs_f64();
        assert!(single > 0 && bills.iter().all(Result::is_ok));
        println!(
            "{name}: {:.0} meter-months/s on 1 thread; {:.0} meter-months/s on {threads} threads \
             ({} meters in {fleet_s:.2} s); 100,000 meters: {:.1} s",
            1_000.0 / single_s,
            meters.len() as f64 / fleet_s,
            meters.len(),
            100_000.0 * fleet_s / meters.len() as f64,
        );
    }
}

criterion_group!(benches, one_meter_month, fleet);
criterion_main!(benches);
