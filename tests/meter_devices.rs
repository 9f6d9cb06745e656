//! The meter agent with each source but the simulated one (which the other tests use), as
//! real processes against a real hub: an Eastron SDM630 impersonated by pymodbus (a Modbus
//! server other people wrote), a DSMR 5 P1 port relayed over TCP, as a ser2net gateway or
//! a P1 dongle would, and a WAV capture replayed through the metrology chain. The device's
//! registers and power, or the capture's metered values, reach the hub's store.

mod common;

use common::{HubProcess, MeterToml, start_meter, wait_until};
use joule_testkit::Process;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The newest live reading the hub stored for m-1.
#[derive(Debug)]
struct Latest {
    import_mwh: i64,
    export_mwh: i64,
    p_w: f64,
    tariff: i64,
    voltage_v: f64,
}

fn latest(hub: &HubProcess) -> Option<Latest> {
    let db = rusqlite::Connection::open(&hub.store).expect("open hub store");
    db.query_row(
        "SELECT import_mwh, export_mwh, p_w, tariff, voltage_v FROM live WHERE meter_id = 'm-1'
         ORDER BY ts_ms DESC LIMIT 1",
        [],
        |row| {
            Ok(Latest {
                import_mwh: row.get(0)?,
                export_mwh: row.get(1)?,
                p_w: row.get(2)?,
                tariff: row.get(3)?,
                voltage_v: row.get(4)?,
            })
        },
    )
    .ok()
}

/// A hub with meter `m-1` registered, and the meter's configuration with `source`.
fn hub_and_meter(dir: &Path, source: &str) -> (HubProcess, Process, PathBuf) {
    let hub = HubProcess {
        store: dir.join("hub.sqlite"),
        port: joule_testkit::free_port(),
    };
    let token = hub.add_meter("m-1");
    let config = MeterToml {
        source,
        ..MeterToml::default()
    }
    .write(
        dir,
        "m-1",
        &format!("mqtt://127.0.0.1:{}", hub.port),
        &token,
    );
    let process = Process(hub.start());
    (hub, process, config)
}

#[test]
fn a_pymodbus_sdm630_reaches_the_hub_through_the_meter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = joule_testkit::free_port();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/modbus/tests/peers/sdm_server.py"
    );
    let mut pymodbus = Process(
        Command::new(joule_testkit::python())
            .args([script, "tcp", &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start pymodbus"),
    );
    let mut ready = String::new();
    BufReader::new(pymodbus.0.stdout.take().expect("stdout"))
        .read_line(&mut ready)
        .expect("read");
    assert!(ready.starts_with("ready"), "pymodbus: {ready:?}");
    let source =
        format!("kind = \"modbus\"\nlink = \"tcp://127.0.0.1:{port}\"\nmodel = \"sdm630\"");
    let (hub, _hub_process, config) = hub_and_meter(dir.path(), &source);
    let _meter = Process(start_meter(&config));
    wait_until("a reading at the hub", Duration::from_secs(30), || {
        latest(&hub).is_some()
    });
    // The impersonated SDM630 holds 4321.5 kWh import, 765.25 kWh export, 1520 W total.
    let Latest {
        import_mwh,
        export_mwh,
        p_w,
        ..
    } = latest(&hub).expect("reading");
    assert_eq!(
        (import_mwh, export_mwh, p_w),
        (4_321_500_000, 765_250_000, 1520.0)
    );

    // The device goes away: the meter reports it unavailable, once.
    drop(pymodbus);
    wait_until("the unavailable alarm", Duration::from_secs(60), || {
        hub.query("SELECT COUNT(*) FROM events WHERE kind = 'alarm'") >= 1
    });
}

#[test]
fn a_dsmr5_p1_port_over_tcp_reaches_the_hub_through_the_meter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let telegram = include_bytes!("../crates/dsmr/tests/telegrams/dsmr5.txt");
    let gateway = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = gateway.local_addr().expect("addr").port();
    // A P1 port sends a telegram every second for as long as someone listens.
    std::thread::spawn(move || {
        while let Ok((mut stream, _)) = gateway.accept() {
            std::thread::spawn(move || {
                while stream.write_all(telegram).is_ok() {
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
    });
    let source = format!("kind = \"dsmr\"\nport = \"tcp://127.0.0.1:{port}\"");
    let (hub, _hub_process, config) = hub_and_meter(dir.path(), &source);
    let _meter = Process(start_meter(&config));
    wait_until("a reading at the hub", Duration::from_secs(30), || {
        latest(&hub).is_some()
    });
    // Import 4512.671 + 3987.014 kWh, export 1203.330 + 2876.905 kWh, 3.412 kW exported,
    // DSMR tariff 2 (Joule tariff 1).
    let Latest {
        import_mwh,
        export_mwh,
        p_w,
        tariff,
        ..
    } = latest(&hub).expect("reading");
    assert_eq!(
        (import_mwh, export_mwh, p_w, tariff),
        (8_499_685_000, 4_080_235_000, -3412.0, 1)
    );
}

#[test]
fn a_wav_capture_is_metered_and_reaches_the_hub() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two seconds of 230 V and 10 A in phase at 4 kHz: 0.02 V and 1 mA per count.
    let capture = dir.path().join("capture.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 4000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&capture, spec).expect("create wav");
    for n in 0..8000 {
        let angle = std::f64::consts::TAU * 50.0 * f64::from(n) / 4000.0;
        let volts = 230.0 * std::f64::consts::SQRT_2 * angle.sin();
        let amps = 10.0 * std::f64::consts::SQRT_2 * angle.sin();
        writer
            .write_sample((volts / 0.02).round() as i16)
            .expect("sample");
        writer
            .write_sample((amps / 0.001).round() as i16)
            .expect("sample");
    }
    writer.finalize().expect("finalize wav");
    let source = format!(
        "kind = \"wav\"\npath = \"{}\"\nv_scale = 0.02\ni_scale = 0.001",
        capture.display()
    );
    let (hub, _hub_process, config) = hub_and_meter(dir.path(), &source);
    let _meter = Process(start_meter(&config));
    // The first seconds settle the offset filter; then the capture's values hold.
    wait_until(
        "metered 230 V and 2300 W at the hub",
        Duration::from_secs(40),
        || {
            latest(&hub).is_some_and(|reading| {
                (reading.voltage_v - 230.0).abs() < 0.5 && (reading.p_w - 2300.0).abs() < 5.0
            })
        },
    );
}
