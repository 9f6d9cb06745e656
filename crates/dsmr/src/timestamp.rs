//! Telegram timestamps as the meter writes them: local civil time `YYMMDDhhmmss` and, from
//! DSMR 4 on, a trailing `S` (summer time) or `W` (winter time).
//!
//! The meter says nothing about its time zone, so the crate keeps the civil time as written
//! and converts to an instant only when the caller names the zone. The S/W flag is what makes
//! that conversion exact in the repeated autumn hour, when 02:30 happens twice.

use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use thiserror::Error;

use crate::value::ValueError;

/// Whether the meter said daylight saving time was in force (`S`) or not (`W`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dst {
    /// `S`: summer time, daylight saving time in force.
    Summer,
    /// `W`: winter time, standard time.
    Winter,
}

/// A timestamp as written in a telegram: civil date and time plus the DST flag when present
/// (DSMR 2.2 and 3 write none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DsmrTimestamp {
    /// Local civil date and time, years `YY` read as 20YY.
    pub datetime: DateTime,
    /// The `S`/`W` flag, `None` when the meter wrote only twelve digits.
    pub dst: Option<Dst>,
}

/// Why a timestamp has no instant in the given time zone.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimestampError {
    /// The civil time fell in the hour the clocks skipped (spring forward), so no instant has
    /// it: the meter's clock or zone is not the one given.
    #[error("{timestamp} does not exist in {zone}: the clocks skipped that hour")]
    Skipped {
        /// The timestamp as written.
        timestamp: String,
        /// The time zone's name (`unnamed` for a zone without one).
        zone: String,
    },
    /// The instant is outside what the time library represents.
    #[error("{timestamp} in {zone}: {reason}")]
    OutOfRange {
        /// The timestamp as written.
        timestamp: String,
        /// The time zone's name.
        zone: String,
        /// The time library's explanation.
        reason: String,
    },
}

impl DsmrTimestamp {
    /// Reads `YYMMDDhhmmss` with an optional `S` or `W` after it.
    pub(crate) fn parse(text: &str) -> Result<Self, ValueError> {
        let refused = || ValueError::Timestamp {
            text: text.to_owned(),
        };
        let bytes = text.as_bytes();
        let (digits, dst) = match bytes {
            [digits @ .., b'S'] => (digits, Some(Dst::Summer)),
            [digits @ .., b'W'] => (digits, Some(Dst::Winter)),
            digits => (digits, None),
        };
        if digits.len() != 12 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(refused());
        }
        let pair = |i: usize| (digits[i] - b'0') * 10 + (digits[i + 1] - b'0');
        let [yy, month, day, hour, minute, second] = [0, 2, 4, 6, 8, 10].map(pair);
        let field = |v: u8| i8::try_from(v).map_err(|_| refused());
        let datetime = DateTime::new(
            2000 + i16::from(yy),
            field(month)?,
            field(day)?,
            field(hour)?,
            field(minute)?,
            field(second)?,
            0,
        )
        .map_err(|_| refused())?;
        Ok(DsmrTimestamp { datetime, dst })
    }

    /// The instant this timestamp names in `zone`, in milliseconds since the Unix epoch.
    ///
    /// In the repeated autumn hour the S/W flag picks the first pass (`S`, summer time) or the
    /// second (`W`); without a flag the first pass is taken. Outside that hour the flag is
    /// not consulted: the zone alone decides the offset.
    ///
    /// ```
    /// use jiff::tz::TimeZone;
    /// let amsterdam = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
    /// let telegram = joule_dsmr::parse(
    ///     b"/ISk5\\2MT382-1000\r\n\r\n0-0:1.0.0(231029023000W)\r\n!\r\n",
    /// ).unwrap();
    /// let at = telegram.timestamp.unwrap();
    /// // 02:30 winter time is 01:30 UTC.
    /// assert_eq!(at.to_unix_ms(&amsterdam).unwrap(), 1_698_543_000_000);
    /// ```
    pub fn to_unix_ms(&self, zone: &TimeZone) -> Result<i64, TimestampError> {
        let zone_name = || zone.iana_name().unwrap_or("unnamed").to_owned();
        let ambiguous = zone.to_ambiguous_timestamp(self.datetime);
        let resolved = match (ambiguous.offset(), self.dst) {
            (AmbiguousOffset::Gap { .. }, _) => {
                return Err(TimestampError::Skipped {
                    timestamp: self.to_string(),
                    zone: zone_name(),
                });
            }
            (AmbiguousOffset::Fold { .. }, Some(Dst::Winter)) => ambiguous.later(),
            (AmbiguousOffset::Fold { .. }, _) => ambiguous.earlier(),
            (AmbiguousOffset::Unambiguous { .. }, _) => ambiguous.compatible(),
        };
        resolved
            .map(|instant| instant.as_millisecond())
            .map_err(|err| TimestampError::OutOfRange {
                timestamp: self.to_string(),
                zone: zone_name(),
                reason: err.to_string(),
            })
    }
}

impl fmt::Display for DsmrTimestamp {
    /// Writes the timestamp back the way the meter did, e.g. `231029023000W`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = self.datetime;
        write!(
            f,
            "{:02}{:02}{:02}{:02}{:02}{:02}",
            dt.year() % 100,
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )?;
        match self.dst {
            Some(Dst::Summer) => f.write_str("S"),
            Some(Dst::Winter) => f.write_str("W"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amsterdam() -> TimeZone {
        TimeZone::get("Europe/Amsterdam").expect("bundled tzdb has Europe/Amsterdam")
    }

    fn ts(text: &str) -> DsmrTimestamp {
        DsmrTimestamp::parse(text).expect(text)
    }

    #[test]
    fn reads_civil_time_and_the_flag() {
        let t = ts("161113205757W");
        assert_eq!(t.datetime, DateTime::constant(2016, 11, 13, 20, 57, 57, 0));
        assert_eq!(t.dst, Some(Dst::Winter));
        assert_eq!(ts("230615123005S").dst, Some(Dst::Summer));
        let legacy = ts("090212160000");
        assert_eq!(legacy.dst, None);
        assert_eq!(
            legacy.datetime,
            DateTime::constant(2009, 2, 12, 16, 0, 0, 0)
        );
        for text in [
            "161113205757W",
            "230615123005S",
            "090212160000",
            "000101000001W",
        ] {
            assert_eq!(ts(text).to_string(), text, "round trip");
        }
    }

    #[test]
    fn refuses_what_is_no_timestamp() {
        for text in [
            "",
            "W",
            "16111320575W",
            "1611132057577W",
            "161113205757X",
            "161313205757W",
            "160230000000W",
            "161113245757W",
            "161113206057W",
            "16111320575aW",
            "161113205757w",
        ] {
            assert_eq!(
                DsmrTimestamp::parse(text),
                Err(ValueError::Timestamp { text: text.into() }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn summer_and_winter_outside_the_fold_follow_the_zone() {
        // 2023-06-15 12:30:05 CEST = 10:30:05 UTC.
        assert_eq!(
            ts("230615123005S").to_unix_ms(&amsterdam()),
            Ok(1_686_825_005_000)
        );
        // 2016-11-13 20:57:57 CET = 19:57:57 UTC.
        assert_eq!(
            ts("161113205757W").to_unix_ms(&amsterdam()),
            Ok(1_479_067_077_000)
        );
        // A flag that contradicts the zone is not consulted outside the fold.
        assert_eq!(
            ts("230615123005W").to_unix_ms(&amsterdam()),
            Ok(1_686_825_005_000)
        );
    }

    #[test]
    fn the_flag_picks_the_pass_through_the_repeated_autumn_hour() {
        // On 2023-10-29 Amsterdam went from 03:00 CEST back to 02:00 CET: 02:30 happened at
        // 00:30 UTC (summer, S) and again at 01:30 UTC (winter, W).
        let summer = ts("231029023000S").to_unix_ms(&amsterdam());
        let winter = ts("231029023000W").to_unix_ms(&amsterdam());
        assert_eq!(summer, Ok(1_698_539_400_000));
        assert_eq!(winter, Ok(1_698_543_000_000));
        // Without a flag (DSMR 2.2/3) the first pass is taken.
        assert_eq!(ts("231029023000").to_unix_ms(&amsterdam()), summer);
        // The hours either side are not ambiguous, whatever the flag.
        assert_eq!(
            ts("231029015959S").to_unix_ms(&amsterdam()),
            Ok(1_698_537_599_000)
        );
        assert_eq!(
            ts("231029030000W").to_unix_ms(&amsterdam()),
            Ok(1_698_544_800_000)
        );
    }

    #[test]
    fn the_skipped_spring_hour_has_no_instant() {
        // On 2024-03-31 Amsterdam jumped from 02:00 CET to 03:00 CEST.
        assert_eq!(
            ts("240331023000S").to_unix_ms(&amsterdam()),
            Err(TimestampError::Skipped {
                timestamp: "240331023000S".into(),
                zone: "Europe/Amsterdam".into()
            })
        );
        assert_eq!(
            ts("240331030000S").to_unix_ms(&amsterdam()),
            Ok(1_711_846_800_000)
        );
    }

    #[test]
    fn utc_needs_no_flag() {
        assert_eq!(
            ts("000101000001W").to_unix_ms(&TimeZone::UTC),
            Ok(946_684_801_000)
        );
    }
}
