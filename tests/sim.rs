//! `joule sim` against a separately started `joule hub`: register-level meters registered
//! through the hub's API replay two hours fast and are stored without a gap; waveform-level
//! meters from a token file report live readings.

mod common;

use std::process::Command;

use common::{HubProcess, joule_ok};

/// Runs `joule sim ARGS` to completion with the admin's password in its environment.
fn sim(hub: &HubProcess, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_joule"))
        .arg("sim")
        .args(["--broker", &format!("mqtt://127.0.0.1:{}", hub.port)])
        .args(args)
        .env("JOULE_SIM_PASSWORD", "sim-admin-password")
        .output()
        .expect("run joule sim");
    assert!(
        output.status.success(),
        "joule sim {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn sim_fleets_report_to_a_separate_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess {
        store: dir.path().join("hub.sqlite"),
        port: joule_testkit::free_port(),
    };
    hub.add_user("admin", "admin", "sim-admin-password");
    let http_port = joule_testkit::free_port();
    let mut hub_process = hub.start_serving(http_port);

    // Register level: 20 meters registered through the API, two hours at 900× speed.
    let summary = sim(
        &hub,
        &[
            "--meters",
            "20",
            "--register-level",
            "--speed",
            "900",
            "--history-hours",
            "2",
            "--live-interval-s",
            "60",
            "--hub-api",
            &format!("http://127.0.0.1:{http_port}"),
            "--user",
            "admin",
            "--seconds",
            "15",
        ],
    );
    assert!(summary.contains("20 meters"), "{summary}");
    assert!(summary.contains("0 left unsent"), "{summary}");
    assert_eq!(
        hub.query("SELECT COUNT(*) FROM meters WHERE id LIKE 'sim-%'"),
        20
    );
    // Two hours: 8 interval records and 120 live readings per meter, each stored once
    // and acknowledged without a gap.
    let intervals = hub.query("SELECT COUNT(*) FROM intervals WHERE meter_id = 'sim-00007'");
    assert!((8..=9).contains(&intervals), "{intervals} interval records");
    let live = hub.query("SELECT COUNT(*) FROM live WHERE meter_id = 'sim-00007'");
    assert!((110..=140).contains(&live), "{live} live readings");
    let stored =
        hub.query("SELECT COUNT(*) FROM live") + hub.query("SELECT COUNT(*) FROM intervals");
    assert!(
        summary.contains(&format!(" {stored} stored by the hub")),
        "{stored}: {summary}"
    );
    assert_eq!(hub.query("SELECT COUNT(*) FROM dead_letters"), 0);

    // Waveform level: two meters from a token file, the agent through the metrology chain.
    let tokens: String = ["wave-1", "wave-2"]
        .iter()
        .map(|id| format!("{id} {}\n", hub.add_meter(id)))
        .collect();
    let token_file = dir.path().join("tokens");
    std::fs::write(&token_file, format!("# id token\n{tokens}")).unwrap();
    sim(
        &hub,
        &[
            "--meters",
            "2",
            "--tokens",
            token_file.to_str().unwrap(),
            "--seconds",
            "6",
        ],
    );
    for id in ["wave-1", "wave-2"] {
        let live = hub.query(&format!(
            "SELECT COUNT(*) FROM live WHERE meter_id = '{id}'"
        ));
        assert!(live >= 3, "{id}: {live} live readings");
    }
    hub_process.kill().ok();
    hub_process.wait().ok();
    assert!(joule_ok(&["sim", "--help"]).contains("--register-level"));
}
