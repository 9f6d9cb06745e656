//! Properties of every bill, over generated plans, periods and interval data.
//!
//! The plans are generated from flat, tiered, time-of-use and dynamic templates in
//! Europe/Amsterdam, with periods that may cover either DST change. The splitting property
//! only holds for charges that add up over time, so its plans have no standing charges,
//! no tiers, no minimum bill and no net metering (all of which are per period), and its
//! prices and energies are whole cents and whole kWh so that every line is exact and no
//! rounding differs between one bill and two; a second version allows any values and
//! bounds the difference by the rounding of each line.

mod common;

use common::{intervals, meter, registers};
use jiff::civil::{Date, date};
use joule_tariff::{
    Bill, Interval, Market, Micros, Period, Plan, PreparedPeriod, PricePoint, PriceSeries,
};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Flat,
    Tiered,
    TimeOfUse,
    Dynamic,
}

#[derive(Debug, Clone, Copy)]
enum Export {
    None,
    NetBilling,
    NetMetering,
}

#[derive(Debug, Clone)]
struct Setup {
    kind: Kind,
    export: Export,
    /// Prices in cents.
    prices: [i64; 3],
    per_day_cents: i64,
    vat_percent: i64,
    minimum_cents: i64,
    levy_cents: i64,
}

fn cents(value: i64) -> String {
    format!("{}.{:02}", value / 100, value % 100)
}

fn toml(setup: &Setup) -> String {
    let [a, b, c] = setup.prices.map(cents);
    let mut text = format!(
        "name = \"p\"\ncurrency = \"EUR\"\ntime_zone = \"Europe/Amsterdam\"\n[[versions]]\neffective_from = 2025-01-01\n\
         fixed = {{ per_day = {} }}\ntaxes = [{{ name = \"VAT\", percent = {} }}]\nlevies = [{{ name = \"Tax\", per_kwh = {} }}]\n",
        cents(setup.per_day_cents),
        setup.vat_percent,
        cents(setup.levy_cents)
    );
    if setup.minimum_cents > 0 {
        text += &format!("minimum_bill = {}\n", cents(setup.minimum_cents));
    }
    text += &match setup.export {
        Export::None => String::new(),
        Export::NetBilling => {
            format!("export = {{ kind = \"net_billing\", price_per_kwh = {c} }}\n")
        }
        Export::NetMetering => {
            "export = { kind = \"net_metering\", true_up = \"monthly\" }\n".into()
        }
    };
    text += &match setup.kind {
        Kind::Flat => format!("import = {{ kind = \"flat\", price_per_kwh = {a} }}\n"),
        Kind::Tiered => format!(
            "[versions.import]\nkind = \"tiered\"\nblocks = [{{ up_to_kwh = 5, price_per_kwh = {a} }}, {{ price_per_kwh = {b} }}]\n"
        ),
        Kind::TimeOfUse => format!(
            "[versions.import]\nkind = \"time_of_use\"\n[[versions.import.seasons]]\nname = \"s\"\nfrom = \"01-01\"\nto = \"12-31\"\n\
             prices = {{ low = {a}, high = {b} }}\n\
             switches = [{{ days = \"all\", at = \"00:00\", period = \"low\" }}, {{ days = \"weekday\", at = \"07:00\", period = \"high\" }}, {{ days = \"all\", at = \"22:00\", period = \"low\" }}]\n"
        ),
        Kind::Dynamic => {
            "[versions.import]\nkind = \"dynamic\"\nseries = \"spot\"\nadder_per_kwh = 0.01\n"
                .into()
        }
    };
    text
}

/// Hourly spot prices in whole cents over 2026 (and a day either side), from a seed.
fn market(seed: u64) -> Market {
    let first: jiff::Timestamp = "2025-12-31T00:00:00Z".parse().unwrap();
    let points = (0..24 * 368)
        .map(|h: i64| {
            let price =
                ((h as u64).wrapping_mul(2_654_435_761).wrapping_add(seed) % 61) as i64 - 10;
            PricePoint {
                start: first
                    .checked_add(jiff::SignedDuration::from_hours(h))
                    .unwrap(),
                end: first
                    .checked_add(jiff::SignedDuration::from_hours(h + 1))
                    .unwrap(),
                price_per_kwh: Micros(price * 10_000),
            }
        })
        .collect();
    Market {
        series: [("spot".to_owned(), PriceSeries::new(points).unwrap())].into(),
        critical_peaks: Vec::new(),
    }
}

fn kinds() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Flat),
        Just(Kind::Tiered),
        Just(Kind::TimeOfUse),
        Just(Kind::Dynamic)
    ]
}

fn exports() -> impl Strategy<Value = Export> {
    prop_oneof![
        Just(Export::None),
        Just(Export::NetBilling),
        Just(Export::NetMetering)
    ]
}

fn any_setup() -> impl Strategy<Value = Setup> {
    (
        kinds(),
        exports(),
        [1..60_i64, 1..60_i64, 0..20_i64],
        0..100_i64,
        prop_oneof![Just(0_i64), Just(9), Just(21)],
        prop_oneof![Just(0_i64), Just(2_000)],
        0..15_i64,
    )
        .prop_map(
            |(kind, export, prices, per_day_cents, vat_percent, minimum_cents, levy_cents)| Setup {
                kind,
                export,
                prices,
                per_day_cents,
                vat_percent,
                minimum_cents,
                levy_cents,
            },
        )
}

/// A start date in 2026 near one of the DST changes or anywhere.
fn start_dates() -> impl Strategy<Value = Date> {
    prop_oneof![
        (0..6_i64).prop_map(|d| date(2026, 3, 26)
            .checked_add(jiff::Span::new().days(d))
            .unwrap()),
        (0..6_i64).prop_map(|d| date(2026, 10, 22)
            .checked_add(jiff::Span::new().days(d))
            .unwrap()),
        (0..360_i64).prop_map(|d| date(2026, 1, 1)
            .checked_add(jiff::Span::new().days(d))
            .unwrap()),
    ]
}

/// Quarter-hour data over a period: import and export per quarter from the vectors,
/// repeated.
fn quarters(period: Period, import: &[i64], export: &[i64]) -> Vec<Interval> {
    let count = (period.end().as_second() - period.start().as_second()) / 900;
    intervals(&period.start().to_string(), 900, count, |k, _| {
        let k = k as usize;
        (import[k % import.len()], export[k % export.len()])
    })
}

/// A quarter-hour boundary strictly inside the period, from any number.
fn split_at(period: Period, quarter: i64) -> jiff::Timestamp {
    let quarters = (period.end().as_second() - period.start().as_second()) / 900;
    let offset = 1 + quarter.rem_euclid(quarters - 1);
    period
        .start()
        .checked_add(jiff::SignedDuration::from_secs(offset * 900))
        .unwrap()
}

fn bill_of(
    plan: &Plan,
    period: Period,
    market: &Market,
    data: &[Interval],
    registers: Option<joule_tariff::RegisterReads>,
) -> Bill {
    PreparedPeriod::new(plan, period, market)
        .unwrap()
        .bill(&meter(data, registers))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lines_add_up_to_the_total(
        setup in any_setup(),
        start in start_dates(),
        days in 1..5_i64,
        import in prop::collection::vec(0..600_000_i64, 1..50),
        export in prop::collection::vec(0..900_000_i64, 1..50),
        seed in any::<u64>(),
        extra_import in -2_000_000..2_000_000_i64,
    ) {
        let plan = Plan::from_toml(&toml(&setup)).unwrap();
        let end = start.checked_add(jiff::Span::new().days(days)).unwrap();
        let period = Period::from_dates(&plan, start, end).unwrap();
        let data = quarters(period, &import, &export);
        let import_sum: i64 = data.iter().map(|i| i.import_mwh).sum();
        let export_sum: i64 = data.iter().map(|i| i.export_mwh).sum();
        let reads = registers((import_sum + extra_import).max(0) as u64, export_sum as u64);
        let bill = bill_of(&plan, period, &market(seed), &data, Some(reads));
        let sum: i64 = bill.lines.iter().map(|l| l.amount_minor).sum();
        prop_assert_eq!(sum, bill.total_minor);
        prop_assert_eq!(bill.subtotals.before_taxes_minor + bill.subtotals.taxes_minor, bill.total_minor);
        prop_assert_eq!(bill.energy.import.billed_mwh, (import_sum + extra_import).max(0));
    }

    #[test]
    fn registers_matching_the_intervals_change_nothing(
        setup in any_setup(),
        start in start_dates(),
        days in 1..4_i64,
        import in prop::collection::vec(1..600_000_i64, 1..50),
        export in prop::collection::vec(0..900_000_i64, 1..50),
        seed in any::<u64>(),
    ) {
        let plan = Plan::from_toml(&toml(&setup)).unwrap();
        let end = start.checked_add(jiff::Span::new().days(days)).unwrap();
        let period = Period::from_dates(&plan, start, end).unwrap();
        let data = quarters(period, &import, &export);
        let import_sum: i64 = data.iter().map(|i| i.import_mwh).sum();
        let export_sum: i64 = data.iter().map(|i| i.export_mwh).sum();
        let market = market(seed);
        let from_intervals = bill_of(&plan, period, &market, &data, None);
        let mut from_registers = bill_of(&plan, period, &market, &data, Some(registers(import_sum as u64, export_sum as u64)));
        prop_assert_eq!(from_registers.energy.import.difference_mwh, Some(0));
        prop_assert_eq!(from_registers.energy.export.difference_mwh, Some(0));
        for energy in [&mut from_registers.energy.import, &mut from_registers.energy.export] {
            energy.register_mwh = None;
            energy.difference_mwh = None;
        }
        prop_assert_eq!(from_registers, from_intervals);
    }

    #[test]
    fn splitting_a_period_keeps_the_total(
        kind in prop_oneof![Just(Kind::Flat), Just(Kind::TimeOfUse), Just(Kind::Dynamic)],
        export_kind in prop_oneof![Just(Export::None), Just(Export::NetBilling)],
        prices in [1..60_i64, 1..60_i64, 0..20_i64],
        levy_cents in 0..15_i64,
        start in start_dates(),
        days in 2..5_i64,
        split_quarter in any::<i64>(),
        import_kwh in prop::collection::vec(0..4_i64, 1..30),
        export_kwh in prop::collection::vec(0..3_i64, 1..30),
        seed in any::<u64>(),
    ) {
        let setup = Setup { kind, export: export_kind, prices, per_day_cents: 0, vat_percent: 0, minimum_cents: 0, levy_cents };
        let plan = Plan::from_toml(&toml(&setup)).unwrap();
        let end = start.checked_add(jiff::Span::new().days(days)).unwrap();
        let whole = Period::from_dates(&plan, start, end).unwrap();
        let import: Vec<i64> = import_kwh.iter().map(|kwh| kwh * 1_000_000).collect();
        let export: Vec<i64> = export_kwh.iter().map(|kwh| kwh * 1_000_000).collect();
        let data = quarters(whole, &import, &export);
        let split = split_at(whole, split_quarter);
        let first = Period::new(whole.start(), split).unwrap();
        let second = Period::new(split, whole.end()).unwrap();
        let market = market(seed);
        let total = |period| bill_of(&plan, period, &market, &data, None).total_minor;
        prop_assert_eq!(total(first) + total(second), total(whole));
    }

    #[test]
    fn splitting_with_any_values_differs_only_by_rounding(
        kind in prop_oneof![Just(Kind::Flat), Just(Kind::TimeOfUse), Just(Kind::Dynamic)],
        export_kind in prop_oneof![Just(Export::None), Just(Export::NetBilling)],
        prices in [1..60_i64, 1..60_i64, 0..20_i64],
        vat_percent in prop_oneof![Just(0_i64), Just(9), Just(21)],
        start in start_dates(),
        split_quarter in any::<i64>(),
        import in prop::collection::vec(0..700_000_i64, 1..30),
        export in prop::collection::vec(0..500_000_i64, 1..30),
        seed in any::<u64>(),
    ) {
        let setup = Setup { kind, export: export_kind, prices, per_day_cents: 0, vat_percent, minimum_cents: 0, levy_cents: 7 };
        let plan = Plan::from_toml(&toml(&setup)).unwrap();
        let end = start.checked_add(jiff::Span::new().days(2)).unwrap();
        let whole = Period::from_dates(&plan, start, end).unwrap();
        let data = quarters(whole, &import, &export);
        let split = split_at(whole, split_quarter);
        let market = market(seed);
        let bill = |period| bill_of(&plan, period, &market, &data, None);
        let (a, b, ab) = (
            bill(Period::new(whole.start(), split).unwrap()),
            bill(Period::new(split, whole.end()).unwrap()),
            bill(whole),
        );
        // Each line is rounded once (at most half a cent); a tax line's base carries the
        // rounding of the lines under it, which its rate scales down.
        let lines = (a.lines.len() + b.lines.len() + ab.lines.len()) as i64;
        prop_assert!((a.total_minor + b.total_minor - ab.total_minor).abs() <= lines);
    }
}
