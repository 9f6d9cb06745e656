//! Body of the `dsmr_parse` fuzz target, also run over the seed corpus by
//! `crates/dsmr/tests/fuzz_corpus.rs` on stable.
//!
//! Beyond "never panics": whatever the parser accepts, the framer delivers identically, and
//! the derived values of an accepted telegram are computable.

use joule_dsmr::{Framer, MAX_TELEGRAM_BYTES, parse};

/// Parses `data` and checks the invariants above.
pub(crate) fn run(data: &[u8]) {
    let parsed = parse(data);
    let Ok(telegram) = &parsed else { return };
    let _ = (
        telegram.import_wh(),
        telegram.export_wh(),
        telegram.net_power_w(),
    );
    let _ = telegram
        .gas()
        .and_then(|gas| gas.reading.as_ref())
        .map(|r| r.volume_l());
    if let Some(at) = telegram.timestamp {
        let _ = at.to_unix_ms(&jiff::tz::TimeZone::UTC);
        let _ = at.to_string();
    }
    if data.len() <= MAX_TELEGRAM_BYTES {
        let mut framer = Framer::new();
        let mut framed = framer.push(data);
        framed.extend(framer.finish());
        assert_eq!(
            framed,
            vec![parsed.clone()],
            "the framer disagrees with the parser"
        );
    }
}
