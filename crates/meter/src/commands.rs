//! What a command from the hub does, decided without doing it: [`decide`] takes the
//! command, the meter's situation, its configuration and the time, and returns the
//! acknowledgement and the [`Effect`]s to carry out. The agent applies the effects (the
//! relay, the metrology chain, the clock, the outbox, the register store); this module
//! reads nothing and changes nothing, so every command's rules are tested here without
//! a clock, a disk or a broker.
//!
//! A new command is an [`Action`] in the protocol, an arm in [`decide`] (and in
//! [`action_name`]), and, if it needs one, an [`Effect`] the agent learns to apply.

use crate::config::MeterConfig;
use crate::recorder::event;
use crate::relay::{RelayError, Trigger, transition};
use crate::source::Chain;
use crate::source::waveform::recalibrated;
use crate::state::{LoadLimit, MeterState, PhaseCalibration, Schedule};
use crate::tou::TouCalendar;
use joule_metrology::Calibration;
use joule_protocol::{
    AckStatus, Action, Command, CommandAck, EventKind, EventMessage, EventState, PAYLOAD_VERSION,
    PricePoint, RelayState,
};

/// What a command meets besides itself.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// The state commands change (relay, limits, schedule, prices, calibration).
    pub state: &'a MeterState,
    /// Whether the meter trusts its clock (a time sync makes it so).
    pub clock_trusted: bool,
    /// What a calibration would change.
    pub chain: Chain<'a>,
}

/// How a command ended, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Carried out.
    Done,
    /// Refused: not valid, or not allowed in the meter's state.
    Rejected,
    /// Refused because it arrived after its `expires_ms`.
    Expired,
}

impl Outcome {
    /// The name in metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }
}

/// One thing the agent does to carry out a command, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Move the supply switch to `to` and record `event`, which says so.
    Relay {
        /// The switch's new state.
        to: RelayState,
        /// The `relay` event recording the move.
        event: EventMessage,
    },
    /// Put this load limit in force (none: remove it).
    LoadLimit(Option<LoadLimit>),
    /// Select tariffs by this schedule from now on.
    Schedule {
        /// The schedule, to keep.
        schedule: Schedule,
        /// It, validated.
        calendar: TouCalendar,
    },
    /// Keep these prices (those not over yet).
    Prices {
        /// ISO 4217 currency.
        currency: String,
        /// The prices.
        prices: Vec<PricePoint>,
    },
    /// Correct the clock so that it reads `unix_ms` now, and keep the correction.
    SyncClock {
        /// The hub's time, Unix ms.
        unix_ms: i64,
    },
    /// Trust the clock from now on.
    TrustClock,
    /// Record an event.
    Event(EventMessage),
    /// Rebuild the metrology chain with a phase's new calibration, and keep it.
    Calibrate {
        /// Phase, 1-based.
        phase: u8,
        /// The calibration.
        calibration: PhaseCalibration,
    },
    /// Reset the maximum-demand register.
    ResetMaxDemand,
}

/// The answer to a command and what it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The acknowledgement to record (its relay state is the one after the effects).
    pub ack: CommandAck,
    /// How it ended.
    pub outcome: Outcome,
    /// What to do, in order; none for a rejected command.
    pub effects: Vec<Effect>,
}

/// Decides what `command` does to a meter in `situation` configured by `config` at
/// `now_ms` (the meter's corrected time).
pub fn decide(
    command: &Command,
    situation: &Situation<'_>,
    config: &MeterConfig,
    now_ms: i64,
) -> Decision {
    let (outcome, detail, effects) = match command.expires_ms {
        Some(expires_ms) if now_ms > expires_ms => (
            Outcome::Expired,
            "expired before it arrived".to_owned(),
            Vec::new(),
        ),
        _ => match action(&command.action, situation, config, now_ms) {
            Ok((detail, effects)) => (Outcome::Done, detail, effects),
            Err(reason) => (Outcome::Rejected, reason, Vec::new()),
        },
    };
    let relay = effects
        .iter()
        .find_map(|effect| match effect {
            Effect::Relay { to, .. } => Some(*to),
            _ => None,
        })
        .unwrap_or(situation.state.relay);
    let ack = CommandAck {
        v: PAYLOAD_VERSION,
        seq: 0,
        ts_ms: now_ms,
        command_id: command.id,
        status: match outcome {
            Outcome::Done => AckStatus::Done,
            Outcome::Rejected | Outcome::Expired => AckStatus::Rejected,
        },
        relay: config.relay_present().then_some(relay),
        detail: Some(detail),
    };
    Decision {
        ack,
        outcome,
        effects,
    }
}

/// The move of the supply switch that `trigger` asks for, with the event recording it;
/// `Ok(None)` when the trigger changes nothing. Commands, the load limiter and the local
/// button all move the switch this way.
pub fn switch(
    relay: RelayState,
    trigger: Trigger,
    reason: &str,
    now_ms: i64,
) -> Result<Option<Effect>, RelayError> {
    Ok(transition(relay, trigger)?.map(|to| {
        let detail = format!("{} → {}: {reason}", relay.as_str(), to.as_str());
        Effect::Relay {
            to,
            event: event(EventKind::Relay, EventState::Instant, now_ms, detail),
        }
    }))
}

/// The action's name on the wire (its `type`), as metrics label it.
pub const fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Disconnect { .. } => "disconnect",
        Action::Reconnect { .. } => "reconnect",
        Action::ArmReconnect { .. } => "arm_reconnect",
        Action::LoadLimit { .. } => "load_limit",
        Action::TariffSchedule { .. } => "tariff_schedule",
        Action::PriceSignal { .. } => "price_signal",
        Action::TimeSync { .. } => "time_sync",
        Action::Calibrate { .. } => "calibrate",
        Action::ResetMaxDemand => "reset_max_demand",
    }
}

/// A valid action's detail and effects, or why it is refused.
fn action(
    action: &Action,
    situation: &Situation<'_>,
    config: &MeterConfig,
    now_ms: i64,
) -> Result<(String, Vec<Effect>), String> {
    let state = situation.state;
    Ok(match action {
        Action::Disconnect { reason }
        | Action::Reconnect { reason }
        | Action::ArmReconnect { reason } => {
            if !config.relay_present() {
                return Err("this meter has no supply switch".into());
            }
            let trigger = match action {
                Action::Disconnect { .. } => Trigger::RemoteDisconnect,
                Action::Reconnect { .. } => Trigger::RemoteReconnect,
                _ => Trigger::RemoteArm,
            };
            let effect =
                switch(state.relay, trigger, reason, now_ms).map_err(|error| error.to_string())?;
            let after = match &effect {
                Some(Effect::Relay { to, .. }) => *to,
                _ => state.relay,
            };
            (
                format!("relay {}", after.as_str()),
                effect.into_iter().collect(),
            )
        }
        Action::LoadLimit {
            limit_w,
            duration_s,
        } => {
            let limit = limit_w.map(|limit_w| LoadLimit {
                limit_w,
                until_ms: duration_s.map(|s| now_ms + i64::from(s) * 1000),
            });
            let detail = if limit.is_some() {
                "load limit set"
            } else {
                "load limit removed"
            };
            (detail.into(), vec![Effect::LoadLimit(limit)])
        }
        Action::TariffSchedule {
            timezone,
            switches,
            holidays,
        } => {
            let schedule = Schedule {
                timezone: timezone.clone(),
                switches: switches.clone(),
                holidays: holidays.clone(),
            };
            let calendar = TouCalendar::new(&schedule).map_err(|error| error.to_string())?;
            (
                "tariff schedule in force".into(),
                vec![Effect::Schedule { schedule, calendar }],
            )
        }
        Action::PriceSignal { currency, prices } => {
            let prices = prices
                .iter()
                .filter(|p| p.end_ms > now_ms)
                .cloned()
                .collect();
            (
                "prices stored".into(),
                vec![Effect::Prices {
                    currency: currency.clone(),
                    prices,
                }],
            )
        }
        Action::TimeSync { unix_ms } => {
            let step_s = (*unix_ms - now_ms) as f64 / 1000.0;
            let stepped = format!("time set by the hub, stepped {step_s:+.3} s");
            let mut effects = vec![
                Effect::SyncClock { unix_ms: *unix_ms },
                Effect::Event(event(
                    EventKind::Clock,
                    EventState::Instant,
                    *unix_ms,
                    stepped,
                )),
            ];
            if !situation.clock_trusted {
                effects.push(Effect::TrustClock);
                effects.push(Effect::Event(event(
                    EventKind::Clock,
                    EventState::Ended,
                    *unix_ms,
                    "clock set",
                )));
            }
            ("clock set".into(), effects)
        }
        Action::Calibrate {
            phase,
            v_scale,
            i_scale,
            i_delay_us,
        } => {
            let metrology = match situation.chain {
                Chain::Metrology(metrology) => metrology,
                Chain::Device(name) => return Err(format!("{name} calibrates itself")),
            };
            let calibration = Calibration::new(*v_scale, *i_scale, *i_delay_us);
            recalibrated(
                metrology,
                usize::from(*phase).saturating_sub(1),
                calibration,
            )
            .map_err(|error| error.to_string())?;
            (
                "calibration applied".into(),
                vec![Effect::Calibrate {
                    phase: *phase,
                    calibration: PhaseCalibration {
                        v_scale: *v_scale,
                        i_scale: *i_scale,
                        i_delay_us: *i_delay_us,
                    },
                }],
            )
        }
        Action::ResetMaxDemand => ("maximum demand reset".into(), vec![Effect::ResetMaxDemand]),
    })
}

#[cfg(test)]
mod tests;
