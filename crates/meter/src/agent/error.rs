//! Why the agent stops: every error of the parts it drives, with the key or address that
//! caused it.

use crate::outbox::OutboxError;
use crate::register_store::StoreError;
use crate::source::BuildError;
use crate::source::waveform::WaveformError;
use crate::uplink::UplinkError;
use std::net::SocketAddr;

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The register store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The outbox failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The source could not be built.
    #[error(transparent)]
    SourceBuild(#[from] BuildError),
    /// The source failed.
    #[error(transparent)]
    Source(#[from] WaveformError),
    /// The uplink failed.
    #[error(transparent)]
    Uplink(#[from] UplinkError),
    /// The configuration does not hold together.
    #[error("configuration: {0}")]
    Config(String),
    /// The Modbus server's address could not be bound.
    #[error("modbus.listen {listen}: {source}")]
    Modbus {
        /// The address.
        listen: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The display socket's address could not be bound.
    #[error("display.listen {listen}: {source}")]
    Display {
        /// The address.
        listen: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The saved state could not be read.
    #[error("saved register state is unreadable: {0}")]
    State(String),
}
