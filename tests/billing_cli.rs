//! `joule tariffs`, `joule billing run` and `joule bench billing` as a user runs them: a
//! plan from a file, a month of records in the hub's store, a run with its summary, the
//! refusal to bill a closed month again without `--rerun`, and the benchmark's figures.

mod common;

use common::{HubProcess, joule_ok, store_june};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tariffs_and_a_billing_run_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess {
        store: dir.path().join("hub.sqlite"),
        port: joule_testkit::free_port(),
    };
    let plan = dir.path().join("flat.toml");
    std::fs::write(
        &plan,
        "name = \"flat\"\ncurrency = \"EUR\"\ntime_zone = \"UTC\"\n\n[[versions]]\n\
         effective_from = 2026-01-01\nimport = { kind = \"flat\", price_per_kwh = 0.25 }\n",
    )
    .expect("plan file");
    let run = |args: &[&str]| hub.command().args(args).output().expect("run joule");
    let added = run(&["tariffs", "add", plan.to_str().expect("path")]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let listed = String::from_utf8_lossy(&run(&["tariffs", "list"]).stdout).into_owned();
    assert!(
        listed.contains("flat") && listed.contains("2026-01-01"),
        "{listed}"
    );
    hub.add_meter_with("m-1", &["--tariff", "flat"]);
    store_june(&hub.store, "m-1").await;

    let billed = run(&["billing", "run", "--period", "2026-06"]);
    let printed = String::from_utf8_lossy(&billed.stdout).into_owned();
    assert!(
        billed.status.success(),
        "{}",
        String::from_utf8_lossy(&billed.stderr)
    );
    // 720 kWh × 0.25 EUR.
    assert!(printed.contains("1 billed, 0 failed"), "{printed}");
    assert!(printed.contains("total 180.00 EUR"), "{printed}");
    let again = run(&["billing", "run", "--period", "2026-06"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--rerun"));
    let rerun = run(&["billing", "run", "--period", "2026-06", "--rerun"]);
    assert!(rerun.status.success());
    assert_eq!(hub.query("SELECT COUNT(*) FROM bills"), 1);
    assert_eq!(hub.query("SELECT total_minor FROM bills"), 18_000);
}

#[test]
fn the_billing_benchmark_prints_and_records_its_figure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("billing.json");
    let printed = joule_ok(&[
        "bench",
        "billing",
        "--meters",
        "300",
        "--json",
        json.to_str().expect("path"),
    ]);
    assert!(printed.contains("meters per second"), "{printed}");
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("figures");
    assert_eq!(figures["billed"], 300);
    assert_eq!(figures["intervals"], 300 * 2880);
    assert!(figures["meters_per_second"].as_f64() > Some(0.0));
}
