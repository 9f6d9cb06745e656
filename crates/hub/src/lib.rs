//! Joule's head-end: the hub every meter reports to.
//!
//! It stores what meters send, so that no reading is lost and none is stored twice, and
//! keeps the registry of meters allowed to report.
pub mod api;
pub mod billing;
pub mod broker;
pub mod config;
pub mod ingest;
pub mod mosquitto;
pub mod passwords;
pub mod service;
pub mod store;
pub mod tokens;
pub mod web;
