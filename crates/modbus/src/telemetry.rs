//! What the Modbus server and poller tell operators, the way vectordotdev/vector does it:
//! one small struct per observable event that logs (structured `tracing` fields) and
//! counts (the `metrics` facade) together. Every metric name is defined once, here, and
//! listed in [`METRICS`] for the process that exports them and for the docs check.

use std::error::Error;
use std::net::SocketAddr;

/// Clients refused because every slot was taken.
pub const CONNECTIONS_REFUSED_TOTAL: &str = "joule_modbus_connections_refused_total";
/// Connections closed for sending something that is not Modbus TCP.
pub const FRAMES_REJECTED_TOTAL: &str = "joule_modbus_frames_rejected_total";
/// Requests answered.
pub const REQUESTS_TOTAL: &str = "joule_modbus_requests_total";
/// Requests answered with a Modbus exception.
pub const EXCEPTIONS_TOTAL: &str = "joule_modbus_exceptions_total";
/// Polls of a device that failed, labelled `device`.
pub const POLL_ERRORS_TOTAL: &str = "joule_modbus_poll_errors_total";

/// One counter this crate emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// Its name.
    pub name: &'static str,
    /// Its labels.
    pub labels: &'static [&'static str],
    /// What it counts, for `# HELP`.
    pub help: &'static str,
}

/// Every metric this crate emits (all counters).
pub const METRICS: [Metric; 5] = [
    Metric {
        name: CONNECTIONS_REFUSED_TOTAL,
        labels: &[],
        help: "Modbus clients refused because every slot was taken.",
    },
    Metric {
        name: FRAMES_REJECTED_TOTAL,
        labels: &[],
        help: "Modbus connections closed for a frame that is not Modbus TCP.",
    },
    Metric {
        name: REQUESTS_TOTAL,
        labels: &[],
        help: "Modbus requests answered.",
    },
    Metric {
        name: EXCEPTIONS_TOTAL,
        labels: &[],
        help: "Modbus requests answered with an exception.",
    },
    Metric {
        name: POLL_ERRORS_TOTAL,
        labels: &["device"],
        help: "Polls of a Modbus device that failed, by device.",
    },
];

/// Gives the installed recorder each metric's help text.
pub fn describe() {
    for metric in METRICS {
        metrics::describe_counter!(metric.name, metric.help);
    }
}

/// A client was refused: every slot is taken.
#[derive(Debug)]
pub struct ConnectionRefused {
    /// The client.
    pub peer: SocketAddr,
    /// Clients served at once.
    pub max_clients: usize,
}

impl ConnectionRefused {
    /// Logs and counts it.
    pub fn emit(self) {
        tracing::warn!(peer = %self.peer, max = self.max_clients, "Modbus client refused: all slots taken");
        metrics::counter!(CONNECTIONS_REFUSED_TOTAL).increment(1);
    }
}

/// A client sent something that is not a Modbus TCP frame and was disconnected.
#[derive(Debug)]
pub struct FrameRejected<'a> {
    /// The client.
    pub peer: SocketAddr,
    /// What was wrong.
    pub error: &'a dyn Error,
}

impl FrameRejected<'_> {
    /// Logs and counts it.
    pub fn emit(self) {
        tracing::info!(peer = %self.peer, error = %self.error, "Modbus client sent a non-Modbus frame; closed");
        metrics::counter!(FRAMES_REJECTED_TOTAL).increment(1);
    }
}

/// Requests from one read of a client's stream were answered.
#[derive(Debug)]
pub struct RequestsAnswered {
    /// The client.
    pub peer: SocketAddr,
    /// Requests answered.
    pub requests: usize,
    /// Of which with an exception.
    pub exceptions: usize,
}

impl RequestsAnswered {
    /// Logs and counts them.
    pub fn emit(self) {
        tracing::trace!(peer = %self.peer, requests = self.requests, exceptions = self.exceptions, "Modbus requests answered");
        metrics::counter!(REQUESTS_TOTAL).increment(self.requests as u64);
        if self.exceptions > 0 {
            metrics::counter!(EXCEPTIONS_TOTAL).increment(self.exceptions as u64);
        }
    }
}

/// A poll of a device failed.
#[derive(Debug)]
pub struct PollFailed<'a> {
    /// The device's name.
    pub device: &'a str,
    /// Why.
    pub error: &'a dyn Error,
}

impl PollFailed<'_> {
    /// Logs and counts it.
    pub fn emit(self) {
        tracing::debug!(device = %self.device, error = %self.error, "Modbus poll failed");
        metrics::counter!(POLL_ERRORS_TOTAL, "device" => self.device.to_owned()).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_counters_of_the_modbus_crate() {
        let mut names: Vec<_> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("joule_modbus_") && n.ends_with("_total"))
        );
    }
}
