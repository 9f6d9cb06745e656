//! Alerts: rules users set on their meters, evaluated as readings, events and presence
//! arrive and as time passes, raised once per rule, meter and condition, and delivered
//! in-app, by webhook, on MQTT and by email.
//!
//! `rules` holds what users write and read; `engine` decides, as pure code, when a
//! condition is raised or cleared; `service` runs the engine in the hub (feeding it,
//! storing alerts, resolving them) and `deliver` sends each new alert once per channel.

pub mod config;
pub mod deliver;
pub mod engine;
pub mod rules;

/// The alert records the store keeps, under the names the alert code uses.
pub use joule_store::{Alert, AlertState, Channel, DeliveryAttempt, NewAlert};
pub use rules::*;
