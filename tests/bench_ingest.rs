//! `joule bench ingest --batch` as a user runs it: meters publishing batches into a hub on
//! SQLite and into Debian's Mosquitto (the baseline), nothing lost, the JSON carrying the
//! stored rate, the batch size and the ratio; a batch larger than a payload holds is
//! refused with how many fit. Only that the figures exist is checked; their size is the
//! benchmark's business.

mod common;

use common::joule_ok;

#[test]
fn batched_ingest_stores_everything_and_reports_its_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("ingest.json");
    let printed = joule_ok(&[
        "bench",
        "ingest",
        "--meters",
        "4",
        "--seconds",
        "2",
        "--batch",
        "25",
        "--json",
        json.to_str().expect("path"),
    ]);
    assert!(printed.contains("25 reading(s) per message"), "{printed}");
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("figures");
    assert_eq!(figures["batch"], 25);
    assert_eq!(figures["joule"]["lost"], 0);
    for figure in [
        "/stored_readings_per_s",
        "/mosquitto/delivered_per_s",
        "/ratio_to_mosquitto",
    ] {
        let value = figures.pointer(figure).and_then(serde_json::Value::as_f64);
        assert!(
            value.is_some_and(|v| v.is_finite() && v > 0.0),
            "{figure} = {value:?} in {figures}"
        );
    }
    let stored = figures["joule"]["stored"].as_u64().expect("stored");
    assert!(
        stored > 0 && stored.is_multiple_of(25),
        "whole batches stored: {stored}"
    );

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_joule"))
        .args(["bench", "ingest", "--batch", "1000"])
        .output()
        .expect("joule");
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("64 KiB") && message.contains("fit"),
        "{message}"
    );
}
