//! Exact decimal arithmetic for prices and amounts.
//!
//! Bills must be exact and reproducible on any machine, so no floating point ever touches
//! a price or an amount. The choice, and why:
//!
//! - Prices, rates and fixed charges are [`Micros`]: an `i64` of millionths (six decimals),
//!   enough for any retail or wholesale price per kWh (ENTSO-E publishes two decimals per
//!   MWh, which is five per kWh).
//! - Energy is integer mWh, like the meter's registers.
//! - mWh × millionths per kWh is exactly 10⁻¹² of the currency (a "pico"): every product of
//!   energy and price is accumulated exactly in an `i128` of picos, however many intervals
//!   go into it.
//! - Each bill line is rounded once, from its exact sum of picos to the currency's minor
//!   unit (cents for two digits), half away from zero. Taxes are computed from the rounded
//!   lines they apply to and rounded the same way. The total is the sum of the rounded
//!   lines, so the lines always add up to it.
//!
//! A decimal crate would do the same job, but plain integers keep the hot path (one
//! multiply-add per interval) allocation-free and make the rounding points explicit.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// One currency unit (or one kWh, kW, day, percent…) in millionths.
pub(crate) const MICROS_PER_UNIT: i64 = 1_000_000;
/// Picos (10⁻¹² of the currency) per micro (10⁻⁶ of the currency).
pub(crate) const PICOS_PER_MICRO: i128 = 1_000_000;
/// The most minor-unit digits a currency may have (the exact amounts have twelve).
pub(crate) const MAX_CURRENCY_DIGITS: u8 = 6;

/// A decimal number with six fractional digits, stored as millionths: prices per kWh, per
/// kW, per day and per month, the minimum bill, percentages and multipliers.
///
/// In TOML and JSON it reads from a number (`0.2345`, `21`) or a string (`"0.2345"`); a
/// number with more than six decimals is refused rather than rounded. It writes as a
/// string with six decimals, which stays exact in any JSON reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Micros(pub i64);

/// Why a text or number is not a [`Micros`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Not a decimal number.
    #[error("`{0}` is not a decimal number")]
    Syntax(String),
    /// More fractional digits than the scale keeps.
    #[error("`{text}` has more than {scale} decimals")]
    TooPrecise {
        /// The text as given.
        text: String,
        /// The most decimals allowed.
        scale: u32,
    },
    /// Too large to store.
    #[error("`{0}` is too large")]
    Overflow(String),
}

impl Micros {
    /// Zero.
    pub const ZERO: Micros = Micros(0);

    /// Parses a decimal text (`-0.0525`, `12`, `+3.5`) exactly.
    pub fn parse(text: &str) -> Result<Micros, DecimalError> {
        parse_scaled(text, 6).map(Micros)
    }

    /// From a float that holds a decimal of at most six places (as TOML and JSON numbers
    /// arrive); refuses anything with more places, NaN or infinities.
    pub fn from_f64(value: f64) -> Result<Micros, DecimalError> {
        let scaled = value * 1e6;
        if !scaled.is_finite() || scaled.abs() >= 9.0e18 {
            return Err(DecimalError::Overflow(value.to_string()));
        }
        let rounded = scaled.round();
        // A decimal of six places lands within float noise of an integer; a seventh
        // place lands at least 0.1 away.
        let tolerance = 1e-3_f64.max(scaled.abs() * f64::EPSILON * 4.0);
        if (scaled - rounded).abs() > tolerance {
            return Err(DecimalError::TooPrecise {
                text: value.to_string(),
                scale: 6,
            });
        }
        // In range (checked above) and integral, so the cast is exact.
        Ok(Micros(rounded as i64))
    }

    /// The value as a float, for display and statistics only (never for amounts).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_scaled(i128::from(self.0), 6))
    }
}

impl Serialize for Micros {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Micros {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MicrosVisitor;
        impl Visitor<'_> for MicrosVisitor {
            type Value = Micros;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number with at most six decimals")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Micros, E> {
                value
                    .checked_mul(MICROS_PER_UNIT)
                    .map(Micros)
                    .ok_or_else(|| E::custom(DecimalError::Overflow(value.to_string())))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Micros, E> {
                let value = i64::try_from(value)
                    .map_err(|_| E::custom(DecimalError::Overflow(value.to_string())))?;
                self.visit_i64(value)
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Micros, E> {
                Micros::from_f64(value).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Micros, E> {
                Micros::parse(value).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(MicrosVisitor)
    }
}

/// Parses a decimal text into an integer of `10^-scale` units, refusing extra digits.
pub(crate) fn parse_scaled(text: &str, scale: u32) -> Result<i64, DecimalError> {
    let syntax = || DecimalError::Syntax(text.to_owned());
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(syntax());
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > scale as usize {
        return Err(DecimalError::TooPrecise {
            text: text.to_owned(),
            scale,
        });
    }
    let overflow = || DecimalError::Overflow(text.to_owned());
    let mut value: i64 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(overflow)?;
    }
    let padding = scale - fraction.len() as u32;
    value = value
        .checked_mul(10_i64.pow(padding))
        .ok_or_else(overflow)?;
    Ok(if negative { -value } else { value })
}

/// `numerator / denominator` rounded half away from zero (`denominator` > 0).
pub(crate) fn div_round(numerator: i128, denominator: i128) -> i128 {
    let half = denominator / 2;
    if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        (numerator - half) / denominator
    }
}

/// `numerator / denominator` rounded half away from zero (`denominator` > 0), in `i64`
/// for the per-interval paths where a 128-bit division would dominate.
pub(crate) fn div_round_i64(numerator: i64, denominator: i64) -> i64 {
    let half = denominator / 2;
    if numerator >= 0 {
        numerator.saturating_add(half) / denominator
    } else {
        numerator.saturating_sub(half) / denominator
    }
}

/// An exact amount in picos rounded to the currency's minor unit, half away from zero.
pub(crate) fn picos_to_minor(picos: i128, currency_digits: u8) -> i64 {
    let divisor = 10_i128.pow(12 - u32::from(currency_digits));
    saturate(div_round(picos, divisor))
}

/// An amount in minor units as picos.
pub(crate) fn minor_to_picos(minor: i64, currency_digits: u8) -> i128 {
    i128::from(minor) * 10_i128.pow(12 - u32::from(currency_digits))
}

/// An `i128` clamped into `i64` (amounts that large do not occur; this keeps the
/// arithmetic total without a panic path).
pub(crate) fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// An integer of `10^-scale` units as a decimal text with exactly `scale` decimals.
pub(crate) fn format_scaled(value: i128, scale: u32) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{magnitude}");
    }
    let unit = 10_u128.pow(scale);
    format!(
        "{sign}{}.{:0width$}",
        magnitude / unit,
        magnitude % unit,
        width = scale as usize
    )
}

/// An amount in minor units as a decimal text in the currency (`1234` → `12.34`).
pub fn format_minor(amount_minor: i64, currency_digits: u8) -> String {
    format_scaled(i128::from(amount_minor), u32::from(currency_digits))
}

/// Energy in mWh as kWh with six decimals (exact).
pub(crate) fn format_kwh(energy_mwh: i64) -> String {
    format_scaled(i128::from(energy_mwh), 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(Micros::parse("0.2345"), Ok(Micros(234_500)));
        assert_eq!(Micros::parse("-12"), Ok(Micros(-12_000_000)));
        assert_eq!(Micros::parse("+.5"), Ok(Micros(500_000)));
        assert_eq!(Micros::parse("1.1234560"), Ok(Micros(1_123_456)));
        assert!(matches!(
            Micros::parse("0.1234567"),
            Err(DecimalError::TooPrecise { .. })
        ));
        for bad in ["", ".", "-", "1e3", "1.2.3", "abc", " 1 2"] {
            assert!(Micros::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            Micros::parse("99999999999999999"),
            Err(DecimalError::Overflow(_))
        ));
    }

    #[test]
    fn floats_with_six_places_convert_exactly() {
        assert_eq!(Micros::from_f64(0.1), Ok(Micros(100_000)));
        assert_eq!(Micros::from_f64(0.29), Ok(Micros(290_000)));
        assert_eq!(Micros::from_f64(-0.000001), Ok(Micros(-1)));
        assert_eq!(
            Micros::from_f64(123_456_789.123456),
            Ok(Micros(123_456_789_123_456))
        );
        assert!(Micros::from_f64(0.1234567).is_err());
        assert!(Micros::from_f64(f64::NAN).is_err());
        assert!(Micros::from_f64(1e14).is_err());
    }

    #[test]
    fn rounds_half_away_from_zero() {
        // 0.005 in picos is 5e9; to cents that is half a cent.
        assert_eq!(picos_to_minor(5_000_000_000, 2), 1);
        assert_eq!(picos_to_minor(4_999_999_999, 2), 0);
        assert_eq!(picos_to_minor(-5_000_000_000, 2), -1);
        assert_eq!(picos_to_minor(-4_999_999_999, 2), 0);
        assert_eq!(picos_to_minor(1_500_000_000_000, 0), 2);
        assert_eq!(minor_to_picos(-123, 2), -1_230_000_000_000);
        assert_eq!(div_round_i64(5, 2), 3);
        assert_eq!(div_round_i64(-5, 2), -3);
        assert_eq!(div_round_i64(4, 3), 1);
    }

    #[test]
    fn formats_fixed_decimals() {
        assert_eq!(format_minor(1234, 2), "12.34");
        assert_eq!(format_minor(-5, 2), "-0.05");
        assert_eq!(format_minor(7, 0), "7");
        assert_eq!(format_kwh(1_500), "0.001500");
        assert_eq!(Micros(-250_000).to_string(), "-0.250000");
    }

    #[test]
    fn reads_numbers_and_strings() {
        let values: Vec<Micros> = serde_json::from_str(r#"[1, 0.25, "0.123456", -3]"#).unwrap();
        assert_eq!(
            values,
            [
                Micros(1_000_000),
                Micros(250_000),
                Micros(123_456),
                Micros(-3_000_000)
            ]
        );
        assert_eq!(serde_json::to_string(&Micros(1)).unwrap(), r#""0.000001""#);
        assert!(serde_json::from_str::<Micros>("0.1234567").is_err());
    }
}
