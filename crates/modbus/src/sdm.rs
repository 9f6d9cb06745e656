//! The Eastron SDM630 input-register map (function 04): the register layout most
//! energy-management software already knows, so a Joule meter is readable by configuring
//! it as an SDM630 (or, for the single-phase subset, an SDM120).
//!
//! Every value is an IEEE 754 float32 in two registers, high word first, at the address
//! the Eastron "SDM630 Modbus protocol" manual gives (0-based PDU addresses; the manual's
//! 3xxxx numbers are these plus 30001). Registers of the map that Joule does not fill read
//! as 0, as an Eastron meter's do for parameters its wiring mode lacks. The poller reads
//! real Eastron meters through the same addresses.

use crate::exception::{Exception, check_read};
use crate::snapshot::{PhaseValues, Snapshot};

/// Phase 1..3 line-to-neutral volts, V.
pub(crate) const VOLTS: [u16; 3] = [0x0000, 0x0002, 0x0004];
/// Phase 1..3 current, A.
pub(crate) const CURRENT: [u16; 3] = [0x0006, 0x0008, 0x000A];
/// Phase 1..3 active power, W.
pub(crate) const POWER: [u16; 3] = [0x000C, 0x000E, 0x0010];
/// Phase 1..3 apparent power, VA.
pub(crate) const APPARENT: [u16; 3] = [0x0012, 0x0014, 0x0016];
/// Phase 1..3 reactive power, var.
pub(crate) const REACTIVE: [u16; 3] = [0x0018, 0x001A, 0x001C];
/// Phase 1..3 power factor.
pub(crate) const POWER_FACTOR: [u16; 3] = [0x001E, 0x0020, 0x0022];
/// Total system power, W.
pub(crate) const TOTAL_POWER: u16 = 0x0034;
/// Total system volt-amps, VA.
pub(crate) const TOTAL_APPARENT: u16 = 0x0038;
/// Total system var.
pub(crate) const TOTAL_REACTIVE: u16 = 0x003C;
/// Total system power factor.
pub(crate) const TOTAL_POWER_FACTOR: u16 = 0x003E;
/// Frequency, Hz.
pub(crate) const FREQUENCY: u16 = 0x0046;
/// Import active energy, kWh.
pub(crate) const IMPORT_KWH: u16 = 0x0048;
/// Export active energy, kWh.
pub(crate) const EXPORT_KWH: u16 = 0x004A;
/// Import reactive energy, kVArh.
pub(crate) const IMPORT_KVARH: u16 = 0x004C;
/// Export reactive energy, kVArh.
pub(crate) const EXPORT_KVARH: u16 = 0x004E;
/// Total system power demand, W.
pub(crate) const DEMAND: u16 = 0x0054;
/// Maximum total system power demand, W.
pub(crate) const MAX_DEMAND: u16 = 0x0056;

/// Registers of the map: 0x0000 up to and including 0x017D (the SDM630's last input
/// register, L3 total kVArh).
pub const SDM_REGISTERS: u16 = 0x017E;

/// One float32 value of the map.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SdmValue {
    /// PDU address of its high word.
    pub(crate) address: u16,
    /// The Eastron manual's name for it.
    pub(crate) name: &'static str,
    /// Its unit ("" for none).
    pub(crate) unit: &'static str,
    /// Whether the SDM120 has it at the same address.
    pub(crate) sdm120: bool,
    /// Where Joule takes it from.
    read: fn(&Snapshot) -> f64,
}

impl SdmValue {
    const fn new(
        address: u16,
        name: &'static str,
        unit: &'static str,
        sdm120: bool,
        read: fn(&Snapshot) -> f64,
    ) -> Self {
        Self {
            address,
            name,
            unit,
            sdm120,
            read,
        }
    }
}

fn phase(snapshot: &Snapshot, index: usize, value: fn(&PhaseValues) -> f64) -> f64 {
    snapshot.phase(index).map_or(0.0, value)
}

fn mean(snapshot: &Snapshot, value: fn(&PhaseValues) -> f64) -> f64 {
    let phases = snapshot.active_phases();
    phases.iter().map(value).sum::<f64>() / phases.len() as f64
}

/// Milli-units (mWh, mvarh, mVAh) to kilo-units (kWh, kVArh, kVAh).
fn kilo(milli: u64) -> f64 {
    milli as f64 / 1e6
}

/// The map, in address order.
pub(crate) const SDM_MAP: [SdmValue; 35] = [
    SdmValue::new(VOLTS[0], "Phase 1 line to neutral volts", "V", true, |s| {
        phase(s, 0, |p| p.voltage_v)
    }),
    SdmValue::new(VOLTS[1], "Phase 2 line to neutral volts", "V", false, |s| {
        phase(s, 1, |p| p.voltage_v)
    }),
    SdmValue::new(VOLTS[2], "Phase 3 line to neutral volts", "V", false, |s| {
        phase(s, 2, |p| p.voltage_v)
    }),
    SdmValue::new(CURRENT[0], "Phase 1 current", "A", true, |s| {
        phase(s, 0, |p| p.current_a)
    }),
    SdmValue::new(CURRENT[1], "Phase 2 current", "A", false, |s| {
        phase(s, 1, |p| p.current_a)
    }),
    SdmValue::new(CURRENT[2], "Phase 3 current", "A", false, |s| {
        phase(s, 2, |p| p.current_a)
    }),
    SdmValue::new(POWER[0], "Phase 1 active power", "W", true, |s| {
        phase(s, 0, |p| p.p_w)
    }),
    SdmValue::new(POWER[1], "Phase 2 active power", "W", false, |s| {
        phase(s, 1, |p| p.p_w)
    }),
    SdmValue::new(POWER[2], "Phase 3 active power", "W", false, |s| {
        phase(s, 2, |p| p.p_w)
    }),
    SdmValue::new(APPARENT[0], "Phase 1 volt amps", "VA", true, |s| {
        phase(s, 0, |p| p.s_va)
    }),
    SdmValue::new(APPARENT[1], "Phase 2 volt amps", "VA", false, |s| {
        phase(s, 1, |p| p.s_va)
    }),
    SdmValue::new(APPARENT[2], "Phase 3 volt amps", "VA", false, |s| {
        phase(s, 2, |p| p.s_va)
    }),
    SdmValue::new(
        REACTIVE[0],
        "Phase 1 volt amps reactive",
        "var",
        true,
        |s| phase(s, 0, |p| p.q_var),
    ),
    SdmValue::new(
        REACTIVE[1],
        "Phase 2 volt amps reactive",
        "var",
        false,
        |s| phase(s, 1, |p| p.q_var),
    ),
    SdmValue::new(
        REACTIVE[2],
        "Phase 3 volt amps reactive",
        "var",
        false,
        |s| phase(s, 2, |p| p.q_var),
    ),
    SdmValue::new(POWER_FACTOR[0], "Phase 1 power factor", "", true, |s| {
        phase(s, 0, |p| p.pf)
    }),
    SdmValue::new(POWER_FACTOR[1], "Phase 2 power factor", "", false, |s| {
        phase(s, 1, |p| p.pf)
    }),
    SdmValue::new(POWER_FACTOR[2], "Phase 3 power factor", "", false, |s| {
        phase(s, 2, |p| p.pf)
    }),
    SdmValue::new(0x002A, "Average line to neutral volts", "V", false, |s| {
        mean(s, |p| p.voltage_v)
    }),
    SdmValue::new(0x002E, "Average line current", "A", false, |s| {
        mean(s, |p| p.current_a)
    }),
    SdmValue::new(0x0030, "Sum of line currents", "A", false, |s| {
        s.active_phases().iter().map(|p| p.current_a).sum()
    }),
    SdmValue::new(TOTAL_POWER, "Total system power", "W", false, |s| s.p_w),
    SdmValue::new(TOTAL_APPARENT, "Total system volt amps", "VA", false, |s| {
        s.s_va
    }),
    SdmValue::new(TOTAL_REACTIVE, "Total system VAr", "var", false, |s| {
        s.q_var
    }),
    SdmValue::new(
        TOTAL_POWER_FACTOR,
        "Total system power factor",
        "",
        false,
        |s| s.pf,
    ),
    SdmValue::new(FREQUENCY, "Frequency of supply voltages", "Hz", true, |s| {
        s.frequency_hz.unwrap_or(0.0)
    }),
    SdmValue::new(IMPORT_KWH, "Import active energy", "kWh", true, |s| {
        kilo(s.import_mwh)
    }),
    SdmValue::new(EXPORT_KWH, "Export active energy", "kWh", true, |s| {
        kilo(s.export_mwh)
    }),
    SdmValue::new(
        IMPORT_KVARH,
        "Import reactive energy (+R)",
        "kVArh",
        true,
        |s| kilo(s.reactive.import_mvarh()),
    ),
    SdmValue::new(
        EXPORT_KVARH,
        "Export reactive energy (−R)",
        "kVArh",
        true,
        |s| kilo(s.reactive.export_mvarh()),
    ),
    SdmValue::new(0x0050, "Apparent energy", "kVAh", false, |s| {
        s.apparent
            .map_or(0.0, |apparent| kilo(apparent.total_mvah()))
    }),
    SdmValue::new(DEMAND, "Total system power demand", "W", true, |s| {
        s.total_demand_w
    }),
    SdmValue::new(
        MAX_DEMAND,
        "Maximum total system power demand",
        "W",
        true,
        |s| s.max_demand_w,
    ),
    SdmValue::new(
        0x0156,
        "Total active energy (import + export)",
        "kWh",
        true,
        |s| kilo(s.import_mwh.saturating_add(s.export_mwh)),
    ),
    SdmValue::new(
        0x0158,
        "Total reactive energy (import + export)",
        "kVArh",
        true,
        |s| {
            kilo(
                s.reactive
                    .import_mvarh()
                    .saturating_add(s.reactive.export_mvarh()),
            )
        },
    ),
];

/// One value of the SDM630 map, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdmRegister {
    /// PDU address (0-based) of its first register; the manual's number is this + 30001.
    pub address: u16,
    /// The Eastron manual's name for it.
    pub name: &'static str,
    /// Its unit ("" for none).
    pub unit: &'static str,
    /// Whether the SDM120 has it at the same address.
    pub sdm120: bool,
}

/// The float32 values Joule fills in the SDM630 map, in address order (every other
/// register of 0x0000..=0x017D reads 0).
pub fn sdm_map() -> impl Iterator<Item = SdmRegister> {
    SDM_MAP.iter().map(|value| SdmRegister {
        address: value.address,
        name: value.name,
        unit: value.unit,
        sdm120: value.sdm120,
    })
}

/// A value as float32 in two registers, high word first.
pub(crate) fn float_words(value: f64) -> [u16; 2] {
    let bits = (value as f32).to_bits();
    [(bits >> 16) as u16, bits as u16]
}

/// The float32 at `address` in `words`, which were read from `first` on.
pub(crate) fn float_at(words: &[u16], first: u16, address: u16) -> Option<f32> {
    let offset = usize::from(address.checked_sub(first)?);
    let high = *words.get(offset)?;
    let low = *words.get(offset + 1)?;
    Some(f32::from_bits(u32::from(high) << 16 | u32::from(low)))
}

/// Input registers `start .. start + count` of the SDM630 map for `snapshot`.
///
/// A read may start or end inside a float (the half is returned as is); 0 or more than
/// 125 registers is [`Exception::IllegalDataValue`], and any register past 0x017D is
/// [`Exception::IllegalDataAddress`].
pub fn sdm_input_registers(
    snapshot: &Snapshot,
    start: u16,
    count: u16,
) -> Result<Vec<u16>, Exception> {
    let offset = check_read(start, count, 0, SDM_REGISTERS)?;
    let mut registers = vec![0; usize::from(count)];
    for value in &SDM_MAP {
        let words = float_words((value.read)(snapshot));
        for (index, word) in words.into_iter().enumerate() {
            let register = (usize::from(value.address) + index).checked_sub(offset);
            if let Some(slot) = register.and_then(|register| registers.get_mut(register)) {
                *slot = word;
            }
        }
    }
    Ok(registers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::three_phase;
    use crate::snapshot::Phases;

    fn float(registers: &[u16], address: u16) -> f32 {
        float_at(registers, 0, address).expect("in range")
    }

    #[test]
    fn the_map_is_sorted_without_overlaps_and_inside_its_range() {
        for pair in SDM_MAP.windows(2) {
            assert!(pair[0].address + 2 <= pair[1].address, "{:?}", pair[1]);
        }
        assert!(SDM_MAP.iter().all(|value| value.address % 2 == 0));
        assert!(
            SDM_MAP
                .iter()
                .all(|value| value.address + 2 <= SDM_REGISTERS)
        );
    }

    #[test]
    fn values_land_at_the_manuals_addresses() {
        let registers = sdm_input_registers(&three_phase(), 0, 125).expect("read");
        assert_eq!(float(&registers, 0x0000), 230.0);
        assert_eq!(float(&registers, 0x0004), 232.0);
        assert_eq!(float(&registers, 0x0008), 5.0);
        assert_eq!(float(&registers, 0x000E), -1000.0);
        assert_eq!(float(&registers, 0x0012), 2300.0);
        assert_eq!(float(&registers, 0x001E), 0.9);
        assert_eq!(float(&registers, 0x002A), 231.0);
        assert_eq!(float(&registers, 0x002E), 16.0 / 3.0);
        assert_eq!(float(&registers, 0x0030), 16.0);
        assert_eq!(float(&registers, 0x0034), 1200.0);
        assert_eq!(float(&registers, 0x003E), 0.32);
        assert_eq!(float(&registers, 0x0046), 50.01);
        assert_eq!(float(&registers, 0x0048), 12.345678);
        assert_eq!(float(&registers, 0x004A), 1.0);
        assert_eq!(float(&registers, 0x004C), 1.5, "+R = Q1 + Q2");
        assert_eq!(float(&registers, 0x004E), 0.375, "−R = Q3 + Q4");
        assert_eq!(float(&registers, 0x0050), 2.5);
        assert_eq!(float(&registers, 0x0054), 900.0);
        assert_eq!(float(&registers, 0x0056), 4200.0);
        assert_eq!(
            &registers[0x0024..0x002A],
            &[0; 6],
            "phase angles are not filled"
        );
        let totals = sdm_input_registers(&three_phase(), 0x0156, 4).expect("read");
        assert_eq!(float(&totals, 0), 13.345678);
        assert_eq!(float(&totals, 2), 1.875);
    }

    #[test]
    fn a_single_phase_snapshot_reads_zero_on_phases_two_and_three() {
        let mut snapshot = three_phase();
        snapshot.phases = Phases::One;
        snapshot.frequency_hz = None;
        let registers = sdm_input_registers(&snapshot, 0, 0x48).expect("read");
        assert_eq!(float(&registers, 0x0000), 230.0);
        assert_eq!(float(&registers, 0x0002), 0.0);
        assert_eq!(float(&registers, 0x000E), 0.0);
        assert_eq!(float(&registers, 0x002A), 230.0);
        assert_eq!(float(&registers, 0x0046), 0.0, "no frequency reads 0");
    }

    #[test]
    fn partial_and_misaligned_reads_slice_the_same_image() {
        let snapshot = three_phase();
        let whole = sdm_input_registers(&snapshot, 0, 125).expect("read");
        let part = sdm_input_registers(&snapshot, 0x0049, 3).expect("read");
        assert_eq!(part, whole[0x49..0x4C]);
        let end = sdm_input_registers(&snapshot, SDM_REGISTERS - 1, 1).expect("last register");
        assert_eq!(end, [0]);
    }

    #[test]
    fn reads_outside_the_map_or_too_long_are_exceptions() {
        let snapshot = three_phase();
        let read = |start, count| sdm_input_registers(&snapshot, start, count);
        assert_eq!(read(0, 0), Err(Exception::IllegalDataValue));
        assert_eq!(read(0, 126), Err(Exception::IllegalDataValue));
        assert_eq!(
            read(SDM_REGISTERS - 1, 2),
            Err(Exception::IllegalDataAddress)
        );
        assert_eq!(read(40000, 2), Err(Exception::IllegalDataAddress));
        assert_eq!(read(u16::MAX, 1), Err(Exception::IllegalDataAddress));
    }

    #[test]
    fn the_readme_documents_every_value_of_the_map() {
        let readme = include_str!("../README.md");
        for value in sdm_map() {
            let row = format!(
                "| 0x{:04X} | {} | {} | {} | {} |",
                value.address,
                u32::from(value.address) + 30001,
                value.name,
                if value.unit.is_empty() {
                    "–"
                } else {
                    value.unit
                },
                if value.sdm120 { "yes" } else { "–" },
            );
            assert!(readme.contains(&row), "README lacks {row}");
        }
    }

    #[test]
    fn floats_are_big_endian_high_word_first() {
        assert_eq!(float_words(230.0), [0x4366, 0x0000]);
        assert_eq!(float_words(-1.5), [0xBFC0, 0x0000]);
        assert_eq!(float_at(&[0x4366, 0], 0, 0), Some(230.0));
        assert_eq!(float_at(&[0x4366], 0, 0), None);
        assert_eq!(float_at(&[0x4366, 0], 2, 0), None);
    }
}
