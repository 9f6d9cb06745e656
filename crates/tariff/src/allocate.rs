//! The hot path: one walk of a meter's intervals along the prepared price timelines.
//!
//! Billing a fleet is dominated by this loop, so it does no allocation and no time-zone
//! work per interval: a cursor moves along the slots (they are in time order, and so are
//! the intervals), an interval inside one slot adds its energy and its exact price product
//! to that slot's bucket, and an interval that crosses slot edges is split by time so the
//! parts add up exactly to its energy. Tiers fill in time order; demand is tracked per
//! version segment over 15-minute windows.

use crate::intervals::{Interval, Register};
use crate::money::div_round_i64;
use crate::prepare::PreparedPeriod;
use crate::timeline::{NO_TIERS, Slot, TierSet, UNPRICED};

/// Demand is measured over windows of this length.
pub(crate) const DEMAND_WINDOW_S: i64 = 900;

/// Energy and exact amount of one bucket.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Acc {
    pub(crate) energy_mwh: i64,
    pub(crate) picos: i128,
}

/// The highest demand of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Peak {
    pub(crate) power_w: i64,
    pub(crate) start_s: i64,
}

/// What the walk found.
#[derive(Debug, Clone)]
pub(crate) struct Allocation {
    pub(crate) buckets: Vec<Acc>,
    /// Interval energy inside the period, import and export, mWh.
    pub(crate) interval_mwh: [i64; 2],
    pub(crate) estimated_intervals: usize,
    pub(crate) estimated_mwh: [i64; 2],
    /// Per segment.
    pub(crate) peaks: Vec<Option<Peak>>,
    tier_fill_mwh: i64,
}

/// A position in a timeline, moving forward with the intervals.
struct Cursor<'a> {
    slots: &'a [Slot],
    at: usize,
}

impl Cursor<'_> {
    /// The slot holding `second` (which must be inside the period).
    #[inline]
    fn find(&mut self, second: i64) -> usize {
        if self.slots[self.at].start_s > second {
            self.at = self.slots.partition_point(|slot| slot.end_s <= second);
        }
        while self.slots[self.at].end_s <= second {
            self.at += 1;
        }
        self.at
    }
}

/// A 15-minute window of short intervals being summed for demand.
#[derive(Debug, Clone, Copy)]
struct Window {
    id: i64,
    energy_mwh: i64,
    segment: usize,
}

impl Allocation {
    /// Walks intervals (in time order) over the prepared period.
    pub(crate) fn run(prepared: &PreparedPeriod<'_>, intervals: &[Interval]) -> Allocation {
        let mut allocation = Allocation {
            buckets: vec![Acc::default(); prepared.buckets.len()],
            interval_mwh: [0, 0],
            estimated_intervals: 0,
            estimated_mwh: [0, 0],
            peaks: vec![None; prepared.segments.len()],
            tier_fill_mwh: 0,
        };
        let (period_start, period_end) = (prepared.period.start_s(), prepared.period.end_s());
        let mut import = Cursor {
            slots: &prepared.import,
            at: 0,
        };
        let mut export = Cursor {
            slots: &prepared.export,
            at: 0,
        };
        let mut window: Option<Window> = None;
        for interval in intervals {
            let start = interval.start_s();
            let duration = i64::from(interval.duration_s);
            let end = start + duration;
            if duration == 0 || end <= period_start || start >= period_end {
                continue;
            }
            let span = Span {
                start,
                duration,
                from: start.max(period_start),
                to: end.min(period_end),
            };
            let (slot, import_mwh) =
                allocation.allocate(prepared, &mut import, interval.import_mwh, span);
            let export_mwh = if prepared.export_priced {
                allocation
                    .allocate(prepared, &mut export, interval.export_mwh, span)
                    .1
            } else {
                span.part(interval.export_mwh, span.from, span.to)
            };
            allocation.interval_mwh[0] += import_mwh;
            allocation.interval_mwh[1] += export_mwh;
            if interval.estimated {
                allocation.estimated_intervals += 1;
                allocation.estimated_mwh[0] += import_mwh;
                allocation.estimated_mwh[1] += export_mwh;
            }
            let slot = &prepared.import[slot];
            if slot.demand {
                allocation.demand(interval, usize::from(slot.segment), &mut window);
            }
        }
        if let Some(open) = window {
            allocation.peak(
                open.segment,
                open.energy_mwh / 250,
                open.id * DEMAND_WINDOW_S,
            );
        }
        allocation
    }

    /// Spreads a register's energy evenly over the whole period (when no interval carries
    /// any of it), counted as one estimated interval.
    pub(crate) fn spread(
        &mut self,
        prepared: &PreparedPeriod<'_>,
        register: Register,
        energy_mwh: i64,
    ) {
        let span = Span {
            start: prepared.period.start_s(),
            duration: prepared.period.end_s() - prepared.period.start_s(),
            from: prepared.period.start_s(),
            to: prepared.period.end_s(),
        };
        let slot = match register {
            Register::Import => 0,
            Register::Export => 1,
        };
        if slot == 0 || prepared.export_priced {
            let slots = if slot == 0 {
                &prepared.import
            } else {
                &prepared.export
            };
            self.allocate(prepared, &mut Cursor { slots, at: 0 }, energy_mwh, span);
        }
        self.interval_mwh[slot] += energy_mwh;
        self.estimated_intervals += 1;
        self.estimated_mwh[slot] += energy_mwh;
    }

    /// Adds one interval's energy of one register to the slots it covers; returns the slot
    /// of its first instant in the period and the energy allocated.
    fn allocate(
        &mut self,
        prepared: &PreparedPeriod<'_>,
        cursor: &mut Cursor<'_>,
        energy_mwh: i64,
        span: Span,
    ) -> (usize, i64) {
        let first = cursor.find(span.from);
        let slot = cursor.slots[first];
        if span.from == span.start && span.to == span.start + span.duration && slot.end_s >= span.to
        {
            self.add(prepared, &slot, energy_mwh);
            return (first, energy_mwh);
        }
        let mut total = 0;
        let mut k = first;
        loop {
            let slot = cursor.slots[k];
            let (a, b) = (span.from.max(slot.start_s), span.to.min(slot.end_s));
            let part = span.part(energy_mwh, a, b);
            self.add(prepared, &slot, part);
            total += part;
            if b >= span.to {
                break;
            }
            k += 1;
        }
        cursor.at = k;
        (first, total)
    }

    #[inline]
    fn add(&mut self, prepared: &PreparedPeriod<'_>, slot: &Slot, energy_mwh: i64) {
        if slot.bucket == UNPRICED {
            return;
        }
        if slot.tiers == NO_TIERS {
            let acc = &mut self.buckets[slot.bucket as usize];
            acc.energy_mwh += energy_mwh;
            acc.picos += i128::from(energy_mwh) * i128::from(slot.price.0);
        } else {
            self.fill(&prepared.tier_sets[slot.tiers as usize], energy_mwh);
        }
    }

    /// Fills tiers upwards with positive energy and empties them downwards with negative.
    fn fill(&mut self, set: &TierSet, mut energy_mwh: i64) {
        while energy_mwh != 0 {
            let fill = self.tier_fill_mwh;
            let (tier, take) = if energy_mwh > 0 {
                let tier = set.bounds_mwh.partition_point(|&bound| bound <= fill);
                let room = set
                    .bounds_mwh
                    .get(tier)
                    .map_or(i64::MAX, |&bound| bound - fill);
                (tier, energy_mwh.min(room))
            } else {
                let tier = set.bounds_mwh.partition_point(|&bound| bound < fill);
                let floor = if tier == 0 {
                    i64::MIN
                } else {
                    set.bounds_mwh[tier - 1]
                };
                (tier, energy_mwh.max(floor.saturating_sub(fill)))
            };
            let acc = &mut self.buckets[set.first_bucket as usize + tier];
            acc.energy_mwh += take;
            acc.picos += i128::from(take) * i128::from(set.prices[tier].0);
            self.tier_fill_mwh += take;
            energy_mwh -= take;
        }
    }

    /// Demand of an interval: the meter's own maximum when it sent one, otherwise the
    /// average power of its 15-minute window (intervals shorter than 15 minutes are summed
    /// per clock-aligned window; longer ones count at their own average).
    fn demand(&mut self, interval: &Interval, segment: usize, window: &mut Option<Window>) {
        let start = interval.start_s();
        if let Some(power_w) = interval.max_demand_w {
            self.peak(segment, i64::from(power_w), start);
            return;
        }
        let duration = i64::from(interval.duration_s);
        if duration >= DEMAND_WINDOW_S {
            // mWh over s to W: × 3600 s/h ÷ 1000 mW/W = × 18 ÷ 5 (saturating on absurd data).
            let power_w = div_round_i64(interval.import_mwh.saturating_mul(18), duration * 5);
            self.peak(segment, power_w, start);
            return;
        }
        let id = start.div_euclid(DEMAND_WINDOW_S);
        match window {
            Some(open) if open.id == id => open.energy_mwh += interval.import_mwh,
            _ => {
                if let Some(open) = window.take() {
                    // mWh in 900 s to W: × 3.6 ÷ 900 = ÷ 250.
                    self.peak(
                        open.segment,
                        open.energy_mwh / 250,
                        open.id * DEMAND_WINDOW_S,
                    );
                }
                *window = Some(Window {
                    id,
                    energy_mwh: interval.import_mwh,
                    segment,
                });
            }
        }
    }

    fn peak(&mut self, segment: usize, power_w: i64, start_s: i64) {
        let slot = &mut self.peaks[segment];
        if slot.is_none_or(|peak| power_w > peak.power_w) {
            *slot = Some(Peak { power_w, start_s });
        }
    }
}

/// An interval `[start, start + duration)` and its part `[from, to)` inside the period.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: i64,
    duration: i64,
    from: i64,
    to: i64,
}

impl Span {
    /// The share of `energy` in `[a, b)`, by time; shares of adjacent ranges add up
    /// exactly.
    fn part(&self, energy_mwh: i64, a: i64, b: i64) -> i64 {
        if a == self.start && b == self.start + self.duration {
            return energy_mwh;
        }
        let energy = i128::from(energy_mwh);
        let duration = i128::from(self.duration);
        (energy * i128::from(b - self.start) / duration
            - energy * i128::from(a - self.start) / duration) as i64
    }
}
