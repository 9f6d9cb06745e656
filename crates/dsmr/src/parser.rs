//! `parse`: one complete telegram, from `/` to the `!` line, into a [`Telegram`].
//!
//! Order of checks: framing (header, `!`), then the CRC over the raw bytes (so a corrupted
//! telegram reports a CRC mismatch, not whatever line the corruption happened to hit), then
//! the characters, then each line. Unknown OBIS codes are counted and skipped; a known code
//! with a malformed value refuses the whole telegram, because a half-read telegram would
//! hand the meter agent registers that silently went missing.

use crate::crc::crc16;
use crate::error::{DsmrError, excerpt};
use crate::lines::{DataLine, Obis, data_lines, split_line};
use crate::telegram::{MbusReading, PeakDemand, PowerFailure, Telegram};
use crate::timestamp::DsmrTimestamp;
use crate::value::{
    ENERGY_WH, POWER_W, REACTIVE_ENERGY_VARH, REACTIVE_POWER_VAR, ValueError, code, counter,
    expect_groups, fixed, measured, scaled, scaled_u32, seconds, split_unit, text,
};

/// Bytes that may follow the CRC (or a bare `!`): line ends, and the spaces and NULs some
/// gateways pad with.
fn is_trailer(byte: u8) -> bool {
    matches!(byte, b'\r' | b'\n' | b' ' | b'\t' | 0)
}

/// Parses one telegram: `/` header line, data lines, `!` and, from DSMR 4 on, the CRC.
/// Trailing line ends after the CRC are allowed.
///
/// ```
/// let telegram = joule_dsmr::parse(
///     b"/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1(000123.456*kWh)\r\n1-0:1.7.0(01.193*kW)\r\n!\r\n",
/// )?;
/// assert_eq!(telegram.import_tariff1_wh, Some(123_456));
/// assert_eq!(telegram.net_power_w(), Some(1193));
/// # Ok::<(), joule_dsmr::DsmrError>(())
/// ```
pub fn parse(telegram: &[u8]) -> Result<Telegram, DsmrError> {
    let first = *telegram.first().ok_or(DsmrError::Empty)?;
    if first != b'/' {
        return Err(DsmrError::NoHeader { found: first });
    }
    let bang = telegram
        .iter()
        .position(|&b| b == b'!')
        .ok_or(DsmrError::Truncated {
            len_bytes: telegram.len(),
        })?;
    let crc = check_crc(&telegram[..=bang], &telegram[bang + 1..])?;
    let content = &telegram[..bang];
    for (offset, &byte) in content.iter().enumerate().skip(1) {
        match byte {
            b'/' => return Err(DsmrError::NestedHeader { offset }),
            b'\r' | b'\n' | b' '..=b'~' => {}
            _ => return Err(DsmrError::NotAscii { offset, byte }),
        }
    }
    // Printable ASCII was checked byte by byte just above, so this cannot fail; the error
    // arm still answers rather than panics.
    let content = std::str::from_utf8(content).map_err(|err| DsmrError::NotAscii {
        offset: err.valid_up_to(),
        byte: 0,
    })?;
    let (header, body) = content
        .split_once('\n')
        .ok_or_else(|| DsmrError::BadHeader {
            header: excerpt(content),
        })?;
    let header = check_header(header.trim_end_matches('\r'))?;

    let mut out = Telegram {
        header: header.to_owned(),
        crc,
        ..Telegram::default()
    };
    for line in data_lines(body, 2) {
        read_line(&mut out, &line)?;
    }
    if let (None, Some(version)) = (out.crc, &out.version) {
        return Err(DsmrError::MissingCrc {
            version: version.clone(),
        });
    }
    Ok(out)
}

/// Checks what follows `!`: nothing (DSMR 2.2/3) or four hex digits matching the CRC of
/// `covered` (`/` through `!`), then only line ends. Returns the CRC when there is one.
fn check_crc(covered: &[u8], after_bang: &[u8]) -> Result<Option<u16>, DsmrError> {
    let digits = after_bang
        .iter()
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    let bad_field = || {
        let end = after_bang.iter().position(|&b| b == b'\r' || b == b'\n');
        let field = &after_bang[..end.unwrap_or(after_bang.len())];
        DsmrError::BadCrcField {
            field: excerpt(&String::from_utf8_lossy(field)),
        }
    };
    if !after_bang[digits..].iter().all(|&b| is_trailer(b)) {
        return Err(bad_field());
    }
    match digits {
        0 => Ok(None),
        4 => {
            let hex = std::str::from_utf8(&after_bang[..4]).map_err(|_| bad_field())?;
            let expected = u16::from_str_radix(hex, 16).map_err(|_| bad_field())?;
            let computed = crc16(covered);
            if expected == computed {
                Ok(Some(expected))
            } else {
                Err(DsmrError::CrcMismatch { expected, computed })
            }
        }
        _ => Err(bad_field()),
    }
}

/// The header line without its `/`: three letters of manufacturer, the baud rate character
/// and at least one character of identification.
fn check_header(line: &str) -> Result<&str, DsmrError> {
    let header = &line[1..];
    let bytes = header.as_bytes();
    let well_formed = bytes.len() >= 5
        && bytes[..3].iter().all(u8::is_ascii_alphabetic)
        && bytes[3].is_ascii_alphanumeric();
    if well_formed {
        Ok(header)
    } else {
        Err(DsmrError::BadHeader {
            header: excerpt(line),
        })
    }
}

/// Reads one data line into `out`.
fn read_line(out: &mut Telegram, line: &DataLine<'_>) -> Result<(), DsmrError> {
    let (obis, groups) = split_line(&line.text).map_err(|reason| DsmrError::BadLine {
        line_no: line.line_no,
        line: excerpt(&line.text),
        reason,
    })?;
    apply(out, obis, &groups).map_err(|source| DsmrError::BadValue {
        line_no: line.line_no,
        line: excerpt(&line.text),
        source,
    })
}

/// Index 0..3 of the phase whose OBIS C field is `c`, for the L1/L2/L3 triples that are 20
/// apart (21/41/61, 31/51/71, 32/52/72, ...).
fn phase(c: u8, l1: u8) -> usize {
    usize::from((c - l1) / 20)
}

/// Stores the value of one known OBIS code; counts an unknown one.
fn apply(out: &mut Telegram, obis: Obis, groups: &[&str]) -> Result<(), ValueError> {
    let one = || expect_groups::<1>(groups).map(|[g]| g);
    let Obis { a: _, b, c, d, e } = obis;
    match (b, c, d, e) {
        // Identification and time.
        (_, 0, 2, 8) | (0, 96, 1, 4) => out.version = Some(non_empty(one()?)?),
        (0, 1, 0, 0) => out.timestamp = Some(DsmrTimestamp::parse(one()?)?),
        (0, 96, 1, 1) => out.equipment_id = text(one()?),
        (0, 42, 0, 0) => out.logical_device_name = text(one()?),
        (0, 96, 14, 0) => out.tariff = Some(code(one()?)?),
        (0, 96, 13, 0) => out.text_message = text(one()?),
        // Energy registers.
        (0, 1, 8, 0) => out.import_total_wh = Some(scaled(one()?, ENERGY_WH)?),
        (0, 1, 8, 1) => out.import_tariff1_wh = Some(scaled(one()?, ENERGY_WH)?),
        (0, 1, 8, 2) => out.import_tariff2_wh = Some(scaled(one()?, ENERGY_WH)?),
        (0, 2, 8, 0) => out.export_total_wh = Some(scaled(one()?, ENERGY_WH)?),
        (0, 2, 8, 1) => out.export_tariff1_wh = Some(scaled(one()?, ENERGY_WH)?),
        (0, 2, 8, 2) => out.export_tariff2_wh = Some(scaled(one()?, ENERGY_WH)?),
        (0, 3, 8, 0) => out.reactive_import_varh = Some(scaled(one()?, REACTIVE_ENERGY_VARH)?),
        (0, 4, 8, 0) => out.reactive_export_varh = Some(scaled(one()?, REACTIVE_ENERGY_VARH)?),
        // Power.
        (0, 1, 7, 0) => out.import_power_w = Some(scaled_u32(one()?, POWER_W)?),
        (0, 2, 7, 0) => out.export_power_w = Some(scaled_u32(one()?, POWER_W)?),
        (0, 3, 7, 0) => {
            out.reactive_import_power_var = Some(scaled_u32(one()?, REACTIVE_POWER_VAR)?);
        }
        (0, 4, 7, 0) => {
            out.reactive_export_power_var = Some(scaled_u32(one()?, REACTIVE_POWER_VAR)?);
        }
        (0, 1, 4, 0) => out.average_demand_w = Some(scaled_u32(one()?, POWER_W)?),
        (0, 1, 6, 0) => {
            let [at, power] = expect_groups::<2>(groups)?;
            out.max_demand_month = Some(PeakDemand {
                at: DsmrTimestamp::parse(at)?,
                power_w: scaled_u32(power, POWER_W)?,
            });
        }
        // Per phase.
        (0, c @ (32 | 52 | 72), 7, 0) => {
            out.phases[phase(c, 32)].voltage_v = Some(measured(one()?, "V")?)
        }
        (0, c @ (31 | 51 | 71), 7, 0) => {
            out.phases[phase(c, 31)].current_a = Some(measured(one()?, "A")?)
        }
        (0, c @ (21 | 41 | 61), 7, 0) => {
            out.phases[phase(c, 21)].import_power_w = Some(scaled_u32(one()?, POWER_W)?);
        }
        (0, c @ (22 | 42 | 62), 7, 0) => {
            out.phases[phase(c, 22)].export_power_w = Some(scaled_u32(one()?, POWER_W)?);
        }
        (0, c @ (32 | 52 | 72), 32, 0) => {
            out.phases[phase(c, 32)].voltage_sags = Some(counter(one()?)?)
        }
        (0, c @ (32 | 52 | 72), 36, 0) => {
            out.phases[phase(c, 32)].voltage_swells = Some(counter(one()?)?);
        }
        // Power failures.
        (0, 96, 7, 21) => out.power_failures = Some(counter(one()?)?),
        (0, 96, 7, 9) => out.long_power_failures = Some(counter(one()?)?),
        (0, 99, 97, 0) => out.power_failure_log = Some(power_failure_log(groups)?),
        // M-Bus devices.
        (channel @ 1..=9, 24, 1, 0) => {
            out.mbus_channel_mut(channel).device_type = Some(code(one()?)?)
        }
        (channel @ 1..=9, 96, 1, 0 | 1) => {
            out.mbus_channel_mut(channel).equipment_id = text(one()?)
        }
        (channel @ 1..=9, 24, 2, 1 | 3) => {
            let [captured, value] = expect_groups::<2>(groups)?;
            let (number, unit) = split_unit(value);
            out.mbus_channel_mut(channel).reading = Some(mbus_reading(captured, number, unit)?);
        }
        (channel @ 1..=9, 24, 3, 0) => {
            // DSMR 2.2/3: (time)(status)(period)(values)(OBIS of the value)(unit)(value).
            let [captured, _, _, _, _, unit, value] = expect_groups::<7>(groups)?;
            let reading = mbus_reading(captured, value, Some(unit))?;
            out.mbus_channel_mut(channel).reading = Some(reading);
        }
        _ => out.unknown_lines = out.unknown_lines.saturating_add(1),
    }
    Ok(())
}

/// A value that must be present, as written.
fn non_empty(group: &str) -> Result<String, ValueError> {
    text(group).ok_or(ValueError::Empty)
}

/// `(count)(0-0:96.7.19)(end)(duration*s)...`, or `()` for an empty log.
fn power_failure_log(groups: &[&str]) -> Result<Vec<PowerFailure>, ValueError> {
    match groups {
        [""] => Ok(Vec::new()),
        [count, buffer, entries @ ..] => {
            let count = usize::try_from(counter(count)?).unwrap_or(usize::MAX);
            if count.checked_mul(2).and_then(|n| n.checked_add(2)) != Some(groups.len()) {
                return Err(ValueError::GroupCount {
                    expected: count.saturating_mul(2).saturating_add(2),
                    found: groups.len(),
                });
            }
            if *buffer != "0-0:96.7.19" {
                return Err(ValueError::LogBuffer {
                    found: (*buffer).to_owned(),
                });
            }
            entries
                .chunks_exact(2)
                .map(|entry| {
                    Ok(PowerFailure {
                        ended: DsmrTimestamp::parse(entry[0])?,
                        duration_s: seconds(entry[1])?,
                    })
                })
                .collect()
        }
        _ => Err(ValueError::GroupCount {
            expected: 2,
            found: groups.len(),
        }),
    }
}

/// An M-Bus value (`00981.443` in `m3`) captured at `captured`, kept in thousandths of its
/// unit.
fn mbus_reading(
    captured: &str,
    number: &str,
    unit: Option<&str>,
) -> Result<MbusReading, ValueError> {
    let unit = unit
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ValueError::Unit {
            expected: "a unit such as m3",
            found: String::new(),
        })?;
    Ok(MbusReading {
        captured: DsmrTimestamp::parse(captured)?,
        value_milli: fixed(number, 3)?,
        unit: unit.to_owned(),
    })
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
