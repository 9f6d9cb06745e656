//! Billing behaviours one at a time: demand, minimum bill, prices missing from a series,
//! the annual true-up, register-only bills, estimation on the bill, documents.

mod common;

use common::{at, bill, intervals, meter, plan, registers};
use jiff::civil::date;
use joule_tariff::{
    BillError, Finding, LineKind, Market, Method, Micros, Period, PreparedPeriod, PriceSeries,
    Register, estimate, render_html,
};

const HEAD: &str = "name = \"Test <plan>\"\ncurrency = \"EUR\"\ntime_zone = \"Europe/Amsterdam\"\n";

fn flat(extra: &str) -> joule_tariff::Plan {
    plan(&format!(
        "{HEAD}[[versions]]\neffective_from = 2026-01-01\nimport = {{ kind = \"flat\", price_per_kwh = 0.20 }}\n{extra}"
    ))
}

fn june_first(plan: &joule_tariff::Plan) -> Period {
    Period::from_dates(plan, date(2026, 6, 1), date(2026, 6, 2)).unwrap()
}

#[test]
fn demand_counts_only_inside_its_window() {
    let plan = flat(
        "demand = { price_per_kw = 4, window = { days = \"weekday\", from = \"17:00\", to = \"21:00\" } }\n",
    );
    // Monday 1 June 2026, 5-minute intervals from 22:00Z the day before: 50 Wh each
    // (600 W). At 12:00 local (10:00Z, k = 144..147) 500 Wh each: 6 kW, outside the window.
    // At 18:00 local (16:00Z, k = 216..219) 200 Wh each: 600 Wh in the quarter = 2.4 kW.
    let load = |k: i64| match k {
        144..147 => 500_000,
        216..219 => 200_000,
        _ => 50_000,
    };
    let data = intervals("2026-05-31T22:00:00Z", 300, 288, |k, _| (load(k), 0));
    let bill = bill(
        &plan,
        june_first(&plan),
        &Market::default(),
        &meter(&data, None),
    );
    let demand = bill
        .lines
        .iter()
        .find(|l| l.kind == LineKind::Demand)
        .unwrap();
    // 2.4 kW × 4.00 = 9.60.
    assert_eq!(
        (demand.quantity.as_str(), demand.amount_minor),
        ("2.400", 960)
    );
    assert_eq!(bill.demand_peaks[0].start, at("2026-06-01T16:00:00Z"));
    // A maximum registered by the meter counts as it is: 3 kW at 19:00 local.
    let mut data = data;
    data[228].max_demand_w = Some(3000);
    let bill = common::bill(
        &plan,
        june_first(&plan),
        &Market::default(),
        &meter(&data, None),
    );
    let demand = bill
        .lines
        .iter()
        .find(|l| l.kind == LineKind::Demand)
        .unwrap();
    assert_eq!(demand.amount_minor, 1200);
}

#[test]
fn the_minimum_bill_raises_the_subtotal_before_taxes() {
    let plan = flat("minimum_bill = 10\ntaxes = [{ name = \"VAT\", percent = 10 }]\n");
    let data = intervals("2026-05-31T22:00:00Z", 3600, 24, |k, _| {
        (if k == 0 { 1_000_000 } else { 0 }, 0)
    });
    let bill = bill(
        &plan,
        june_first(&plan),
        &Market::default(),
        &meter(&data, None),
    );
    // 1 kWh × 0.20 = 0.20, raised by 9.80 to 10.00; VAT 1.00; total 11.00.
    let minimum = bill
        .lines
        .iter()
        .find(|l| l.kind == LineKind::MinimumBill)
        .unwrap();
    assert_eq!(minimum.amount_minor, 980);
    assert_eq!(bill.total_minor, 1100);
}

fn dynamic(fallback: &str) -> joule_tariff::Plan {
    plan(&format!(
        "{HEAD}[[versions]]\neffective_from = 2026-01-01\n[versions.import]\nkind = \"dynamic\"\nseries = \"spot\"\n{fallback}"
    ))
}

fn two_hours_of_prices() -> Market {
    let spot = PriceSeries::from_json(
        r#"[{"start": "2026-06-01T00:00:00Z", "end": "2026-06-01T01:00:00Z", "price_per_kwh": 0.1},
            {"start": "2026-06-01T01:00:00Z", "end": "2026-06-01T02:00:00Z", "price_per_kwh": 0.3}]"#,
    )
    .unwrap();
    Market {
        series: [("spot".to_owned(), spot)].into(),
        critical_peaks: Vec::new(),
    }
}

#[test]
fn a_missing_price_names_the_instant_or_falls_back_flagged() {
    let period = Period::new(at("2026-06-01T00:00:00Z"), at("2026-06-01T03:00:00Z")).unwrap();
    let error = PreparedPeriod::new(&dynamic(""), period, &two_hours_of_prices()).unwrap_err();
    assert_eq!(
        error,
        BillError::MissingPrice {
            series: "spot".into(),
            at: at("2026-06-01T02:00:00Z")
        }
    );
    assert!(error.to_string().contains("2026-06-01T02:00:00Z"));
    let plan = dynamic("fallback_price_per_kwh = 0.25\n");
    let data = intervals("2026-06-01T00:00:00Z", 3600, 3, |_, _| (1_000_000, 0));
    let bill = bill(&plan, period, &two_hours_of_prices(), &meter(&data, None));
    // 1 kWh at 0.10 + 1 kWh at 0.30 = 0.40 (average 0.20); 1 kWh at the fallback 0.25.
    let amounts: Vec<(&str, i64)> = bill
        .lines
        .iter()
        .map(|l| (l.description.as_str(), l.amount_minor))
        .collect();
    assert_eq!(
        amounts,
        [
            ("Energy at dynamic prices (average)", 40),
            ("Energy at the fallback price", 25)
        ]
    );
    assert!(bill.findings.contains(&Finding::FallbackPrice {
        start: at("2026-06-01T02:00:00Z"),
        end: at("2026-06-01T03:00:00Z"),
        price_per_kwh: Micros(250_000),
    }));
    let unknown = PreparedPeriod::new(&dynamic(""), period, &Market::default()).unwrap_err();
    assert_eq!(
        unknown,
        BillError::UnknownSeries {
            series: "spot".into()
        }
    );
}

#[test]
fn annual_net_metering_carries_credit_until_the_anniversary() {
    let plan = flat(
        "export = { kind = \"net_metering\", true_up = \"annual\", true_up_on = \"01-01\" }\n",
    );
    // A day with 2 kWh import and 5 kWh export, and 1 kWh of credit carried in.
    let data = intervals("2026-05-31T22:00:00Z", 3600, 24, |k, _| match k {
        0 | 1 => (1_000_000, 0),
        12 => (0, 5_000_000),
        _ => (0, 0),
    });
    let mut june = meter(&data, None);
    june.credit_in_mwh = 1_000_000;
    let bill = bill(&plan, june_first(&plan), &Market::default(), &june);
    let net = bill.net_metering.unwrap();
    // 5 + 1 kWh available, 2 offset: 4 kWh carried forward; no true-up in June.
    assert_eq!(
        (net.offset_mwh, net.credit_out_mwh, net.true_up),
        (2_000_000, 4_000_000, false)
    );
    // 2 kWh × 0.20 = 0.40, credited in full.
    assert_eq!(bill.total_minor, 0);
    // A period containing 1 January settles: no true-up price, so the credit is forfeited.
    let winter = Period::from_dates(&plan, date(2026, 12, 31), date(2027, 1, 2)).unwrap();
    let data = intervals("2026-12-30T23:00:00Z", 3600, 48, |k, _| {
        (0, if k == 12 { 3_000_000 } else { 0 })
    });
    let bill = common::bill(&plan, winter, &Market::default(), &meter(&data, None));
    let net = bill.net_metering.unwrap();
    assert_eq!(
        (net.true_up, net.forfeited_mwh, net.credit_out_mwh),
        (true, 3_000_000, 0)
    );
}

#[test]
fn net_metering_cannot_mix_with_another_arrangement_in_one_period() {
    let plan = plan(&format!(
        "{HEAD}[[versions]]\neffective_from = 2026-01-01\nimport = {{ kind = \"flat\", price_per_kwh = 0.2 }}\n\
         export = {{ kind = \"net_metering\", true_up = \"monthly\" }}\n\
         [[versions]]\neffective_from = 2026-06-15\nimport = {{ kind = \"flat\", price_per_kwh = 0.2 }}\n\
         export = {{ kind = \"net_billing\", price_per_kwh = 0.05 }}\n"
    ));
    let june = Period::from_dates(&plan, date(2026, 6, 1), date(2026, 7, 1)).unwrap();
    assert_eq!(
        PreparedPeriod::new(&plan, june, &Market::default()).unwrap_err(),
        BillError::MixedExport {
            date: date(2026, 6, 15)
        }
    );
    let before = Period::from_dates(&plan, date(2025, 12, 1), date(2026, 1, 1)).unwrap();
    assert_eq!(
        PreparedPeriod::new(&plan, before, &Market::default()).unwrap_err(),
        BillError::NoVersion {
            date: date(2025, 12, 1)
        }
    );
}

#[test]
fn a_register_without_interval_data_is_spread_evenly() {
    let plan = plan(&format!(
        "{HEAD}[[versions]]\neffective_from = 2026-01-01\n[versions.import]\nkind = \"time_of_use\"\n\
         [[versions.import.seasons]]\nname = \"All\"\nfrom = \"01-01\"\nto = \"12-31\"\nprices = {{ low = 0.1, high = 0.3 }}\n\
         switches = [{{ days = \"all\", at = \"00:00\", period = \"low\" }}, {{ days = \"all\", at = \"06:00\", period = \"high\" }}]\n"
    ));
    // 24 kWh over a 24-hour day with no intervals: 6 kWh low (00:00–06:00), 18 kWh high.
    let bill = bill(
        &plan,
        june_first(&plan),
        &Market::default(),
        &meter(&[], Some(registers(24_000_000, 0))),
    );
    let amounts: Vec<(&str, &str, i64)> = bill
        .lines
        .iter()
        .map(|l| (l.description.as_str(), l.quantity.as_str(), l.amount_minor))
        .collect();
    assert_eq!(
        amounts,
        [
            ("Energy, high", "18.000000", 540),
            ("Energy, low", "6.000000", 60)
        ]
    );
    assert!(bill.findings.contains(&Finding::NoIntervalData {
        register: Register::Import
    }));
    assert_eq!(
        (bill.estimated.intervals, bill.estimated.import_mwh),
        (1, 24_000_000)
    );
    let backwards = joule_tariff::RegisterReads {
        start: registers(1, 0).end,
        end: registers(1, 0).start,
    };
    let prepared = PreparedPeriod::new(&plan, june_first(&plan), &Market::default()).unwrap();
    assert_eq!(
        prepared.bill(&meter(&[], Some(backwards))).unwrap_err(),
        BillError::RegisterBackwards {
            register: Register::Import
        }
    );
}

#[test]
fn an_interval_across_a_switch_is_split_by_time_and_order_does_not_matter() {
    let plan = plan(&format!(
        "{HEAD}[[versions]]\neffective_from = 2026-01-01\n[versions.import]\nkind = \"time_of_use\"\n\
         [[versions.import.seasons]]\nname = \"All\"\nfrom = \"01-01\"\nto = \"12-31\"\nprices = {{ low = 0.1, high = 0.3 }}\n\
         switches = [{{ days = \"all\", at = \"00:00\", period = \"low\" }}, {{ days = \"all\", at = \"06:30\", period = \"high\" }}]\n"
    ));
    // Hourly data; the 06:00–07:00 local hour (04:00Z) holds 1 kWh: half low, half high.
    let data = intervals("2026-05-31T22:00:00Z", 3600, 24, |k, _| {
        (if k == 6 { 1_000_000 } else { 0 }, 0)
    });
    let forward = bill(
        &plan,
        june_first(&plan),
        &Market::default(),
        &meter(&data, None),
    );
    let quantities: Vec<&str> = forward.lines.iter().map(|l| l.quantity.as_str()).collect();
    assert_eq!(quantities, ["0.500000", "0.500000"]);
    let mut reversed = data.clone();
    reversed.reverse();
    let backward = common::bill(
        &plan,
        june_first(&plan),
        &Market::default(),
        &meter(&reversed, None),
    );
    assert_eq!(forward, backward);
}

#[test]
fn prorated_blocks_scale_with_the_period() {
    let plan = plan(&format!(
        "{HEAD}[[versions]]\neffective_from = 2026-01-01\n[versions.import]\nkind = \"tiered\"\nprorate = true\n\
         blocks = [{{ up_to_kwh = 300, price_per_kwh = 0.1 }}, {{ price_per_kwh = 0.2 }}]\n"
    ));
    // Ten days of June: the block is 300 × 10/30 = 100 kWh. 150 kWh used: 100 at 0.10 and
    // 50 at 0.20 = 20.00.
    let period = Period::from_dates(&plan, date(2026, 6, 1), date(2026, 6, 11)).unwrap();
    let data = intervals("2026-05-31T22:00:00Z", 3600, 240, |k, _| {
        (if k < 150 { 1_000_000 } else { 0 }, 0)
    });
    let bill = bill(&plan, period, &Market::default(), &meter(&data, None));
    assert_eq!(bill.lines[0].description, "Energy, block 1 (0 to 100 kWh)");
    assert_eq!(bill.total_minor, 2000);
}

#[test]
fn estimated_intervals_are_counted_on_the_bill() {
    let plan = flat("");
    let period = june_first(&plan);
    // Quarters with 250 Wh; the two at 03:00 and 03:15 local (k = 12, 13) are missing.
    let data: Vec<_> = intervals("2026-05-31T22:00:00Z", 900, 96, |_, _| (250_000, 0))
        .into_iter()
        .enumerate()
        .filter(|(k, _)| *k != 12 && *k != 13)
        .map(|(_, i)| i)
        .collect();
    let reads = registers(96 * 250_000, 0);
    let filled = estimate(&data, period, 900, Some(&reads), None).unwrap();
    assert_eq!(filled.filled[0].method, Method::Linear);
    let bill = bill(
        &plan,
        period,
        &Market::default(),
        &meter(&filled.intervals, Some(reads)),
    );
    assert_eq!(
        (bill.estimated.intervals, bill.estimated.import_mwh),
        (2, 500_000)
    );
    assert_eq!(bill.energy.import.difference_mwh, Some(0));
    // 24 kWh × 0.20.
    assert_eq!(bill.total_minor, 480);
}

#[test]
fn bills_round_trip_as_json_and_render_as_escaped_html() {
    let plan = flat("taxes = [{ name = \"VAT\", percent = 21 }]\n");
    let mut data = intervals("2026-05-31T22:00:00Z", 900, 95, |_, _| (250_000, 0));
    data[3].estimated = true;
    let mut meter = meter(&data, Some(registers(24_000_000, 0)));
    meter.meter = "<script>alert(1)</script>";
    let bill = bill(&plan, june_first(&plan), &Market::default(), &meter);
    let json = bill.to_json();
    let back: joule_tariff::Bill = serde_json::from_str(&json).unwrap();
    assert_eq!(back, bill);
    assert!(json.contains("\"amount_minor\""), "{json}");
    let html = render_html(&bill);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("Test &lt;plan&gt;"));
    assert!(
        html.contains("No interval data from 2026-06-01 23:45 to 2026-06-02 00:00."),
        "{html}"
    );
    assert!(html.contains("Estimated: 1 intervals"));
    assert!(
        html.contains(">5.81<"),
        "4.75 energy + 0.05 unallocated (0.25 kWh) + 1.01 VAT: {html}"
    );
}

#[test]
fn costs_so_far_and_forecasts() {
    let plan = flat("fixed = { per_day = 0.48 }\n");
    let june = Period::from_dates(&plan, date(2026, 6, 1), date(2026, 7, 1)).unwrap();
    // 1 kWh every hour of June: a day costs 24 × 0.20 + 0.48 = 5.28.
    let data = intervals("2026-05-31T22:00:00Z", 3600, 720, |_, _| (1_000_000, 0));
    let market = Market::default();
    // Noon local on 1 June: 12 kWh × 0.20 = 2.40 and half a day's standing charge 0.24.
    let today =
        joule_tariff::cost_today(&plan, &market, &data, at("2026-06-01T10:00:00Z")).unwrap();
    assert_eq!((today.import_mwh, today.cost_minor), (12_000_000, 264));
    assert_eq!(today.period.start(), at("2026-05-31T22:00:00Z"));
    // Midnight starting 11 June: 10 days so far (52.80), 20 left at 5.28 a day: 158.40,
    // whether the average is the period so far or the last three days.
    let now = at("2026-06-10T22:00:00Z");
    for basis in [
        joule_tariff::Basis::PeriodSoFar,
        joule_tariff::Basis::LastDays(3),
    ] {
        let forecast =
            joule_tariff::forecast_period(&plan, &market, &data, june, now, basis).unwrap();
        assert_eq!(forecast.so_far.cost_minor, 5280);
        assert_eq!(forecast.daily_cost_minor, 528);
        assert_eq!(forecast.days_left_micros, 20_000_000);
        assert_eq!(forecast.total_minor, 15_840);
    }
}

#[test]
fn prices_ahead_follow_local_time_on_the_short_day() {
    let plan = plan(&format!(
        "{HEAD}[[versions]]\neffective_from = 2026-01-01\n[versions.import]\nkind = \"time_of_use\"\n\
         [[versions.import.seasons]]\nname = \"All\"\nfrom = \"01-01\"\nto = \"12-31\"\nprices = {{ night = 0.2, day = 0.3 }}\n\
         switches = [{{ days = \"all\", at = \"00:00\", period = \"night\" }}, {{ days = \"all\", at = \"07:00\", period = \"day\" }}, {{ days = \"all\", at = \"23:00\", period = \"night\" }}]\n"
    ));
    // 29 March 2026 in Amsterdam: midnight is 23:00Z the day before (UTC+1), 07:00 is
    // 05:00Z (UTC+2 after the change), 23:00 is 21:00Z, and the day ends at 22:00Z.
    let prices = joule_tariff::prices_ahead(
        &plan,
        &Market::default(),
        at("2026-03-28T23:00:00Z"),
        at("2026-03-29T22:00:00Z"),
    )
    .unwrap();
    let spans: Vec<(String, String, i64)> = prices
        .iter()
        .map(|p| (p.start.to_string(), p.end.to_string(), p.price_per_kwh.0))
        .collect();
    let span = |a: &str, b: &str, price| (a.to_owned(), b.to_owned(), price);
    assert_eq!(
        spans,
        [
            span("2026-03-28T23:00:00Z", "2026-03-29T05:00:00Z", 200_000),
            span("2026-03-29T05:00:00Z", "2026-03-29T21:00:00Z", 300_000),
            span("2026-03-29T21:00:00Z", "2026-03-29T22:00:00Z", 200_000),
        ]
    );
    let cheapest = joule_tariff::cheapest_hours(&prices, prices[0].start, 3);
    assert_eq!(cheapest.len(), 1, "the six-hour night covers three hours");
    let tiered = plan_with_tiers();
    assert_eq!(
        joule_tariff::prices_ahead(
            &tiered,
            &Market::default(),
            at("2026-03-28T23:00:00Z"),
            at("2026-03-29T22:00:00Z")
        ),
        Err(joule_tariff::ForecastError::Tiered)
    );
}

fn plan_with_tiers() -> joule_tariff::Plan {
    plan(&format!(
        "{HEAD}[[versions]]\neffective_from = 2026-01-01\n[versions.import]\nkind = \"tiered\"\n\
         blocks = [{{ up_to_kwh = 10, price_per_kwh = 0.1 }}, {{ price_per_kwh = 0.2 }}]\n"
    ))
}
