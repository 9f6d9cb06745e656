//! Throughput of the single-phase metrology chain with every feature on (offset removal,
//! delay correction, half-cycle and cycle sums, registers with the starting gate, demand,
//! power quality and tamper), against a literal port of EmonLib's `calcVI` loop on the
//! same samples. The capture, the meter and the anchor live in `joule_metrology::bench`,
//! shared with `joule bench metrology`, which prints the figures in sample pairs per second
//! and their ratio.

use criterion::{Criterion, Throughput};
use joule_metrology::bench::{
    PAIRS, emonlib, emonlib_pass, joule_meter, joule_pass, single_phase_capture,
};
use std::hint::black_box;

fn main() {
    let capture = single_phase_capture();
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("single_phase_chain");
    group.throughput(Throughput::Elements(PAIRS as u64));
    let mut meter = match joule_meter() {
        Ok(meter) => meter,
        Err(error) => panic!("benchmark meter config: {error}"),
    };
    group.bench_function("joule", |b| b.iter(|| joule_pass(&mut meter, &capture)));
    let mut monitor = emonlib();
    group.bench_function("emonlib_calcVI", |b| {
        b.iter(|| black_box(emonlib_pass(&mut monitor, &capture)))
    });
    group.finish();
    criterion.final_summary();
}
