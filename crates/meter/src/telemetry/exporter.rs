//! The meter's own `/metrics`: with `[metrics] listen` set, `joule meter` installs a
//! Prometheus recorder for its process and serves it over plain HTTP with the exporter's
//! own listener, so the meter's counters and the Modbus server's can be scraped without a
//! hub. Off by default: a meter beside a fuse box usually has nobody scraping it.

use metrics_exporter_prometheus::{BuildError, PrometheusBuilder};
use std::net::SocketAddr;

/// Why the metrics endpoint did not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics.listen {listen}: {source}")]
pub struct ExporterError {
    /// The address.
    listen: SocketAddr,
    /// What the exporter said (the address is taken, or a recorder is installed already).
    source: BuildError,
}

/// Installs the process's metrics recorder and serves it on `listen` (`/metrics`, plain
/// HTTP). Call it once, from within the Tokio runtime, before the agent starts.
pub fn serve(listen: SocketAddr) -> Result<(), ExporterError> {
    PrometheusBuilder::new()
        .with_http_listener(listen)
        .install()
        .map_err(|source| ExporterError { listen, source })?;
    super::names::describe();
    joule_modbus::telemetry::describe();
    tracing::info!(%listen, "metrics served on /metrics");
    Ok(())
}
