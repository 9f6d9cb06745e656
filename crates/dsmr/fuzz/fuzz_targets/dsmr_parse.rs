//! Arbitrary bytes into `joule_dsmr::parse` (the body is shared with a stable test).
#![no_main]

#[path = "../bodies/dsmr_parse.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
