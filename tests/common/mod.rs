//! What the binary's integration tests share: a `joule hub` process on SQLite with its
//! embedded broker, and meters provisioned through `joule meters add`.
// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A hub run as the `joule` binary: its SQLite store and its embedded broker's port.
#[derive(Debug)]
pub(crate) struct HubProcess {
    /// The store file.
    pub(crate) store: PathBuf,
    /// Where the embedded broker listens on 127.0.0.1.
    pub(crate) port: u16,
}

impl HubProcess {
    /// `joule` with this hub's store, broker port and an HTTP port of the system's choice.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_joule"));
        command
            .env("JOULE_HUB_STORAGE_SQLITE", &self.store)
            .env("JOULE_HUB_HTTP_LISTEN", "127.0.0.1:0")
            .env(
                "JOULE_HUB_BROKER_LISTEN",
                format!("127.0.0.1:{}", self.port),
            );
        command
    }

    /// Starts `joule hub` (it may not listen yet when this returns).
    pub(crate) fn spawn(&self) -> Child {
        spawn_hub(self.command(), &[], &format!("hub-{}", self.port))
    }

    /// Starts `joule hub` with its API on `http_port`, and waits until the broker and the
    /// API listen.
    pub(crate) fn start_serving(&self, http_port: u16) -> Child {
        let mut command = self.command();
        command.env("JOULE_HUB_HTTP_LISTEN", format!("127.0.0.1:{http_port}"));
        let child = spawn_hub(command, &[], &format!("hub-{}", self.port));
        joule_testkit::wait_for_port(self.port);
        joule_testkit::wait_for_port(http_port);
        child
    }

    /// Starts `joule hub` and waits until its broker listens.
    pub(crate) fn start(&self) -> Child {
        let child = self.spawn();
        joule_testkit::wait_for_port(self.port);
        child
    }

    /// One integer from SQL over the hub's store.
    pub(crate) fn query(&self, sql: &str) -> i64 {
        let db = rusqlite::Connection::open(&self.store).expect("open hub store");
        db.query_row(sql, [], |row| row.get(0)).expect(sql)
    }

    /// Registers a meter with `joule meters add`; returns its device token.
    pub(crate) fn add_meter(&self, id: &str) -> String {
        self.add_meter_with(id, &[])
    }

    /// Registers a meter with `joule meters add` and `options` (`--owner`, `--name`, …);
    /// returns its device token.
    pub(crate) fn add_meter_with(&self, id: &str, options: &[&str]) -> String {
        let added = self
            .command()
            .args(["meters", "add", id])
            .args(options)
            .output()
            .expect("meters add");
        assert!(
            added.status.success(),
            "{}",
            String::from_utf8_lossy(&added.stderr)
        );
        printed_token(&added.stdout)
    }

    /// Adds a user with `joule users add`, the password given on standard input.
    pub(crate) fn add_user(&self, username: &str, role: &str, password: &str) {
        use std::io::Write;
        let mut child = self
            .command()
            .args(["users", "add", username, "--role", role, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("users add");
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{password}").expect("write the password");
        drop(stdin);
        assert!(
            child.wait().expect("users add").success(),
            "users add {username}"
        );
    }
}

/// Stores June 2026 for `meter` in the hub's SQLite store at `store`: 250 Wh every quarter
/// hour, 720 kWh in the month, registers exact at both ends.
pub(crate) async fn store_june(store: &Path, meter: &str) {
    use joule_store::{Batch, SqliteStore, Store, Stored};
    let june_ms: i64 = 1_780_272_000_000;
    let id = joule_protocol::MeterId::new(meter).expect("meter id");
    let messages = (0..=2880u64)
        .map(|k| {
            let ts_ms = june_ms + i64::try_from(k).expect("small") * 900_000;
            let record = joule_testkit::interval_record(k + 1, ts_ms, k * 250_000, 0);
            (id.clone(), Stored::Interval(record))
        })
        .collect();
    SqliteStore::open(store)
        .expect("the hub's store")
        .write_batch(&Batch {
            messages,
            ..Batch::default()
        })
        .await
        .expect("June's records");
}

/// Runs `joule ARGS` to completion, asserts it succeeded, and returns what it printed.
/// Runs `joule hub ARGS` from `command` (its environment set). Its log goes to
/// `{log_name}.log` in the target's test directory, for a failure's post-mortem.
pub(crate) fn spawn_hub(mut command: Command, args: &[&str], log_name: &str) -> Child {
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{log_name}.log"));
    command
        .arg("hub")
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("the hub's log file"))
        .spawn()
        .expect("start joule hub")
}

/// Starts `joule hub --config CONFIG`, its API on a port of the system's choice; the log
/// is named after the directory holding the configuration.
pub(crate) fn spawn_hub_with_config(config: &str) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_joule"));
    command.env("JOULE_HUB_HTTP_LISTEN", "127.0.0.1:0");
    let dir = Path::new(config)
        .parent()
        .and_then(Path::file_name)
        .map_or_else(|| "config".into(), |name| name.to_string_lossy());
    spawn_hub(command, &["--config", config], &format!("hub-{dir}"))
}

pub(crate) fn joule_ok(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_joule"))
        .args(args)
        .output()
        .expect("run joule");
    assert!(
        output.status.success(),
        "joule {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `joule meter --config CONFIG`, quiet.
pub(crate) fn start_meter(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_joule"))
        .args(["meter", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start joule meter")
}

/// Polls `done` every 200 ms until it holds; fails the test after `limit`.
pub(crate) fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The device token `joule meters add` printed.
pub(crate) fn printed_token(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .find_map(|line| line.strip_prefix("token: ").map(str::to_owned))
        .expect("the token is printed")
}

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

/// A CA (`ca.pem`), and a server certificate for 127.0.0.1 signed by it (`server.pem`,
/// `server.key`), in `dir`, made by the `openssl` command.
pub(crate) fn certificates(dir: &Path) {
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
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
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
            "server.pem",
        ],
    );
}

/// A meter's configuration file beyond its id, broker and token: extra lines for its
/// `[meter]` and `[uplink]` sections, and its `[source]` (a simulated household unless
/// given).
#[derive(Debug, Default)]
pub(crate) struct MeterToml<'a> {
    /// Extra `[meter]` lines.
    pub(crate) meter: &'a str,
    /// Extra `[uplink]` lines.
    pub(crate) uplink: &'a str,
    /// The `[source]` lines, `kind` included; empty: `kind = "simulated"`.
    pub(crate) source: &'a str,
}

impl MeterToml<'_> {
    /// Writes `DIR/ID.toml` for meter `id` reporting to `broker` (a URL) with `token`, its
    /// data in `DIR/ID-data`; returns the file's path.
    pub(crate) fn write(&self, dir: &Path, id: &str, broker: &str, token: &str) -> PathBuf {
        let path = dir.join(format!("{id}.toml"));
        let source = if self.source.is_empty() {
            "kind = \"simulated\""
        } else {
            self.source
        };
        let text = format!(
            "[meter]\nid = \"{id}\"\ndata_dir = \"{}\"\n{}\n\
             [uplink]\nbroker = \"{broker}\"\ntoken = \"{token}\"\n{}\n\
             [source]\n{source}\n",
            dir.join(format!("{id}-data")).display(),
            self.meter,
            self.uplink,
        );
        std::fs::write(&path, text).expect("write the meter configuration");
        path
    }
}

/// Registers meter `id` in the hub that the file `config` describes, then exports the
/// registry as Mosquitto's password and ACL files into `dir`. Returns the meter's device
/// token and the Mosquitto configuration lines that enforce the files.
pub(crate) fn add_meter_for_mosquitto(dir: &Path, config: &str, id: &str) -> (String, String) {
    let token = printed_token(joule_ok(&["meters", "add", id, "--config", config]).as_bytes());
    let passwords = dir.join("passwords").to_string_lossy().into_owned();
    let acl = dir.join("acl").to_string_lossy().into_owned();
    joule_ok(&[
        "hub",
        "export-mosquitto-auth",
        "--config",
        config,
        "--password-file",
        &passwords,
        "--acl-file",
        &acl,
    ]);
    let lines = format!("allow_anonymous false\npassword_file {passwords}\nacl_file {acl}\n");
    (token, lines)
}
