//! The meter's local display: a terminal screen that reads like a meter's LCD, shown by
//! the agent itself (`joule meter --display`) or by a client of a running agent's display
//! socket (`joule meter display --connect`), over SSH as well as on a console.
//!
//! `screen` draws a [`crate::agent::Snapshot`] (pure, tested on ratatui's test backend),
//! `terminal` runs the screen with the keyboard, `socket` carries snapshots and button
//! presses between a running agent and a display client.

pub mod screen;
pub mod socket;
pub mod terminal;
