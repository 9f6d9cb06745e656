//! The `command_payload` fuzz target's body over its seed corpus, on the stable toolchain:
//! the documented commands and a few malformed ones.

use std::path::Path;

#[path = "../fuzz/body/command_payload.rs"]
mod body;

#[test]
fn the_fuzz_targets_body_holds_over_the_seed_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/command_payload");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&corpus).expect("corpus directory") {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("seed");
        body::run(&data);
        seeds += 1;
    }
    assert!(seeds >= 13, "only {seeds} seeds in {}", corpus.display());
}
