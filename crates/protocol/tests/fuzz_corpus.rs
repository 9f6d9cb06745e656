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
        // Only the seeds git keeps; a local fuzzing run adds its finds beside them.
        if !path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("seed-"))
        {
            continue;
        }
        let data = std::fs::read(&path).expect("seed");
        body::run(&data);
        seeds += 1;
    }
    assert_eq!(seeds, 13, "seeds in {}", corpus.display());
}
