//! Property tests: no input makes the parser or framer panic or grow without bound, and a
//! valid telegram reads the same however the stream is cut.

use joule_dsmr::{DsmrError, Framer, MAX_TELEGRAM_BYTES, Telegram, crc16, parse};
use proptest::prelude::*;

const FIXTURES: [&[u8]; 6] = [
    include_bytes!("telegrams/dsmr22.txt"),
    include_bytes!("telegrams/dsmr3.txt"),
    include_bytes!("telegrams/dsmr4.txt"),
    include_bytes!("telegrams/dsmr5.txt"),
    include_bytes!("telegrams/fluvius.txt"),
    include_bytes!("telegrams/smarty.txt"),
];

/// Feeds `stream` to a new framer in chunks of the given sizes (cycled), then ends it.
fn frame(stream: &[u8], chunk_sizes: &[usize]) -> Vec<Result<Telegram, DsmrError>> {
    let mut framer = Framer::new();
    let mut out = Vec::new();
    let mut rest = stream;
    for size in chunk_sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).clamp(1, rest.len()));
        out.extend(framer.push(chunk));
        assert!(framer.buffered_len() <= MAX_TELEGRAM_BYTES);
        rest = tail;
    }
    out.extend(framer.finish());
    out
}

/// Register values for a generated DSMR 5 telegram.
#[derive(Debug, Clone)]
struct Registers {
    import_wh: [u64; 2],
    export_wh: [u64; 2],
    power_w: [u32; 2],
    voltage_dv: [u16; 3],
    sags: u32,
    gas_l: u64,
    stamp: (u8, u8, u8, u8, u8, u8, bool),
}

fn registers() -> impl Strategy<Value = Registers> {
    let energy = 0..1_000_000_000u64;
    let stamp = (
        0..100u8,
        1..=12u8,
        1..=28u8,
        0..24u8,
        0..60u8,
        0..60u8,
        any::<bool>(),
    );
    (
        [energy.clone(), energy.clone()],
        [energy.clone(), energy],
        [0..100_000u32, 0..100_000u32],
        [0..10_000u16, 0..10_000u16, 0..10_000u16],
        0..100_000u32,
        0..100_000_000u64,
        stamp,
    )
        .prop_map(
            |(import_wh, export_wh, power_w, voltage_dv, sags, gas_l, stamp)| Registers {
                import_wh,
                export_wh,
                power_w,
                voltage_dv,
                sags,
                gas_l,
                stamp,
            },
        )
}

/// Writes `r` as a DSMR 5 telegram, the way meters format each register, with its CRC.
fn telegram(r: &Registers) -> Vec<u8> {
    let kwh = |wh: u64| format!("{:06}.{:03}*kWh", wh / 1000, wh % 1000);
    let kw = |w: u32| format!("{:02}.{:03}*kW", w / 1000, w % 1000);
    let (yy, mo, dd, hh, mi, ss, summer) = r.stamp;
    let stamp = format!(
        "{yy:02}{mo:02}{dd:02}{hh:02}{mi:02}{ss:02}{}",
        if summer { 'S' } else { 'W' }
    );
    let mut text = format!(
        "/XMX5LGBBFG1012463322\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0({stamp})\r\n\
         1-0:1.8.1({})\r\n1-0:1.8.2({})\r\n1-0:2.8.1({})\r\n1-0:2.8.2({})\r\n\
         1-0:1.7.0({})\r\n1-0:2.7.0({})\r\n1-0:32.32.0({:05})\r\n",
        kwh(r.import_wh[0]),
        kwh(r.import_wh[1]),
        kwh(r.export_wh[0]),
        kwh(r.export_wh[1]),
        kw(r.power_w[0]),
        kw(r.power_w[1]),
        r.sags,
    );
    for (code, dv) in [32, 52, 72].iter().zip(r.voltage_dv) {
        text.push_str(&format!("1-0:{code}.7.0({:03}.{}*V)\r\n", dv / 10, dv % 10));
    }
    text.push_str(&format!(
        "0-1:24.1.0(003)\r\n0-1:24.2.1({stamp})({:05}.{:03}*m3)\r\n!",
        r.gas_l / 1000,
        r.gas_l % 1000
    ));
    let crc = crc16(text.as_bytes());
    format!("{text}{crc:04X}\r\n").into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn any_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        chunk_sizes in proptest::collection::vec(1..512usize, 1..16),
    ) {
        let _ = parse(&bytes);
        let _ = frame(&bytes, &chunk_sizes);
    }

    #[test]
    fn damaged_telegrams_never_panic(
        which in 0..FIXTURES.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8),
    ) {
        let mut bytes = FIXTURES[which].to_vec();
        for (at, byte, kind) in edits {
            let at = at.index(bytes.len().max(1));
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at.min(bytes.len()), byte),
                _ if at < bytes.len() => { bytes.remove(at); }
                _ => {}
            }
        }
        // Whatever the damage, the parser and the framer agree on the result.
        let parsed = parse(&bytes);
        if bytes.first() == Some(&b'/') && parsed.is_ok() {
            prop_assert_eq!(frame(&bytes, &[bytes.len()]), vec![parsed]);
        }
    }

    #[test]
    fn generated_telegrams_read_back_exactly(r in registers()) {
        let bytes = telegram(&r);
        let t = parse(&bytes).map_err(|err| TestCaseError::fail(err.to_string()))?;
        prop_assert_eq!(t.import_tariff1_wh, Some(r.import_wh[0]));
        prop_assert_eq!(t.import_tariff2_wh, Some(r.import_wh[1]));
        prop_assert_eq!(t.export_tariff1_wh, Some(r.export_wh[0]));
        prop_assert_eq!(t.export_tariff2_wh, Some(r.export_wh[1]));
        prop_assert_eq!(t.import_wh(), Some(r.import_wh[0] + r.import_wh[1]));
        prop_assert_eq!(
            t.net_power_w(),
            Some(i64::from(r.power_w[0]) - i64::from(r.power_w[1]))
        );
        for (phase, dv) in t.phases.iter().zip(r.voltage_dv) {
            prop_assert_eq!(phase.voltage_v, Some(f64::from(dv) / 10.0));
        }
        prop_assert_eq!(t.phases[0].voltage_sags, Some(r.sags));
        let gas = t.gas().and_then(|g| g.reading.as_ref()).and_then(|g| g.volume_l());
        prop_assert_eq!(gas, Some(r.gas_l));
        let at = t.timestamp.expect("timestamp");
        prop_assert_eq!(at.datetime.year(), 2000 + i16::from(r.stamp.0));
        prop_assert_eq!(at.datetime.second(), r.stamp.5 as i8);
    }

    #[test]
    fn a_stream_reads_the_same_however_it_is_cut(
        picks in proptest::collection::vec((0..FIXTURES.len(), proptest::collection::vec(any::<u8>(), 0..40)), 1..6),
        chunk_sizes in proptest::collection::vec(1..700usize, 1..20),
    ) {
        // Telegrams with noise between them: the noise (less any '/', which would start a
        // telegram) is reported as garbage, every telegram comes out whole.
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (which, noise) in &picks {
            let noise: Vec<u8> = noise.iter().copied().filter(|&b| b != b'/').collect();
            let counted = noise.iter().filter(|b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0)).count();
            stream.extend_from_slice(&noise);
            if counted > 0 {
                expected.push(Err(DsmrError::Garbage { skipped_bytes: counted }));
            }
            stream.extend_from_slice(FIXTURES[*which]);
            expected.push(parse(FIXTURES[*which]));
        }
        prop_assert_eq!(frame(&stream, &chunk_sizes), expected);
    }
}
