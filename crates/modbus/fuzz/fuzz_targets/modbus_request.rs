//! Arbitrary bytes as a Modbus TCP stream into the server's request handling.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../body/modbus_request.rs"]
mod body;

fuzz_target!(|data: &[u8]| body::run(data));
