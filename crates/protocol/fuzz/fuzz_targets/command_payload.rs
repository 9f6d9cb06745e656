//! Arbitrary bytes as a command payload on a meter's `cmd` topic.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../body/command_payload.rs"]
mod body;

fuzz_target!(|data: &[u8]| body::run(data));
