//! The store contract, one suite run against every backend: batches are idempotent by
//! (meter, seq), the acknowledged mark only covers what is stored without holes, rollups
//! add up, the registry, accounts, commands and audit log round-trip, and data survives
//! reopening. SQLite runs in a temp dir; PostgreSQL in a throwaway cluster of its own.

use joule_protocol::{
    AckStatus, CommandAck, EventKind, EventMessage, EventState, IntervalRecord, LiveReading,
    MeterId, PAYLOAD_VERSION, Registers, RelayState,
};
use joule_store::{
    Batch, DeadLetter, Gap, MeterDetails, NewMeter, PostgresStore, Resolution, SqliteStore, Store,
    StoreError, Stored,
};
use std::future::Future;

#[path = "store/billing.rs"]
mod billing;
use std::pin::Pin;
use std::sync::Arc;

#[path = "store/accounts.rs"]
mod accounts;
#[path = "store/alerting.rs"]
mod alerting;
#[path = "store/compaction.rs"]
mod compaction;

/// 2026-11-23 00:00:00 UTC: a day boundary, so rollup buckets are easy to reason about.
const T0: i64 = 1_795_392_000_000;

fn id(s: &str) -> MeterId {
    MeterId::new(s).expect("valid id")
}

pub(crate) fn reading(seq: u64, ts_ms: i64, p_w: f64, import_mwh: u64) -> LiveReading {
    LiveReading {
        v: PAYLOAD_VERSION,
        seq,
        ts_ms,
        voltage_v: 230.0,
        current_a: p_w.abs() / 230.0,
        p_w,
        q_var: 50.0,
        s_va: p_w.abs() + 50.0,
        pf: 0.956,
        freq_hz: Some(50.0),
        phases: Vec::new(),
        registers: Registers {
            import_mwh,
            ..Registers::default()
        },
        tariff: 0,
        relay: RelayState::Connected,
    }
}

fn live(seq: u64, import_mwh: u64) -> Stored {
    Stored::Live(reading(
        seq,
        T0 + i64::try_from(seq).expect("small") * 1000,
        1100.0,
        import_mwh,
    ))
}

fn batch(messages: Vec<(MeterId, Stored)>) -> Batch {
    Batch {
        messages,
        ..Batch::default()
    }
}

fn new_meter(meter: &MeterId, owner: Option<&str>, feeder: Option<&str>) -> NewMeter {
    NewMeter {
        id: meter.clone(),
        details: MeterDetails {
            name: format!("Home {meter}"),
            owner: owner.map(str::to_owned),
            location: Some("Main St 1".into()),
            feeder: feeder.map(str::to_owned),
            transformer: Some("T1".into()),
            tariff: Some("flat".into()),
            install_date: Some("2026-01-15".into()),
        },
        token_hash: format!("hash-{meter}"),
        mosquitto_hash: Some("$7$h".into()),
    }
}

/// Opens the store named `name`: the same name opens the same data again.
pub type Open = dyn Fn(&str) -> Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send>> + Sync;

/// Runs every case against the backend `open` opens, each on its own store.
pub async fn run_suite(open: &Open) {
    resends_are_stored_once_and_acknowledged(open("resends").await).await;
    the_mark_stops_at_a_hole_and_moves_when_it_is_filled(open("holes").await).await;
    meters_are_kept_apart(open("apart").await).await;
    intervals_events_and_dead_letters_round_trip(open("records").await).await;
    recent_events_span_meters_newest_first(open("recent-events").await).await;
    accounts::the_registry_survives_reopening_and_revocation_locks_out(open).await;
    latest_registers_come_from_the_newest_message(open("latest").await).await;
    rollups_add_up_and_resends_do_not_count_twice(open("rollups").await).await;
    pruning_keeps_rollups_and_dedup(open("prune").await).await;
    pruning_whole_months_keeps_later_data(open("months").await).await;
    compaction::compaction_changes_nothing_readers_see(open("compaction").await).await;
    compaction::the_hours_readings_are_compacted_today(open("compaction-hourly").await).await;
    accounts::meters_filter_and_page(open("filter").await).await;
    accounts::users_sessions_and_tokens(open("users").await).await;
    accounts::commands_move_forward_only(open("commands").await).await;
    accounts::presence_and_audit(open("audit").await).await;
    alerting::documents_by_kind_and_owner(open("documents").await).await;
    alerting::one_unresolved_alert_per_key_moving_forward_only(open("alerts").await).await;
    alerting::deliveries_and_runs_are_recorded(open("deliveries").await).await;
    billing::tariffs_are_kept_as_given_and_never_change_the_past(open("tariffs").await).await;
    billing::prices_overlap_and_replace(open("prices").await).await;
    billing::runs_and_bills(open("bills").await).await;
}

async fn resends_are_stored_once_and_acknowledged(store: Arc<dyn Store>) {
    let m = id("m-1");
    let first = store
        .write_batch(&batch(vec![
            (m.clone(), live(1, 10)),
            (m.clone(), live(2, 20)),
        ]))
        .await
        .expect("write");
    assert_eq!((first.stored, first.duplicates), (2, 0));
    assert_eq!(first.acknowledged, vec![(m.clone(), 2)]);
    assert_eq!(first.new_live.len(), 2);
    let again = store
        .write_batch(&batch(vec![
            (m.clone(), live(2, 20)),
            (m.clone(), live(3, 30)),
        ]))
        .await
        .expect("write");
    assert_eq!((again.stored, again.duplicates), (1, 1));
    assert_eq!(again.acknowledged, vec![(m.clone(), 3)]);
    assert_eq!(again.new_live.len(), 1);
    let readings = store.readings(&m, T0, T0 + 10_000).await.expect("readings");
    assert_eq!(readings.len(), 3);
    let Stored::Live(expected) = live(2, 20) else {
        unreachable!()
    };
    assert_eq!(readings[1], expected, "a reading round-trips exactly");
}

async fn the_mark_stops_at_a_hole_and_moves_when_it_is_filled(store: Arc<dyn Store>) {
    let m = id("m-1");
    let outcome = store
        .write_batch(&batch(vec![
            (m.clone(), live(1, 1)),
            (m.clone(), live(2, 2)),
            (m.clone(), live(5, 5)),
            (m.clone(), live(7, 7)),
        ]))
        .await
        .expect("write");
    assert_eq!(outcome.acknowledged, vec![(m.clone(), 2)]);
    assert_eq!(
        store.gaps(&m).await.expect("gaps"),
        vec![Gap { from: 3, to: 4 }, Gap { from: 6, to: 6 }]
    );
    // Filling the first hole; 5, stored out of order before, is sent again.
    let outcome = store
        .write_batch(&batch(vec![
            (m.clone(), live(3, 3)),
            (m.clone(), live(4, 4)),
            (m.clone(), live(5, 5)),
        ]))
        .await
        .expect("write");
    assert_eq!((outcome.stored, outcome.duplicates), (2, 1));
    assert_eq!(outcome.acknowledged, vec![(m.clone(), 5)]);
    assert_eq!(
        store.gaps(&m).await.expect("gaps"),
        vec![Gap { from: 6, to: 6 }]
    );
    store
        .write_batch(&batch(vec![(m.clone(), live(6, 6))]))
        .await
        .expect("write");
    assert_eq!(store.contiguous_seq(&m).await.expect("mark"), 7);
    assert!(store.gaps(&m).await.expect("gaps").is_empty());
}

async fn meters_are_kept_apart(store: Arc<dyn Store>) {
    let (a, b) = (id("a"), id("b"));
    let outcome = store
        .write_batch(&batch(vec![
            (a.clone(), live(1, 1)),
            (b.clone(), live(1, 1)),
            (b.clone(), live(2, 2)),
        ]))
        .await
        .expect("write");
    assert_eq!(outcome.acknowledged, vec![(a.clone(), 1), (b.clone(), 2)]);
    let latest = |meter: MeterId| {
        let store = Arc::clone(&store);
        async move {
            store
                .latest_reading(&meter)
                .await
                .expect("latest")
                .map(|r| r.seq)
        }
    };
    assert_eq!(latest(a).await, Some(1));
    assert_eq!(latest(b).await, Some(2));
    assert_eq!(latest(id("c")).await, None);
}

fn interval(seq: u64, ts_ms: i64, import_mwh: u64, export_mwh: u64) -> IntervalRecord {
    IntervalRecord {
        max_demand_w: Some(2000.0),
        ..joule_testkit::interval_record(seq, ts_ms, import_mwh, export_mwh)
    }
}

async fn intervals_events_and_dead_letters_round_trip(store: Arc<dyn Store>) {
    let m = id("m-1");
    let record = interval(1, T0 + 900_000, 42, 0);
    let event = EventMessage {
        v: PAYLOAD_VERSION,
        seq: 2,
        ts_ms: T0 + 910_000,
        kind: EventKind::CoverOpen,
        state: EventState::Started,
        phase: None,
        started_ms: None,
        duration_s: None,
        extreme: None,
        detail: Some("lid".into()),
    };
    let letter = DeadLetter {
        received_ms: T0,
        topic: "joule/v1/meters/m-1/live".into(),
        meter: Some("m-1".into()),
        reason: "invalid".into(),
        seq: Some(4),
        detail: "field `voltage_v` is out of range".into(),
        payload: b"{\"seq\":4}".to_vec(),
    };
    let ack = CommandAck {
        v: PAYLOAD_VERSION,
        seq: 3,
        ts_ms: T0,
        command_id: 999,
        status: AckStatus::Done,
        relay: None,
        detail: None,
    };
    store
        .write_batch(&Batch {
            messages: vec![
                (m.clone(), Stored::Interval(record.clone())),
                (m.clone(), Stored::Event(event.clone())),
                (m.clone(), Stored::CommandAck(ack)),
                letter.settlement().expect("a numbered refusal settles"),
            ],
            dead_letters: vec![letter.clone()],
            statuses: Vec::new(),
        })
        .await
        .expect("write");
    let to = T0 + 1_000_000;
    assert_eq!(
        store.intervals(&m, T0, to).await.expect("intervals"),
        vec![record]
    );
    assert_eq!(store.events(&m, T0, to).await.expect("events"), vec![event]);
    assert_eq!(
        store.events(&m, T0, T0 + 910_000).await.expect("events"),
        vec![]
    );
    assert_eq!(
        store.dead_letters(10).await.expect("dead letters"),
        vec![letter]
    );
    // The refused seq 4 is settled, so the mark covers it; resending it changes nothing.
    assert_eq!(store.contiguous_seq(&m).await.expect("mark"), 4);
    let resend = store
        .write_batch(&batch(vec![(m.clone(), live(4, 50))]))
        .await
        .expect("resend");
    assert_eq!((resend.stored, resend.duplicates), (0, 1));
}

async fn recent_events_span_meters_newest_first(store: Arc<dyn Store>) {
    let event = |seq: u64, ts_ms: i64, kind: EventKind| EventMessage {
        v: PAYLOAD_VERSION,
        seq,
        ts_ms,
        kind,
        state: EventState::Instant,
        phase: None,
        started_ms: None,
        duration_s: None,
        extreme: None,
        detail: None,
    };
    let (a, b) = (id("m-a"), id("m-b"));
    let oldest = event(1, T0, EventKind::PowerUp);
    let middle = event(1, T0 + 1_000, EventKind::CoverOpen);
    let newest = event(2, T0 + 2_000, EventKind::Relay);
    store
        .write_batch(&batch(vec![
            (a.clone(), Stored::Event(oldest)),
            (b.clone(), Stored::Event(middle.clone())),
            (a.clone(), Stored::Event(newest.clone())),
        ]))
        .await
        .expect("write");
    assert_eq!(
        store.recent_events(2).await.expect("recent events"),
        vec![(a, newest), (b, middle)]
    );
}

async fn latest_registers_come_from_the_newest_message(store: Arc<dyn Store>) {
    let m = id("m-1");
    let only_live = id("m-2");
    store
        .write_batch(&batch(vec![
            (m.clone(), live(1, 10)),
            (m.clone(), live(2, 20)),
            (
                m.clone(),
                Stored::Interval(interval(9, T0 + 3_600_000, 999, 5)),
            ),
            (only_live.clone(), live(1, 30)),
            (only_live.clone(), live(2, 40)),
        ]))
        .await
        .expect("write");
    let latest = store.latest_registers().await.expect("latest");
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0].0, m);
    assert_eq!(
        (latest[0].1, latest[0].2.import_mwh, latest[0].2.export_mwh),
        (T0 + 3_600_000, 999, 5)
    );
    // Without an interval record, the hour rollup's last registers, as of the hour's end.
    assert_eq!(latest[1].0, only_live);
    assert_eq!(
        (latest[1].1, latest[1].2.import_mwh),
        (T0.div_euclid(3_600_000) * 3_600_000 + 3_599_999, 40)
    );
}

async fn rollups_add_up_and_resends_do_not_count_twice(store: Arc<dyn Store>) {
    let m = id("m-1");
    // Two minutes of readings: 100 W then 300 W, registers climbing; then one an hour later.
    let mut messages = Vec::new();
    for seq in 1..=120u64 {
        let second = i64::try_from(seq - 1).expect("small");
        let p_w = if seq <= 60 { 100.0 } else { 300.0 };
        messages.push((
            m.clone(),
            Stored::Live(reading(seq, T0 + second * 1000, p_w, 1000 + seq * 10)),
        ));
    }
    messages.push((
        m.clone(),
        Stored::Live(reading(121, T0 + 3_600_000, -50.0, 5000)),
    ));
    // Written in two batches that overlap, so half the second is resends.
    store
        .write_batch(&batch(messages[..80].to_vec()))
        .await
        .expect("write");
    store
        .write_batch(&batch(messages[40..].to_vec()))
        .await
        .expect("write");
    let minutes = store
        .series(&m, Resolution::Minute, T0, T0 + 86_400_000)
        .await
        .expect("minutes");
    assert_eq!(minutes.len(), 3);
    assert_eq!((minutes[0].ts_ms, minutes[0].count), (T0, 60));
    assert!((minutes[0].p_avg_w - 100.0).abs() < 1e-9);
    assert!((minutes[1].p_avg_w - 300.0).abs() < 1e-9);
    assert_eq!(
        (minutes[0].import_first_mwh, minutes[0].import_last_mwh),
        (1010, 1600)
    );
    assert_eq!(
        (minutes[1].import_first_mwh, minutes[1].import_last_mwh),
        (1610, 2200)
    );
    let hours = store
        .series(&m, Resolution::Hour, T0, T0 + 86_400_000)
        .await
        .expect("hours");
    assert_eq!(hours.len(), 2);
    assert_eq!(hours[0].count, 120);
    assert!((hours[0].p_avg_w - 200.0).abs() < 1e-9);
    assert_eq!((hours[0].p_min_w, hours[0].p_max_w), (100.0, 300.0));
    assert_eq!((hours[1].ts_ms, hours[1].p_avg_w), (T0 + 3_600_000, -50.0));
    let days = store
        .series(&m, Resolution::Day, T0, T0 + 86_400_000)
        .await
        .expect("days");
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].count, 121);
    assert_eq!(
        (days[0].import_first_mwh, days[0].import_last_mwh),
        (1010, 5000)
    );
    let raw = store
        .series(&m, Resolution::Raw, T0, T0 + 60_000)
        .await
        .expect("raw");
    assert_eq!(raw.len(), 60);
}

async fn pruning_keeps_rollups_and_dedup(store: Arc<dyn Store>) {
    let m = id("m-1");
    let messages: Vec<_> = (1..=10)
        .map(|seq| (m.clone(), live(seq, seq * 10)))
        .collect();
    store
        .write_batch(&batch(messages.clone()))
        .await
        .expect("write");
    let deleted = store.prune_live(T0 + 6_000).await.expect("prune");
    assert_eq!(deleted, 5);
    assert_eq!(
        store
            .readings(&m, T0, T0 + 60_000)
            .await
            .expect("readings")
            .len(),
        5
    );
    let minutes = store
        .series(&m, Resolution::Minute, T0, T0 + 60_000)
        .await
        .expect("minutes");
    assert_eq!(minutes[0].count, 10, "rollups outlive the readings");
    // A late resend of a pruned reading is still a duplicate.
    let again = store
        .write_batch(&batch(messages[..3].to_vec()))
        .await
        .expect("write");
    assert_eq!((again.stored, again.duplicates), (0, 3));
    assert_eq!(again.acknowledged, vec![(m.clone(), 10)]);
}

async fn pruning_whole_months_keeps_later_data(store: Arc<dyn Store>) {
    const DAY_MS: i64 = 86_400_000;
    let m = id("m-1");
    let at = |seq: u64, ts_ms: i64| (m.clone(), Stored::Live(reading(seq, ts_ms, 500.0, seq)));
    // Three readings in October, one on 7 November, one after T0 (23 November).
    let messages = vec![
        at(1, T0 - 30 * DAY_MS),
        at(2, T0 - 29 * DAY_MS),
        at(3, T0 - 28 * DAY_MS),
        at(4, T0 - 16 * DAY_MS),
        at(5, T0 + 1000),
    ];
    store.write_batch(&batch(messages)).await.expect("write");
    assert_eq!(store.prune_live(T0).await.expect("prune"), 4);
    let all = |store: Arc<dyn Store>| {
        let m = m.clone();
        async move {
            store
                .readings(&m, T0 - 40 * DAY_MS, T0 + DAY_MS)
                .await
                .expect("readings")
                .into_iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(all(Arc::clone(&store)).await, vec![5]);
    // A late reading for a month already pruned is stored like any other.
    let late = store
        .write_batch(&batch(vec![at(6, T0 - 29 * DAY_MS)]))
        .await
        .expect("write");
    assert_eq!((late.stored, late.acknowledged), (1, vec![(m.clone(), 6)]));
    assert_eq!(all(store).await, vec![6, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_suite() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let newer = dir.path().join("newer.sqlite");
    let open = move |name: &str| -> Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send>> {
        let path = dir.path().join(format!("{name}.sqlite"));
        Box::pin(async move {
            Arc::new(SqliteStore::open(&path).expect("open store")) as Arc<dyn Store>
        })
    };
    run_suite(&open).await;
    // A database a newer hub migrated is refused, not written to.
    drop(SqliteStore::open(&newer).expect("create"));
    rusqlite::Connection::open(&newer)
        .expect("open")
        .pragma_update(None, "user_version", 999)
        .expect("pretend a newer hub migrated it");
    assert!(matches!(
        SqliteStore::open(&newer),
        Err(StoreError::NewerSchema { found: 999, .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_store_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Panics with what to install when PostgreSQL is missing: this test never skips.
    let cluster = Arc::new(joule_testkit::Postgres::start(dir.path()));
    let open = {
        let cluster = Arc::clone(&cluster);
        move |name: &str| -> Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send>> {
            let (cluster, name) = (Arc::clone(&cluster), name.to_owned());
            Box::pin(async move {
                cluster.create_database(&name);
                let store = PostgresStore::connect(&cluster.conninfo(&name))
                    .await
                    .expect("connect store");
                Arc::new(store) as Arc<dyn Store>
            })
        }
    };
    run_suite(&open).await;
    // Two hubs starting at once on an empty database: the advisory lock lets one migrate
    // while the other waits, and both then work.
    cluster.create_database("twins");
    let conninfo = cluster.conninfo("twins");
    let (first, second) = tokio::join!(
        PostgresStore::connect(&conninfo),
        PostgresStore::connect(&conninfo)
    );
    let (first, second) = (first.expect("first hub"), second.expect("second hub"));
    let m = id("m-1");
    first
        .write_batch(&batch(vec![(m.clone(), live(1, 1))]))
        .await
        .expect("write");
    assert_eq!(second.contiguous_seq(&m).await.expect("mark"), 1);
    // A database a newer hub migrated is refused, not written to.
    let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .execute("INSERT INTO schema_migrations (version) VALUES (999)", &[])
        .await
        .expect("pretend a newer hub migrated it");
    assert!(matches!(
        PostgresStore::connect(&conninfo).await,
        Err(StoreError::NewerSchema { found: 999, .. })
    ));
}
