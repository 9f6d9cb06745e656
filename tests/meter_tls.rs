//! The meter's uplink over TLS (`mqtts://` with `uplink.ca_file`) to Debian's Mosquitto
//! with a TLS listener, certificates made by the `openssl` command; `mosquitto_sub`, a
//! client other people wrote, reads the meter's live readings through the same listener.
//! A meter that does not trust the broker's certificate never gets a reading through.

mod common;

use common::{MeterToml, certificates, start_meter};
use joule_testkit::{Mosquitto, Process};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn meter_config(dir: &Path, port: u16, ca_file: &Path) -> std::path::PathBuf {
    MeterToml {
        uplink: &format!("ca_file = \"{}\"", ca_file.display()),
        ..MeterToml::default()
    }
    .write(dir, "m-1", &format!("mqtts://127.0.0.1:{port}"), "t")
}

/// One live reading through the TLS listener, or `None` within `wait`.
fn one_live_reading(port: u16, ca: &Path, wait: Duration) -> Option<String> {
    let out = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--cafile"])
        .arg(ca)
        .args(["-t", "joule/v1/meters/m-1/live", "-C", "1", "-W"])
        .arg(wait.as_secs().to_string())
        .output()
        .expect("mosquitto_sub (scripts/test.sh installs mosquitto-clients)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_meter_reports_over_tls_to_mosquitto_and_refuses_an_untrusted_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    certificates(dir.path());
    let ca = dir.path().join("ca.pem");
    let broker = Mosquitto::start(
        dir.path(),
        &format!(
            // `user root`: a Mosquitto started as root reads the key files after dropping to
            // its own user otherwise, and the temp dir is not theirs (ignored when not root).
            "user root\nallow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\n",
            ca.display(),
            dir.path().join("server.pem").display(),
            dir.path().join("server.key").display()
        ),
    );

    let trusting = meter_config(dir.path(), broker.port, &ca);
    let meter = Process(start_meter(&trusting));
    let reading = one_live_reading(broker.port, &ca, Duration::from_secs(20))
        .expect("a live reading arrives over TLS");
    assert!(reading.contains("\"registers\""), "{reading}");
    drop(meter);

    // The same meter trusting another CA: the handshake fails, nothing is published.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).expect("dir");
    certificates(&other);
    let distrusting = meter_config(dir.path(), broker.port, &other.join("ca.pem"));
    let _meter = Process(start_meter(&distrusting));
    assert_eq!(
        one_live_reading(broker.port, &ca, Duration::from_secs(4)),
        None,
        "a meter must not talk to a broker it does not trust"
    );
}
