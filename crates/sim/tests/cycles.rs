//! Per-cycle behaviour of the chain on synthetic captures: frequency to ±0.01 Hz, DC offset
//! settling within a second, and the continuity of sampling (no load change is missed).

use joule_metrology::{IntervalAccumulator, Meter, MeterConfig};
use joule_sim::waveform::{Adc, Frequency, Load, PhaseSignal, Scenario, Schedule, Spectrum};

fn meter_for(scenario: &Scenario) -> Meter {
    Meter::new(MeterConfig::single_phase(
        scenario.sample_rate_hz,
        scenario.calibration(),
    ))
    .expect("valid config")
}

/// Meters a whole scenario (end of stream included): (registered import, true import), Wh.
fn import_energy_wh(scenario: &Scenario) -> (f64, f64) {
    let mut meter = meter_for(scenario);
    for frame in scenario.frames() {
        meter.push_frame(&frame);
    }
    meter.finish();
    (
        meter.registers().total.active_import.wh(),
        scenario.true_energy_wh().0,
    )
}

#[test]
fn every_cycle_reads_frequency_within_a_hundredth_of_a_hertz() {
    for frequency in [
        Frequency::Constant(49.0),
        Frequency::Constant(51.0),
        Frequency::Ramp(49.0, 51.0),
    ] {
        let phase = PhaseSignal::new(230.0, vec![Load::sine(10.0, 0.8, true)]);
        let mut scenario = Scenario::single_phase(phase, 4.0, Adc::twelve_bit(450.0, 100.0, 80.0));
        scenario.frequency = frequency;
        let mut meter = meter_for(&scenario);
        let mut worst_hz: f64 = 0.0;
        let mut cycles = 0;
        for (n, frame) in scenario.frames().enumerate() {
            if meter.push_frame(&frame).phase(0) {
                let cycle = meter.last_cycle(0);
                let Some(measured) = cycle.frequency_hz else {
                    continue;
                };
                // The estimate averages the period between the rising crossings that bound
                // the cycle with the one between the falling crossings half a cycle earlier:
                // the truth is the frequency in the middle of that span.
                let t_mid = (n as f64 - 0.75 * f64::from(cycle.samples)) / scenario.sample_rate_hz;
                let truth = match frequency {
                    Frequency::Constant(f) => f,
                    Frequency::Ramp(from, to) => from + (to - from) * t_mid / scenario.duration_s,
                };
                worst_hz = worst_hz.max((measured - truth).abs());
                cycles += 1;
            }
        }
        assert!(
            cycles > 150,
            "{frequency:?}: only {cycles} cycles had a frequency"
        );
        assert!(
            worst_hz < 0.01,
            "{frequency:?}: worst per-cycle error {worst_hz} Hz"
        );
    }
}

#[test]
fn dc_offset_settles_within_one_second() {
    let phase = PhaseSignal::new(230.0, vec![Load::sine(5.0, 0.9, true)]);
    let adc = Adc::twelve_bit(450.0, 100.0, 100.0);
    let scenario = Scenario::single_phase(phase, 2.0, adc);
    let mut meter = meter_for(&scenario);
    let mut after_one_second = IntervalAccumulator::default();
    for (n, frame) in scenario.frames().enumerate() {
        if n == 4000 {
            let (v_offset, i_offset) = meter.dc_offsets(0);
            assert!(
                (v_offset - adc.voltage_bias_counts).abs() < 0.1,
                "voltage offset {v_offset}"
            );
            assert!(
                (i_offset - adc.current_bias_counts).abs() < 0.1,
                "current offset {i_offset}"
            );
        }
        if meter.push_frame(&frame).phase(0) && n > 4000 {
            after_one_second.add(meter.last_cycle(0));
        }
    }
    let truth = scenario.stationary_truth(0);
    let summary = after_one_second.summary().expect("cycles");
    // One second of 12-bit noise leaves about 0.017 % (1σ) on P at 5 A.
    assert!(
        (summary.p_w - truth.p_w).abs() / truth.p_w < 5e-4,
        "{summary:?}"
    );
    assert!(
        (summary.vrms_v - truth.vrms_v).abs() / truth.vrms_v < 1e-4,
        "{summary:?}"
    );
}

#[test]
fn a_load_on_for_single_cycles_is_never_missed() {
    // A 3 kW load on for one cycle in every ten: a windowed meter that samples 200 ms and
    // then pauses would see it or not by chance; a continuous one counts every joule.
    let phase = PhaseSignal::new(
        230.0,
        vec![Load {
            current_a: 13.0,
            shape: Spectrum::sine(),
            schedule: Schedule::Cycling {
                period_s: 0.2,
                on_s: 0.02,
                offset_s: 0.013,
            },
        }],
    );
    let scenario = Scenario::single_phase(phase, 10.0, Adc::twelve_bit(450.0, 100.0, 0.0));
    let (measured_wh, truth_wh) = import_energy_wh(&scenario);
    assert!(
        (measured_wh - truth_wh).abs() / truth_wh < 2e-3,
        "{measured_wh} vs {truth_wh}"
    );
}

#[test]
fn a_stream_shorter_than_one_cycle_still_registers_its_energy() {
    let phase = PhaseSignal::new(230.0, vec![Load::sine(10.0, 1.0, true)]);
    // 15 ms: the offset is never learnt from a whole cycle.
    let scenario = Scenario::single_phase(phase, 0.015, Adc::twelve_bit(450.0, 100.0, 0.0));
    let (measured_wh, truth_wh) = import_energy_wh(&scenario);
    // Within 10 %: a fraction of a cycle's mean is not quite the offset.
    assert!(
        (measured_wh - truth_wh).abs() / truth_wh < 0.1,
        "{measured_wh} vs {truth_wh}"
    );
}
