//! The poller reads an SDM630 impersonated by pymodbus (a Modbus server written by other
//! people) over Modbus TCP and over RTU on a pseudo-terminal, tells the device's
//! exceptions apart from transport failures, and round-trips through Joule's own server.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, identity, snapshot};
use joule_modbus::{Link, Phases, PollError, Poller, PollerConfig, SdmModel};
use joule_testkit::Process;
use tokio_modbus::ExceptionCode;

/// pymodbus impersonating an SDM630; returns it and where it answers (port or tty path).
fn pymodbus_sdm(args: &[&str]) -> (Process, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/sdm_server.py");
    let mut child = Command::new(joule_testkit::python())
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start pymodbus");
    let stdout = child.stdout.take().expect("stdout");
    let process = Process(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let place = line
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("pymodbus did not start: {line:?}"))
        .trim()
        .to_owned();
    (process, place)
}

fn tcp(port: u16) -> Link {
    Link::Tcp {
        host: "127.0.0.1".to_owned(),
        port,
    }
}

fn f32_exact(value: f32) -> f64 {
    f64::from(value)
}

#[tokio::test]
async fn poller_reads_a_pymodbus_sdm630_over_tcp() {
    let port = joule_testkit::free_port();
    let (_pymodbus, _) = pymodbus_sdm(&["tcp", &port.to_string()]);
    let mut poller = Poller::new(PollerConfig::new(
        "pymodbus SDM630",
        SdmModel::Sdm630,
        tcp(port),
    ));
    let read = poller.poll().await.expect("poll");
    assert_eq!(read.phases, Phases::Three);
    assert_eq!(read.phase[0].voltage_v, 229.5);
    assert_eq!(read.phase[2].voltage_v, 232.25);
    assert_eq!(read.phase[1].current_a, 2.25);
    assert_eq!(read.phase[1].p_w, -480.0);
    assert_eq!(read.phase[2].s_va, 116.125);
    assert_eq!(read.phase[1].q_var, -150.0);
    assert_eq!(read.phase[0].pf, f32_exact(0.974));
    assert_eq!(read.phase[1].pf, f32_exact(-0.92));
    assert_eq!((read.p_w, read.s_va, read.q_var), (1520.0, 2586.625, 315.0));
    assert_eq!(read.pf, f32_exact(0.59));
    assert_eq!(read.frequency_hz, Some(f32_exact(50.02)));
    assert_eq!(read.import_mwh, 4_321_500_000);
    assert_eq!(read.export_mwh, 765_250_000);
    assert_eq!(read.reactive.import_mvarh(), 321_125_000);
    assert_eq!(read.reactive.export_mvarh(), 45_500_000);
    assert_eq!((read.total_demand_w, read.max_demand_w), (1333.0, 7450.0));
    // A second poll reuses the connection.
    assert_eq!(poller.poll().await.expect("poll again"), read);
}

#[tokio::test]
async fn poller_reads_a_pymodbus_meter_over_rtu_on_a_pseudo_terminal() {
    let (_pymodbus, tty) = pymodbus_sdm(&["rtu"]);
    let mut poller = Poller::new(PollerConfig::new(
        "pymodbus SDM120",
        SdmModel::Sdm120,
        Link::rtu(tty),
    ));
    let read = poller.poll().await.expect("poll over RTU");
    assert_eq!(read.phases, Phases::One);
    assert_eq!(read.phase[0].voltage_v, 229.5);
    assert_eq!(read.p_w, 1900.0, "an SDM120's total is its one phase");
    assert_eq!(read.import_mwh, 4_321_500_000);
    assert_eq!(read.max_demand_w, 7450.0);
}

#[tokio::test]
async fn device_exceptions_are_told_apart_from_transport_failures() {
    let port = joule_testkit::free_port();
    let (pymodbus, _) = pymodbus_sdm(&["tcp", &port.to_string()]);
    let mut config = PollerConfig::new("short SDM", SdmModel::Sdm630, tcp(port));
    config.unit_id = 3;
    let mut poller = Poller::new(config);
    let error = poller.poll().await.expect_err("unit 3 holds 32 registers");
    assert!(
        matches!(
            error,
            PollError::Exception {
                start: 0,
                count: 80,
                exception: ExceptionCode::IllegalDataAddress,
                ..
            }
        ),
        "{error}"
    );
    assert!(!error.is_transport());
    assert!(
        error
            .to_string()
            .starts_with("short SDM: answered exception"),
        "{error}"
    );

    drop(pymodbus);
    let mut poller = Poller::new(PollerConfig::new("gone SDM", SdmModel::Sdm630, tcp(port)));
    let error = poller.poll().await.expect_err("nothing listens");
    assert!(matches!(error, PollError::Connect { .. }), "{error}");
    assert!(error.is_transport());
    assert!(
        error
            .to_string()
            .starts_with(&format!("gone SDM: cannot open tcp://127.0.0.1:{port}")),
        "{error}"
    );
}

#[tokio::test]
async fn a_device_that_never_answers_times_out() {
    // The kernel completes the connection; nobody ever reads the request.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port();
    let mut config = PollerConfig::new("silent SDM", SdmModel::Sdm630, tcp(port));
    config.timeout = Duration::from_millis(200);
    let error = Poller::new(config).poll().await.expect_err("silence");
    assert!(
        matches!(error, PollError::Timeout { timeout, .. } if timeout == Duration::from_millis(200)),
        "{error}"
    );
    assert!(error.is_transport());
}

#[tokio::test]
async fn poller_round_trips_through_joules_own_server() {
    let original = snapshot();
    let server = Server::start(original);
    let mut poller = Poller::new(PollerConfig::new(
        identity().serial,
        SdmModel::Sdm630,
        tcp(server.port),
    ));
    let read = poller.poll().await.expect("poll");
    let float32 = |value: f64| f64::from(value as f32);
    for (got, sent) in read.phase.iter().zip(&original.phase) {
        assert_eq!(got.voltage_v, float32(sent.voltage_v));
        assert_eq!(got.current_a, float32(sent.current_a));
        assert_eq!(got.p_w, float32(sent.p_w));
        assert_eq!(got.s_va, float32(sent.s_va));
        assert_eq!(got.q_var, float32(sent.q_var));
        assert_eq!(got.pf, float32(sent.pf));
    }
    assert_eq!(read.p_w, float32(original.p_w));
    assert_eq!(read.frequency_hz, original.frequency_hz.map(float32));
    // Energy passes through a float32 of kWh: within its resolution (0.12 Wh at 1235 kWh).
    let within = |got: u64, sent: u64| {
        let resolution = (sent as f64 / 1e6) as f32;
        let ulp_mwh = f64::from(f32::from_bits(resolution.to_bits() + 1) - resolution) * 1e6;
        assert!(got.abs_diff(sent) as f64 <= ulp_mwh, "{got} vs {sent}");
    };
    within(read.import_mwh, original.import_mwh);
    within(read.export_mwh, original.export_mwh);
    within(
        read.reactive.import_mvarh(),
        original.reactive.import_mvarh(),
    );
    within(
        read.reactive.export_mvarh(),
        original.reactive.export_mvarh(),
    );
    assert_eq!(read.max_demand_w, original.max_demand_w);
}
