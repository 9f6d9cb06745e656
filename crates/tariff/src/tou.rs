//! Time-of-use charges: seasons, day types and switch times, checked into a lookup table.
//!
//! The TOML says which period starts at which local time on which day types in which
//! season; billing needs, for any local date, the list of switches in force. This module
//! checks the first (seasons cover the year once, every day type starts at 00:00, every
//! period has a price) and builds the second once, when the plan is read.

use crate::calendar::{DaySet, DayType, LocalTime, MINUTES_PER_DAY, MonthDay};
use crate::money::Micros;
use crate::plan::{PlanError, check_name, invalid};
use jiff::civil::Date;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

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
    pub(crate) fn check(&mut self, key: &str) -> Result<(), PlanError> {
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

#[cfg(test)]
mod tests {
    use crate::plan::{Plan, PlanError};

    const HEAD: &str = "name = \"t\"\ncurrency = \"EUR\"\ntime_zone = \"Europe/Amsterdam\"\n";

    fn key_of(error: PlanError) -> String {
        match error {
            PlanError::Invalid { key, .. } => key,
            PlanError::Toml(error) => panic!("not a rule error: {error}"),
        }
    }

    fn tou(seasons: &str) -> Result<Plan, PlanError> {
        Plan::from_toml(&format!(
            "{HEAD}[[versions]]\neffective_from = 2026-01-01\n[versions.import]\nkind = \"time_of_use\"\n{seasons}"
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
}
