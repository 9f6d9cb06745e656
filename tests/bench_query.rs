//! `joule bench query` as a user runs it: it writes a small history, asks the dashboard's
//! queries through the API and on the store, prints and records the figures, and a second
//! run reuses the history it kept; the same against a throwaway PostgreSQL.

mod common;

use common::joule_ok;
use joule_testkit::Postgres;

const METERS: usize = 4;
const DAYS: usize = 31;

/// Runs the benchmark into `data` and returns its printed table and its figures.
fn bench(data: &std::path::Path, extra: &[&str]) -> (String, serde_json::Value) {
    let json = data.join("figures.json");
    let meters = METERS.to_string();
    let days = DAYS.to_string();
    let mut args = vec![
        "bench",
        "query",
        "--meters",
        &meters,
        "--days",
        &days,
        "--rounds",
        "20",
        "--data",
        data.to_str().expect("path"),
        "--json",
        json.to_str().expect("path"),
    ];
    args.extend_from_slice(extra);
    let printed = joule_ok(&args);
    let figures = serde_json::from_str(&std::fs::read_to_string(&json).expect("json"))
        .expect("figures are JSON");
    (printed, figures)
}

/// The figures describe the history written (kept in `data`) and every query found its
/// data.
fn check(figures: &serde_json::Value, data: &std::path::Path, backend: &str) {
    assert_eq!(figures["backend"], backend);
    assert_eq!(figures["meters"], METERS);
    assert_eq!(figures["interval_records"], METERS * DAYS * 96);
    let queries = &figures["queries"];
    assert_eq!(queries["latest"]["points"], 1);
    // A day by the minute; 30 days by the day, from the UTC day holding the start: 31
    // days, or 30 when the history ends at midnight (a run between 00:00 and 01:00 UTC).
    assert_eq!(queries["day_by_minute"]["points"], 1440);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("dataset.json")).expect("manifest"),
    )
    .expect("manifest is JSON");
    let end_ms = manifest["end_ms"].as_i64().expect("end_ms");
    let days = if end_ms % 86_400_000 == 0 { 30 } else { 31 };
    assert_eq!(queries["month_by_day"]["points"], days);
    for query in ["latest", "day_by_minute", "month_by_day"] {
        for figure in ["api_p50_ms", "api_p99_ms", "store_p50_ms", "store_p99_ms"] {
            assert!(
                queries[query][figure].as_f64() > Some(0.0),
                "{query} {figure}: {figures}"
            );
        }
    }
    assert!(figures["bytes_per_interval_record"].as_f64() > Some(100.0));
}

#[test]
fn the_query_benchmark_writes_a_history_asks_and_reuses_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (printed, figures) = bench(dir.path(), &[]);
    assert!(printed.contains("last 24 h at 1 min"), "{printed}");
    assert!(printed.contains("target: API p99 under 20 ms"), "{printed}");
    check(&figures, dir.path(), "sqlite");
    let written = figures["messages_written"].clone();
    // The second run asks the same history again instead of writing it.
    let (_, again) = bench(dir.path(), &[]);
    check(&again, dir.path(), "sqlite");
    assert_eq!(again["messages_written"], written);
    let database = std::fs::metadata(dir.path().join("bench.sqlite")).expect("database");
    assert!(database.len() > 0);
}

#[test]
fn the_query_benchmark_runs_on_postgresql() {
    let dir = tempfile::tempdir().expect("tempdir");
    let postgres = Postgres::start(&dir.path().join("pg"));
    postgres.create_database("bench");
    let data = dir.path().join("data");
    let (_, figures) = bench(&data, &["--postgres", &postgres.conninfo("bench")]);
    check(&figures, &data, "postgres");
}
