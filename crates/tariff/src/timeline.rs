//! Price timelines: every stretch of a period with its price, on UTC instants.
//!
//! A bill prices energy by walking it along these slots, so everything time-dependent is
//! laid out here once per period: time-of-use switches placed on the real instants of each
//! local day (`calendar` does the civil-time work, so DST days get their 23 or 25 hours),
//! series points with the plan's adder and multiplier (holes priced at the fallback or
//! refused), critical-peak events laid over the import, and demand windows marked. Each
//! slot points at a bucket, which becomes one bill line.

use crate::calendar::{DayType, LocalDay, OutOfRange, days_micros, local_days, local_instant_s};
use crate::intervals::{Finding, instant};
use crate::money::{Micros, format_scaled};
use crate::period::Period;
use crate::plan::{
    DemandWindow, DynamicPrice, EnergyCharge, ExportCredit, ExportPrice, Plan, Version,
};
use crate::prepare::{BillError, Segment};
use crate::series::{CriticalPeak, Market};

/// The bucket of slots whose energy is counted but not priced.
pub(crate) const UNPRICED: u32 = u32::MAX;
/// A slot without tiers.
pub(crate) const NO_TIERS: u32 = u32::MAX;

/// A stretch of time with one price (or one set of tiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) start_s: i64,
    pub(crate) end_s: i64,
    pub(crate) price: Micros,
    /// Where its energy and amount go ([`UNPRICED`]: nowhere); with tiers, the first
    /// tier's bucket.
    pub(crate) bucket: u32,
    /// Index into the tier sets, or [`NO_TIERS`].
    pub(crate) tiers: u32,
    pub(crate) segment: u16,
    /// Whether demand in this slot counts for the demand charge.
    pub(crate) demand: bool,
}

/// What a bill line of allocated energy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Import,
    Export,
}

/// One line's worth of allocated energy: its description, price and version.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub(crate) flow: Flow,
    pub(crate) description: String,
    /// The one price of this bucket, or `None` when it varies (dynamic prices).
    pub(crate) price: Option<Micros>,
    pub(crate) segment: usize,
}

/// Cumulative tier bounds for the period, mWh; the last tier is unbounded.
#[derive(Debug, Clone)]
pub(crate) struct TierSet {
    pub(crate) bounds_mwh: Vec<i64>,
    pub(crate) prices: Vec<Micros>,
    pub(crate) first_bucket: u32,
}

/// Builds the slots and buckets of a period, part by part.
pub(crate) struct Builder<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) market: &'a Market,
    pub(crate) buckets: Vec<Bucket>,
    pub(crate) tier_sets: Vec<TierSet>,
    pub(crate) findings: Vec<Finding>,
}

impl Builder<'_> {
    fn bucket(
        &mut self,
        flow: Flow,
        description: String,
        price: Option<Micros>,
        segment: usize,
    ) -> u32 {
        self.buckets.push(Bucket {
            flow,
            description,
            price,
            segment,
        });
        (self.buckets.len() - 1) as u32
    }

    pub(crate) fn import_slots(
        &mut self,
        index: usize,
        segment: &Segment,
        version: &Version,
        period: Period,
    ) -> Result<Vec<Slot>, BillError> {
        let whole = |bucket, price, tiers| {
            vec![Slot {
                start_s: segment.start_s,
                end_s: segment.end_s,
                price,
                bucket,
                tiers,
                segment: index as u16,
                demand: false,
            }]
        };
        let suffix = &segment.suffix;
        Ok(match &version.import {
            EnergyCharge::Flat { price_per_kwh } => {
                let bucket = self.bucket(
                    Flow::Import,
                    format!("Energy{suffix}"),
                    Some(*price_per_kwh),
                    index,
                );
                whole(bucket, *price_per_kwh, NO_TIERS)
            }
            EnergyCharge::Tiered { prorate, blocks } => {
                let factor = if *prorate {
                    Some(prorate_factor(self.plan, period)?)
                } else {
                    None
                };
                let first_bucket = self.buckets.len() as u32;
                let mut bounds_mwh = Vec::new();
                let mut lower = 0;
                for (number, block) in blocks.iter().enumerate() {
                    let upper = block.up_to_kwh.map(|kwh| match factor {
                        // kWh in millionths is mWh.
                        Some((days, month_days)) => {
                            (i128::from(kwh.0) * i128::from(days) / i128::from(month_days)) as i64
                        }
                        None => kwh.0,
                    });
                    let range = match upper {
                        Some(upper) => format!("{} to {} kWh", kwh_text(lower), kwh_text(upper)),
                        None => format!("above {} kWh", kwh_text(lower)),
                    };
                    self.bucket(
                        Flow::Import,
                        format!("Energy, block {} ({range}){suffix}", number + 1),
                        Some(block.price_per_kwh),
                        index,
                    );
                    if let Some(upper) = upper {
                        bounds_mwh.push(upper);
                        lower = upper;
                    }
                }
                self.tier_sets.push(TierSet {
                    bounds_mwh,
                    prices: blocks.iter().map(|b| b.price_per_kwh).collect(),
                    first_bucket,
                });
                whole(
                    first_bucket,
                    Micros::ZERO,
                    (self.tier_sets.len() - 1) as u32,
                )
            }
            EnergyCharge::TimeOfUse(tou) => {
                let first_bucket = self.buckets.len() as u32;
                for period in &tou.table.periods {
                    self.bucket(
                        Flow::Import,
                        format!("Energy, {}{suffix}", period.label),
                        Some(period.price_per_kwh),
                        index,
                    );
                }
                let mut slots = Vec::new();
                for day in local_days(self.plan.time_zone(), segment.start_s, segment.end_s)? {
                    let schedule = tou
                        .table
                        .schedule(day.date, DayType::of(day.date, self.plan.holidays()));
                    for (k, &(minute, period)) in schedule.iter().enumerate() {
                        let next = schedule
                            .get(k + 1)
                            .map_or(crate::calendar::MINUTES_PER_DAY, |s| s.0);
                        let start_s = local_instant_s(self.plan.time_zone(), day.date, minute)?
                            .max(day.start_s);
                        let end_s =
                            local_instant_s(self.plan.time_zone(), day.date, next)?.min(day.end_s);
                        let (start_s, end_s) =
                            (start_s.max(segment.start_s), end_s.min(segment.end_s));
                        if start_s < end_s {
                            slots.push(Slot {
                                start_s,
                                end_s,
                                price: tou.table.periods[period].price_per_kwh,
                                bucket: first_bucket + period as u32,
                                tiers: NO_TIERS,
                                segment: index as u16,
                                demand: false,
                            });
                        }
                    }
                }
                slots
            }
            EnergyCharge::Dynamic(dynamic) => {
                self.series_slots(Flow::Import, "Energy", dynamic, index, segment)?
            }
        })
    }

    pub(crate) fn export_slots(
        &mut self,
        index: usize,
        segment: &Segment,
        version: &Version,
    ) -> Result<Vec<Slot>, BillError> {
        let unpriced = Slot {
            start_s: segment.start_s,
            end_s: segment.end_s,
            price: Micros::ZERO,
            bucket: UNPRICED,
            tiers: NO_TIERS,
            segment: index as u16,
            demand: false,
        };
        Ok(match &version.export {
            ExportCredit::None | ExportCredit::NetMetering(_) => vec![unpriced],
            ExportCredit::NetBilling(ExportPrice::Flat(price)) => {
                let bucket = self.bucket(
                    Flow::Export,
                    format!("Export{}", segment.suffix),
                    Some(*price),
                    index,
                );
                vec![Slot {
                    price: *price,
                    bucket,
                    ..unpriced
                }]
            }
            ExportCredit::NetBilling(ExportPrice::Dynamic(dynamic)) => {
                self.series_slots(Flow::Export, "Export", dynamic, index, segment)?
            }
        })
    }

    /// Slots from a price series over a segment; holes take the fallback price (flagged)
    /// or fail.
    fn series_slots(
        &mut self,
        flow: Flow,
        name: &str,
        dynamic: &DynamicPrice,
        index: usize,
        segment: &Segment,
    ) -> Result<Vec<Slot>, BillError> {
        let series =
            self.market
                .series
                .get(&dynamic.series)
                .ok_or_else(|| BillError::UnknownSeries {
                    series: dynamic.series.clone(),
                })?;
        let suffix = &segment.suffix;
        let bucket = self.bucket(
            flow,
            format!("{name} at dynamic prices (average){suffix}"),
            None,
            index,
        );
        let mut fallback_bucket = None;
        let mut slots = Vec::new();
        let mut covered = segment.start_s;
        let points = series.points();
        let first = points.partition_point(|p| p.end.as_second() <= segment.start_s);
        let mut push_hole = |builder: &mut Self, slots: &mut Vec<Slot>, from: i64, to: i64| {
            let Some(price) = dynamic.fallback_price_per_kwh else {
                return Err(BillError::MissingPrice {
                    series: dynamic.series.clone(),
                    at: instant(from),
                });
            };
            let bucket = *fallback_bucket.get_or_insert_with(|| {
                builder.bucket(
                    flow,
                    format!("{name} at the fallback price{suffix}"),
                    Some(price),
                    index,
                )
            });
            builder.findings.push(Finding::FallbackPrice {
                start: instant(from),
                end: instant(to),
                price_per_kwh: price,
            });
            slots.push(Slot {
                start_s: from,
                end_s: to,
                price,
                bucket,
                tiers: NO_TIERS,
                segment: index as u16,
                demand: false,
            });
            Ok(())
        };
        for point in &points[first..] {
            let (start_s, end_s) = (point.start.as_second(), point.end.as_second());
            if start_s >= segment.end_s {
                break;
            }
            let start_s = start_s.max(segment.start_s);
            if start_s > covered {
                push_hole(self, &mut slots, covered, start_s)?;
            }
            let end_s = end_s.min(segment.end_s);
            slots.push(Slot {
                start_s,
                end_s,
                price: dynamic.effective(point.price_per_kwh),
                bucket,
                tiers: NO_TIERS,
                segment: index as u16,
                demand: false,
            });
            covered = end_s;
        }
        if covered < segment.end_s {
            push_hole(self, &mut slots, covered, segment.end_s)?;
        }
        Ok(slots)
    }

    /// Lays the critical-peak events over the import slots.
    pub(crate) fn critical_peaks(
        &mut self,
        slots: Vec<Slot>,
        segments: &[Segment],
    ) -> Result<Vec<Slot>, BillError> {
        let mut events: Vec<CriticalPeak> = self.market.critical_peaks.clone();
        events.sort_by_key(|event| event.start);
        for (k, event) in events.iter().enumerate() {
            if event.end <= event.start
                || events.get(k + 1).is_some_and(|next| next.start < event.end)
            {
                return Err(BillError::CriticalPeak { at: event.start });
            }
        }
        let (start_s, end_s) = match (slots.first(), slots.last()) {
            (Some(first), Some(last)) => (first.start_s, last.end_s),
            _ => return Ok(slots),
        };
        let mut spans = Vec::new();
        let mut targets = Vec::new();
        for event in &events {
            let from = event.start.as_second().max(start_s);
            let to = event.end.as_second().min(end_s);
            if from >= to {
                continue;
            }
            let segment = segments
                .iter()
                .position(|s| s.start_s <= from && from < s.end_s)
                .unwrap_or(0);
            let zone = self.plan.time_zone();
            let local = zone.to_offset(event.start).to_datetime(event.start);
            let bucket = self.bucket(
                Flow::Import,
                format!(
                    "Critical peak {}{}",
                    local.strftime("%Y-%m-%d %H:%M"),
                    segments[segment].suffix
                ),
                Some(event.price_per_kwh),
                segment,
            );
            spans.push((from, to));
            targets.push((bucket, event.price_per_kwh));
        }
        Ok(overlay(slots, &spans, |slot, k| {
            let (bucket, price) = targets[k];
            slot.bucket = bucket;
            slot.price = price;
            slot.tiers = NO_TIERS;
        }))
    }
}

/// Local days of the period over the days of the month it starts in, as a fraction
/// (numerator in millionths of days, denominator in millionths of days).
fn prorate_factor(plan: &Plan, period: Period) -> Result<(i64, i64), BillError> {
    let zone = plan.time_zone();
    let days = days_micros(zone, period.start_s(), period.end_s())?;
    let month_days = crate::calendar::local_date(zone, period.start_s())?.days_in_month();
    Ok((days, i64::from(month_days) * 1_000_000))
}

fn kwh_text(mwh: i64) -> String {
    let text = format_scaled(i128::from(mwh), 6);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Marks the import slots in which demand counts: all of them under a demand charge
/// without a window, those inside the window's local times otherwise.
pub(crate) fn mark_demand(
    plan: &Plan,
    segments: &[Segment],
    slots: Vec<Slot>,
) -> Result<Vec<Slot>, BillError> {
    let mut spans = Vec::new();
    for segment in segments {
        let Some(demand) = &plan.versions()[segment.version].demand else {
            continue;
        };
        match &demand.window {
            None => spans.push((segment.start_s, segment.end_s)),
            Some(window) => {
                for day in local_days(plan.time_zone(), segment.start_s, segment.end_s)? {
                    if let Some((from, to)) = window_span(plan, window, &day)? {
                        let (from, to) = (from.max(segment.start_s), to.min(segment.end_s));
                        if from < to {
                            spans.push((from, to));
                        }
                    }
                }
            }
        }
    }
    Ok(overlay(slots, &spans, |slot, _| slot.demand = true))
}

fn window_span(
    plan: &Plan,
    window: &DemandWindow,
    day: &LocalDay,
) -> Result<Option<(i64, i64)>, OutOfRange> {
    if !window.days.contains(DayType::of(day.date, plan.holidays())) {
        return Ok(None);
    }
    let zone = plan.time_zone();
    let from = local_instant_s(zone, day.date, window.from.0)?.max(day.start_s);
    let to = local_instant_s(zone, day.date, window.to.0)?.min(day.end_s);
    Ok((from < to).then_some((from, to)))
}

/// Cuts slots at the edges of sorted, disjoint spans and applies `apply` (with the
/// span's index) to the pieces inside them.
pub(crate) fn overlay(
    slots: Vec<Slot>,
    spans: &[(i64, i64)],
    apply: impl Fn(&mut Slot, usize),
) -> Vec<Slot> {
    if spans.is_empty() {
        return slots;
    }
    let mut out = Vec::with_capacity(slots.len() + 2 * spans.len());
    let mut next = 0;
    for slot in slots {
        let mut start = slot.start_s;
        while start < slot.end_s {
            while next < spans.len() && spans[next].1 <= start {
                next += 1;
            }
            let mut piece = Slot {
                start_s: start,
                ..slot
            };
            match spans.get(next) {
                Some(&(from, to)) if from <= start => {
                    piece.end_s = slot.end_s.min(to);
                    apply(&mut piece, next);
                }
                Some(&(from, _)) => piece.end_s = slot.end_s.min(from),
                None => {}
            }
            start = piece.end_s;
            out.push(piece);
        }
    }
    out
}

/// Joins neighbouring slots that price alike.
pub(crate) fn merge(slots: Vec<Slot>) -> Vec<Slot> {
    let mut out: Vec<Slot> = Vec::with_capacity(slots.len());
    for slot in slots {
        if let Some(last) = out.last_mut()
            && last.end_s == slot.start_s
            && prices_alike(last, &slot)
        {
            last.end_s = slot.end_s;
            continue;
        }
        out.push(slot);
    }
    out
}

fn prices_alike(a: &Slot, b: &Slot) -> bool {
    (a.price, a.bucket, a.tiers, a.segment, a.demand)
        == (b.price, b.bucket, b.tiers, b.segment, b.demand)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(start_s: i64, end_s: i64, price: i64) -> Slot {
        Slot {
            start_s,
            end_s,
            price: Micros(price),
            bucket: 0,
            tiers: NO_TIERS,
            segment: 0,
            demand: false,
        }
    }

    #[test]
    fn overlay_cuts_at_span_edges_and_marks_inside() {
        let slots = vec![slot(0, 100, 1), slot(100, 200, 2)];
        let out = overlay(slots, &[(50, 120), (150, 160)], |s, k| {
            s.bucket = k as u32 + 7
        });
        let pieces: Vec<(i64, i64, u32, i64)> = out
            .iter()
            .map(|s| (s.start_s, s.end_s, s.bucket, s.price.0))
            .collect();
        assert_eq!(
            pieces,
            [
                (0, 50, 0, 1),
                (50, 100, 7, 1),
                (100, 120, 7, 2),
                (120, 150, 0, 2),
                (150, 160, 8, 2),
                (160, 200, 0, 2)
            ]
        );
    }

    #[test]
    fn merge_joins_only_alike_neighbours() {
        let merged = merge(vec![
            slot(0, 10, 1),
            slot(10, 20, 1),
            slot(20, 30, 2),
            slot(30, 40, 1),
        ]);
        let spans: Vec<(i64, i64)> = merged.iter().map(|s| (s.start_s, s.end_s)).collect();
        assert_eq!(spans, [(0, 20), (20, 30), (30, 40)]);
    }
}
