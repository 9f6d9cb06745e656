//! Debian's mbpoll (a Modbus master written by other people) reads Joule's server: the
//! SDM630 floats by the manual's register numbers, the SunSpec block, and the exceptions
//! for a write and a read past the map.
//!
//! mbpoll numbers registers from 1 by default (reference = PDU address + 1), which is the
//! Eastron manual's 3xxxx numbering without its leading 3 and SunSpec's 40001; `-0` makes
//! it send the reference as the PDU address.

mod common;
mod run;

use std::collections::BTreeMap;
use std::process::{Command, Output};

use common::{Server, identity, snapshot};
use run::run;

fn mbpoll(port: u16, args: &[&str]) -> Command {
    let mut command = Command::new("/usr/bin/mbpoll");
    command
        .args([
            "-m",
            "tcp",
            "-a",
            "1",
            "-1",
            "-o",
            "5",
            "-p",
            &port.to_string(),
        ])
        .args(args)
        .arg("127.0.0.1");
    command
}

/// The `[reference]: value` lines of mbpoll's output.
fn values(stdout: &str) -> BTreeMap<u32, String> {
    stdout
        .lines()
        .filter_map(|line| {
            let (reference, value) = line.strip_prefix('[')?.split_once("]:")?;
            Some((reference.parse().ok()?, value.trim().to_owned()))
        })
        .collect()
}

fn floats(port: u16, args: &[&str]) -> BTreeMap<u32, f64> {
    values(&run(&mut mbpoll(port, args)))
        .into_iter()
        .map(|(reference, value)| (reference, value.parse().expect("a float")))
        .collect()
}

fn failure(mut command: Command) -> String {
    let Output { status, stderr, .. } = command.output().expect("mbpoll runs");
    assert!(!status.success(), "{command:?} should fail");
    String::from_utf8_lossy(&stderr).into_owned()
}

#[test]
fn mbpoll_reads_sdm630_floats_by_the_manuals_register_numbers() {
    let snapshot = snapshot();
    let server = Server::start(snapshot);
    // 40 floats from reference 1: everything from phase 1 volts to export kVArh.
    let read = floats(server.port, &["-r", "1", "-c", "40", "-t", "3:float", "-B"]);
    assert_eq!(read.len(), 40);
    let [l1, l2, l3] = snapshot.phase;
    let kilo = |milli: u64| milli as f64 / 1e6;
    for (reference, expected) in [
        (1, l1.voltage_v),
        (3, l2.voltage_v),
        (5, l3.voltage_v),
        (7, l1.current_a),
        (13, l1.p_w),
        (15, l2.p_w),
        (25, l1.q_var),
        (33, l2.pf),
        (53, snapshot.p_w),
        (63, snapshot.pf),
        (71, 49.98),
        (73, kilo(snapshot.import_mwh)),
        (75, kilo(snapshot.export_mwh)),
        (77, kilo(snapshot.reactive.import_mvarh())),
        (79, kilo(snapshot.reactive.export_mvarh())),
    ] {
        let got = read[&reference];
        // mbpoll prints six significant digits.
        assert!(
            (got - expected).abs() <= expected.abs() * 1e-5,
            "3{reference:04}: {got} vs {expected}"
        );
    }
    assert_eq!(read[&37], 0.0, "phase angles are not filled");

    // With -0 the reference is the PDU address: 0x0048 is import kWh either way.
    let zero_based = floats(
        server.port,
        &["-0", "-r", "72", "-c", "2", "-t", "3:float", "-B"],
    );
    assert_eq!(zero_based[&72], read[&73]);
    assert_eq!(zero_based[&74], read[&75]);
    let demand = floats(server.port, &["-r", "85", "-c", "2", "-t", "3:float", "-B"]);
    assert_eq!(demand[&85], snapshot.total_demand_w);
    assert_eq!(demand[&87], snapshot.max_demand_w);
}

#[test]
fn mbpoll_reads_the_sunspec_block_from_40001() {
    let server = Server::start(snapshot());
    let mut registers = Vec::new();
    for (reference, count) in [("40001", "125"), ("40126", "54")] {
        let read = values(&run(&mut mbpoll(
            server.port,
            &["-r", reference, "-c", count, "-t", "4:hex"],
        )));
        registers.extend(read.values().map(|hex| {
            u16::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex register")
        }));
    }
    assert_eq!(registers.len(), 179);
    assert_eq!(&registers[..4], &[0x5375, 0x6E53, 1, 66]);
    let serial: Vec<u8> = registers[52..68]
        .iter()
        .flat_map(|word| word.to_be_bytes())
        .take_while(|&byte| byte != 0)
        .collect();
    assert_eq!(String::from_utf8(serial).expect("ascii"), identity().serial);
    assert_eq!(&registers[70..72], &[203, 105]);
    // W at 40088 (reference 40089) with W_SF at 40092.
    let w = f64::from(registers[88] as i16) * 10_f64.powi(i32::from(registers[92] as i16));
    assert!((w - snapshot().p_w).abs() <= 0.05, "W = {w}");
    assert_eq!(&registers[177..], &[0xFFFF, 0]);
}

#[test]
fn mbpoll_sees_writes_refused_and_reads_past_the_map_rejected() {
    let server = Server::start(snapshot());
    let mut write = mbpoll(server.port, &["-r", "40001", "-t", "4"]);
    write.args(["--", "5"]);
    assert!(failure(write).contains("Illegal function"));
    let past = mbpoll(
        server.port,
        &["-r", "383", "-c", "2", "-t", "3:float", "-B"],
    );
    assert!(failure(past).contains("Illegal data address"));
    let below = mbpoll(server.port, &["-r", "1", "-c", "2", "-t", "4"]);
    assert!(failure(below).contains("Illegal data address"));
}
