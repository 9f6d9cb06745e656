//! `joule bench metrology` as a user runs it: the table and the JSON file carry Joule's
//! chain, the EmonLib anchor, their ratio and the three-phase chain. Only that the figures
//! exist and are positive is checked; their size is the benchmark's business.

mod common;

use common::joule_ok;

#[test]
fn the_metrology_benchmark_prints_and_records_both_sides() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("metrology.json");
    let printed = joule_ok(&[
        "bench",
        "metrology",
        "--seconds",
        "1",
        "--json",
        json.to_str().expect("path"),
    ]);
    for row in [
        "| Joule single-phase chain, every feature on |",
        "| EmonLib `calcVI` loop (anchor) |",
        "| **ratio Joule / EmonLib** |",
        "| Joule three-phase chain, every feature on |",
    ] {
        assert!(printed.contains(row), "no `{row}` in\n{printed}");
    }
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("figures");
    for figure in [
        "/joule/median_pairs_per_s",
        "/joule/best_pairs_per_s",
        "/emonlib/median_pairs_per_s",
        "/emonlib/best_pairs_per_s",
        "/ratio_median",
        "/ratio_best",
        "/three_phase/median_frames_per_s",
        "/three_phase/best_frames_per_s",
    ] {
        let value = figures.pointer(figure).and_then(serde_json::Value::as_f64);
        assert!(
            value.is_some_and(|v| v.is_finite() && v > 0.0),
            "{figure} = {value:?} in {figures}"
        );
    }
    // Both sides measured the captured load: 230 V × 12 A × 0.9 = 2484 W.
    for side in ["/joule/p_w", "/emonlib/p_w"] {
        let p_w = figures.pointer(side).and_then(serde_json::Value::as_f64);
        assert!(
            p_w.is_some_and(|p_w| (p_w - 2484.0).abs() < 100.0),
            "{side} = {p_w:?}"
        );
    }
}
