//! Every insight serialises to the JSON the portal reads: snake_case fields with units in
//! their names, and a `basis` that says what the figure rests on.

use jiff::tz::TimeZone;
use joule_insights::*;
use serde::Serialize;
use serde_json::Value;

/// Four weeks and a day of hourly readings from local Monday 2026-01-05 00:00 in Amsterdam:
/// 200 W at night, 700 W from 17:00 to 21:00, 400 W otherwise, and 600 Wh of solar in each
/// hour from 11:00 to 14:00, a third of it exported.
fn month() -> Vec<Interval> {
    let start_ms = 1_767_567_600_000;
    (0..29 * 24)
        .map(|h: i64| {
            let hour = h % 24;
            let import_wh = match hour {
                0..6 => 200.0,
                11..14 => 0.0,
                17..21 => 700.0,
                _ => 400.0,
            };
            let noon = (11..14).contains(&hour);
            Interval {
                start_ms: start_ms + h * 3_600_000,
                duration_s: 3600,
                import_wh,
                export_wh: if noon { 200.0 } else { 0.0 },
                solar_wh: Some(if noon { 600.0 } else { 0.0 }),
            }
        })
        .collect()
}

fn json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("serialises")
}

fn assert_basis(value: &Value) {
    let basis = &value["basis"];
    assert!(
        basis["method"].as_str().is_some_and(|m| m.ends_with('.')),
        "{basis}"
    );
    assert!(basis["used"].as_u64().is_some_and(|n| n > 0), "{basis}");
    for key in ["from_ms", "to_ms", "skipped", "covered_days"] {
        assert!(basis[key].is_number(), "{key} in {basis}");
    }
}

#[test]
fn every_insight_has_its_fields_and_basis() {
    let tz = TimeZone::get("Europe/Amsterdam").expect("bundled tzdb");
    let data = month();
    let end_ms = data.last().expect("data").end_ms();
    let price = Price {
        per_kwh: 0.3,
        currency: "€".into(),
    };
    let last_week = Period {
        from_ms: end_ms - 7 * 86_400_000,
        to_ms: end_ms,
    };
    let peers = PeerGroup {
        description: "same tariff".into(),
        totals_kwh: vec![50.0, 80.0, 120.0],
    };
    let window = ShiftPrices::Window(PeakWindow {
        start_hour: 17,
        end_hour: 21,
        weekdays_only: true,
        peak_per_kwh: 0.4,
        off_peak_per_kwh: 0.25,
    });
    let shift_options = ShiftOptions {
        baseload_w: 200.0,
        share: 0.3,
        cap_kwh_per_month: None,
        currency: "€".into(),
    };

    let cases: Vec<(Value, &[&str])> = vec![
        (
            json(
                &baseload(&data, &tz, end_ms, &price, &BaseloadOptions::default())
                    .expect("baseload"),
            ),
            &["baseload_w", "yearly_kwh", "yearly_cost", "nights"],
        ),
        (
            json(&daily_profile(&data, &tz).expect("profile")),
            &["hours"],
        ),
        (
            json(&weekly_profile(&data, &tz).expect("weekly")),
            &["weekday", "weekend", "hour_of_week"],
        ),
        (json(&peak_hours(&data, &tz, 3).expect("peaks")), &["hours"]),
        (
            json(&monthly_totals(&data, &tz).expect("months")),
            &["months"],
        ),
        (json(&top_days(&data, &tz, 3).expect("days")), &["days"]),
        (
            json(&compare_with_previous(&data, last_week).expect("previous")),
            &["current", "previous", "change_kwh", "change_pct"],
        ),
        (
            json(&compare_with_peers(&data, last_week, &peers).expect("peers")),
            &[
                "own_kwh",
                "median_kwh",
                "difference_kwh",
                "percentile",
                "rank",
            ],
        ),
        (
            json(&shift_potential(&data, &tz, &window, &shift_options).expect("shift")),
            &[
                "peak_kwh_per_month",
                "shiftable_kwh_per_month",
                "moved_kwh_per_month",
                "saving_per_month",
                "sentence",
            ],
        ),
        (
            json(&anomalies(&data, &tz, last_week, &AnomalyOptions::default()).expect("anomalies")),
            &["hours", "hours_checked", "hours_without_baseline"],
        ),
        (
            json(&carbon(&data, &GridIntensity::Static { g_per_kwh: 250.0 }).expect("carbon")),
            &[
                "import_kg",
                "export_avoided_kg",
                "self_consumption_avoided_kg",
            ],
        ),
        (
            json(&solar_balance(&data).expect("solar")),
            &[
                "self_consumption",
                "self_sufficiency",
                "generation_kwh",
                "exporting_share_of_time",
            ],
        ),
    ];
    for (value, fields) in &cases {
        assert_basis(value);
        for field in *fields {
            assert!(value.get(field).is_some(), "{field} missing in {value}");
        }
    }

    let shift = &cases[8].0;
    assert!(
        shift["sentence"]
            .as_str()
            .is_some_and(|s| s.starts_with("Moving ") && s.contains('€'))
    );
    assert_eq!(shift["saving_per_month"]["currency"], "€");
    let solar = &cases[11].0;
    assert!((solar["self_consumption"].as_f64().expect("known") - 2.0 / 3.0).abs() < 1e-12);
    // The last 14 of 29 nights (5 January to 2 February): 20 January on.
    assert_eq!(cases[0].0["nights"][0]["date"], "2026-01-20");
}
