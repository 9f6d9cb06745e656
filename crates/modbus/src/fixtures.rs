//! Snapshots and identities the unit tests share.

use crate::snapshot::{ApparentEnergy, Identity, PhaseValues, Phases, ReactiveEnergy, Snapshot};

/// A three-phase snapshot whose values are all distinct and exact in float32.
pub(crate) fn three_phase() -> Snapshot {
    let phase = |voltage_v, current_a, p_w| PhaseValues {
        voltage_v,
        current_a,
        p_w,
        s_va: voltage_v * current_a,
        q_var: 100.0,
        pf: 0.9,
    };
    Snapshot {
        phases: Phases::Three,
        phase: [
            phase(230.0, 10.0, 2000.0),
            phase(231.0, 5.0, -1000.0),
            phase(232.0, 1.0, 200.0),
        ],
        p_w: 1200.0,
        s_va: 3755.0,
        q_var: 300.0,
        pf: 0.32,
        frequency_hz: Some(50.01),
        import_mwh: 12_345_678,
        export_mwh: 1_000_000,
        reactive: ReactiveEnergy::Quadrants([1_000_000, 500_000, 250_000, 125_000]),
        apparent: Some(ApparentEnergy {
            import_mvah: 2_000_000,
            export_mvah: 500_000,
        }),
        total_demand_w: 900.0,
        max_demand_w: 4200.0,
    }
}

/// The identity the tests publish.
pub(crate) fn identity() -> Identity {
    Identity::joule("Joule J3", "JM-000042", "0.1.0")
}
