//! Throughput of the single-phase metrology chain with every feature on (offset removal,
//! delay correction, half-cycle and cycle sums, registers with the starting gate, demand,
//! power quality and tamper), against a literal port of EmonLib's `calcVI` loop on the
//! same samples.
//!
//! `cargo bench -p joule-metrology` prints criterion's figures and then, from a plain
//! best-of-N timing of both in the same run, sample pairs per second per core and the ratio.

mod emonlib;

use criterion::{Criterion, Throughput};
use emonlib::EmonLib;
use joule_metrology::{Calibration, Meter, MeterConfig};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Samples per second per channel.
const SAMPLE_RATE_HZ: f64 = 4000.0;
/// Two seconds: a whole number of 50 Hz cycles, so the buffer loops seamlessly.
const PAIRS: usize = 8000;
/// Volts and amps per count of a 12-bit front end reaching 450 V and 100 A at full scale.
const V_SCALE: f64 = 450.0 / 2048.0;
const I_SCALE: f64 = 100.0 / 2048.0;
/// Current-channel lag the front end has and the meter corrects, µs.
const DELAY_US: f64 = 60.0;

/// A 230 V, 12 A, PF 0.9 lagging load through a 12-bit ADC biased to mid-scale whose
/// current channel lags by `DELAY_US`, with a little deterministic noise (a linear
/// congruential generator: no dependencies).
fn samples() -> (Vec<i16>, Vec<i16>) {
    let mut state: u32 = 0x1234_5678;
    let mut noise = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        f64::from(state >> 8) / f64::from(1u32 << 24) - 0.5
    };
    let angle = 0.9f64.acos() + std::f64::consts::TAU * 50.0 * DELAY_US * 1e-6;
    (0..PAIRS)
        .map(|n| {
            let theta = std::f64::consts::TAU * 50.0 * n as f64 / SAMPLE_RATE_HZ;
            let v = 230.0 * 2f64.sqrt() * theta.sin() / V_SCALE + 2048.0 + noise();
            let i = 12.0 * 2f64.sqrt() * (theta - angle).sin() / I_SCALE + 2048.0 + noise();
            (v.round() as i16, i.round() as i16)
        })
        .unzip()
}

fn joule_meter() -> Meter {
    let calibration = Calibration::new(V_SCALE, I_SCALE, DELAY_US);
    match Meter::new(MeterConfig::single_phase(SAMPLE_RATE_HZ, calibration)) {
        Ok(meter) => meter,
        Err(error) => panic!("benchmark meter config: {error}"),
    }
}

/// One pass of the Joule chain over the buffer.
fn joule_pass(meter: &mut Meter, v: &[i16], i: &[i16]) {
    for (&v, &i) in v.iter().zip(i) {
        black_box(meter.push_sample(f64::from(v), f64::from(i)));
    }
}

fn emonlib() -> EmonLib {
    // VCAL and ICAL in EmonLib's units: volts (amps) per ADC volt at a 3.3 V supply.
    EmonLib::new(V_SCALE * 4096.0 / 3.3, I_SCALE * 4096.0 / 3.3, 1.7)
}

/// One pass of EmonLib over the buffer: `calcVI(20, …)` (ten cycles) until it runs out.
fn emonlib_pass(monitor: &mut EmonLib, v: &[i16], i: &[i16]) -> f64 {
    monitor.reset_cursor();
    let mut last_power = 0.0;
    while let Some(reading) = monitor.calc_vi(v, i, 20) {
        last_power = reading.real_power;
    }
    black_box(monitor.cursor());
    last_power
}

/// Best of `runs` timed passes, in sample pairs per second.
fn best_rate(runs: usize, mut pass: impl FnMut()) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let start = Instant::now();
        pass();
        best = best.min(start.elapsed());
    }
    PAIRS as f64 / best.as_secs_f64()
}

fn main() {
    let (v, i) = samples();
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("single_phase_chain");
    group.throughput(Throughput::Elements(PAIRS as u64));
    let mut meter = joule_meter();
    group.bench_function("joule", |b| b.iter(|| joule_pass(&mut meter, &v, &i)));
    let mut monitor = emonlib();
    group.bench_function("emonlib_calcVI", |b| {
        b.iter(|| emonlib_pass(&mut monitor, &v, &i))
    });
    group.finish();
    criterion.final_summary();

    let mut meter = joule_meter();
    let mut monitor = emonlib();
    let joule_rate = best_rate(300, || joule_pass(&mut meter, &v, &i));
    let mut emonlib_power = 0.0;
    let emonlib_rate = best_rate(300, || emonlib_power = emonlib_pass(&mut monitor, &v, &i));
    let joule_power = meter.last_cycle(0).p_w;
    println!();
    println!("single-phase chain, best of 300 passes over {PAIRS} sample pairs:");
    println!(
        "  joule    {:>8.1} M sample pairs/s per core  (P = {joule_power:.1} W)",
        joule_rate / 1e6
    );
    println!(
        "  EmonLib  {:>8.1} M sample pairs/s per core  (P = {emonlib_power:.1} W)",
        emonlib_rate / 1e6
    );
    println!("  ratio joule / EmonLib: {:.2}", joule_rate / emonlib_rate);
    println!(
        "  homes metered in real time at 4 kHz by one core: {:.0}",
        joule_rate / SAMPLE_RATE_HZ
    );
}
