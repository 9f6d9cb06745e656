//! Batches at their limits: the largest items the checks accept still fit fifty to a
//! batch, and one bad item is refused on its own while the rest of the batch stands.

use joule_protocol::{
    BatchBuilder, BatchItem, LiveReading, MAX_PAYLOAD_BYTES, PAYLOAD_VERSION, PhaseReading,
    Registers, RelayState, TopicKind, Uplink, decode_uplink, encode,
};

const NOW_MS: i64 = 1_795_000_000_000;

/// The longest three-phase live reading the checks accept: every number as long as JSON
/// writes one (17 significant digits, a sign and an exponent), registers at the storable
/// limit, the longest relay state.
fn longest_live(seq: u64) -> LiveReading {
    let long = -1.234_567_890_123_456_7e-300;
    let phase = PhaseReading {
        voltage_v: -long,
        current_a: -long,
        p_w: long,
        q_var: long,
        s_va: -long,
        pf: long,
    };
    let register = i64::MAX as u64;
    LiveReading {
        v: PAYLOAD_VERSION,
        seq,
        ts_ms: NOW_MS - 399 * 86_400_000,
        voltage_v: -long,
        current_a: -long,
        p_w: long,
        q_var: long,
        s_va: -long,
        pf: long,
        freq_hz: Some(49.999_999_999_999_99),
        phases: vec![phase; 3],
        registers: Registers {
            import_mwh: register,
            export_mwh: register,
            reactive_mvarh: [register; 4],
            apparent_import_mvah: register,
            apparent_export_mvah: register,
        },
        tariff: 3,
        relay: RelayState::ReadyForReconnection,
    }
}

#[test]
fn fifty_of_the_longest_three_phase_readings_fit_in_one_batch() {
    let mut batch = BatchBuilder::new(usize::MAX);
    let mut seq = u64::MAX - 1000;
    while batch.push(TopicKind::Live, &encode(&longest_live(seq))) {
        seq += 1;
    }
    let count = batch.len();
    assert!(count >= 50, "only {count} fit");
    let payload = batch.finish();
    assert!(payload.len() <= MAX_PAYLOAD_BYTES);
    let Ok(Uplink::Batch(items)) = decode_uplink(TopicKind::Batch, &payload, NOW_MS) else {
        panic!("a full batch decodes");
    };
    assert_eq!(items.len(), count);
    assert!(
        items.iter().all(Result::is_ok),
        "every item passes its checks"
    );
}

#[test]
fn a_bad_item_is_refused_alone_and_a_bad_envelope_as_a_whole() {
    let good = |seq| encode(&longest_live(seq));
    let mut bad = longest_live(2);
    bad.pf = 3.0;
    let mut batch = BatchBuilder::new(10);
    assert!(batch.push(TopicKind::Live, &good(1)));
    assert!(batch.push(TopicKind::Live, &encode(&bad)));
    assert!(batch.push(TopicKind::Live, &good(3)));
    let payload = batch.finish();
    let Ok(Uplink::Batch(items)) = decode_uplink(TopicKind::Batch, &payload, NOW_MS) else {
        panic!("the envelope is fine");
    };
    let seqs: Vec<Option<u64>> = items
        .iter()
        .map(|item| match item {
            Ok(BatchItem::Live(m)) => Some(m.seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, [Some(1), None, Some(3)]);
    let refused = items[1].as_ref().expect_err("pf out of range");
    assert_eq!(refused.error.reason(), "invalid");
    let as_sent = format!(
        "{{\"kind\":\"live\",{}",
        String::from_utf8_lossy(&encode(&bad)[1..])
    );
    assert_eq!(
        String::from_utf8_lossy(&refused.payload),
        as_sent,
        "the item kept as it came"
    );

    // `kind` need not come first.
    let live = encode(&longest_live(4));
    let kind_last = format!(
        r#"{{"v":2,"items":[{},"kind":"live"}}]}}"#,
        String::from_utf8_lossy(&live[..live.len() - 1])
    );
    let Ok(Uplink::Batch(items)) = decode_uplink(TopicKind::Batch, kind_last.as_bytes(), NOW_MS)
    else {
        panic!("the envelope is fine");
    };
    assert!(matches!(&items[0], Ok(BatchItem::Live(m)) if m.seq == 4));

    let event =
        r#"{"v":2,"items":[{"kind":"event","v":1,"seq":4,"ts_ms":1795000000000,"kind2":1}]}"#;
    let Ok(Uplink::Batch(items)) = decode_uplink(TopicKind::Batch, event.as_bytes(), NOW_MS) else {
        panic!("the envelope is fine");
    };
    assert_eq!(
        items[0]
            .as_ref()
            .expect_err("events stay single")
            .error
            .reason(),
        "schema"
    );
    for (envelope, reason) in [
        (r#"{"v":3,"items":[{}]}"#, "version"),
        (r#"{"v":2,"items":[]}"#, "invalid"),
        (r#"{"v":2,"items":{}}"#, "schema"),
        (r#"{"v":2}"#, "schema"),
        ("[]", "schema"),
    ] {
        let error =
            decode_uplink(TopicKind::Batch, envelope.as_bytes(), NOW_MS).expect_err(envelope);
        assert_eq!(error.reason(), reason, "{envelope}: {error}");
    }
    let huge = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    assert_eq!(
        decode_uplink(TopicKind::Batch, &huge, NOW_MS)
            .expect_err("too large")
            .reason(),
        "too_large"
    );
}
