//! No crate of the workspace has an import cycle between its source files: each file's
//! imports (`use crate::…`, `super::…`, paths in code) point one way, so a part can be
//! read, changed and tested without the module that wires it. `joule_testkit::modules`
//! reads the graph; a failure lists the files that import each other.

use joule_testkit::modules::ImportGraph;
use std::path::Path;

/// Pairs of files in the pure crates that still import each other, each to be untangled
/// on its own (they predate this check). The test fails when one goes without being
/// struck from this list, and when any other cycle appears.
const KNOWN: [&str; 3] = [
    "crates/tariff/src: bill.rs ⇄ lines.rs",
    "crates/tariff/src: plan.rs ⇄ tou.rs",
    "crates/tariff/src: prepare.rs ⇄ timeline.rs",
];

#[test]
fn no_crate_has_an_import_cycle_between_its_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![root.join("src")];
    let mut crates: Vec<_> = std::fs::read_dir(root.join("crates"))
        .expect("crates/")
        .map(|entry| entry.expect("entry").path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    crates.sort();
    sources.extend(crates);
    assert!(sources.len() > 10, "the workspace's crates: {sources:?}");
    let mut found = Vec::new();
    for src in &sources {
        let name = src.strip_prefix(root).expect("in the workspace").display();
        for cycle in ImportGraph::read(src).cycles() {
            found.push(format!("{name}: {}", cycle.join(" ⇄ ")));
        }
    }
    found.sort();
    let new: Vec<&String> = found
        .iter()
        .filter(|c| !KNOWN.contains(&c.as_str()))
        .collect();
    assert!(new.is_empty(), "files that import each other:\n{new:#?}");
    let gone: Vec<&&str> = KNOWN
        .iter()
        .filter(|c| !found.contains(&(**c).to_owned()))
        .collect();
    assert!(gone.is_empty(), "untangled: strike from KNOWN: {gone:?}");
}

#[test]
fn the_hub_context_is_a_leaf_and_no_part_imports_the_service_that_wires_them() {
    let graph = ImportGraph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/hub/src"));
    assert_eq!(graph.imports_of("context.rs"), vec!["config.rs".to_owned()]);
    let importers: Vec<String> = graph
        .files()
        .into_iter()
        .filter(|file| {
            graph
                .imports_of(file)
                .iter()
                .any(|target| target == "service.rs")
        })
        .collect();
    assert!(importers.is_empty(), "{importers:?} import service.rs");
}
