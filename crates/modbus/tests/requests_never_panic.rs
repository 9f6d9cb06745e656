//! Property: whatever the snapshot, identity and request, the register maps answer with
//! exactly `count` registers or the exception the Modbus specification prescribes, and
//! the session never panics on bytes.

use joule_modbus::{
    ApparentEnergy, Exception, Identity, MAX_READ_REGISTERS, PhaseValues, Phases, ReactiveEnergy,
    SDM_REGISTERS, SUNSPEC_BASE, SUNSPEC_REGISTERS, Session, Snapshot, sdm_input_registers,
    sunspec_holding_registers,
};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        -1e6..1e6_f64,
        proptest::num::f64::ANY,
        Just(f64::NAN),
        Just(f64::INFINITY)
    ]
}

fn phase() -> impl Strategy<Value = PhaseValues> {
    (value(), value(), value(), value(), value(), value()).prop_map(
        |(voltage_v, current_a, p_w, s_va, q_var, pf)| PhaseValues {
            voltage_v,
            current_a,
            p_w,
            s_va,
            q_var,
            pf,
        },
    )
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let reactive = prop_oneof![
        any::<[u64; 4]>().prop_map(ReactiveEnergy::Quadrants),
        (any::<u64>(), any::<u64>()).prop_map(|(import_mvarh, export_mvarh)| {
            ReactiveEnergy::Directions {
                import_mvarh,
                export_mvarh,
            }
        }),
    ];
    let apparent = proptest::option::of((any::<u64>(), any::<u64>()).prop_map(
        |(import_mvah, export_mvah)| ApparentEnergy {
            import_mvah,
            export_mvah,
        },
    ));
    (
        prop_oneof![Just(Phases::One), Just(Phases::Three)],
        [phase(), phase(), phase()],
        [value(), value(), value(), value(), value(), value()],
        proptest::option::of(value()),
        (any::<u64>(), any::<u64>(), reactive, apparent),
    )
        .prop_map(
            |(
                phases,
                phase,
                [p_w, s_va, q_var, pf, total_demand_w, max_demand_w],
                frequency_hz,
                energy,
            )| {
                let (import_mwh, export_mwh, reactive, apparent) = energy;
                Snapshot {
                    phases,
                    phase,
                    p_w,
                    s_va,
                    q_var,
                    pf,
                    frequency_hz,
                    import_mwh,
                    export_mwh,
                    reactive,
                    apparent,
                    total_demand_w,
                    max_demand_w,
                }
            },
        )
}

fn identity() -> impl Strategy<Value = Identity> {
    (".{0,40}", ".{0,40}", ".{0,40}", ".{0,40}").prop_map(
        |(manufacturer, model, serial, version)| Identity {
            manufacturer,
            model,
            serial,
            version,
        },
    )
}

/// What the specification says a read of `count` from `start` in a map of `len`
/// registers from `first` must answer.
fn expected(start: u16, count: u16, first: u16, len: u16) -> Result<usize, Exception> {
    if count == 0 || count > MAX_READ_REGISTERS {
        Err(Exception::IllegalDataValue)
    } else if start < first
        || u32::from(start) + u32::from(count) > u32::from(first) + u32::from(len)
    {
        Err(Exception::IllegalDataAddress)
    } else {
        Ok(usize::from(count))
    }
}

/// Starts near the maps' edges as often as anywhere.
fn start() -> impl Strategy<Value = u16> {
    prop_oneof![
        any::<u16>(),
        0..SDM_REGISTERS + 130,
        SUNSPEC_BASE - 130..SUNSPEC_BASE + SUNSPEC_REGISTERS + 130,
    ]
}

proptest! {
    #[test]
    fn sdm_reads_answer_count_registers_or_the_right_exception(
        snapshot in snapshot(),
        start in start(),
        count in prop_oneof![0..=130_u16, any::<u16>()],
    ) {
        let answer = sdm_input_registers(&snapshot, start, count);
        prop_assert_eq!(answer.map(|registers| registers.len()), expected(start, count, 0, SDM_REGISTERS));
    }

    #[test]
    fn sunspec_reads_answer_count_registers_or_the_right_exception(
        snapshot in snapshot(),
        identity in identity(),
        start in start(),
        count in prop_oneof![0..=130_u16, any::<u16>()],
    ) {
        let answer = sunspec_holding_registers(&snapshot, &identity, start, count);
        prop_assert_eq!(
            answer.map(|registers| registers.len()),
            expected(start, count, SUNSPEC_BASE, SUNSPEC_REGISTERS)
        );
    }

    #[test]
    fn a_session_never_panics_and_answers_at_most_one_frame_per_request(
        snapshot in snapshot(),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..8),
    ) {
        let identity = Identity::joule("J", "S", "V");
        let mut session = Session::new();
        let mut out = Vec::new();
        let mut answered = 0;
        for chunk in &chunks {
            match session.receive(chunk, &snapshot, &identity, &mut out) {
                Ok(received) => answered += received.requests,
                Err(_) => break,
            }
        }
        let sent: usize = chunks.iter().map(Vec::len).sum();
        // The shortest request is 8 bytes (header and function code).
        prop_assert!(answered <= sent / 8);
        // Every answer is at most 7 + 2 + 250 bytes.
        prop_assert!(out.len() <= answered * 259);
    }
}
