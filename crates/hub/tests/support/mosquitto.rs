//! Debian's Mosquitto on a free port with its own config, for the tests that need it.

use crate::support::free_port;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Mosquitto broker that stops when dropped.
#[derive(Debug)]
pub(crate) struct Mosquitto {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Mosquitto {
    /// Starts `/usr/sbin/mosquitto` with `extra` config lines on a free port, in `dir`.
    pub(crate) fn start(dir: &Path, extra: &str) -> Self {
        let binary = PathBuf::from("/usr/sbin/mosquitto");
        assert!(
            binary.exists(),
            "Debian's mosquitto is required (scripts/test.sh installs it): apt-get install mosquitto"
        );
        let port = free_port();
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
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "mosquitto did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
