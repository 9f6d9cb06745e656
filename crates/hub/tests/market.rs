//! Money alerts and the automation price trigger end to end: `service::serve` (what
//! `joule hub` runs) on Debian's Mosquitto, with billing's forecasts and prices as the
//! market the rules read.
//!
//! Day-ahead prices imported through the API cross a threshold a few seconds later on the
//! hub's manual clock, which the test moves to the crossing instead of waiting for it: the
//! "price above" alert opens once, at the crossing to the millisecond, and resolves when the
//! price falls back; a live automation with a price trigger publishes its MQTT message then
//! and records its run. A meter on a flat plan that used enough has its "bill forecast above budget"
//! alert opened with the forecast the cost API shows.

use joule_clock::{Clock, ManualClock};
use joule_hub::config::HubConfig;
use joule_hub::service;
use joule_protocol::MeterId;
use joule_store::tokens;
use joule_store::{Batch, BillingStore, MeterDetails, NewMeter, Role, SqliteStore, Store, Stored};
use joule_testkit::{Mosquitto, free_port, interval_record};
use std::sync::Arc;
use std::time::Duration;

#[path = "common/accounts.rs"]
mod accounts;
use accounts::password;

#[path = "common/watching.rs"]
mod watching;
use watching::{eventually, listen};

/// 0.25 EUR/kWh and nothing else.
const FLAT: &str = r#"name = "flat"
currency = "EUR"
time_zone = "UTC"

[[versions]]
effective_from = 2026-01-01
import = { kind = "flat", price_per_kwh = 0.25 }
"#;

/// Day-ahead prices of the series `spot`, none where none is stored.
const SPOT: &str = r#"name = "spot"
currency = "EUR"
time_zone = "UTC"

[[versions]]
effective_from = 2026-01-01

[versions.import]
kind = "dynamic"
series = "spot"
"#;

/// A quarter hour, s.
const Q: i64 = 900;

/// A hub serving on Mosquitto, with meter `f-1` (flat plan, 4 kW for the last ten days)
/// and meter `d-1` (dynamic plan, no prices yet), both alice's.
struct Fixture {
    broker: Mosquitto,
    api: joule_testkit::http::Api,
    hub: joule_testkit::Stoppable<service::ServiceError>,
    /// The hub's clock: it starts at the real time and moves only when the test moves it.
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let broker = Mosquitto::start(dir.path(), "allow_anonymous true");
        let store = SqliteStore::open(&dir.path().join("hub.sqlite")).expect("store");
        accounts::add_users(
            &store,
            &[("alice", Role::Consumer), ("olivia", Role::Operator)],
        )
        .await;
        for plan in [FLAT, SPOT] {
            store.put_tariff(plan, 0).await.expect("plan");
        }
        for (id, tariff) in [("f-1", "flat"), ("d-1", "spot")] {
            store
                .add_meter(
                    NewMeter::with_token(
                        MeterId::new(id).expect("id"),
                        MeterDetails {
                            owner: Some("alice".into()),
                            tariff: Some(tariff.into()),
                            ..MeterDetails::default()
                        },
                        &tokens::generate(),
                    ),
                    0,
                )
                .await
                .expect("meter");
        }
        let clock = ManualClock::new(jiff::Timestamp::now().as_millisecond());
        // f-1: 1 kWh a quarter hour (4 kW) for the last ten days, up to the last quarter.
        let now_s = clock.now_ms() / 1000;
        let last_s = now_s - now_s.rem_euclid(Q);
        let quarters = 10 * 96;
        let records: Vec<(MeterId, Stored)> = (0..=quarters)
            .map(|k| {
                let ts_ms = (last_s - (quarters - k) * Q) * 1000;
                let import_mwh = 5_000_000 + u64::try_from(k).expect("k") * 1_000_000;
                let record =
                    interval_record(u64::try_from(k + 1).expect("seq"), ts_ms, import_mwh, 0);
                (MeterId::new("f-1").expect("id"), Stored::Interval(record))
            })
            .collect();
        store
            .write_batch(&Batch {
                messages: records,
                ..Batch::default()
            })
            .await
            .expect("records");

        let http = free_port();
        let config_path = dir.path().join("hub.toml");
        std::fs::write(
            &config_path,
            format!(
                "[broker]\nurl = \"mqtt://127.0.0.1:{}\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n\
                 [alerts]\ntick_ms = 200\n",
                broker.port
            ),
        )
        .expect("config");
        let config = HubConfig::load(Some(&config_path), |_| None).expect("config");
        let store: Arc<dyn Store> = Arc::new(store);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", http))
            .await
            .expect("listen");
        let hub_clock = Arc::clone(&clock);
        let hub = joule_testkit::Stoppable::spawn(move |stopped| {
            service::Hub::with_clock(config, store, hub_clock).serve(listener, stopped)
        });
        tokio::task::spawn_blocking(move || joule_testkit::wait_for_port(http))
            .await
            .expect("API up");
        Self {
            broker,
            api: joule_testkit::http::Api { port: http },
            hub,
            clock,
            _dir: dir,
        }
    }

    async fn login(&self, username: &str) -> Vec<(String, String)> {
        self.api.login(username, &password(username)).await
    }

    /// Imports `spot` prices as CSV: each `(start_s, end_s, price)`.
    async fn import_prices(&self, operator: &[(String, String)], points: &[(i64, i64, &str)]) {
        let at = |s: i64| {
            jiff::Timestamp::from_second(s)
                .expect("instant")
                .to_string()
        };
        let mut csv = String::from("start,end,price_per_kwh\n");
        for (start_s, end_s, price) in points {
            csv.push_str(&format!("{},{},{price}\n", at(*start_s), at(*end_s)));
        }
        let response = self
            .api
            .call(
                operator,
                "POST",
                "/api/v1/prices/spot?format=csv",
                Some(&csv),
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.json()["stored"], points.len());
    }

    /// Alice's alerts with `condition`.
    async fn alerts(&self, alice: &[(String, String)], condition: &str) -> Vec<serde_json::Value> {
        let list = self
            .api
            .call(alice, "GET", "/api/v1/alerts", None)
            .await
            .json();
        list.as_array()
            .expect("a list")
            .iter()
            .filter(|alert| alert["condition"] == condition)
            .cloned()
            .collect()
    }
}

/// Now, Unix s.
impl Fixture {
    /// The hub's time now, s.
    fn now_s(&self) -> i64 {
        self.clock.now_ms() / 1000
    }

    /// Moves the hub's clock to `at_s`.
    fn set_time_s(&self, at_s: i64) {
        self.clock.set_ms(at_s * 1000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_alerts_fire_once_from_imported_prices_and_the_bill_forecast() {
    let hub = Fixture::start().await;
    let alice = hub.login("alice").await;
    let olivia = hub.login("olivia").await;
    let price_rule = serde_json::json!({
        "name": "expensive hour",
        "condition": {"type": "price_above", "threshold_per_kwh": 0.30},
        "meters": ["d-1"],
        "cooldown_s": 0,
    });
    watching::create(&hub.api, &alice, "/api/v1/alert-rules", &price_rule).await;
    let budget_rule = serde_json::json!({
        "name": "monthly budget",
        "condition": {"type": "bill_forecast_above", "budget": 100.0},
        "meters": ["f-1"],
    });
    watching::create(&hub.api, &alice, "/api/v1/alert-rules", &budget_rule).await;

    // f-1 used 960 kWh at 0.25 EUR in ten days: whatever the day of the month, its
    // forecast is well above 100 EUR.
    let alert = eventually("the bill forecast alert", || async {
        hub.alerts(&alice, "bill_forecast_above").await.pop()
    })
    .await;
    assert_eq!(alert["meter"], "f-1");
    assert_eq!(alert["state"], "open");
    let value = alert["value"].as_f64().expect("the forecast");
    let cost = hub
        .api
        .call(&alice, "GET", "/api/v1/meters/f-1/cost", None)
        .await;
    assert_eq!(cost.status, 200, "{}", cost.body);
    let shown: f64 = cost.json()["forecast"]["total"]
        .as_str()
        .expect("total")
        .parse()
        .expect("a decimal");
    assert!(value > 100.0, "{alert}");
    assert!(
        (value - shown).abs() <= shown * 0.01,
        "alert {value}, cost API {shown}"
    );

    // 0.20 until `rise_s`, 0.45 for four seconds, then 0.10: one alert, open at the
    // rise, resolved at the fall, without any further import.
    let start_s = hub.now_s();
    let (rise_s, fall_s) = (start_s + 6, start_s + 10);
    hub.import_prices(
        &olivia,
        &[
            (start_s - 3600, rise_s, "0.20"),
            (rise_s, fall_s, "0.45"),
            (fall_s, start_s + 3600, "0.10"),
        ],
    )
    .await;
    hub.set_time_s(rise_s);
    let opened = eventually("the price alert", || async {
        hub.alerts(&alice, "price_above").await.pop()
    })
    .await;
    assert_eq!(opened["meter"], "d-1");
    assert_eq!(opened["value"], 0.45, "{opened}");
    assert_eq!(
        opened["opened_ms"],
        rise_s * 1000,
        "opened at the rise: {opened}"
    );
    hub.set_time_s(fall_s);
    let resolved = eventually("the price alert resolved", || async {
        let alerts = hub.alerts(&alice, "price_above").await;
        alerts
            .iter()
            .all(|alert| alert["state"] == "resolved")
            .then_some(alerts)
    })
    .await;
    assert_eq!(resolved.len(), 1, "fired once: {resolved:?}");
    assert_eq!(resolved[0]["resolved_by"], "condition cleared");
    assert_eq!(resolved[0]["resolved_ms"], fall_s * 1000, "{resolved:?}");
    // Still one each a few ticks later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hub.alerts(&alice, "price_above").await.len(), 1);
    assert_eq!(hub.alerts(&alice, "bill_forecast_above").await.len(), 1);
    hub.hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_price_automation_publishes_when_the_price_rises_and_records_its_run() {
    let hub = Fixture::start().await;
    let olivia = hub.login("olivia").await;
    let (_switch, mut home) = listen(hub.broker.port, "home-switch", &["home/#".into()]).await;
    let rule = serde_json::json!({
        "name": "boiler off when power is dear",
        "trigger": {"type": "price", "meter": "d-1", "above": 0.30},
        "actions": [{"type": "mqtt_publish", "topic": "home/boiler/set", "payload": "OFF"}],
    });
    let rule = watching::create(&hub.api, &olivia, "/api/v1/automations", &rule).await;
    let id = rule["id"].as_u64().expect("id");

    let start_s = hub.now_s();
    let rise_s = start_s + 6;
    hub.import_prices(
        &olivia,
        &[
            (start_s - 3600, rise_s, "0.20"),
            (rise_s, start_s + 3600, "0.45"),
        ],
    )
    .await;
    hub.set_time_s(rise_s);
    let (topic, payload) = tokio::time::timeout(Duration::from_secs(30), home.recv())
        .await
        .expect("the switch message")
        .expect("message");
    assert_eq!(
        (topic.as_str(), payload.as_slice()),
        ("home/boiler/set", b"OFF".as_slice())
    );
    let path = format!("/api/v1/automations/{id}/runs");
    let runs = eventually("the run", || async {
        let runs = hub.api.call(&olivia, "GET", &path, None).await.json();
        runs.as_array().filter(|runs| !runs.is_empty()).cloned()
    })
    .await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["dry_run"], false);
    assert_eq!(runs[0]["ts_ms"], rise_s * 1000, "{runs:?}");
    let reason = runs[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("d-1 price 0.45"), "{reason}");
    assert_eq!(runs[0]["outcomes"][0]["ok"], true, "{runs:?}");
    // The price stays high: no second run.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let runs = hub.api.call(&olivia, "GET", &path, None).await.json();
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
    assert!(home.try_recv().is_err(), "one message");
    hub.hub.stop().await;
}
