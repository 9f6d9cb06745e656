//! Every metric the code emits is explained in docs/OPERATIONS.md, so an operator who sees
//! a name on `/metrics` can look it up. Names are read from the source: the literal first
//! argument of a `counter!`, `gauge!` or `histogram!`, and every `&str` constant holding a
//! `joule_…` name in a crate's `telemetry` module (its list of names).

use joule_testkit::modules::rust_files;
use std::collections::BTreeSet;
use std::path::Path;

/// The `joule_…` name in double quotes right after `at`, if there is one.
fn quoted_name(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix('"')?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .collect();
    (name.starts_with("joule_") && rest[name.len()..].starts_with('"')).then_some(name)
}

fn emitted_names(root: &Path) -> BTreeSet<String> {
    let mut files = rust_files(&root.join("src"));
    for entry in std::fs::read_dir(root.join("crates")).expect("crates/") {
        let src = entry.expect("entry").path().join("src");
        if src.is_dir() {
            files.extend(rust_files(&src));
        }
    }
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for macro_name in ["counter!(", "gauge!(", "histogram!("] {
            for (at, _) in text.match_indices(macro_name) {
                names.extend(quoted_name(&text[at + macro_name.len()..]));
            }
        }
        let telemetry = file.components().any(|part| {
            let part = part.as_os_str();
            part == "telemetry" || part == "telemetry.rs"
        });
        if telemetry {
            for (at, _) in text.match_indices(": &str =") {
                names.extend(quoted_name(&text[at + ": &str =".len()..]));
            }
        }
    }
    names
}

#[test]
fn every_emitted_metric_is_in_operations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let names = emitted_names(root);
    // The hub's, the meter's and Modbus's: a handful would mean the reading broke.
    assert!(
        names.len() >= 30,
        "only {} names found: {names:?}",
        names.len()
    );
    let operations =
        std::fs::read_to_string(root.join("docs/OPERATIONS.md")).expect("docs/OPERATIONS.md");
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| !operations.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics emitted but not explained in docs/OPERATIONS.md: {missing:?}"
    );
}
