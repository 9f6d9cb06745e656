//! Where the meter's measurements come from, built from the `[source]` configuration by
//! [`factory::build_source`].
//!
//! Two families: waveform sources (`simulated` mains and `wav` captures) feed raw ADC
//! frames through Joule's own metrology chain, whose registers the agent keeps and
//! persists; device sources (a Modbus or DSMR meter people already own) report values and
//! registers that the device keeps. Either way the agent sees one [`Observation`] per
//! tick, through the one [`Source`] interface in `dispatch`.
//!
//! A new kind of source is a module here producing [`Observation`]s, a variant of
//! `SourceConfig`, and an arm in [`factory::build_source`].

pub mod device;
pub mod dispatch;
pub mod dsmr;
pub mod factory;
pub mod modbus;
pub mod observation;
pub mod wav;
pub mod waveform;

pub use dispatch::{Chain, Source};
pub use factory::{BuildError, build_source};
pub use observation::{
    Observation, PhaseValues, SourceEvent, mean_voltage_current, power_factor, voltage_range_v,
};
