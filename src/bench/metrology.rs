//! `joule bench metrology`: sample pairs per second on one core through Joule's
//! single-phase chain with every feature on, beside the anchor, a literal port of EmonLib's
//! `calcVI` loop, on the same capture in the same run; and frames per second through the
//! three-phase chain. The capture, the meters and the anchor are `joule_metrology::bench`,
//! which the crate's criterion benchmark runs too. The target (issue 2) is 50 million
//! single-phase sample pairs per second.
//!
//! Timed passes of the sides alternate, so load from elsewhere on the machine hits every
//! side alike; the figures are the median and the best pass.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use joule_metrology::bench::{
    DELAY_US, PAIRS, SAMPLE_RATE_HZ, emonlib, emonlib_pass, joule_meter, joule_pass,
    joule_three_phase_meter, joule_three_phase_pass, single_phase_capture, three_phase_capture,
};
use serde_json::json;

use super::{Progress, machine, percentile, write_json};
use crate::cli::BenchMetrologyArgs;

/// How long one timed pass lasts, about: long enough that reading the clock and switching
/// sides cost nothing measurable, short enough for hundreds of passes a second. Each side
/// loops over the capture as often as it takes, so every side is measured for about the
/// same time.
const PASS_TARGET: Duration = Duration::from_millis(2);

/// How often the progress bar is redrawn.
const SHOW_EVERY: Duration = Duration::from_millis(200);

/// One side of the comparison: one loop over the capture, how many loops make a pass, and
/// how long each pass took.
struct Side<'a> {
    capture_loop: &'a mut dyn FnMut(),
    loops_per_pass: usize,
    pass_s: Vec<f64>,
}

/// Frames (sample pairs on one phase) per second over a side's passes.
#[derive(Debug, Clone, Copy)]
struct Rates {
    passes: usize,
    frames_per_pass: usize,
    median_per_s: f64,
    best_per_s: f64,
}

impl<'a> Side<'a> {
    /// A side running `capture_loop`, after one loop to warm it up and one timed loop to
    /// size its passes.
    fn new(capture_loop: &'a mut dyn FnMut()) -> Self {
        capture_loop();
        let started = Instant::now();
        capture_loop();
        let loop_s = started.elapsed().as_secs_f64().max(1e-9);
        Self {
            capture_loop,
            loops_per_pass: ((PASS_TARGET.as_secs_f64() / loop_s).round() as usize).max(1),
            pass_s: Vec::new(),
        }
    }

    fn time_pass(&mut self) {
        let started = Instant::now();
        for _ in 0..self.loops_per_pass {
            (self.capture_loop)();
        }
        self.pass_s.push(started.elapsed().as_secs_f64());
    }

    fn rates(&self) -> Rates {
        let frames_per_pass = PAIRS * self.loops_per_pass;
        let mut per_s: Vec<f64> = self
            .pass_s
            .iter()
            .map(|&s| frames_per_pass as f64 / s.max(1e-12))
            .collect();
        per_s.sort_by(f64::total_cmp);
        Rates {
            passes: per_s.len(),
            frames_per_pass,
            median_per_s: percentile(&per_s, 50.0),
            best_per_s: per_s.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// Alternates timed passes of the sides until they have taken `per_side` each, about.
fn measure(sides: &mut [Side<'_>], per_side: Duration) {
    let total = per_side * sides.len() as u32;
    let mut progress = Progress::new("metrology", total);
    let started = Instant::now();
    let mut shown = Instant::now();
    loop {
        for side in sides.iter_mut() {
            side.time_pass();
        }
        if started.elapsed() >= total {
            break;
        }
        if shown.elapsed() >= SHOW_EVERY {
            shown = Instant::now();
            progress.show(&medians(sides));
        }
    }
    progress.finish(&medians(sides));
}

/// The median rate of each side so far, for the progress line.
fn medians(sides: &[Side<'_>]) -> String {
    let rates: Vec<String> = sides
        .iter()
        .map(|side| format!("{:.1}", side.rates().median_per_s / 1e6))
        .collect();
    format!("medians {} M/s", rates.join(" / "))
}

/// The load averages over 1, 5 and 15 minutes, as `/proc/loadavg` gives them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|line| {
            line.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Runs the benchmark and prints its table.
pub(crate) fn run(args: &BenchMetrologyArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let single = single_phase_capture();
    let three = three_phase_capture();
    let mut meter = joule_meter()?;
    let mut three_phase_meter = joule_three_phase_meter()?;
    let mut monitor = emonlib();
    let mut emonlib_w = 0.0;
    let (joule, anchor, three_phase) = {
        let mut joule_loop = || joule_pass(&mut meter, &single);
        let mut emonlib_loop = || emonlib_w = black_box(emonlib_pass(&mut monitor, &single));
        let mut three_phase_loop = || joule_three_phase_pass(&mut three_phase_meter, &three);
        let mut sides = [
            Side::new(&mut joule_loop),
            Side::new(&mut emonlib_loop),
            Side::new(&mut three_phase_loop),
        ];
        measure(&mut sides, Duration::from_secs(args.seconds));
        let [joule, anchor, three_phase] = sides.each_ref().map(Side::rates);
        (joule, anchor, three_phase)
    };
    let joule_w = meter.last_cycle(0).p_w;
    let three_phase_w: f64 = (0..3).map(|k| three_phase_meter.last_cycle(k).p_w).sum();
    let ratio_median = joule.median_per_s / anchor.median_per_s;
    let ratio_best = joule.best_per_s / anchor.best_per_s;
    let homes = joule.median_per_s / SAMPLE_RATE_HZ;

    writeln!(
        out,
        "metrology chain on one core: {PAIRS} sample pairs (2 s at {SAMPLE_RATE_HZ} Hz) of a \
         12-bit capture of 230 V, 12 A, PF 0.9, current {DELAY_US} µs late, looped; passes \
         of about {} ms alternated, about {} s per side",
        PASS_TARGET.as_millis(),
        args.seconds
    )?;
    writeln!(
        out,
        "| | passes | median | best | P |\n|---|---:|---:|---:|---:|"
    )?;
    let pairs = "sample pairs/s";
    let chain = "Joule single-phase chain, every feature on";
    row(out, chain, &joule, pairs, joule_w)?;
    row(
        out,
        "EmonLib `calcVI` loop (anchor)",
        &anchor,
        pairs,
        emonlib_w,
    )?;
    writeln!(
        out,
        "| **ratio Joule / EmonLib** | | **{ratio_median:.2}** | {ratio_best:.2} | |"
    )?;
    let chain = "Joule three-phase chain, every feature on";
    row(out, chain, &three_phase, "frames/s", three_phase_w)?;
    writeln!(
        out,
        "| single-phase homes metered in real time at 4 kHz (median) | | {homes:.0} | | |"
    )?;
    writeln!(out, "machine: {}", machine())?;
    writeln!(out, "load average: {}", load_average())?;
    write_json(
        &args.json,
        &json!({
            "benchmark": "metrology",
            "capture_pairs": PAIRS,
            "sample_rate_hz": SAMPLE_RATE_HZ,
            "seconds_per_side": args.seconds,
            "joule": side_json(&joule, "pairs", joule_w),
            "emonlib": side_json(&anchor, "pairs", emonlib_w),
            "ratio_median": ratio_median,
            "ratio_best": ratio_best,
            "three_phase": side_json(&three_phase, "frames", three_phase_w),
            "homes_at_4khz": homes,
            "machine": machine(),
            "load_average": load_average(),
        }),
    )?;
    writeln!(out, "figures written to {}", args.json.display())?;
    Ok(())
}

/// One side's row of the table, rates in millions of `unit`.
fn row(
    out: &mut impl Write,
    name: &str,
    rates: &Rates,
    unit: &str,
    p_w: f64,
) -> std::io::Result<()> {
    writeln!(
        out,
        "| {name} | {} | **{:.1} M {unit}** | {:.1} M {unit} | {p_w:.1} W |",
        rates.passes,
        rates.median_per_s / 1e6,
        rates.best_per_s / 1e6
    )
}

/// One side's figures for the JSON file; `unit` is `pairs` or `frames`.
fn side_json(rates: &Rates, unit: &str, p_w: f64) -> serde_json::Value {
    json!({
        "passes": rates.passes,
        format!("{unit}_per_pass"): rates.frames_per_pass,
        format!("median_{unit}_per_s"): rates.median_per_s,
        format!("best_{unit}_per_s"): rates.best_per_s,
        "p_w": p_w,
    })
}
