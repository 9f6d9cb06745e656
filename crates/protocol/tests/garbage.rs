//! Whatever arrives on a topic, decoding answers with a message or an error: never a panic,
//! for single messages and batches alike.

use joule_protocol::{TopicKind, decode_downlink, decode_uplink};
use proptest::prelude::*;

const NOW_MS: i64 = 1_795_001_400_000;

const LIVE: &str = r#"{"v":1,"seq":7,"ts_ms":1795001000000,"voltage_v":230.1,"current_a":4.2,"p_w":950.0,"q_var":120.0,"s_va":966.4,"pf":0.983,"freq_hz":50.01,"phases":[],"registers":{"import_mwh":1,"export_mwh":0,"reactive_mvarh":[0,0,0,0],"apparent_import_mvah":1,"apparent_export_mvah":0},"tariff":0,"relay":"connected"}"#;

const BATCH: &str = r#"{"v":2,"items":[{"kind":"live","v":1,"seq":8,"ts_ms":1795001000000,"voltage_v":230.1,"current_a":4.2,"p_w":950.0,"q_var":120.0,"s_va":966.4,"pf":0.983,"registers":{"import_mwh":1,"export_mwh":0,"reactive_mvarh":[0,0,0,0],"apparent_import_mvah":1,"apparent_export_mvah":0},"tariff":0,"relay":"connected"},{"kind":"interval","v":1,"seq":9,"ts_ms":1795000500000,"interval_s":900,"registers":{"import_mwh":1,"export_mwh":0,"reactive_mvarh":[0,0,0,0],"apparent_import_mvah":1,"apparent_export_mvah":0},"voltage_min_v":229.0,"voltage_max_v":231.0,"voltage_avg_v":230.0,"pq":{"sags":0,"swells":0,"interruptions":0}}]}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for kind in TopicKind::ALL {
            let _ = decode_uplink(kind, &bytes, NOW_MS);
            let _ = decode_downlink(kind, &bytes);
        }
    }

    #[test]
    fn damaged_batches(flips in prop::collection::vec((0usize..BATCH.len(), any::<u8>()), 1..6)) {
        let mut bytes = BATCH.as_bytes().to_vec();
        for (at, value) in flips {
            bytes[at] = value;
        }
        let _ = decode_uplink(TopicKind::Batch, &bytes, NOW_MS);
    }

    #[test]
    fn damaged_live_readings(flips in prop::collection::vec((0usize..LIVE.len(), any::<u8>()), 1..6)) {
        let mut bytes = LIVE.as_bytes().to_vec();
        for (at, value) in flips {
            bytes[at] = value;
        }
        let _ = decode_uplink(TopicKind::Live, &bytes, NOW_MS);
    }
}

#[test]
fn the_undamaged_reading_and_batch_decode() {
    assert!(decode_uplink(TopicKind::Live, LIVE.as_bytes(), NOW_MS).is_ok());
    let Ok(joule_protocol::Uplink::Batch(items)) =
        decode_uplink(TopicKind::Batch, BATCH.as_bytes(), NOW_MS)
    else {
        panic!("the batch decodes");
    };
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(Result::is_ok));
}
