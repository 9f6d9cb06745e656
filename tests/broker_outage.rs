//! A broker outage on its own: `joule meter` and `joule hub` both talk to Debian's
//! Mosquitto (configured by `joule hub export-mosquitto-auth`), the broker is stopped for
//! `JOULE_OUTAGE_S` seconds (20 by default; the benchmark script runs minutes) while the
//! meter keeps measuring, then started again. Every message the meter issued is stored,
//! each once, and the meter's outbox drains.

mod common;

use common::{HubProcess, MeterToml, start_meter, wait_until};
use joule_testkit::{Mosquitto, Process};
use rusqlite::Connection;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn outbox(dir: &Path, sql: &str) -> i64 {
    let db = Connection::open(dir.join("m-1-data/outbox.sqlite")).expect("outbox");
    db.query_row(sql, [], |row| row.get(0)).expect(sql)
}

/// Debian's Mosquitto on `port` enforcing the exported registry (`auth`).
fn broker(dir: &Path, port: u16, auth: &str) -> Mosquitto {
    Mosquitto::start_on(dir, port, &format!("user root\n{auth}"))
}

#[test]
fn a_broker_outage_loses_nothing_and_stores_nothing_twice() {
    let outage = Duration::from_secs(
        std::env::var("JOULE_OUTAGE_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let port = joule_testkit::free_port();
    let hub = HubProcess {
        store: dir.path().join("hub.sqlite"),
        port,
    };
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "[broker]\nurl = \"mqtt://127.0.0.1:{port}\"\nusername = \"joule-hub\"\npassword = \"hub-secret\"\n\
             [storage]\nsqlite = \"{}\"\n",
            hub.store.display()
        ),
    )
    .expect("hub.toml");
    let config = config.to_string_lossy().into_owned();
    let (token, auth) = common::add_meter_for_mosquitto(dir.path(), &config, "m-1");
    let mosquitto = broker(dir.path(), port, &auth);
    let _hub = Process(common::spawn_hub_with_config(&config));
    let meter_config = MeterToml {
        meter: "interval_s = 5",
        uplink: "ack_timeout_s = 5",
        source: "kind = \"simulated\"\nseed = 4",
    }
    .write(
        dir.path(),
        "m-1",
        &format!("mqtt://127.0.0.1:{port}"),
        &token,
    );
    let mut meter = Process(start_meter(&meter_config));
    wait_until(
        "readings through Mosquitto",
        Duration::from_secs(30),
        || hub.query("SELECT COUNT(*) FROM live") >= 3,
    );

    drop(mosquitto);
    std::thread::sleep(outage);
    let waiting = outbox(dir.path(), "SELECT COUNT(*) FROM outbox");
    assert!(
        waiting as u64 >= outage.as_secs() / 2,
        "the outbox holds the outage: {waiting}"
    );
    let _mosquitto = broker(dir.path(), port, &auth);

    wait_until(
        "the outbox to drain",
        outage + Duration::from_secs(60),
        || outbox(dir.path(), "SELECT COUNT(*) FROM outbox") == 0,
    );
    // A clean stop, and its last messages stored too.
    let _ = Command::new("kill").arg(meter.0.id().to_string()).status();
    let _ = meter.0.wait();
    wait_until("the power_down event", Duration::from_secs(30), || {
        hub.query("SELECT COUNT(*) FROM events WHERE kind = 'power_down'") == 1
    });
    let issued = outbox(
        dir.path(),
        "SELECT value - 1 FROM meta WHERE key = 'next_seq'",
    );
    wait_until(
        "every issued message stored",
        Duration::from_secs(30),
        || hub.query("SELECT contiguous FROM progress WHERE meter_id = 'm-1'") == issued,
    );
    let stored = hub.query("SELECT COUNT(*) FROM live")
        + hub.query("SELECT COUNT(*) FROM intervals")
        + hub.query("SELECT COUNT(*) FROM events");
    assert_eq!(stored, issued, "each message stored once");
    assert!(hub.query("SELECT COUNT(*) FROM intervals") as u64 >= outage.as_secs() / 5 - 1);
}
