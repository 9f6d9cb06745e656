//! The meter's local display: a terminal screen that reads like a meter's LCD, shown by
//! the agent itself (`joule meter --display`) or by a client of a running agent's display
//! socket (`joule meter display --connect`), over SSH as well as on a console.
//!
//! `panel` holds what the agent and a display share (the [`Snapshot`] and the button),
//! `screen` draws a snapshot (pure, tested on ratatui's test backend), `terminal` runs the
//! screen with the keyboard, `socket` carries snapshots and button presses between a
//! running agent and a display client. Nothing here reads the agent: it fills the panel.

pub mod panel;
pub mod screen;
pub mod socket;
pub mod terminal;

pub use panel::{Panel, PanelHandle, Snapshot};
