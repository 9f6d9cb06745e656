//! Tariff plans as their TOML files describe them, checked once when read.
//!
//! A plan is what a customer pays: a currency, a time zone and a list of versions, each in
//! force from its `effective_from` date (local midnight in the plan's zone) until the next
//! one. Every rule that can be checked without meter data is checked here, with the key
//! that broke it, so billing never meets a malformed plan. The TOML format is documented
//! key by key in `docs/CONFIG.md` and by example in the crate's README.

use crate::calendar::{CivilDate, DaySet, DayType, LocalTime, MINUTES_PER_DAY, MonthDay};
use crate::money::{MAX_CURRENCY_DIGITS, MICROS_PER_UNIT, Micros, div_round};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

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

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> PlanError {
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

fn check_name(key: &str, name: &str) -> Result<(), PlanError> {
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

/// Time-of-use prices: seasons, each with switch times per day type and a price per
/// period.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeOfUse {
    /// Seasons, together covering every day of the year exactly once.
    pub seasons: Vec<Season>,
    #[serde(skip)]
    pub(crate) table: TouTable,
}

/// One season of a time-of-use charge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Season {
    /// Name shown on the bill.
    pub name: String,
    /// First day (inclusive).
    pub from: MonthDay,
    /// Last day (inclusive); before `from` means the season wraps over the new year.
    pub to: MonthDay,
    /// Price per kWh of each period named by the switches.
    pub prices: BTreeMap<String, Micros>,
    /// Local times at which a period starts, per day type. Each of weekday and weekend
    /// needs one at 00:00; holidays follow the weekend switches unless they have their
    /// own (then also from 00:00).
    pub switches: Vec<Switch>,
}

/// A period starting at a local time on some day types.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    /// Day types it applies to.
    pub days: DaySet,
    /// Local time the period starts.
    pub at: LocalTime,
    /// The period (a key of the season's `prices`).
    pub period: String,
}

/// The checked lookup form of a time-of-use charge.
#[derive(Debug, Clone, Default)]
pub(crate) struct TouTable {
    /// Season index for each day of a leap year (by [`MonthDay::ordinal`]).
    pub(crate) season_of_day: Vec<u8>,
    /// Per season, per day type (weekday, weekend, holiday): (minute, period) sorted by
    /// minute, starting at minute 0.
    pub(crate) schedules: Vec<[Vec<(u16, usize)>; 3]>,
    /// Every (season, period) with its price; the period indices above point here.
    pub(crate) periods: Vec<TouPeriod>,
}

/// A priced period of one season.
#[derive(Debug, Clone)]
pub(crate) struct TouPeriod {
    pub(crate) label: String,
    pub(crate) price_per_kwh: Micros,
}

impl TouTable {
    /// The switches of a local date: its season's schedule for its day type.
    pub(crate) fn schedule(&self, date: Date, day_type: DayType) -> &[(u16, usize)] {
        let season = self.season_of_day[MonthDay::of(date).ordinal()] as usize;
        let index = match day_type {
            DayType::Weekday => 0,
            DayType::Weekend => 1,
            DayType::Holiday => 2,
        };
        &self.schedules[season][index]
    }
}

impl TimeOfUse {
    fn check(&mut self, key: &str) -> Result<(), PlanError> {
        if self.seasons.is_empty() {
            return Err(invalid(
                format!("{key}.seasons"),
                "a time-of-use charge needs at least one season",
            ));
        }
        if self.seasons.len() > usize::from(u8::MAX) {
            return Err(invalid(format!("{key}.seasons"), "at most 255 seasons"));
        }
        let single_season = self.seasons.len() == 1;
        let mut table = TouTable {
            season_of_day: vec![u8::MAX; 366],
            ..TouTable::default()
        };
        for (index, season) in self.seasons.iter().enumerate() {
            let key = format!("{key}.seasons[{index}]");
            check_name(&format!("{key}.name"), &season.name)?;
            let mut day = season.from.ordinal();
            loop {
                if table.season_of_day[day] != u8::MAX {
                    return Err(invalid(
                        &key,
                        format!(
                            "overlaps season `{}`",
                            self.seasons[table.season_of_day[day] as usize].name
                        ),
                    ));
                }
                table.season_of_day[day] = index as u8;
                if day == season.to.ordinal() {
                    break;
                }
                day = (day + 1) % 366;
            }
            let first_period = table.periods.len();
            let mut period_index = BTreeMap::new();
            for (name, price) in &season.prices {
                period_index.insert(name.as_str(), table.periods.len());
                table.periods.push(TouPeriod {
                    label: if single_season {
                        name.clone()
                    } else {
                        format!("{name}, {}", season.name)
                    },
                    price_per_kwh: *price,
                });
            }
            table
                .schedules
                .push(season_schedules(&key, season, &period_index)?);
            let used: BTreeSet<usize> = table.schedules[index]
                .iter()
                .flatten()
                .map(|&(_, period)| period)
                .collect();
            if let Some(unused) = (first_period..table.periods.len()).find(|p| !used.contains(p)) {
                return Err(invalid(
                    format!("{key}.prices"),
                    format!(
                        "period `{}` is never switched to",
                        table.periods[unused].label
                    ),
                ));
            }
        }
        if let Some(day) = table.season_of_day.iter().position(|&s| s == u8::MAX) {
            let date = Date::new(2024, 1, 1)
                .ok()
                .and_then(|start| start.checked_add(jiff::Span::new().days(day as i64)).ok())
                .map(|date| MonthDay::of(date).to_string())
                .unwrap_or_default();
            return Err(invalid(
                format!("{key}.seasons"),
                format!("no season covers {date}"),
            ));
        }
        self.table = table;
        Ok(())
    }
}

fn season_schedules(
    key: &str,
    season: &Season,
    period_index: &BTreeMap<&str, usize>,
) -> Result<[Vec<(u16, usize)>; 3], PlanError> {
    let mut schedules: [Vec<(u16, usize)>; 3] = Default::default();
    let day_types = [DayType::Weekday, DayType::Weekend, DayType::Holiday];
    for (index, switch) in season.switches.iter().enumerate() {
        let field = format!("{key}.switches[{index}]");
        let period = *period_index.get(switch.period.as_str()).ok_or_else(|| {
            invalid(
                format!("{field}.period"),
                format!("`{}` has no price in this season", switch.period),
            )
        })?;
        if switch.at.0 >= MINUTES_PER_DAY {
            return Err(invalid(
                format!("{field}.at"),
                "a switch must be before 24:00",
            ));
        }
        for (slot, day_type) in day_types.iter().enumerate() {
            if !switch.days.contains(*day_type) {
                continue;
            }
            if schedules[slot]
                .iter()
                .any(|&(minute, _)| minute == switch.at.0)
            {
                return Err(invalid(
                    format!("{field}.at"),
                    format!("two switches at {} on the same day type", switch.at),
                ));
            }
            schedules[slot].push((switch.at.0, period));
        }
    }
    for schedule in &mut schedules {
        schedule.sort_unstable();
    }
    if schedules[2].is_empty() {
        schedules[2] = schedules[1].clone();
    }
    for (slot, name) in ["weekday", "weekend", "holiday"].iter().enumerate() {
        if schedules[slot].first().map(|&(minute, _)| minute) != Some(0) {
            return Err(invalid(
                format!("{key}.switches"),
                format!("{name} days need a switch at 00:00"),
            ));
        }
    }
    Ok(schedules)
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

    fn tou(seasons: &str) -> Result<Plan, PlanError> {
        plan(&format!(
            "[[versions]]\neffective_from = 2026-01-01\n[versions.import]\nkind = \"time_of_use\"\n{seasons}"
        ))
    }

    const ALL_DAY: &str = "prices = { base = 0.2 }\nswitches = [{ days = \"all\", at = \"00:00\", period = \"base\" }]\n";

    #[test]
    fn seasons_must_cover_the_year_once() {
        let error = tou(&format!(
            "[[versions.import.seasons]]\nname = \"s\"\nfrom = \"01-01\"\nto = \"12-30\"\n{ALL_DAY}"
        ))
        .unwrap_err();
        assert!(error.to_string().contains("12-31"), "{error}");
        let error = tou(&format!(
            "[[versions.import.seasons]]\nname = \"a\"\nfrom = \"04-01\"\nto = \"03-31\"\n{ALL_DAY}\
             [[versions.import.seasons]]\nname = \"b\"\nfrom = \"06-01\"\nto = \"06-30\"\n{ALL_DAY}"
        ))
        .unwrap_err();
        assert_eq!(key_of(error), "versions[0].import.seasons[1]");
        // A season wrapping over the new year covers everything on its own.
        tou(&format!(
            "[[versions.import.seasons]]\nname = \"a\"\nfrom = \"04-01\"\nto = \"03-31\"\n{ALL_DAY}"
        ))
        .unwrap();
    }

    #[test]
    fn day_types_need_a_switch_at_midnight_and_known_periods() {
        let error = tou(
            "[[versions.import.seasons]]\nname = \"s\"\nfrom = \"01-01\"\nto = \"12-31\"\nprices = { peak = 0.3 }\nswitches = [{ days = \"weekday\", at = \"00:00\", period = \"peak\" }]\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("weekend days"), "{error}");
        let error = tou(
            "[[versions.import.seasons]]\nname = \"s\"\nfrom = \"01-01\"\nto = \"12-31\"\nprices = { peak = 0.3 }\nswitches = [{ days = \"all\", at = \"00:00\", period = \"off\" }]\n",
        )
        .unwrap_err();
        assert_eq!(
            key_of(error),
            "versions[0].import.seasons[0].switches[0].period"
        );
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
