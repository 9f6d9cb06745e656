//! Accuracy test points after IEC 62053-21 (class 1, direct connection) and IEC 62053-22
//! (class 0.5S, via current transformers), plus influence quantities and real loads, and
//! the runner that meters each one and compares it with the truth.
//!
//! Each point is a [`Scenario`] through a 12-bit ADC front end with DC bias, noise and a
//! delayed current channel, metered by the real [`Meter`]. The error is that of the active
//! energy registered over the whole capture against the energy in the continuous signal.

use crate::waveform::{
    Adc, Frequency, Load, PhaseSignal, Scenario, Schedule, Spectrum, VoltageChange,
};
use core::f64::consts::TAU;
use joule_metrology::{IntervalAccumulator, Meter, MeterConfig};

/// What a point checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    /// Active energy within ± the limit, in percent.
    Energy,
    /// No active energy registers at all (creep test).
    NoEnergy,
}

/// One test point.
#[derive(Debug, Clone, PartialEq)]
pub struct TestPoint {
    /// Group (table section).
    pub group: &'static str,
    /// Short description.
    pub name: String,
    /// The permitted error in percent (the class limit for the point).
    pub limit_pct: f64,
    /// What is checked.
    pub check: Check,
    /// Meter ratings and thresholds.
    pub meter: MeterConfig,
    /// The signal.
    pub scenario: Scenario,
}

/// What a point measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PointResult {
    /// Group (table section).
    pub group: &'static str,
    /// Short description.
    pub name: String,
    /// The permitted error in percent.
    pub limit_pct: f64,
    /// What was checked.
    pub check: Check,
    /// Active energy error in percent (for creep: the energy registered, in Wh).
    pub energy_error_pct: f64,
    /// Errors of the stationary quantities, percent: (Vrms, Irms, Q), when the point is
    /// stationary.
    pub stationary_errors_pct: Option<(f64, f64, f64)>,
    /// Whether the point passed.
    pub passed: bool,
}

/// Seconds of signal per point.
const DURATION_S: f64 = 10.0;

/// Class 1 direct-connected meter: Ib 10 A, Imax 60 A, 230 V, 50 Hz; the front end reaches
/// 450 V and 100 A at full scale and its current channel lags by 150 µs.
fn class1(scenario_phase: PhaseSignal) -> (MeterConfig, Scenario) {
    let adc = Adc::twelve_bit(450.0, 100.0, 150.0);
    let scenario = Scenario::single_phase(scenario_phase, DURATION_S, adc);
    let meter = MeterConfig::single_phase(scenario.sample_rate_hz, scenario.calibration());
    (meter, scenario)
}

/// Class 0.5S CT-connected meter: In 5 A, Imax 6 A; full scale 450 V and 10 A; a CT's
/// phase error plus skew make the current lag by 90 µs. Starting current 0.001 In.
fn class05s(scenario_phase: PhaseSignal) -> (MeterConfig, Scenario) {
    let adc = Adc::twelve_bit(450.0, 10.0, 90.0);
    let scenario = Scenario::single_phase(scenario_phase, DURATION_S, adc);
    let mut meter = MeterConfig::with_ratings(
        scenario.sample_rate_hz,
        1,
        scenario.calibration(),
        230.0,
        50.0,
        5.0,
        6.0,
    );
    meter.starting_current_ratio = 0.0005;
    (meter, scenario)
}

fn point(
    group: &'static str,
    name: String,
    limit_pct: f64,
    (meter, scenario): (MeterConfig, Scenario),
) -> TestPoint {
    TestPoint {
        group,
        name,
        limit_pct,
        check: Check::Energy,
        meter,
        scenario,
    }
}

/// The power factors of the standard: (label, PF, lagging).
const POWER_FACTORS: [(&str, f64, bool); 3] = [
    ("PF 1", 1.0, true),
    ("PF 0.5 ind", 0.5, true),
    ("PF 0.8 cap", 0.8, false),
];

/// IEC 62053-21 class 1 points: 0.05, 0.1, 0.2 Ib … Imax at PF 1, 0.5 ind and 0.8 cap.
pub fn class1_points() -> Vec<TestPoint> {
    let ib = 10.0;
    let currents = [0.05, 0.1, 0.2, 0.5, 1.0, 3.0, 6.0];
    let mut points = Vec::new();
    for (label, pf, lagging) in POWER_FACTORS {
        for multiple in currents {
            let unity = pf == 1.0;
            if !unity && multiple < 0.1 {
                continue;
            }
            let limit = match (unity, multiple) {
                (true, m) if m < 0.1 => 1.5,
                (false, m) if m < 0.2 => 1.5,
                _ => 1.0,
            };
            let phase = PhaseSignal::new(230.0, vec![Load::sine(multiple * ib, pf, lagging)]);
            let name = format!("{multiple} Ib, {label}");
            points.push(point(
                "IEC 62053-21 class 1 (Ib 10 A, Imax 60 A)",
                name,
                limit,
                class1(phase),
            ));
        }
    }
    points
}

/// IEC 62053-22 class 0.5S points: 0.01, 0.02, 0.05, 0.1, 0.2 In … Imax.
pub fn class05s_points() -> Vec<TestPoint> {
    let rated = 5.0;
    let currents = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 1.2];
    let mut points = Vec::new();
    for (label, pf, lagging) in POWER_FACTORS {
        for multiple in currents {
            let unity = pf == 1.0;
            if (unity && multiple == 0.02) || (!unity && multiple < 0.02) {
                continue;
            }
            let limit = match (unity, multiple) {
                (true, m) if m < 0.05 => 1.0,
                (true, _) => 0.5,
                (false, m) if m < 0.1 => 1.0,
                (false, _) => 0.6,
            };
            let phase = PhaseSignal::new(230.0, vec![Load::sine(multiple * rated, pf, lagging)]);
            let name = format!("{multiple} In, {label}");
            points.push(point(
                "IEC 62053-22 class 0.5S (In 5 A, Imax 6 A)",
                name,
                limit,
                class05s(phase),
            ));
        }
    }
    points
}

/// Influence quantities on the class 1 meter at Ib: frequency ±2 %, voltage ±10 %,
/// harmonics (10 % 5th in V, 40 % 5th in I), frequency drift, starting current and creep.
pub fn influence_points() -> Vec<TestPoint> {
    let group = "Influence quantities (class 1, Ib 10 A)";
    let mut points = Vec::new();
    for (frequency, pf, lagging, limit) in [
        (49.0, 1.0, true, 0.8),
        (51.0, 1.0, true, 0.8),
        (49.0, 0.5, true, 1.0),
        (51.0, 0.5, true, 1.0),
    ] {
        let (meter, mut scenario) =
            class1(PhaseSignal::new(230.0, vec![Load::sine(10.0, pf, lagging)]));
        scenario.frequency = Frequency::Constant(frequency);
        let name = format!("{frequency} Hz, PF {pf}");
        points.push(point(group, name, limit, (meter, scenario)));
    }
    for (factor, pf) in [(0.9, 1.0), (1.1, 1.0), (0.9, 0.5), (1.1, 0.5)] {
        let phase = PhaseSignal::new(230.0 * factor, vec![Load::sine(10.0, pf, true)]);
        let name = format!("{} Un, PF {pf}", factor);
        let limit = if pf == 1.0 { 0.7 } else { 1.0 };
        points.push(point(group, name, limit, class1(phase)));
    }
    let mut harmonic_phase = PhaseSignal::new(
        230.0,
        vec![Load {
            current_a: 10.0,
            shape: Spectrum::with_harmonics(&[(5, 0.4, 0.0)]),
            schedule: Schedule::Always,
        }],
    );
    harmonic_phase.voltage_shape = Spectrum::with_harmonics(&[(5, 0.1, 0.0)]);
    points.push(point(
        group,
        "10 % 5th in V, 40 % 5th in I".into(),
        0.8,
        class1(harmonic_phase),
    ));
    let (meter, mut scenario) = class1(PhaseSignal::new(230.0, vec![Load::sine(10.0, 0.8, true)]));
    scenario.frequency = Frequency::Ramp(49.0, 51.0);
    points.push(point(
        group,
        "frequency drifting 49 → 51 Hz, PF 0.8".into(),
        0.8,
        (meter, scenario),
    ));
    let starting = class1(PhaseSignal::new(230.0, vec![Load::sine(0.04, 1.0, true)]));
    points.push(point(
        group,
        "starting current 0.004 Ib registers".into(),
        10.0,
        starting,
    ));
    let starting = class05s(PhaseSignal::new(230.0, vec![Load::sine(0.005, 1.0, true)]));
    points.push(point(
        group,
        "starting current 0.001 In (class 0.5S) registers".into(),
        10.0,
        starting,
    ));
    for (name, ratings) in [
        (
            "no creep at 1.15 Un, no current (class 1)",
            class1(PhaseSignal::new(264.5, vec![])),
        ),
        (
            "no creep at 1.15 Un, no current (class 0.5S)",
            class05s(PhaseSignal::new(264.5, vec![])),
        ),
    ] {
        let mut creep = point(group, name.into(), 0.0, ratings);
        creep.check = Check::NoEnergy;
        points.push(creep);
    }
    points
}

/// Real loads on the class 1 meter: dimmer, switch-mode supply, loads cycling, a kettle
/// switching on mid-interval, solar export, and a sag with an interruption.
pub fn real_load_points() -> Vec<TestPoint> {
    let group = "Real loads (class 1)";
    let max_order = 39;
    let load = |current_a, shape, schedule| Load {
        current_a,
        shape,
        schedule,
    };
    let cases = vec![
        (
            "leading-edge dimmer at 90°, 1.5 A",
            vec![load(
                1.5,
                Spectrum::leading_edge_dimmer(90.0, max_order),
                Schedule::Always,
            )],
        ),
        (
            "leading-edge dimmer at 135°, 0.6 A",
            vec![load(
                0.6,
                Spectrum::leading_edge_dimmer(135.0, max_order),
                Schedule::Always,
            )],
        ),
        (
            "switch-mode supply, 0.8 A pulses",
            vec![load(
                0.8,
                Spectrum::switch_mode(50.0, max_order),
                Schedule::Always,
            )],
        ),
        (
            "hob cycling 12 A on 0.33 s of every 0.8 s",
            vec![load(
                12.0,
                Spectrum::sine(),
                Schedule::Cycling {
                    period_s: 0.8,
                    on_s: 0.33,
                    offset_s: 0.117,
                },
            )],
        ),
        (
            "kettle 12.6 A switching on at 3.371 s over 0.4 A",
            vec![
                load(0.4, Spectrum::sine().delayed(0.3), Schedule::Always),
                load(12.6, Spectrum::sine(), Schedule::From(3.371)),
            ],
        ),
        (
            "solar inverter exporting 14 A",
            vec![load(
                -14.0,
                Spectrum::with_harmonics(&[(3, 0.02, 0.4)]),
                Schedule::Always,
            )],
        ),
    ];
    let mut points: Vec<TestPoint> = cases
        .into_iter()
        .map(|(name, loads)| {
            point(
                group,
                name.into(),
                1.0,
                class1(PhaseSignal::new(230.0, loads)),
            )
        })
        .collect();
    let mut sagging = PhaseSignal::new(230.0, vec![Load::sine(8.0, 0.9, true)]);
    sagging.voltage_changes = vec![
        VoltageChange {
            from_s: 2.013,
            to_s: 2.5,
            factor: 0.6,
        },
        VoltageChange {
            from_s: 6.0,
            to_s: 6.3,
            factor: 0.0,
        },
    ];
    points.push(point(
        group,
        "8 A through a 40 % sag and a 0.3 s interruption".into(),
        1.0,
        class1(sagging),
    ));
    points
}

/// A balanced and an unbalanced three-phase four-wire point.
pub fn three_phase_points() -> Vec<TestPoint> {
    let group = "Three-phase four-wire (class 1)";
    let mut points = Vec::new();
    for (name, currents) in [
        ("balanced 10 A, PF 0.8 ind", [10.0, 10.0, 10.0]),
        ("unbalanced 2/10/25 A, PF 0.8 ind", [2.0, 10.0, 25.0]),
    ] {
        let (_, mut scenario) = class1(PhaseSignal::new(230.0, vec![]));
        scenario.phases = (0..3)
            .map(|k| {
                let mut phase = PhaseSignal::new(230.0, vec![Load::sine(currents[k], 0.8, true)]);
                phase.angle_rad = -TAU * k as f64 / 3.0;
                phase
            })
            .collect();
        let meter = MeterConfig::three_phase(scenario.sample_rate_hz, scenario.calibration());
        points.push(point(group, name.into(), 1.0, (meter, scenario)));
    }
    points
}

/// Every point, in table order.
pub fn all_points() -> Vec<TestPoint> {
    let mut points = class1_points();
    points.extend(class05s_points());
    points.extend(influence_points());
    points.extend(real_load_points());
    points.extend(three_phase_points());
    points
}

/// Whether every load of every phase is always on and the voltage never changes.
fn is_stationary(scenario: &Scenario) -> bool {
    scenario.phases.iter().all(|phase| {
        phase.voltage_changes.is_empty()
            && phase
                .loads
                .iter()
                .all(|load| load.schedule == Schedule::Always)
    })
}

fn percent(measured: f64, truth: f64) -> f64 {
    if truth == 0.0 {
        0.0
    } else {
        (measured - truth) / truth.abs() * 100.0
    }
}

/// Meters one point and compares it with the truth.
pub fn run(point: &TestPoint) -> PointResult {
    let scenario = &point.scenario;
    let mut meter = match Meter::new(point.meter) {
        Ok(meter) => meter,
        Err(error) => panic!(
            "test point {} has an invalid meter config: {error}",
            point.name
        ),
    };
    let phases = point.meter.phases;
    let mut intervals = [IntervalAccumulator::default(); 3];
    // Skip the first second (DC offset settling) for the RMS comparisons only.
    let settle_samples = scenario.sample_rate_hz as u64;
    for frame in scenario.frames() {
        let completed = meter.push_frame(&frame);
        for (k, interval) in intervals.iter_mut().enumerate().take(phases) {
            if completed.phase(k) && meter.last_cycle(k).end_sample > settle_samples {
                interval.add(meter.last_cycle(k));
            }
        }
    }
    meter.finish();
    let total = &meter.registers().total;
    let (import, export) = (total.active_import.wh(), total.active_export.wh());
    let stationary = is_stationary(scenario);
    let (true_import, true_export) = if stationary {
        let power: f64 = (0..phases).map(|k| scenario.stationary_truth(k).p_w).sum();
        let energy = power * scenario.duration_s / 3600.0;
        (energy.max(0.0), (-energy).max(0.0))
    } else {
        scenario.true_energy_wh()
    };
    let energy_error_pct = match point.check {
        Check::NoEnergy => import + export,
        Check::Energy if true_export > true_import => percent(export, true_export),
        Check::Energy => percent(import, true_import),
    };
    let passed = match point.check {
        Check::NoEnergy => import + export == 0.0,
        Check::Energy => energy_error_pct.abs() <= point.limit_pct,
    };
    let stationary_errors_pct = (stationary && point.check == Check::Energy)
        .then(|| intervals[0].summary())
        .flatten()
        .map(|summary| {
            let truth = scenario.stationary_truth(0);
            (
                percent(summary.vrms_v, truth.vrms_v),
                percent(summary.irms_a, truth.irms_a),
                if truth.q_var.abs() > 1e-6 * truth.vrms_v * truth.irms_a {
                    percent(summary.q_var, truth.q_var)
                } else {
                    0.0
                },
            )
        });
    PointResult {
        group: point.group,
        name: point.name.clone(),
        limit_pct: point.limit_pct,
        check: point.check,
        energy_error_pct,
        stationary_errors_pct,
        passed,
    }
}

/// The results as a Markdown table, one section per group.
pub fn markdown_table(results: &[PointResult]) -> String {
    let mut out = String::new();
    let mut group = "";
    for result in results {
        if result.group != group {
            group = result.group;
            out.push_str(&format!(
                "\n**{group}**\n\n| test point | limit | energy error | Vrms error | Irms error | Q error | result |\n|---|---:|---:|---:|---:|---:|---|\n"
            ));
        }
        let (limit, error) = if result.check == Check::NoEnergy {
            (
                "0 Wh".to_string(),
                format!("{:.6} Wh", result.energy_error_pct),
            )
        } else {
            (
                format!("±{:.1} %", result.limit_pct),
                format!("{:+.4} %", result.energy_error_pct),
            )
        };
        let (v, i, q) = result.stationary_errors_pct.map_or_else(
            || ("–".to_string(), "–".to_string(), "–".to_string()),
            |(v, i, q)| {
                (
                    format!("{v:+.4} %"),
                    format!("{i:+.4} %"),
                    format!("{q:+.3} %"),
                )
            },
        );
        let verdict = if result.passed { "pass" } else { "**FAIL**" };
        out.push_str(&format!(
            "| {} | {limit} | {error} | {v} | {i} | {q} | {verdict} |\n",
            result.name
        ));
    }
    out
}
