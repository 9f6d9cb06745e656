//! What the hub's integration tests share: free ports, timestamps the hub accepts, and a
//! valid live reading.

use joule_protocol::{LiveReading, PAYLOAD_VERSION, Registers, RelayState};

/// A free TCP port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// An hour ago in Unix ms: a base for test timestamps that the hub accepts even after an
/// hour of readings, one a second, on top of it.
pub(crate) fn recent_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    i64::try_from(now).expect("ms") - 3_600_000
}

/// A valid single-phase live reading, one a second after `base_ms`, whose import register
/// grows with `seq`.
pub(crate) fn reading(seq: u64, base_ms: i64) -> LiveReading {
    LiveReading {
        v: PAYLOAD_VERSION,
        seq,
        ts_ms: base_ms + i64::try_from(seq).expect("small seq") * 1000,
        voltage_v: 230.0,
        current_a: 2.0,
        p_w: 460.0,
        q_var: 0.0,
        s_va: 460.0,
        pf: 1.0,
        freq_hz: Some(50.0),
        phases: Vec::new(),
        registers: Registers {
            import_mwh: seq,
            ..Registers::default()
        },
        tariff: 0,
        relay: RelayState::Connected,
    }
}
