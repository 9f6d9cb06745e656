//! The values between a line's parentheses: decimal text to integer sub-units without going
//! through floats (`000123.456*kWh` is exactly 123 456 Wh), units checked against what the
//! OBIS code promises, counters and identifiers.
//!
//! Kept apart from the line dispatch so that every number format has one place that decides
//! what is well formed, and one error type that says why a value was refused.

use thiserror::Error;

/// Why one value of a known line was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    /// The line has another number of `(...)` groups than its OBIS code defines.
    #[error("{found} value groups where {expected} were expected")]
    GroupCount {
        /// Groups the OBIS code defines.
        expected: usize,
        /// Groups the line has.
        found: usize,
    },
    /// A number is not plain decimal digits with at most one `.`.
    #[error("{text:?} is not a decimal number")]
    NotDecimal {
        /// The value as written.
        text: String,
    },
    /// A number has more decimals than the integer unit can hold exactly.
    #[error("{text:?} has more than {max_decimals} decimals")]
    TooPrecise {
        /// The value as written.
        text: String,
        /// Decimals the unit allows.
        max_decimals: u32,
    },
    /// A number is too large for its register.
    #[error("{text:?} is too large")]
    Overflow {
        /// The value as written.
        text: String,
    },
    /// The unit after `*` is not the one the OBIS code promises.
    #[error("unit {found:?} where {expected} was expected")]
    Unit {
        /// The units accepted, e.g. `kWh or Wh`.
        expected: &'static str,
        /// The unit as written (empty when missing).
        found: String,
    },
    /// A timestamp is not `YYMMDDhhmmss` followed by an optional `S` or `W`, or is no real
    /// date and time.
    #[error("{text:?} is not a timestamp YYMMDDhhmmss[S|W]")]
    Timestamp {
        /// The value as written.
        text: String,
    },
    /// A value that must not be empty is.
    #[error("empty value")]
    Empty,
    /// The power failure log names another buffer than `0-0:96.7.19`.
    #[error("power failure log of {found:?}, not 0-0:96.7.19")]
    LogBuffer {
        /// The buffer's OBIS code as written.
        found: String,
    },
}

/// Units of energy and power as the OBIS codes of this crate carry them, each with
/// the number of decimal places that turns it into the crate's integer unit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnitScale {
    /// How the accepted units read in an error, e.g. `kWh or Wh`.
    pub(crate) expected: &'static str,
    /// `(unit, decimals)`: `("kWh", 3)` means 1 kWh is 10³ of the integer unit (Wh).
    pub(crate) units: &'static [(&'static str, u32)],
}

/// Active energy to watt-hours.
pub(crate) const ENERGY_WH: UnitScale = UnitScale {
    expected: "kWh or Wh",
    units: &[("kWh", 3), ("Wh", 0)],
};
/// Active power to watts.
pub(crate) const POWER_W: UnitScale = UnitScale {
    expected: "kW or W",
    units: &[("kW", 3), ("W", 0)],
};
/// Reactive energy to var-hours.
pub(crate) const REACTIVE_ENERGY_VARH: UnitScale = UnitScale {
    expected: "kvarh or varh",
    units: &[("kvarh", 3), ("varh", 0)],
};
/// Reactive power to vars.
pub(crate) const REACTIVE_POWER_VAR: UnitScale = UnitScale {
    expected: "kvar or var",
    units: &[("kvar", 3), ("var", 0)],
};

/// Splits `123.456*kWh` into `("123.456", Some("kWh"))`.
pub(crate) fn split_unit(group: &str) -> (&str, Option<&str>) {
    match group.split_once('*') {
        Some((number, unit)) => (number, Some(unit)),
        None => (group, None),
    }
}

/// Splits decimal text (`digits[.digits]`: digits before the dot, and after it when there is
/// one) into its integer and fraction digits, or says why it is no decimal number.
fn decimal_parts(text: &str) -> Result<(&str, &str), ValueError> {
    let (int_part, frac_part) = match text.split_once('.') {
        Some((_, "")) => {
            return Err(ValueError::NotDecimal {
                text: text.to_owned(),
            });
        }
        Some(parts) => parts,
        None => (text, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
        return Err(ValueError::NotDecimal {
            text: text.to_owned(),
        });
    }
    Ok((int_part, frac_part))
}

/// Parses decimal text (`digits[.digits]`) into an integer scaled by 10^`decimals`, exactly:
/// `fixed("123.4", 3)` is 123 400. More decimals than `decimals` is an error, not a rounding.
pub(crate) fn fixed(text: &str, decimals: u32) -> Result<u64, ValueError> {
    let (int_part, frac_part) = decimal_parts(text)?;
    let frac_len = u32::try_from(frac_part.len()).unwrap_or(u32::MAX);
    if frac_len > decimals {
        return Err(ValueError::TooPrecise {
            text: text.to_owned(),
            max_decimals: decimals,
        });
    }
    let overflow = || ValueError::Overflow {
        text: text.to_owned(),
    };
    let mut value: u64 = 0;
    for digit in int_part.bytes().chain(frac_part.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .ok_or_else(overflow)?;
    }
    let scale = 10u64
        .checked_pow(decimals - frac_len)
        .ok_or_else(overflow)?;
    value.checked_mul(scale).ok_or_else(overflow)
}

/// Parses `number*unit` into the integer unit of `scale` (e.g. `001.234*kWh` into 1234 Wh).
pub(crate) fn scaled(group: &str, scale: UnitScale) -> Result<u64, ValueError> {
    let (number, unit) = split_unit(group);
    let unit = unit.unwrap_or("");
    let decimals = scale
        .units
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, decimals)| *decimals)
        .ok_or_else(|| ValueError::Unit {
            expected: scale.expected,
            found: unit.to_owned(),
        })?;
    fixed(number, decimals)
}

/// Like [`scaled`], for registers that fit 32 bits (power in W).
pub(crate) fn scaled_u32(group: &str, scale: UnitScale) -> Result<u32, ValueError> {
    let value = scaled(group, scale)?;
    u32::try_from(value).map_err(|_| ValueError::Overflow {
        text: group.to_owned(),
    })
}

/// Parses `number*unit` as a float, for the quantities the crate reports as `f64` (voltage,
/// current). The text is checked to be plain decimal first, so no `inf`, `NaN` or exponent
/// gets through.
pub(crate) fn measured(group: &str, unit: &'static str) -> Result<f64, ValueError> {
    let (number, found) = split_unit(group);
    if found != Some(unit) {
        return Err(ValueError::Unit {
            expected: unit,
            found: found.unwrap_or("").to_owned(),
        });
    }
    decimal_parts(number)?;
    number.parse().map_err(|_| ValueError::NotDecimal {
        text: number.to_owned(),
    })
}

/// Parses a unitless counter such as `00012`.
pub(crate) fn counter(group: &str) -> Result<u32, ValueError> {
    let value = fixed(group, 0)?;
    u32::try_from(value).map_err(|_| ValueError::Overflow {
        text: group.to_owned(),
    })
}

/// A unitless small code such as the tariff indicator `0002` or the M-Bus device type `003`.
pub(crate) fn code(group: &str) -> Result<u16, ValueError> {
    let value = fixed(group, 0)?;
    u16::try_from(value).map_err(|_| ValueError::Overflow {
        text: group.to_owned(),
    })
}

/// A duration in seconds, `0000237126*s`.
pub(crate) fn seconds(group: &str) -> Result<u64, ValueError> {
    let (number, unit) = split_unit(group);
    if unit != Some("s") {
        return Err(ValueError::Unit {
            expected: "s",
            found: unit.unwrap_or("").to_owned(),
        });
    }
    fixed(number, 0)
}

/// Text kept as written (identifiers, hex-encoded messages); `None` when the group is empty.
pub(crate) fn text(group: &str) -> Option<String> {
    (!group.is_empty()).then(|| group.to_owned())
}

/// Checks that a line has exactly `expected` groups.
pub(crate) fn expect_groups<'a, const N: usize>(
    groups: &[&'a str],
) -> Result<[&'a str; N], ValueError> {
    <[&str; N]>::try_from(groups).map_err(|_| ValueError::GroupCount {
        expected: N,
        found: groups.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_becomes_exact_watt_hours() {
        assert_eq!(scaled("000123.456*kWh", ENERGY_WH), Ok(123_456));
        assert_eq!(scaled("000123.4*kWh", ENERGY_WH), Ok(123_400));
        assert_eq!(scaled("01234.56*kWh", ENERGY_WH), Ok(1_234_560));
        assert_eq!(scaled("12345*kWh", ENERGY_WH), Ok(12_345_000));
        assert_eq!(scaled("006545766*Wh", ENERGY_WH), Ok(6_545_766));
        assert_eq!(scaled("000000.000*kWh", ENERGY_WH), Ok(0));
        // A value where a float would drift: 0.1 + 0.2 style digits stay exact.
        assert_eq!(scaled("999999.999*kWh", ENERGY_WH), Ok(999_999_999));
    }

    #[test]
    fn power_in_kilowatts_becomes_integer_watts() {
        assert_eq!(scaled_u32("02.027*kW", POWER_W), Ok(2027));
        assert_eq!(scaled_u32("0001.01*kW", POWER_W), Ok(1010));
        assert_eq!(scaled_u32("000000286*W", POWER_W), Ok(286));
        assert_eq!(
            scaled_u32("99999999.999*kW", POWER_W),
            Err(ValueError::Overflow {
                text: "99999999.999*kW".into()
            })
        );
    }

    #[test]
    fn malformed_numbers_are_refused_with_the_reason() {
        let not_decimal = |t: &str| Err(ValueError::NotDecimal { text: t.into() });
        assert_eq!(fixed("", 3), not_decimal(""));
        assert_eq!(fixed(".5", 3), not_decimal(".5"));
        assert_eq!(fixed("5.", 3), not_decimal("5."));
        assert_eq!(fixed("1.2.3", 3), not_decimal("1.2.3"));
        assert_eq!(fixed("-1", 3), not_decimal("-1"));
        assert_eq!(fixed("1e3", 3), not_decimal("1e3"));
        assert_eq!(fixed(" 1", 3), not_decimal(" 1"));
        assert_eq!(
            fixed("1.2345", 3),
            Err(ValueError::TooPrecise {
                text: "1.2345".into(),
                max_decimals: 3
            })
        );
        assert_eq!(
            fixed("99999999999999999999", 0),
            Err(ValueError::Overflow {
                text: "99999999999999999999".into()
            })
        );
        assert_eq!(
            fixed("18446744073709551.616", 3),
            Err(ValueError::Overflow {
                text: "18446744073709551.616".into()
            })
        );
        assert_eq!(fixed("18446744073709551.615", 3), Ok(u64::MAX));
    }

    #[test]
    fn units_must_match_the_obis_code() {
        assert_eq!(
            scaled("001.000*kW", ENERGY_WH),
            Err(ValueError::Unit {
                expected: "kWh or Wh",
                found: "kW".into()
            })
        );
        assert_eq!(
            scaled("001.000", ENERGY_WH),
            Err(ValueError::Unit {
                expected: "kWh or Wh",
                found: String::new()
            })
        );
        assert_eq!(
            scaled("000612.207*kvarh", REACTIVE_ENERGY_VARH),
            Ok(612_207)
        );
        assert_eq!(scaled_u32("00.214*kvar", REACTIVE_POWER_VAR), Ok(214));
    }

    #[test]
    fn voltages_and_currents_are_floats_from_checked_text() {
        assert_eq!(measured("0230.0*V", "V"), Ok(230.0));
        assert_eq!(measured("236.4*V", "V"), Ok(236.4));
        assert_eq!(measured("006*A", "A"), Ok(6.0));
        assert_eq!(measured("0.48*A", "A"), Ok(0.48));
        assert_eq!(
            measured("inf*V", "V"),
            Err(ValueError::NotDecimal { text: "inf".into() })
        );
        assert_eq!(
            measured("230*A", "V"),
            Err(ValueError::Unit {
                expected: "V",
                found: "A".into()
            })
        );
        assert_eq!(
            measured("1.0000000000000000000000001*A", "A"),
            Ok(1.0),
            "long decimals are fine for floats"
        );
    }

    #[test]
    fn counters_codes_durations_and_text() {
        assert_eq!(counter("00015"), Ok(15));
        assert_eq!(
            counter("4294967296"),
            Err(ValueError::Overflow {
                text: "4294967296".into()
            })
        );
        assert_eq!(code("0002"), Ok(2));
        assert_eq!(seconds("2317482647*s"), Ok(2_317_482_647));
        assert_eq!(
            seconds("12*ms"),
            Err(ValueError::Unit {
                expected: "s",
                found: "ms".into()
            })
        );
        assert_eq!(text(""), None);
        assert_eq!(text("4B38").as_deref(), Some("4B38"));
    }

    #[test]
    fn group_counts_are_checked() {
        assert_eq!(expect_groups::<2>(&["a", "b"]), Ok(["a", "b"]));
        assert_eq!(
            expect_groups::<1>(&["a", "b"]),
            Err(ValueError::GroupCount {
                expected: 1,
                found: 2
            })
        );
    }
}
