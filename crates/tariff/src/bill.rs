//! Bills: what billing a meter over a period produces, and the calls that produce it.
//!
//! A [`Bill`] is a document: it serialises to JSON as it is, and `render` prints it as
//! HTML. Amounts are integers in the currency's minor unit (`amount_minor`), quantities and
//! unit prices are exact decimal strings, so a bill read back is the bill written.
//! [`PreparedPeriod::bill`] bills one meter; [`bill_fleet`] bills many on several threads
//! with one preparation.

use crate::intervals::{Finding, Interval, RegisterReads, ValidationRules};
use crate::period::Period;
use crate::prepare::{BillError, PreparedPeriod};
use serde::{Deserialize, Serialize};

/// One meter's data for a period.
#[derive(Debug, Clone, Copy)]
pub struct MeterData<'a> {
    /// The meter's id, printed on the bill.
    pub meter: &'a str,
    /// Interval records (any order; estimated ones flagged).
    pub intervals: &'a [Interval],
    /// The registers at the period's start and end; absent, the intervals' sums are
    /// billed.
    pub registers: Option<RegisterReads>,
    /// Net-metering credit carried in from the previous bill, mWh.
    pub credit_in_mwh: u64,
    /// Thresholds for the validation whose findings the bill carries.
    pub rules: ValidationRules,
}

/// What a bill line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Imported energy priced from the interval data.
    Energy,
    /// The register delta the interval data does not account for, at the average price
    /// of the allocated energy.
    Unallocated,
    /// Net metering: export offsetting import (negative).
    NetMeteringCredit,
    /// Exported energy paid under net billing (negative).
    Export,
    /// Net metering: leftover credit paid at the true-up (negative).
    TrueUp,
    /// The demand charge.
    Demand,
    /// Standing charges.
    Fixed,
    /// Charges per kWh (and their net-metering offsets).
    Levy,
    /// Raising the bill to its minimum.
    MinimumBill,
    /// Percentage taxes.
    Tax,
}

/// One line of a bill: `amount ≈ quantity × unit_price`, rounded once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// What it is for.
    pub kind: LineKind,
    /// What the customer reads.
    pub description: String,
    /// Exact decimal quantity (negative for energy credited).
    pub quantity: String,
    /// Unit of the quantity: `kWh`, `kW`, `day`, `month`, `bill` or the currency.
    pub unit: String,
    /// Exact decimal price per unit (an average where prices varied).
    pub unit_price: String,
    /// The amount in minor units of the currency, rounded half away from zero from the
    /// exact product.
    pub amount_minor: i64,
}

/// Sums of the lines by kind, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subtotals {
    /// Energy, unallocated energy and the net-metering credit.
    pub energy_minor: i64,
    /// Net-billing export and the true-up.
    pub export_minor: i64,
    /// Demand charges.
    pub demand_minor: i64,
    /// Standing charges.
    pub fixed_minor: i64,
    /// Levies per kWh.
    pub levies_minor: i64,
    /// The minimum-bill adjustment.
    pub minimum_minor: i64,
    /// Everything before taxes.
    pub before_taxes_minor: i64,
    /// Percentage taxes.
    pub taxes_minor: i64,
}

/// One register's energy over the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterEnergy {
    /// Register delta, mWh (absent when no registers were given).
    pub register_mwh: Option<i64>,
    /// Sum of the interval data inside the period (estimates included), mWh.
    pub intervals_mwh: i64,
    /// Register delta minus the intervals' sum, mWh.
    pub difference_mwh: Option<i64>,
    /// What the bill charges or credits: the register delta, or the intervals' sum
    /// without registers, mWh.
    pub billed_mwh: i64,
}

/// Energy of both registers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergySummary {
    /// Imported.
    pub import: RegisterEnergy,
    /// Exported.
    pub export: RegisterEnergy,
}

/// Estimated data in the bill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EstimatedSummary {
    /// Estimated intervals (a register delta spread over the period counts as one).
    pub intervals: usize,
    /// Estimated import inside the period, mWh.
    pub import_mwh: i64,
    /// Estimated export inside the period, mWh.
    pub export_mwh: i64,
}

/// The highest demand under one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemandPeak {
    /// Start of the 15-minute window (or interval).
    pub start: jiff::Timestamp,
    /// Demand, W.
    pub power_w: i64,
}

/// Net-metering credit in kWh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetMeteringSummary {
    /// Credit carried in, mWh.
    pub credit_in_mwh: i64,
    /// Exported in the period, mWh.
    pub exported_mwh: i64,
    /// Import offset by export and credit, mWh.
    pub offset_mwh: i64,
    /// Whether this bill settled the credit.
    pub true_up: bool,
    /// Credit paid out at the true-up, mWh.
    pub paid_mwh: i64,
    /// Credit forfeited at the true-up, mWh.
    pub forfeited_mwh: i64,
    /// Credit carried to the next bill, mWh.
    pub credit_out_mwh: i64,
}

/// A bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    /// The meter billed.
    pub meter: String,
    /// The plan's name.
    pub plan: String,
    /// Currency code.
    pub currency: String,
    /// Digits of the currency's minor unit.
    pub currency_digits: u8,
    /// The plan's time zone (for showing local times).
    pub time_zone: String,
    /// The period billed.
    pub period: Period,
    /// The lines, charges first and taxes last.
    pub lines: Vec<Line>,
    /// Sums by kind.
    pub subtotals: Subtotals,
    /// The sum of every line, minor units.
    pub total_minor: i64,
    /// Energy from the registers and from the intervals, and the difference.
    pub energy: EnergySummary,
    /// Estimated data used.
    pub estimated: EstimatedSummary,
    /// The highest demand, per version in force, where a demand charge applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub demand_peaks: Vec<DemandPeak>,
    /// Net-metering credit, under net metering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_metering: Option<NetMeteringSummary>,
    /// What validation and pricing found.
    pub findings: Vec<Finding>,
}

impl Bill {
    /// The bill as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // A bill holds only strings, integers and enums: serialising it cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl PreparedPeriod<'_> {
    /// Bills one meter over the prepared period: validates its data, prices it, settles
    /// net-metering credit at a true-up and applies the minimum bill.
    pub fn bill(&self, meter: &MeterData<'_>) -> Result<Bill, BillError> {
        crate::lines::compute(self, meter, true)
    }
}

/// Bills many meters over one prepared period on `threads` threads (at least one); the
/// results are in the order of `meters`.
pub fn bill_fleet(
    prepared: &PreparedPeriod<'_>,
    meters: &[MeterData<'_>],
    threads: usize,
) -> Vec<Result<Bill, BillError>> {
    let chunk = meters.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = meters
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|m| prepared.bill(m)).collect::<Vec<_>>())
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                // A worker only panics if billing has a bug; carry that panic on.
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}
