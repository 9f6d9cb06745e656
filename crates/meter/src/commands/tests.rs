//! Every command kind through [`decide`]: its acknowledgement and its effects, including
//! the refusals.

use super::*;
use joule_metrology::MeterConfig as MetrologyConfig;
use joule_protocol::{Days, TariffSwitch};

const NOW_MS: i64 = 1_750_000_000_000;

fn config(source: &str) -> MeterConfig {
    let text = format!(
        r#"{{"meter": {{"id": "m-1"}},
            "uplink": {{"broker": "mqtt://127.0.0.1", "token": "t"}},
            "source": {source}}}"#
    );
    serde_json::from_str(&text).expect("a meter configuration")
}

/// A simulated meter: its own metrology chain and a supply switch.
fn simulated() -> MeterConfig {
    config(r#"{"kind": "simulated"}"#)
}

/// A DSMR meter: the device keeps registers and calibration; no supply switch.
fn p1() -> MeterConfig {
    config(r#"{"kind": "dsmr", "port": "/dev/ttyUSB0"}"#)
}

fn metrology() -> MetrologyConfig {
    MetrologyConfig::single_phase(4000.0, Calibration::new(0.01, 0.001, 0.0))
}

fn command(action: Action) -> Command {
    Command {
        v: PAYLOAD_VERSION,
        id: 42,
        ts_ms: NOW_MS - 1_000,
        expires_ms: None,
        action,
    }
}

/// Decides `action` for a meter with `relay` whose clock is trusted, on a simulated
/// single-phase chain.
fn decide_with(action: Action, relay: RelayState, config: &MeterConfig) -> Decision {
    let mut state = MeterState::new();
    state.relay = relay;
    let metrology = metrology();
    let situation = Situation {
        state: &state,
        clock_trusted: true,
        chain: if config.source.is_device() {
            Chain::Device("P1 /dev/ttyUSB0")
        } else {
            Chain::Metrology(&metrology)
        },
    };
    decide(&command(action), &situation, config, NOW_MS)
}

fn decide_now(action: Action) -> Decision {
    decide_with(action, RelayState::Connected, &simulated())
}

fn detail(decision: &Decision) -> &str {
    decision.ack.detail.as_deref().unwrap_or_default()
}

fn assert_rejected(decision: &Decision, why: &str) {
    assert_eq!(decision.ack.status, AckStatus::Rejected);
    assert_eq!(decision.outcome, Outcome::Rejected);
    assert_eq!(detail(decision), why);
    assert!(decision.effects.is_empty(), "{:?}", decision.effects);
}

fn reason(text: &str) -> String {
    text.to_owned()
}

#[test]
fn disconnect_opens_the_switch_records_why_and_acks_the_new_state() {
    let decision = decide_now(Action::Disconnect {
        reason: reason("unpaid"),
    });
    assert_eq!(decision.outcome, Outcome::Done);
    assert_eq!(
        decision.ack,
        CommandAck {
            v: PAYLOAD_VERSION,
            seq: 0,
            ts_ms: NOW_MS,
            command_id: 42,
            status: AckStatus::Done,
            relay: Some(RelayState::Disconnected),
            detail: Some("relay disconnected".into()),
        }
    );
    assert_eq!(
        decision.effects,
        vec![Effect::Relay {
            to: RelayState::Disconnected,
            event: event(
                EventKind::Relay,
                EventState::Instant,
                NOW_MS,
                "connected → disconnected: unpaid"
            ),
        }]
    );
}

#[test]
fn reconnect_and_arm_follow_the_dlms_states() {
    let reconnect = decide_with(
        Action::Reconnect {
            reason: reason("paid"),
        },
        RelayState::Disconnected,
        &simulated(),
    );
    assert_eq!(reconnect.ack.relay, Some(RelayState::Connected));
    assert!(matches!(
        reconnect.effects.as_slice(),
        [Effect::Relay {
            to: RelayState::Connected,
            ..
        }]
    ));
    let arm = decide_with(
        Action::ArmReconnect {
            reason: reason("paid"),
        },
        RelayState::Disconnected,
        &simulated(),
    );
    assert_eq!(detail(&arm), "relay ready_for_reconnection");
    assert_eq!(arm.ack.relay, Some(RelayState::ReadyForReconnection));
}

#[test]
fn a_switch_already_where_asked_is_done_without_moving() {
    let decision = decide_now(Action::Reconnect {
        reason: reason("again"),
    });
    assert_eq!(decision.outcome, Outcome::Done);
    assert_eq!(detail(&decision), "relay connected");
    assert_eq!(decision.ack.relay, Some(RelayState::Connected));
    assert!(decision.effects.is_empty());
}

#[test]
fn arming_a_connected_switch_is_rejected() {
    let decision = decide_now(Action::ArmReconnect {
        reason: reason("why"),
    });
    assert_rejected(
        &decision,
        "the supply is connected; there is nothing to arm",
    );
    assert_eq!(decision.ack.relay, Some(RelayState::Connected));
}

#[test]
fn a_meter_without_a_switch_rejects_switching_and_reports_no_relay() {
    let decision = decide_with(
        Action::Disconnect {
            reason: reason("unpaid"),
        },
        RelayState::Connected,
        &p1(),
    );
    assert_rejected(&decision, "this meter has no supply switch");
    assert_eq!(decision.ack.relay, None);
}

#[test]
fn a_load_limit_lasts_its_duration_and_a_null_limit_removes_it() {
    let set = decide_now(Action::LoadLimit {
        limit_w: Some(3_000.0),
        duration_s: Some(60),
    });
    assert_eq!(detail(&set), "load limit set");
    assert_eq!(
        set.effects,
        vec![Effect::LoadLimit(Some(LoadLimit {
            limit_w: 3_000.0,
            until_ms: Some(NOW_MS + 60_000),
        }))]
    );
    let removed = decide_now(Action::LoadLimit {
        limit_w: None,
        duration_s: None,
    });
    assert_eq!(detail(&removed), "load limit removed");
    assert_eq!(removed.effects, vec![Effect::LoadLimit(None)]);
}

#[test]
fn a_valid_schedule_comes_with_its_calendar_and_a_bad_one_is_rejected() {
    let switches = vec![TariffSwitch {
        days: Days::All,
        start: "07:00".into(),
        tariff: 1,
    }];
    let decision = decide_now(Action::TariffSchedule {
        timezone: "Europe/Amsterdam".into(),
        switches: switches.clone(),
        holidays: Vec::new(),
    });
    let schedule = Schedule {
        timezone: "Europe/Amsterdam".into(),
        switches: switches.clone(),
        holidays: Vec::new(),
    };
    let calendar = TouCalendar::new(&schedule).expect("valid");
    assert_eq!(detail(&decision), "tariff schedule in force");
    assert_eq!(
        decision.effects,
        vec![Effect::Schedule { schedule, calendar }]
    );
    let bad = decide_now(Action::TariffSchedule {
        timezone: "Mars/Olympus".into(),
        switches,
        holidays: Vec::new(),
    });
    assert_rejected(&bad, "unknown time zone `Mars/Olympus`");
}

#[test]
fn a_price_signal_keeps_only_prices_not_over_yet() {
    let price = |start_ms, end_ms| PricePoint {
        start_ms,
        end_ms,
        price_per_kwh: 0.25,
    };
    let decision = decide_now(Action::PriceSignal {
        currency: "EUR".into(),
        prices: vec![
            price(NOW_MS - 7_200_000, NOW_MS - 3_600_000),
            price(NOW_MS - 3_600_000, NOW_MS),
            price(NOW_MS, NOW_MS + 3_600_000),
        ],
    });
    assert_eq!(detail(&decision), "prices stored");
    assert_eq!(
        decision.effects,
        vec![Effect::Prices {
            currency: "EUR".into(),
            prices: vec![price(NOW_MS, NOW_MS + 3_600_000)],
        }]
    );
}

#[test]
fn a_time_sync_steps_the_clock_and_says_by_how_much() {
    let decision = decide_now(Action::TimeSync {
        unix_ms: NOW_MS + 2_500,
    });
    assert_eq!(detail(&decision), "clock set");
    assert_eq!(
        decision.effects,
        vec![
            Effect::SyncClock {
                unix_ms: NOW_MS + 2_500
            },
            Effect::Event(event(
                EventKind::Clock,
                EventState::Instant,
                NOW_MS + 2_500,
                "time set by the hub, stepped +2.500 s"
            )),
        ]
    );
}

#[test]
fn a_time_sync_of_an_untrusted_clock_also_ends_the_clock_alarm() {
    let state = MeterState::new();
    let metrology = metrology();
    let situation = Situation {
        state: &state,
        clock_trusted: false,
        chain: Chain::Metrology(&metrology),
    };
    let unix_ms = NOW_MS - 60_000;
    let decision = decide(
        &command(Action::TimeSync { unix_ms }),
        &situation,
        &simulated(),
        NOW_MS,
    );
    assert_eq!(
        decision.effects,
        vec![
            Effect::SyncClock { unix_ms },
            Effect::Event(event(
                EventKind::Clock,
                EventState::Instant,
                unix_ms,
                "time set by the hub, stepped -60.000 s"
            )),
            Effect::TrustClock,
            Effect::Event(event(
                EventKind::Clock,
                EventState::Ended,
                unix_ms,
                "clock set"
            )),
        ]
    );
}

#[test]
fn a_calibration_the_chain_accepts_is_applied() {
    let decision = decide_now(Action::Calibrate {
        phase: 1,
        v_scale: 0.02,
        i_scale: 0.002,
        i_delay_us: 40.0,
    });
    assert_eq!(detail(&decision), "calibration applied");
    assert_eq!(
        decision.effects,
        vec![Effect::Calibrate {
            phase: 1,
            calibration: PhaseCalibration {
                v_scale: 0.02,
                i_scale: 0.002,
                i_delay_us: 40.0,
            },
        }]
    );
}

#[test]
fn a_calibration_the_chain_would_refuse_is_rejected() {
    let missing_phase = decide_now(Action::Calibrate {
        phase: 3,
        v_scale: 0.02,
        i_scale: 0.002,
        i_delay_us: 0.0,
    });
    assert_rejected(
        &missing_phase,
        "metrology configuration: the meter has no phase 3",
    );
    let zero_scale = decide_now(Action::Calibrate {
        phase: 1,
        v_scale: 0.0,
        i_scale: 0.002,
        i_delay_us: 0.0,
    });
    assert_eq!(zero_scale.outcome, Outcome::Rejected);
    assert!(detail(&zero_scale).contains("v_scale"), "{zero_scale:?}");
    let device = decide_with(
        Action::Calibrate {
            phase: 1,
            v_scale: 0.02,
            i_scale: 0.002,
            i_delay_us: 0.0,
        },
        RelayState::Connected,
        &p1(),
    );
    assert_rejected(&device, "P1 /dev/ttyUSB0 calibrates itself");
}

#[test]
fn resetting_maximum_demand_is_one_effect() {
    let decision = decide_now(Action::ResetMaxDemand);
    assert_eq!(detail(&decision), "maximum demand reset");
    assert_eq!(decision.effects, vec![Effect::ResetMaxDemand]);
}

#[test]
fn a_command_past_its_expiry_is_rejected_and_does_nothing() {
    let state = MeterState::new();
    let metrology = metrology();
    let situation = Situation {
        state: &state,
        clock_trusted: true,
        chain: Chain::Metrology(&metrology),
    };
    let mut late = command(Action::Disconnect {
        reason: reason("unpaid"),
    });
    late.expires_ms = Some(NOW_MS - 1);
    let decision = decide(&late, &situation, &simulated(), NOW_MS);
    assert_eq!(decision.outcome, Outcome::Expired);
    assert_eq!(decision.ack.status, AckStatus::Rejected);
    assert_eq!(detail(&decision), "expired before it arrived");
    assert_eq!(decision.ack.relay, Some(RelayState::Connected));
    assert!(decision.effects.is_empty());
    // At its expiry instant a command is still valid.
    late.expires_ms = Some(NOW_MS);
    let decision = decide(&late, &situation, &simulated(), NOW_MS);
    assert_eq!(decision.outcome, Outcome::Done);
}

#[test]
fn action_names_are_the_wire_types() {
    let actions = [
        Action::Disconnect { reason: reason("") },
        Action::Reconnect { reason: reason("") },
        Action::ArmReconnect { reason: reason("") },
        Action::LoadLimit {
            limit_w: None,
            duration_s: None,
        },
        Action::TariffSchedule {
            timezone: "UTC".into(),
            switches: Vec::new(),
            holidays: Vec::new(),
        },
        Action::PriceSignal {
            currency: "EUR".into(),
            prices: Vec::new(),
        },
        Action::TimeSync { unix_ms: 0 },
        Action::Calibrate {
            phase: 1,
            v_scale: 1.0,
            i_scale: 1.0,
            i_delay_us: 0.0,
        },
        Action::ResetMaxDemand,
    ];
    for action in &actions {
        let wire = serde_json::to_value(action).expect("serialises");
        assert_eq!(wire["type"], action_name(action), "{action:?}");
    }
}

#[test]
fn outcomes_name_themselves_for_metrics() {
    let names = [Outcome::Done, Outcome::Rejected, Outcome::Expired].map(Outcome::as_str);
    assert_eq!(names, ["done", "rejected", "expired"]);
}
