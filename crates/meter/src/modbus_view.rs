//! What the read-only Modbus server serves: the latest observation and the registers as a
//! [`joule_modbus::Snapshot`], the inverse of [`crate::source::modbus::observation`].

use crate::source::Observation;
use joule_modbus::{ApparentEnergy, MAX_PHASES, PhaseValues, Phases, ReactiveEnergy, Snapshot};
use joule_protocol::PhaseReading;

/// The server's view of `observation` (none yet: an empty snapshot), with the last
/// closed interval's demand and the maximum-demand register, W.
pub fn modbus_snapshot(
    observation: Option<&Observation>,
    demand_w: f64,
    max_demand_w: Option<f64>,
) -> Snapshot {
    let Some(observation) = observation else {
        return Snapshot::default();
    };
    let values = |p: &PhaseReading| PhaseValues {
        voltage_v: p.voltage_v,
        current_a: p.current_a,
        p_w: p.p_w,
        s_va: p.s_va,
        q_var: p.q_var,
        pf: p.pf,
    };
    let mut phase = [PhaseValues::default(); MAX_PHASES];
    let phases = if observation.phases.is_empty() {
        phase[0] = values(&observation.total);
        Phases::One
    } else {
        for (into, from) in phase.iter_mut().zip(&observation.phases) {
            *into = values(from);
        }
        Phases::Three
    };
    let registers = &observation.registers;
    Snapshot {
        phases,
        phase,
        p_w: observation.total.p_w,
        s_va: observation.total.s_va,
        q_var: observation.total.q_var,
        pf: observation.total.pf,
        frequency_hz: observation.freq_hz,
        import_mwh: registers.import_mwh,
        export_mwh: registers.export_mwh,
        reactive: ReactiveEnergy::Quadrants(registers.reactive_mvarh),
        apparent: Some(ApparentEnergy {
            import_mvah: registers.apparent_import_mvah,
            export_mvah: registers.apparent_export_mvah,
        }),
        total_demand_w: demand_w,
        max_demand_w: max_demand_w.unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::modbus::observation;

    #[test]
    fn an_observation_read_from_modbus_is_served_back_the_same() {
        let mut phase = [PhaseValues::default(); MAX_PHASES];
        for (k, values) in phase.iter_mut().enumerate() {
            values.voltage_v = 230.0 + k as f64;
            values.current_a = 4.0;
            values.p_w = 900.0;
            values.s_va = 920.0;
            values.pf = 900.0 / 920.0;
        }
        let device = Snapshot {
            phases: Phases::Three,
            phase,
            p_w: 2_700.0,
            s_va: 2_760.0,
            frequency_hz: Some(50.01),
            import_mwh: 12_345_000,
            reactive: ReactiveEnergy::Quadrants([1, 2, 3, 4]),
            apparent: Some(ApparentEnergy {
                import_mvah: 13_000_000,
                export_mvah: 0,
            }),
            ..Snapshot::default()
        };
        let served = modbus_snapshot(Some(&observation(&device, 0)), 1_500.0, Some(3_000.0));
        assert_eq!(served.phases, Phases::Three);
        assert_eq!(served.phase, device.phase);
        assert_eq!(
            (served.p_w, served.import_mwh, served.frequency_hz),
            (2_700.0, 12_345_000, Some(50.01))
        );
        assert_eq!(served.reactive, ReactiveEnergy::Quadrants([1, 2, 3, 4]));
        assert_eq!(
            (served.total_demand_w, served.max_demand_w),
            (1_500.0, 3_000.0)
        );
        assert_eq!(modbus_snapshot(None, 1.0, None), Snapshot::default());
    }
}
