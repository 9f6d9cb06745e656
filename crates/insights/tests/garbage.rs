//! No input makes an insight panic: arbitrary instants (far past, far future, unsorted,
//! overlapping), energies and powers (NaN, infinite, negative, huge), and options. Each
//! call either answers or returns its error.

use jiff::tz::TimeZone;
use joule_insights::*;
use proptest::prelude::*;

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0..5000.0f64,
        1 => proptest::num::f64::ANY,
        1 => Just(f64::NAN),
    ]
}

fn any_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 1_770_000_000_000i64..1_790_000_000_000,
        1 => any::<i64>(),
    ]
}

fn intervals() -> impl Strategy<Value = Vec<Interval>> {
    let interval = (
        any_ms(),
        prop_oneof![Just(900u32), Just(3600), any::<u32>()],
        any_f64(),
        any_f64(),
        proptest::option::of(any_f64()),
    )
        .prop_map(
            |(start_ms, duration_s, import_wh, export_wh, solar_wh)| Interval {
                start_ms,
                duration_s,
                import_wh,
                export_wh,
                solar_wh,
            },
        );
    proptest::collection::vec(interval, 0..60)
}

fn zone() -> impl Strategy<Value = TimeZone> {
    prop_oneof![
        Just("Europe/Amsterdam"),
        Just("Asia/Kolkata"),
        Just("America/St_Johns"),
        Just("Australia/Lord_Howe"),
    ]
    .prop_map(|name| TimeZone::get(name).expect("bundled tzdb"))
}

proptest! {
    #[test]
    fn interval_insights_never_panic(
        intervals in intervals(),
        tz in zone(),
        now_ms in any_ms(),
        from_ms in any_ms(),
        to_ms in any_ms(),
        price in any_f64(),
        hours in (any::<u8>(), any::<u8>()),
        count in 0usize..30,
        share in any_f64(),
    ) {
        let period = Period { from_ms, to_ms };
        let euro = Price { per_kwh: price, currency: "€".into() };
        let nights = BaseloadOptions { nights: count, night_start_hour: hours.0, night_end_hour: hours.1 };
        let _ = baseload(&intervals, &tz, now_ms, &euro, &nights);
        let _ = baseload(&intervals, &tz, now_ms, &euro, &BaseloadOptions::default());
        let _ = daily_profile(&intervals, &tz);
        let _ = weekly_profile(&intervals, &tz);
        let _ = peak_hours(&intervals, &tz, count);
        let _ = monthly_totals(&intervals, &tz);
        let _ = top_days(&intervals, &tz, count);
        let _ = compare_with_previous(&intervals, period);
        let peers = PeerGroup { description: "peers".into(), totals_kwh: vec![price, share, 3.0] };
        let _ = compare_with_peers(&intervals, period, &peers);
        let options = ShiftOptions { baseload_w: price, share, cap_kwh_per_month: Some(share), currency: "EUR".into() };
        let window = ShiftPrices::Window(PeakWindow {
            start_hour: hours.0,
            end_hour: hours.1,
            weekdays_only: count % 2 == 0,
            peak_per_kwh: price,
            off_peak_per_kwh: share,
        });
        let _ = shift_potential(&intervals, &tz, &window, &options);
        let points = intervals
            .iter()
            .map(|i| PricePoint { start_ms: i.start_ms, duration_s: i.duration_s, per_kwh: i.import_wh })
            .collect();
        let dynamic = ShiftPrices::Dynamic { points, peak_share: share };
        let _ = shift_potential(&intervals, &tz, &dynamic, &ShiftOptions { share: 0.5, cap_kwh_per_month: None, ..options });
        let anomaly_options = AnomalyOptions {
            baseline_weeks: u32::from(hours.0),
            min_baseline_weeks: u32::from(hours.1),
            threshold: price,
            min_difference_kwh: share,
            flag_below: true,
        };
        let _ = anomalies(&intervals, &tz, period, &anomaly_options);
        let _ = anomalies(&intervals, &tz, period, &AnomalyOptions::default());
        let _ = carbon(&intervals, &GridIntensity::Static { g_per_kwh: price });
        let series = intervals
            .iter()
            .map(|i| IntensityPoint { start_ms: i.start_ms, end_ms: i.end_ms(), g_per_kwh: i.export_wh })
            .collect();
        let _ = carbon(&intervals, &GridIntensity::Series(series));
        let _ = solar_balance(&intervals);
    }

    #[test]
    fn appliance_detection_never_panics(
        samples in proptest::collection::vec((any_ms(), any_f64()), 0..400),
        threshold in any_f64(),
        gaps in (any::<i64>(), any::<i64>(), any::<i64>()),
    ) {
        let mut samples: Vec<PowerSample> = samples.into_iter().map(|(ts_ms, p_w)| PowerSample { ts_ms, p_w }).collect();
        let _ = detect_appliances(&samples, &DetectorOptions::default());
        let options = DetectorOptions {
            step_threshold_w: threshold,
            settle_ms: gaps.0,
            max_gap_ms: gaps.1,
            cycle_gap_ms: gaps.2,
            ..DetectorOptions::default()
        };
        let _ = detect_appliances(&samples, &options);
        // Steps and pairs: a second-by-second trace of the same powers.
        for (k, sample) in samples.iter_mut().enumerate() {
            sample.ts_ms = k as i64 * 1000;
        }
        let _ = detect_appliances(&samples, &DetectorOptions::default());
    }
}
