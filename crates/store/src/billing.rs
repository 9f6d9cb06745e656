//! What the store keeps for billing: tariff plans (their TOML as given), market price
//! points, billing runs and bills, and the rule that a replaced plan may not change a
//! price already in force.
//!
//! A plan is parsed when it is stored and again when it is read, so nothing unreadable is
//! kept and a plan read back is always checked. Versions are dated inside the plan; a
//! replacement may add or change versions that start after today (in the plan's zone) and
//! nothing else, so a price change applies from its effective date, never retroactively.

use super::rows::{ResultRow, narrow};
use super::{StoreError, corrupt, stored_meter_id, to_u64};
use async_trait::async_trait;
use joule_protocol::MeterId;
use joule_tariff::Plan;
use serde::{Deserialize, Serialize};

/// What the store keeps for billing; part of every `Store`.
#[async_trait]
pub trait BillingStore: Send + Sync {
    /// Stores a tariff plan under its name, or replaces it if the replacement changes
    /// nothing in force on or before `now_ms` (`check_replacement`).
    async fn put_tariff(&self, toml: &str, now_ms: i64) -> Result<TariffRecord, StoreError>;
    /// One tariff plan.
    async fn tariff(&self, name: &str) -> Result<Option<TariffRecord>, StoreError>;
    /// Every tariff plan, by name.
    async fn tariffs(&self) -> Result<Vec<TariffRecord>, StoreError>;
    /// Deletes a tariff plan no meter names.
    async fn delete_tariff(&self, name: &str) -> Result<(), StoreError>;
    /// Stores market price points (a point with the same market and start is replaced);
    /// returns how many were written.
    async fn put_prices(
        &self,
        market: &str,
        points: &[joule_tariff::PricePoint],
    ) -> Result<usize, StoreError>;
    /// A market's price points overlapping `[from_ms, to_ms)`, in time order.
    async fn prices(
        &self,
        market: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<joule_tariff::PricePoint>, StoreError>;
    /// Starts a billing run (status running) and returns it with its id.
    async fn add_billing_run(
        &self,
        period: &str,
        started_by: &str,
        meters_total: u64,
        now_ms: i64,
    ) -> Result<BillingRun, StoreError>;
    /// Records a run's progress, status and summary.
    async fn update_billing_run(&self, run: &BillingRun) -> Result<(), StoreError>;
    /// One billing run.
    async fn billing_run(&self, id: u64) -> Result<Option<BillingRun>, StoreError>;
    /// The most recent billing runs, newest first.
    async fn billing_runs(&self, limit: usize) -> Result<Vec<BillingRun>, StoreError>;
    /// Stores bills (open); a bill of the same meter and period is replaced. The ids given
    /// are ignored.
    async fn put_bills(&self, bills: &[BillRecord]) -> Result<(), StoreError>;
    /// Closes the bills a run made.
    async fn close_bills(&self, run_id: u64) -> Result<(), StoreError>;
    /// Whether a period has closed bills.
    async fn period_closed(&self, period: &str) -> Result<bool, StoreError>;
    /// A meter's bills, newest period first.
    async fn bills(&self, meter: &MeterId, limit: usize) -> Result<Vec<BillRecord>, StoreError>;
    /// One bill.
    async fn bill(&self, id: u64) -> Result<Option<BillRecord>, StoreError>;
    /// The bills a run made, by meter.
    async fn run_bills(&self, run_id: u64, limit: usize) -> Result<Vec<BillRecord>, StoreError>;
}

/// Which bills a query reads: a meter's, one bill, or a run's.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BillsOf<'a> {
    /// A meter's bills.
    Meter(&'a MeterId),
    /// One bill by id.
    Bill(u64),
    /// The bills a run made.
    Run(u64),
}

impl<'a> BillsOf<'a> {
    /// The meter asked for.
    pub(crate) fn meter(self) -> Option<&'a MeterId> {
        match self {
            Self::Meter(meter) => Some(meter),
            Self::Bill(_) | Self::Run(_) => None,
        }
    }

    /// The bill asked for.
    pub(crate) fn bill(self) -> Option<u64> {
        match self {
            Self::Bill(id) => Some(id),
            Self::Meter(_) | Self::Run(_) => None,
        }
    }

    /// The run asked for.
    pub(crate) fn run(self) -> Option<u64> {
        match self {
            Self::Run(id) => Some(id),
            Self::Meter(_) | Self::Bill(_) => None,
        }
    }
}

/// A tariff plan as stored.
#[derive(Debug, Clone)]
pub struct TariffRecord {
    /// The plan's name (its key).
    pub name: String,
    /// The TOML text as it was given.
    pub toml: String,
    /// The plan read from it.
    pub plan: Plan,
    /// When it was stored or last replaced, Unix ms.
    pub updated_ms: i64,
}

/// Where a billing run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Billing meters.
    Running,
    /// Every meter was tried; the summary says how it went.
    Done,
    /// The run stopped (the store failed); the summary says why.
    Failed,
}

impl RunStatus {
    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
        }
    }

    /// The status a stored name stands for.
    pub fn from_name(name: &str) -> Result<RunStatus, StoreError> {
        match name {
            "running" => Ok(RunStatus::Running),
            "done" => Ok(RunStatus::Done),
            "failed" => Ok(RunStatus::Failed),
            other => Err(StoreError::Corrupt {
                what: "billing run status",
                detail: other.to_owned(),
            }),
        }
    }
}

/// The money billed in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CurrencyTotal {
    /// ISO currency code.
    pub currency: String,
    /// Digits of its minor unit.
    pub currency_digits: u8,
    /// Sum of the bills, minor units.
    pub total_minor: i64,
}

/// What a billing run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunSummary {
    /// Meters billed.
    pub billed: u64,
    /// Meters whose bill failed (see `errors`).
    pub failed: u64,
    /// Bills with at least one estimated interval.
    pub with_estimates: u64,
    /// Bills with at least one validation finding.
    pub with_findings: u64,
    /// Totals per currency.
    pub totals: Vec<CurrencyTotal>,
    /// The first errors, `meter: reason` (at most 20).
    pub errors: Vec<String>,
}

/// A billing run over every meter with a tariff, for one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillingRun {
    /// Its id.
    pub id: u64,
    /// The month billed, `YYYY-MM` (local months of each plan's zone).
    pub period: String,
    /// Who started it.
    pub started_by: String,
    /// When it started, Unix ms.
    pub started_ms: i64,
    /// When it ended, Unix ms.
    pub finished_ms: Option<i64>,
    /// Meters tried so far.
    pub meters_done: u64,
    /// Meters to bill.
    pub meters_total: u64,
    /// Where it is.
    pub status: RunStatus,
    /// What it did so far.
    pub summary: RunSummary,
}

/// A stored bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillRecord {
    /// Its id (given by the store).
    pub id: u64,
    /// The run that made it.
    pub run_id: u64,
    /// The meter billed.
    pub meter: MeterId,
    /// The month billed, `YYYY-MM`.
    pub period: String,
    /// The plan's name.
    pub plan: String,
    /// ISO currency code.
    pub currency: String,
    /// Digits of the currency's minor unit.
    pub currency_digits: u8,
    /// Total, minor units.
    pub total_minor: i64,
    /// Whether its run finished (the period is then closed).
    pub closed: bool,
    /// When it was made, Unix ms.
    pub created_ms: i64,
    /// The bill document (`joule_tariff::Bill::to_json`).
    pub json: String,
}

/// Reads a stored or given plan.
pub(crate) fn parse_plan(toml: &str) -> Result<Plan, StoreError> {
    Plan::from_toml(toml).map_err(|error| StoreError::InvalidTariff(error.to_string()))
}

/// A plan read back from the database.
pub(crate) fn stored_plan(toml: &str) -> Result<Plan, StoreError> {
    Plan::from_toml(toml).map_err(|error| StoreError::Corrupt {
        what: "tariff plan",
        detail: error.to_string(),
    })
}

/// Refuses a replacement of `old_toml` by `new_toml` that would change prices already in
/// force at `now_ms` (`joule_tariff::check_replacement` holds the rule; the store applies
/// it inside the transaction that reads the old plan and writes the new one).
pub(crate) fn check_replacement(
    old_toml: &str,
    new_toml: &str,
    old: &Plan,
    now_ms: i64,
) -> Result<(), StoreError> {
    let now = jiff::Timestamp::from_millisecond(now_ms)
        .map_err(|error| StoreError::Database(error.to_string()))?;
    joule_tariff::check_replacement(old_toml, new_toml, old, now).map_err(|error| match error {
        joule_tariff::ReplacementError::Invalid(detail) => StoreError::InvalidTariff(detail),
        joule_tariff::ReplacementError::Retroactive(detail) => StoreError::Retroactive(detail),
    })
}

/// The columns `tariff` reads, of `tariffs`.
pub(crate) const TARIFF_COLUMNS: &str = "name, toml, updated_ms";

/// A tariff plan, from `TARIFF_COLUMNS`: its TOML is read again, so a plan read back is
/// always checked.
pub(crate) fn tariff(row: &impl ResultRow) -> Result<TariffRecord, StoreError> {
    let toml = row.text(1)?;
    Ok(TariffRecord {
        name: row.text(0)?,
        plan: stored_plan(&toml)?,
        toml,
        updated_ms: row.int(2)?,
    })
}

/// The columns `price_point` reads, of `prices`.
pub(crate) const PRICE_COLUMNS: &str = "start_ms, duration_s, price_micros";

/// A price point, from `PRICE_COLUMNS`.
pub(crate) fn price_point(row: &impl ResultRow) -> Result<joule_tariff::PricePoint, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "price point",
        detail,
    };
    let start =
        jiff::Timestamp::from_millisecond(row.int(0)?).map_err(|e| corrupt(e.to_string()))?;
    let end = start
        .checked_add(jiff::SignedDuration::from_secs(row.int(1)?))
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(joule_tariff::PricePoint {
        start,
        end,
        price_per_kwh: joule_tariff::Micros(row.int(2)?),
    })
}

/// The columns `billing_run` reads, of `billing_runs` (a `SELECT` or a `RETURNING`).
pub(crate) const BILLING_RUN_COLUMNS: &str = "id, period, started_by, started_ms, finished_ms,
    meters_done, meters_total, status, summary";

/// A billing run, from `BILLING_RUN_COLUMNS`.
pub(crate) fn billing_run(row: &impl ResultRow) -> Result<BillingRun, StoreError> {
    Ok(BillingRun {
        id: to_u64(row.int(0)?),
        period: row.text(1)?,
        started_by: row.text(2)?,
        started_ms: row.int(3)?,
        finished_ms: row.opt_int(4)?,
        meters_done: to_u64(row.int(5)?),
        meters_total: to_u64(row.int(6)?),
        status: RunStatus::from_name(&row.text(7)?)?,
        summary: serde_json::from_str(&row.text(8)?).map_err(corrupt("run summary"))?,
    })
}

/// The columns `bill` reads, of `bills`.
pub(crate) const BILL_COLUMNS: &str = "id, run_id, meter_id, period, plan, currency,
    currency_digits, total_minor, closed, created_ms, bill";

/// A bill, from `BILL_COLUMNS`.
pub(crate) fn bill(row: &impl ResultRow) -> Result<BillRecord, StoreError> {
    Ok(BillRecord {
        id: to_u64(row.int(0)?),
        run_id: to_u64(row.int(1)?),
        meter: stored_meter_id(&row.text(2)?)?,
        period: row.text(3)?,
        plan: row.text(4)?,
        currency: row.text(5)?,
        currency_digits: narrow(row.small(6)?, "bill currency digits")?,
        total_minor: row.int(7)?,
        closed: row.flag(8)?,
        created_ms: row.int(9)?,
        json: row.text(10)?,
    })
}
