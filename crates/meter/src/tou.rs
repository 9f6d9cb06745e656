//! Which tariff register energy goes to, from a time-of-use schedule in local civil time.
//!
//! Switch points are wall-clock times in the schedule's time zone, so a 07:00 switch
//! happens at 07:00 local on every day, including the DST days of 23 and 25 hours
//! (`jiff` does the civil-time arithmetic). Holidays count as weekend days.

use crate::state::Schedule;
use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use joule_metrology::MAX_TARIFFS;
use joule_protocol::Days;
use std::collections::BTreeSet;

/// Why a schedule cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TouError {
    /// Unknown time zone.
    #[error("unknown time zone `{0}`")]
    TimeZone(String),
    /// A switch time is not `HH:MM`.
    #[error("switch time `{0}` is not HH:MM")]
    Time(String),
    /// A tariff number has no register.
    #[error("tariff {0} has no register (0..{MAX_TARIFFS})")]
    Tariff(u8),
    /// A holiday is not `YYYY-MM-DD`.
    #[error("holiday `{0}` is not YYYY-MM-DD")]
    Holiday(String),
    /// No switch points.
    #[error("a schedule needs at least one switch")]
    Empty,
}

/// A validated schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct TouCalendar {
    zone: TimeZone,
    /// (days, minute of the day, tariff), in the order given.
    switches: Vec<(Days, u16, u8)>,
    holidays: BTreeSet<Date>,
}

impl TouCalendar {
    /// Checks and builds a calendar.
    pub fn new(schedule: &Schedule) -> Result<Self, TouError> {
        let zone = TimeZone::get(&schedule.timezone)
            .map_err(|_| TouError::TimeZone(schedule.timezone.clone()))?;
        if schedule.switches.is_empty() {
            return Err(TouError::Empty);
        }
        let mut switches = Vec::new();
        for switch in &schedule.switches {
            let minute =
                minute_of_day(&switch.start).ok_or_else(|| TouError::Time(switch.start.clone()))?;
            if usize::from(switch.tariff) >= MAX_TARIFFS {
                return Err(TouError::Tariff(switch.tariff));
            }
            switches.push((switch.days, minute, switch.tariff));
        }
        let holidays = schedule
            .holidays
            .iter()
            .map(|day| {
                day.parse::<Date>()
                    .map_err(|_| TouError::Holiday(day.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            zone,
            switches,
            holidays,
        })
    }

    /// The tariff in force at `unix_ms`: the latest switch at or before that local time,
    /// looking back over previous days when none has happened yet today.
    pub fn tariff_at(&self, unix_ms: i64) -> Option<u8> {
        let zoned = Timestamp::from_millisecond(unix_ms)
            .ok()?
            .to_zoned_datetime(self.zone.clone());
        let now_minute =
            u16::try_from(zoned.hour()).ok()? * 60 + u16::try_from(zoned.minute()).ok()?;
        let mut date = zoned.date();
        for back in 0..8 {
            let weekend_like = matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
                || self.holidays.contains(&date);
            let latest = self
                .switches
                .iter()
                .filter(|(days, minute, _)| {
                    Schedule::applies(*days, weekend_like) && (back > 0 || *minute <= now_minute)
                })
                .max_by_key(|(_, minute, _)| *minute);
            if let Some((_, _, tariff)) = latest {
                return Some(*tariff);
            }
            date = date.yesterday().ok()?;
        }
        None
    }
}

fn minute_of_day(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60 && text.len() == 5).then_some(hours * 60 + minutes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use joule_protocol::TariffSwitch;

    fn calendar() -> TouCalendar {
        let switch = |days, start: &str, tariff| TariffSwitch {
            days,
            start: start.into(),
            tariff,
        };
        TouCalendar::new(&Schedule {
            timezone: "Europe/Amsterdam".into(),
            switches: vec![
                switch(Days::Weekdays, "07:00", 1),
                switch(Days::Weekdays, "23:00", 0),
                switch(Days::Weekends, "00:00", 0),
            ],
            holidays: vec!["2026-12-25".into()],
        })
        .unwrap()
    }

    fn at(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn weekdays_weekends_and_holidays() {
        let tou = calendar();
        // Tuesday 2026-11-24, Amsterdam is UTC+1.
        assert_eq!(tou.tariff_at(at("2026-11-24T05:59:00Z")), Some(0));
        assert_eq!(tou.tariff_at(at("2026-11-24T06:00:00Z")), Some(1));
        assert_eq!(tou.tariff_at(at("2026-11-24T21:59:59Z")), Some(1));
        assert_eq!(tou.tariff_at(at("2026-11-24T22:00:00Z")), Some(0));
        // Saturday, and Christmas (a Friday) as a holiday.
        assert_eq!(tou.tariff_at(at("2026-11-28T10:00:00Z")), Some(0));
        assert_eq!(tou.tariff_at(at("2026-12-25T10:00:00Z")), Some(0));
        // Monday before 07:00 carries Sunday's tariff.
        assert_eq!(tou.tariff_at(at("2026-11-30T05:00:00Z")), Some(0));
    }

    #[test]
    fn switches_follow_local_time_across_dst() {
        let tou = calendar();
        // Monday 2026-03-30, after the spring change: UTC+2, so 07:00 local is 05:00Z.
        assert_eq!(tou.tariff_at(at("2026-03-30T04:59:00Z")), Some(0));
        assert_eq!(tou.tariff_at(at("2026-03-30T05:00:00Z")), Some(1));
        // Monday 2026-10-26, after the autumn change: UTC+1 again.
        assert_eq!(tou.tariff_at(at("2026-10-26T05:59:00Z")), Some(0));
        assert_eq!(tou.tariff_at(at("2026-10-26T06:00:00Z")), Some(1));
    }

    #[test]
    fn bad_schedules_are_refused() {
        let mut schedule = Schedule {
            timezone: "Mars/Olympus".into(),
            switches: Vec::new(),
            holidays: Vec::new(),
        };
        assert_eq!(
            TouCalendar::new(&schedule).unwrap_err(),
            TouError::TimeZone("Mars/Olympus".into())
        );
        schedule.timezone = "UTC".into();
        assert_eq!(TouCalendar::new(&schedule).unwrap_err(), TouError::Empty);
        schedule.switches.push(TariffSwitch {
            days: Days::All,
            start: "7:00".into(),
            tariff: 0,
        });
        assert!(matches!(
            TouCalendar::new(&schedule),
            Err(TouError::Time(_))
        ));
    }
}
