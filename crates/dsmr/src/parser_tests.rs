//! Unit tests of `parse`, on the fixture telegrams and on hand-made faulty ones.

use super::*;
use crate::telegram::{MbusChannel, PhaseReadings};
use crate::timestamp::Dst;

const DSMR22: &[u8] = include_bytes!("../tests/telegrams/dsmr22.txt");
const DSMR3: &[u8] = include_bytes!("../tests/telegrams/dsmr3.txt");
const DSMR4: &[u8] = include_bytes!("../tests/telegrams/dsmr4.txt");
const DSMR5: &[u8] = include_bytes!("../tests/telegrams/dsmr5.txt");
const FLUVIUS: &[u8] = include_bytes!("../tests/telegrams/fluvius.txt");
const SMARTY: &[u8] = include_bytes!("../tests/telegrams/smarty.txt");

/// A telegram from `/` to the `!` with its CRC and a CRLF after it.
fn with_crc(up_to_bang: &str) -> Vec<u8> {
    format!("{up_to_bang}{:04X}\r\n", crc16(up_to_bang.as_bytes())).into_bytes()
}

fn ts(text: &str) -> DsmrTimestamp {
    DsmrTimestamp::parse(text).expect(text)
}

fn ok(bytes: &[u8]) -> Telegram {
    parse(bytes).unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn dsmr_5_reads_every_mapped_field() {
    let t = ok(DSMR5);
    assert_eq!(t.header, "XMX5LGBBFG1012463322");
    assert_eq!(t.version.as_deref(), Some("50"));
    assert_eq!(t.crc, Some(0x9E48));
    assert_eq!(t.timestamp, Some(ts("230615123005S")));
    assert_eq!(
        t.equipment_id.as_deref(),
        Some("4530303331303033323735363534373137")
    );
    assert_eq!(t.import_tariff1_wh, Some(4_512_671));
    assert_eq!(t.import_tariff2_wh, Some(3_987_014));
    assert_eq!(t.export_tariff1_wh, Some(1_203_330));
    assert_eq!(t.export_tariff2_wh, Some(2_876_905));
    assert_eq!(t.import_wh(), Some(8_499_685));
    assert_eq!(t.export_wh(), Some(4_080_235));
    assert_eq!(t.tariff, Some(2));
    assert_eq!((t.import_power_w, t.export_power_w), (Some(0), Some(3412)));
    assert_eq!(t.net_power_w(), Some(-3412));
    assert_eq!(
        (t.power_failures, t.long_power_failures),
        (Some(11), Some(4))
    );
    assert_eq!(
        t.power_failure_log,
        Some(vec![
            PowerFailure {
                ended: ts("221030023417S"),
                duration_s: 4561
            },
            PowerFailure {
                ended: ts("230114071502W"),
                duration_s: 411
            },
        ])
    );
    assert_eq!(
        t.phases[0],
        PhaseReadings {
            voltage_v: Some(236.4),
            current_a: Some(5.0),
            import_power_w: Some(0),
            export_power_w: Some(1204),
            voltage_sags: Some(3),
            voltage_swells: Some(1),
        }
    );
    assert_eq!(t.phases[1].voltage_v, Some(235.9));
    assert_eq!(t.phases[2].export_power_w, Some(1305));
    assert_eq!(
        t.text_message.as_deref(),
        Some("5374726F6F6D7374696B20766F6F7273706F656C6420")
    );
    assert_eq!(t.mbus.len(), 2);
    assert_eq!(
        t.mbus[1],
        MbusChannel {
            channel: 2,
            device_type: Some(7),
            equipment_id: Some("3757303034303031323334353637383930".into()),
            reading: Some(MbusReading {
                captured: ts("230615120000S"),
                value_milli: 412_733,
                unit: "m3".into()
            }),
        }
    );
    let gas = t.gas().and_then(|ch| ch.reading.as_ref());
    assert_eq!(gas.and_then(MbusReading::volume_l), Some(3_211_082));
    assert_eq!(t.unknown_lines, 0);
}

#[test]
fn dsmr_4_reads_registers_log_and_gas() {
    let t = ok(DSMR4);
    assert_eq!(t.version.as_deref(), Some("42"));
    assert_eq!(t.import_wh(), Some(3_016_829));
    assert_eq!(t.import_power_w, Some(2027));
    let log = t.power_failure_log.as_deref().expect("log");
    assert_eq!(log.len(), 3);
    assert_eq!(
        log[2],
        PowerFailure {
            ended: ts("150102000003W"),
            duration_s: 2_317_482_647
        }
    );
    assert_eq!(
        t.phases.map(|p| p.voltage_sags),
        [Some(2), Some(1), Some(0)]
    );
    assert_eq!(
        t.phases.map(|p| p.voltage_swells),
        [Some(0), Some(3), Some(0)]
    );
    assert_eq!(
        t.phases.map(|p| p.current_a),
        [Some(1.0), Some(6.0), Some(2.0)]
    );
    assert_eq!(t.phases.map(|p| p.voltage_v), [None; 3]);
    assert_eq!(t.text_message, None);
    // 0-0:96.13.1, the text message code, is not mapped.
    assert_eq!(t.unknown_lines, 1);
    let gas = t.gas().and_then(|ch| ch.reading.clone()).expect("gas");
    assert_eq!(
        (gas.captured, gas.value_milli),
        (ts("161113200000W"), 981_443)
    );
}

#[test]
fn dsmr_2_2_has_no_crc_and_fewer_decimals() {
    let t = ok(DSMR22);
    assert_eq!(
        (t.version.as_deref(), t.crc, t.timestamp),
        (None, None, None)
    );
    assert_eq!(t.import_tariff1_wh, Some(1_234_560));
    assert_eq!(t.import_tariff2_wh, Some(987_600));
    assert_eq!(t.export_tariff2_wh, Some(12_340));
    assert_eq!(t.import_power_w, Some(1010));
    assert_eq!(t.tariff, Some(1));
    let gas = t.gas().expect("gas channel");
    assert_eq!(gas.device_type, Some(3));
    assert_eq!(
        gas.reading,
        Some(MbusReading {
            captured: ts("161107190000"),
            value_milli: 1_512_427,
            unit: "m3".into()
        })
    );
    // 17.0.0, 96.3.10, 96.13.1, 24.4.0.
    assert_eq!(t.unknown_lines, 4);
}

#[test]
fn dsmr_3_joins_a_text_message_split_over_two_lines() {
    let t = ok(DSMR3);
    let text = t.text_message.as_deref().expect("text message");
    assert!(
        text.starts_with("546869732069732061206D657373616765"),
        "{text}"
    );
    assert!(
        text.ends_with("206163726F73732074776F206C696E65732E"),
        "{text}"
    );
    assert!(!text.contains(['\r', '\n']));
    assert_eq!(
        t.gas()
            .and_then(|g| g.reading.as_ref())
            .map(|r| r.value_milli),
        Some(2_893_101)
    );
    assert_eq!(t.import_wh(), Some(22_579_680));
}

#[test]
fn belgian_telegrams_read_version_demand_and_uncorrected_gas() {
    let t = ok(FLUVIUS);
    assert_eq!(t.header, "FLU5\\253769484_A");
    assert_eq!(t.version.as_deref(), Some("50217"));
    assert_eq!(t.timestamp, Some(ts("231029021514W")));
    assert_eq!(t.average_demand_w, Some(2351));
    assert_eq!(
        t.max_demand_month,
        Some(PeakDemand {
            at: ts("231009134558S"),
            power_w: 4589
        })
    );
    assert_eq!(
        t.phases.map(|p| p.current_a),
        [Some(1.04), Some(1.52), Some(0.87)]
    );
    let gas = t.gas().expect("gas");
    assert_eq!(
        gas.equipment_id.as_deref(),
        Some("37464C4F32313139303333373333")
    );
    assert_eq!(
        gas.reading.as_ref().and_then(MbusReading::volume_l),
        Some(112_384)
    );
    assert_eq!(t.mbus[1].device_type, Some(7));
    // 98.1.0, 96.3.10, 17.0.0, 31.4.0, 24.4.0.
    assert_eq!(t.unknown_lines, 5);
}

#[test]
fn luxembourg_telegrams_read_totals_and_reactive_energy() {
    let t = ok(SMARTY);
    assert_eq!(
        t.logical_device_name.as_deref(),
        Some("53414733303331303239303036303239")
    );
    assert_eq!((t.import_tariff1_wh, t.import_tariff2_wh), (None, None));
    assert_eq!(t.import_wh(), Some(3_720_154));
    assert_eq!(t.export_wh(), Some(1_843_880));
    assert_eq!(t.reactive_import_varh, Some(612_207));
    assert_eq!(t.reactive_export_varh, Some(254_017));
    assert_eq!(t.reactive_import_power_var, Some(214));
    assert_eq!(t.reactive_export_power_var, Some(0));
    assert_eq!(t.phases[0].voltage_v, Some(229.8));
    assert_eq!(t.phases[1], PhaseReadings::default());
}

#[test]
fn a_wrong_crc_names_both_values() {
    let good = ok(DSMR5).crc.expect("crc");
    let mut bad = DSMR5.to_vec();
    let at = bad.windows(7).position(|w| w == b"004512.").expect("value") + 5;
    bad[at] = b'3';
    match parse(&bad) {
        Err(DsmrError::CrcMismatch { expected, computed }) => {
            assert_eq!(expected, good);
            assert_ne!(computed, good);
            assert_eq!(
                computed,
                crc16(&bad[..bad.iter().position(|&b| b == b'!').expect("!") + 1])
            );
        }
        other => panic!("expected a CRC mismatch, got {other:?}"),
    }
}

#[test]
fn lower_case_crc_digits_are_accepted() {
    let text = String::from_utf8(DSMR4.to_vec())
        .expect("ascii")
        .replace("!A2E0", "!a2e0");
    assert_eq!(parse(text.as_bytes()).map(|t| t.crc), Ok(Some(0xA2E0)));
}

#[test]
fn every_truncation_is_an_error_never_a_partial_telegram() {
    for fixture in [DSMR22, DSMR4, DSMR5, FLUVIUS, SMARTY] {
        let bang = fixture.iter().position(|&b| b == b'!').expect("!");
        for cut in 0..fixture.len() {
            let result = parse(&fixture[..cut]);
            if cut <= bang {
                assert!(result.is_err(), "cut at {cut} parsed");
            } else if fixture[bang + 1].is_ascii_hexdigit() && cut < bang + 5 {
                // A shortened CRC, or none at all where the version requires one.
                assert!(
                    matches!(
                        result,
                        Err(DsmrError::BadCrcField { .. } | DsmrError::MissingCrc { .. })
                    ),
                    "cut at {cut}: {result:?}"
                );
            } else {
                assert!(
                    result.is_ok(),
                    "cut at {cut} (in the trailing CRLF): {result:?}"
                );
            }
        }
        assert_eq!(
            parse(&fixture[..bang]),
            Err(DsmrError::Truncated { len_bytes: bang })
        );
    }
    assert_eq!(parse(b""), Err(DsmrError::Empty));
}

#[test]
fn unknown_obis_codes_are_counted_not_refused() {
    let t = ok(&with_crc(
        "/ABC5 test\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.8.1(000001.000*kWh)\r\n0-0:96.99.9(whatever)\r\n\
         1-1:1.8.1(1)(2)(3)\r\n0-5:96.1.0()\r\n1-0:1.8.3(000009.000*kWh)\r\n!",
    ));
    assert_eq!(t.import_tariff1_wh, Some(1000));
    assert_eq!(t.unknown_lines, 3);
    assert_eq!(
        t.mbus.len(),
        1,
        "an empty M-Bus identifier still names its channel"
    );
    assert_eq!(t.mbus[0].equipment_id, None);
}

#[test]
fn a_malformed_known_line_names_the_line_and_the_reason() {
    let cases: [(&str, usize, ValueError); 6] = [
        (
            "1-0:1.8.1(000001.000*kW)",
            3,
            ValueError::Unit {
                expected: "kWh or Wh",
                found: "kW".into(),
            },
        ),
        (
            "1-0:1.8.1(00000A.000*kWh)",
            3,
            ValueError::NotDecimal {
                text: "00000A.000".into(),
            },
        ),
        (
            "1-0:1.7.0(00.0001*kW)",
            3,
            ValueError::TooPrecise {
                text: "00.0001".into(),
                max_decimals: 3,
            },
        ),
        (
            "0-0:1.0.0(231329023000W)",
            3,
            ValueError::Timestamp {
                text: "231329023000W".into(),
            },
        ),
        (
            "1-0:1.8.1(1*kWh)(2*kWh)",
            3,
            ValueError::GroupCount {
                expected: 1,
                found: 2,
            },
        ),
        (
            "1-0:99.97.0(2)(0-0:96.7.19)(000101000001W)(1*s)",
            3,
            ValueError::GroupCount {
                expected: 6,
                found: 4,
            },
        ),
    ];
    for (line, line_no, source) in cases {
        let telegram = with_crc(&format!("/ABC5 test\r\n\r\n{line}\r\n!"));
        assert_eq!(
            parse(&telegram),
            Err(DsmrError::BadValue {
                line_no,
                line: line.into(),
                source
            }),
            "{line}"
        );
    }
}

#[test]
fn lines_that_are_no_data_lines_are_refused() {
    let telegram = with_crc("/ABC5 test\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\nhello\r\n!");
    assert_eq!(
        parse(&telegram),
        Err(DsmrError::BadLine {
            line_no: 4,
            line: "hello".into(),
            reason: "no '(' after the OBIS code"
        })
    );
}

#[test]
fn the_power_failure_log_may_be_empty() {
    for line in ["1-0:99.97.0()", "1-0:99.97.0(0)(0-0:96.7.19)"] {
        let t = ok(&with_crc(&format!("/ABC5 test\r\n\r\n{line}\r\n!")));
        assert_eq!(t.power_failure_log, Some(Vec::new()), "{line}");
    }
    let other_buffer = with_crc("/ABC5 test\r\n\r\n1-0:99.97.0(0)(0-0:96.7.20)\r\n!");
    assert!(matches!(
        parse(&other_buffer),
        Err(DsmrError::BadValue {
            source: ValueError::LogBuffer { .. },
            ..
        })
    ));
}

#[test]
fn framing_faults_have_their_own_errors() {
    assert_eq!(
        parse(b"1-0:1.8.1(1*kWh)\r\n!"),
        Err(DsmrError::NoHeader { found: b'1' })
    );
    assert_eq!(
        parse(b"/AB\r\n!\r\n"),
        Err(DsmrError::BadHeader {
            header: "/AB".into()
        })
    );
    assert_eq!(
        parse(b"/ABC5 no line end!\r\n"),
        Err(DsmrError::BadHeader {
            header: "/ABC5 no line end".into()
        })
    );
    assert_eq!(
        parse(b"/ABC5 x\r\n1-0:1.8.1(1*kWh)\r\n/ABC5 y\r\n!\r\n"),
        Err(DsmrError::NestedHeader { offset: 27 })
    );
    assert_eq!(
        parse(b"/ABC5 x\r\n1-0:1.8.1(1\xB1*kWh)\r\n!\r\n"),
        Err(DsmrError::NotAscii {
            offset: 20,
            byte: 0xB1
        })
    );
    assert_eq!(
        parse(b"/ABC5 x\r\n!12\r\n"),
        Err(DsmrError::BadCrcField { field: "12".into() })
    );
    assert_eq!(
        parse(b"/ABC5 x\r\n!1234 and more\r\n"),
        Err(DsmrError::BadCrcField {
            field: "1234 and more".into()
        })
    );
    let without_crc = "/ABC5 x\r\n1-3:0.2.8(50)\r\n!\r\n";
    assert_eq!(
        parse(without_crc.as_bytes()),
        Err(DsmrError::MissingCrc {
            version: "50".into()
        })
    );
}

#[test]
fn trailing_line_ends_and_padding_after_the_crc_are_allowed() {
    let mut telegram = DSMR5.to_vec();
    telegram.extend_from_slice(b"\r\n\0");
    assert_eq!(parse(&telegram), Ok(ok(DSMR5)));
    let bang = DSMR5.iter().position(|&b| b == b'!').expect("!");
    assert_eq!(
        parse(&DSMR5[..bang + 5]),
        Ok(ok(DSMR5)),
        "no line end at all"
    );
}

#[test]
fn flags_and_timestamps_survive_into_the_telegram() {
    let t = ok(FLUVIUS);
    let at = t.timestamp.expect("timestamp");
    assert_eq!(at.dst, Some(Dst::Winter));
    // 2023-10-29 02:15:14 in the second pass (CET) is 01:15:14 UTC.
    let zone = jiff::tz::TimeZone::get("Europe/Brussels").expect("zone");
    assert_eq!(at.to_unix_ms(&zone), Ok(1_698_542_114_000));
}
