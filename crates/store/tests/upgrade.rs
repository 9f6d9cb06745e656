//! A store written by an earlier version upgrades in place and loses nothing: each fixture
//! is a database as that version left it (SQLite: interval records as JSON; PostgreSQL:
//! fresh rows in unpartitioned tables); after opening it every record reads back
//! identical, and again after compaction.

use joule_protocol::{IntervalRecord, MeterId};
use joule_store::{Batch, PostgresStore, Resolution, SqliteStore, Store, Stored};

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

/// Every row of `table`, as PostgreSQL prints it, in key order.
async fn rows_of(client: &tokio_postgres::Client, table: &str, key: &str) -> Vec<String> {
    client
        .query(
            &format!("SELECT t::text FROM {table} t ORDER BY {key}"),
            &[],
        )
        .await
        .expect("rows")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The partitions of `table`, by name.
async fn partitions_of(client: &tokio_postgres::Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = $1::text::regclass ORDER BY 1",
            &[&table],
        )
        .await
        .expect("partitions")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_postgres_store_upgrades_to_day_partitions_and_reads_back_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = joule_testkit::Postgres::start(dir.path());
    cluster.create_database("old");
    let conninfo = cluster.conninfo("old");
    let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(include_str!("fixtures/store-pg-v7.sql"))
        .await
        .expect("load the fixture");
    // The dump empties the search path of its session; the checks below need it back.
    client
        .batch_execute("SET search_path = public")
        .await
        .expect("search path");
    let version: i64 = client
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .await
        .expect("version")
        .get(0);
    assert_eq!(version, 7, "the fixture is a migration-7 store");
    let tables = [
        ("intervals", "meter_id, ts_ms, seq"),
        ("rollups", "meter_id, width_ms, bucket_ms"),
        ("live", "meter_id, ts_ms, seq"),
    ];
    let mut before = Vec::new();
    for (table, key) in tables {
        before.push(rows_of(&client, table, key).await);
    }
    assert_eq!(
        before.iter().map(Vec::len).collect::<Vec<_>>(),
        [346, 214, 122]
    );

    let store = std::sync::Arc::new(
        PostgresStore::connect(&conninfo)
            .await
            .expect("open and upgrade"),
    );
    for ((table, key), rows) in tables.iter().zip(&before) {
        assert_eq!(&rows_of(&client, table, key).await, rows, "{table}");
    }
    let partitioned: bool = client
        .query_one(
            "SELECT bool_and(relkind = 'p') FROM pg_class
             WHERE relname IN ('intervals', 'rollups', 'live')",
            &[],
        )
        .await
        .expect("relkind")
        .get(0);
    assert!(partitioned);

    let meters = ["bench-q-000000", "bench-q-000001"].map(|m| MeterId::new(m).expect("id"));
    let all = |store: std::sync::Arc<PostgresStore>| {
        let meters = meters.clone();
        async move {
            let mut read = Vec::new();
            for meter in &meters {
                read.push((
                    store
                        .intervals(meter, 0, i64::MAX)
                        .await
                        .expect("intervals"),
                    store.readings(meter, 0, i64::MAX).await.expect("readings"),
                    store
                        .series(meter, Resolution::Hour, 0, i64::MAX)
                        .await
                        .expect("series"),
                ));
            }
            read
        }
    };
    let upgraded = all(std::sync::Arc::clone(&store)).await;
    assert_eq!(
        upgraded.iter().map(|m| m.0.len()).sum::<usize>(),
        346,
        "every interval record reads back"
    );

    // Compaction moves every row into blocks; the tables' old partitions, emptied, go.
    let newest_ms: i64 = client
        .query_one("SELECT max(ts_ms) FROM intervals", &[])
        .await
        .expect("newest")
        .get(0);
    let now_ms = newest_ms + 2 * 86_400_000;
    assert!(store.compact(now_ms).await.expect("compact").rows > 0);
    assert_eq!(all(std::sync::Arc::clone(&store)).await, upgraded);
    for (table, key) in tables {
        assert!(rows_of(&client, table, key).await.is_empty(), "{table}");
    }
    assert!(
        !partitions_of(&client, "live")
            .await
            .contains(&"live_2026_11".to_owned()),
        "the emptied month partition from before is dropped"
    );

    // New rows get a partition of their own day, dropped once compacted in turn.
    let mut record = upgraded[0].0.last().expect("a record").clone();
    record.seq += 10_000;
    record.ts_ms = now_ms;
    let batch = Batch {
        messages: vec![(meters[0].clone(), Stored::Interval(record.clone()))],
        ..Batch::default()
    };
    store.write_batch(&batch).await.expect("write");
    let day = partitions_of(&client, "intervals").await;
    assert_eq!(day.len(), 2, "the default and the new day: {day:?}");
    assert!(day.iter().any(|name| name != "intervals_default"));
    store
        .compact(now_ms + 2 * 86_400_000)
        .await
        .expect("compact the new day");
    assert_eq!(
        partitions_of(&client, "intervals").await,
        ["intervals_default"]
    );
    let read = store
        .intervals(&meters[0], now_ms, i64::MAX)
        .await
        .expect("read");
    assert_eq!(read, [record]);
}
