//! `joule meter` with `[metrics] listen` serves its own Prometheus metrics: after a few
//! ticks against a real hub, `/metrics` shows the meter's uplink, outbox and register-store
//! counters, and its Modbus server's once a client has read it.

mod common;

use common::{HubProcess, MeterToml, start_meter, wait_until};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

/// The body of `GET /metrics` on 127.0.0.1:`port`; empty while nothing answers.
fn scrape(port: u16) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => body.to_owned(),
        _ => String::new(),
    }
}

/// The sum of a metric's samples over its label sets (none: `None`).
fn value(metrics: &str, name: &str) -> Option<f64> {
    let samples: Vec<f64> = metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, sample) = line.rsplit_once(' ')?;
            let metric = series.split('{').next()?;
            (metric == name)
                .then(|| sample.parse::<f64>().ok())
                .flatten()
        })
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}

/// Reads L1's voltage (SDM630 input register 0, function 04) from the meter's Modbus server.
fn read_modbus_voltage(port: u16) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the Modbus server");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(&[0, 1, 0, 0, 0, 6, 1, 4, 0, 0, 0, 2])
        .expect("request");
    let mut answer = [0; 13];
    stream.read_exact(&mut answer).expect("an answer");
    assert_eq!(&answer[7..9], &[4, 4], "function 04, four bytes");
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

#[test]
fn a_meter_serves_its_own_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess {
        store: dir.path().join("hub.sqlite"),
        port: joule_testkit::free_port(),
    };
    let token = hub.add_meter("m-1");
    let mut hub_process = hub.start();
    let (metrics_port, modbus_port) = (joule_testkit::free_port(), joule_testkit::free_port());
    let config = MeterToml::default().write(
        dir.path(),
        "m-1",
        &format!("mqtt://127.0.0.1:{}", hub.port),
        &token,
    );
    let mut text = std::fs::read_to_string(&config).expect("the configuration");
    text.push_str(&format!(
        "[persistence]\nevery_s = 1\n\
         [modbus]\nlisten = \"127.0.0.1:{modbus_port}\"\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n"
    ));
    std::fs::write(&config, text).expect("write the configuration");
    let mut meter = start_meter(&config);

    let mut metrics = String::new();
    wait_until(
        "the meter's counters after a few ticks",
        Duration::from_secs(60),
        || {
            metrics = scrape(metrics_port);
            value(&metrics, "joule_meter_uplink_connects_total") >= Some(1.0)
                && value(&metrics, "joule_meter_outbox_acked_total") >= Some(3.0)
                && value(&metrics, "joule_meter_register_saves_total") >= Some(3.0)
        },
    );
    assert!(
        metrics.contains("joule_meter_outbox_recorded_total{kind=\"live\"}"),
        "{metrics}"
    );
    assert!(
        value(&metrics, "joule_meter_outbox_messages").is_some(),
        "{metrics}"
    );
    assert!(
        metrics.contains("# HELP joule_meter_register_saves_total"),
        "described: {metrics}"
    );

    read_modbus_voltage(modbus_port);
    wait_until(
        "the Modbus server's counter",
        Duration::from_secs(10),
        || value(&scrape(metrics_port), "joule_modbus_requests_total") >= Some(1.0),
    );

    stop(&mut meter);
    let _ = hub_process.kill();
    let _ = hub_process.wait();
}

#[test]
fn a_taken_metrics_address_stops_the_meter_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to take");
    let port = taken.local_addr().expect("address").port();
    let config = MeterToml::default().write(dir.path(), "m-1", "mqtt://127.0.0.1:1", "t");
    let mut text = std::fs::read_to_string(&config).expect("the configuration");
    text.push_str(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&config, text).expect("write the configuration");
    let out = Command::new(env!("CARGO_BIN_EXE_joule"))
        .args(["meter", "--config"])
        .arg(&config)
        .output()
        .expect("joule meter");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("metrics.listen 127.0.0.1:{port}")),
        "{stderr}"
    );
}
