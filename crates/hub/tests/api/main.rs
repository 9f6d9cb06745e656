//! The HTTP API against a running hub (embedded broker, SQLite): a meter publishes over
//! MQTT with its token and its data appears through the API; live readings stream over
//! server-sent events; an operator's disconnect reaches the meter, its ack closes the
//! command and the audit log has it; and every route, walked from the OpenAPI document,
//! answers every kind of caller as the authorization matrix says.

use joule_hub::config::HubConfig;
use joule_hub::service::Hub;
use joule_protocol::{
    AckStatus, Command, CommandAck, MeterId, PAYLOAD_VERSION, RelayState, TopicKind, Topics, encode,
};
use joule_store::tokens;
use joule_store::{AlertStore, BillingStore, MeterDetails, NewMeter, Role, SqliteStore, Store};
use joule_testkit::http::request;
use joule_testkit::{client, free_port, reading, recent_ms, wait_for_port};
use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "../common/accounts.rs"]
mod accounts;
use accounts::password;

mod matrix;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    ConsumerA,
    ConsumerB,
    Operator,
    Admin,
    /// A meter's device token used as a bearer token: it is not an API credential.
    Device,
}

const CALLERS: [Caller; 6] = [
    Caller::Anonymous,
    Caller::ConsumerA,
    Caller::ConsumerB,
    Caller::Operator,
    Caller::Admin,
    Caller::Device,
];

impl Caller {
    fn username(self) -> Option<&'static str> {
        match self {
            Self::ConsumerA => Some("alice"),
            Self::ConsumerB => Some("bob"),
            Self::Operator => Some("olivia"),
            Self::Admin => Some("adam"),
            Self::Anonymous | Self::Device => None,
        }
    }
}

/// The plan every fixture meter is on.
const FLAT_PLAN: &str = "name = \"flat\"\ncurrency = \"EUR\"\ntime_zone = \"UTC\"\n\n\
    [[versions]]\neffective_from = 2020-01-01\nimport = { kind = \"flat\", price_per_kwh = 0.25 }\n";

/// A plan body for the API, named `name`.
fn plan_body(name: &str) -> String {
    serde_json::json!({ "toml": FLAT_PLAN.replacen("\"flat\"", &format!("\"{name}\""), 1) })
        .to_string()
}

struct Fixture {
    http: u16,
    mqtt: u16,
    /// Device token of meter a-1 (alice's).
    token: String,
    api: joule_testkit::http::Api,
    hub: joule_testkit::Stoppable<joule_hub::service::ServiceError>,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteStore::open(&dir.path().join("hub.sqlite")).expect("store"));
        accounts::add_users(
            store.as_ref(),
            &[
                ("alice", Role::Consumer),
                ("bob", Role::Consumer),
                ("carol", Role::Consumer),
                ("olivia", Role::Operator),
                ("adam", Role::Admin),
            ],
        )
        .await;
        store.put_tariff(FLAT_PLAN, 0).await.expect("plan");
        let token = tokens::generate();
        for (id, owner) in [("a-1", "alice"), ("a-2", "alice"), ("b-1", "bob")] {
            store
                .add_meter(
                    NewMeter {
                        id: MeterId::new(id).expect("id"),
                        details: MeterDetails {
                            name: format!("{owner}'s meter"),
                            owner: Some(owner.into()),
                            feeder: Some("F1".into()),
                            transformer: Some("T1".into()),
                            tariff: Some("flat".into()),
                            ..MeterDetails::default()
                        },
                        token_hash: tokens::hash(&token),
                        mosquitto_hash: None,
                    },
                    0,
                )
                .await
                .expect("meter");
        }
        let mqtt = free_port();
        let listen = format!("127.0.0.1:{mqtt}");
        let config = HubConfig::load(None, |v| {
            (v == "JOULE_HUB_BROKER_LISTEN").then(|| listen.clone())
        })
        .expect("config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let http = listener.local_addr().expect("addr").port();
        let hub = joule_testkit::Stoppable::spawn(|stopped| {
            Hub::new(config, store.clone()).serve(listener, stopped)
        });
        tokio::task::spawn_blocking(move || wait_for_port(mqtt))
            .await
            .expect("broker up");
        Self {
            http,
            mqtt,
            token,
            api: joule_testkit::http::Api { port: http },
            hub,
            store,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.hub.stop().await;
    }

    /// Runs billing for `period` as `operator` and waits for it; returns the run's id and
    /// meter a-1's bill.
    async fn bill_a_month(&self, operator: &[(String, String)], period: &str) -> (u64, u64) {
        let body = format!(r#"{{"period":"{period}"}}"#);
        let started = self
            .api
            .call(operator, "POST", "/api/v1/billing/runs", Some(&body))
            .await;
        assert_eq!(started.status, 202, "{}", started.body);
        let run_id = started.json()["id"].as_u64().expect("run id");
        let path = format!("/api/v1/billing/runs/{run_id}");
        for _ in 0..100 {
            let run = self.api.call(operator, "GET", &path, None).await.json();
            if run["status"] == "done" {
                let bills = self
                    .api
                    .call(operator, "GET", "/api/v1/meters/a-1/bills", None)
                    .await
                    .json();
                return (run_id, bills[0]["id"].as_u64().expect("a-1 has a bill"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the billing run did not finish");
    }

    /// Logs `username` in; returns the headers that authenticate its requests.
    async fn login(&self, username: &str) -> Vec<(String, String)> {
        self.api.login(username, &password(username)).await
    }

    async fn headers(&self, caller: Caller) -> Vec<(String, String)> {
        match caller {
            Caller::Anonymous => Vec::new(),
            Caller::Device => vec![("Authorization".into(), format!("Bearer {}", self.token))],
            user => self.login(user.username().expect("a user")).await,
        }
    }

    /// A meter connection of a-1, subscribed to its command and storage-ack topics.
    async fn meter(&self) -> (AsyncClient, EventLoop) {
        let (meter, mut events) = client(self.mqtt, "a-1", &self.token);
        meter
            .subscribe_many(meter_subscriptions())
            .await
            .expect("subscribe");
        assert!(joule_testkit::connects(&mut events).await, "a-1 logs in");
        // Commands and acks published before the subscription holds would not reach it.
        tokio::time::timeout(Duration::from_secs(10), async {
            while !matches!(
                events.poll().await.expect("meter connection"),
                Event::Incoming(Packet::SubAck(_))
            ) {}
        })
        .await
        .expect("a-1's subscription acknowledged");
        (meter, events)
    }
}

/// The topics a-1 listens on.
fn meter_subscriptions() -> [rumqttc::SubscribeFilter; 2] {
    let topics = Topics::default();
    let id = MeterId::new("a-1").expect("id");
    [TopicKind::Command, TopicKind::Stored]
        .map(|kind| rumqttc::SubscribeFilter::new(topics.topic(&id, kind), QoS::AtLeastOnce))
}

/// Publishes readings `seqs` from a-1 and keeps its connection polled until they are
/// acknowledged as stored, resending them as a meter's outbox does when no ack comes (and
/// subscribing again if the connection was re-established).
async fn publish(
    meter: &AsyncClient,
    events: &mut EventLoop,
    seqs: std::ops::RangeInclusive<u64>,
    base_ms: i64,
) {
    let topics = Topics::default();
    let id = MeterId::new("a-1").expect("id");
    let last = *seqs.end();
    for _attempt in 0..10 {
        for seq in seqs.clone() {
            meter
                .publish(
                    topics.topic(&id, TopicKind::Live),
                    QoS::AtLeastOnce,
                    false,
                    encode(&reading(seq, base_ms)),
                )
                .await
                .expect("publish");
        }
        let acknowledged = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic.ends_with("/stored") => {
                        let ack: joule_protocol::StorageAck =
                            serde_json::from_slice(&p.payload).expect("ack");
                        if ack.up_to_seq >= last {
                            return;
                        }
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = meter.try_subscribe_many(meter_subscriptions());
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        })
        .await;
        if acknowledged.is_ok() {
            return;
        }
    }
    panic!("readings {seqs:?} were never acknowledged");
}

/// How many readings a series response's points sum up.
fn readings_in(series: &serde_json::Value) -> u64 {
    series["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["count"].as_u64().expect("count"))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meters_data_appears_through_the_api_and_streams_live() {
    let hub = Fixture::start().await;
    let (meter, mut events) = hub.meter().await;
    let base_ms = recent_ms();
    publish(&meter, &mut events, 1..=5, base_ms).await;
    let alice = hub.login("alice").await;

    let latest = hub
        .api
        .call(&alice, "GET", "/api/v1/meters/a-1/latest", None)
        .await;
    assert_eq!(latest.status, 200, "{}", latest.body);
    assert_eq!(latest.json()["seq"], 5);
    let from = base_ms;
    let to = base_ms + 60_000;
    let series = hub
        .api
        .call(
            &alice,
            "GET",
            &format!("/api/v1/meters/a-1/series?from_ms={from}&to_ms={to}"),
            None,
        )
        .await;
    assert_eq!(series.status, 200, "{}", series.body);
    let series = series.json();
    assert_eq!(series["resolution"], "raw");
    assert_eq!(series["points"].as_array().expect("points").len(), 5);
    let minutes = hub
        .api
        .call(
            &alice,
            "GET",
            &format!("/api/v1/meters/a-1/series?from_ms={from}&to_ms={to}&resolution=minute"),
            None,
        )
        .await
        .json();
    assert_eq!(
        readings_in(&minutes),
        5,
        "the minute rollups hold every reading once"
    );
    let gaps = hub
        .api
        .call(&alice, "GET", "/api/v1/meters/a-1/gaps", None)
        .await
        .json();
    assert_eq!(gaps["contiguous_seq"], 5);
    let csv = hub
        .api
        .call(
            &alice,
            "GET",
            &format!("/api/v1/meters/a-1/export.csv?from_ms={from}&to_ms={to}"),
            None,
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    assert_eq!(
        csv.body.lines().count(),
        6,
        "a header and five rows:\n{}",
        csv.body
    );
    let errors = hub
        .api
        .call(
            &alice,
            "GET",
            "/api/v1/meters/a-1/series?from_ms=10&to_ms=5",
            None,
        )
        .await;
    assert_eq!(
        (errors.status, errors.json()["code"].as_str()),
        (400, Some("bad_request"))
    );

    // Live: the stream opens with the latest stored reading, then each new one follows.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", hub.http))
        .await
        .expect("connect");
    let cookie = &alice[0].1;
    stream
        .write_all(
            format!("GET /api/v1/meters/a-1/live HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("request");
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    let mut read_until = async |needle: &str, seen: &mut String| {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !seen.contains(needle) {
                let n = stream.read(&mut buffer).await.expect("read stream");
                assert!(n > 0, "stream closed");
                seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no `{needle}` in the stream:\n{seen}"));
    };
    read_until("\"seq\":5", &mut seen).await;
    assert!(seen.contains("text/event-stream") && seen.contains("event: reading"));
    publish(&meter, &mut events, 6..=6, base_ms).await;
    read_until("\"seq\":6", &mut seen).await;
    drop(stream);
    // Once retention has taken the readings (and their minute buckets), a range asked
    // without a resolution is answered from the hour rollups, which stay.
    hub.store.prune_live(to + 60_000).await.expect("prune");
    let kept = hub
        .api
        .call(
            &alice,
            "GET",
            &format!("/api/v1/meters/a-1/series?from_ms={from}&to_ms={to}"),
            None,
        )
        .await
        .json();
    assert_eq!(kept["resolution"], "hour", "{kept}");
    assert_eq!(
        readings_in(&kept),
        6,
        "the hour holds the pruned readings: {kept}"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_disconnects_a_meter_and_the_ack_closes_the_command() {
    let hub = Fixture::start().await;
    let (meter, mut events) = hub.meter().await;
    let olivia = hub.login("olivia").await;
    let body = r#"{"action": {"type": "disconnect", "reason": "unpaid bills"}}"#;

    // A session without its CSRF token cannot act; neither can a consumer; no reason, no switch.
    let no_csrf = hub
        .api
        .call(
            &olivia[..1],
            "POST",
            "/api/v1/meters/a-1/commands",
            Some(body),
        )
        .await;
    assert_eq!(
        (no_csrf.status, no_csrf.json()["code"].as_str()),
        (403, Some("csrf"))
    );
    let alice = hub.login("alice").await;
    let consumer = hub
        .api
        .call(&alice, "POST", "/api/v1/meters/a-1/commands", Some(body))
        .await;
    assert_eq!(consumer.status, 403);
    let reasonless = r#"{"action": {"type": "disconnect", "reason": " "}}"#;
    assert_eq!(
        hub.api
            .call(
                &olivia,
                "POST",
                "/api/v1/meters/a-1/commands",
                Some(reasonless)
            )
            .await
            .status,
        400
    );

    let created = hub
        .api
        .call(&olivia, "POST", "/api/v1/meters/a-1/commands", Some(body))
        .await;
    assert_eq!(created.status, 202, "{}", created.body);
    let id = created.json()["id"].as_u64().expect("command id");
    // The meter receives it and answers.
    let command: Command = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) =
                events.poll().await.expect("meter connection")
                && p.topic.ends_with("/cmd")
            {
                return serde_json::from_slice(&p.payload).expect("command");
            }
        }
    })
    .await
    .expect("command delivered");
    assert_eq!(command.id, id);
    assert!(matches!(
        command.action,
        joule_protocol::Action::Disconnect { .. }
    ));
    let ack = CommandAck {
        v: PAYLOAD_VERSION,
        seq: 1,
        ts_ms: recent_ms() + 3_600_000,
        command_id: id,
        status: AckStatus::Done,
        relay: Some(RelayState::Disconnected),
        detail: Some("relay open".into()),
    };
    let topics = Topics::default();
    let me = MeterId::new("a-1").expect("id");
    meter
        .publish(
            topics.topic(&me, TopicKind::CommandAck),
            QoS::AtLeastOnce,
            false,
            encode(&ack),
        )
        .await
        .expect("ack");
    let path = format!("/api/v1/commands/{id}");
    let mut status = String::new();
    for _ in 0..100 {
        let _ = tokio::time::timeout(Duration::from_millis(50), events.poll()).await;
        status = hub.api.call(&olivia, "GET", &path, None).await.json()["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status == "done" {
            break;
        }
    }
    assert_eq!(status, "done");
    let adam = hub.login("adam").await;
    let audit = hub
        .api
        .call(&adam, "GET", "/api/v1/audit", None)
        .await
        .json();
    let entry = audit
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["action"] == "command.disconnect")
        .expect("the disconnect is audited");
    assert_eq!(
        (entry["actor"].as_str(), entry["target"].as_str()),
        (Some("olivia"), Some("a-1"))
    );
    assert!(
        entry["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("unpaid bills")
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_is_served_from_the_binary() {
    let hub = Fixture::start().await;
    let root = request(hub.http, "GET", "/", &[], None).await;
    assert_eq!(root.status, 303);
    assert_eq!(root.header("location"), Some("/portal/"));
    // Any page under /portal/ is the shell; the front end routes on the path.
    let page = request(hub.http, "GET", "/portal/meters/a-1/history", &[], None).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains("/portal/assets/js/main.js"));
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"));
    for (path, media_type) in [
        (
            "/portal/assets/js/main.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/portal/assets/vendor/uplot/uPlot.iife.min.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/portal/assets/manifest.webmanifest",
            "application/manifest+json",
        ),
        ("/portal/assets/icon-192.png", "image/png"),
    ] {
        let asset = request(hub.http, "GET", path, &[], None).await;
        assert_eq!(asset.status, 200, "{path}");
        assert_eq!(asset.header("content-type"), Some(media_type), "{path}");
        // A browser that has this version gets 304.
        let etag = asset.header("etag").expect("an ETag").to_owned();
        let again = request(hub.http, "GET", path, &[("If-None-Match", &etag)], None).await;
        assert_eq!(again.status, 304, "{path}");
    }
    let missing = request(hub.http, "GET", "/portal/assets/nothing.js", &[], None).await;
    assert_eq!(missing.status, 404);
    // The API's own 404 stays JSON.
    let api = request(hub.http, "GET", "/api/v1/nothing", &[], None).await;
    assert_eq!(api.status, 404);
    assert_eq!(api.json()["code"], "not_found");
    hub.stop().await;
}
