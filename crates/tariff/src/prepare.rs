//! A plan applied to a period and its market data, once for many meters.
//!
//! Everything about a bill that does not depend on the meter is worked out here: which
//! version is in force when (the period is cut at each effective date, local midnight),
//! the price timelines for import and export (`timeline`), tier bounds, standing charges
//! and the net-metering terms. Billing a meter is then a walk of its intervals along the
//! timelines with no time-zone lookups at all.

use crate::calendar::{OutOfRange, day_start_s, days_micros};
use crate::intervals::Finding;
use crate::money::{Micros, format_scaled};
use crate::period::Period;
use crate::plan::{ExportCredit, NetMetering, Plan, TrueUp, Version};
use crate::series::Market;
use crate::timeline::{Bucket, Builder, Slot, TierSet, UNPRICED, mark_demand, merge};
use jiff::Timestamp;
use jiff::civil::Date;

/// Why a period cannot be billed under a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    /// The period starts before the plan's first version.
    #[error("no version of the plan is in force on {date}")]
    NoVersion {
        /// The local date of the period's start.
        date: Date,
    },
    /// A dynamic price refers to a series the market data does not have.
    #[error("price series `{series}` is not in the market data")]
    UnknownSeries {
        /// Its name.
        series: String,
    },
    /// A dynamic price has no value for an instant in the period and no fallback.
    #[error("price series `{series}` has no price at {at}")]
    MissingPrice {
        /// The series.
        series: String,
        /// The first instant without a price.
        at: Timestamp,
    },
    /// Critical-peak events overlap or are empty.
    #[error("critical-peak event at {at} overlaps another or is empty")]
    CriticalPeak {
        /// Start of the event.
        at: Timestamp,
    },
    /// Net metering and another export arrangement in one period.
    #[error("the period mixes net metering with another export arrangement (from {date})")]
    MixedExport {
        /// First date of the version that differs.
        date: Date,
    },
    /// A register is lower at the end of the period than at its start.
    #[error("the {register:?} register went backwards over the period")]
    RegisterBackwards {
        /// Which register.
        register: crate::intervals::Register,
    },
    /// A date or instant beyond the time zone database.
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
}

/// A part of the period under one version.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) start_s: i64,
    pub(crate) end_s: i64,
    pub(crate) version: usize,
    /// Millionths of local days in the segment.
    pub(crate) days_micros: i64,
    /// Appended to descriptions when the period has several segments.
    pub(crate) suffix: String,
}

/// A fixed charge line, exact.
#[derive(Debug, Clone)]
pub(crate) struct FixedLine {
    pub(crate) description: String,
    pub(crate) quantity: String,
    pub(crate) unit: &'static str,
    pub(crate) unit_price: Micros,
    pub(crate) picos: i128,
    pub(crate) segment: usize,
}

/// Net-metering settings for the period.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NetMeteringTerms {
    pub(crate) true_up: bool,
    pub(crate) true_up_price: Option<Micros>,
}

/// A plan applied to a period and its market data: everything a bill needs but the
/// meter's own data. Build it once and bill any number of meters with it.
#[derive(Debug, Clone)]
pub struct PreparedPeriod<'p> {
    pub(crate) plan: &'p Plan,
    pub(crate) period: Period,
    pub(crate) segments: Vec<Segment>,
    pub(crate) import: Vec<Slot>,
    pub(crate) export: Vec<Slot>,
    pub(crate) export_priced: bool,
    pub(crate) buckets: Vec<Bucket>,
    pub(crate) tier_sets: Vec<TierSet>,
    pub(crate) fixed: Vec<FixedLine>,
    pub(crate) net_metering: Option<NetMeteringTerms>,
    pub(crate) findings: Vec<Finding>,
}

impl<'p> PreparedPeriod<'p> {
    /// Prepares a period under a plan with the market data it needs (price series named
    /// by dynamic prices, critical-peak events).
    pub fn new(plan: &'p Plan, period: Period, market: &Market) -> Result<Self, BillError> {
        let segments = segments(plan, period)?;
        let mut builder = Builder {
            plan,
            market,
            buckets: Vec::new(),
            tier_sets: Vec::new(),
            findings: Vec::new(),
        };
        let mut import = Vec::new();
        let mut export = Vec::new();
        let mut fixed = Vec::new();
        for (index, segment) in segments.iter().enumerate() {
            let version = &plan.versions()[segment.version];
            import.extend(builder.import_slots(index, segment, version, period)?);
            export.extend(builder.export_slots(index, segment, version)?);
            fixed.extend(fixed_lines(plan, index, segment, version)?);
        }
        let import = mark_demand(plan, &segments, import)?;
        let import = builder.critical_peaks(import, &segments)?;
        let export_priced = export.iter().any(|slot| slot.bucket != UNPRICED);
        let net_metering = net_metering(plan, &segments, period)?;
        Ok(PreparedPeriod {
            plan,
            period,
            segments,
            import: merge(import),
            export: merge(export),
            export_priced,
            buckets: builder.buckets,
            tier_sets: builder.tier_sets,
            fixed,
            net_metering,
            findings: builder.findings,
        })
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        self.plan
    }

    /// The period.
    pub fn period(&self) -> Period {
        self.period
    }
}

/// The period cut at every version's effective date.
fn segments(plan: &Plan, period: Period) -> Result<Vec<Segment>, BillError> {
    let zone = plan.time_zone();
    let starts: Vec<i64> = plan
        .versions()
        .iter()
        .map(|version| day_start_s(zone, version.effective_from))
        .collect::<Result<_, _>>()?;
    let (start_s, end_s) = (period.start_s(), period.end_s());
    let first = starts.partition_point(|&s| s <= start_s);
    if first == 0 {
        return Err(BillError::NoVersion {
            date: crate::calendar::local_date(zone, start_s)?,
        });
    }
    let mut segments = Vec::new();
    let mut version = first - 1;
    let mut from = start_s;
    while from < end_s {
        let to = starts
            .get(version + 1)
            .copied()
            .filter(|&s| s < end_s)
            .unwrap_or(end_s);
        segments.push(Segment {
            start_s: from,
            end_s: to,
            version,
            days_micros: days_micros(zone, from, to)?,
            suffix: String::new(),
        });
        from = to;
        version += 1;
    }
    if segments.len() > 1 {
        for segment in &mut segments {
            segment.suffix = format!(
                " (prices from {})",
                plan.versions()[segment.version].effective_from
            );
        }
    }
    Ok(segments)
}

/// The standing charges of a segment, exact.
fn fixed_lines(
    plan: &Plan,
    index: usize,
    segment: &Segment,
    version: &Version,
) -> Result<Vec<FixedLine>, BillError> {
    let mut lines = Vec::new();
    let per_day = version.fixed.per_day;
    if per_day != Micros::ZERO {
        lines.push(FixedLine {
            description: format!("Standing charge{}", segment.suffix),
            quantity: format_scaled(i128::from(segment.days_micros), 6),
            unit: "day",
            unit_price: per_day,
            // Millionths of a currency per day × millionths of days = picos.
            picos: i128::from(per_day.0) * i128::from(segment.days_micros),
            segment: index,
        });
    }
    let per_month = version.fixed.per_month;
    if per_month != Micros::ZERO {
        let zone = plan.time_zone();
        let mut months_micros: i128 = 0;
        let mut picos: i128 = 0;
        let mut month = crate::calendar::local_date(zone, segment.start_s)?.first_of_month();
        loop {
            let month_start = day_start_s(zone, month)?;
            if month_start >= segment.end_s {
                break;
            }
            let next = month
                .checked_add(jiff::Span::new().months(1))
                .map_err(|_| OutOfRange(month.to_string()))?;
            let month_end = day_start_s(zone, next)?;
            let days = days_micros(
                zone,
                segment.start_s.max(month_start),
                segment.end_s.min(month_end),
            )?;
            let month_days = i128::from(month.days_in_month());
            months_micros += i128::from(days) / month_days;
            picos += i128::from(per_month.0) * i128::from(days) / month_days;
            month = next;
        }
        lines.push(FixedLine {
            description: format!("Monthly charge{}", segment.suffix),
            quantity: format_scaled(months_micros, 6),
            unit: "month",
            unit_price: per_month,
            picos,
            segment: index,
        });
    }
    Ok(lines)
}

/// Net-metering terms when the period is under net metering (in every segment).
fn net_metering(
    plan: &Plan,
    segments: &[Segment],
    period: Period,
) -> Result<Option<NetMeteringTerms>, BillError> {
    let terms: Vec<Option<&NetMetering>> = segments
        .iter()
        .map(|segment| match &plan.versions()[segment.version].export {
            ExportCredit::NetMetering(terms) => Some(terms),
            _ => None,
        })
        .collect();
    let first_is_net_metering = terms.first().is_some_and(Option::is_some);
    if let Some(k) = terms
        .iter()
        .position(|t| t.is_some() != first_is_net_metering)
    {
        return Err(BillError::MixedExport {
            date: plan.versions()[segments[k].version].effective_from,
        });
    }
    let Some(last) = terms.last().copied().flatten() else {
        return Ok(None);
    };
    let true_up = match last.true_up {
        TrueUp::Monthly => true,
        TrueUp::Annual => {
            let zone = plan.time_zone();
            let first_year = crate::calendar::local_date(zone, period.start_s())?.year();
            let last_year = crate::calendar::local_date(zone, period.end_s())?.year();
            let mut found = false;
            for year in first_year..=last_year {
                if let Ok(date) = Date::new(year, last.true_up_on.month, last.true_up_on.day) {
                    let at = day_start_s(zone, date)?;
                    found |= period.start_s() < at && at <= period.end_s();
                }
            }
            found
        }
    };
    Ok(Some(NetMeteringTerms {
        true_up,
        true_up_price: last.true_up_price_per_kwh,
    }))
}
