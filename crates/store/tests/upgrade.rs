//! A store written before compacted history upgrades in place and loses nothing: the
//! fixture is a SQLite file as the previous version left it (interval records as JSON);
//! after opening it every record reads back identical, and again after compaction.

use joule_protocol::{IntervalRecord, MeterId};
use joule_store::{SqliteStore, Store};

#[tokio::test]
async fn an_old_store_upgrades_and_reads_back_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.sqlite");
    let old = rusqlite::Connection::open(&path).expect("create");
    old.execute_batch(include_str!("fixtures/store-v7.sql"))
        .expect("load the fixture");
    let version: i64 = old
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("version");
    assert_eq!(version, 7, "the fixture is a version-7 store");
    let mut expected: Vec<(String, IntervalRecord)> = old
        .prepare("SELECT meter_id, record FROM intervals ORDER BY meter_id, ts_ms, seq")
        .expect("select")
        .query_map([], |row| Ok((row.get(0)?, row.get::<_, String>(1)?)))
        .expect("rows")
        .map(|row| {
            let (meter, json) = row.expect("row");
            (
                meter,
                serde_json::from_str(&json).expect("a v1 interval record"),
            )
        })
        .collect();
    assert_eq!(expected.len(), 400);
    drop(old);

    let store = SqliteStore::open(&path).expect("open and upgrade");
    let all = |store: SqliteStore| async move {
        let mut read = Vec::new();
        for meter in ["old-1", "old-2"] {
            let id = MeterId::new(meter).expect("id");
            for record in store
                .intervals(&id, i64::MIN, i64::MAX)
                .await
                .expect("read")
            {
                read.push((meter.to_owned(), record));
            }
        }
        read
    };
    expected.sort_by(|a, b| (&a.0, a.1.ts_ms).cmp(&(&b.0, b.1.ts_ms)));
    assert_eq!(all(store.clone()).await, expected);
    let latest = store.latest_registers().await.expect("latest");
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0].2.import_mwh, expected[199].1.registers.import_mwh);

    // The upgraded rows compact like any others, and still read back the same.
    let now_ms = expected[399].1.ts_ms + 2 * 86_400_000;
    assert_eq!(store.compact(now_ms).await.expect("compact").rows, 400);
    assert_eq!(all(store.clone()).await, expected);
    drop(store);
    // Opening again does not convert twice.
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(all(store).await, expected);
}
