use super::*;
use crate::alerts::rules::AlertRuleSpec;
use joule_protocol::Registers;

/// 2026-11-23 00:00:00 UTC.
const T0: i64 = 1_795_392_000_000;

fn meter() -> MeterId {
    MeterId::new("m-1").expect("id")
}

fn engine(condition: Condition, cooldown_s: u32) -> Engine {
    let mut engine = Engine::default();
    engine.set_rules(vec![ScopedRule {
        rule: AlertRule {
            id: 7,
            owner: "alice".into(),
            spec: AlertRuleSpec {
                name: "r".into(),
                condition,
                meters: Vec::new(),
                channels: Vec::new(),
                cooldown_s,
                enabled: true,
            },
            updated_ms: 0,
        },
        meters: [meter()].into(),
    }]);
    engine
}

fn reading(ts_ms: i64, p_w: f64, voltage_v: f64, import_mwh: u64) -> LiveReading {
    LiveReading {
        ts_ms,
        p_w,
        voltage_v,
        registers: Registers {
            import_mwh,
            ..Registers::default()
        },
        ..joule_testkit::reading(1, 0)
    }
}

fn event(ts_ms: i64, kind: EventKind, state: EventState) -> EventMessage {
    serde_json::from_value(serde_json::json!({
        "v": 1, "seq": 1, "ts_ms": ts_ms, "kind": kind, "state": state,
    }))
    .expect("an event")
}

fn kinds(changes: &[Change]) -> Vec<&'static str> {
    changes
        .iter()
        .map(|c| match c.kind {
            ChangeKind::Raise { .. } => "raise",
            ChangeKind::Clear => "clear",
        })
        .collect()
}

fn power(engine: &mut Engine, s: i64, p_w: f64) -> Vec<&'static str> {
    kinds(&engine.observe(
        &meter(),
        Observation::Reading(&reading(T0 + s * 1000, p_w, 230.0, 0)),
    ))
}

#[test]
fn power_above_raises_once_after_its_duration_and_clears() {
    let mut engine = engine(
        Condition::PowerAbove {
            threshold_w: 3000.0,
            for_s: 10,
        },
        0,
    );
    assert!(power(&mut engine, 0, 3500.0).is_empty());
    assert!(power(&mut engine, 9, 3500.0).is_empty(), "not yet 10 s");
    assert_eq!(power(&mut engine, 10, 3600.0), ["raise"]);
    assert!(power(&mut engine, 11, 3700.0).is_empty(), "deduplicated");
    engine.forget(7, &meter(), "power_above");
    assert!(
        power(&mut engine, 11, 3700.0).is_empty(),
        "resolved by a user: not again while it holds"
    );
    assert_eq!(power(&mut engine, 12, 100.0), ["clear"]);
    assert!(power(&mut engine, 13, 100.0).is_empty());
    // A dip below the threshold restarts the duration.
    assert!(power(&mut engine, 14, 3500.0).is_empty());
    assert!(power(&mut engine, 15, 10.0).is_empty());
    assert!(power(&mut engine, 20, 3500.0).is_empty());
    assert_eq!(power(&mut engine, 30, 3500.0), ["raise"]);
}

#[test]
fn a_cooldown_holds_back_a_flapping_condition_until_it_ends() {
    let mut engine = engine(
        Condition::PowerAbove {
            threshold_w: 3000.0,
            for_s: 0,
        },
        60,
    );
    assert_eq!(power(&mut engine, 0, 3500.0), ["raise"]);
    assert_eq!(power(&mut engine, 1, 0.0), ["clear"]);
    assert!(power(&mut engine, 2, 3500.0).is_empty(), "cooling down");
    assert!(kinds(&engine.tick(T0 + 30_000, &crate::market::Unpriced)).is_empty());
    assert_eq!(
        kinds(&engine.tick(T0 + 61_000, &crate::market::Unpriced)),
        ["raise"],
        "still holding when the cool-down ends"
    );
}

#[test]
fn daily_energy_counts_from_the_local_day_start() {
    let mut engine = engine(
        Condition::DailyEnergyAbove {
            budget_wh: 1000.0,
            timezone: "Europe/Amsterdam".into(),
        },
        0,
    );
    let mut at = |ts_ms: i64, import_mwh: u64| {
        kinds(&engine.observe(
            &meter(),
            Observation::Reading(&reading(ts_ms, 0.0, 230.0, import_mwh)),
        ))
    };
    // 22:00 UTC is 23:00 in Amsterdam: the day starts at 23:00 UTC.
    let day = T0 - 2 * 3_600_000;
    assert!(at(day, 5_000_000).is_empty());
    assert!(at(day + 1_000, 5_900_000).is_empty());
    assert_eq!(at(day + 2_000, 6_000_001), ["raise"]);
    // Past local midnight a new day begins from its first reading.
    assert_eq!(at(T0 - 3_600_000 + 1, 6_100_000), ["clear"]);
    assert!(at(T0, 6_200_000).is_empty());
}

#[test]
fn tamper_events_raise_per_kind_and_end_with_their_condition() {
    let mut engine = engine(Condition::Tamper, 0);
    let mut send = |kind, state| {
        engine
            .observe(&meter(), Observation::Event(&event(T0, kind, state)))
            .into_iter()
            .map(|c| (c.condition.clone(), kinds(std::slice::from_ref(&c))[0]))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        send(EventKind::CoverOpen, EventState::Started),
        [("cover_open".to_owned(), "raise")]
    );
    assert!(send(EventKind::CoverOpen, EventState::Started).is_empty());
    assert_eq!(
        send(EventKind::MagneticField, EventState::Instant),
        [("magnetic_field".to_owned(), "raise")]
    );
    assert!(send(EventKind::Sag, EventState::Started).is_empty());
    assert_eq!(
        send(EventKind::CoverOpen, EventState::Ended),
        [("cover_open".to_owned(), "clear")]
    );
    // A moment's tamper stays until a user resolves it; then the next one raises again.
    assert!(send(EventKind::MagneticField, EventState::Instant).is_empty());
    engine.forget(7, &meter(), "magnetic_field");
    let again = engine.observe(
        &meter(),
        Observation::Event(&event(T0, EventKind::MagneticField, EventState::Instant)),
    );
    assert_eq!(kinds(&again), ["raise"]);
}

#[test]
fn outage_follows_power_events_and_presence() {
    let mut engine = engine(Condition::Outage, 0);
    let down = event(T0, EventKind::PowerDown, EventState::Instant);
    let up = event(T0 + 5_000, EventKind::PowerUp, EventState::Instant);
    assert_eq!(
        kinds(&engine.observe(&meter(), Observation::Event(&down))),
        ["raise"]
    );
    assert!(kinds(&engine.observe(&meter(), Observation::Presence(false, T0))).is_empty());
    assert_eq!(
        kinds(&engine.observe(&meter(), Observation::Event(&up))),
        ["clear"]
    );
    assert_eq!(
        kinds(&engine.observe(&meter(), Observation::Presence(false, T0 + 9_000))),
        ["raise"]
    );
    assert_eq!(
        kinds(&engine.observe(&meter(), Observation::Presence(true, T0 + 9_500))),
        ["clear"]
    );
}

#[test]
fn offline_is_silence_longer_than_the_rule_allows() {
    let mut engine = engine(Condition::Offline { for_s: 60 }, 0);
    let none = crate::market::Unpriced;
    assert!(engine.tick(T0, &none).is_empty(), "never heard: unknown");
    engine.heard(&meter(), T0);
    assert!(
        engine
            .observe(&meter(), Observation::Presence(false, T0 + 1_000))
            .is_empty()
    );
    assert!(engine.tick(T0 + 59_000, &none).is_empty());
    let raised = engine.tick(T0 + 60_000, &none);
    assert_eq!(kinds(&raised), ["raise"]);
    assert!(engine.tick(T0 + 120_000, &none).is_empty());
    let back = engine.observe(
        &meter(),
        Observation::Reading(&reading(T0 + 121_000, 0.0, 230.0, 0)),
    );
    assert_eq!(kinds(&back), ["clear"]);
}

#[test]
fn voltage_out_of_range_for_its_duration() {
    let mut engine = engine(
        Condition::VoltageOutOfRange {
            min_v: 207.0,
            max_v: 253.0,
            for_s: 2,
        },
        0,
    );
    let mut volts = |s: i64, voltage_v: f64| {
        kinds(&engine.observe(
            &meter(),
            Observation::Reading(&reading(T0 + s * 1000, 0.0, voltage_v, 0)),
        ))
    };
    assert!(volts(0, 260.0).is_empty());
    assert_eq!(volts(2, 199.0), ["raise"]);
    assert_eq!(volts(3, 230.0), ["clear"]);
}

/// Money figures as billing would give them: fixed numbers.
#[derive(Debug)]
struct Figures {
    forecast: Option<f64>,
    price: Option<f64>,
}

impl MarketInputs for Figures {
    fn bill_forecast(&self, _meter: &MeterId, _now_ms: i64) -> Option<f64> {
        self.forecast
    }

    fn price_per_kwh(&self, _meter: &MeterId, _now_ms: i64) -> Option<f64> {
        self.price
    }
}

#[test]
fn bill_forecast_and_price_rules_read_the_market_inputs() {
    let mut bill = engine(Condition::BillForecastAbove { budget: 80.0 }, 0);
    let figures = |forecast, price| Figures { forecast, price };
    assert!(bill.tick(T0, &crate::market::Unpriced).is_empty());
    assert!(bill.tick(T0, &figures(Some(79.0), None)).is_empty());
    let raised = bill.tick(T0 + 1, &figures(Some(92.5), None));
    assert_eq!(raised.len(), 1);
    assert_eq!(
        raised[0].kind,
        ChangeKind::Raise {
            message: "bill forecast 92.50 above 80.00".into(),
            value: Some(92.5)
        }
    );
    assert!(bill.tick(T0 + 2, &figures(Some(95.0), None)).is_empty());
    assert_eq!(
        kinds(&bill.tick(T0 + 3, &figures(Some(70.0), None))),
        ["clear"]
    );

    let mut price = engine(
        Condition::PriceAbove {
            threshold_per_kwh: 0.40,
        },
        0,
    );
    assert_eq!(
        kinds(&price.tick(T0, &figures(None, Some(0.52)))),
        ["raise"]
    );
    assert!(
        price.tick(T0 + 1, &figures(None, None)).is_empty(),
        "unknown: no change"
    );
    assert_eq!(
        kinds(&price.tick(T0 + 2, &figures(None, Some(0.1)))),
        ["clear"]
    );
}

#[test]
fn rules_apply_only_to_their_meters_and_keep_state_while_unchanged() {
    let mut engine = engine(
        Condition::PowerAbove {
            threshold_w: 1.0,
            for_s: 0,
        },
        0,
    );
    let other = MeterId::new("m-2").expect("id");
    let high = reading(T0, 10.0, 230.0, 0);
    assert!(
        engine
            .observe(&other, Observation::Reading(&high))
            .is_empty()
    );
    assert_eq!(power(&mut engine, 0, 10.0), ["raise"]);
    let rules = engine.rules.clone();
    engine.set_rules(rules.clone());
    assert!(
        power(&mut engine, 1, 10.0).is_empty(),
        "same rule: latch kept"
    );
    let mut changed = rules;
    changed[0].rule.updated_ms = 1;
    engine.set_rules(changed);
    assert_eq!(
        power(&mut engine, 2, 10.0),
        ["raise"],
        "replaced rule: fresh"
    );
}

#[test]
fn an_alert_restored_after_a_restart_resolves_when_its_condition_clears() {
    let mut engine = engine(
        Condition::PowerAbove {
            threshold_w: 3000.0,
            for_s: 0,
        },
        0,
    );
    engine.restore(7, &meter(), "power_above");
    assert!(power(&mut engine, 0, 3500.0).is_empty(), "raised already");
    assert_eq!(power(&mut engine, 1, 100.0), ["clear"]);
}
