//! Properties of the metrology chain that must hold for any load: registers never go
//! backwards, import and export swap exactly when the current's sign flips, the registers
//! hold exactly the sum of the energy of the cycles that made them, and the way a sample
//! stream is cut into blocks changes nothing.

use joule_metrology::{Calibration, Meter, MeterConfig, RegisterSet};
use proptest::prelude::*;

/// A load segment: RMS current (signed: negative exports), phase angle, length in cycles.
#[derive(Debug, Clone, Copy)]
struct Segment {
    current_a: f64,
    angle_rad: f64,
    cycles: u32,
}

fn segment() -> impl Strategy<Value = Segment> {
    (-40.0..40.0f64, -1.4..1.4f64, 1u32..12).prop_map(|(current_a, angle_rad, cycles)| Segment {
        current_a,
        angle_rad,
        cycles,
    })
}

const FS: f64 = 4000.0;
const V_SCALE: f64 = 0.25;
const I_SCALE: f64 = 0.02;

/// Raw counts (no bias, so that negating the current is exact) for the segments at
/// `frequency_hz`, starting at phase `start_rad`.
fn samples(segments: &[Segment], frequency_hz: f64, start_rad: f64) -> (Vec<f64>, Vec<f64>) {
    let mut v = Vec::new();
    let mut i = Vec::new();
    let mut n = 0u64;
    for segment in segments {
        let count = (f64::from(segment.cycles) * FS / frequency_hz) as u64;
        for _ in 0..count {
            let theta = start_rad + std::f64::consts::TAU * frequency_hz * n as f64 / FS;
            v.push((325.0 * theta.sin() / V_SCALE).round());
            let current = segment.current_a * 2f64.sqrt() * (theta - segment.angle_rad).sin();
            i.push((current / I_SCALE).round());
            n += 1;
        }
    }
    (v, i)
}

fn meter() -> Meter {
    Meter::new(MeterConfig::single_phase(
        FS,
        Calibration::new(V_SCALE, I_SCALE, 40.0),
    ))
    .expect("valid config")
}

fn milli(set: &RegisterSet) -> [u64; 8] {
    [
        set.active_import.milli(),
        set.active_export.milli(),
        set.reactive[0].milli(),
        set.reactive[1].milli(),
        set.reactive[2].milli(),
        set.reactive[3].milli(),
        set.apparent_import.milli(),
        set.apparent_export.milli(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn registers_never_decrease(
        segments in prop::collection::vec(segment(), 1..8),
        frequency_hz in 47.0..53.0f64,
        start_rad in 0.0..std::f64::consts::TAU,
    ) {
        let (v, i) = samples(&segments, frequency_hz, start_rad);
        let mut meter = meter();
        let mut previous = milli(&meter.registers().total);
        for (&v, &i) in v.iter().zip(&i) {
            if meter.push_sample(v, i).any() {
                let now = milli(&meter.registers().total);
                prop_assert!(now.iter().zip(&previous).all(|(n, p)| n >= p), "{previous:?} -> {now:?}");
                previous = now;
            }
        }
    }

    #[test]
    fn import_and_export_swap_exactly_when_the_current_flips(
        segments in prop::collection::vec(segment(), 1..6),
        frequency_hz in 47.0..53.0f64,
        start_rad in 0.0..std::f64::consts::TAU,
    ) {
        let (v, i) = samples(&segments, frequency_hz, start_rad);
        let flipped: Vec<f64> = i.iter().map(|x| -x).collect();
        let mut forward = meter();
        let mut reverse = meter();
        forward.push_block(&v, &i);
        reverse.push_block(&v, &flipped);
        forward.finish();
        reverse.finish();
        let (a, b) = (&forward.registers().total, &reverse.registers().total);
        prop_assert_eq!(a.active_import, b.active_export);
        prop_assert_eq!(a.active_export, b.active_import);
        prop_assert_eq!(a.reactive[0], b.reactive[2]);
        prop_assert_eq!(a.reactive[3], b.reactive[1]);
        prop_assert_eq!(a.apparent_import, b.apparent_export);
    }

    #[test]
    fn registers_hold_exactly_the_energy_of_their_cycles(
        segments in prop::collection::vec(segment(), 1..8),
        start_rad in 0.0..std::f64::consts::TAU,
    ) {
        let (v, i) = samples(&segments, 50.0, start_rad);
        let mut meter = meter();
        let (mut import_wh, mut export_wh) = (0.0, 0.0);
        let starting_w = meter.config().starting_power_w();
        let mut recent = [0.0f64; 4];
        let mut next = 0;
        let mut count = |meter: &Meter, import_wh: &mut f64, export_wh: &mut f64| {
            let cycle = meter.last_cycle(0);
            recent[next % 4] = cycle.p_w.abs();
            next += 1;
            if recent.iter().sum::<f64>() / 4.0 >= starting_w {
                let wh = cycle.p_w * cycle.duration_s / 3600.0;
                if wh >= 0.0 { *import_wh += wh } else { *export_wh -= wh }
            }
        };
        for (&v, &i) in v.iter().zip(&i) {
            if meter.push_sample(v, i).any() {
                count(&meter, &mut import_wh, &mut export_wh);
            }
        }
        if meter.finish().any() {
            count(&meter, &mut import_wh, &mut export_wh);
        }
        let total = &meter.registers().total;
        prop_assert!((total.active_import.wh() - import_wh).abs() <= 1e-9 * import_wh.max(1.0));
        prop_assert!((total.active_export.wh() - export_wh).abs() <= 1e-9 * export_wh.max(1.0));
    }

    #[test]
    fn results_do_not_depend_on_how_the_stream_is_chunked(
        segments in prop::collection::vec(segment(), 1..6),
        cuts in prop::collection::vec(1usize..500, 1..40),
        start_rad in 0.0..std::f64::consts::TAU,
    ) {
        let (v, i) = samples(&segments, 50.0, start_rad);
        let mut whole = meter();
        whole.push_block(&v, &i);
        let mut chunked = meter();
        let mut at = 0;
        for cut in cuts.iter().cycle() {
            if at >= v.len() {
                break;
            }
            let end = (at + cut).min(v.len());
            chunked.push_block(&v[at..end], &i[at..end]);
            at = end;
        }
        prop_assert_eq!(whole.registers(), chunked.registers());
        prop_assert_eq!(whole.last_cycle(0), chunked.last_cycle(0));
    }
}

/// A sample as an ADC or a damaged file might deliver it, garbage included.
fn any_sample() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -4096.0..4096.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => any::<f64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_samples_never_panic_nor_poison_the_registers(
        garbage in prop::collection::vec((any_sample(), any_sample()), 1..400),
    ) {
        let mut meter = meter();
        let (v, i) = samples(&[Segment { current_a: 10.0, angle_rad: 0.3, cycles: 10 }], 50.0, 0.0);
        meter.push_block(&v, &i);
        for (v, i) in garbage {
            meter.push_sample(v, i);
        }
        let before = meter.registers().total.active_import.wh();
        let (v, i) = samples(&[Segment { current_a: 10.0, angle_rad: 0.3, cycles: 20 }], 50.0, 0.0);
        meter.push_block(&v, &i);
        let cycle = *meter.last_cycle(0);
        meter.finish();
        let after = meter.registers().total.active_import.wh();
        prop_assert!(after.is_finite() && after >= before);
        // Twenty good cycles later the meter measures right again: 2.3 kVA at cos 0.3, and
        // at least the energy of the last 15 of those cycles has registered.
        let power_w = 2300.0 * 0.3f64.cos();
        prop_assert!((cycle.p_w - power_w).abs() < 0.01 * power_w, "{cycle:?}");
        prop_assert!(after - before > power_w * 0.3 / 3600.0, "{} Wh", after - before);
    }
}
