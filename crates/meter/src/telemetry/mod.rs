//! What the meter tells operators about itself, the way vectordotdev/vector does it: one
//! small struct per observable event in [`events`] that logs (structured `tracing`
//! fields) and counts (the `metrics` facade) together, so a log line and its counter
//! never drift apart. Every metric name is defined once, in [`names`]; the
//! [`exporter`] serves them, with the Modbus crate's, on `/metrics` when
//! `[metrics] listen` is set.

pub mod events;
pub mod exporter;
pub mod names;
