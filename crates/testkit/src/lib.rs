//! What Joule's integration tests share, so that the hub's tests and the binary's tests
//! start the same real peers the same way: Debian's Mosquitto on a free port, a throwaway
//! PostgreSQL cluster, MQTT clients logging in as meters, and valid live readings. A
//! dev-dependency only; it panics on failure, as test code does.

mod postgres;

pub use postgres::Postgres;

pub mod http;
pub mod modules;

use joule_protocol::{
    IntervalRecord, LiveReading, PAYLOAD_VERSION, PqCounters, Registers, RelayState,
};
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// Waits (up to 10 s) until something listens on `port` of 127.0.0.1.
pub fn wait_for_port(port: u16) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An hour ago in Unix ms: a base for test timestamps that the hub accepts even after an
/// hour of readings, one a second, on top of it.
pub fn recent_ms() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    i64::try_from(now).expect("ms") - 3_600_000
}

/// A valid single-phase live reading, one a second after `base_ms`, whose import register
/// grows with `seq`.
pub fn reading(seq: u64, base_ms: i64) -> LiveReading {
    LiveReading {
        v: PAYLOAD_VERSION,
        seq,
        ts_ms: base_ms + i64::try_from(seq).expect("small seq") * 1000,
        voltage_v: 230.0,
        current_a: 2.0,
        p_w: 460.0,
        q_var: 0.0,
        s_va: 460.0,
        pf: 1.0,
        freq_hz: Some(50.0),
        phases: Vec::new(),
        registers: Registers {
            import_mwh: seq,
            ..Registers::default()
        },
        tariff: 0,
        relay: RelayState::Connected,
    }
}

/// A valid 15-minute interval record ending at `ts_ms` with the cumulative import and
/// export registers given.
pub fn interval_record(seq: u64, ts_ms: i64, import_mwh: u64, export_mwh: u64) -> IntervalRecord {
    IntervalRecord {
        v: PAYLOAD_VERSION,
        seq,
        ts_ms,
        interval_s: 900,
        registers: Registers {
            import_mwh,
            export_mwh,
            ..Registers::default()
        },
        tariffs: Vec::new(),
        voltage_min_v: 229.0,
        voltage_max_v: 231.0,
        voltage_avg_v: 230.0,
        max_demand_w: None,
        pq: PqCounters::default(),
    }
}

/// An MQTT client of 127.0.0.1:`port` logging in as `user` (also its client id).
pub fn client(port: u16, user: &str, password: &str) -> (AsyncClient, EventLoop) {
    let mut options = MqttOptions::new(user, "127.0.0.1", port);
    options
        .set_credentials(user, password)
        .set_keep_alive(Duration::from_secs(10));
    AsyncClient::new(options, 512)
}

/// Polls until the broker accepts the login (`true`) or refuses it (`false`).
pub async fn connects(eventloop: &mut EventLoop) -> bool {
    loop {
        let polled = tokio::time::timeout(Duration::from_secs(10), eventloop.poll())
            .await
            .expect("the broker answers within 10 s");
        match polled {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return true,
            Ok(_) => {}
            Err(ConnectionError::ConnectionRefused(_)) => return false,
            Err(error) => panic!("unexpected connection error: {error}"),
        }
    }
}

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's Mosquitto, stopped when dropped.
#[derive(Debug)]
pub struct Mosquitto {
    _process: Process,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Mosquitto {
    /// Starts `/usr/sbin/mosquitto` on a free port with `extra` config lines, its config in
    /// `dir`.
    pub fn start(dir: &Path, extra: &str) -> Self {
        Self::start_on(dir, free_port(), extra)
    }

    /// Starts it on `port`.
    pub fn start_on(dir: &Path, port: u16, extra: &str) -> Self {
        let binary = Path::new("/usr/sbin/mosquitto");
        assert!(
            binary.exists(),
            "Debian's mosquitto is required (scripts/test.sh installs it): apt-get install mosquitto"
        );
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\npersistence false\nlog_dest stderr\n{extra}\n"),
        )
        .expect("write mosquitto.conf");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let process = Process(child);
        wait_for_port(port);
        Self {
            _process: process,
            port,
        }
    }
}

/// The Python interpreter of the venv that holds the Python peers (pymodbus, dsmr-parser,
/// paho-mqtt): `JOULE_PYTHON`, which `scripts/test.sh` sets after installing them, or the
/// venv that script makes in `~/.cache/joule-py`.
pub fn python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("JOULE_PYTHON") {
        return python.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    let python = Path::new(&home).join(".cache/joule-py/bin/python");
    assert!(
        python.exists(),
        "no Python peers: run the tests through scripts/test.sh, which installs them"
    );
    python
}

/// A task that runs until told to stop (e.g. a hub serving in the test's process).
#[derive(Debug)]
pub struct Stoppable<E> {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), E>>>,
}

impl<E: std::fmt::Debug + Send + 'static> Stoppable<E> {
    /// Spawns what `start` makes of a future that resolves when the task should stop.
    pub fn spawn<F>(
        start: impl FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
    ) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(start(Box::pin(async {
            let _ = stopped.await;
        })));
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Tells it to stop and waits; it must end cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("task").expect("stopped cleanly");
        }
    }
}
