//! Billing through the real HTTP API of a running hub (embedded broker, SQLite) with
//! stored interval records: tariffs are checked and never changed retroactively, prices
//! arrive by CSV import and from an HTTP price source on 127.0.0.1, a billing run bills
//! June 2026 to the hand-computed totals, a closed month is billed again only on request,
//! consumers see their own bills (JSON and printable HTML), a run lists its bills, cost (now
//! and per hour or day) and insights are served with what they rest on.

use joule_hub::config::HubConfig;
use joule_hub::service::Hub;
use joule_protocol::MeterId;
use joule_store::{Batch, MeterDetails, NewMeter, Role, SqliteStore, Store, Stored, UserRecord};
use joule_store::{passwords, tokens};
use joule_testkit::http::{Response, request_typed};
use joule_testkit::{free_port, interval_record, wait_for_port};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// 2026-06-01 00:00 UTC, s.
const JUNE: i64 = 1_780_272_000;
/// A quarter hour, s.
const Q: i64 = 900;
/// Quarter hours in June.
const JUNE_QUARTERS: i64 = 30 * 96;

/// 0.25 EUR/kWh, 5.00 EUR a month, 21 % VAT.
const FLAT: &str = r#"name = "flat-eu"
currency = "EUR"
time_zone = "UTC"

[[versions]]
effective_from = 2026-01-01
import = { kind = "flat", price_per_kwh = 0.25 }
fixed = { per_month = 5.00 }
taxes = [{ name = "VAT", percent = 21 }]
"#;

/// Day-ahead prices from the series `epex`, 0.30 EUR/kWh where there is none.
const DYNAMIC: &str = r#"name = "dyn"
currency = "EUR"
time_zone = "UTC"

[[versions]]
effective_from = 2026-01-01

[versions.import]
kind = "dynamic"
series = "epex"
fallback_price_per_kwh = 0.30
"#;

/// 0.20 EUR/kWh and nothing else (for easy figures today).
const SIMPLE: &str = r#"name = "simple"
currency = "EUR"
time_zone = "UTC"

[[versions]]
effective_from = 2026-01-01
import = { kind = "flat", price_per_kwh = 0.20 }
"#;

fn password(username: &str) -> String {
    format!("password-of-{username}")
}

/// Stores interval records of `meter`: one every quarter hour ending at `first_s` + k·Q for
/// k in `quarters`, `per_quarter_mwh` each, leaving out the quarters in `missing`.
async fn store_records(
    store: &SqliteStore,
    meter: &str,
    first_s: i64,
    quarters: std::ops::RangeInclusive<i64>,
    per_quarter_mwh: u64,
    missing: &[i64],
) {
    let id = MeterId::new(meter).expect("id");
    let messages: Vec<(MeterId, Stored)> = quarters
        .filter(|k| !missing.contains(k))
        .map(|k| {
            let n = u64::try_from(k - i64::MIN / 2).unwrap_or(0) % 1_000_000_000 + 1;
            let import = 1_000_000 + u64::try_from(k).unwrap_or(0) * per_quarter_mwh;
            (
                id.clone(),
                Stored::Interval(interval_record(n, (first_s + k * Q) * 1000, import, 0)),
            )
        })
        .collect();
    for chunk in messages.chunks(1000) {
        store
            .write_batch(&Batch {
                messages: chunk.to_vec(),
                ..Batch::default()
            })
            .await
            .expect("records");
    }
}

/// Serves `body` to every HTTP request on 127.0.0.1 and counts the requests.
async fn price_server(body: String) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            counter.fetch_add(1, Ordering::Relaxed);
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (port, hits)
}

/// Hourly prices of one UTC day in the tariff crate's JSON.
fn day_prices_json(day_start_s: i64, price: &str) -> String {
    let points: Vec<serde_json::Value> = (0..24)
        .map(|h| {
            let at = |s: i64| {
                jiff::Timestamp::from_second(s)
                    .expect("instant")
                    .to_string()
            };
            serde_json::json!({
                "start": at(day_start_s + h * 3600),
                "end": at(day_start_s + (h + 1) * 3600),
                "price_per_kwh": price,
            })
        })
        .collect();
    serde_json::Value::Array(points).to_string()
}

struct Fixture {
    http: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    hub: Option<tokio::task::JoinHandle<Result<(), joule_hub::service::ServiceError>>>,
    /// The last quarter-hour end with a record of h-3, s.
    h3_last_s: i64,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start(price_port: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("hub.sqlite")).expect("store");
        for (username, role) in [
            ("alice", Role::Consumer),
            ("bob", Role::Consumer),
            ("olivia", Role::Operator),
        ] {
            store
                .add_user(UserRecord {
                    username: username.into(),
                    role,
                    password_hash: passwords::hash(&password(username)).expect("hash"),
                    created_ms: 0,
                })
                .await
                .expect("user");
        }
        for (id, owner, tariff) in [
            ("h-1", "alice", "flat-eu"),
            ("h-2", "bob", "dyn"),
            ("h-3", "alice", "simple"),
        ] {
            store
                .add_meter(
                    NewMeter::with_token(
                        MeterId::new(id).expect("id"),
                        MeterDetails {
                            owner: Some(owner.into()),
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
        // June: h-1 uses 1 kW (250 Wh a quarter) and one record is missing; h-2 0.5 kW.
        store_records(&store, "h-1", JUNE, 0..=JUNE_QUARTERS, 250_000, &[900]).await;
        store_records(&store, "h-2", JUNE, 0..=JUNE_QUARTERS, 125_000, &[]).await;
        // h-3: 1 kW over the last two days, up to the last quarter hour.
        let now_s = jiff::Timestamp::now().as_second();
        let h3_last_s = now_s - now_s.rem_euclid(Q);
        store_records(&store, "h-3", h3_last_s - 192 * Q, 0..=192, 250_000, &[]).await;

        let mqtt = free_port();
        let config_path = dir.path().join("hub.toml");
        std::fs::write(
            &config_path,
            format!(
                "[broker]\nlisten = \"127.0.0.1:{mqtt}\"\n\n[billing]\n\
                 grid_intensity_g_per_kwh = 400\n\n[[billing.price_sources]]\n\
                 market = \"epex\"\nurl = \"http://127.0.0.1:{price_port}/day-ahead.json\"\n\
                 every_s = 10\n"
            ),
        )
        .expect("config");
        let config = HubConfig::load(Some(&config_path), |_| None).expect("config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let http = listener.local_addr().expect("addr").port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let hub = tokio::spawn(Hub::new(config, Arc::new(store)).serve(listener, async {
            let _ = stopped.await;
        }));
        tokio::task::spawn_blocking(move || wait_for_port(mqtt))
            .await
            .expect("broker up");
        Self {
            http,
            stop: Some(stop),
            hub: Some(hub),
            h3_last_s,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(hub) = self.hub.take() {
            hub.await.expect("hub task").expect("hub stopped cleanly");
        }
    }

    async fn login(&self, username: &str) -> Vec<(String, String)> {
        joule_testkit::http::login(self.http, username, &password(username)).await
    }

    async fn call(
        &self,
        headers: &[(String, String)],
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Response {
        joule_testkit::http::call(self.http, headers, method, path, body).await
    }

    async fn add_tariff(&self, operator: &[(String, String)], toml: &str) -> Response {
        let body = serde_json::json!({ "toml": toml }).to_string();
        self.call(operator, "POST", "/api/v1/tariffs", Some(&body))
            .await
    }

    /// Starts a run and waits for its end; returns the finished run.
    async fn run(&self, operator: &[(String, String)], body: &str) -> serde_json::Value {
        let started = self
            .call(operator, "POST", "/api/v1/billing/runs", Some(body))
            .await;
        assert_eq!(started.status, 202, "{}", started.body);
        let path = format!("/api/v1/billing/runs/{}", started.json()["id"]);
        for _ in 0..300 {
            let run = self.call(operator, "GET", &path, None).await.json();
            assert!(run["meters_done"].as_u64() <= run["meters_total"].as_u64());
            if run["status"] != "running" {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the billing run did not finish");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_is_billed_to_the_hand_computed_totals() {
    let june_2 = JUNE + 86_400;
    let (price_port, hits) = price_server(day_prices_json(june_2, "0.05")).await;
    let hub = Fixture::start(price_port).await;
    let olivia = hub.login("olivia").await;
    let (alice, bob) = (hub.login("alice").await, hub.login("bob").await);

    // Plans: checked on the way in, with the line of the problem.
    for plan in [FLAT, DYNAMIC, SIMPLE] {
        let added = hub.add_tariff(&olivia, plan).await;
        assert_eq!(added.status, 201, "{}", added.body);
    }
    let broken = hub
        .add_tariff(&olivia, &FLAT.replace("\"flat\"", "\"flatt\""))
        .await;
    assert_eq!(broken.status, 400);
    assert_eq!(broken.json()["code"], "invalid_tariff");
    let message = broken.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("line 7") && message.contains("flatt"),
        "{message}"
    );
    assert_eq!(hub.add_tariff(&alice, SIMPLE).await.status, 403);
    // The January price is in force: changing it is refused; a later version is not.
    let retroactive = serde_json::json!({ "toml": FLAT.replace("0.25", "0.24") }).to_string();
    let refused = hub
        .call(
            &olivia,
            "PUT",
            "/api/v1/tariffs/flat-eu",
            Some(&retroactive),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.json()["code"], "retroactive_tariff_change");

    // Prices: June 1 from CSV (0.10 until noon, 0.20 after), June 2 from the HTTP source.
    let mut csv = String::from("start,end,price_per_kwh\n");
    for h in 0..24 {
        let at = |s: i64| {
            jiff::Timestamp::from_second(s)
                .expect("instant")
                .to_string()
        };
        let price = if h < 12 { "0.10" } else { "0.20" };
        csv.push_str(&format!(
            "{},{},{price}\n",
            at(JUNE + h * 3600),
            at(JUNE + (h + 1) * 3600)
        ));
    }
    let headers: Vec<(&str, &str)> = olivia
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let imported = request_typed(
        hub.http,
        "POST",
        "/api/v1/prices/epex",
        &headers,
        Some(&csv),
        "text/csv",
    )
    .await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert_eq!(imported.json()["stored"], 24);
    let bad = request_typed(
        hub.http,
        "POST",
        "/api/v1/prices/epex",
        &headers,
        Some("start,end\nx"),
        "text/csv",
    )
    .await;
    assert_eq!(
        (bad.status, bad.json()["code"].as_str()),
        (400, Some("invalid_prices"))
    );
    let june_2_prices = format!(
        "/api/v1/prices/epex?from_ms={}&to_ms={}",
        june_2 * 1000,
        (june_2 + 86_400) * 1000
    );
    let mut fetched = 0;
    for _ in 0..100 {
        fetched = hub
            .call(&bob, "GET", &june_2_prices, None)
            .await
            .json()
            .as_array()
            .map_or(0, Vec::len);
        if fetched == 24 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fetched, 24, "the price source was fetched");
    assert!(hits.load(Ordering::Relaxed) >= 1);

    let run = hub.run(&olivia, r#"{"period":"2026-06"}"#).await;
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(
        (run["meters_done"].as_u64(), run["meters_total"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(run["summary"]["billed"], 3, "{run}");
    // h-1: 720 kWh × 0.25 = 180.00, + 5.00 a month, + 21 % VAT of 185.00 (38.85) = 223.85.
    // h-2: June 1 6 kWh × 0.10 + 6 kWh × 0.20 = 1.80; June 2 12 kWh × 0.05 = 0.60; the
    // other 28 days 336 kWh at the fallback 0.30 = 100.80; 103.20 in all.
    // h-3 used nothing in June: 0.00.
    assert_eq!(
        run["summary"]["totals"][0]["total_minor"],
        22_385 + 10_320,
        "{run}"
    );

    // The run's bills, one per meter, for operators only.
    let run_bills = format!("/api/v1/billing/runs/{}/bills", run["id"]);
    let made = hub.call(&olivia, "GET", &run_bills, None).await.json();
    let mut billed: Vec<(String, i64)> = made
        .as_array()
        .expect("a list")
        .iter()
        .map(|b| {
            assert_eq!(b["run_id"], run["id"], "{b}");
            let meter = b["meter"].as_str().unwrap_or_default().to_owned();
            (meter, b["total_minor"].as_i64().unwrap_or_default())
        })
        .collect();
    billed.sort();
    assert_eq!(
        billed,
        [
            ("h-1".into(), 22_385),
            ("h-2".into(), 10_320),
            ("h-3".into(), 0)
        ]
    );
    assert_eq!(hub.call(&alice, "GET", &run_bills, None).await.status, 403);
    let missing = hub
        .call(&olivia, "GET", "/api/v1/billing/runs/999999/bills", None)
        .await;
    assert_eq!(missing.status, 404);

    // h-2's cost per hour on June 1: 0.5 kWh an hour at 0.10 until noon, 0.20 after.
    let costs = format!(
        "/api/v1/meters/h-2/cost/series?from_ms={}&to_ms={}",
        JUNE * 1000,
        june_2 * 1000
    );
    let costs = hub.call(&bob, "GET", &costs, None).await;
    assert_eq!(costs.status, 200, "{}", costs.body);
    let costs = costs.json();
    let hourly: Vec<(i64, f64, i64)> = costs["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            let ts_ms = p["ts_ms"].as_i64().expect("ts");
            let kwh = p["import_kwh"].as_f64().expect("kWh");
            (ts_ms, kwh, p["cost_minor"].as_i64().expect("a cost"))
        })
        .collect();
    let expected: Vec<(i64, f64, i64)> = (0..24)
        .map(|h| ((JUNE + h * 3600) * 1000, 0.5, if h < 12 { 5 } else { 10 }))
        .collect();
    assert_eq!(hourly, expected, "{costs}");
    assert_eq!(costs["total_minor"], 180, "1.80 EUR, as the bill's June 1");
    assert_eq!(costs["currency"], "EUR");

    let bills = hub
        .call(&alice, "GET", "/api/v1/meters/h-1/bills", None)
        .await
        .json();
    assert_eq!(bills[0]["period"], "2026-06");
    assert_eq!(
        (bills[0]["total"].as_str(), bills[0]["closed"].as_bool()),
        (Some("223.85"), Some(true))
    );
    let path = format!("/api/v1/meters/h-1/bills/{}", bills[0]["id"]);
    let bill = hub.call(&alice, "GET", &path, None).await.json();
    assert_eq!(bill["total_minor"], 22_385);
    assert_eq!(bill["energy"]["import"]["register_mwh"], 720_000_000);
    assert_eq!(bill["energy"]["import"]["difference_mwh"], 0);
    assert_eq!(
        bill["estimated"]["intervals"], 2,
        "the missing record's two quarters"
    );
    let html = hub.call(&alice, "GET", &format!("{path}/html"), None).await;
    assert_eq!(html.status, 200);
    assert!(
        html.body.contains("223.85") && html.body.contains("VAT"),
        "{}",
        html.body
    );
    // Bob sees neither alice's bills nor her bill by id; his own total is 103.20.
    assert_eq!(hub.call(&bob, "GET", &path, None).await.status, 404);
    assert_eq!(
        hub.call(&bob, "GET", "/api/v1/meters/h-1/bills", None)
            .await
            .status,
        404
    );
    let bob_bills = hub
        .call(&bob, "GET", "/api/v1/meters/h-2/bills", None)
        .await
        .json();
    assert_eq!(bob_bills[0]["total_minor"], 10_320);
    let bob_path = format!("/api/v1/meters/h-2/bills/{}", bob_bills[0]["id"]);
    let bob_bill = hub.call(&bob, "GET", &bob_path, None).await.json();
    let findings = bob_bill["findings"].to_string();
    assert!(findings.contains("fallback_price"), "{findings}");

    // June is closed: billing it again needs "rerun".
    let again = hub
        .call(
            &olivia,
            "POST",
            "/api/v1/billing/runs",
            Some(r#"{"period":"2026-06"}"#),
        )
        .await;
    assert_eq!(
        (again.status, again.json()["code"].as_str()),
        (409, Some("period_closed"))
    );
    let bad_period = hub
        .call(
            &olivia,
            "POST",
            "/api/v1/billing/runs",
            Some(r#"{"period":"June"}"#),
        )
        .await;
    assert_eq!(bad_period.status, 400);
    let rerun = hub
        .run(&olivia, r#"{"period":"2026-06","rerun":true}"#)
        .await;
    assert_eq!(rerun["status"], "done");
    let bills = hub
        .call(&alice, "GET", "/api/v1/meters/h-1/bills", None)
        .await
        .json();
    assert_eq!(
        bills.as_array().map(Vec::len),
        Some(1),
        "a rerun replaces the bill"
    );
    assert_eq!(bills[0]["run_id"], rerun["id"]);
    hub.stop().await;
}

mod cost;
