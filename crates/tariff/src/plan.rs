//! Tariff plans as their TOML files describe them, checked once when read.
//!
//! A plan is what a customer pays: a currency, a time zone and a list of versions, each in
//! force from its `effective_from` date (local midnight in the plan's zone) until the next
//! one. Every rule that can be checked without meter data is checked here, with the key
//! that broke it, so billing never meets a malformed plan. The TOML format is documented
//! key by key in `docs/CONFIG.md` and by example in the crate's README.

use crate::calendar::{CivilDate, DaySet, LocalTime, MonthDay};
use crate::money::{MAX_CURRENCY_DIGITS, MICROS_PER_UNIT, Micros, div_round};
use crate::tou::TimeOfUse;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use std::collections::BTreeSet;

/// Why a plan cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Not TOML, or a key is missing, unknown or of the wrong type (the message names it
    /// and its line).
    #[error("tariff plan: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value breaks a rule of the plan.
    #[error("tariff plan: `{key}`: {reason}")]
    Invalid {
        /// The key, as a path (`versions[1].import.blocks[0].up_to_kwh`).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> PlanError {
    PlanError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// A checked tariff plan.
#[derive(Debug, Clone)]
pub struct Plan {
    name: String,
    currency: String,
    currency_digits: u8,
    time_zone: String,
    zone: TimeZone,
    holidays: BTreeSet<Date>,
    versions: Vec<Version>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    name: String,
    currency: String,
    #[serde(default = "two")]
    currency_digits: u8,
    time_zone: String,
    #[serde(default)]
    holidays: Vec<CivilDate>,
    versions: Vec<Version>,
}

fn two() -> u8 {
    2
}

impl Plan {
    /// Reads and checks a plan from its TOML text.
    pub fn from_toml(text: &str) -> Result<Plan, PlanError> {
        let file: PlanFile = toml::from_str(text)?;
        if file.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if file.currency.trim().is_empty() {
            return Err(invalid("currency", "must not be empty"));
        }
        if file.currency_digits > MAX_CURRENCY_DIGITS {
            return Err(invalid(
                "currency_digits",
                format!("must be 0 to {MAX_CURRENCY_DIGITS}"),
            ));
        }
        let zone = TimeZone::get(&file.time_zone).map_err(|_| {
            invalid(
                "time_zone",
                format!("`{}` is not an IANA time zone", file.time_zone),
            )
        })?;
        if file.versions.is_empty() {
            return Err(invalid("versions", "a plan needs at least one version"));
        }
        let mut versions = file.versions;
        for (index, version) in versions.iter_mut().enumerate() {
            version.check(&format!("versions[{index}]"))?;
        }
        for (index, pair) in versions.windows(2).enumerate() {
            if pair[1].effective_from <= pair[0].effective_from {
                return Err(invalid(
                    format!("versions[{}].effective_from", index + 1),
                    "versions must be in order of strictly increasing effective dates",
                ));
            }
        }
        Ok(Plan {
            name: file.name,
            currency: file.currency,
            currency_digits: file.currency_digits,
            time_zone: file.time_zone,
            zone,
            holidays: file.holidays.into_iter().map(|date| date.0).collect(),
            versions,
        })
    }

    /// The plan's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The currency code (`EUR`).
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// Digits of the currency's minor unit (2 for cents).
    pub fn currency_digits(&self) -> u8 {
        self.currency_digits
    }

    /// The IANA name of the plan's time zone.
    pub fn time_zone_name(&self) -> &str {
        &self.time_zone
    }

    /// The plan's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.zone
    }

    /// Local dates priced as holidays.
    pub fn holidays(&self) -> &BTreeSet<Date> {
        &self.holidays
    }

    /// The versions, in order of effective date.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }
}

/// The prices in force from one date until the next version's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// First local date on which this version applies (from local midnight).
    #[serde(deserialize_with = "civil_date")]
    pub effective_from: Date,
    /// How imported energy is priced.
    pub import: EnergyCharge,
    /// How exported energy is credited (none by default).
    #[serde(default)]
    pub export: ExportCredit,
    /// A charge on the highest 15-minute demand.
    #[serde(default)]
    pub demand: Option<DemandCharge>,
    /// Standing charges.
    #[serde(default)]
    pub fixed: FixedCharges,
    /// Charges per kWh imported (energy taxes), before percentage taxes.
    #[serde(default)]
    pub levies: Vec<Levy>,
    /// Percentage taxes (VAT) on everything before taxes.
    #[serde(default)]
    pub taxes: Vec<Tax>,
    /// The least a billing period costs before taxes.
    #[serde(default)]
    pub minimum_bill: Option<Micros>,
}

fn civil_date<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
    CivilDate::deserialize(deserializer).map(|date| date.0)
}

impl Version {
    fn check(&mut self, key: &str) -> Result<(), PlanError> {
        self.import.check(&format!("{key}.import"))?;
        self.export.check(&format!("{key}.export"))?;
        if let Some(demand) = &self.demand {
            demand.check(&format!("{key}.demand"))?;
        }
        for (index, levy) in self.levies.iter().enumerate() {
            check_name(&format!("{key}.levies[{index}].name"), &levy.name)?;
        }
        for (index, tax) in self.taxes.iter().enumerate() {
            check_name(&format!("{key}.taxes[{index}].name"), &tax.name)?;
            if tax.percent < Micros::ZERO {
                return Err(invalid(
                    format!("{key}.taxes[{index}].percent"),
                    "must not be negative",
                ));
            }
        }
        Ok(())
    }
}

pub(crate) fn check_name(key: &str, name: &str) -> Result<(), PlanError> {
    if name.trim().is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    Ok(())
}

/// How imported energy is priced (`kind` in TOML).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EnergyCharge {
    /// One price for every kWh.
    Flat {
        /// Price per kWh.
        price_per_kwh: Micros,
    },
    /// Blocks of consumption per billing period, filled in time order.
    Tiered {
        /// Scale the blocks by the billing period's days over the days of the month in
        /// which it starts (so a whole calendar month, or a month-long cycle, is 1).
        #[serde(default)]
        prorate: bool,
        /// The blocks, cheapest first; the last has no upper bound.
        blocks: Vec<Block>,
    },
    /// Prices by season, day type and local time.
    TimeOfUse(TimeOfUse),
    /// Prices from a series supplied with the market data.
    Dynamic(DynamicPrice),
}

impl EnergyCharge {
    fn check(&mut self, key: &str) -> Result<(), PlanError> {
        match self {
            EnergyCharge::Flat { .. } => Ok(()),
            EnergyCharge::Tiered { blocks, .. } => check_blocks(&format!("{key}.blocks"), blocks),
            EnergyCharge::TimeOfUse(tou) => tou.check(key),
            EnergyCharge::Dynamic(dynamic) => dynamic.check(key),
        }
    }
}

/// One block of a tiered charge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// Cumulative consumption in the period up to which this block applies (kWh); absent
    /// on the last block.
    #[serde(default)]
    pub up_to_kwh: Option<Micros>,
    /// Price per kWh in this block.
    pub price_per_kwh: Micros,
}

fn check_blocks(key: &str, blocks: &[Block]) -> Result<(), PlanError> {
    let Some((last, bounded)) = blocks.split_last() else {
        return Err(invalid(key, "a tiered charge needs at least one block"));
    };
    if last.up_to_kwh.is_some() {
        return Err(invalid(
            format!("{key}[{}].up_to_kwh", blocks.len() - 1),
            "the last block has no upper bound",
        ));
    }
    let mut previous = Micros::ZERO;
    for (index, block) in bounded.iter().enumerate() {
        let field = format!("{key}[{index}].up_to_kwh");
        let up_to = block
            .up_to_kwh
            .ok_or_else(|| invalid(&field, "every block but the last needs an upper bound"))?;
        if up_to <= previous {
            return Err(invalid(field, "bounds must be positive and increasing"));
        }
        previous = up_to;
    }
    Ok(())
}

/// A price from a series supplied with the market data, adjusted by the plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicPrice {
    /// The series' name in [`crate::Market::series`].
    pub series: String,
    /// Added to every price of the series (after the multiplier), per kWh.
    #[serde(default)]
    pub adder_per_kwh: Micros,
    /// Every price of the series is multiplied by this (default 1).
    #[serde(default = "one")]
    pub multiplier: Micros,
    /// Used where the series has no price (flagged on the bill); absent, a missing price
    /// is an error naming the instant.
    #[serde(default)]
    pub fallback_price_per_kwh: Option<Micros>,
}

fn one() -> Micros {
    Micros(MICROS_PER_UNIT)
}

impl DynamicPrice {
    /// The price charged for a series price: `price × multiplier + adder`, rounded half
    /// away from zero to a millionth.
    pub fn effective(&self, series_price: Micros) -> Micros {
        let scaled = div_round(
            i128::from(series_price.0) * i128::from(self.multiplier.0),
            i128::from(MICROS_PER_UNIT),
        );
        Micros(crate::money::saturate(
            scaled + i128::from(self.adder_per_kwh.0),
        ))
    }

    fn check(&self, key: &str) -> Result<(), PlanError> {
        check_name(&format!("{key}.series"), &self.series)
    }
}

/// How exported energy is credited (`kind` in TOML).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExportCredit {
    /// Export is measured and reported but not credited.
    #[default]
    None,
    /// Export offsets import kWh for kWh, with surplus carried forward as a kWh credit.
    NetMetering(NetMetering),
    /// Export is paid at its own price.
    NetBilling(ExportPrice),
}

impl ExportCredit {
    fn check(&self, key: &str) -> Result<(), PlanError> {
        match self {
            ExportCredit::NetBilling(ExportPrice::Dynamic(dynamic)) => dynamic.check(key),
            _ => Ok(()),
        }
    }
}

/// Net metering: the offset and the true-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetMetering {
    /// When leftover credit is settled.
    pub true_up: TrueUp,
    /// For `annual`: the local month-day at whose start the true-up falls (default 01-01).
    #[serde(default = "new_year")]
    pub true_up_on: MonthDay,
    /// Price per kWh paid for credit left at the true-up; absent, it is forfeited.
    #[serde(default)]
    pub true_up_price_per_kwh: Option<Micros>,
}

fn new_year() -> MonthDay {
    MonthDay { month: 1, day: 1 }
}

/// How often net-metering credit is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrueUp {
    /// Every bill settles its credit.
    Monthly,
    /// The bill whose period contains the anniversary (`true_up_on`) settles it.
    Annual,
}

/// The price of exported energy under net billing.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawExportPrice")]
pub enum ExportPrice {
    /// A flat price per kWh.
    Flat(Micros),
    /// A price series, as for dynamic import.
    Dynamic(DynamicPrice),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExportPrice {
    #[serde(default)]
    price_per_kwh: Option<Micros>,
    #[serde(default)]
    series: Option<String>,
    #[serde(default)]
    adder_per_kwh: Option<Micros>,
    #[serde(default)]
    multiplier: Option<Micros>,
    #[serde(default)]
    fallback_price_per_kwh: Option<Micros>,
}

impl TryFrom<RawExportPrice> for ExportPrice {
    type Error = String;
    fn try_from(raw: RawExportPrice) -> Result<Self, Self::Error> {
        match (raw.price_per_kwh, raw.series) {
            (Some(price), None) => {
                if raw.adder_per_kwh.is_some()
                    || raw.multiplier.is_some()
                    || raw.fallback_price_per_kwh.is_some()
                {
                    return Err(
                        "adder_per_kwh, multiplier and fallback_price_per_kwh go with \
                                `series`, not with `price_per_kwh`"
                            .into(),
                    );
                }
                Ok(ExportPrice::Flat(price))
            }
            (None, Some(series)) => Ok(ExportPrice::Dynamic(DynamicPrice {
                series,
                adder_per_kwh: raw.adder_per_kwh.unwrap_or_default(),
                multiplier: raw.multiplier.unwrap_or_else(one),
                fallback_price_per_kwh: raw.fallback_price_per_kwh,
            })),
            _ => Err("net billing needs exactly one of `price_per_kwh` and `series`".into()),
        }
    }
}

/// A charge per kW of the highest 15-minute demand in the billing period.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandCharge {
    /// Price per kW.
    pub price_per_kw: Micros,
    /// Only demand in this local window counts; absent, all of it.
    #[serde(default)]
    pub window: Option<DemandWindow>,
}

impl DemandCharge {
    fn check(&self, key: &str) -> Result<(), PlanError> {
        if let Some(window) = &self.window
            && window.from >= window.to
        {
            return Err(invalid(
                format!("{key}.window"),
                "`from` must be before `to` (a window does not cross midnight)",
            ));
        }
        Ok(())
    }
}

/// A local-time window on some day types.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandWindow {
    /// Day types it applies to.
    pub days: DaySet,
    /// Local start time.
    pub from: LocalTime,
    /// Local end time (exclusive; `24:00` for the end of the day).
    pub to: LocalTime,
}

/// Standing charges, pro-rated by local days.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedCharges {
    /// Per local day (a part of a day counts by its share of that day's length).
    #[serde(default)]
    pub per_day: Micros,
    /// Per calendar month (a part of a month counts by its share of the month's days).
    #[serde(default)]
    pub per_month: Micros,
}

/// A charge per kWh imported, such as an energy tax.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Levy {
    /// Name shown on the bill.
    pub name: String,
    /// Price per kWh.
    pub per_kwh: Micros,
}

/// A percentage tax on the bill before taxes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tax {
    /// Name shown on the bill.
    pub name: String,
    /// Rate in percent (`21` for 21 %).
    pub percent: Micros,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "name = \"t\"\ncurrency = \"EUR\"\ntime_zone = \"Europe/Amsterdam\"\n";

    fn plan(body: &str) -> Result<Plan, PlanError> {
        Plan::from_toml(&format!("{HEAD}{body}"))
    }

    fn key_of(error: PlanError) -> String {
        match error {
            PlanError::Invalid { key, .. } => key,
            PlanError::Toml(error) => panic!("not a rule error: {error}"),
        }
    }

    #[test]
    fn a_flat_plan_reads() {
        let plan = plan(
            "[[versions]]\neffective_from = 2026-01-01\nimport = { kind = \"flat\", price_per_kwh = 0.25 }\n",
        )
        .unwrap();
        assert_eq!(plan.currency_digits(), 2);
        assert!(matches!(
            plan.versions()[0].import,
            EnergyCharge::Flat {
                price_per_kwh: Micros(250_000)
            }
        ));
    }

    #[test]
    fn rule_errors_name_the_key() {
        let flat = "import = { kind = \"flat\", price_per_kwh = 0.25 }\n";
        let error = plan(&format!(
            "[[versions]]\neffective_from = \"2026-02-01\"\n{flat}[[versions]]\neffective_from = \"2026-01-01\"\n{flat}"
        ))
        .unwrap_err();
        assert_eq!(key_of(error), "versions[1].effective_from");

        let error = plan(
            "[[versions]]\neffective_from = 2026-01-01\n[versions.import]\nkind = \"tiered\"\nblocks = [{ up_to_kwh = 100, price_per_kwh = 0.2 }, { up_to_kwh = 50, price_per_kwh = 0.3 }, { price_per_kwh = 0.4 }]\n",
        )
        .unwrap_err();
        assert_eq!(key_of(error), "versions[0].import.blocks[1].up_to_kwh");

        let error = Plan::from_toml(&format!(
            "{}[[versions]]\neffective_from = 2026-01-01\n{flat}",
            HEAD.replace("Europe/Amsterdam", "Mars/Base")
        ))
        .unwrap_err();
        assert_eq!(key_of(error), "time_zone");
    }

    #[test]
    fn unknown_keys_and_kinds_are_refused() {
        let error = plan(
            "[[versions]]\neffective_from = 2026-01-01\nimport = { kind = \"flat\", price_per_kwh = 0.25, pric = 1 }\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("pric"), "{error}");
        let error = plan(
            "[[versions]]\neffective_from = 2026-01-01\nimport = { kind = \"banded\", price_per_kwh = 0.25 }\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("banded"), "{error}");
    }

    #[test]
    fn net_billing_takes_one_price_source() {
        let version = "[[versions]]\neffective_from = 2026-01-01\nimport = { kind = \"flat\", price_per_kwh = 0.25 }\n";
        let ok = plan(&format!(
            "{version}export = {{ kind = \"net_billing\", series = \"spot\", multiplier = 0.9 }}\n"
        ))
        .unwrap();
        let ExportCredit::NetBilling(ExportPrice::Dynamic(dynamic)) = &ok.versions()[0].export
        else {
            panic!("not dynamic net billing");
        };
        assert_eq!(dynamic.effective(Micros(100_000)), Micros(90_000));
        assert!(plan(&format!(
            "{version}export = {{ kind = \"net_billing\", series = \"spot\", price_per_kwh = 0.1 }}\n"
        ))
        .is_err());
    }

    #[test]
    fn dynamic_prices_round_to_a_millionth() {
        let dynamic = DynamicPrice {
            series: "s".into(),
            adder_per_kwh: Micros(20_000),
            multiplier: Micros(1_210_000),
            fallback_price_per_kwh: None,
        };
        // 0.123457 × 1.21 = 0.14938297 → 0.149383, + 0.02.
        assert_eq!(dynamic.effective(Micros(123_457)), Micros(169_383));
        // −0.000005 × 1.21 = −0.00000605 → −0.000006.
        assert_eq!(dynamic.effective(Micros(-5)), Micros(19_994));
    }
}
