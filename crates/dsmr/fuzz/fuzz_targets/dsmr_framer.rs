//! Arbitrary byte streams, in arbitrary chunks, into `joule_dsmr::Framer` (the body is
//! shared with a stable test).
#![no_main]

#[path = "../bodies/dsmr_framer.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::run(data));
