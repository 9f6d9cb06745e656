//! The fuzz targets' bodies over their seed corpora (`fuzz/corpus/<target>/seed-*`), so
//! that a stable toolchain without cargo-fuzz still runs them and keeps them compiling.

use std::path::Path;

#[path = "../fuzz/bodies/dsmr_framer.rs"]
mod dsmr_framer;
#[path = "../fuzz/bodies/dsmr_parse.rs"]
mod dsmr_parse;

/// Runs `body` over every seed of `target`, returning how many it ran.
fn run_seeds(target: &str, body: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .collect();
    seeds.sort();
    for seed in &seeds {
        let data = std::fs::read(seed).expect("seed");
        body(&data);
        // Every prefix too: the truncated telegrams a port delivers when it drops.
        for cut in (0..data.len()).step_by(17) {
            body(&data[..cut]);
        }
    }
    seeds.len()
}

#[test]
fn dsmr_parse_over_its_seed_corpus() {
    assert_eq!(run_seeds("dsmr_parse", dsmr_parse::run), 6);
}

#[test]
fn dsmr_framer_over_its_seed_corpus() {
    assert_eq!(run_seeds("dsmr_framer", dsmr_framer::run), 7);
}
