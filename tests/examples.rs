//! Every example configuration in `examples/` loads and validates as the services would
//! read it, and every key it sets is documented in docs/CONFIG.md; every tariff plan
//! there (the demo's) parses.

use joule_hub::config::HubConfig;
use joule_meter::config::MeterConfig;
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// The dotted keys a TOML file sets (`section.key`, and `section.key.inner` for inline
/// tables).
fn keys(path: &Path) -> Vec<String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
        for (key, value) in table {
            let dotted = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::Table(inner) => walk(&dotted, inner, out),
                _ => out.push(dotted),
            }
        }
    }
    let text = std::fs::read_to_string(path).expect("read the example");
    let table: toml::Table = text.parse().expect("TOML");
    let mut out = Vec::new();
    walk("", &table, &mut out);
    out
}

/// Each key appears in docs/CONFIG.md: as `section.key` in the hub's table, or as a
/// `key =` line of its section's block for the meter.
fn assert_documented(path: &Path) {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/CONFIG.md"))
            .expect("CONFIG.md");
    for key in keys(path) {
        let last = key.rsplit('.').next().expect("a key");
        let documented = docs.contains(&format!("`{key}`"))
            || docs.contains(&format!("{key}`"))
            || docs.contains(&format!("\n{last} ="))
            || docs.contains(&format!("# {last} ="))
            || docs.contains(&format!("{last} = {{"));
        assert!(
            documented,
            "{}: `{key}` is not in docs/CONFIG.md",
            path.display()
        );
    }
}

#[test]
fn the_meter_examples_load() {
    for name in ["meter-rpi-sdm120.toml", "meter-dsmr-p1.toml"] {
        let path = example(name);
        let config =
            MeterConfig::load(&path, no_env).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert!(config.meter_id().is_some(), "{name}");
        // A device source measures a supply Joule cannot switch.
        assert!(!config.relay_present(), "{name}");
        assert_documented(&path);
    }
}

#[test]
fn the_hub_example_loads() {
    let path = example("hub-postgres-mosquitto.toml");
    let config = HubConfig::load(Some(&path), no_env).expect("hub example");
    assert!(config.storage.postgres.is_some());
    assert!(config.http.cookies_secure());
    assert_documented(&path);
}

#[test]
fn the_tariff_examples_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tariffs");
    let mut parsed = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/tariffs") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let plan = joule_tariff::Plan::from_toml(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("name");
        assert_eq!(plan.name(), stem, "a plan's file is named after the plan");
        parsed += 1;
    }
    assert_eq!(parsed, 4);
}
