//! Appliance detection on synthetic traces built here: known rectangular loads with
//! measurement noise, motor inrush, a fridge cycling underneath and appliances that overlap.

mod common;

use common::Noise;
use joule_insights::{
    ApplianceEvent, ApplianceKind, DetectorOptions, PowerSample, detect_appliances,
};
use proptest::prelude::*;

/// A trace of one sample a second, built from loads.
struct Trace {
    power_w: Vec<f64>,
}

impl Trace {
    fn new(seconds: usize, base_w: f64) -> Self {
        Self {
            power_w: vec![base_w; seconds],
        }
    }

    /// A load of `power_w` from `on_s` to `off_s`, drawing `inrush_w` in its first
    /// `inrush_s` seconds.
    fn load(
        &mut self,
        on_s: usize,
        off_s: usize,
        power_w: f64,
        inrush_w: f64,
        inrush_s: usize,
    ) -> &mut Self {
        let end = off_s.min(self.power_w.len());
        for (t, p) in self.power_w.iter_mut().enumerate().take(end).skip(on_s) {
            *p += if t < on_s + inrush_s {
                inrush_w
            } else {
                power_w
            };
        }
        self
    }

    /// A load switching on for `on_s` of every `period_s` from `first_s` until `until_s`.
    fn cycling(
        &mut self,
        first_s: usize,
        until_s: usize,
        period_s: usize,
        on_s: usize,
        power_w: f64,
        inrush_w: f64,
    ) -> &mut Self {
        for start in (first_s..until_s).step_by(period_s) {
            self.load(start, (start + on_s).min(until_s), power_w, inrush_w, 2);
        }
        self
    }

    fn samples(&self, noise: &mut Noise) -> Vec<PowerSample> {
        self.power_w
            .iter()
            .enumerate()
            .map(|(t, p)| PowerSample {
                ts_ms: 1_780_000_000_000 + t as i64 * 1000,
                p_w: p + noise.next_w(),
            })
            .collect()
    }
}

fn start_s(event: &ApplianceEvent) -> f64 {
    (event.start_ms - 1_780_000_000_000) as f64 / 1000.0
}

fn labelled(events: &[ApplianceEvent], kind: ApplianceKind) -> Vec<&ApplianceEvent> {
    events.iter().filter(|e| e.appliance == kind).collect()
}

/// Six hours of a busy home: standby, a fridge and a heat pump cycling all along, two
/// kettles (one while the EV charges), an oven on its thermostat, a washing machine whose
/// drum turns around its heater pulse, and an EV charging with a ramp.
#[test]
fn a_busy_afternoon_is_told_apart() {
    let mut trace = Trace::new(6 * 3600, 60.0);
    trace
        .cycling(100, 21_600, 2400, 900, 110.0, 400.0) // fridge
        .cycling(450, 21_600, 1800, 900, 1200.0, 2400.0) // heat pump
        .load(300, 480, 2200.0, 2200.0, 0) // kettle
        .cycling(3600, 6400, 500, 300, 2500.0, 2500.0) // oven thermostat
        .cycling(9000, 14_400, 60, 40, 250.0, 600.0) // washing machine drum
        .load(9310, 10_210, 2000.0, 2000.0, 0) // washing machine heater, while the drum turns
        .load(15_000, 15_200, 2200.0, 2200.0, 0); // kettle while the EV charges
    for k in 1..=10u32 {
        let ramp_w = 740.0 * f64::from(k);
        let t = 14_000 + k as usize;
        trace.load(t - 1, t, ramp_w, ramp_w, 0);
    }
    trace.load(14_010, 19_400, 7400.0, 7400.0, 0); // EV charger
    let report = detect_appliances(
        &trace.samples(&mut Noise::new(1, 20.0)),
        &DetectorOptions::default(),
    )
    .expect("report");
    let events = &report.events;

    let kettles: Vec<f64> = labelled(events, ApplianceKind::Kettle)
        .iter()
        .map(|e| start_s(e))
        .collect();
    assert_eq!(kettles.len(), 2, "{kettles:?}");
    assert!(
        (kettles[0] - 300.0).abs() <= 2.0 && (kettles[1] - 15_000.0).abs() <= 2.0,
        "{kettles:?}"
    );

    let ovens = labelled(events, ApplianceKind::Oven);
    assert_eq!(ovens.len(), 6);
    assert!(ovens.iter().all(|e| (e.power_w - 2500.0).abs() < 100.0));

    let washing = labelled(events, ApplianceKind::WashingMachine);
    assert_eq!(washing.len(), 1);
    assert!((start_s(washing[0]) - 9310.0).abs() <= 2.0);
    assert!((washing[0].duration_s - 900.0).abs() <= 3.0);

    let ev = labelled(events, ApplianceKind::EvCharger);
    assert_eq!(ev.len(), 1);
    assert!((start_s(ev[0]) - 14_000.0).abs() <= 2.0);
    assert!((ev[0].duration_s - 5400.0).abs() <= 3.0);
    assert!((ev[0].power_w - 7400.0).abs() < 100.0);
    assert!((ev[0].energy_wh - 7400.0 * 1.5).abs() < 200.0);

    // The heat pump's twelve cycles, all but ones cut by the trace's end found.
    let heat_pump = labelled(events, ApplianceKind::HeatPump);
    assert!(
        heat_pump.len() >= 11,
        "{} heat pump cycles",
        heat_pump.len()
    );
    assert!(
        heat_pump
            .iter()
            .all(|e| (start_s(e) - 450.0) % 1800.0 < 3.0)
    );

    // The fridge stays below the threshold; the drum's short turns are events of their own
    // with no appliance rule.
    assert!(events.iter().all(|e| e.power_w > 150.0));
    let drum = events
        .iter()
        .filter(|e| (e.power_w - 250.0).abs() < 60.0)
        .count();
    assert!(drum >= 80, "{drum} drum turns");
    assert!(
        report
            .clusters
            .iter()
            .any(|c| c.appliance == ApplianceKind::HeatPump && c.events >= 11)
    );
}

#[test]
fn the_report_serialises_for_the_portal() {
    let mut trace = Trace::new(600, 80.0);
    trace.load(100, 280, 2200.0, 2200.0, 0);
    let report = detect_appliances(
        &trace.samples(&mut Noise::new(2, 10.0)),
        &DetectorOptions::default(),
    )
    .expect("report");
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["events"][0]["appliance"], "kettle");
    assert!(
        json["events"][0]["rule"]
            .as_str()
            .is_some_and(|r| r.starts_with("kettle: "))
    );
    assert_eq!(json["basis"]["used"], 600);
}

/// A rectangular load: power, time on and pause before it.
fn rectangles() -> impl Strategy<Value = Vec<(f64, usize, usize)>> {
    proptest::collection::vec((300.0..6000.0f64, 20usize..900, 20usize..600), 1..6)
}

fn close(found_w: f64, true_w: f64) -> bool {
    (found_w - true_w).abs() <= (0.05 * true_w).max(40.0)
}

proptest! {
    #[test]
    fn separate_rectangles_are_recovered(loads in rectangles(), seed in any::<u64>()) {
        let seconds: usize = loads.iter().map(|(_, on, pause)| on + pause).sum::<usize>() + 60;
        let mut trace = Trace::new(seconds, 100.0);
        let mut starts = Vec::new();
        let mut t = 0;
        for &(power_w, on_s, pause_s) in &loads {
            t += pause_s;
            trace.load(t, t + on_s, power_w, power_w, 0);
            starts.push(t);
            t += on_s;
        }
        let report = detect_appliances(&trace.samples(&mut Noise::new(seed, 20.0)), &DetectorOptions::default())
            .expect("report");
        prop_assert_eq!(report.events.len(), loads.len());
        for ((event, &(power_w, on_s, _)), start) in report.events.iter().zip(&loads).zip(starts) {
            prop_assert!(close(event.power_w, power_w), "{} W for {power_w} W", event.power_w);
            prop_assert!((start_s(event) - start as f64).abs() <= 2.0);
            prop_assert!((event.duration_s - on_s as f64).abs() <= 3.0);
        }
    }

    #[test]
    fn overlapping_loads_are_recovered(
        base_w in 300.0..3000.0f64,
        ratio in 1.5..3.0f64,
        a_s in 200usize..2000,
        b_start in 0.0..1.0f64,
        b_s in 20usize..2000,
        seed in any::<u64>(),
    ) {
        // A from 100 s; B starts inside A, at least 20 s from its edges, and runs for b_s,
        // ending inside A or after it but never within 20 s of A's end.
        let a_on = 100;
        let b_on = a_on + 20 + (b_start * (a_s - 40) as f64) as usize;
        let a_off = a_on + a_s;
        let b_off = b_on + b_s;
        prop_assume!(b_off.abs_diff(a_off) >= 20);
        let b_w = base_w * ratio;
        let mut trace = Trace::new(a_off.max(b_off) + 100, 150.0);
        trace.load(a_on, a_off, base_w, base_w, 0).load(b_on, b_off, b_w, b_w, 0);
        let report = detect_appliances(&trace.samples(&mut Noise::new(seed, 20.0)), &DetectorOptions::default())
            .expect("report");
        prop_assert_eq!(report.events.len(), 2);
        let (a, b) = (&report.events[0], &report.events[1]);
        prop_assert!(close(a.power_w, base_w) && close(b.power_w, b_w), "{} {}", a.power_w, b.power_w);
        prop_assert!((a.duration_s - a_s as f64).abs() <= 3.0);
        prop_assert!((b.duration_s - b_s as f64).abs() <= 3.0);
    }
}
