//! The hub over TLS, with certificates made by the `openssl` command:
//! - its embedded broker's TLS listener takes a meter reporting over `mqtts://`, and its
//!   API serves HTTPS to Python's `urllib` (a client other people wrote), with `Secure`
//!   session cookies, refusing plain HTTP;
//! - as a client of Debian's Mosquitto over TLS (`mqtts://` with `broker.ca_file`), it
//!   stores what a meter sends through the same TLS listener.

mod common;

use common::{HubProcess, MeterToml, certificates, start_meter, wait_until};
use joule_testkit::{Mosquitto, Process};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Logs in as `olivia` over HTTPS trusting only `ca`, reads meter m-1's latest reading,
/// and tries the same URL trusting only the system's roots.
const HTTPS_CLIENT: &str = r#"
import json, ssl, sys, urllib.request, http.cookiejar
base, ca, password = sys.argv[1:4]
trusting = ssl.create_default_context(cafile=ca)
opener = urllib.request.build_opener(
    urllib.request.HTTPSHandler(context=trusting),
    urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
login = urllib.request.Request(base + "/api/v1/auth/login",
    data=json.dumps({"username": "olivia", "password": password}).encode(),
    headers={"Content-Type": "application/json"})
with opener.open(login) as response:
    cookie = response.headers["Set-Cookie"]
with opener.open(base + "/api/v1/meters/m-1/latest") as response:
    latest = json.load(response)
try:
    urllib.request.urlopen(base + "/healthz", context=ssl.create_default_context())
    untrusted = "accepted"
except Exception as error:
    untrusted = type(error).__name__
print(json.dumps({"cookie": cookie, "latest": latest, "untrusted": untrusted}))
"#;

fn tls_table(dir: &Path) -> String {
    format!(
        "{{ certificate = \"{}\", key = \"{}\" }}",
        dir.join("server.pem").display(),
        dir.join("server.key").display()
    )
}

#[test]
fn the_embedded_broker_and_the_api_serve_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    certificates(dir.path());
    let hub = HubProcess {
        store: dir.path().join("hub.sqlite"),
        port: joule_testkit::free_port(),
    };
    let (mqtts_port, https_port) = (joule_testkit::free_port(), joule_testkit::free_port());
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "[broker]\ntls_listen = \"127.0.0.1:{mqtts_port}\"\ntls = {tls}\n\
             [http]\nlisten = \"127.0.0.1:{https_port}\"\ntls = {tls}\n",
            tls = tls_table(dir.path())
        ),
    )
    .expect("hub.toml");
    let token = hub.add_meter("m-1");
    let password = "a long operator password";
    hub.add_user("olivia", "operator", password);
    let mut command = hub.command();
    command.env_remove("JOULE_HUB_HTTP_LISTEN");
    let _hub = Process(common::spawn_hub(
        command,
        &["--config", &config.to_string_lossy()],
        &format!("hub-{}", hub.port),
    ));
    joule_testkit::wait_for_port(mqtts_port);
    joule_testkit::wait_for_port(https_port);

    let ca = dir.path().join("ca.pem");
    let meter = MeterToml {
        uplink: &format!("ca_file = \"{}\"", ca.display()),
        ..MeterToml::default()
    }
    .write(
        dir.path(),
        "m-1",
        &format!("mqtts://127.0.0.1:{mqtts_port}"),
        &token,
    );
    let _meter = Process(start_meter(&meter));
    wait_until(
        "readings over MQTT with TLS",
        Duration::from_secs(30),
        || hub.query("SELECT COUNT(*) FROM live") >= 2,
    );

    let output = Command::new(joule_testkit::python())
        .args(["-c", HTTPS_CLIENT])
        .arg(format!("https://127.0.0.1:{https_port}"))
        .arg(&ca)
        .arg(password)
        .output()
        .expect("python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(
        answer["cookie"]
            .as_str()
            .is_some_and(|cookie| cookie.contains("; Secure")),
        "{answer}"
    );
    assert!(
        answer["latest"]["registers"]["import_mwh"].is_u64(),
        "{answer}"
    );
    assert_eq!(answer["untrusted"], "URLError", "{answer}");

    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", https_port)).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("write");
    let mut reply = Vec::new();
    let _ = plain.read_to_end(&mut reply);
    assert!(!reply.starts_with(b"HTTP/"), "plain HTTP was answered");
}

#[test]
fn the_hub_reaches_mosquitto_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    certificates(dir.path());
    let ca = dir.path().join("ca.pem");
    let hub = HubProcess {
        store: dir.path().join("hub.sqlite"),
        port: joule_testkit::free_port(),
    };
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "[broker]\nurl = \"mqtts://127.0.0.1:{}\"\nca_file = \"{}\"\n\
             username = \"joule-hub\"\npassword = \"hub-secret\"\n\
             [storage]\nsqlite = \"{}\"\n",
            hub.port,
            ca.display(),
            hub.store.display()
        ),
    )
    .expect("hub.toml");
    let config = config.to_string_lossy().into_owned();
    let (token, auth) = common::add_meter_for_mosquitto(dir.path(), &config, "m-1");
    let _mosquitto = Mosquitto::start_on(
        dir.path(),
        hub.port,
        &format!(
            "user root\n{auth}cafile {}\ncertfile {}\nkeyfile {}\n",
            ca.display(),
            dir.path().join("server.pem").display(),
            dir.path().join("server.key").display()
        ),
    );
    let _hub = Process(common::spawn_hub_with_config(&config));
    let meter = MeterToml {
        uplink: &format!("ca_file = \"{}\"\nack_timeout_s = 5", ca.display()),
        ..MeterToml::default()
    }
    .write(
        dir.path(),
        "m-1",
        &format!("mqtts://127.0.0.1:{}", hub.port),
        &token,
    );
    let _meter = Process(start_meter(&meter));
    wait_until(
        "readings stored through Mosquitto over TLS",
        Duration::from_secs(30),
        || hub.query("SELECT COUNT(*) FROM live") >= 2,
    );
    // Stored means acknowledged over the same TLS connections: the outbox drains.
    wait_until("the outbox to drain", Duration::from_secs(30), || {
        let outbox =
            rusqlite::Connection::open(dir.path().join("m-1-data/outbox.sqlite")).expect("outbox");
        outbox
            .query_row("SELECT COUNT(*) FROM outbox", [], |row| {
                row.get::<_, i64>(0)
            })
            .expect("count")
            <= 2
    });
}
