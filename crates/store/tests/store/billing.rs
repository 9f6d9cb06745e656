//! The billing part of the store contract: tariff plans (kept as given, checked on the way
//! in and out, never changed retroactively), market prices, billing runs and bills.

use super::{id, new_meter};
use joule_store::{BillRecord, RunStatus, Store, StoreError};
use joule_tariff::{Micros, PricePoint};
use std::sync::Arc;

/// 2026-03-01 00:00 UTC.
const MARCH_1: i64 = 1_772_323_200_000;

fn plan(spring_price: &str, summer: &str) -> String {
    format!(
        r#"name = "flat"
currency = "EUR"
time_zone = "Europe/Amsterdam"

[[versions]]
effective_from = 2026-01-01
import = {{ kind = "flat", price_per_kwh = {spring_price} }}
{summer}"#
    )
}

fn version(date: &str, price: &str) -> String {
    format!(
        "\n[[versions]]\neffective_from = {date}\nimport = {{ kind = \"flat\", price_per_kwh = {price} }}\n"
    )
}

pub(super) async fn tariffs_are_kept_as_given_and_never_change_the_past(store: Arc<dyn Store>) {
    let first = plan("0.25", &version("2026-07-01", "0.22"));
    let stored = store.put_tariff(&first, MARCH_1).await.expect("store plan");
    assert_eq!(
        (stored.name.as_str(), stored.plan.versions().len()),
        ("flat", 2)
    );
    let back = store.tariff("flat").await.expect("read").expect("stored");
    assert_eq!(
        (back.toml.as_str(), back.updated_ms),
        (first.as_str(), MARCH_1)
    );
    assert_eq!(back.plan.currency(), "EUR");

    // The version in force since January may not change, nor may one be slipped in
    // before today; the July version and new later ones may.
    let past_change = plan("0.24", &version("2026-07-01", "0.22"));
    assert!(matches!(
        store.put_tariff(&past_change, MARCH_1).await,
        Err(StoreError::Retroactive(_))
    ));
    let slipped_in = plan(
        "0.25",
        &(version("2026-02-01", "0.20") + &version("2026-07-01", "0.22")),
    );
    assert!(matches!(
        store.put_tariff(&slipped_in, MARCH_1).await,
        Err(StoreError::Retroactive(_))
    ));
    let future_change = plan(
        "0.25",
        &(version("2026-05-01", "0.23") + &version("2026-07-01", "0.21")),
    );
    store
        .put_tariff(&future_change, MARCH_1 + 1)
        .await
        .expect("a change from a later date is allowed");
    let back = store.tariff("flat").await.expect("read").expect("stored");
    assert_eq!((back.toml, back.updated_ms), (future_change, MARCH_1 + 1));

    let bad =
        "name = \"broken\"\ncurrency = \"EUR\"\ntime_zone = \"Mars/Olympus\"\nversions = []\n";
    assert!(matches!(
        store.put_tariff(bad, MARCH_1).await,
        Err(StoreError::InvalidTariff(_))
    ));
    assert!(store.tariff("broken").await.expect("read").is_none());

    // A plan a meter names stays; an unused one goes.
    store
        .add_meter(new_meter(&id("m-1"), None, None), MARCH_1)
        .await
        .expect("meter on flat");
    assert!(matches!(
        store.delete_tariff("flat").await,
        Err(StoreError::TariffInUse(_, 1))
    ));
    let other = plan("0.30", "").replacen("name = \"flat\"", "name = \"other\"", 1);
    store.put_tariff(&other, MARCH_1).await.expect("other plan");
    let names: Vec<String> = store
        .tariffs()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["flat", "other"]);
    store.delete_tariff("other").await.expect("delete unused");
    assert!(matches!(
        store.delete_tariff("other").await,
        Err(StoreError::NoTariff(_))
    ));
}

fn point(start_s: i64, minutes: i64, price: i64) -> PricePoint {
    PricePoint {
        start: jiff::Timestamp::from_second(start_s).expect("instant"),
        end: jiff::Timestamp::from_second(start_s + minutes * 60).expect("instant"),
        price_per_kwh: Micros(price),
    }
}

pub(super) async fn prices_overlap_and_replace(store: Arc<dyn Store>) {
    let t = MARCH_1 / 1000;
    let points = [
        point(t, 60, 91_200),
        point(t + 3600, 15, -3_100),
        point(t + 4500, 15, 87_500),
    ];
    assert_eq!(store.put_prices("epex-nl", &points).await.expect("put"), 3);
    store
        .put_prices("other", &[point(t, 60, 1)])
        .await
        .expect("other market");
    // Everything overlapping [t + 30 min, t + 75 min): the hour and the first quarter.
    let got = store
        .prices("epex-nl", MARCH_1 + 1_800_000, MARCH_1 + 4_500_000)
        .await
        .expect("read");
    assert_eq!(got, points[..2]);
    // The same start again replaces the price.
    store
        .put_prices("epex-nl", &[point(t + 3600, 15, 5_000)])
        .await
        .expect("replace");
    let got = store
        .prices("epex-nl", MARCH_1, MARCH_1 + 86_400_000)
        .await
        .expect("read all");
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].price_per_kwh, Micros(5_000));
}

fn bill(run_id: u64, meter: &str, period: &str, total_minor: i64) -> BillRecord {
    BillRecord {
        id: 0,
        run_id,
        meter: id(meter),
        period: period.into(),
        plan: "flat".into(),
        currency: "EUR".into(),
        currency_digits: 2,
        total_minor,
        closed: false,
        created_ms: MARCH_1,
        json: format!("{{\"total_minor\": {total_minor}}}"),
    }
}

pub(super) async fn runs_and_bills(store: Arc<dyn Store>) {
    let mut run = store
        .add_billing_run("2026-02", "olivia", 2, MARCH_1)
        .await
        .expect("run");
    assert_eq!((run.status, run.meters_done), (RunStatus::Running, 0));
    store
        .put_bills(&[
            bill(run.id, "m-1", "2026-02", 1234),
            bill(run.id, "m-2", "2026-02", 99),
        ])
        .await
        .expect("bills");
    assert!(!store.period_closed("2026-02").await.expect("closed?"));
    run.meters_done = 2;
    run.status = RunStatus::Done;
    run.finished_ms = Some(MARCH_1 + 5);
    run.summary.billed = 2;
    run.summary.errors.push("m-3: no data".into());
    store.update_billing_run(&run).await.expect("update");
    store.close_bills(run.id).await.expect("close");
    assert_eq!(
        store.billing_run(run.id).await.expect("get"),
        Some(run.clone())
    );
    assert!(store.period_closed("2026-02").await.expect("closed?"));
    assert!(!store.period_closed("2026-01").await.expect("closed?"));

    let bills = store.bills(&id("m-1"), 10).await.expect("bills");
    assert_eq!(bills.len(), 1);
    assert_eq!((bills[0].total_minor, bills[0].closed), (1234, true));
    assert_eq!(bills[0].json, "{\"total_minor\": 1234}");
    let one = store
        .bill(bills[0].id)
        .await
        .expect("bill")
        .expect("exists");
    assert_eq!(one, bills[0]);

    // A rerun replaces the meter's bill for the period (same id, reopened until closed).
    let rerun = store
        .add_billing_run("2026-02", "olivia", 1, MARCH_1 + 10)
        .await
        .expect("rerun");
    assert!(rerun.id > run.id);
    store
        .put_bills(&[
            bill(rerun.id, "m-1", "2026-02", 1300),
            bill(rerun.id, "m-1", "2026-03", 7),
        ])
        .await
        .expect("rerun bills");
    let bills = store.bills(&id("m-1"), 10).await.expect("bills");
    let periods: Vec<(&str, i64, bool)> = bills
        .iter()
        .map(|b| (b.period.as_str(), b.total_minor, b.closed))
        .collect();
    assert_eq!(periods, [("2026-03", 7, false), ("2026-02", 1300, false)]);
    assert_eq!(bills[1].id, one.id);
    let runs = store.billing_runs(10).await.expect("runs");
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [rerun.id, run.id]
    );
    // Each run lists the bills it made: the rerun took m-1's February bill over.
    let of_run = |run_id| {
        let store = Arc::clone(&store);
        async move {
            let bills = store.run_bills(run_id, 10).await.expect("run bills");
            bills
                .iter()
                .map(|b| (b.meter.to_string(), b.period.clone(), b.total_minor))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(of_run(run.id).await, [("m-2".into(), "2026-02".into(), 99)]);
    assert_eq!(
        of_run(rerun.id).await,
        [
            ("m-1".into(), "2026-03".into(), 7),
            ("m-1".into(), "2026-02".into(), 1300)
        ]
    );
    assert!(of_run(rerun.id + 1).await.is_empty());
}
