//! The `modbus` source: an Eastron SDM120 or SDM630 polled over Modbus TCP or RTU
//! (`joule_modbus::Poller`), each answer turned into an [`Observation`].
//!
//! An Eastron meter keeps reactive energy as two directions, not four quadrants; the
//! agent puts +R into Q1 and −R into Q4, which is exact for an installation that only
//! imports (the common case) and keeps the totals right for one that exports.

use super::device::DeviceStatus;
use super::observation::{Observation, PhaseValues, mean_voltage_current, voltage_range_v};
use crate::clock::SharedClock;
use crate::config::SdmModelConfig;
use joule_modbus::{Link, LinkError, Phases, Poller, PollerConfig, SdmModel, Snapshot};
use joule_protocol::Registers;
use std::time::Duration;
use tokio::sync::watch;

/// A poller for the configured device.
pub fn poller(
    link: &str,
    model: SdmModelConfig,
    unit_id: u8,
    timeout_ms: u32,
) -> Result<Poller, LinkError> {
    let link: Link = link.parse()?;
    let model = match model {
        SdmModelConfig::Sdm120 => SdmModel::Sdm120,
        SdmModelConfig::Sdm630 => SdmModel::Sdm630,
    };
    let mut config = PollerConfig::new(format!("{link}"), model, link);
    config.unit_id = unit_id;
    config.timeout = Duration::from_millis(timeout_ms.into());
    Ok(Poller::new(config))
}

/// Polls every `every` until the receiver is gone, publishing each reading (stamped by
/// `clock` when the answer came) or failure.
pub async fn run(
    mut poller: Poller,
    every: Duration,
    clock: SharedClock,
    status: watch::Sender<DeviceStatus>,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticker.tick().await;
        let next = match poller.poll().await {
            Ok(snapshot) => {
                if failing {
                    tracing::info!(device = %poller.config().name, "Modbus meter answers again");
                    failing = false;
                }
                DeviceStatus::Reading(Box::new(observation(&snapshot, clock.now_ms())))
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "Modbus meter poll failed");
                    failing = true;
                }
                DeviceStatus::Failing(error.to_string())
            }
        };
        if status.send(next).is_err() {
            return;
        }
    }
}

/// One poll as an observation at `ts_ms`.
pub fn observation(snapshot: &Snapshot, ts_ms: i64) -> Observation {
    let values = |p: &joule_modbus::PhaseValues| PhaseValues {
        voltage_v: p.voltage_v,
        current_a: p.current_a,
        p_w: p.p_w,
        q_var: p.q_var,
        s_va: p.s_va,
        pf: p.pf,
    };
    let phases: Vec<PhaseValues> = snapshot.active_phases().iter().map(values).collect();
    let (voltage_v, current_a) = mean_voltage_current(&phases);
    let total = PhaseValues {
        voltage_v,
        current_a,
        p_w: snapshot.p_w,
        q_var: snapshot.q_var,
        s_va: snapshot.s_va,
        pf: snapshot.pf,
    };
    let reactive_mvarh = snapshot.reactive.quadrants().unwrap_or([
        snapshot.reactive.import_mvarh(),
        0,
        0,
        snapshot.reactive.export_mvarh(),
    ]);
    let apparent = snapshot.apparent.unwrap_or_default();
    let voltage_range_v = voltage_range_v(&phases);
    Observation {
        ts_ms,
        total,
        phases: if snapshot.phases == Phases::Three {
            phases
        } else {
            Vec::new()
        },
        freq_hz: snapshot.frequency_hz,
        voltage_range_v,
        registers: Registers {
            import_mwh: snapshot.import_mwh,
            export_mwh: snapshot.export_mwh,
            reactive_mvarh,
            apparent_import_mvah: apparent.import_mvah,
            apparent_export_mvah: apparent.export_mvah,
        },
        tariff_registers: Vec::new(),
        device_tariff: None,
        events: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joule_modbus::ReactiveEnergy;

    #[test]
    fn directions_go_to_q1_and_q4_and_single_phase_has_no_phase_list() {
        let mut snapshot = Snapshot::default();
        snapshot.phase[0].voltage_v = 231.0;
        snapshot.p_w = 1500.0;
        snapshot.import_mwh = 1_234_000;
        snapshot.reactive = ReactiveEnergy::Directions {
            import_mvarh: 70,
            export_mvarh: 30,
        };
        let observation = observation(&snapshot, 5);
        assert_eq!(observation.registers.reactive_mvarh, [70, 0, 0, 30]);
        assert_eq!(observation.registers.import_mwh, 1_234_000);
        assert!(observation.phases.is_empty());
        assert_eq!(observation.total.voltage_v, 231.0);
        assert_eq!(observation.total.p_w, 1500.0);
    }
}
