//! Joule's Modbus, both ways round.
//!
//! - A read-only Modbus TCP **server** ([`serve`]) that makes a Joule meter readable as if
//!   it were a commercial meter: the Eastron SDM630 input-register map on function 04
//!   ([`sdm_input_registers`]) and a SunSpec block (common model 1, meter model 201 or
//!   203) on function 03 ([`sunspec_holding_registers`]). Energy managers, inverters and
//!   home-automation systems already speak both, so none needs a Joule driver.
//! - A **poller** ([`Poller`]) that reads an Eastron SDM120 or SDM630 a user already owns,
//!   over Modbus TCP or RTU, into the same [`Snapshot`], so the meter agent can use it as
//!   its source.
//!
//! The register maps are pure functions of a [`Snapshot`]; the server's request handling
//! is a sans-I/O [`Session`] (bytes in, answers out) that the fuzz target drives; the
//! socket code around them is thin. `README.md` beside this crate has the register tables
//! and client configurations; [`telemetry`] has the metrics both sides emit.

mod exception;
mod link;
mod poller;
mod sdm;
mod server;
mod session;
mod snapshot;
mod sunspec;
pub mod telemetry;

#[cfg(test)]
mod fixtures;

pub use exception::{Exception, MAX_READ_REGISTERS};
pub use link::{DEFAULT_BAUD, Link, LinkError, Parity};
pub use poller::{PollError, Poller, PollerConfig, SdmModel};
pub use sdm::{SDM_REGISTERS, SdmRegister, sdm_input_registers, sdm_map};
pub use server::{ServerOptions, Stopped, serve, serve_with};
pub use session::{FrameError, Received, Session};
pub use snapshot::{
    ApparentEnergy, Identity, MAX_PHASES, PhaseValues, Phases, ReactiveEnergy, Snapshot,
};
pub use sunspec::{
    SUNSPEC_BASE, SUNSPEC_REGISTERS, sunspec_holding_registers, sunspec_meter_model,
};
