//! Joule's meter agent: the program beside the fuse box that keeps the registers and
//! reports to the hub.
//!
//! The data flows one way: a [`source`] measures (Joule's metrology chain on ADC frames,
//! or a meter people already own); the [`recorder`] turns measurements into live readings,
//! interval records and events; they wait in the disk [`outbox`] until the hub confirms it
//! stored them, while the [`uplink`] carries them over MQTT (a backlog in [`batching`]'s
//! batch messages once the hub says it reads them). Commands flow back: the uplink
//! hands them to the [`agent`], which asks [`commands`] what each one does, moves the
//! [`relay`], switches tariffs by the [`tou`] calendar, and acknowledges. The registers and
//! the settings commands changed live in [`state`], saved by [`persistence`] into the
//! crash-safe [`register_store`]. The [`display`] and the Modbus server ([`modbus_view`])
//! show what the agent hands them; [`telemetry`] logs and counts what happens. `design.md`
//! beside this crate tells how the parts fit.

pub mod agent;
pub mod alerts;
pub mod batching;
pub mod clock;
pub mod commands;
pub mod config;
pub mod demand;
pub mod display;
pub mod modbus_view;
pub mod outbox;
pub mod persistence;
pub mod recorder;
pub mod register_store;
pub mod relay;
pub mod source;
pub mod state;
pub mod telemetry;
pub mod tou;
pub mod uplink;
