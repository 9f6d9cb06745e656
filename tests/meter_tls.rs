//! The meter's uplink over TLS (`mqtts://` with `uplink.ca_file`) to Debian's Mosquitto
//! with a TLS listener, certificates made by the `openssl` command; `mosquitto_sub`, a
//! client other people wrote, reads the meter's live readings through the same listener.
//! A meter that does not trust the broker's certificate never gets a reading through.

mod common;

use common::start_meter;
use joule_testkit::{Mosquitto, Process};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/test.sh installs it)");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA, and a broker certificate for 127.0.0.1 signed by it, in `dir`.
fn certificates(dir: &Path) {
    std::fs::write(dir.join("san.ext"), "subjectAltName = IP:127.0.0.1\n").expect("san");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Joule test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "broker.key",
            "-out",
            "broker.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "broker.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "broker.pem",
        ],
    );
}

fn meter_config(dir: &Path, port: u16, ca_file: &Path) -> std::path::PathBuf {
    let path = dir.join("meter.toml");
    let text = format!(
        "[meter]\nid = \"m-1\"\ndata_dir = \"{}\"\n\
         [uplink]\nbroker = \"mqtts://127.0.0.1:{port}\"\ntoken = \"t\"\nca_file = \"{}\"\n\
         [source]\nkind = \"simulated\"\n",
        dir.join("meter-data").display(),
        ca_file.display()
    );
    std::fs::write(&path, text).expect("meter.toml");
    path
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
            dir.path().join("broker.pem").display(),
            dir.path().join("broker.key").display()
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
