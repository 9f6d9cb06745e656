//! The SQLite store against its contract: batches are idempotent by (meter, seq), the
//! acknowledged mark only covers what is stored without holes, and data survives reopening.

use joule_hub::store::{Batch, DeadLetter, Gap, NewMeter, SqliteStore, StoreError, Stored};
use joule_protocol::{
    EventKind, EventMessage, EventState, IntervalRecord, LiveReading, MeterId, PAYLOAD_VERSION,
    PqCounters, Registers, RelayState,
};

const T0: i64 = 1_795_000_000_000;

fn id(s: &str) -> MeterId {
    MeterId::new(s).expect("valid id")
}

fn live(seq: u64, import_mwh: u64) -> Stored {
    Stored::Live(LiveReading {
        v: PAYLOAD_VERSION,
        seq,
        ts_ms: T0 + i64::try_from(seq).expect("small") * 1000,
        voltage_v: 230.0,
        current_a: 5.0,
        p_w: 1100.0,
        q_var: 50.0,
        s_va: 1150.0,
        pf: 0.956,
        freq_hz: Some(50.0),
        phases: Vec::new(),
        registers: Registers {
            import_mwh,
            ..Registers::default()
        },
        tariff: 0,
        relay: RelayState::Connected,
    })
}

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("hub.sqlite")).expect("open store")
}

fn batch(messages: Vec<(MeterId, Stored)>) -> Batch {
    Batch {
        messages,
        dead_letters: Vec::new(),
    }
}

#[test]
fn resends_are_stored_once_and_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let m = id("m-1");
    let first = store
        .write_batch(&batch(vec![
            (m.clone(), live(1, 10)),
            (m.clone(), live(2, 20)),
        ]))
        .expect("write");
    assert_eq!((first.stored, first.duplicates), (2, 0));
    assert_eq!(first.acknowledged, vec![(m.clone(), 2)]);
    let again = store
        .write_batch(&batch(vec![
            (m.clone(), live(2, 20)),
            (m.clone(), live(3, 30)),
        ]))
        .expect("write");
    assert_eq!((again.stored, again.duplicates), (1, 1));
    assert_eq!(again.acknowledged, vec![(m.clone(), 3)]);
    assert_eq!(
        store.readings(&m, T0, T0 + 10_000).expect("readings").len(),
        3
    );
}

#[test]
fn the_mark_stops_at_a_hole_and_moves_when_it_is_filled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let m = id("m-1");
    let outcome = store
        .write_batch(&batch(vec![
            (m.clone(), live(1, 1)),
            (m.clone(), live(2, 2)),
            (m.clone(), live(5, 5)),
            (m.clone(), live(7, 7)),
        ]))
        .expect("write");
    assert_eq!(outcome.acknowledged, vec![(m.clone(), 2)]);
    assert_eq!(
        store.gaps(&m).expect("gaps"),
        vec![Gap { from: 3, to: 4 }, Gap { from: 6, to: 6 }]
    );
    let outcome = store
        .write_batch(&batch(vec![
            (m.clone(), live(3, 3)),
            (m.clone(), live(4, 4)),
        ]))
        .expect("write");
    assert_eq!(outcome.acknowledged, vec![(m.clone(), 5)]);
    assert_eq!(store.gaps(&m).expect("gaps"), vec![Gap { from: 6, to: 6 }]);
    store
        .write_batch(&batch(vec![(m.clone(), live(6, 6))]))
        .expect("write");
    assert_eq!(store.contiguous_seq(&m).expect("mark"), 7);
    assert!(store.gaps(&m).expect("gaps").is_empty());
}

#[test]
fn meters_are_kept_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let (a, b) = (id("a"), id("b"));
    let outcome = store
        .write_batch(&batch(vec![
            (a.clone(), live(1, 1)),
            (b.clone(), live(1, 1)),
            (b.clone(), live(2, 2)),
        ]))
        .expect("write");
    assert_eq!(outcome.acknowledged, vec![(a.clone(), 1), (b.clone(), 2)]);
    assert_eq!(
        store.latest_reading(&a).expect("latest").map(|r| r.seq),
        Some(1)
    );
    assert_eq!(
        store.latest_reading(&b).expect("latest").map(|r| r.seq),
        Some(2)
    );
    assert_eq!(store.latest_reading(&id("c")).expect("latest"), None);
}

#[test]
fn intervals_events_and_dead_letters_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let m = id("m-1");
    let interval = IntervalRecord {
        v: PAYLOAD_VERSION,
        seq: 1,
        ts_ms: 1_795_000_500_000,
        interval_s: 900,
        registers: Registers {
            import_mwh: 42,
            ..Registers::default()
        },
        tariffs: Vec::new(),
        voltage_min_v: 228.0,
        voltage_max_v: 233.0,
        voltage_avg_v: 230.5,
        max_demand_w: Some(2000.0),
        pq: PqCounters::default(),
    };
    let event = EventMessage {
        v: PAYLOAD_VERSION,
        seq: 2,
        ts_ms: 1_795_000_510_000,
        kind: EventKind::CoverOpen,
        state: EventState::Started,
        phase: None,
        started_ms: None,
        duration_s: None,
        extreme: None,
        detail: None,
    };
    let letter = DeadLetter {
        received_ms: T0,
        topic: "joule/v1/meters/m-1/live".into(),
        meter: Some("m-1".into()),
        reason: "schema".into(),
        detail: "expected value".into(),
        payload: b"{oops".to_vec(),
    };
    store
        .write_batch(&Batch {
            messages: vec![
                (m.clone(), Stored::Interval(interval.clone())),
                (m.clone(), Stored::Event(event.clone())),
                (m.clone(), Stored::SequenceOnly { seq: 3, ts_ms: T0 }),
            ],
            dead_letters: vec![letter.clone()],
        })
        .expect("write");
    assert_eq!(
        store.intervals(&m, T0, T0 + 1_000_000).expect("intervals"),
        vec![interval]
    );
    assert_eq!(
        store.events(&m, T0, T0 + 1_000_000).expect("events"),
        vec![event]
    );
    assert_eq!(store.dead_letters(10).expect("dead letters"), vec![letter]);
    assert_eq!(store.contiguous_seq(&m).expect("mark"), 3);
}

#[test]
fn the_registry_survives_reopening_and_revocation_locks_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = id("m-1");
    {
        let store = open(&dir);
        let meter = NewMeter {
            id: m.clone(),
            name: "Flat 3".into(),
            feeder: Some("F1".into()),
            transformer: None,
            token_hash: "ab12".into(),
            mosquitto_hash: Some("$7$h".into()),
        };
        store.add_meter(&meter, T0).expect("add");
        assert!(matches!(
            store.add_meter(&meter, T0),
            Err(StoreError::MeterExists(_))
        ));
        store
            .write_batch(&batch(vec![(m.clone(), live(1, 1))]))
            .expect("write");
    }
    let store = open(&dir);
    assert_eq!(
        store.active_token_hash("m-1").expect("hash").as_deref(),
        Some("ab12")
    );
    assert_eq!(store.meters().expect("meters")[0].name, "Flat 3");
    assert_eq!(store.contiguous_seq(&m).expect("mark"), 1);
    store.revoke_meter(&m).expect("revoke");
    assert_eq!(store.active_token_hash("m-1").expect("hash"), None);
    assert!(matches!(
        store.revoke_meter(&id("nobody")),
        Err(StoreError::NoMeter(_))
    ));
}

#[test]
fn latest_registers_come_from_the_newest_live_or_interval_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let m = id("m-1");
    let interval = IntervalRecord {
        v: PAYLOAD_VERSION,
        seq: 9,
        ts_ms: T0 + 900_000,
        interval_s: 900,
        registers: Registers {
            import_mwh: 999,
            export_mwh: 5,
            ..Registers::default()
        },
        tariffs: Vec::new(),
        voltage_min_v: 229.0,
        voltage_max_v: 231.0,
        voltage_avg_v: 230.0,
        max_demand_w: None,
        pq: PqCounters::default(),
    };
    store
        .write_batch(&batch(vec![
            (m.clone(), live(1, 10)),
            (m.clone(), live(2, 20)),
            (m.clone(), Stored::Interval(interval)),
        ]))
        .expect("write");
    let latest = store.latest_registers().expect("latest");
    assert_eq!(latest.len(), 1);
    assert_eq!(
        (latest[0].1, latest[0].2.import_mwh, latest[0].2.export_mwh),
        (T0 + 900_000, 999, 5)
    );
}
