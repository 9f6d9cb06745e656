//! The `dsmr` source: P1 telegrams (DSMR 2.2 to 5, Belgian and Luxembourg variants) from a
//! serial port or a TCP gateway (`joule_dsmr`), each turned into an [`Observation`].
//!
//! Tariff numbers shift by one: DSMR tariff 1 is Joule tariff 0 and DSMR tariff 2 is
//! Joule tariff 1, whatever the country calls them (the Netherlands count the night tariff
//! as 1, Belgium the day tariff). The meter's power-failure and sag/swell counters become
//! events when they go up. Reactive energy (+R, −R) goes to Q1 and Q4, as for Modbus.

use super::device::DeviceStatus;
use super::observation::{
    Observation, PhaseValues, SourceEvent, mean_voltage_current, power_factor, voltage_range_v,
};
use crate::clock::SharedClock;
use joule_dsmr::{ReadError, Telegram};
use joule_protocol::{EventKind, EventState, Registers, TariffRegisters};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Wait before reopening a port that failed or ended.
const REOPEN_AFTER: Duration = Duration::from_secs(5);

/// Reads telegrams from `port` until the receiver is gone, reopening the port after a
/// failure; publishes each reading, stamped by `clock` as it arrives, and sends the
/// counters' events.
pub async fn run(
    port: String,
    clock: SharedClock,
    status: watch::Sender<DeviceStatus>,
    events: mpsc::Sender<SourceEvent>,
) {
    let mut counters = Counters::default();
    loop {
        let failure = match joule_dsmr::open(&port).await {
            Ok(mut reader) => loop {
                match reader.next_telegram().await {
                    Some(Ok(telegram)) => {
                        let now_ms = clock.now_ms();
                        for event in counters.update(&telegram, now_ms) {
                            // A full queue means the agent is not taking them: drop, never wait.
                            let _ = events.try_send(event);
                        }
                        let reading =
                            DeviceStatus::Reading(Box::new(observation(&telegram, now_ms)));
                        if status.send(reading).is_err() {
                            return;
                        }
                    }
                    Some(Err(error @ ReadError::Telegram { .. })) => {
                        tracing::warn!(%error, "P1 telegram refused");
                    }
                    Some(Err(error)) => break error.to_string(),
                    None => break format!("P1 port {port} ended"),
                }
            },
            Err(error) => error.to_string(),
        };
        tracing::warn!(reason = %failure, "P1 port failed; reopening in 5 s");
        if status.send(DeviceStatus::Failing(failure)).is_err() {
            return;
        }
        tokio::time::sleep(REOPEN_AFTER).await;
    }
}

/// One telegram as an observation at `ts_ms` (the time it arrived: the telegram's own
/// timestamp is local time to the second, and the agent's clock is the one it trusts).
pub fn observation(telegram: &Telegram, ts_ms: i64) -> Observation {
    let milli = |wh: Option<u64>| wh.unwrap_or(0).saturating_mul(1000);
    let signed = |import: Option<u32>, export: Option<u32>| {
        f64::from(import.unwrap_or(0)) - f64::from(export.unwrap_or(0))
    };
    let present: Vec<PhaseValues> = telegram
        .phases
        .iter()
        .filter(|p| p.voltage_v.is_some() || p.import_power_w.is_some())
        .map(|p| {
            let p_w = signed(p.import_power_w, p.export_power_w);
            let voltage_v = p.voltage_v.unwrap_or(0.0);
            let current_a = p.current_a.unwrap_or(0.0);
            // Only P per phase is known; S from V·I when the meter gives both.
            let s_va = (voltage_v * current_a).max(p_w.abs());
            PhaseValues {
                voltage_v,
                current_a,
                p_w,
                q_var: 0.0,
                s_va,
                pf: power_factor(p_w, s_va),
            }
        })
        .collect();
    let p_w = signed(telegram.import_power_w, telegram.export_power_w);
    let q_var = signed(
        telegram.reactive_import_power_var,
        telegram.reactive_export_power_var,
    );
    let s_va = p_w.hypot(q_var);
    let import_mwh = match telegram.import_total_wh {
        Some(total) => total.saturating_mul(1000),
        None => milli(telegram.import_tariff1_wh).saturating_add(milli(telegram.import_tariff2_wh)),
    };
    let export_mwh = match telegram.export_total_wh {
        Some(total) => total.saturating_mul(1000),
        None => milli(telegram.export_tariff1_wh).saturating_add(milli(telegram.export_tariff2_wh)),
    };
    let tariff_registers = [
        (0, telegram.import_tariff1_wh, telegram.export_tariff1_wh),
        (1, telegram.import_tariff2_wh, telegram.export_tariff2_wh),
    ]
    .into_iter()
    .filter(|(_, import, export)| import.is_some() || export.is_some())
    .map(|(tariff, import, export)| TariffRegisters {
        tariff,
        import_mwh: milli(import),
        export_mwh: milli(export),
    })
    .collect();
    let voltage_range_v = voltage_range_v(&present);
    let (voltage_v, current_a) = mean_voltage_current(&present);
    Observation {
        ts_ms,
        total: PhaseValues {
            voltage_v,
            current_a,
            p_w,
            q_var,
            s_va,
            pf: power_factor(p_w, s_va),
        },
        phases: if present.len() > 1 {
            present
        } else {
            Vec::new()
        },
        freq_hz: None,
        voltage_range_v,
        registers: Registers {
            import_mwh,
            export_mwh,
            reactive_mvarh: [
                milli(telegram.reactive_import_varh),
                0,
                0,
                milli(telegram.reactive_export_varh),
            ],
            apparent_import_mvah: 0,
            apparent_export_mvah: 0,
        },
        tariff_registers,
        device_tariff: telegram
            .tariff
            .map(|t| u8::try_from(t.saturating_sub(1)).unwrap_or(u8::MAX)),
        events: Vec::new(),
    }
}

/// The counters of the last telegram, to turn their increments into events.
#[derive(Debug, Default)]
struct Counters {
    power_failures: Option<u32>,
    long_power_failures: Option<u32>,
    sags: [Option<u32>; 3],
    swells: [Option<u32>; 3],
}

impl Counters {
    /// Events for every counter that went up since the last telegram (none for the first).
    fn update(&mut self, telegram: &Telegram, ts_ms: i64) -> Vec<SourceEvent> {
        let mut events = Vec::new();
        let mut rise = |last: &mut Option<u32>, now: Option<u32>, kind, phase, duration_s| {
            if let (Some(before), Some(after)) = (*last, now) {
                for _ in before..after.min(before.saturating_add(100)) {
                    events.push(SourceEvent {
                        kind,
                        state: EventState::Instant,
                        phase,
                        ts_ms,
                        started_ms: None,
                        duration_s,
                        extreme: None,
                    });
                }
            }
            if now.is_some() {
                *last = now;
            }
        };
        let newest_long_s = telegram
            .power_failure_log
            .as_ref()
            .and_then(|log| log.last())
            .map(|failure| failure.duration_s as f64);
        let failures = EventKind::Interruption;
        rise(
            &mut self.power_failures,
            telegram.power_failures,
            failures,
            None,
            None,
        );
        rise(
            &mut self.long_power_failures,
            telegram.long_power_failures,
            failures,
            None,
            newest_long_s,
        );
        for (k, phase) in telegram.phases.iter().enumerate() {
            let number = Some(k as u8 + 1);
            rise(
                &mut self.sags[k],
                phase.voltage_sags,
                EventKind::Sag,
                number,
                None,
            );
            rise(
                &mut self.swells[k],
                phase.voltage_swells,
                EventKind::Swell,
                number,
                None,
            );
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A single-phase telegram as the parser gives it, with the two counters set.
    fn telegram(power_failures: u32, sags_l1: u32) -> Telegram {
        let mut telegram = Telegram {
            import_tariff1_wh: Some(123_456),
            import_tariff2_wh: Some(654_321),
            export_tariff1_wh: Some(1_000),
            export_tariff2_wh: Some(2_000),
            tariff: Some(2),
            import_power_w: Some(1_193),
            export_power_w: Some(0),
            power_failures: Some(power_failures),
            ..Telegram::default()
        };
        telegram.phases[0].voltage_v = Some(230.1);
        telegram.phases[0].current_a = Some(5.0);
        telegram.phases[0].import_power_w = Some(1_193);
        telegram.phases[0].voltage_sags = Some(sags_l1);
        telegram
    }

    #[test]
    fn registers_tariffs_and_power_map_to_joule_units() {
        let observation = observation(&telegram(4, 2), 1_000);
        assert_eq!(observation.registers.import_mwh, 777_777_000);
        assert_eq!(observation.registers.export_mwh, 3_000_000);
        assert_eq!(observation.device_tariff, Some(1));
        assert_eq!(
            observation.tariff_registers,
            vec![
                TariffRegisters {
                    tariff: 0,
                    import_mwh: 123_456_000,
                    export_mwh: 1_000_000
                },
                TariffRegisters {
                    tariff: 1,
                    import_mwh: 654_321_000,
                    export_mwh: 2_000_000
                },
            ]
        );
        assert_eq!(observation.total.p_w, 1193.0);
        assert_eq!(observation.total.voltage_v, 230.1);
        assert!(observation.phases.is_empty(), "one phase present");
    }

    #[test]
    fn counters_that_rise_become_events_and_the_first_telegram_only_sets_them() {
        let mut counters = Counters::default();
        assert!(counters.update(&telegram(4, 2), 0).is_empty());
        let events = counters.update(&telegram(6, 3), 1);
        let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.phase)).collect();
        assert_eq!(
            kinds,
            vec![
                (EventKind::Interruption, None),
                (EventKind::Interruption, None),
                (EventKind::Sag, Some(1)),
            ]
        );
        assert!(counters.update(&telegram(6, 3), 2).is_empty());
    }
}
