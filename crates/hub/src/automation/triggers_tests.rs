use super::*;
use crate::automation::rules::{AutomationAction, DrEventSpec};
use crate::market::Unpriced;

/// 2026-11-23 00:00:00 UTC, a Monday.
const T0: i64 = 1_795_392_000_000;

fn rule(id: u64, trigger: Trigger) -> AutomationRule {
    AutomationRule {
        id,
        owner: "olivia".into(),
        spec: AutomationSpec {
            name: "r".into(),
            trigger,
            actions: vec![AutomationAction::MqttPublish {
                topic: "home/switch".into(),
                payload: "OFF".into(),
                retain: false,
            }],
            dry_run: false,
            enabled: true,
        },
        updated_ms: 0,
    }
}

fn triggers(rules: Vec<AutomationRule>) -> Triggers {
    let mut triggers = Triggers::default();
    triggers.set_rules(rules);
    triggers
}

fn reading(ts_ms: i64, p_w: f64) -> LiveReading {
    LiveReading {
        ts_ms,
        p_w,
        ..joule_testkit::reading(1, 0)
    }
}

fn no_feeder(_: &str) -> Option<String> {
    None
}

#[test]
fn consumption_fires_once_per_occurrence() {
    let mut t = triggers(vec![rule(
        1,
        Trigger::Consumption {
            meter: "m-1".into(),
            above_w: Some(3000.0),
            below_w: None,
            for_s: 5,
        },
    )]);
    let m = MeterId::new("m-1").expect("id");
    let other = MeterId::new("m-2").expect("id");
    let mut at =
        |meter: &MeterId, s: i64, p_w: f64| t.observe(meter, &reading(T0 + s * 1000, p_w)).len();
    assert_eq!(at(&m, 0, 3500.0), 0);
    assert_eq!(at(&other, 6, 9000.0), 0, "another meter");
    assert_eq!(at(&m, 5, 3500.0), 1);
    assert_eq!(at(&m, 6, 3500.0), 0, "once while it holds");
    assert_eq!(at(&m, 7, 100.0), 0);
    assert_eq!(at(&m, 8, 3500.0), 0);
    assert_eq!(at(&m, 13, 3500.0), 1, "a new occurrence");
}

#[test]
fn schedules_fire_at_their_local_time_on_their_weekdays() {
    let mut t = triggers(vec![
        rule(
            1,
            Trigger::Schedule {
                at: "07:30".into(),
                timezone: "Europe/Amsterdam".into(),
                weekdays: vec![1, 2, 3, 4, 5],
            },
        ),
        rule(
            2,
            Trigger::Schedule {
                at: "07:30".into(),
                timezone: "Europe/Amsterdam".into(),
                weekdays: vec![6, 7],
            },
        ),
    ]);
    assert!(
        t.tick(T0, &[], &no_feeder, &Unpriced).is_empty(),
        "first tick starts the clock"
    );
    // 07:30 in Amsterdam is 06:30 UTC in November.
    let before = T0 + 6 * 3_600_000 + 29 * 60_000;
    assert!(t.tick(before, &[], &no_feeder, &Unpriced).is_empty());
    let fired = t.tick(before + 60_000, &[], &no_feeder, &Unpriced);
    assert_eq!(
        fired.iter().map(|f| f.rule_id).collect::<Vec<_>>(),
        [1],
        "Monday only"
    );
    assert!(
        t.tick(before + 120_000, &[], &no_feeder, &Unpriced)
            .is_empty(),
        "once"
    );
}

#[test]
fn dr_events_fire_at_their_edges_for_matching_scopes() {
    let mut t = triggers(vec![
        rule(
            1,
            Trigger::DemandResponse {
                at: DrEdge::Start,
                feeder: Some("F1".into()),
                meter: None,
            },
        ),
        rule(
            2,
            Trigger::DemandResponse {
                at: DrEdge::End,
                feeder: None,
                meter: Some("m-9".into()),
            },
        ),
        rule(
            3,
            Trigger::DemandResponse {
                at: DrEdge::Start,
                feeder: Some("F2".into()),
                meter: None,
            },
        ),
    ]);
    let event = DrEvent {
        id: 4,
        created_by: "olivia".into(),
        spec: DrEventSpec {
            name: "evening peak".into(),
            start_ms: T0 + 10_000,
            end_ms: T0 + 20_000,
            feeder: Some("F1".into()),
            meters: Vec::new(),
            target_kw: Some(50.0),
        },
    };
    let feeder_of = |meter: &str| (meter == "m-9").then(|| "F1".to_owned());
    let events = [event];
    assert!(t.tick(T0, &events, &feeder_of, &Unpriced).is_empty());
    let start = t.tick(T0 + 10_000, &events, &feeder_of, &Unpriced);
    assert_eq!(start.iter().map(|f| f.rule_id).collect::<Vec<_>>(), [1]);
    assert!(start[0].reason.contains("evening peak"));
    assert!(
        t.tick(T0 + 15_000, &events, &feeder_of, &Unpriced)
            .is_empty()
    );
    let end = t.tick(T0 + 25_000, &events, &feeder_of, &Unpriced);
    assert_eq!(
        end.iter().map(|f| f.rule_id).collect::<Vec<_>>(),
        [2],
        "m-9 is on the event's feeder"
    );
}

#[derive(Debug)]
struct Price(f64);

impl MarketInputs for Price {
    fn bill_forecast(&self, _meter: &MeterId, _now_ms: i64) -> Option<f64> {
        None
    }

    fn price_per_kwh(&self, _meter: &MeterId, _now_ms: i64) -> Option<f64> {
        Some(self.0)
    }
}

#[test]
fn price_thresholds_fire_when_crossed() {
    let mut t = triggers(vec![rule(
        1,
        Trigger::Price {
            meter: "m-1".into(),
            above: None,
            below: Some(0.10),
        },
    )]);
    assert!(t.tick(T0, &[], &no_feeder, &Price(0.05)).is_empty());
    assert_eq!(t.tick(T0 + 1, &[], &no_feeder, &Price(0.05)).len(), 1);
    assert!(t.tick(T0 + 2, &[], &no_feeder, &Price(0.04)).is_empty());
    assert!(t.tick(T0 + 3, &[], &no_feeder, &Unpriced).is_empty());
    assert!(t.tick(T0 + 4, &[], &no_feeder, &Price(0.30)).is_empty());
    assert_eq!(t.tick(T0 + 5, &[], &no_feeder, &Price(0.02)).len(), 1);
}

#[test]
fn specs_are_checked() {
    let ok = rule(
        1,
        Trigger::Schedule {
            at: "23:59".into(),
            timezone: "UTC".into(),
            weekdays: Vec::new(),
        },
    )
    .spec;
    assert!(ok.validate("joule").is_ok());
    let mut own_topic = ok.clone();
    own_topic.actions = vec![AutomationAction::MqttPublish {
        topic: "joule/v1/meters/m-1/cmd".into(),
        payload: "{}".into(),
        retain: false,
    }];
    assert!(
        own_topic.validate("joule").is_err(),
        "meters are commanded through commands"
    );
    let mut time_sync = ok.clone();
    time_sync.actions = vec![AutomationAction::MeterCommand {
        meter: "m-1".into(),
        action: joule_protocol::Action::TimeSync { unix_ms: 0 },
    }];
    assert!(time_sync.validate("joule").is_err());
    let mut bad_time = ok;
    bad_time.trigger = Trigger::Schedule {
        at: "25:00".into(),
        timezone: "UTC".into(),
        weekdays: Vec::new(),
    };
    assert!(bad_time.validate("joule").is_err());
}
