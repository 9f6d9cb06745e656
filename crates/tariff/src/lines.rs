//! From a meter's allocated energy to the lines of its bill.
//!
//! The order of work is the order of the bill: energy by price, the part of the register
//! delta the intervals do not explain, export (credited or paid), demand, standing
//! charges, levies, the minimum bill, then taxes. Every line is kept exact (in picos) until
//! it is rounded once to the minor unit; taxes are computed from the rounded lines of the
//! version in force, and the total is the sum of the rounded lines.
//!
//! Reconciliation: the register delta is what is billed. Interval data only says when the
//! energy was used; what it does not cover (register minus intervals, either sign) is one
//! "unallocated" line at the average price of the allocated energy, and a finding. If no
//! interval carries any of a register's energy, the delta is spread evenly over the period
//! instead (flagged as estimated). Lines that are not tied to one version (unallocated
//! energy, net-metering credit, true-up, minimum bill) belong to the last version in the
//! period for taxes.

use crate::allocate::Allocation;
use crate::bill::{
    Bill, DemandPeak, EnergySummary, EstimatedSummary, Line, LineKind, MeterData,
    NetMeteringSummary, RegisterEnergy, Subtotals,
};
use crate::intervals::{Finding, Interval, Register, instant, validate};
use crate::money::{
    Micros, PICOS_PER_MICRO, div_round, format_kwh, format_minor, format_scaled, minor_to_picos,
    picos_to_minor,
};
use crate::prepare::{BillError, NetMeteringTerms, PreparedPeriod};
use crate::timeline::Flow;
use std::borrow::Cow;

/// A line before rounding.
struct Draft {
    kind: LineKind,
    description: String,
    quantity: String,
    unit: String,
    unit_price: String,
    picos: i128,
    segment: usize,
}

impl Draft {
    fn energy(
        kind: LineKind,
        description: String,
        energy_mwh: i64,
        price: Micros,
        picos: i128,
        segment: usize,
    ) -> Draft {
        Draft {
            kind,
            description,
            quantity: format_kwh(energy_mwh),
            unit: "kWh".into(),
            unit_price: price.to_string(),
            picos,
            segment,
        }
    }
}

/// The average price of `picos` over `energy_mwh` (picos per mWh are millionths per kWh).
fn average(picos: i128, energy_mwh: i64) -> Micros {
    if energy_mwh == 0 {
        return Micros::ZERO;
    }
    Micros(crate::money::saturate(div_round(
        picos,
        i128::from(energy_mwh),
    )))
}

/// `picos × part ÷ whole`, rounded (`whole` ≠ 0).
fn share(picos: i128, part: i64, whole: i64) -> i128 {
    div_round(picos * i128::from(part), i128::from(whole))
}

/// Bills one meter; `settle` applies the true-up and the minimum bill (off for costs so
/// far).
pub(crate) fn compute(
    prepared: &PreparedPeriod<'_>,
    meter: &MeterData<'_>,
    settle: bool,
) -> Result<Bill, BillError> {
    let period = prepared.period;
    let mut findings = validate(meter.intervals, period, &meter.rules);
    findings.extend(prepared.findings.iter().cloned());
    let intervals: Cow<'_, [Interval]> = if meter.intervals.is_sorted_by_key(|i| i.start) {
        Cow::Borrowed(meter.intervals)
    } else {
        let mut sorted = meter.intervals.to_vec();
        sorted.sort_by_key(|i| i.start);
        Cow::Owned(sorted)
    };
    let mut allocation = Allocation::run(prepared, &intervals);
    let deltas = match &meter.registers {
        Some(reads) => {
            let delta = |register| {
                reads
                    .delta_mwh(register)
                    .ok_or(BillError::RegisterBackwards { register })
            };
            Some([delta(Register::Import)?, delta(Register::Export)?])
        }
        None => None,
    };
    if let Some(deltas) = deltas {
        for (slot, register) in REGISTERS.into_iter().enumerate() {
            if allocation.interval_mwh[slot] == 0 && deltas[slot] != 0 {
                allocation.spread(prepared, register, deltas[slot]);
                findings.push(Finding::NoIntervalData { register });
            }
        }
    }
    let mut work = Work::new(prepared, &allocation);
    let energy = work.reconcile(&allocation, deltas, &mut findings);
    let levies = work.levies();
    let net_metering = prepared
        .net_metering
        .map(|terms| work.net_metering(terms, &energy, meter.credit_in_mwh, settle));
    let demand_peaks = work.demand(&allocation);
    work.drafts.extend(prepared.fixed.iter().map(|line| Draft {
        kind: LineKind::Fixed,
        description: line.description.clone(),
        quantity: line.quantity.clone(),
        unit: line.unit.into(),
        unit_price: line.unit_price.to_string(),
        picos: line.picos,
        segment: line.segment,
    }));
    let offset_mwh = net_metering.map_or(0, |summary| summary.offset_mwh);
    work.add_levies(levies, offset_mwh, energy.import.billed_mwh);
    let digits = prepared.plan.currency_digits();
    let mut lines: Vec<(Line, usize)> = work.drafts.into_iter().map(|d| round(d, digits)).collect();
    if settle {
        minimum_bill(prepared, &mut lines, work.last);
    }
    taxes(prepared, &mut lines);
    let lines: Vec<Line> = lines.into_iter().map(|(line, _)| line).collect();
    let subtotals = subtotals(&lines);
    Ok(Bill {
        meter: meter.meter.to_owned(),
        plan: prepared.plan.name().to_owned(),
        currency: prepared.plan.currency().to_owned(),
        currency_digits: digits,
        time_zone: prepared.plan.time_zone_name().to_owned(),
        period,
        total_minor: subtotals.before_taxes_minor + subtotals.taxes_minor,
        lines,
        subtotals,
        energy,
        estimated: EstimatedSummary {
            intervals: allocation.estimated_intervals,
            import_mwh: allocation.estimated_mwh[0],
            export_mwh: allocation.estimated_mwh[1],
        },
        demand_peaks,
        net_metering,
        findings,
    })
}

const REGISTERS: [Register; 2] = [Register::Import, Register::Export];

/// A levy line before rounding, with what a net-metering offset needs.
struct LevyDraft {
    draft: Draft,
    energy_mwh: i64,
    rate: Micros,
}

/// The lines so far and the sums the later lines need.
struct Work<'a> {
    prepared: &'a PreparedPeriod<'a>,
    drafts: Vec<Draft>,
    /// Exact amounts of the import and export energy lines.
    flow_picos: [i128; 2],
    /// Import energy charged under each version, mWh.
    segment_import_mwh: Vec<i64>,
    /// The last segment, which takes the lines not tied to a version.
    last: usize,
}

impl<'a> Work<'a> {
    /// Starts with one energy line per bucket that has any energy.
    fn new(prepared: &'a PreparedPeriod<'a>, allocation: &Allocation) -> Work<'a> {
        let mut work = Work {
            prepared,
            drafts: Vec::new(),
            flow_picos: [0, 0],
            segment_import_mwh: vec![0; prepared.segments.len()],
            last: prepared.segments.len() - 1,
        };
        for (bucket, acc) in prepared.buckets.iter().zip(&allocation.buckets) {
            let import = bucket.flow == Flow::Import;
            work.flow_picos[usize::from(!import)] += acc.picos;
            if import {
                work.segment_import_mwh[bucket.segment] += acc.energy_mwh;
            }
            if acc.energy_mwh == 0 && acc.picos == 0 {
                continue;
            }
            let price = bucket
                .price
                .unwrap_or_else(|| average(acc.picos, acc.energy_mwh));
            let (kind, sign) = if import {
                (LineKind::Energy, 1)
            } else {
                (LineKind::Export, -1)
            };
            work.drafts.push(Draft::energy(
                kind,
                bucket.description.clone(),
                sign * acc.energy_mwh,
                price,
                i128::from(sign) * acc.picos,
                bucket.segment,
            ));
        }
        work
    }

    /// The energy summary, and an unallocated line for each priced register whose
    /// interval data does not add up to its delta.
    fn reconcile(
        &mut self,
        allocation: &Allocation,
        deltas: Option<[i64; 2]>,
        findings: &mut Vec<Finding>,
    ) -> EnergySummary {
        let mut summaries = [RegisterEnergy::default(); 2];
        for (slot, register) in REGISTERS.into_iter().enumerate() {
            let intervals_mwh = allocation.interval_mwh[slot];
            let summary = RegisterEnergy {
                register_mwh: deltas.map(|d| d[slot]),
                intervals_mwh,
                difference_mwh: deltas.map(|d| d[slot] - intervals_mwh),
                billed_mwh: deltas.map_or(intervals_mwh, |d| d[slot]),
            };
            summaries[slot] = summary;
            let Some(residual) = summary.difference_mwh.filter(|&r| r != 0) else {
                continue;
            };
            findings.push(Finding::Unreconciled {
                register,
                difference_mwh: residual,
            });
            if register == Register::Export && !self.prepared.export_priced {
                continue;
            }
            let price = average(self.flow_picos[slot], intervals_mwh);
            let picos = share(self.flow_picos[slot], residual, intervals_mwh);
            self.flow_picos[slot] += picos;
            let (name, sign) = match register {
                Register::Import => {
                    self.segment_import_mwh[self.last] += residual;
                    ("Import", 1)
                }
                Register::Export => ("Export", -1),
            };
            self.drafts.push(Draft::energy(
                LineKind::Unallocated,
                format!("{name} not in the interval data (register minus intervals)"),
                sign * residual,
                price,
                i128::from(sign) * picos,
                self.last,
            ));
        }
        EnergySummary {
            import: summaries[0],
            export: summaries[1],
        }
    }

    /// Net metering: export (and credit carried in) offsets import kWh for kWh at the
    /// average import price; what is left carries forward, or is settled at a true-up.
    fn net_metering(
        &mut self,
        terms: NetMeteringTerms,
        energy: &EnergySummary,
        credit_in_mwh: u64,
        settle: bool,
    ) -> NetMeteringSummary {
        let billed_import = energy.import.billed_mwh;
        let credit_in_mwh = i64::try_from(credit_in_mwh).unwrap_or(i64::MAX);
        let available = energy.export.billed_mwh.saturating_add(credit_in_mwh);
        let offset = available.min(billed_import.max(0));
        if offset > 0 {
            self.drafts.push(Draft::energy(
                LineKind::NetMeteringCredit,
                "Net metering: export offsetting import".into(),
                -offset,
                average(self.flow_picos[0], billed_import),
                -share(self.flow_picos[0], offset, billed_import),
                self.last,
            ));
        }
        let mut summary = NetMeteringSummary {
            credit_in_mwh,
            exported_mwh: energy.export.billed_mwh,
            offset_mwh: offset,
            true_up: settle && terms.true_up,
            paid_mwh: 0,
            forfeited_mwh: 0,
            credit_out_mwh: available - offset,
        };
        if summary.true_up && summary.credit_out_mwh > 0 {
            match terms.true_up_price {
                Some(price) => {
                    summary.paid_mwh = summary.credit_out_mwh;
                    self.drafts.push(Draft::energy(
                        LineKind::TrueUp,
                        "Net metering true-up: credit paid out".into(),
                        -summary.paid_mwh,
                        price,
                        -i128::from(summary.paid_mwh) * i128::from(price.0),
                        self.last,
                    ));
                }
                None => summary.forfeited_mwh = summary.credit_out_mwh,
            }
            summary.credit_out_mwh = 0;
        }
        summary
    }

    /// Levies per kWh of each version's import.
    fn levies(&self) -> Vec<LevyDraft> {
        let mut out = Vec::new();
        for (index, segment) in self.prepared.segments.iter().enumerate() {
            let energy_mwh = self.segment_import_mwh[index];
            for levy in &self.prepared.plan.versions()[segment.version].levies {
                out.push(LevyDraft {
                    draft: Draft::energy(
                        LineKind::Levy,
                        format!("{}{}", levy.name, segment.suffix),
                        energy_mwh,
                        levy.per_kwh,
                        i128::from(energy_mwh) * i128::from(levy.per_kwh.0),
                        index,
                    ),
                    energy_mwh,
                    rate: levy.per_kwh,
                });
            }
        }
        out
    }

    /// Adds the levy lines, each followed by its share of a net-metering offset: the
    /// offset kWh in proportion to the line's energy, at the line's rate.
    fn add_levies(&mut self, levies: Vec<LevyDraft>, offset_mwh: i64, billed_import_mwh: i64) {
        for levy in levies {
            let credited_mwh = if billed_import_mwh > 0 {
                div_round(
                    i128::from(offset_mwh) * i128::from(levy.energy_mwh),
                    i128::from(billed_import_mwh),
                ) as i64
            } else {
                0
            };
            let credit = (credited_mwh != 0).then(|| {
                Draft::energy(
                    LineKind::Levy,
                    format!("{}, net metering offset", levy.draft.description),
                    -credited_mwh,
                    levy.rate,
                    -i128::from(credited_mwh) * i128::from(levy.rate.0),
                    levy.draft.segment,
                )
            });
            if levy.energy_mwh != 0 {
                self.drafts.push(levy.draft);
            }
            self.drafts.extend(credit);
        }
    }

    /// One demand line per version with a demand charge and a peak, pro-rated by the
    /// version's share of the period's days.
    fn demand(&mut self, allocation: &Allocation) -> Vec<DemandPeak> {
        let prepared = self.prepared;
        let period_days: i64 = prepared.segments.iter().map(|s| s.days_micros).sum();
        let mut peaks = Vec::new();
        for (index, segment) in prepared.segments.iter().enumerate() {
            let (Some(charge), Some(peak)) = (
                &prepared.plan.versions()[segment.version].demand,
                allocation.peaks[index],
            ) else {
                continue;
            };
            // W × millionths per kW = W/1000 kW × price: × 1000 more to make picos.
            let full = i128::from(peak.power_w) * i128::from(charge.price_per_kw.0) * 1000;
            let picos = div_round(
                full * i128::from(segment.days_micros),
                i128::from(period_days.max(1)),
            );
            let share_text = if prepared.segments.len() > 1 {
                format!(
                    ", {} of the period's days",
                    format_scaled(
                        i128::from(segment.days_micros) * 1_000_000
                            / i128::from(period_days.max(1)),
                        6
                    )
                )
            } else {
                String::new()
            };
            self.drafts.push(Draft {
                kind: LineKind::Demand,
                description: format!(
                    "Demand charge (highest 15-minute demand{share_text}){}",
                    segment.suffix
                ),
                quantity: format_scaled(i128::from(peak.power_w), 3),
                unit: "kW".into(),
                unit_price: charge.price_per_kw.to_string(),
                picos,
                segment: index,
            });
            peaks.push(DemandPeak {
                start: instant(peak.start_s),
                power_w: peak.power_w,
            });
        }
        peaks
    }
}

fn round(draft: Draft, digits: u8) -> (Line, usize) {
    (
        Line {
            kind: draft.kind,
            description: draft.description,
            quantity: draft.quantity,
            unit: draft.unit,
            unit_price: draft.unit_price,
            amount_minor: picos_to_minor(draft.picos, digits),
        },
        draft.segment,
    )
}

/// Raises the bill to the last version's minimum, before taxes.
fn minimum_bill(prepared: &PreparedPeriod<'_>, lines: &mut Vec<(Line, usize)>, last: usize) {
    let version = &prepared.plan.versions()[prepared.segments[last].version];
    let Some(minimum) = version.minimum_bill else {
        return;
    };
    let digits = prepared.plan.currency_digits();
    let minimum_minor = picos_to_minor(i128::from(minimum.0) * PICOS_PER_MICRO, digits);
    let subtotal: i64 = lines.iter().map(|(line, _)| line.amount_minor).sum();
    if subtotal >= minimum_minor {
        return;
    }
    let raise = minimum_minor - subtotal;
    lines.push((
        Line {
            kind: LineKind::MinimumBill,
            description: format!("Minimum bill of {}", format_minor(minimum_minor, digits)),
            quantity: "1".into(),
            unit: "bill".into(),
            unit_price: format_minor(raise, digits),
            amount_minor: raise,
        },
        last,
    ));
}

/// Percentage taxes on each version's rounded lines, one line per tax name and rate.
fn taxes(prepared: &PreparedPeriod<'_>, lines: &mut Vec<(Line, usize)>) {
    let digits = prepared.plan.currency_digits();
    let mut groups: Vec<(String, Micros, i64)> = Vec::new();
    for (index, segment) in prepared.segments.iter().enumerate() {
        let base: i64 = lines
            .iter()
            .filter(|(_, s)| *s == index)
            .map(|(line, _)| line.amount_minor)
            .sum();
        for tax in &prepared.plan.versions()[segment.version].taxes {
            match groups
                .iter_mut()
                .find(|(name, rate, _)| *name == tax.name && *rate == tax.percent)
            {
                Some(group) => group.2 += base,
                None => groups.push((tax.name.clone(), tax.percent, base)),
            }
        }
    }
    for (name, percent, base) in groups {
        // Percent in millionths: ÷ 100 for a fraction, ÷ 10⁶ for the millionths.
        let picos = div_round(
            minor_to_picos(base, digits) * i128::from(percent.0),
            100_000_000,
        );
        lines.push((
            Line {
                kind: LineKind::Tax,
                description: format!("{name} {}%", trim_decimals(&percent.to_string())),
                quantity: format_minor(base, digits),
                unit: prepared.plan.currency().to_owned(),
                unit_price: format_scaled(i128::from(percent.0), 8),
                amount_minor: picos_to_minor(picos, digits),
            },
            usize::MAX,
        ));
    }
}

fn trim_decimals(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

fn subtotals(lines: &[Line]) -> Subtotals {
    let mut sums = Subtotals::default();
    for line in lines {
        let slot = match line.kind {
            LineKind::Energy | LineKind::Unallocated | LineKind::NetMeteringCredit => {
                &mut sums.energy_minor
            }
            LineKind::Export | LineKind::TrueUp => &mut sums.export_minor,
            LineKind::Demand => &mut sums.demand_minor,
            LineKind::Fixed => &mut sums.fixed_minor,
            LineKind::Levy => &mut sums.levies_minor,
            LineKind::MinimumBill => &mut sums.minimum_minor,
            LineKind::Tax => &mut sums.taxes_minor,
        };
        *slot += line.amount_minor;
        if line.kind != LineKind::Tax {
            sums.before_taxes_minor += line.amount_minor;
        }
    }
    sums
}
