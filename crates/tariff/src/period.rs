//! Billing periods: half-open ranges of UTC instants.
//!
//! Every computation that covers a stretch of time (a bill, a cost so far, a validation)
//! takes one of these, so "from the start, up to but not including the end" is decided
//! once. A period can be given as instants or as local dates in the plan's zone.

use crate::calendar::{OutOfRange, day_start_s};
use crate::plan::Plan;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Why a period cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The end is not after the start.
    #[error("period ends at {end}, not after its start {start}")]
    Empty {
        /// Start given.
        start: Timestamp,
        /// End given.
        end: Timestamp,
    },
    /// A date cannot be placed in the zone.
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
}

/// `[start, end)` in UTC, at whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    start: Timestamp,
    end: Timestamp,
}

impl Period {
    /// A period between two instants (sub-second parts are dropped).
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Period, PeriodError> {
        let start_s = start.as_second();
        let end_s = end.as_second();
        if end_s <= start_s {
            return Err(PeriodError::Empty { start, end });
        }
        Period::from_seconds(start_s, end_s).ok_or(PeriodError::Empty { start, end })
    }

    /// From local midnight of `from` to local midnight of `to` (exclusive) in the plan's
    /// zone: `2026-03-01`..`2026-04-01` is March.
    pub fn from_dates(plan: &Plan, from: Date, to: Date) -> Result<Period, PeriodError> {
        let zone = plan.time_zone();
        let start = day_start_s(zone, from)?;
        let end = day_start_s(zone, to)?;
        let instant = |second| Timestamp::from_second(second).unwrap_or(Timestamp::MIN);
        if end <= start {
            return Err(PeriodError::Empty {
                start: instant(start),
                end: instant(end),
            });
        }
        Period::from_seconds(start, end).ok_or(PeriodError::Empty {
            start: instant(start),
            end: instant(end),
        })
    }

    pub(crate) fn from_seconds(start_s: i64, end_s: i64) -> Option<Period> {
        Some(Period {
            start: Timestamp::from_second(start_s).ok()?,
            end: Timestamp::from_second(end_s).ok()?,
        })
        .filter(|_| start_s < end_s)
    }

    /// First instant.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// End (exclusive).
    pub fn end(&self) -> Timestamp {
        self.end
    }

    pub(crate) fn start_s(&self) -> i64 {
        self.start.as_second()
    }

    pub(crate) fn end_s(&self) -> i64 {
        self.end.as_second()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn local_dates_become_local_midnights() {
        let plan = Plan::from_toml(
            "name = \"t\"\ncurrency = \"EUR\"\ntime_zone = \"Europe/Amsterdam\"\n\
             [[versions]]\neffective_from = 2026-01-01\nimport = { kind = \"flat\", price_per_kwh = 0.25 }\n",
        )
        .unwrap();
        let march = Period::from_dates(&plan, date(2026, 3, 1), date(2026, 4, 1)).unwrap();
        assert_eq!(march.start().to_string(), "2026-02-28T23:00:00Z");
        assert_eq!(march.end().to_string(), "2026-03-31T22:00:00Z");
        assert!(Period::from_dates(&plan, date(2026, 3, 1), date(2026, 3, 1)).is_err());
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert!(matches!(
            Period::new(start, start),
            Err(PeriodError::Empty { .. })
        ));
    }
}
