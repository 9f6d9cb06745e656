//! Civil time in the plan's zone: local days, day types, seasons and switch times.
//!
//! Prices follow the wall clock where the customer lives, while meters and price series
//! count UTC instants. This module is the one place that converts between the two, a day
//! at a time, so a DST day of 23 or 25 hours gets exactly the instants it has: a switch
//! at 07:00 is at 07:00 local on every day, a day starts at its first local instant, and a
//! fraction of a day is measured against that day's own length.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Minutes in a local day on the wall clock (a DST day still runs 00:00 to 24:00).
pub(crate) const MINUTES_PER_DAY: u16 = 24 * 60;

/// An instant or date outside what the time zone database can represent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is outside the supported range of dates")]
pub struct OutOfRange(pub String);

/// A day of the year as `MM-DD`, for season boundaries (`02-29` is allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthDay {
    /// Month, 1 to 12.
    pub month: i8,
    /// Day of the month, 1 to 31.
    pub day: i8,
}

impl MonthDay {
    /// The month-day of a date.
    pub fn of(date: Date) -> MonthDay {
        MonthDay {
            month: date.month(),
            day: date.day(),
        }
    }

    /// The position of this day in a leap year (0 for 01-01, 365 for 12-31).
    pub(crate) fn ordinal(self) -> usize {
        const STARTS: [usize; 12] = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335];
        STARTS[(self.month - 1) as usize] + (self.day - 1) as usize
    }
}

impl FromStr for MonthDay {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || format!("`{text}` is not a month and day MM-DD");
        let (month, day) = text.split_once('-').ok_or_else(error)?;
        if month.len() != 2 || day.len() != 2 {
            return Err(error());
        }
        let month: i8 = month.parse().map_err(|_| error())?;
        let day: i8 = day.parse().map_err(|_| error())?;
        // Checked against a leap year, so 02-29 is a valid season boundary.
        Date::new(2024, month, day).map_err(|_| error())?;
        Ok(MonthDay { month, day })
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// A wall-clock time `HH:MM` as minutes after local midnight; `24:00` means the end of
/// the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(pub u16);

impl FromStr for LocalTime {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || format!("`{text}` is not a time HH:MM (00:00 to 24:00)");
        let (hours, minutes) = text.split_once(':').ok_or_else(error)?;
        if hours.len() != 2 || minutes.len() != 2 {
            return Err(error());
        }
        let hours: u16 = hours.parse().map_err(|_| error())?;
        let minutes: u16 = minutes.parse().map_err(|_| error())?;
        let minute = hours * 60 + minutes;
        if minutes >= 60 || minute > MINUTES_PER_DAY {
            return Err(error());
        }
        Ok(LocalTime(minute))
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// How a day is priced: holidays (from the plan's list) before weekends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayType {
    /// Monday to Friday, not a holiday.
    Weekday,
    /// Saturday and Sunday, not a holiday.
    Weekend,
    /// A date in the plan's holiday list.
    Holiday,
}

impl DayType {
    /// The day type of a local date.
    pub fn of(date: Date, holidays: &BTreeSet<Date>) -> DayType {
        if holidays.contains(&date) {
            DayType::Holiday
        } else if matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) {
            DayType::Weekend
        } else {
            DayType::Weekday
        }
    }

    fn bit(self) -> u8 {
        match self {
            DayType::Weekday => 1,
            DayType::Weekend => 2,
            DayType::Holiday => 4,
        }
    }
}

/// A set of day types: `"weekday"`, `"weekend"`, `"holiday"`, `"all"`, or a list of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DaySet(u8);

impl DaySet {
    /// Every day.
    pub const ALL: DaySet = DaySet(7);

    /// Whether the set holds this day type.
    pub fn contains(self, day: DayType) -> bool {
        self.0 & day.bit() != 0
    }

    fn from_name(name: &str) -> Option<DaySet> {
        Some(match name {
            "weekday" => DaySet(DayType::Weekday.bit()),
            "weekend" => DaySet(DayType::Weekend.bit()),
            "holiday" => DaySet(DayType::Holiday.bit()),
            "all" => DaySet::ALL,
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for DaySet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Names {
            One(String),
            Many(Vec<String>),
        }
        let names = match Names::deserialize(deserializer)? {
            Names::One(name) => vec![name],
            Names::Many(names) => names,
        };
        let mut set = DaySet(0);
        for name in &names {
            let one = DaySet::from_name(name).ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown day type `{name}` (weekday, weekend, holiday, all)"
                ))
            })?;
            set.0 |= one.0;
        }
        if set.0 == 0 {
            return Err(de::Error::custom("an empty list of day types"));
        }
        Ok(set)
    }
}

macro_rules! deserialize_from_str {
    ($type:ty) => {
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?
                    .parse()
                    .map_err(de::Error::custom)
            }
        }
    };
}
deserialize_from_str!(MonthDay);
deserialize_from_str!(LocalTime);

/// A civil date read from a TOML date (`2026-01-01`) or a string (`"2026-01-01"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CivilDate(pub(crate) Date);

impl<'de> Deserialize<'de> for CivilDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Input {
            Text(String),
            Toml(toml::value::Datetime),
        }
        let text = match Input::deserialize(deserializer)? {
            Input::Text(text) => text,
            Input::Toml(datetime) if datetime.time.is_none() && datetime.offset.is_none() => {
                datetime.to_string()
            }
            Input::Toml(datetime) => {
                return Err(de::Error::custom(format!(
                    "`{datetime}` is not a date YYYY-MM-DD"
                )));
            }
        };
        text.parse::<Date>()
            .map(CivilDate)
            .map_err(|_| de::Error::custom(format!("`{text}` is not a date YYYY-MM-DD")))
    }
}

/// The first instant of a local date, in Unix seconds (after the gap when midnight is
/// skipped, the first of two when it repeats).
pub(crate) fn day_start_s(zone: &TimeZone, date: Date) -> Result<i64, OutOfRange> {
    local_instant_s(zone, date, 0)
}

/// The instant of a wall-clock minute on a local date, in Unix seconds. A time that a
/// spring change skips means the instant the clock jumps over it; a time that an autumn
/// change repeats means its first occurrence. Minute 1440 is the start of the next day.
pub(crate) fn local_instant_s(zone: &TimeZone, date: Date, minute: u16) -> Result<i64, OutOfRange> {
    let out_of_range = || OutOfRange(date.to_string());
    if minute >= MINUTES_PER_DAY {
        let next = date.tomorrow().map_err(|_| out_of_range())?;
        return day_start_s(zone, next);
    }
    let datetime = date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
    let ambiguous = zone.to_ambiguous_timestamp(datetime);
    let instant = match ambiguous.offset() {
        // The wall clock passes this time when it jumps over the gap: at the transition,
        // the last one before this time read at the offset from before the gap.
        AmbiguousOffset::Gap { before, .. } => before
            .to_timestamp(datetime)
            .ok()
            .and_then(|late| zone.preceding(late).next())
            .map(|transition| transition.timestamp())
            .ok_or_else(out_of_range)?,
        _ => ambiguous.compatible().map_err(|_| out_of_range())?,
    };
    Ok(instant.as_second())
}

/// The local date of an instant given in Unix seconds.
pub(crate) fn local_date(zone: &TimeZone, second: i64) -> Result<Date, OutOfRange> {
    let timestamp =
        Timestamp::from_second(second).map_err(|_| OutOfRange(format!("Unix second {second}")))?;
    Ok(zone.to_offset(timestamp).to_datetime(timestamp).date())
}

/// One local day as UTC seconds `[start_s, end_s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalDay {
    pub(crate) date: Date,
    pub(crate) start_s: i64,
    pub(crate) end_s: i64,
}

impl LocalDay {
    /// Millionths of this day that `[from_s, to_s)` covers (1,000,000 for the whole day,
    /// whether it has 23, 24 or 25 hours).
    pub(crate) fn fraction_micros(&self, from_s: i64, to_s: i64) -> i64 {
        let overlap = to_s.min(self.end_s) - from_s.max(self.start_s);
        if overlap <= 0 {
            return 0;
        }
        let micros = i128::from(overlap) * 1_000_000 / i128::from(self.end_s - self.start_s);
        micros as i64
    }
}

/// The local days that overlap `[from_s, to_s)`, in order.
pub(crate) fn local_days(
    zone: &TimeZone,
    from_s: i64,
    to_s: i64,
) -> Result<Vec<LocalDay>, OutOfRange> {
    let mut days = Vec::new();
    let mut date = local_date(zone, from_s)?;
    let mut start_s = day_start_s(zone, date)?;
    while start_s < to_s {
        let next = date.tomorrow().map_err(|_| OutOfRange(date.to_string()))?;
        let end_s = day_start_s(zone, next)?;
        days.push(LocalDay {
            date,
            start_s,
            end_s,
        });
        date = next;
        start_s = end_s;
    }
    Ok(days)
}

/// Millionths of local days in `[from_s, to_s)`: each day counts by the share of its own
/// length that the range covers.
pub(crate) fn days_micros(zone: &TimeZone, from_s: i64, to_s: i64) -> Result<i64, OutOfRange> {
    Ok(local_days(zone, from_s, to_s)?
        .iter()
        .map(|day| day.fraction_micros(from_s, to_s))
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn amsterdam() -> TimeZone {
        TimeZone::get("Europe/Amsterdam").unwrap()
    }

    fn second(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let zone = amsterdam();
        let days = local_days(
            &zone,
            second("2026-03-28T23:00:00Z"),
            second("2026-03-29T22:00:00Z"),
        )
        .unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].date, date(2026, 3, 29));
        assert_eq!(days[0].end_s - days[0].start_s, 23 * 3600);
        let autumn = local_days(
            &zone,
            second("2026-10-24T22:00:00Z"),
            second("2026-10-25T23:00:00Z"),
        )
        .unwrap();
        assert_eq!(autumn.len(), 1);
        assert_eq!(autumn[0].end_s - autumn[0].start_s, 25 * 3600);
        assert_eq!(
            days_micros(&zone, autumn[0].start_s, autumn[0].end_s),
            Ok(1_000_000)
        );
    }

    #[test]
    fn wall_clock_minutes_in_gaps_and_folds() {
        let zone = amsterdam();
        // 02:30 does not exist on 2026-03-29: the clock jumps from 02:00 to 03:00 (01:00Z).
        assert_eq!(
            local_instant_s(&zone, date(2026, 3, 29), 150),
            Ok(second("2026-03-29T01:00:00Z"))
        );
        // 02:30 happens twice on 2026-10-25: the first is 00:30Z.
        assert_eq!(
            local_instant_s(&zone, date(2026, 10, 25), 150),
            Ok(second("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            local_instant_s(&zone, date(2026, 10, 25), MINUTES_PER_DAY),
            Ok(second("2026-10-25T23:00:00Z"))
        );
    }

    #[test]
    fn parses_month_days_times_and_day_sets() {
        assert_eq!("02-29".parse(), Ok(MonthDay { month: 2, day: 29 }));
        assert!("02-30".parse::<MonthDay>().is_err());
        assert!("2-3".parse::<MonthDay>().is_err());
        assert_eq!(MonthDay { month: 12, day: 31 }.ordinal(), 365);
        assert_eq!("07:30".parse(), Ok(LocalTime(450)));
        assert_eq!("24:00".parse(), Ok(LocalTime(1440)));
        for bad in ["24:01", "7:30", "07:60", "0730"] {
            assert!(bad.parse::<LocalTime>().is_err(), "{bad}");
        }
        let set: DaySet = serde_json::from_str(r#"["weekend", "holiday"]"#).unwrap();
        assert!(set.contains(DayType::Holiday) && !set.contains(DayType::Weekday));
        assert!(serde_json::from_str::<DaySet>(r#""sunday""#).is_err());
    }

    #[test]
    fn holidays_come_before_weekends() {
        let holidays = BTreeSet::from([date(2026, 12, 26)]);
        assert_eq!(DayType::of(date(2026, 12, 26), &holidays), DayType::Holiday);
        assert_eq!(DayType::of(date(2026, 12, 27), &holidays), DayType::Weekend);
        assert_eq!(DayType::of(date(2026, 12, 28), &holidays), DayType::Weekday);
    }
}
