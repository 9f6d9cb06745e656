//! Automation: rules that turn triggers (consumption, schedules, demand-response events,
//! prices) into actions (an MQTT message, a meter command, a webhook), with a dry-run mode
//! and an audit entry for every action taken.
//!
//! `rules` holds what users write; `triggers` decides, as pure code, when a rule fires;
//! `runner` carries out (or, in a dry run, only records) its actions.

pub mod rules;
pub mod runner;
pub mod triggers;

pub use rules::*;
