//! `joule demo` end to end, as a newcomer runs it: the built binary with four meters in a
//! fresh directory, its printed consumer login over the API, 60 days of interval records
//! and live readings arriving, only the consumer's own meters visible, a clean exit on
//! SIGINT, and a restart that keeps the data and the logins.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use joule_testkit::Process;
use joule_testkit::http::request;

const DAY_MS: i64 = 86_400_000;

/// The time now, Unix ms.
fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    i64::try_from(since.as_millis()).expect("ms")
}

/// A running demo and what it printed up to "ready".
struct Demo {
    child: Process,
    printed: String,
}

/// Starts `joule demo` and waits (at most 180 s: a loaded CI machine) until it is ready.
fn start(dir: &std::path::Path, http_port: u16, mqtt_port: u16) -> Demo {
    let mut child = Process(
        Command::new(env!("CARGO_BIN_EXE_joule"))
            .args(["demo", "--meters", "4", "--data"])
            .arg(dir)
            .args(["--http-port", &http_port.to_string()])
            .args(["--mqtt-port", &mqtt_port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start joule demo"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the demo was not ready in time; it printed:\n{printed}"));
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Ctrl-C stops everything") {
            // Keep draining what it prints later (the stop line) so it never blocks.
            std::thread::spawn(move || while lines.recv().is_ok() {});
            return Demo { child, printed };
        }
    }
}

/// The password printed for `username`.
fn password(printed: &str, username: &str) -> String {
    printed
        .lines()
        .find_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (words.first() == Some(&username) && words.get(2) == Some(&"password"))
                .then(|| words[3].to_owned())
        })
        .unwrap_or_else(|| panic!("no login for {username} in:\n{printed}"))
}

/// Sends SIGINT (Ctrl-C) and expects a clean exit within 30 s.
fn interrupt(mut demo: Demo) {
    let pid = demo.child.0.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = demo.child.0.try_wait().unwrap() {
            assert!(status.success(), "the demo exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "the demo did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Logs in and returns the session cookie.
async fn login(port: u16, username: &str, password: &str) -> String {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let response = request(port, "POST", "/api/v1/auth/login", &[], Some(&body)).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let cookie = response.header("set-cookie").expect("a session cookie");
    cookie.split(';').next().unwrap().to_owned()
}

async fn get(port: u16, cookie: &str, path: &str) -> (u16, serde_json::Value) {
    let response = request(port, "GET", path, &[("Cookie", cookie)], None).await;
    let json = serde_json::from_str(&response.body).unwrap_or(serde_json::Value::Null);
    (response.status, json)
}

/// Interval records of `meter` over the last 61 days.
async fn intervals(port: u16, cookie: &str, meter: &str) -> Vec<serde_json::Value> {
    let now_ms = now_ms();
    let path = format!(
        "/api/v1/meters/{meter}/intervals?from_ms={}&to_ms={}",
        now_ms - 61 * DAY_MS,
        now_ms + 60_000
    );
    let (status, json) = get(port, cookie, &path).await;
    assert_eq!(status, 200, "{json}");
    json.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_serves_history_and_live_data_to_its_consumers_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (http_port, mqtt_port) = (joule_testkit::free_port(), joule_testkit::free_port());
    let demo = start(dir.path(), http_port, mqtt_port);
    assert!(
        demo.printed.contains("Joule demo ready in"),
        "{}",
        demo.printed
    );
    assert!(
        demo.printed
            .contains(&format!("http://127.0.0.1:{http_port}/"))
    );
    let alice = password(&demo.printed, "alice");
    for user in ["admin", "operator", "bob"] {
        password(&demo.printed, user);
    }
    let cookie = login(http_port, "alice", &alice).await;

    // Alice sees her two homes, and nothing of the others.
    let (status, meters) = get(http_port, &cookie, "/api/v1/meters").await;
    assert_eq!(status, 200);
    let mut ids: Vec<&str> = meters
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["meter-02", "meter-03"]);
    let (status, _) = get(http_port, &cookie, "/api/v1/meters/meter-01/latest").await;
    assert_eq!(status, 404, "a foreign meter is invisible");

    // Sixty days of 15-minute interval records, stored when the demo said it was ready.
    let history = intervals(http_port, &cookie, "meter-02").await;
    assert!(
        (60 * 96..=60 * 96 + 8).contains(&history.len()),
        "{} interval records",
        history.len()
    );
    let first_ms = history[0]["ts_ms"].as_i64().unwrap();
    assert!(now_ms() - first_ms >= 59 * DAY_MS);
    let imports: Vec<u64> = history
        .iter()
        .map(|r| r["registers"]["import_mwh"].as_u64().unwrap())
        .collect();
    assert!(imports.windows(2).all(|w| w[0] <= w[1]));
    assert!(imports.last() > imports.first());

    // Live readings keep arriving from the meter agent, continuing those registers.
    let latest = |cookie: String| async move {
        let (status, json) = get(http_port, &cookie, "/api/v1/meters/meter-02/latest").await;
        assert_eq!(status, 200, "{json}");
        (
            json["ts_ms"].as_i64().unwrap(),
            json["registers"]["import_mwh"].as_u64().unwrap(),
        )
    };
    let (first_live_ms, first_import) = latest(cookie.clone()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (next_live_ms, next_import) = latest(cookie.clone()).await;
    assert!(next_live_ms > first_live_ms);
    assert!(now_ms() - next_live_ms < 10_000);
    assert!(next_import >= first_import && first_import >= *imports.last().unwrap());

    // Last month is billed on the home's plan a few seconds after the demo is ready.
    let mut bills = serde_json::Value::Null;
    for _ in 0..100 {
        let (status, json) = get(http_port, &cookie, "/api/v1/meters/meter-02/bills").await;
        assert_eq!(status, 200, "{json}");
        if json.as_array().is_some_and(|bills| !bills.is_empty()) {
            bills = json;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let bill = &bills[0];
    assert!(
        bill["total_minor"].as_i64().is_some_and(|total| total > 0),
        "{bills}"
    );
    assert_eq!(
        bill["plan"], "solar-net-billing",
        "alice's first home has solar"
    );
    assert_eq!(bill["closed"], true, "{bill}");

    // The first minutes' incidents reach the operator's events: a supply interruption
    // (begun and ended) and the bakery's voltage tap removed.
    let operator = login(http_port, "operator", &password(&demo.printed, "operator")).await;
    let mut seen = Vec::new();
    for _ in 0..150 {
        let (status, events) = get(http_port, &operator, "/api/v1/events?limit=500").await;
        assert_eq!(status, 200, "{events}");
        seen = events
            .as_array()
            .expect("a list")
            .iter()
            .map(|e| format!("{} {}", e["event"]["kind"], e["event"]["state"]))
            .collect();
        let has = |wanted: &str| seen.iter().any(|s| s == wanted);
        if has(r#""interruption" "ended""#) && has(r#""current_without_voltage" "started""#) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        seen.iter().any(|s| s == r#""interruption" "ended""#)
            && seen
                .iter()
                .any(|s| s == r#""current_without_voltage" "started""#),
        "{seen:?}"
    );

    interrupt(demo);

    // A restart keeps the data and the logins and writes no history again.
    let demo = start(dir.path(), http_port, mqtt_port);
    assert_eq!(password(&demo.printed, "alice"), alice);
    let cookie = login(http_port, "alice", &alice).await;
    let again = intervals(http_port, &cookie, "meter-02").await;
    assert!(
        again.len() >= history.len(),
        "{} after the restart",
        again.len()
    );
    assert_eq!(again[0]["ts_ms"], history[0]["ts_ms"]);
    interrupt(demo);
}
