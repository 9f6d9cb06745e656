//! Joule's metrology core: the signal chain that turns raw voltage and current samples into the
//! numbers people are billed on.
//!
//! The chain, per phase: DC offset removal → current-channel delay correction (integer plus
//! first-order Thiran all-pass fractional delay) → per-half-cycle sums between voltage zero
//! crossings → per-cycle RMS, P, Q, S, PF and frequency → energy registers (import and export
//! apart, four-quadrant reactive, apparent; per tariff) gated by the starting threshold →
//! demand, power quality and tamper detection.
//!
//! Sampling is continuous: every sample lands in exactly one half cycle, so nothing between
//! measurement windows is ever missed. The crate is `no_std`, allocates nothing, does no I/O
//! and has no clock: time is the sample count, which the caller maps to civil time.
//!
//! ```
//! use joule_metrology::{Calibration, Meter, MeterConfig};
//!
//! let config = MeterConfig::single_phase(4000.0, Calibration::new(0.5, 0.01, 0.0));
//! let mut meter = Meter::new(config).expect("valid config");
//! for n in 0..40_000u32 {
//!     let angle = 2.0 * core::f64::consts::PI * 50.0 * f64::from(n) / 4000.0;
//!     let v = 650.0 * libm::sin(angle); // 325 V peak at 0.5 V/count
//!     let i = 1414.0 * libm::sin(angle); // 14.14 A peak at 0.01 A/count
//!     meter.push_sample(v, i);
//! }
//! let import_wh = meter.registers().total.active_import.wh();
//! assert!((import_wh - 2298.0 * 10.0 / 3600.0).abs() < 0.1);
//! ```
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "emonlib-anchor")]
pub mod bench;
mod config;
mod crossing;
mod dc;
mod delay;
mod demand;
mod energy;
mod episode;
mod events;
mod interval;
mod measurement;
mod meter;
mod phase;
mod pq;
mod registers;
mod sums;
mod tamper;

pub use config::{
    Calibration, ConfigError, DemandConfig, MAX_PHASES, MeterConfig, PqThresholds, TamperThresholds,
};
pub use demand::{DemandMeter, DemandReading};
pub use energy::EnergyRegister;
pub use events::{Event, EventKind, EventQueue, Transition};
pub use interval::{IntervalAccumulator, IntervalSummary, Range};
pub use measurement::CycleMeasurement;
pub use meter::{Completed, Frame, Meter};
pub use registers::{MAX_TARIFFS, PeriodEnergy, Quadrant, RegisterBank, RegisterSet};
pub use tamper::DigitalInput;
