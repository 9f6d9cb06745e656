//! An operator's commands through the hub's API reach a real meter process and come back
//! acknowledged: a TOU schedule switches the active tariff, a calibration is applied, a
//! disconnect opens the supply switch (the meter's power drops to zero), an arm makes it
//! ready for reconnection and a reconnect closes it; a calibration of a phase the meter
//! does not have is rejected with its reason.

mod common;

use common::{HubProcess, MeterToml, start_meter, wait_until};
use joule_testkit::Process;
use joule_testkit::http::request;
use serde_json::Value;
use std::time::Duration;

/// An operator's session headers.
async fn operator(hub: &HubProcess, http: u16) -> Vec<(String, String)> {
    let password = "olivia-operates-the-fleet";
    hub.add_user("olivia", "operator", password);
    let body = serde_json::json!({"username": "olivia", "password": password}).to_string();
    let response = request(http, "POST", "/api/v1/auth/login", &[], Some(&body)).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let cookie = response.header("set-cookie").expect("cookie");
    let session = cookie.split(';').next().expect("pair").to_owned();
    let csrf = response.json()["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_owned();
    vec![("Cookie".into(), session), ("X-CSRF-Token".into(), csrf)]
}

/// Sends `action` to m-1 and waits for its final status; returns the command record.
async fn command(http: u16, headers: &[(String, String)], action: Value) -> Value {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = serde_json::json!({ "action": action }).to_string();
    let created = request(
        http,
        "POST",
        "/api/v1/meters/m-1/commands",
        &headers,
        Some(&body),
    )
    .await;
    assert!((200..300).contains(&created.status), "{}", created.body);
    let id = created.json()["id"].as_u64().expect("command id");
    for _ in 0..150 {
        let record = request(
            http,
            "GET",
            &format!("/api/v1/commands/{id}"),
            &headers,
            None,
        )
        .await
        .json();
        if matches!(
            record["status"].as_str(),
            Some("done" | "rejected" | "failed")
        ) {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("command {id} ({body}) never finished");
}

/// The newest live reading the hub stored for m-1: (relay, tariff, p_w).
fn latest(hub: &HubProcess) -> Option<(String, i64, f64)> {
    let db = rusqlite::Connection::open(&hub.store).expect("open hub store");
    db.query_row(
        "SELECT relay, tariff, p_w FROM live WHERE meter_id = 'm-1' ORDER BY ts_ms DESC LIMIT 1",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_commands_reach_the_meter_and_come_back_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess {
        store: dir.path().join("hub.sqlite"),
        port: joule_testkit::free_port(),
    };
    let http = joule_testkit::free_port();
    let token = hub.add_meter("m-1");
    let _hub = Process(hub.start_serving(http));
    let headers = operator(&hub, http).await;
    let config = MeterToml {
        source: "kind = \"simulated\"\nseed = 5\nheat_pump_w = 2000",
        ..MeterToml::default()
    }
    .write(
        dir.path(),
        "m-1",
        &format!("mqtt://127.0.0.1:{}", hub.port),
        &token,
    );
    let _meter = Process(start_meter(&config));
    wait_until("the first reading", Duration::from_secs(30), || {
        latest(&hub).is_some()
    });

    // Tariff 3 all day, every day: the next readings carry it.
    let schedule = command(
        http,
        &headers,
        serde_json::json!({"type": "tariff_schedule", "timezone": "Europe/Amsterdam",
            "switches": [{"days": "all", "start": "00:00", "tariff": 3}], "holidays": []}),
    )
    .await;
    assert_eq!(schedule["status"], "done", "{schedule}");
    wait_until("tariff 3 in the readings", Duration::from_secs(20), || {
        latest(&hub).is_some_and(|(_, tariff, _)| tariff == 3)
    });

    let calibrate = |phase: u8| {
        serde_json::json!({"type": "calibrate", "phase": phase, "v_scale": 0.2197,
            "i_scale": 0.0488, "i_delay_us": 0.0})
    };
    assert_eq!(
        command(http, &headers, calibrate(1)).await["status"],
        "done"
    );
    let rejected = command(http, &headers, calibrate(3)).await;
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    assert!(
        rejected["detail"]
            .as_str()
            .unwrap_or("")
            .contains("phase 3"),
        "{rejected}"
    );

    // Disconnect: the switch opens and the household draws nothing.
    let reason = "ticket 7";
    let disconnect = serde_json::json!({"type": "disconnect", "reason": reason});
    assert_eq!(command(http, &headers, disconnect).await["status"], "done");
    wait_until(
        "the supply switch open, no power",
        Duration::from_secs(20),
        || latest(&hub).is_some_and(|(relay, _, p_w)| relay == "disconnected" && p_w.abs() < 1.0),
    );
    let arm = serde_json::json!({"type": "arm_reconnect", "reason": reason});
    assert_eq!(command(http, &headers, arm).await["status"], "done");
    let reconnect = serde_json::json!({"type": "reconnect", "reason": reason});
    assert_eq!(command(http, &headers, reconnect).await["status"], "done");
    wait_until("the supply switch closed", Duration::from_secs(20), || {
        latest(&hub).is_some_and(|(relay, _, _)| relay == "connected")
    });
}
