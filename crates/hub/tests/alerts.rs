//! Alerts and automation end to end, against real receivers on 127.0.0.1: the hub on
//! Debian's Mosquitto, a meter publishing over MQTT, a webhook server (which fails the
//! first delivery, so the retry shows), an MQTT subscriber and Python's aiosmtpd.
//!
//! An alert fires once, reaches each channel once, and resolves when the condition clears.
//! An automation in dry-run mode only records; a live one publishes its MQTT message and
//! sends its meter command through the command path, and both are audited.

use joule_hub::config::HubConfig;
use joule_hub::service::Hub;
use joule_protocol::{Command, LiveReading, MeterId, TopicKind, Topics, encode};
use joule_store::tokens;
use joule_store::{MeterDetails, NewMeter, Role, SqliteStore, Store};
use joule_testkit::{Mosquitto, Process, free_port, reading, recent_ms, wait_for_port};
use rumqttc::{AsyncClient, QoS};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

#[path = "common/accounts.rs"]
mod accounts;
use accounts::password;

#[path = "common/watching.rs"]
mod watching;
use watching::{eventually, listen};

/// A hub on Mosquitto with an SMTP server and a webhook receiver beside it.
struct Fixture {
    broker: Mosquitto,
    store: Arc<SqliteStore>,
    maildir: std::path::PathBuf,
    webhook: u16,
    hooks: mpsc::UnboundedReceiver<serde_json::Value>,
    api: joule_testkit::http::Api,
    hub: joule_testkit::Stoppable<joule_hub::service::ServiceError>,
    config: HubConfig,
    _smtp: Process,
    _dir: tempfile::TempDir,
}

/// Python's aiosmtpd, storing what it receives in a maildir (which it creates).
fn start_smtp(maildir: &Path) -> (Process, u16) {
    let port = free_port();
    let child = std::process::Command::new(joule_testkit::python())
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .spawn()
        .expect("start aiosmtpd (pip install aiosmtpd into the test venv)");
    let process = Process(child);
    wait_for_port(port);
    (process, port)
}

/// An HTTP server that answers 503 to the first request and 200 to the rest, handing
/// the JSON bodies it accepted (answered 200) to the test.
async fn start_webhook() -> (u16, mpsc::UnboundedReceiver<serde_json::Value>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (bodies, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut requests = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            requests += 1;
            let mut data = Vec::new();
            let mut buffer = [0u8; 4096];
            let body = loop {
                let n = socket.read(&mut buffer).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                data.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                let Some((head, body)) = text.split_once("\r\n\r\n") else {
                    continue;
                };
                let length = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    break Some(body.to_owned());
                }
            };
            let status = if requests == 1 {
                "503 Service Unavailable"
            } else {
                "200 OK"
            };
            let _ = socket
                .write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await;
            if let Some(json) = body.and_then(|b| serde_json::from_str(&b).ok())
                && requests > 1
            {
                let _ = bodies.send(json);
            }
        }
    });
    (port, received)
}

/// A hub with `config` on `store`, serving its API on a free port.
async fn serve(
    config: HubConfig,
    store: &Arc<SqliteStore>,
) -> (
    joule_testkit::http::Api,
    joule_testkit::Stoppable<joule_hub::service::ServiceError>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let store = Arc::clone(store) as Arc<dyn Store>;
    let hub =
        joule_testkit::Stoppable::spawn(|stopped| Hub::new(config, store).serve(listener, stopped));
    (joule_testkit::http::Api { port }, hub)
}

impl Fixture {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let broker = Mosquitto::start(dir.path(), "allow_anonymous true");
        let maildir = dir.path().join("mail");
        let (smtp, smtp_port) = start_smtp(&maildir);
        let (webhook, hooks) = start_webhook().await;
        let store = Arc::new(SqliteStore::open(&dir.path().join("hub.sqlite")).expect("store"));
        accounts::add_users(
            store.as_ref(),
            &[
                ("alice", Role::Consumer),
                ("olivia", Role::Operator),
                ("adam", Role::Admin),
            ],
        )
        .await;
        store
            .add_meter(
                NewMeter {
                    id: MeterId::new("a-1").expect("id"),
                    details: MeterDetails {
                        owner: Some("alice".into()),
                        feeder: Some("F1".into()),
                        ..MeterDetails::default()
                    },
                    token_hash: tokens::hash(&tokens::generate()),
                    mosquitto_hash: None,
                },
                0,
            )
            .await
            .expect("meter");
        let config_path = dir.path().join("hub.toml");
        std::fs::write(
            &config_path,
            format!(
                "[broker]\nurl = \"mqtt://127.0.0.1:{}\"\n\
                 [alerts]\ntick_ms = 200\nretry_base_ms = 100\n\
                 [alerts.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\n\
                 from = \"Joule <alerts@joule.test>\"\n",
                broker.port
            ),
        )
        .expect("config");
        let config = HubConfig::load(Some(&config_path), |_| None).expect("config");
        let (api, hub) = serve(config.clone(), &store).await;
        Self {
            broker,
            store,
            maildir,
            webhook,
            hooks,
            api,
            hub,
            config,
            _smtp: smtp,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.hub.stop().await;
    }

    /// Stops the hub and starts another on the same store and broker (a new API port).
    async fn restart(&mut self) {
        let (api, hub) = serve(self.config.clone(), &self.store).await;
        std::mem::replace(&mut self.hub, hub).stop().await;
        self.api = api;
    }

    async fn login(&self, username: &str) -> Vec<(String, String)> {
        self.api.login(username, &password(username)).await
    }

    /// Meter a-1 on the broker, listening on its command topic.
    async fn meter(&self) -> (AsyncClient, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
        let id = MeterId::new("a-1").expect("id");
        let cmd = Topics::default().topic(&id, TopicKind::Command);
        listen(self.broker.port, "a-1", &[cmd]).await
    }
}

/// Publishes a reading of `p_w` from a-1 as its `seq`-th message.
async fn publish(meter: &AsyncClient, seq: u64, base_ms: i64, p_w: f64) {
    let reading = LiveReading {
        p_w,
        s_va: p_w.abs(),
        ..reading(seq, base_ms)
    };
    let topic = Topics::default().topic(&MeterId::new("a-1").expect("id"), TopicKind::Live);
    meter
        .publish(topic, QoS::AtLeastOnce, false, encode(&reading))
        .await
        .expect("publish");
}

fn mails(maildir: &Path) -> Vec<String> {
    std::fs::read_dir(maildir.join("new"))
        .map(|entries| {
            entries
                .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_fires_once_reaches_every_channel_and_resolves() {
    let mut hub = Fixture::start().await;
    let alice = hub.login("alice").await;
    let settings = serde_json::json!({
        "webhook_url": format!("http://127.0.0.1:{}/hook", hub.webhook),
        "email": "alice@joule.test",
    });
    let put = hub
        .api
        .call(
            &alice,
            "PUT",
            "/api/v1/notification-settings",
            Some(&settings.to_string()),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let rule = serde_json::json!({
        "name": "kettle and oven at once",
        "condition": {"type": "power_above", "threshold_w": 3000, "for_s": 2},
        "meters": ["a-1"],
        "channels": ["webhook", "mqtt", "email"],
        "cooldown_s": 0,
    });
    watching::create(&hub.api, &alice, "/api/v1/alert-rules", &rule).await;
    let (_subscriber, mut alerts_topic) = listen(
        hub.broker.port,
        "alerts-reader",
        &["joule/v1/alerts/alice".into()],
    )
    .await;
    let (meter, _commands) = hub.meter().await;
    // Give the hub time to subscribe to the meters' topics.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let base_ms = recent_ms();
    publish(&meter, 1, base_ms, 460.0).await;
    for seq in 2..=8 {
        publish(&meter, seq, base_ms, 3500.0).await;
    }
    let alert = eventually("an open alert", || async {
        let list = hub
            .api
            .call(&alice, "GET", "/api/v1/alerts", None)
            .await
            .json();
        list.as_array()?.first().cloned()
    })
    .await;
    assert_eq!(alert["state"], "open");
    assert_eq!(alert["meter"], "a-1");
    assert_eq!(alert["condition"], "power_above");
    let id = alert["id"].as_u64().expect("id");

    // Each channel once: the webhook after one failed attempt, MQTT, email.
    let hook = tokio::time::timeout(Duration::from_secs(15), hub.hooks.recv())
        .await
        .expect("webhook delivered")
        .expect("webhook body");
    assert_eq!(hook["alert"]["id"], id);
    let (topic, payload) = tokio::time::timeout(Duration::from_secs(15), alerts_topic.recv())
        .await
        .expect("MQTT delivered")
        .expect("message");
    assert_eq!(topic, "joule/v1/alerts/alice");
    let on_mqtt: serde_json::Value = serde_json::from_slice(&payload).expect("JSON alert");
    assert_eq!(on_mqtt["id"], id);
    let path = format!("/api/v1/alerts/{id}/deliveries");
    let attempts = eventually("four delivery attempts", || async {
        let list = hub.api.call(&alice, "GET", &path, None).await.json();
        let list = list.as_array()?.clone();
        (list.len() >= 4).then_some(list)
    })
    .await;
    let maildir = hub.maildir.clone();
    let mail = eventually("an email", || async { mails(&maildir).pop() }).await;
    assert!(mail.contains("To: alice@joule.test"), "{mail}");
    assert!(
        mail.contains("Subject: Joule alert: power_above on a-1"),
        "{mail}"
    );
    let outcome = |channel: &str| {
        attempts
            .iter()
            .filter(|a| a["channel"] == channel)
            .map(|a| a["ok"].as_bool().expect("ok"))
            .collect::<Vec<_>>()
    };
    assert_eq!(outcome("webhook"), [false, true], "{attempts:?}");
    assert_eq!(outcome("mqtt"), [true]);
    assert_eq!(outcome("email"), [true], "{attempts:?}");

    // More of the same changes nothing; power back below the threshold resolves it.
    for seq in 9..=10 {
        publish(&meter, seq, base_ms, 3600.0).await;
    }
    publish(&meter, 11, base_ms, 200.0).await;
    let resolved = eventually("the alert resolved", || async {
        let list = hub
            .api
            .call(&alice, "GET", "/api/v1/alerts", None)
            .await
            .json();
        let first = list.as_array()?.first()?.clone();
        (first["state"] == "resolved").then_some(list)
    })
    .await;
    assert_eq!(
        resolved.as_array().map(Vec::len),
        Some(1),
        "fired once: {resolved}"
    );
    assert_eq!(resolved[0]["resolved_by"], "condition cleared");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(hub.hooks.try_recv().is_err(), "one webhook delivery");
    assert!(alerts_topic.try_recv().is_err(), "one MQTT delivery");
    assert_eq!(mails(&hub.maildir).len(), 1, "one email");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_open_across_a_restart_resolves_when_its_condition_clears_after_it() {
    let mut hub = Fixture::start().await;
    let alice = hub.login("alice").await;
    let rule = serde_json::json!({
        "name": "high load",
        "condition": {"type": "power_above", "threshold_w": 3000},
        "cooldown_s": 0,
    });
    watching::create(&hub.api, &alice, "/api/v1/alert-rules", &rule).await;
    let (meter, _commands) = hub.meter().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base_ms = recent_ms();
    publish(&meter, 1, base_ms, 3500.0).await;
    let open = |alice: Vec<(String, String)>, api: joule_testkit::http::Api| async move {
        let list = api.call(&alice, "GET", "/api/v1/alerts", None).await.json();
        list.as_array().cloned().unwrap_or_default()
    };
    eventually("an open alert", || async {
        let alerts = open(alice.clone(), hub.api).await;
        (alerts.len() == 1 && alerts[0]["state"] == "open").then_some(())
    })
    .await;

    hub.restart().await;
    let alice = hub.login("alice").await;
    // The new hub never saw the power high, yet knows the alert is raised: low resolves it.
    publish(&meter, 2, base_ms, 100.0).await;
    let alerts = eventually("the alert resolved", || async {
        let alerts = open(alice.clone(), hub.api).await;
        alerts
            .iter()
            .any(|a| a["state"] == "resolved")
            .then_some(alerts)
    })
    .await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["resolved_by"], "condition cleared");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automation_dry_runs_record_and_live_runs_act_and_are_audited() {
    let hub = Fixture::start().await;
    let olivia = hub.login("olivia").await;
    let (_switch, mut home) = listen(hub.broker.port, "home-switch", &["home/#".into()]).await;
    let (meter, mut commands) = hub.meter().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let dry = serde_json::json!({
        "name": "boiler off on high load (trial)",
        "trigger": {"type": "consumption", "meter": "a-1", "above_w": 3000},
        "actions": [{"type": "mqtt_publish", "topic": "home/boiler/set", "payload": "OFF"}],
        "dry_run": true,
    });
    let dry = watching::create(&hub.api, &olivia, "/api/v1/automations", &dry).await;
    let dry_id = dry["id"].as_u64().expect("id");
    // A consumer may not reach devices.
    let alice = hub.login("alice").await;
    let body = serde_json::json!({
        "name": "mine", "trigger": {"type": "consumption", "meter": "a-1", "above_w": 1},
        "actions": [{"type": "mqtt_publish", "topic": "home/x", "payload": "1"}],
    });
    let refused = hub
        .api
        .call(
            &alice,
            "POST",
            "/api/v1/automations",
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // Asked for by hand, and fired by the meter's load: recorded, nothing done.
    let asked = hub
        .api
        .call(
            &olivia,
            "POST",
            &format!("/api/v1/automations/{dry_id}/dry-run"),
            None,
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert_eq!(asked.json()["outcomes"][0]["detail"], "dry run: not done");
    let base_ms = recent_ms();
    for seq in 1..=3 {
        publish(&meter, seq, base_ms, 3500.0).await;
    }
    let runs_path = format!("/api/v1/automations/{dry_id}/runs");
    let runs = eventually("the triggered dry run", || async {
        let runs = hub.api.call(&olivia, "GET", &runs_path, None).await.json();
        (runs.as_array()?.len() == 2).then_some(runs)
    })
    .await;
    assert!(
        runs[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("3500 W")),
        "{runs}"
    );
    assert_eq!(runs[0]["dry_run"], true);

    // Live: a demand-response event on a-1's feeder.
    let live = serde_json::json!({
        "name": "shed load for DR",
        "trigger": {"type": "demand_response", "at": "start", "feeder": "F1"},
        "actions": [
            {"type": "mqtt_publish", "topic": "home/boiler/set", "payload": "OFF-DR"},
            {"type": "meter_command", "meter": "a-1",
             "action": {"type": "load_limit", "limit_w": 2000}},
        ],
    });
    watching::create(&hub.api, &olivia, "/api/v1/automations", &live).await;
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    let event = serde_json::json!({
        "name": "evening peak", "start_ms": now_ms + 1500, "end_ms": now_ms + 3_600_000,
        "feeder": "F1", "target_kw": 40,
    });
    watching::create(&hub.api, &olivia, "/api/v1/dr-events", &event).await;

    let (topic, payload) = tokio::time::timeout(Duration::from_secs(15), home.recv())
        .await
        .expect("the switch message")
        .expect("message");
    assert_eq!(
        (topic.as_str(), payload.as_slice()),
        ("home/boiler/set", b"OFF-DR".as_slice()),
        "the dry run published nothing before it"
    );
    let (_, command) = tokio::time::timeout(Duration::from_secs(15), commands.recv())
        .await
        .expect("the meter's command")
        .expect("message");
    let command: Command = serde_json::from_slice(&command).expect("command");
    assert!(matches!(
        command.action,
        joule_protocol::Action::LoadLimit { limit_w: Some(limit), .. } if limit == 2000.0
    ));
    let stored = hub
        .store
        .command(command.id)
        .await
        .expect("store")
        .expect("the command is stored");
    assert_eq!(stored.created_by, "automation");

    let adam = hub.login("adam").await;
    let audit = eventually("the automation's audit entries", || async {
        let log = hub
            .api
            .call(&adam, "GET", "/api/v1/audit", None)
            .await
            .json();
        let entries = log.as_array()?.clone();
        let by_automation: Vec<String> = entries
            .iter()
            .filter(|e| e["actor"] == "automation")
            .filter_map(|e| e["action"].as_str().map(str::to_owned))
            .collect();
        (by_automation.len() >= 3).then_some(by_automation)
    })
    .await;
    for action in [
        "automation.mqtt_publish",
        "automation.meter_command",
        "command.load_limit",
    ] {
        assert!(audit.iter().any(|a| a == action), "{action} in {audit:?}");
    }
    assert!(home.try_recv().is_err(), "nothing else was published");
    hub.stop().await;
}
