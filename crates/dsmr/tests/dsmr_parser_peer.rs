//! Cross-check against a parser someone else wrote: the Python `dsmr-parser` package
//! (1.4.3), with the telegram specification that matches each fixture. Both parsers read
//! every fixture in `tests/telegrams/`; a small Python script turns the peer's objects into a
//! flat map of canonical keys with exact values (energy and power as integer thousandths of
//! the peer's `Decimal`, times as Unix milliseconds, voltages and currents as the decimal
//! text), and this test builds the same map from our `Telegram` and compares them key by key,
//! in both directions.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use jiff::tz::TimeZone;
use joule_dsmr::{DsmrTimestamp, Telegram, parse};
use serde_json::{Value, json};

/// Reads a telegram with dsmr-parser and prints `{"fields": {...}, "unmapped": [...]}`.
const PEER_SCRIPT: &str = r#"
import json, sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from dsmr_parser import telegram_specifications
from dsmr_parser.objects import MbusDevice
from dsmr_parser.parsers import TelegramParser

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

def ms(dt):
    return None if dt is None else (dt - EPOCH) // timedelta(milliseconds=1)

def milli(d):
    scaled = Decimal(d) * 1000
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{d} is not a whole number of thousandths")
    return int(scaled)

def f64(d):
    return {"f64": str(d)}

SIMPLE = {
    "P1_MESSAGE_HEADER": ("version", str),
    "BELGIUM_VERSION_INFORMATION": ("version", str),
    "P1_MESSAGE_TIMESTAMP": ("timestamp_ms", ms),
    "EQUIPMENT_IDENTIFIER": ("equipment_id", str),
    "BELGIUM_EQUIPMENT_IDENTIFIER": ("equipment_id", str),
    "LUXEMBOURG_EQUIPMENT_IDENTIFIER": ("logical_device_name", str),
    "ELECTRICITY_IMPORTED_TOTAL": ("import_total_wh", milli),
    "ELECTRICITY_USED_TARIFF_1": ("import_tariff1_wh", milli),
    "ELECTRICITY_USED_TARIFF_2": ("import_tariff2_wh", milli),
    "ELECTRICITY_EXPORTED_TOTAL": ("export_total_wh", milli),
    "ELECTRICITY_DELIVERED_TARIFF_1": ("export_tariff1_wh", milli),
    "ELECTRICITY_DELIVERED_TARIFF_2": ("export_tariff2_wh", milli),
    "ELECTRICITY_ACTIVE_TARIFF": ("tariff", int),
    "CURRENT_ELECTRICITY_USAGE": ("import_power_w", milli),
    "CURRENT_ELECTRICITY_DELIVERY": ("export_power_w", milli),
    "SHORT_POWER_FAILURE_COUNT": ("power_failures", int),
    "LONG_POWER_FAILURE_COUNT": ("long_power_failures", int),
    "TEXT_MESSAGE": ("text_message", str),
    "BELGIUM_CURRENT_AVERAGE_DEMAND": ("average_demand_w", milli),
}
for n in (1, 2, 3):
    SIMPLE[f"VOLTAGE_SAG_L{n}_COUNT"] = (f"l{n}.voltage_sags", int)
    SIMPLE[f"VOLTAGE_SWELL_L{n}_COUNT"] = (f"l{n}.voltage_swells", int)
    SIMPLE[f"INSTANTANEOUS_VOLTAGE_L{n}"] = (f"l{n}.voltage_v", f64)
    SIMPLE[f"INSTANTANEOUS_CURRENT_L{n}"] = (f"l{n}.current_a", f64)
    SIMPLE[f"INSTANTANEOUS_ACTIVE_POWER_L{n}_POSITIVE"] = (f"l{n}.import_power_w", milli)
    SIMPLE[f"INSTANTANEOUS_ACTIVE_POWER_L{n}_NEGATIVE"] = (f"l{n}.export_power_w", milli)

# Lines our crate counts as unknown, on purpose (see the crate's README).
NOT_MAPPED = {
    "ACTUAL_TRESHOLD_ELECTRICITY", "ACTUAL_SWITCH_POSITION", "TEXT_MESSAGE_CODE",
    "FUSE_THRESHOLD_L1", "BELGIUM_MAXIMUM_DEMAND_13_MONTHS", "MBUS_VALVE_POSITION",
    "VALVE_POSITION_GAS",
}
MBUS_ID = {"MBUS_EQUIPMENT_IDENTIFIER", "EQUIPMENT_IDENTIFIER_GAS"}
MBUS_TYPE = {"MBUS_DEVICE_TYPE", "DEVICE_TYPE"}
MBUS_READING = {"MBUS_METER_READING", "HOURLY_GAS_METER_READING", "GAS_METER_READING"}

fields, unmapped = {}, []

def put(key, value):
    fields[key] = None if value is None else value

def read(name, obj, prefix=""):
    if name in NOT_MAPPED:
        return
    if name in SIMPLE:
        key, convert = SIMPLE[name]
        put(prefix + key, None if obj.value is None else convert(obj.value))
    elif name == "POWER_EVENT_FAILURE_LOG":
        put("power_failure_log", [[ms(e.datetime), e.value] for e in obj.buffer])
    elif name == "BELGIUM_MAXIMUM_DEMAND_MONTH":
        put("max_demand_month.at_ms", ms(obj.datetime))
        put("max_demand_month.power_w", milli(obj.value))
    elif name in MBUS_TYPE:
        put(prefix + "device_type", int(obj.value))
    elif name in MBUS_ID:
        put(prefix + "equipment_id", obj.value)
    elif name in MBUS_READING:
        put(prefix + "captured_ms", ms(obj.datetime))
        put(prefix + "value_milli", milli(obj.value))
        put(prefix + "unit", obj.unit)
    else:
        unmapped.append(prefix + name)

spec = getattr(telegram_specifications, sys.argv[1])
with open(sys.argv[2], "rb") as f:
    telegram = TelegramParser(spec).parse(f.read().decode("ascii"))
for name, obj in telegram:
    if name == "MBUS_DEVICES":
        for device in obj:
            for sub_name, sub_obj in device:
                read(sub_name, sub_obj, f"mbus.{device.channel_id}.")
    else:
        read(name, obj)
print(json.dumps({"fields": fields, "unmapped": unmapped}))
"#;

/// A fixture, the peer's specification for it, and the keys only one side can read, each
/// with the reason.
struct Case {
    file: &'static str,
    spec: &'static str,
    /// Keys we read and the peer does not (its specification lacks them, or it fails on the
    /// line), or reads as null.
    peer_cannot: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        file: "dsmr22.txt",
        spec: "V2_2",
        peer_cannot: &[],
    },
    Case {
        file: "dsmr3.txt",
        spec: "V3",
        peer_cannot: &[(
            "text_message",
            "a text message split over lines fails its line regex",
        )],
    },
    Case {
        file: "dsmr4.txt",
        spec: "V4",
        peer_cannot: &[],
    },
    Case {
        file: "dsmr5.txt",
        spec: "V5",
        peer_cannot: &[],
    },
    Case {
        file: "fluvius.txt",
        spec: "BELGIUM_FLUVIUS",
        peer_cannot: &[],
    },
    Case {
        file: "smarty.txt",
        spec: "LUXEMBOURG_SMARTY",
        peer_cannot: &[
            ("reactive_import_varh", "LUXEMBOURG_SMARTY has no 1-0:3.8.0"),
            ("reactive_export_varh", "LUXEMBOURG_SMARTY has no 1-0:4.8.0"),
            (
                "reactive_import_power_var",
                "LUXEMBOURG_SMARTY has no 1-0:3.7.0",
            ),
            (
                "reactive_export_power_var",
                "LUXEMBOURG_SMARTY has no 1-0:4.7.0",
            ),
        ],
    },
];

/// The same flat map, from our telegram.
fn ours(t: &Telegram, zone: &TimeZone) -> BTreeMap<String, Value> {
    let ms = |at: &DsmrTimestamp| json!(at.to_unix_ms(zone).expect("instant"));
    let mut map = BTreeMap::new();
    let mut put = |key: String, value: Option<Value>| {
        if let Some(value) = value {
            map.insert(key, value);
        }
    };
    put("version".into(), t.version.as_ref().map(|v| json!(v)));
    put("timestamp_ms".into(), t.timestamp.as_ref().map(ms));
    put(
        "equipment_id".into(),
        t.equipment_id.as_ref().map(|v| json!(v)),
    );
    put(
        "logical_device_name".into(),
        t.logical_device_name.as_ref().map(|v| json!(v)),
    );
    let registers = [
        ("import_total_wh", t.import_total_wh),
        ("import_tariff1_wh", t.import_tariff1_wh),
        ("import_tariff2_wh", t.import_tariff2_wh),
        ("export_total_wh", t.export_total_wh),
        ("export_tariff1_wh", t.export_tariff1_wh),
        ("export_tariff2_wh", t.export_tariff2_wh),
        ("reactive_import_varh", t.reactive_import_varh),
        ("reactive_export_varh", t.reactive_export_varh),
    ];
    for (key, value) in registers {
        put(key.into(), value.map(|v| json!(v)));
    }
    let counts = [
        ("tariff", t.tariff.map(u32::from)),
        ("import_power_w", t.import_power_w),
        ("export_power_w", t.export_power_w),
        ("reactive_import_power_var", t.reactive_import_power_var),
        ("reactive_export_power_var", t.reactive_export_power_var),
        ("power_failures", t.power_failures),
        ("long_power_failures", t.long_power_failures),
        ("average_demand_w", t.average_demand_w),
    ];
    for (key, value) in counts {
        put(key.into(), value.map(|v| json!(v)));
    }
    put(
        "text_message".into(),
        t.text_message.as_ref().map(|v| json!(v)),
    );
    put(
        "power_failure_log".into(),
        t.power_failure_log.as_ref().map(|log| {
            log.iter()
                .map(|f| json!([ms(&f.ended), f.duration_s]))
                .collect::<Vec<_>>()
                .into()
        }),
    );
    if let Some(peak) = &t.max_demand_month {
        put("max_demand_month.at_ms".into(), Some(ms(&peak.at)));
        put("max_demand_month.power_w".into(), Some(json!(peak.power_w)));
    }
    for (n, phase) in (1..).zip(&t.phases) {
        put(format!("l{n}.voltage_v"), phase.voltage_v.map(|v| json!(v)));
        put(format!("l{n}.current_a"), phase.current_a.map(|v| json!(v)));
        put(
            format!("l{n}.import_power_w"),
            phase.import_power_w.map(|v| json!(v)),
        );
        put(
            format!("l{n}.export_power_w"),
            phase.export_power_w.map(|v| json!(v)),
        );
        put(
            format!("l{n}.voltage_sags"),
            phase.voltage_sags.map(|v| json!(v)),
        );
        put(
            format!("l{n}.voltage_swells"),
            phase.voltage_swells.map(|v| json!(v)),
        );
    }
    for device in &t.mbus {
        let key = |name: &str| format!("mbus.{}.{name}", device.channel);
        put(key("device_type"), device.device_type.map(|v| json!(v)));
        put(
            key("equipment_id"),
            device.equipment_id.as_ref().map(|v| json!(v)),
        );
        if let Some(reading) = &device.reading {
            put(key("captured_ms"), Some(ms(&reading.captured)));
            put(key("value_milli"), Some(json!(reading.value_milli)));
            put(key("unit"), Some(json!(reading.unit)));
        }
    }
    map
}

/// Whether the peer's value equals ours: exactly, or for `{"f64": text}` as the float
/// nearest that decimal text (which is how we read voltages and currents).
fn same(peer: &Value, ours: &Value) -> bool {
    match peer.get("f64").and_then(Value::as_str) {
        Some(text) => text.parse::<f64>().ok() == ours.as_f64(),
        None => peer == ours,
    }
}

fn peer(spec: &str, file: &Path) -> (BTreeMap<String, Value>, Vec<String>) {
    let output = Command::new(joule_testkit::python())
        .arg("-c")
        .arg(PEER_SCRIPT)
        .arg(spec)
        .arg(file)
        .output()
        .expect("run the Python peer");
    assert!(
        output.status.success(),
        "dsmr-parser failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: Value = serde_json::from_slice(&output.stdout).expect("peer prints JSON");
    let fields = parsed["fields"]
        .as_object()
        .expect("fields")
        .clone()
        .into_iter()
        .collect();
    let unmapped = parsed["unmapped"]
        .as_array()
        .expect("unmapped")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect();
    (fields, unmapped)
}

#[test]
fn every_fixture_reads_the_same_as_dsmr_parser() {
    // dsmr-parser localises every timestamp in Europe/Amsterdam (Brussels and Luxembourg
    // have had the same rules since 1977).
    let zone = TimeZone::get("Europe/Amsterdam").expect("bundled tzdb");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/telegrams");
    let mut compared = 0;
    for case in CASES {
        let path = dir.join(case.file);
        let bytes = std::fs::read(&path).expect("fixture");
        let telegram = parse(&bytes).unwrap_or_else(|err| panic!("{}: {err}", case.file));
        let ours = ours(&telegram, &zone);
        let (theirs, unmapped) = peer(case.spec, &path);
        assert!(
            unmapped.is_empty(),
            "{}: peer fields without a mapping: {unmapped:?}",
            case.file
        );

        for (key, value) in &theirs {
            let gap = case.peer_cannot.iter().any(|(k, _)| k == key);
            match (value.is_null(), ours.get(key)) {
                // An empty value (`()`) is null to the peer and absent to us.
                (true, None) => compared += 1,
                (true, Some(mine)) => {
                    assert!(gap, "{} {key}: peer reads null, ours {mine}", case.file);
                }
                (false, Some(mine)) => {
                    assert!(
                        same(value, mine),
                        "{} {key}: peer {value}, ours {mine}",
                        case.file
                    );
                    compared += 1;
                }
                (false, None) => panic!("{} {key}: peer reads {value}, we nothing", case.file),
            }
        }
        for key in ours.keys() {
            let gap = case.peer_cannot.iter().any(|(k, _)| k == key);
            let peer_has = theirs.get(key).is_some_and(|v| !v.is_null());
            assert!(
                peer_has || gap,
                "{} {key}: we read it, the peer does not",
                case.file
            );
            assert!(
                !(peer_has && gap),
                "{} {key}: listed as a gap but the peer reads it",
                case.file
            );
        }
        assert!(ours.len() >= 8, "{}: only {} fields", case.file, ours.len());
    }
    // Every key of every fixture, less the gaps: a number that drops if either side stops
    // reading something.
    assert_eq!(compared, 161, "fields compared");
}
