//! The meter's files import one way: no file imports from the module that wires it (its
//! parent `mod.rs`, the `x.rs` beside its directory, or `lib.rs`), so the parts never lean
//! on the agent, the source registry or the display that assemble them. An item a wirer
//! only re-exports counts as its defining file's (`joule_testkit::modules` resolves
//! re-exports). The workspace's `tests/acyclic.rs` checks, with the same graph, that
//! there is no import cycle either. Run it alone with
//! `cargo test -p joule-meter --test module_graph`.

use joule_testkit::modules::ImportGraph;
use std::path::Path;

/// Whether `wirer` declares `file` or one of its ancestors: `lib.rs`, `dir/mod.rs` or
/// `dir.rs` for a file under `dir/`.
fn wires(wirer: &str, file: &str) -> bool {
    if wirer == "lib.rs" {
        return file != "lib.rs";
    }
    let dir = wirer
        .strip_suffix("/mod.rs")
        .or_else(|| wirer.strip_suffix(".rs"))
        .unwrap_or(wirer);
    file.starts_with(&format!("{dir}/"))
}

#[test]
fn no_file_imports_from_the_module_that_wires_it() {
    let graph = ImportGraph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let files = graph.files();
    assert!(files.len() > 30, "the meter's files: {files:?}");
    let back: Vec<String> = files
        .iter()
        // A test module imports what it tests.
        .filter(|file| !file.ends_with("tests.rs"))
        .flat_map(|file| {
            graph
                .imports_of(file)
                .into_iter()
                .filter(|target| wires(target, file))
                .map(move |target| format!("{file} imports {target}"))
        })
        .collect();
    assert!(back.is_empty(), "imports back: {back:#?}");
}

#[test]
fn a_wirer_is_the_parent_module_or_the_crate_root() {
    assert!(wires("source/mod.rs", "source/factory.rs"));
    assert!(wires("commands.rs", "commands/tests.rs"));
    assert!(wires("lib.rs", "agent/running.rs"));
    assert!(!wires("source/mod.rs", "agent/running.rs"));
    assert!(!wires("display/panel.rs", "display/screen.rs"));
}
