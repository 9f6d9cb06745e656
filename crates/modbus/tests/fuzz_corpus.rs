//! The `modbus_request` fuzz target's body over its seed corpus, on the stable toolchain:
//! every seed (each a known-interesting request stream) is answered as the target checks.

use std::path::Path;

#[path = "../fuzz/body/modbus_request.rs"]
mod body;

#[test]
fn the_fuzz_targets_body_holds_over_the_seed_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/modbus_request");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&corpus).expect("corpus directory") {
        let path = entry.expect("entry").path();
        let data = std::fs::read(&path).expect("seed");
        body::run(&data);
        seeds += 1;
    }
    assert!(seeds >= 17, "only {seeds} seeds in {}", corpus.display());
}
