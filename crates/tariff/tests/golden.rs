//! Golden bills: every expected figure below is worked out by hand in the comments, not
//! by running the code.

mod common;

use common::{at, bill, intervals, lines, meter, plan, registers, row};
use jiff::civil::date;
use joule_tariff::{
    CriticalPeak, Finding, LineKind, Market, NetMeteringSummary, Period, PriceSeries, Register,
};

#[test]
fn flat_with_net_billing_and_an_unallocated_residual() {
    let plan = plan(
        r#"
name = "Flat 2026"
currency = "EUR"
time_zone = "Europe/Amsterdam"

[[versions]]
effective_from = 2026-01-01
import = { kind = "flat", price_per_kwh = 0.25 }
export = { kind = "net_billing", price_per_kwh = 0.07 }
fixed = { per_day = 0.50 }
levies = [{ name = "Energy tax", per_kwh = 0.10 }]
taxes = [{ name = "VAT", percent = 21 }]
"#,
    );
    // 1 June 2026 in Amsterdam (UTC+2): 2026-05-31T22:00Z to 2026-06-01T22:00Z, 96 quarters.
    let period = Period::from_dates(&plan, date(2026, 6, 1), date(2026, 6, 2)).unwrap();
    // 250 Wh import every quarter (24 kWh); 100 Wh export in the 16 quarters from 10:00
    // to 14:00 local, which is k = 40..56 counted from 22:00Z (1.6 kWh).
    let data = intervals("2026-05-31T22:00:00Z", 900, 96, |k, _| {
        (250_000, if (40..56).contains(&k) { 100_000 } else { 0 })
    });
    // The import register moved 24.5 kWh: 0.5 kWh more than the intervals hold.
    let bill = bill(
        &plan,
        period,
        &Market::default(),
        &meter(&data, Some(registers(24_500_000, 1_600_000))),
    );
    // Energy          24 kWh × 0.25            =  6.00
    // Export        −1.6 kWh × 0.07 = −0.112   → −0.11
    // Unallocated    0.5 kWh × 0.25 (average)  =  0.125 → 0.13 (half away from zero)
    // Standing charge 1 day × 0.50             =  0.50
    // Energy tax    24.5 kWh × 0.10            =  2.45 (on the register's import)
    // Before taxes: 6.00 − 0.11 + 0.13 + 0.50 + 2.45 = 8.97
    // VAT 21 % of 8.97 = 1.8837 → 1.88; total 10.85.
    assert_eq!(
        lines(&bill),
        [
            row("Energy", "24.000000", "0.250000", 600),
            row("Export", "-1.600000", "0.070000", -11),
            row(
                "Import not in the interval data (register minus intervals)",
                "0.500000",
                "0.250000",
                13
            ),
            row("Standing charge", "1.000000", "0.500000", 50),
            row("Energy tax", "24.500000", "0.100000", 245),
            row("VAT 21%", "8.97", "0.21000000", 188),
        ]
    );
    assert_eq!(bill.subtotals.before_taxes_minor, 897);
    assert_eq!(bill.subtotals.energy_minor, 613);
    assert_eq!(bill.subtotals.export_minor, -11);
    assert_eq!(bill.total_minor, 1085);
    assert_eq!(bill.energy.import.register_mwh, Some(24_500_000));
    assert_eq!(bill.energy.import.intervals_mwh, 24_000_000);
    assert_eq!(bill.energy.import.difference_mwh, Some(500_000));
    assert_eq!(bill.energy.export.difference_mwh, Some(0));
    assert_eq!(
        bill.findings,
        [Finding::Unreconciled {
            register: Register::Import,
            difference_mwh: 500_000
        }]
    );
}

const TIERED_NET_METERING: &str = r#"
name = "Tiered with net metering"
currency = "EUR"
time_zone = "Europe/Amsterdam"

[[versions]]
effective_from = 2026-01-01
fixed = { per_month = 5 }
taxes = [{ name = "VAT", percent = 10 }]

[versions.import]
kind = "tiered"
blocks = [
  { up_to_kwh = 100, price_per_kwh = 0.20 },
  { up_to_kwh = 300, price_per_kwh = 0.25 },
  { price_per_kwh = 0.30 },
]

[versions.export]
kind = "net_metering"
true_up = "monthly"
true_up_price_per_kwh = 0.03
"#;

#[test]
fn tiered_with_net_metering_and_a_monthly_true_up() {
    let plan = plan(TIERED_NET_METERING);
    // June 2026 in Amsterdam: 30 days of 24 hours (UTC+2 throughout), 720 hourly intervals.
    let period = Period::from_dates(&plan, date(2026, 6, 1), date(2026, 7, 1)).unwrap();
    // 0.5 kWh import every hour: 360 kWh. 1.5 kWh export in the 9 hours from 08:00 to
    // 17:00 local (06:00 to 15:00 UTC): 30 × 9 × 1.5 = 405 kWh. No registers: the
    // intervals are billed.
    let data = intervals("2026-05-31T22:00:00Z", 3600, 720, |_, start| {
        let utc_hour = start.as_second() / 3600 % 24;
        (
            500_000,
            if (6..15).contains(&utc_hour) {
                1_500_000
            } else {
                0
            },
        )
    });
    let bill = bill(&plan, period, &Market::default(), &meter(&data, None));
    // Blocks in time order: 100 kWh × 0.20 = 20.00; 200 kWh × 0.25 = 50.00;
    // 60 kWh × 0.30 = 18.00. Energy charge 88.00 for 360 kWh: average 0.244444….
    // Net metering: 405 kWh exported offsets all 360 kWh imported, at the import's own
    // average price: −88.00 exactly (88.00 × 360 / 360). Left: 45 kWh.
    // Monthly true-up: 45 kWh × 0.03 = 1.35 paid out.
    // Monthly charge: the whole of June = 1 month × 5.00.
    // Before taxes: 20 + 50 + 18 − 88 − 1.35 + 5 = 3.65; VAT 10 % = 0.365 → 0.37.
    assert_eq!(
        lines(&bill),
        [
            row(
                "Energy, block 1 (0 to 100 kWh)",
                "100.000000",
                "0.200000",
                2000
            ),
            row(
                "Energy, block 2 (100 to 300 kWh)",
                "200.000000",
                "0.250000",
                5000
            ),
            row(
                "Energy, block 3 (above 300 kWh)",
                "60.000000",
                "0.300000",
                1800
            ),
            row(
                "Net metering: export offsetting import",
                "-360.000000",
                "0.244444",
                -8800
            ),
            row(
                "Net metering true-up: credit paid out",
                "-45.000000",
                "0.030000",
                -135
            ),
            row("Monthly charge", "1.000000", "5.000000", 500),
            row("VAT 10%", "3.65", "0.10000000", 37),
        ]
    );
    assert_eq!(bill.total_minor, 402);
    assert_eq!(
        bill.net_metering,
        Some(NetMeteringSummary {
            credit_in_mwh: 0,
            exported_mwh: 405_000_000,
            offset_mwh: 360_000_000,
            true_up: true,
            paid_mwh: 45_000_000,
            forfeited_mwh: 0,
            credit_out_mwh: 0,
        })
    );
}

const DAY_NIGHT: &str = r#"
name = "Day and night"
currency = "EUR"
time_zone = "Europe/Amsterdam"

[[versions]]
effective_from = 2026-01-01
taxes = [{ name = "VAT", percent = 21 }]

[versions.import]
kind = "time_of_use"

[[versions.import.seasons]]
name = "All year"
from = "01-01"
to = "12-31"
prices = { night = 0.20, day = 0.30 }
switches = [
  { days = "all", at = "00:00", period = "night" },
  { days = "all", at = "07:00", period = "day" },
  { days = "all", at = "23:00", period = "night" },
]
"#;

/// Bills a constant 1 kW (250 Wh a quarter) over local days `from`..`to`.
fn day_night(from: jiff::civil::Date, to: jiff::civil::Date, quarters: i64) -> joule_tariff::Bill {
    let plan = plan(DAY_NIGHT);
    let period = Period::from_dates(&plan, from, to).unwrap();
    assert_eq!(
        (period.end().as_second() - period.start().as_second()) / 900,
        quarters
    );
    let data = intervals(&period.start().to_string(), 900, quarters, |_, _| {
        (250_000, 0)
    });
    let reads = registers(quarters as u64 * 250_000, 0);
    bill(
        &plan,
        period,
        &Market::default(),
        &meter(&data, Some(reads)),
    )
}

#[test]
fn time_of_use_on_the_23_hour_day() {
    // 2026-03-29: the clocks go from 02:00 to 03:00. Night 00:00–07:00 has 6 hours
    // (24 quarters) plus 23:00–24:00 (4): 28 quarters = 7 kWh. Day 07:00–23:00 is 16 hours
    // = 64 quarters = 16 kWh. 92 quarters in all.
    let bill = day_night(date(2026, 3, 29), date(2026, 3, 30), 92);
    // Day 16 × 0.30 = 4.80; night 7 × 0.20 = 1.40; 6.20 + VAT 1.302 → 1.30.
    assert_eq!(
        lines(&bill),
        [
            row("Energy, day", "16.000000", "0.300000", 480),
            row("Energy, night", "7.000000", "0.200000", 140),
            row("VAT 21%", "6.20", "0.21000000", 130),
        ]
    );
}

#[test]
fn time_of_use_on_the_25_hour_day() {
    // 2026-10-25: 02:00–03:00 happens twice. Night 00:00–07:00 has 8 hours (32 quarters)
    // plus 4: 36 quarters = 9 kWh. Day: 64 quarters = 16 kWh. 100 quarters in all.
    let bill = day_night(date(2026, 10, 25), date(2026, 10, 26), 100);
    // Day 4.80; night 9 × 0.20 = 1.80; 6.60 + VAT 1.386 → 1.39.
    assert_eq!(
        lines(&bill),
        [
            row("Energy, day", "16.000000", "0.300000", 480),
            row("Energy, night", "9.000000", "0.200000", 180),
            row("VAT 21%", "6.60", "0.21000000", 139),
        ]
    );
}

#[test]
fn time_of_use_over_both_dst_weekends() {
    // 28–30 March: 24 + 23 + 24 = 71 hours, 284 quarters. Night: 32 + 28 + 32 = 92
    // quarters = 23 kWh × 0.20 = 4.60. Day: 3 × 64 = 192 quarters = 48 kWh × 0.30 = 14.40.
    // 19.00 + VAT 3.99 = 22.99.
    let spring = day_night(date(2026, 3, 28), date(2026, 3, 31), 284);
    assert_eq!(
        lines(&spring),
        [
            row("Energy, day", "48.000000", "0.300000", 1440),
            row("Energy, night", "23.000000", "0.200000", 460),
            row("VAT 21%", "19.00", "0.21000000", 399),
        ]
    );
    assert_eq!(spring.total_minor, 2299);
    // 24–26 October: 24 + 25 + 24 = 73 hours, 292 quarters. Night: 32 + 36 + 32 = 100
    // quarters = 25 kWh × 0.20 = 5.00. Day 14.40. 19.40 + VAT 4.074 → 4.07 = 23.47.
    let autumn = day_night(date(2026, 10, 24), date(2026, 10, 27), 292);
    assert_eq!(
        lines(&autumn),
        [
            row("Energy, day", "48.000000", "0.300000", 1440),
            row("Energy, night", "25.000000", "0.200000", 500),
            row("VAT 21%", "19.40", "0.21000000", 407),
        ]
    );
    assert_eq!(autumn.total_minor, 2347);
    assert!(autumn.findings.is_empty(), "{:?}", autumn.findings);
}

#[test]
fn dynamic_with_net_billing_and_a_critical_peak() {
    let plan = plan(
        r#"
name = "Dynamic"
currency = "EUR"
time_zone = "Europe/Amsterdam"

[[versions]]
effective_from = 2026-01-01

[versions.import]
kind = "dynamic"
series = "spot"
adder_per_kwh = 0.02

[versions.export]
kind = "net_billing"
series = "spot"
multiplier = 0.9
"#,
    );
    let spot = PriceSeries::from_csv(
        "start,end,price_per_kwh\n\
         2026-06-01T00:00:00Z,2026-06-01T01:00:00Z,0.10\n\
         2026-06-01T01:00:00Z,2026-06-01T02:00:00Z,0.20\n\
         2026-06-01T02:00:00Z,2026-06-01T03:00:00Z,-0.05\n\
         2026-06-01T03:00:00Z,2026-06-01T04:00:00Z,0.30\n",
    )
    .unwrap();
    let market = Market {
        series: [("spot".to_owned(), spot)].into(),
        critical_peaks: vec![CriticalPeak {
            start: at("2026-06-01T03:30:00Z"),
            end: at("2026-06-01T04:00:00Z"),
            price_per_kwh: joule_tariff::Micros(1_000_000),
        }],
    };
    let period = Period::new(at("2026-06-01T00:00:00Z"), at("2026-06-01T04:00:00Z")).unwrap();
    // 1 kWh import in hours 0, 1 and 3 (250 Wh a quarter); hour 2 exports 2 kWh.
    let data = intervals("2026-06-01T00:00:00Z", 900, 16, |k, _| {
        if (8..12).contains(&k) {
            (0, 500_000)
        } else {
            (250_000, 0)
        }
    });
    let bill = bill(
        &plan,
        period,
        &market,
        &meter(&data, Some(registers(3_000_000, 2_000_000))),
    );
    // Import at spot + 0.02: hour 0: 1 kWh × 0.12 = 0.12; hour 1: 1 × 0.22 = 0.22;
    // hour 3 before the event: 0.5 × 0.32 = 0.16. 0.50 for 2.5 kWh: average 0.20.
    // The event 03:30–04:00 (05:30 local): 0.5 kWh × 1.00 = 0.50.
    // Export in hour 2 at −0.05 × 0.9 = −0.045: 2 kWh credited at a negative price costs
    // 0.09. Total 0.50 + 0.09 + 0.50 = 1.09.
    assert_eq!(
        lines(&bill),
        [
            row(
                "Energy at dynamic prices (average)",
                "2.500000",
                "0.200000",
                50
            ),
            row(
                "Export at dynamic prices (average)",
                "-2.000000",
                "-0.045000",
                9
            ),
            row("Critical peak 2026-06-01 05:30", "0.500000", "1.000000", 50),
        ]
    );
    assert_eq!(bill.total_minor, 109);
    assert_eq!(bill.lines[1].kind, LineKind::Export);
}

#[test]
fn a_price_change_applies_from_its_effective_date() {
    let plan = plan(
        r#"
name = "Flat with a price change"
currency = "EUR"
time_zone = "Europe/Amsterdam"

[[versions]]
effective_from = 2026-01-01
import = { kind = "flat", price_per_kwh = 0.20 }
fixed = { per_day = 1 }

[[versions]]
effective_from = 2026-03-15
import = { kind = "flat", price_per_kwh = 0.30 }
fixed = { per_day = 1 }
"#,
    );
    // March 2026 in Amsterdam: 2026-02-28T23:00Z to 2026-03-31T22:00Z, 743 hours (the 29th
    // has 23). 1 kWh every hour.
    let period = Period::from_dates(&plan, date(2026, 3, 1), date(2026, 4, 1)).unwrap();
    let data = intervals("2026-02-28T23:00:00Z", 3600, 743, |_, _| (1_000_000, 0));
    let bill = bill(&plan, period, &Market::default(), &meter(&data, None));
    // 1–14 March: 14 × 24 = 336 kWh at 0.20 = 67.20, 14 days × 1.00.
    // From 15 March (00:00 local = 14T23:00Z): 743 − 336 = 407 kWh at 0.30 = 122.10,
    // 17 days × 1.00. Total 67.20 + 122.10 + 14 + 17 = 220.30.
    assert_eq!(
        lines(&bill),
        [
            row(
                "Energy (prices from 2026-01-01)",
                "336.000000",
                "0.200000",
                6720
            ),
            row(
                "Energy (prices from 2026-03-15)",
                "407.000000",
                "0.300000",
                12210
            ),
            row(
                "Standing charge (prices from 2026-01-01)",
                "14.000000",
                "1.000000",
                1400
            ),
            row(
                "Standing charge (prices from 2026-03-15)",
                "17.000000",
                "1.000000",
                1700
            ),
        ]
    );
    assert_eq!(bill.total_minor, 22030);
    // The same March under the old prices alone would have been 743 × 0.20: the change
    // is not retroactive, and a period before it sees only the old version.
    let february = Period::from_dates(&plan, date(2026, 2, 1), date(2026, 3, 1)).unwrap();
    let data = intervals("2026-01-31T23:00:00Z", 3600, 672, |_, _| (1_000_000, 0));
    let bill = common::bill(&plan, february, &Market::default(), &meter(&data, None));
    // 672 kWh × 0.20 = 134.40 + 28 days = 162.40.
    assert_eq!(bill.total_minor, 16240);
}
