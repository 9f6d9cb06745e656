//! Market data: price series for dynamic tariffs and critical-peak events.
//!
//! Dynamic prices arrive from outside (a day-ahead market, a retailer's feed) as text; this
//! module reads them into a checked, ordered [`PriceSeries`] so billing can walk it without
//! checking again. Three text formats are read (see the crate README):
//!
//! - CSV: a header `start,end,price_per_kwh`, then one row per price with RFC 3339
//!   instants and a decimal price per kWh; blank lines and lines starting with `#` are
//!   skipped.
//! - JSON: an array of `{"start": …, "end": …, "price_per_kwh": …}` with RFC 3339 instants
//!   and the price as a number or a decimal string.
//! - ENTSO-E transparency CSV (day-ahead prices): a header line, then rows
//!   `"DD.MM.YYYY HH:MM - DD.MM.YYYY HH:MM","price per MWh"` in the bidding zone's local
//!   time; further columns are ignored, and an empty, `-` or `n/e` price leaves a gap. A
//!   local time repeated by the autumn change is read in row order.

use crate::money::{Micros, parse_scaled};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a price series cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// A line of CSV text is malformed.
    #[error("price series line {line}: {reason}")]
    Line {
        /// Line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The JSON text is malformed.
    #[error("price series JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A price ends at or before its start.
    #[error("price series: the price starting at {start} does not end after it")]
    Empty {
        /// Start of the price.
        start: Timestamp,
    },
    /// Two prices cover the same instant.
    #[error("price series: two prices cover {at}")]
    Overlap {
        /// The first instant covered twice.
        at: Timestamp,
    },
}

/// One price over `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricePoint {
    /// First instant.
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
    /// Price per kWh.
    pub price_per_kwh: Micros,
}

/// Prices in time order, never overlapping (gaps are allowed and mean "no price").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceSeries {
    points: Vec<PricePoint>,
}

impl PriceSeries {
    /// Orders and checks prices.
    pub fn new(mut points: Vec<PricePoint>) -> Result<PriceSeries, SeriesError> {
        points.sort_by_key(|point| point.start);
        for point in &points {
            if point.end <= point.start {
                return Err(SeriesError::Empty { start: point.start });
            }
        }
        for pair in points.windows(2) {
            if pair[1].start < pair[0].end {
                return Err(SeriesError::Overlap { at: pair[1].start });
            }
        }
        Ok(PriceSeries { points })
    }

    /// The prices, in time order.
    pub fn points(&self) -> &[PricePoint] {
        &self.points
    }

    /// The price in force at an instant, if any.
    pub fn price_at(&self, at: Timestamp) -> Option<Micros> {
        let index = self.points.partition_point(|point| point.end <= at);
        self.points
            .get(index)
            .filter(|point| point.start <= at)
            .map(|point| point.price_per_kwh)
    }

    /// Reads CSV text: `start,end,price_per_kwh`.
    pub fn from_csv(text: &str) -> Result<PriceSeries, SeriesError> {
        let mut points = Vec::new();
        let mut header_seen = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let row = raw.trim();
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = row.split(',').map(str::trim).collect();
            if !header_seen {
                if fields != ["start", "end", "price_per_kwh"] {
                    return Err(SeriesError::Line {
                        line,
                        reason: "the header must be `start,end,price_per_kwh`".into(),
                    });
                }
                header_seen = true;
                continue;
            }
            let [start, end, price] = fields[..] else {
                return Err(SeriesError::Line {
                    line,
                    reason: format!("expected 3 fields, found {}", fields.len()),
                });
            };
            let instant = |text: &str| {
                text.parse::<Timestamp>().map_err(|_| SeriesError::Line {
                    line,
                    reason: format!("`{text}` is not an RFC 3339 instant"),
                })
            };
            points.push(PricePoint {
                start: instant(start)?,
                end: instant(end)?,
                price_per_kwh: Micros::parse(price).map_err(|error| SeriesError::Line {
                    line,
                    reason: error.to_string(),
                })?,
            });
        }
        PriceSeries::new(points)
    }

    /// Reads JSON text: an array of `{start, end, price_per_kwh}`.
    pub fn from_json(text: &str) -> Result<PriceSeries, SeriesError> {
        PriceSeries::new(serde_json::from_str(text)?)
    }

    /// Reads an ENTSO-E day-ahead price export (prices per MWh, local times in `zone`).
    pub fn from_entsoe_csv(text: &str, zone: &TimeZone) -> Result<PriceSeries, SeriesError> {
        let mut points = Vec::new();
        let mut previous_end: Option<Timestamp> = None;
        for (index, raw) in text.lines().enumerate().skip(1) {
            let line = index + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let error = |reason: String| SeriesError::Line { line, reason };
            let mut fields = raw
                .split(',')
                .map(|field| field.trim().trim_matches('"').trim());
            let (Some(mtu), Some(price)) = (fields.next(), fields.next()) else {
                return Err(error("expected an MTU and a price".into()));
            };
            let (start, end) = mtu
                .split_once(" - ")
                .ok_or_else(|| error(format!("`{mtu}` is not `start - end`")))?;
            let civil = |text: &str| {
                civil_datetime(text)
                    .ok_or_else(|| error(format!("`{text}` is not DD.MM.YYYY HH:MM")))
            };
            let (start_civil, end_civil) = (civil(start)?, civil(end)?);
            let start = first_instant(start_civil, zone, previous_end)
                .ok_or_else(|| error(format!("`{start}` is outside the supported range")))?;
            // An MTU is a fixed length of real time (one never straddles a DST change), so
            // its end is its start plus its length on the wall clock.
            let end = start
                .checked_add(end_civil.duration_since(start_civil))
                .map_err(|_| error(format!("`{end}` is outside the supported range")))?;
            previous_end = Some(end);
            if matches!(price, "" | "-" | "n/e") {
                continue;
            }
            // A price per MWh with three decimals is exactly millionths per kWh.
            let per_kwh = parse_scaled(price, 3).map_err(|e| error(e.to_string()))?;
            points.push(PricePoint {
                start,
                end,
                price_per_kwh: Micros(per_kwh),
            });
        }
        PriceSeries::new(points)
    }
}

/// `DD.MM.YYYY HH:MM`, an optional ` (CET)`-style suffix ignored.
fn civil_datetime(text: &str) -> Option<DateTime> {
    let text = text.split(" (").next()?.trim();
    let (date, time) = text.split_once(' ')?;
    let mut parts = date.split('.');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    format!("{year}-{month}-{day}T{time}").parse().ok()
}

/// Of the instants a wall-clock time has in `zone` (two when the autumn change repeats
/// it), the first at or after `not_before`.
fn first_instant(
    datetime: DateTime,
    zone: &TimeZone,
    not_before: Option<Timestamp>,
) -> Option<Timestamp> {
    let ambiguous = zone.to_ambiguous_timestamp(datetime);
    let candidates = [ambiguous.earlier().ok()?, ambiguous.later().ok()?];
    let floor = not_before.unwrap_or(Timestamp::MIN);
    candidates
        .iter()
        .copied()
        .find(|candidate| *candidate >= floor)
        .or(Some(candidates[0]))
}

/// A critical-peak event: its price replaces the import energy price while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriticalPeak {
    /// First instant.
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
    /// Price per kWh during the event.
    pub price_per_kwh: Micros,
}

/// What billing needs besides the plan and the meter: price series by name (for dynamic
/// import and net-billing export) and the critical-peak events called in the period.
#[derive(Debug, Clone, Default)]
pub struct Market {
    /// Price series, by the name plans use in `series`.
    pub series: BTreeMap<String, PriceSeries>,
    /// Critical-peak events (must not overlap).
    pub critical_peaks: Vec<CriticalPeak>,
}

/// The price series a plan's versions name (dynamic import, net-billing export).
pub fn series_names(plan: &crate::Plan) -> Vec<String> {
    use crate::{EnergyCharge, ExportCredit, ExportPrice};
    let mut names = Vec::new();
    for version in plan.versions() {
        if let EnergyCharge::Dynamic(dynamic) = &version.import {
            names.push(dynamic.series.clone());
        }
        if let ExportCredit::NetBilling(ExportPrice::Dynamic(dynamic)) = &version.export {
            names.push(dynamic.series.clone());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn reads_csv() {
        let series = PriceSeries::from_csv(
            "# day-ahead plus nothing\nstart,end,price_per_kwh\n\
             2026-01-01T01:00:00Z,2026-01-01T02:00:00Z,0.2\n\
             2026-01-01T00:00:00+00:00,2026-01-01T01:00:00Z,-0.01\n",
        )
        .unwrap();
        assert_eq!(series.points().len(), 2);
        assert_eq!(
            series.price_at(at("2026-01-01T00:30:00Z")),
            Some(Micros(-10_000))
        );
        assert_eq!(
            series.price_at(at("2026-01-01T01:00:00Z")),
            Some(Micros(200_000))
        );
        assert_eq!(series.price_at(at("2026-01-01T02:00:00Z")), None);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let error =
            PriceSeries::from_csv("start,end,price_per_kwh\n\n2026-01-01T00:00:00Z,x,0.1\n")
                .unwrap_err();
        assert!(
            matches!(error, SeriesError::Line { line: 3, .. }),
            "{error}"
        );
        let error = PriceSeries::from_csv("begin,end,price\n").unwrap_err();
        assert!(
            matches!(error, SeriesError::Line { line: 1, .. }),
            "{error}"
        );
        let error = PriceSeries::from_csv(
            "start,end,price_per_kwh\n2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,0.1\n\
             2026-01-01T00:30:00Z,2026-01-01T01:30:00Z,0.1\n",
        )
        .unwrap_err();
        assert!(
            matches!(error, SeriesError::Overlap { at: first } if first == at("2026-01-01T00:30:00Z"))
        );
    }

    #[test]
    fn reads_json() {
        let series = PriceSeries::from_json(
            r#"[{"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:15:00Z", "price_per_kwh": 0.105},
                {"start": "2026-01-01T00:15:00Z", "end": "2026-01-01T00:30:00Z", "price_per_kwh": "0.1"}]"#,
        )
        .unwrap();
        assert_eq!(series.points()[0].price_per_kwh, Micros(105_000));
        assert!(PriceSeries::from_json(
            r#"[{"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z", "price_per_kwh": 1}]"#
        )
        .is_err());
    }

    #[test]
    fn reads_entsoe_across_the_autumn_change() {
        let zone = TimeZone::get("Europe/Amsterdam").unwrap();
        let text = "\"MTU (CET/CEST)\",\"Day-ahead Price [EUR/MWh]\",\"Currency\"\n\
            \"25.10.2026 01:00 - 25.10.2026 02:00\",\"81.50\",\"EUR\"\n\
            \"25.10.2026 02:00 - 25.10.2026 03:00\",\"80.00\",\"EUR\"\n\
            \"25.10.2026 02:00 - 25.10.2026 03:00\",\"79.25\",\"EUR\"\n\
            \"25.10.2026 03:00 - 25.10.2026 04:00\",\"n/e\",\"EUR\"\n\
            \"25.10.2026 04:00 - 25.10.2026 05:00\",\"-1.5\",\"EUR\"\n";
        let series = PriceSeries::from_entsoe_csv(text, &zone).unwrap();
        let starts: Vec<String> = series
            .points()
            .iter()
            .map(|p| p.start.to_string())
            .collect();
        assert_eq!(
            starts,
            [
                "2026-10-24T23:00:00Z",
                "2026-10-25T00:00:00Z",
                "2026-10-25T01:00:00Z",
                "2026-10-25T03:00:00Z"
            ]
        );
        assert_eq!(series.points()[1].price_per_kwh, Micros(80_000));
        assert_eq!(series.points()[2].price_per_kwh, Micros(79_250));
        assert_eq!(series.points()[3].price_per_kwh, Micros(-1_500));
    }
}
