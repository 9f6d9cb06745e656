//! Power-quality and tamper events, driven by synthetic captures through the real meter.

use joule_metrology::{DigitalInput, Event, EventKind, Meter, MeterConfig, Transition};
use joule_sim::waveform::{Adc, Load, PhaseSignal, Scenario, Schedule, Spectrum, VoltageChange};

fn run(scenario: &Scenario, configure: impl FnOnce(&mut MeterConfig)) -> (Meter, Vec<Event>) {
    let mut config = MeterConfig::single_phase(scenario.sample_rate_hz, scenario.calibration());
    if scenario.phases.len() == 3 {
        config.phases = 3;
    }
    configure(&mut config);
    let mut meter = Meter::new(config).expect("valid config");
    let mut events = Vec::new();
    for frame in scenario.frames() {
        meter.push_frame(&frame);
        while let Some(event) = meter.pop_event() {
            events.push(event);
        }
    }
    (meter, events)
}

fn ended(events: &[Event], kind: EventKind) -> Vec<Event> {
    events
        .iter()
        .filter(|e| e.kind == kind && e.transition == Transition::Ended)
        .copied()
        .collect()
}

fn adc() -> Adc {
    Adc::twelve_bit(450.0, 100.0, 100.0)
}

#[test]
fn sag_swell_and_interruption_have_start_duration_and_extreme() {
    let mut phase = PhaseSignal::new(230.0, vec![Load::sine(5.0, 0.9, true)]);
    phase.voltage_changes = vec![
        VoltageChange {
            from_s: 1.0,
            to_s: 1.5,
            factor: 0.7,
        },
        VoltageChange {
            from_s: 2.5,
            to_s: 2.7,
            factor: 1.2,
        },
        VoltageChange {
            from_s: 3.5,
            to_s: 3.8,
            factor: 0.0,
        },
    ];
    let (_, events) = run(&Scenario::single_phase(phase, 5.0, adc()), |_| {});
    let sags = ended(&events, EventKind::Sag);
    assert_eq!(sags.len(), 2, "the dip and the interruption: {events:?}");
    let dip = sags[0];
    assert!(
        (dip.start_sample as f64 / 4000.0 - 1.0).abs() < 0.015,
        "{dip:?}"
    );
    assert!((dip.duration_s - 0.5).abs() < 0.025, "{dip:?}");
    assert!((dip.extreme - 161.0).abs() < 2.0, "{dip:?}");
    let swell = ended(&events, EventKind::Swell);
    assert_eq!(swell.len(), 1);
    assert!((swell[0].duration_s - 0.2).abs() < 0.025 && (swell[0].extreme - 276.0).abs() < 2.0);
    let interruption = ended(&events, EventKind::Interruption);
    assert_eq!(interruption.len(), 1, "{events:?}");
    assert!(
        (interruption[0].duration_s - 0.3).abs() < 0.03,
        "{:?}",
        interruption[0]
    );
    assert!(interruption[0].extreme < 5.0);
}

#[test]
fn over_current_and_frequency_out_of_range() {
    let phase = PhaseSignal::new(
        230.0,
        vec![
            Load::sine(10.0, 1.0, true),
            Load {
                current_a: 55.0,
                shape: Spectrum::sine(),
                schedule: Schedule::Between(1.0, 1.6),
            },
        ],
    );
    let mut scenario = Scenario::single_phase(phase, 3.0, adc());
    scenario.frequency = joule_sim::waveform::Frequency::Constant(50.8);
    let (_, events) = run(&scenario, |_| {});
    let over = ended(&events, EventKind::OverCurrent);
    assert_eq!(over.len(), 1, "{events:?}");
    assert!((over[0].extreme - 65.0).abs() < 0.5 && (over[0].duration_s - 0.6).abs() < 0.05);
    let frequency = events
        .iter()
        .find(|e| e.kind == EventKind::FrequencyOutOfRange)
        .expect("50.8 Hz is outside 49.5–50.5 Hz");
    assert!((frequency.extreme - 50.8).abs() < 0.02, "{frequency:?}");
}

#[test]
fn reverse_flow_on_an_import_only_installation_registers_as_import() {
    let phase = PhaseSignal::new(230.0, vec![Load::sine(-8.0, 1.0, true)]);
    let scenario = Scenario::single_phase(phase, 4.0, adc());
    let (meter, events) = run(&scenario, |config| config.import_only = true);
    let started = events
        .iter()
        .find(|e| e.kind == EventKind::ReverseFlow)
        .expect("reverse flow");
    assert!(
        started.at_sample as f64 / 4000.0 >= 1.0,
        "persists a second first"
    );
    assert!((started.extreme - 1840.0).abs() < 5.0, "{started:?}");
    let total = &meter.registers().total;
    assert_eq!(total.active_export.milli(), 0);
    assert!(total.active_import.wh() > 1840.0 * 3.9 / 3600.0);
}

#[test]
fn current_with_the_voltage_tap_removed() {
    let mut phase = PhaseSignal::new(230.0, vec![Load::sine(6.0, 1.0, true)]);
    phase.voltage_changes = vec![VoltageChange {
        from_s: 1.0,
        to_s: 10.0,
        factor: 0.0,
    }];
    let (_, events) = run(&Scenario::single_phase(phase, 4.0, adc()), |_| {});
    let tamper = events
        .iter()
        .find(|e| e.kind == EventKind::CurrentWithoutVoltage)
        .expect("current without voltage");
    assert!(
        (tamper.start_sample as f64 / 4000.0 - 1.0).abs() < 0.05,
        "{tamper:?}"
    );
    assert!((tamper.extreme - 6.0).abs() < 0.1, "{tamper:?}");
}

#[test]
fn neutral_mismatch_reveals_earth_leakage_or_bypass() {
    let phase = PhaseSignal::new(230.0, vec![Load::sine(8.0, 0.95, true)]);
    let mut scenario = Scenario::single_phase(phase, 3.0, adc());
    let scale = scenario.calibration().i_scale;
    let (_, quiet) = run(&scenario, |config| config.neutral_i_scale = Some(scale));
    assert!(
        quiet.iter().all(|e| e.kind != EventKind::NeutralMismatch),
        "{quiet:?}"
    );
    scenario.earth_leakage_a = 2.5;
    let (_, events) = run(&scenario, |config| config.neutral_i_scale = Some(scale));
    let mismatch = events
        .iter()
        .find(|e| e.kind == EventKind::NeutralMismatch)
        .expect("2.5 A not returning in the neutral");
    assert!((mismatch.extreme - 2.5).abs() < 0.1, "{mismatch:?}");
}

#[test]
fn digital_inputs_raise_events_on_change_only() {
    let phase = PhaseSignal::new(230.0, vec![]);
    let (mut meter, _) = run(&Scenario::single_phase(phase, 0.5, adc()), |_| {});
    meter.set_digital_input(DigitalInput::CoverOpen, true);
    meter.set_digital_input(DigitalInput::CoverOpen, true);
    meter.set_digital_input(DigitalInput::MagneticField, true);
    meter.set_digital_input(DigitalInput::CoverOpen, false);
    let kinds: Vec<_> = std::iter::from_fn(|| meter.pop_event())
        .map(|e| (e.kind, e.transition))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventKind::CoverOpen, Transition::Started),
            (EventKind::MagneticField, Transition::Started),
            (EventKind::CoverOpen, Transition::Ended),
        ]
    );
}

#[test]
fn tariff_registers_and_demand() {
    let phase = PhaseSignal::new(230.0, vec![Load::sine(10.0, 1.0, true)]);
    let scenario = Scenario::single_phase(phase, 6.0, adc());
    let mut config = MeterConfig::single_phase(4000.0, scenario.calibration());
    config.demand = joule_metrology::DemandConfig {
        interval_s: 2,
        subintervals: 1,
    };
    let mut meter = Meter::new(config).expect("valid config");
    for (n, frame) in scenario.frames().enumerate() {
        if n == 12_000 {
            assert!(meter.select_tariff(1));
        }
        meter.push_frame(&frame);
    }
    meter.finish();
    let registers = meter.registers();
    let (t0, t1) = (
        registers.tariffs[0].active_import.wh(),
        registers.tariffs[1].active_import.wh(),
    );
    assert!((t0 - 2300.0 * 3.0 / 3600.0).abs() < 0.01, "{t0}");
    assert!((t1 - 2300.0 * 3.0 / 3600.0).abs() < 0.01, "{t1}");
    assert!((registers.total.active_import.wh() - t0 - t1).abs() < 1e-3);
    let maximum = meter.demand().maximum().expect("two-second windows closed");
    assert!((maximum.demand_w - 2300.0).abs() < 25.0, "{maximum:?}");
}
