//! The body of the `modbus_request` fuzz target, shared with the stable test that replays
//! the seed corpus (`crates/modbus/tests/fuzz_corpus.rs`).
//!
//! The first byte sets the size of the pieces the rest arrives in (1..=64 bytes, as TCP
//! may split a stream anywhere); the rest is fed to the server's [`Session`], the code its
//! connections run. Then every answer is checked against the requests in the stream,
//! framed independently here: same transaction and unit id, in order, and either the
//! registers asked for or an exception 1..=3 on the same function code.

use joule_modbus::{
    ApparentEnergy, Identity, PhaseValues, Phases, ReactiveEnergy, Session, Snapshot,
};

pub(crate) fn run(data: &[u8]) {
    let Some((&chunking, stream)) = data.split_first() else {
        return;
    };
    let piece = usize::from(chunking % 64) + 1;
    let snapshot = snapshot();
    let identity = Identity::joule("Joule J3", "JM-FUZZ", "0.1.0");
    let mut session = Session::new();
    let mut out = Vec::new();
    for bytes in stream.chunks(piece) {
        if session
            .receive(bytes, &snapshot, &identity, &mut out)
            .is_err()
        {
            break;
        }
    }
    check(stream, &out);
}

/// A request as framed by the MBAP header: (transaction, unit, PDU).
fn requests(mut stream: &[u8]) -> Vec<(&[u8], u8, &[u8])> {
    let mut found = Vec::new();
    while stream.len() >= 6 {
        let protocol = u16::from_be_bytes([stream[2], stream[3]]);
        let length = usize::from(u16::from_be_bytes([stream[4], stream[5]]));
        if protocol != 0 || !(2..=254).contains(&length) || stream.len() < 6 + length {
            break;
        }
        found.push((&stream[..2], stream[6], &stream[7..6 + length]));
        stream = &stream[6 + length..];
    }
    found
}

fn check(stream: &[u8], mut out: &[u8]) {
    for (transaction, unit, pdu) in requests(stream) {
        assert!(out.len() >= 9, "an answer to every complete request");
        let length = usize::from(u16::from_be_bytes([out[4], out[5]]));
        assert_eq!(&out[..2], transaction, "transaction id echoed");
        assert_eq!(&out[2..4], &[0, 0], "protocol id 0");
        assert_eq!(out[6], unit, "unit id echoed");
        let (answer, rest) = out.split_at(6 + length);
        let function = pdu[0];
        if answer[7] == function | 0x80 && length == 3 {
            assert!((1..=3).contains(&answer[8]), "exception code {}", answer[8]);
        } else {
            assert!(function == 3 || function == 4, "registers only for reads");
            assert_eq!(answer[7], function);
            let count = usize::from(u16::from_be_bytes([pdu[3], pdu[4]]));
            assert_eq!(usize::from(answer[8]), 2 * count, "byte count");
            assert_eq!(length, 3 + 2 * count, "MBAP length");
        }
        out = rest;
    }
    assert!(out.is_empty(), "no answer without a request");
}

fn snapshot() -> Snapshot {
    let phase = PhaseValues {
        voltage_v: 230.0,
        current_a: 10.0,
        p_w: -2000.0,
        s_va: 2300.0,
        q_var: 500.0,
        pf: -0.87,
    };
    Snapshot {
        phases: Phases::Three,
        phase: [phase; 3],
        p_w: -6000.0,
        s_va: 6900.0,
        q_var: 1500.0,
        pf: -0.87,
        frequency_hz: Some(50.0),
        import_mwh: u64::MAX,
        export_mwh: 42,
        reactive: ReactiveEnergy::Quadrants([1, 2, 3, u64::MAX]),
        apparent: Some(ApparentEnergy {
            import_mvah: 7,
            export_mvah: 8,
        }),
        total_demand_w: 1.0,
        max_demand_w: 2.0,
    }
}
