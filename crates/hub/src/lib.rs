//! Joule's head-end: the hub every meter reports to.
//!
//! It stores what meters send, so that no reading is lost and none is stored twice, and
//! keeps the registry of meters allowed to report.
pub mod alerts;
pub mod api;
pub mod automation;
pub mod billing;
pub mod broker;
pub mod config;
pub mod context;
pub mod control;
pub mod housekeeping;
pub mod ingest;
pub mod market;
pub mod mosquitto;
pub mod rulebook;
pub mod service;
pub mod telemetry;
pub mod tls;
pub mod watcher;
pub mod web;
