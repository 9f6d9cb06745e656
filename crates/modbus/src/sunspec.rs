//! SunSpec on holding registers (function 03): the open register model inverters,
//! battery systems and energy managers discover meters with, so they find a Joule meter
//! without a device-specific template.
//!
//! Layout, in 0-based PDU addresses (SunSpec documents the same base as register 40001 in
//! 1-based notation; PDU 40000 is what a client sends, and what pysunspec2, evcc and
//! OpenEMS probe first):
//!
//! | PDU address | content |
//! |---|---|
//! | 40000–40001 | "SunS" marker (0x5375 0x6E53) |
//! | 40002–40069 | common model 1: ID 1, length 66 (Mn, Md, Opt, Vr, SN, DA, Pad) |
//! | 40070–40176 | meter model 201 (single phase) or 203 (wye three phase): ID, length 105 |
//! | 40177–40178 | end model: 0xFFFF, length 0 |
//!
//! Sign and direction: "Imported" is energy delivered from the grid into the site (Joule's
//! import register, positive power) and "Exported" the reverse; `W` is signed + import like
//! Joule's power; PF is in percent, signed like `W`. Reactive quadrants are IEC 62053-23's,
//! which SunSpec's names follow (Q1 and Q2 "imported", Q3 and Q4 "exported").
//!
//! Scale factors: voltage, frequency and power factor have fixed ones (V_SF −1, Hz_SF −2,
//! PF_SF −2); current and the powers take the finest scale factor at which every value of
//! their group fits an int16 in this snapshot (finest A_SF −2, W_SF/VA_SF/VAR_SF −1), so a
//! household reads to 0.1 W and a large three-phase meter still fits. Every value and its
//! scale factor come from one snapshot, and the whole model fits one read, which is how
//! SunSpec clients read it. Energy accumulators (acc32) use a fixed scale factor of 1
//! (10 Wh, 10 VAh, 10 varh steps, truncated so a register never runs ahead of Joule's):
//! 4 294 967 295 × 10 Wh ≈ 42.9 GWh, 71 years of a direct-connected three-phase meter at
//! its 100 A maximum around the clock (3 × 230 V × 100 A ≈ 605 MWh a year), where a scale
//! factor of 0 would roll over after 7. Accumulators roll over modulo 2³², as acc32 does.
//!
//! Not implemented (SunSpec's "not implemented" values): line-to-line voltages and phases
//! beyond the snapshot's (int16 0x8000), per-phase energies, apparent energy of a source
//! that does not keep it by direction, and reactive quadrants of a source that only keeps
//! directions (acc32 0). `Evt` is 0: events travel in Joule's own protocol.

use crate::exception::{Exception, check_read};
use crate::snapshot::{Identity, PhaseValues, Phases, Snapshot};

/// PDU address of the "SunS" marker.
pub const SUNSPEC_BASE: u16 = 40000;
/// Registers from [`SUNSPEC_BASE`] through the end model.
pub const SUNSPEC_REGISTERS: u16 = 2 + 2 + COMMON_LENGTH + 2 + METER_LENGTH + 2;

const COMMON_LENGTH: u16 = 66;
const METER_LENGTH: u16 = 105;
/// int16/sunssf/pad "not implemented".
const NOT_IMPLEMENTED: u16 = 0x8000;
/// Scale factor of every energy accumulator.
const ENERGY_SF: i16 = 1;
/// One accumulator step in milli-units: 10^(3 + ENERGY_SF).
const ENERGY_STEP_MILLI: u64 = 10_000;
/// Coarsest scale factor a group may take.
const COARSEST_SF: i16 = 10;

/// The meter model a snapshot is published as: 201 single phase, 203 wye three phase.
pub fn sunspec_meter_model(phases: Phases) -> u16 {
    match phases {
        Phases::One => 201,
        Phases::Three => 203,
    }
}

/// Holding registers `start .. start + count` of the SunSpec block for `snapshot`.
///
/// 0 or more than 125 registers is [`Exception::IllegalDataValue`]; any register outside
/// 40000..=40178 is [`Exception::IllegalDataAddress`].
pub fn sunspec_holding_registers(
    snapshot: &Snapshot,
    identity: &Identity,
    start: u16,
    count: u16,
) -> Result<Vec<u16>, Exception> {
    let offset = check_read(start, count, SUNSPEC_BASE, SUNSPEC_REGISTERS)?;
    let image = image(snapshot, identity);
    image
        .get(offset..offset + usize::from(count))
        .map(<[u16]>::to_vec)
        .ok_or(Exception::IllegalDataAddress)
}

/// The whole block, marker through end model.
fn image(snapshot: &Snapshot, identity: &Identity) -> Vec<u16> {
    let mut registers = Vec::with_capacity(usize::from(SUNSPEC_REGISTERS));
    registers.extend([0x5375, 0x6E53, 1, COMMON_LENGTH]);
    push_string(&mut registers, &identity.manufacturer, 16);
    push_string(&mut registers, &identity.model, 16);
    push_string(&mut registers, "", 8);
    push_string(&mut registers, &identity.version, 8);
    push_string(&mut registers, &identity.serial, 16);
    registers.extend([1, NOT_IMPLEMENTED]);
    registers.extend([sunspec_meter_model(snapshot.phases), METER_LENGTH]);
    push_meter(&mut registers, snapshot);
    registers.extend([0xFFFF, 0]);
    registers
}

/// A string in `len` registers, two bytes each, NUL-padded, cut at a character boundary.
fn push_string(registers: &mut Vec<u16>, text: &str, len: usize) {
    let mut end = text.len().min(len * 2);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut bytes = text.as_bytes()[..end].to_vec();
    bytes.resize(len * 2, 0);
    registers.extend(
        bytes
            .chunks_exact(2)
            .map(|pair| u16::from_be_bytes([pair[0], pair[1]])),
    );
}

/// The meter model's 105 registers (after ID and L).
fn push_meter(registers: &mut Vec<u16>, snapshot: &Snapshot) {
    let per_phase =
        |value: fn(&PhaseValues) -> f64| [0, 1, 2].map(|index| snapshot.phase(index).map(value));
    let phases = snapshot.active_phases();
    let [a, b, c] = per_phase(|p| p.current_a);
    let total_a = phases.iter().map(|p| p.current_a).sum();
    push_group(registers, &[Some(total_a), a, b, c], -2);
    let [a, b, c] = per_phase(|p| p.voltage_v);
    let mean_v = phases.iter().map(|p| p.voltage_v).sum::<f64>() / phases.len() as f64;
    push_group(
        registers,
        &[Some(mean_v), a, b, c, None, None, None, None],
        -1,
    );
    push_group(registers, &[snapshot.frequency_hz], -2);
    let [a, b, c] = per_phase(|p| p.p_w);
    push_group(registers, &[Some(snapshot.p_w), a, b, c], -1);
    let [a, b, c] = per_phase(|p| p.s_va);
    push_group(registers, &[Some(snapshot.s_va), a, b, c], -1);
    let [a, b, c] = per_phase(|p| p.q_var);
    push_group(registers, &[Some(snapshot.q_var), a, b, c], -1);
    let [a, b, c] = per_phase(|p| p.pf * 100.0);
    push_group(registers, &[Some(snapshot.pf * 100.0), a, b, c], -2);

    push_energy(
        registers,
        &[Some(snapshot.export_mwh), Some(snapshot.import_mwh)],
    );
    let apparent = snapshot.apparent;
    push_energy(
        registers,
        &[
            apparent.map(|apparent| apparent.export_mvah),
            apparent.map(|apparent| apparent.import_mvah),
        ],
    );
    let quadrants = snapshot.reactive.quadrants();
    push_energy(
        registers,
        &[0, 1, 2, 3].map(|q| quadrants.map(|all| all[q])),
    );
    registers.extend([0, 0]);
}

/// Values sharing one scale factor, then the scale factor.
fn push_group(registers: &mut Vec<u16>, values: &[Option<f64>], finest: i16) {
    let largest = values
        .iter()
        .flatten()
        .filter(|value| value.is_finite())
        .fold(0.0_f64, |largest, value| largest.max(value.abs()));
    let mut sf = finest;
    while sf < COARSEST_SF && (largest / 10_f64.powi(sf.into())).round() > f64::from(i16::MAX) {
        sf += 1;
    }
    registers.extend(values.iter().map(|value| match value {
        Some(value) if value.is_finite() => {
            let scaled = (value / 10_f64.powi(sf.into())).round();
            // −32768 is "not implemented": a measured value never takes it.
            scaled.clamp(-f64::from(i16::MAX), f64::from(i16::MAX)) as i16 as u16
        }
        _ => NOT_IMPLEMENTED,
    }));
    registers.push(sf as u16);
}

/// Totals (each followed by three per-phase accumulators Joule does not keep), then the
/// energy scale factor. Values in milli-units.
fn push_energy(registers: &mut Vec<u16>, totals: &[Option<u64>]) {
    for total in totals {
        // Truncated (never ahead of Joule's register), rolling over modulo 2^32 as acc32 does.
        let accumulated = total.map_or(0, |milli| (milli / ENERGY_STEP_MILLI) as u32);
        registers.extend([(accumulated >> 16) as u16, accumulated as u16]);
        registers.extend([0; 6]);
    }
    registers.push(ENERGY_SF as u16);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{identity, three_phase};
    use crate::snapshot::ReactiveEnergy;

    /// Model 203's points (after ID and L) in order, with their sizes in registers.
    #[rustfmt::skip]
    const METER_POINTS: [(&str, u16); 72] = [
        ("A", 1), ("AphA", 1), ("AphB", 1), ("AphC", 1), ("A_SF", 1),
        ("PhV", 1), ("PhVphA", 1), ("PhVphB", 1), ("PhVphC", 1),
        ("PPV", 1), ("PhVphAB", 1), ("PhVphBC", 1), ("PhVphCA", 1), ("V_SF", 1),
        ("Hz", 1), ("Hz_SF", 1),
        ("W", 1), ("WphA", 1), ("WphB", 1), ("WphC", 1), ("W_SF", 1),
        ("VA", 1), ("VAphA", 1), ("VAphB", 1), ("VAphC", 1), ("VA_SF", 1),
        ("VAR", 1), ("VARphA", 1), ("VARphB", 1), ("VARphC", 1), ("VAR_SF", 1),
        ("PF", 1), ("PFphA", 1), ("PFphB", 1), ("PFphC", 1), ("PF_SF", 1),
        ("TotWhExp", 2), ("TotWhExpPhA", 2), ("TotWhExpPhB", 2), ("TotWhExpPhC", 2),
        ("TotWhImp", 2), ("TotWhImpPhA", 2), ("TotWhImpPhB", 2), ("TotWhImpPhC", 2),
        ("TotWh_SF", 1),
        ("TotVAhExp", 2), ("TotVAhExpPhA", 2), ("TotVAhExpPhB", 2), ("TotVAhExpPhC", 2),
        ("TotVAhImp", 2), ("TotVAhImpPhA", 2), ("TotVAhImpPhB", 2), ("TotVAhImpPhC", 2),
        ("TotVAh_SF", 1),
        ("TotVArhImpQ1", 2), ("TotVArhImpQ1PhA", 2), ("TotVArhImpQ1PhB", 2),
        ("TotVArhImpQ1PhC", 2),
        ("TotVArhImpQ2", 2), ("TotVArhImpQ2PhA", 2), ("TotVArhImpQ2PhB", 2),
        ("TotVArhImpQ2PhC", 2),
        ("TotVArhExpQ3", 2), ("TotVArhExpQ3PhA", 2), ("TotVArhExpQ3PhB", 2),
        ("TotVArhExpQ3PhC", 2),
        ("TotVArhExpQ4", 2), ("TotVArhExpQ4PhA", 2), ("TotVArhExpQ4PhB", 2),
        ("TotVArhExpQ4PhC", 2),
        ("TotVArh_SF", 1),
        ("Evt", 2),
    ];

    /// PDU address of a meter-model point.
    fn address(name: &str) -> u16 {
        let mut address = SUNSPEC_BASE + 2 + 2 + COMMON_LENGTH + 2;
        for (point, size) in METER_POINTS {
            if point == name {
                return address;
            }
            address += size;
        }
        panic!("no point {name}");
    }

    struct Block(Vec<u16>);

    impl Block {
        /// The whole block, in reads of at most 125 registers as a client must.
        fn of(snapshot: &Snapshot) -> Self {
            let mut all = Vec::new();
            let mut start = SUNSPEC_BASE;
            while start < SUNSPEC_BASE + SUNSPEC_REGISTERS {
                let count = (SUNSPEC_BASE + SUNSPEC_REGISTERS - start).min(125);
                all.extend(
                    sunspec_holding_registers(snapshot, &identity(), start, count).expect("read"),
                );
                start += count;
            }
            Self(all)
        }

        fn raw(&self, name: &str) -> u16 {
            self.0[usize::from(address(name) - SUNSPEC_BASE)]
        }

        fn scaled(&self, name: &str, sf: &str) -> f64 {
            f64::from(self.raw(name) as i16) * 10_f64.powi((self.raw(sf) as i16).into())
        }

        fn acc32(&self, name: &str) -> u32 {
            let at = usize::from(address(name) - SUNSPEC_BASE);
            u32::from(self.0[at]) << 16 | u32::from(self.0[at + 1])
        }
    }

    #[test]
    fn the_points_add_up_to_the_models_length() {
        let total: u16 = METER_POINTS.iter().map(|(_, size)| size).sum();
        assert_eq!(total, METER_LENGTH);
        assert_eq!(SUNSPEC_REGISTERS, 179);
        assert_eq!(address("W"), 40088);
        assert_eq!(address("TotWhImp"), 40116);
    }

    #[test]
    fn the_readme_documents_every_point_at_its_address() {
        let readme = include_str!("../README.md");
        for (name, _) in METER_POINTS {
            let row = format!("| {} | {name} |", address(name));
            assert!(readme.contains(&row), "README lacks {row}");
        }
        assert!(readme.contains("| 40177–40178 | end model: 0xFFFF, length 0 |"));
    }

    #[test]
    fn the_chain_walks_from_the_marker_to_the_end_model() {
        let block = Block::of(&three_phase());
        assert_eq!(&block.0[..2], &[0x5375, 0x6E53]);
        let mut at = 2;
        let mut models = Vec::new();
        loop {
            let (id, len) = (block.0[at], block.0[at + 1]);
            models.push((id, len));
            if id == 0xFFFF {
                break;
            }
            at += 2 + usize::from(len);
        }
        assert_eq!(models, [(1, 66), (203, 105), (0xFFFF, 0)]);
        assert_eq!(at + 2, block.0.len());
    }

    #[test]
    fn the_common_model_carries_the_identity() {
        let block = Block::of(&three_phase());
        let text = |from: usize, len: usize| {
            let bytes: Vec<u8> = block.0[from..from + len]
                .iter()
                .flat_map(|word| word.to_be_bytes())
                .take_while(|&byte| byte != 0)
                .collect();
            String::from_utf8(bytes).expect("utf-8")
        };
        assert_eq!(text(4, 16), "Joule");
        assert_eq!(text(20, 16), "Joule J3");
        assert_eq!(text(36, 8), "");
        assert_eq!(text(44, 8), "0.1.0");
        assert_eq!(text(52, 16), "JM-000042");
        assert_eq!(&block.0[68..70], &[1, NOT_IMPLEMENTED]);
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let mut registers = Vec::new();
        push_string(&mut registers, "ab€", 2);
        assert_eq!(registers, [0x6162, 0]);
        registers.clear();
        push_string(&mut registers, "abcdef", 2);
        assert_eq!(registers, [0x6162, 0x6364]);
    }

    #[test]
    fn values_read_back_through_their_scale_factors() {
        let snapshot = three_phase();
        let block = Block::of(&snapshot);
        let close = |name: &str, sf: &str, expected: f64, step: f64| {
            let value = block.scaled(name, sf);
            assert!(
                (value - expected).abs() <= step / 2.0 + 1e-9,
                "{name}: {value} vs {expected}"
            );
        };
        close("A", "A_SF", 16.0, 0.01);
        close("AphB", "A_SF", 5.0, 0.01);
        close("PhV", "V_SF", 231.0, 0.1);
        close("PhVphC", "V_SF", 232.0, 0.1);
        close("Hz", "Hz_SF", 50.01, 0.01);
        close("W", "W_SF", 1200.0, 0.1);
        close("WphB", "W_SF", -1000.0, 0.1);
        close("VA", "VA_SF", 3755.0, 1.0);
        close("VAR", "VAR_SF", 300.0, 0.1);
        close("PF", "PF_SF", 32.0, 0.01);
        close("PFphA", "PF_SF", 90.0, 0.01);
        assert_eq!(block.raw("PPV"), NOT_IMPLEMENTED);
        assert_eq!(block.raw("PhVphAB"), NOT_IMPLEMENTED);
    }

    #[test]
    fn energies_are_truncated_to_ten_unit_steps() {
        let block = Block::of(&three_phase());
        assert_eq!(block.raw("TotWh_SF"), 1);
        assert_eq!(ENERGY_STEP_MILLI, 10_u64.pow(3 + ENERGY_SF as u32));
        assert_eq!(
            block.acc32("TotWhImp"),
            1234,
            "12 345 678 mWh is 1234 × 10 Wh"
        );
        assert_eq!(block.acc32("TotWhExp"), 100);
        assert_eq!(
            block.acc32("TotWhImpPhA"),
            0,
            "per-phase energy is not implemented"
        );
        assert_eq!(block.acc32("TotVAhImp"), 200);
        assert_eq!(block.acc32("TotVAhExp"), 50);
        assert_eq!(block.acc32("TotVArhImpQ1"), 100);
        assert_eq!(block.acc32("TotVArhImpQ2"), 50);
        assert_eq!(block.acc32("TotVArhExpQ3"), 25);
        assert_eq!(block.acc32("TotVArhExpQ4"), 12);
        assert_eq!(block.acc32("Evt"), 0);
    }

    #[test]
    fn accumulators_roll_over_modulo_two_to_the_32() {
        let mut snapshot = three_phase();
        snapshot.import_mwh = (u64::from(u32::MAX) + 6) * 10_000;
        assert_eq!(Block::of(&snapshot).acc32("TotWhImp"), 5);
    }

    #[test]
    fn a_single_phase_meter_is_model_201_with_phases_b_and_c_not_implemented() {
        let mut snapshot = three_phase();
        snapshot.phases = Phases::One;
        snapshot.frequency_hz = None;
        snapshot.reactive = ReactiveEnergy::Directions {
            import_mvarh: 5_000,
            export_mvarh: 0,
        };
        snapshot.apparent = None;
        let block = Block::of(&snapshot);
        assert_eq!(block.0[70], 201);
        assert_eq!(block.raw("AphB"), NOT_IMPLEMENTED);
        assert_eq!(block.raw("WphC"), NOT_IMPLEMENTED);
        assert_eq!(block.raw("Hz"), NOT_IMPLEMENTED);
        assert_eq!(block.scaled("A", "A_SF"), 10.0);
        assert_eq!(
            block.acc32("TotVArhImpQ1"),
            0,
            "directions say nothing of quadrants"
        );
        assert_eq!(block.acc32("TotVAhImp"), 0);
    }

    #[test]
    fn large_values_take_a_coarser_scale_factor_and_stay_exact_enough() {
        let mut snapshot = three_phase();
        snapshot.p_w = 69_000.0;
        snapshot.phase[0].current_a = 400.0;
        snapshot.phase[1].p_w = f64::NAN;
        let block = Block::of(&snapshot);
        assert_eq!(block.raw("W_SF") as i16, 1);
        assert_eq!(block.scaled("W", "W_SF"), 69_000.0);
        assert_eq!(
            block.raw("WphB"),
            NOT_IMPLEMENTED,
            "a NaN is no measurement"
        );
        assert_eq!(block.raw("A_SF") as i16, -1);
        assert_eq!(block.scaled("A", "A_SF"), 406.0);
        snapshot.p_w = 1e300;
        assert_eq!(Block::of(&snapshot).raw("W"), i16::MAX as u16, "clamped");
    }

    #[test]
    fn reads_outside_the_block_or_too_long_are_exceptions() {
        let read =
            |start, count| sunspec_holding_registers(&three_phase(), &identity(), start, count);
        assert_eq!(read(SUNSPEC_BASE, 0), Err(Exception::IllegalDataValue));
        assert_eq!(read(SUNSPEC_BASE, 126), Err(Exception::IllegalDataValue));
        assert_eq!(
            read(SUNSPEC_BASE - 1, 2),
            Err(Exception::IllegalDataAddress)
        );
        assert_eq!(
            read(SUNSPEC_BASE + SUNSPEC_REGISTERS - 1, 2),
            Err(Exception::IllegalDataAddress)
        );
        assert_eq!(
            read(SUNSPEC_BASE + SUNSPEC_REGISTERS - 2, 2),
            Ok(vec![0xFFFF, 0])
        );
        assert_eq!(read(0, 2), Err(Exception::IllegalDataAddress));
    }
}
