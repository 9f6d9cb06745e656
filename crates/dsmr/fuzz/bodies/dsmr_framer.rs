//! Body of the `dsmr_framer` fuzz target, also run over the seed corpus by
//! `crates/dsmr/tests/fuzz_corpus.rs` on stable.
//!
//! Beyond "never panics": the framer never holds more than its limit, and how the stream
//! is cut into chunks never changes what comes out.

use joule_dsmr::{Framer, MAX_TELEGRAM_BYTES};

/// Pushes `data` into a framer in chunks whose sizes the data itself decides, and once
/// whole, and checks the invariants above.
pub(crate) fn run(data: &[u8]) {
    let mut framer = Framer::new();
    let mut chunked = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let size = usize::from(data[i % data.len()]) + 1;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        chunked.extend(framer.push(chunk));
        assert!(
            framer.buffered_len() <= MAX_TELEGRAM_BYTES,
            "framer over its limit"
        );
        rest = tail;
        i += 1;
    }
    chunked.extend(framer.finish());

    let mut whole = Framer::new();
    let mut at_once = whole.push(data);
    at_once.extend(whole.finish());
    assert_eq!(chunked, at_once, "chunking changed the telegrams");

    let headers = data.iter().filter(|&&b| b == b'/').count();
    assert!(
        chunked.iter().filter(|r| r.is_ok()).count() <= headers,
        "a telegram without '/'"
    );
}
