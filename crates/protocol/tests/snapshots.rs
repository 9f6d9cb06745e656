//! The bytes on the wire, pinned: a change to any payload's encoding shows up here as a
//! snapshot diff, to be made on purpose (with a version bump if it breaks receivers).

use joule_metrology::{EnergyRegister, RegisterSet};
use joule_protocol::*;

fn registers() -> Registers {
    Registers {
        import_mwh: 1_834_201_337,
        export_mwh: 402_113_980,
        reactive_mvarh: [81_234_000, 1_200, 3_400, 15_000_123],
        apparent_import_mvah: 1_901_233_000,
        apparent_export_mvah: 405_000_000,
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("JSON is UTF-8")
}

#[test]
fn live_reading() {
    let live = LiveReading {
        v: PAYLOAD_VERSION,
        seq: 48_213,
        ts_ms: 1_795_000_000_000,
        voltage_v: 231.4,
        current_a: 9.87,
        p_w: 2271.5,
        q_var: 112.0,
        s_va: 2283.9,
        pf: 0.9946,
        freq_hz: Some(50.012),
        phases: Vec::new(),
        registers: registers(),
        tariff: 1,
        relay: RelayState::Connected,
    };
    insta::assert_snapshot!(text(encode(&live)));
}

#[test]
fn interval_record() {
    let record = IntervalRecord {
        v: PAYLOAD_VERSION,
        seq: 48_214,
        ts_ms: 1_795_000_500_000,
        interval_s: 900,
        registers: registers(),
        tariffs: vec![TariffRegisters {
            tariff: 1,
            import_mwh: 834_210_663,
            export_mwh: 0,
        }],
        voltage_min_v: 224.1,
        voltage_max_v: 236.0,
        voltage_avg_v: 231.2,
        max_demand_w: Some(7321.0),
        pq: PqCounters {
            sags: 1,
            swells: 0,
            interruptions: 0,
        },
    };
    insta::assert_snapshot!(text(encode(&record)));
}

#[test]
fn event_command_ack_and_storage_ack() {
    let event = EventMessage {
        v: PAYLOAD_VERSION,
        seq: 48_215,
        ts_ms: 1_795_000_512_000,
        kind: EventKind::CurrentWithoutVoltage,
        state: EventState::Started,
        phase: Some(2),
        started_ms: Some(1_795_000_511_000),
        duration_s: None,
        extreme: Some(6.1),
        detail: None,
    };
    let command = Command {
        v: PAYLOAD_VERSION,
        id: 77,
        ts_ms: 1_795_000_700_000,
        expires_ms: Some(1_795_000_760_000),
        action: Action::ArmReconnect {
            reason: "paid".into(),
        },
    };
    let ack = CommandAck {
        v: PAYLOAD_VERSION,
        seq: 48_217,
        ts_ms: 1_795_000_700_400,
        command_id: 77,
        status: AckStatus::Done,
        relay: Some(RelayState::ReadyForReconnection),
        detail: None,
    };
    let stored = StorageAck {
        v: PAYLOAD_VERSION,
        up_to_seq: 48_215,
        ts_ms: 1_795_000_513_000,
        batch_max: None,
    };
    insta::assert_snapshot!(
        [
            text(encode(&event)),
            text(encode(&command)),
            text(encode(&ack)),
            text(encode(&stored))
        ]
        .join("\n")
    );
}

#[test]
fn a_batch_and_the_storage_ack_that_invites_it() {
    let live = LiveReading {
        v: PAYLOAD_VERSION,
        seq: 48_300,
        ts_ms: 1_795_000_001_000,
        voltage_v: 230.0,
        current_a: 1.0,
        p_w: 230.0,
        q_var: 0.0,
        s_va: 230.0,
        pf: 1.0,
        freq_hz: None,
        phases: Vec::new(),
        registers: registers(),
        tariff: 0,
        relay: RelayState::Connected,
    };
    let interval = IntervalRecord {
        v: PAYLOAD_VERSION,
        seq: 48_301,
        ts_ms: 1_795_000_800_000,
        interval_s: 900,
        registers: registers(),
        tariffs: Vec::new(),
        voltage_min_v: 229.0,
        voltage_max_v: 231.0,
        voltage_avg_v: 230.0,
        max_demand_w: None,
        pq: PqCounters::default(),
    };
    let mut batch = BatchBuilder::new(500);
    assert!(batch.push(TopicKind::Live, &encode(&live)));
    assert!(batch.push(TopicKind::Interval, &encode(&interval)));
    let stored = StorageAck {
        v: PAYLOAD_VERSION,
        up_to_seq: 48_301,
        ts_ms: 1_795_000_801_000,
        batch_max: Some(500),
    };
    insta::assert_snapshot!([text(batch.finish()), text(encode(&stored))].join("\n"));
}

#[test]
fn registers_come_from_the_metrology_registers_exactly() {
    let set = RegisterSet {
        active_import: EnergyRegister::from_milli(12),
        active_export: EnergyRegister::from_milli(34),
        reactive: [1, 2, 3, 4].map(EnergyRegister::from_milli),
        apparent_import: EnergyRegister::from_milli(56),
        apparent_export: EnergyRegister::from_milli(78),
    };
    let wire = Registers::from(&set);
    assert_eq!(
        wire,
        Registers {
            import_mwh: 12,
            export_mwh: 34,
            reactive_mvarh: [1, 2, 3, 4],
            apparent_import_mvah: 56,
            apparent_export_mvah: 78,
        }
    );
}
