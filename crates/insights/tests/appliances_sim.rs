//! Appliance detection on the project's own household simulator (`joule_sim::household`):
//! two weeks of a home with solar, a heat pump and an EV, one power sample a second with
//! measurement noise. The simulator says which appliances it switched on when; the kettle
//! and EV sessions it switched on must come back with the right label.

mod common;

use common::Noise;
use jiff::{Timestamp, civil::date, tz::TimeZone};
use joule_insights::{
    ApplianceEvent, ApplianceKind, DetectorOptions, PowerSample, detect_appliances,
};
use joule_sim::household::{Appliance, Household, HouseholdSpec};
use joule_sim::waveform::{Load, Spectrum};

/// The voltage the simulator's appliance powers refer to (its `NOMINAL_V`), V.
const NOMINAL_V: f64 = 230.0;

/// Least precision and recall asked of the kettle and EV labels.
const MIN_SCORE: f64 = 0.9;

/// How far a detected start or end may be from the simulator's, s.
const MATCH_S: i64 = 5;

/// Active power of one of the simulator's loads, W.
fn power_w(load: &Load) -> f64 {
    load.current_a * NOMINAL_V * Spectrum::sine().mean_product(&load.shape)
}

/// Whether a load is that appliance (the simulator builds each load from one appliance's
/// power and current shape).
fn is(load: &Load, appliance: &Appliance) -> bool {
    (power_w(load) - appliance.power_w).abs() < 1e-6 * appliance.power_w
        && load.shape == appliance.shape
}

/// Sessions of one appliance, `(start_s, end_s)` Unix seconds.
type Sessions = Vec<(i64, i64)>;

/// One sample a second of the house's total power over `[from_s, to_s)`, local habits in
/// `tz`, and the sessions of the appliances named in `tracked`.
fn simulate(
    house: &Household,
    tz: &TimeZone,
    from_s: i64,
    to_s: i64,
    tracked: &[&str],
) -> (Vec<PowerSample>, Vec<Sessions>) {
    let appliances: Vec<&Appliance> = tracked
        .iter()
        .map(|name| {
            house
                .appliances()
                .iter()
                .find(|a| a.name == *name)
                .expect("the house has it")
        })
        .collect();
    let mut noise = Noise::new(house.spec().seed, 15.0);
    let mut samples = Vec::new();
    let mut sessions: Vec<Sessions> = vec![Vec::new(); tracked.len()];
    let mut on_since: Vec<Option<i64>> = vec![None; tracked.len()];
    for t in from_s..to_s {
        let offset_s = tz
            .to_offset(Timestamp::from_second(t).expect("in range"))
            .seconds();
        let loads: Vec<Load> = house
            .loads_at(t as f64, f64::from(offset_s))
            .into_iter()
            .flatten()
            .collect();
        samples.push(PowerSample {
            ts_ms: t * 1000,
            p_w: loads.iter().map(power_w).sum::<f64>() + noise.next_w(),
        });
        for (k, appliance) in appliances.iter().enumerate() {
            match (loads.iter().any(|l| is(l, appliance)), on_since[k]) {
                (true, None) => on_since[k] = Some(t),
                (false, Some(start)) => {
                    sessions[k].push((start, t));
                    on_since[k] = None;
                }
                _ => {}
            }
        }
    }
    (samples, sessions)
}

/// Precision and recall of the events labelled `kind` against the simulator's sessions.
fn score(
    events: &[ApplianceEvent],
    kind: ApplianceKind,
    truth: &[(i64, i64)],
) -> (f64, f64, usize, usize) {
    let found: Vec<(i64, i64)> = events
        .iter()
        .filter(|e| e.appliance == kind)
        .map(|e| (e.start_ms / 1000, e.end_ms / 1000))
        .collect();
    let near = |a: &(i64, i64), b: &(i64, i64)| {
        (a.0 - b.0).abs() <= MATCH_S && (a.1 - b.1).abs() <= MATCH_S
    };
    let true_positives = found
        .iter()
        .filter(|f| truth.iter().any(|t| near(f, t)))
        .count();
    let recalled = truth
        .iter()
        .filter(|t| found.iter().any(|f| near(f, t)))
        .count();
    let ratio = |n: usize, of: usize| if of == 0 { 1.0 } else { n as f64 / of as f64 };
    (
        ratio(true_positives, found.len()),
        ratio(recalled, truth.len()),
        found.len(),
        truth.len(),
    )
}

#[test]
fn kettle_and_ev_sessions_of_two_simulated_weeks_are_found() {
    let tz = TimeZone::get("Europe/Amsterdam").expect("bundled tzdb");
    let spec = HouseholdSpec {
        solar_peak_w: 3000.0,
        ev_charger_w: 7400.0,
        heat_pump_w: 1200.0,
        ..HouseholdSpec::ordinary(11)
    };
    let house = Household::new(spec);
    let from = date(2026, 3, 2)
        .to_zoned_datetime(tz.clone())
        .expect("valid")
        .timestamp()
        .as_second();
    let to = date(2026, 3, 16)
        .to_zoned_datetime(tz.clone())
        .expect("valid")
        .timestamp()
        .as_second();
    let (samples, truth) = simulate(&house, &tz, from, to, &["kettle", "EV charger"]);
    let report = detect_appliances(&samples, &DetectorOptions::default()).expect("report");

    let (kettle_precision, kettle_recall, kettle_found, kettle_true) =
        score(&report.events, ApplianceKind::Kettle, &truth[0]);
    let (ev_precision, ev_recall, ev_found, ev_true) =
        score(&report.events, ApplianceKind::EvCharger, &truth[1]);
    println!(
        "kettle: {kettle_found} found, {kettle_true} simulated, precision {kettle_precision:.3}, recall {kettle_recall:.3}"
    );
    println!(
        "EV: {ev_found} found, {ev_true} simulated, precision {ev_precision:.3}, recall {ev_recall:.3}"
    );
    assert!(
        kettle_true >= 20 && ev_true >= 5,
        "too few sessions to judge: {kettle_true}, {ev_true}"
    );
    for (what, value) in [
        ("kettle precision", kettle_precision),
        ("kettle recall", kettle_recall),
        ("EV precision", ev_precision),
        ("EV recall", ev_recall),
    ] {
        assert!(value >= MIN_SCORE, "{what} {value:.3} below {MIN_SCORE}");
    }
}
