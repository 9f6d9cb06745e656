//! pymodbus (a Modbus implementation written by other people) reads Joule's server as a
//! third-party client would: the SDM630 floats on function 04, the SunSpec chain with its
//! scale factors on function 03, and the exceptions for writes and reads off the maps.

mod common;
mod run;

use std::process::Command;

use common::{Server, identity, snapshot};
use joule_modbus::Snapshot;
use run::run;
use serde_json::Value;

fn read_with_pymodbus(port: u16) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/read_server.py");
    let stdout = run(Command::new(joule_testkit::python())
        .arg(script)
        .arg(port.to_string()));
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

/// A float32 as the server sends it. pymodbus rounds its f32-to-Python conversion in the
/// last decimal, so values are compared as the float32 they came from.
fn float32(value: f64) -> f32 {
    value as f32
}

fn expected_sdm(snapshot: &Snapshot) -> Vec<(u16, f64)> {
    let [l1, l2, l3] = snapshot.phase;
    let kilo = |milli: u64| milli as f64 / 1e6;
    let reactive = snapshot.reactive;
    let apparent = snapshot.apparent.expect("apparent");
    vec![
        (0x0000, l1.voltage_v),
        (0x0002, l2.voltage_v),
        (0x0004, l3.voltage_v),
        (0x0006, l1.current_a),
        (0x0008, l2.current_a),
        (0x000A, l3.current_a),
        (0x000C, l1.p_w),
        (0x000E, l2.p_w),
        (0x0010, l3.p_w),
        (0x0012, l1.s_va),
        (0x0016, l3.s_va),
        (0x0018, l1.q_var),
        (0x001A, l2.q_var),
        (0x001E, l1.pf),
        (0x0020, l2.pf),
        (0x0022, l3.pf),
        (0x0024, 0.0),
        (0x002A, (l1.voltage_v + l2.voltage_v + l3.voltage_v) / 3.0),
        (0x0030, l1.current_a + l2.current_a + l3.current_a),
        (0x0034, snapshot.p_w),
        (0x0038, snapshot.s_va),
        (0x003C, snapshot.q_var),
        (0x003E, snapshot.pf),
        (0x0046, snapshot.frequency_hz.expect("frequency")),
        (0x0048, kilo(snapshot.import_mwh)),
        (0x004A, kilo(snapshot.export_mwh)),
        (0x004C, kilo(reactive.import_mvarh())),
        (0x004E, kilo(reactive.export_mvarh())),
        (0x0050, kilo(apparent.import_mvah + apparent.export_mvah)),
        (0x0054, snapshot.total_demand_w),
        (0x0056, snapshot.max_demand_w),
        (0x0156, kilo(snapshot.import_mwh + snapshot.export_mwh)),
        (
            0x0158,
            kilo(reactive.import_mvarh() + reactive.export_mvarh()),
        ),
    ]
}

#[test]
fn pymodbus_reads_the_sdm630_map_the_sunspec_chain_and_the_exceptions() {
    let snapshot = snapshot();
    let server = Server::start(snapshot);
    let read = read_with_pymodbus(server.port);

    for (address, value) in expected_sdm(&snapshot) {
        let got = read["sdm"][address.to_string()].as_f64().map(float32);
        assert_eq!(got, Some(float32(value)), "SDM register {address:#06x}");
    }

    let sunspec = &read["sunspec"];
    assert_eq!(
        sunspec["models"],
        serde_json::json!([[1, 66], [203, 105], [65535, 0]])
    );
    let identity = identity();
    let common = &sunspec["common"];
    assert_eq!(common["Mn"], identity.manufacturer.as_str());
    assert_eq!(common["Md"], identity.model.as_str());
    assert_eq!(common["Vr"], identity.version.as_str());
    assert_eq!(common["SN"], identity.serial.as_str());
    assert_eq!(common["DA"], 1);

    let meter = &sunspec["meter"];
    let point = |name: &str| {
        meter[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} is {}", meter[name]))
    };
    let near = |name: &str, expected: f64, step: f64| {
        let got = point(name);
        assert!(
            (got - expected).abs() <= step / 2.0 + 1e-9,
            "{name}: {got} vs {expected}"
        );
    };
    let [l1, l2, l3] = snapshot.phase;
    near("A", l1.current_a + l2.current_a + l3.current_a, 0.01);
    near("AphB", l2.current_a, 0.01);
    near("PhVphA", l1.voltage_v, 0.1);
    near("PhVphC", l3.voltage_v, 0.1);
    near("Hz", 49.98, 0.01);
    near("W", snapshot.p_w, 0.1);
    near("WphB", l2.p_w, 0.1);
    near("VA", snapshot.s_va, 0.1);
    near("VARphB", l2.q_var, 0.1);
    near("PF", snapshot.pf * 100.0, 0.01);
    near("PFphB", l2.pf * 100.0, 0.01);
    assert!(
        meter["PPV"].is_null(),
        "line-to-line voltage is not implemented"
    );
    // Energies in 10 Wh steps, truncated.
    assert_eq!(point("TotWhImp"), 1_234_560.0);
    assert_eq!(point("TotWhExp"), 98_760.0);
    assert_eq!(point("TotVAhImp"), 1_300_000.0);
    assert_eq!(point("TotVArhImpQ1"), 40_000.0);
    assert_eq!(point("TotVArhExpQ4"), 7_000.0);
    assert!(
        meter["TotWhImpPhA"].is_null(),
        "per-phase energy is not implemented"
    );
    assert_eq!(meter["Evt"], 0);

    let exceptions = &read["exceptions"];
    assert_eq!(exceptions["write_register"], 1, "IllegalFunction");
    assert_eq!(exceptions["write_registers"], 1, "IllegalFunction");
    assert_eq!(exceptions["input_past_map"], 2, "IllegalDataAddress");
    assert_eq!(exceptions["holding_below_sunspec"], 2, "IllegalDataAddress");
    assert_eq!(exceptions["holding_past_end"], 2, "IllegalDataAddress");
}
