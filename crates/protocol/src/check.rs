//! The checks a receiver applies to one message before trusting it: the version, units
//! and ranges, and a timestamp within sane bounds of the receiver's clock. What needs
//! history (registers that never go backwards, duplicates, gaps) is the hub's ingest.
//! Single messages and the items of a batch go through the same functions.

use crate::error::{DecodeError, invalid};
use crate::messages::{
    Action, Command, CommandAck, EventMessage, EventState, IntervalRecord, LiveReading,
    PAYLOAD_VERSION, Registers,
};
use joule_metrology::{MAX_PHASES, MAX_TARIFFS};

/// How far in the future a meter's timestamp may be (clock skew), ms.
pub const MAX_FUTURE_MS: i64 = 5 * 60 * 1000;

/// How old a meter's message may be (a backlog replayed after a long outage), ms.
pub const MAX_AGE_MS: i64 = 400 * 24 * 3600 * 1000;

/// Checks a v1 payload's version.
pub(crate) fn version(v: u32) -> Result<(), DecodeError> {
    if v == PAYLOAD_VERSION {
        Ok(())
    } else {
        Err(DecodeError::Version(v))
    }
}

fn header(v: u32, seq: u64, ts_ms: i64, now_ms: i64) -> Result<(), DecodeError> {
    version(v)?;
    if seq == 0 {
        return Err(invalid("seq", "must be at least 1"));
    }
    if ts_ms > now_ms + MAX_FUTURE_MS {
        return Err(invalid(
            "ts_ms",
            format!(
                "is {} s ahead of the receiver's clock",
                (ts_ms - now_ms) / 1000
            ),
        ));
    }
    if ts_ms < now_ms - MAX_AGE_MS {
        return Err(invalid("ts_ms", "is more than 400 days old"));
    }
    Ok(())
}

fn within(field: &'static str, value: f64, low: f64, high: f64) -> Result<(), DecodeError> {
    if value.is_finite() && value >= low && value <= high {
        Ok(())
    } else {
        Err(invalid(field, format!("must be within {low}..={high}")))
    }
}

fn check_registers(registers: &Registers) -> Result<(), DecodeError> {
    // mWh in an i64-safe range keeps every store (PostgreSQL BIGINT included) exact.
    let limit = i64::MAX as u64;
    let all = [
        registers.import_mwh,
        registers.export_mwh,
        registers.apparent_import_mvah,
        registers.apparent_export_mvah,
    ];
    if all
        .into_iter()
        .chain(registers.reactive_mvarh)
        .any(|value| value > limit)
    {
        return Err(invalid("registers", "exceed the storable range"));
    }
    Ok(())
}

fn check_power(
    prefix_v: &'static str,
    voltage_v: f64,
    current_a: f64,
    p_w: f64,
    q_var: f64,
    s_va: f64,
    pf: f64,
) -> Result<(), DecodeError> {
    within(prefix_v, voltage_v, 0.0, 1000.0)?;
    within("current_a", current_a, 0.0, 10_000.0)?;
    within("p_w", p_w, -10e6, 10e6)?;
    within("q_var", q_var, -10e6, 10e6)?;
    within("s_va", s_va, 0.0, 10e6)?;
    within("pf", pf, -1.0, 1.0)
}

/// Checks a live reading received at `now_ms`.
pub(crate) fn live(m: &LiveReading, now_ms: i64) -> Result<(), DecodeError> {
    header(m.v, m.seq, m.ts_ms, now_ms)?;
    check_power(
        "voltage_v",
        m.voltage_v,
        m.current_a,
        m.p_w,
        m.q_var,
        m.s_va,
        m.pf,
    )?;
    if let Some(freq_hz) = m.freq_hz {
        within("freq_hz", freq_hz, 40.0, 70.0)?;
    }
    if !(m.phases.is_empty() || m.phases.len() == MAX_PHASES) {
        return Err(invalid("phases", "must be absent or list three phases"));
    }
    for phase in &m.phases {
        check_power(
            "phases.voltage_v",
            phase.voltage_v,
            phase.current_a,
            phase.p_w,
            phase.q_var,
            phase.s_va,
            phase.pf,
        )?;
    }
    if usize::from(m.tariff) >= MAX_TARIFFS {
        return Err(invalid("tariff", format!("must be below {MAX_TARIFFS}")));
    }
    check_registers(&m.registers)
}

/// Checks an interval record received at `now_ms`.
pub(crate) fn interval(m: &IntervalRecord, now_ms: i64) -> Result<(), DecodeError> {
    header(m.v, m.seq, m.ts_ms, now_ms)?;
    if m.interval_s == 0 || 86_400 % m.interval_s != 0 {
        return Err(invalid("interval_s", "must divide a day (e.g. 900)"));
    }
    if m.ts_ms % (i64::from(m.interval_s) * 1000) != 0 {
        return Err(invalid("ts_ms", "must be aligned to the interval"));
    }
    within("voltage_min_v", m.voltage_min_v, 0.0, 1000.0)?;
    within("voltage_max_v", m.voltage_max_v, m.voltage_min_v, 1000.0)?;
    within(
        "voltage_avg_v",
        m.voltage_avg_v,
        m.voltage_min_v,
        m.voltage_max_v,
    )?;
    if let Some(demand) = m.max_demand_w {
        within("max_demand_w", demand, 0.0, 10e6)?;
    }
    if m.tariffs
        .iter()
        .any(|t| usize::from(t.tariff) >= MAX_TARIFFS)
    {
        return Err(invalid(
            "tariffs.tariff",
            format!("must be below {MAX_TARIFFS}"),
        ));
    }
    check_registers(&m.registers)
}

/// Checks an event received at `now_ms`.
pub(crate) fn event(m: &EventMessage, now_ms: i64) -> Result<(), DecodeError> {
    header(m.v, m.seq, m.ts_ms, now_ms)?;
    if m.phase
        .is_some_and(|phase| phase == 0 || usize::from(phase) > MAX_PHASES)
    {
        return Err(invalid("phase", "must be 1, 2 or 3"));
    }
    if let Some(duration_s) = m.duration_s {
        within("duration_s", duration_s, 0.0, MAX_AGE_MS as f64 / 1000.0)?;
    }
    if let Some(extreme) = m.extreme {
        within("extreme", extreme, -10e6, 10e6)?;
    }
    if m.state == EventState::Ended && m.started_ms.is_some_and(|started| started > m.ts_ms) {
        return Err(invalid("started_ms", "is after the event's end"));
    }
    if m.detail.as_ref().is_some_and(|detail| detail.len() > 1024) {
        return Err(invalid("detail", "must be at most 1024 bytes"));
    }
    Ok(())
}

/// Checks a command acknowledgement received at `now_ms`.
pub(crate) fn command_ack(m: &CommandAck, now_ms: i64) -> Result<(), DecodeError> {
    header(m.v, m.seq, m.ts_ms, now_ms)?;
    if m.detail.as_ref().is_some_and(|detail| detail.len() > 1024) {
        return Err(invalid("detail", "must be at most 1024 bytes"));
    }
    Ok(())
}

/// Checks a command from the hub.
pub(crate) fn command(command: &Command) -> Result<(), DecodeError> {
    version(command.v)?;
    if command
        .expires_ms
        .is_some_and(|expires| expires <= command.ts_ms)
    {
        return Err(invalid("expires_ms", "must be after ts_ms"));
    }
    match &command.action {
        Action::Disconnect { reason }
        | Action::Reconnect { reason }
        | Action::ArmReconnect { reason } => {
            if reason.trim().is_empty() {
                return Err(invalid("action.reason", "must say why"));
            }
        }
        Action::LoadLimit {
            limit_w: Some(limit_w),
            ..
        } => within("action.limit_w", *limit_w, 0.0, 10e6)?,
        Action::Calibrate {
            phase,
            v_scale,
            i_scale,
            i_delay_us,
        } => {
            if *phase == 0 || usize::from(*phase) > MAX_PHASES {
                return Err(invalid("action.phase", "must be 1, 2 or 3"));
            }
            within("action.v_scale", *v_scale, f64::MIN_POSITIVE, 1e6)?;
            within("action.i_scale", *i_scale, f64::MIN_POSITIVE, 1e6)?;
            within("action.i_delay_us", *i_delay_us, -10_000.0, 10_000.0)?;
        }
        Action::TariffSchedule { switches, .. } => {
            for switch in switches {
                if usize::from(switch.tariff) >= MAX_TARIFFS {
                    return Err(invalid(
                        "action.switches.tariff",
                        format!("must be below {MAX_TARIFFS}"),
                    ));
                }
                if !valid_hh_mm(&switch.start) {
                    return Err(invalid("action.switches.start", "must be HH:MM"));
                }
            }
        }
        Action::PriceSignal { prices, .. } => {
            if prices
                .iter()
                .any(|p| p.end_ms <= p.start_ms || !p.price_per_kwh.is_finite())
            {
                return Err(invalid(
                    "action.prices",
                    "need end after start and a finite price",
                ));
            }
        }
        Action::LoadLimit { limit_w: None, .. }
        | Action::TimeSync { .. }
        | Action::ResetMaxDemand => {}
    }
    Ok(())
}

/// Whether `text` is a local time `HH:MM` (00:00 to 23:59).
fn valid_hh_mm(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 5
        && bytes[2] == b':'
        && text[..2]
            .parse::<u8>()
            .is_ok_and(|h| h < 24 && bytes[0].is_ascii_digit())
        && text[3..]
            .parse::<u8>()
            .is_ok_and(|m| m < 60 && bytes[3].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hh_mm() {
        for good in ["00:00", "07:30", "23:59"] {
            assert!(valid_hh_mm(good), "{good}");
        }
        for bad in ["24:00", "7:30", "07:60", "+7:30", "07-30", "0730", "07:3x"] {
            assert!(!valid_hh_mm(bad), "{bad}");
        }
    }
}
