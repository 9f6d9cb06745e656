//! A billing run: every meter with a tariff billed for one month, in the background, with
//! its progress and summary kept in the store so that anyone can follow it.
//!
//! Meters are grouped by plan, so each plan's period is prepared once per chunk of meters
//! (`joule_tariff::PreparedPeriod`), and chunks are billed on the blocking pool with
//! `bill_fleet` on every core. A run's bills are stored open and closed when the run ends;
//! a closed period is billed again only when asked for explicitly (`rerun`).

use super::convert::MeterIntervals;
use super::{BillingError, closed_period_intervals, market_for, month};
use joule_clock::SharedClock;
use joule_protocol::MeterId;
use joule_store::{
    BillRecord, BillingRun, CurrencyTotal, MeterFilter, MeterRecord, RunStatus, Store, StoreError,
};
use joule_tariff::{Bill, Market, MeterData, Period, Plan, PreparedPeriod, ValidationRules};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Meters billed between two progress updates.
const CHUNK: usize = 200;

/// Meters whose records are read at once (the SQLite store has four reader connections).
const READS_IN_FLIGHT: usize = 4;

/// How many errors a summary keeps.
const MAX_ERRORS: usize = 20;

/// One meter's data, ready for billing.
#[derive(Debug, Clone)]
pub struct MeterInput {
    /// The meter.
    pub meter: MeterId,
    /// Its interval energy and boundary reads.
    pub data: MeterIntervals,
    /// Net-metering kWh credit carried in from its previous bill, mWh.
    pub credit_in_mwh: u64,
}

/// Bills a chunk of meters on one plan and period: prepares the period once and bills the
/// meters on `threads` threads, in order. A failed preparation fails every meter with it.
pub fn bill_chunk(
    plan: &Plan,
    period: Period,
    market: &Market,
    meters: &[MeterInput],
    now: jiff::Timestamp,
    threads: usize,
) -> Vec<Result<Bill, String>> {
    let prepared = match PreparedPeriod::new(plan, period, market) {
        Ok(prepared) => prepared,
        Err(error) => return meters.iter().map(|_| Err(error.to_string())).collect(),
    };
    let data: Vec<MeterData<'_>> = meters
        .iter()
        .map(|input| MeterData {
            meter: input.meter.as_str(),
            intervals: &input.data.intervals,
            registers: input.data.registers,
            credit_in_mwh: input.credit_in_mwh,
            rules: ValidationRules {
                now: Some(now),
                ..ValidationRules::default()
            },
        })
        .collect();
    joule_tariff::bill_fleet(&prepared, &data, threads)
        .into_iter()
        .map(|result| result.map_err(|error| error.to_string()))
        .collect()
}

/// Starts billing `period` (`YYYY-MM`) for every meter with a tariff; returns the run at
/// once and bills in the background, reading the time from `clock`.
pub async fn start(
    store: Arc<dyn Store>,
    period: &str,
    rerun: bool,
    started_by: &str,
    clock: SharedClock,
) -> Result<BillingRun, BillingError> {
    let (first, next) = month(period)?;
    if !rerun && store.period_closed(period).await? {
        return Err(BillingError::Closed(period.to_owned()));
    }
    let meters: Vec<MeterRecord> = store
        .meters(&MeterFilter::default())
        .await?
        .into_iter()
        .filter(|meter| meter.details.tariff.is_some())
        .collect();
    let run = store
        .add_billing_run(period, started_by, meters.len() as u64, clock.now_ms())
        .await?;
    tracing::info!(
        run = run.id,
        period,
        meters = meters.len(),
        "billing run started"
    );
    let task = Run {
        store: Arc::clone(&store),
        run: run.clone(),
        first,
        next,
        clock,
    };
    tokio::spawn(task.execute(meters));
    Ok(run)
}

/// A run in progress.
struct Run {
    store: Arc<dyn Store>,
    run: BillingRun,
    first: jiff::civil::Date,
    next: jiff::civil::Date,
    clock: SharedClock,
}

impl Run {
    async fn execute(mut self, meters: Vec<MeterRecord>) {
        let outcome = self.bill_all(meters).await;
        let run = &mut self.run;
        run.finished_ms = Some(self.clock.now_ms());
        run.status = match &outcome {
            Ok(()) => RunStatus::Done,
            Err(error) => {
                run.summary.errors.push(format!("run stopped: {error}"));
                RunStatus::Failed
            }
        };
        let saved = match self.store.update_billing_run(run).await {
            Ok(()) if outcome.is_ok() => self.store.close_bills(run.id).await,
            other => other,
        };
        if let Err(error) = saved {
            tracing::error!(run = run.id, %error, "recording the end of a billing run failed");
        }
        tracing::info!(
            run = run.id,
            status = run.status.name(),
            billed = run.summary.billed,
            failed = run.summary.failed,
            "billing run ended"
        );
    }

    async fn bill_all(&mut self, meters: Vec<MeterRecord>) -> Result<(), StoreError> {
        let mut by_plan: BTreeMap<String, Vec<MeterId>> = BTreeMap::new();
        for meter in meters {
            if let Some(tariff) = meter.details.tariff {
                by_plan.entry(tariff).or_default().push(meter.id);
            }
        }
        for (name, meters) in by_plan {
            let prepared = match self.store.tariff(&name).await? {
                Some(tariff) => self.plan_period(tariff.plan).await,
                None => Err(BillingError::MissingPlan(name.clone())),
            };
            match prepared {
                Ok((plan, period, market)) => {
                    let plan = Arc::new(plan);
                    let market = Arc::new(market);
                    for chunk in meters.chunks(CHUNK) {
                        self.bill_some(&plan, period, &market, chunk).await?;
                    }
                }
                Err(BillingError::Store(error)) => return Err(error),
                Err(error) => {
                    for meter in &meters {
                        self.failed(meter, &error.to_string());
                    }
                    self.run.meters_done += meters.len() as u64;
                    self.store.update_billing_run(&self.run).await?;
                }
            }
        }
        Ok(())
    }

    /// The plan's period for the run's month and the prices it needs.
    async fn plan_period(&self, plan: Plan) -> Result<(Plan, Period, Market), BillingError> {
        let period = Period::from_dates(&plan, self.first, self.next)
            .map_err(|error| BillingError::Pricing(error.to_string()))?;
        let market = market_for(
            self.store.as_ref(),
            &plan,
            period.start().as_millisecond(),
            period.end().as_millisecond(),
        )
        .await?;
        Ok((plan, period, market))
    }

    async fn bill_some(
        &mut self,
        plan: &Arc<Plan>,
        period: Period,
        market: &Arc<Market>,
        meters: &[MeterId],
    ) -> Result<(), StoreError> {
        let (from_ms, to_ms) = (
            period.start().as_millisecond(),
            period.end().as_millisecond(),
        );
        // Several meters are read at once: the store's reads wait on I/O and decode
        // blocks, which the readers do side by side.
        let mut inputs = Vec::with_capacity(meters.len());
        for group in meters.chunks(READS_IN_FLIGHT) {
            let read = group.iter().map(|meter| self.input(meter, from_ms, to_ms));
            inputs.extend(futures_util::future::try_join_all(read).await?);
        }
        let now = jiff::Timestamp::from_millisecond(self.clock.now_ms()).unwrap_or(period.end());
        let (plan, market) = (Arc::clone(plan), Arc::clone(market));
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let (inputs, bills) = tokio::task::spawn_blocking(move || {
            let bills = bill_chunk(&plan, period, &market, &inputs, now, threads);
            (inputs, bills)
        })
        .await
        .map_err(|error| StoreError::Database(format!("billing task: {error}")))?;
        let created_ms = self.clock.now_ms();
        let mut records = Vec::with_capacity(bills.len());
        for (input, bill) in inputs.iter().zip(bills) {
            match bill {
                Ok(bill) => records.push(self.billed(&input.meter, &bill, created_ms)),
                Err(error) => self.failed(&input.meter, &error),
            }
        }
        self.store.put_bills(&records).await?;
        self.run.meters_done += meters.len() as u64;
        self.store.update_billing_run(&self.run).await
    }

    /// What billing needs of one meter over `[from_ms, to_ms)`.
    async fn input(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<MeterInput, StoreError> {
        Ok(MeterInput {
            meter: meter.clone(),
            data: closed_period_intervals(self.store.as_ref(), meter, from_ms, to_ms).await?,
            credit_in_mwh: self.credit_in(meter).await?,
        })
    }

    /// The credit a net-metering meter carries in: what its previous month's bill carried
    /// out.
    async fn credit_in(&self, meter: &MeterId) -> Result<u64, StoreError> {
        let Some(previous) = self.first.checked_sub(jiff::Span::new().months(1)).ok() else {
            return Ok(0);
        };
        let previous = previous.strftime("%Y-%m").to_string();
        let bills = self.store.bills(meter, 24).await?;
        let carried = bills
            .iter()
            .find(|bill| bill.period == previous)
            .and_then(|bill| serde_json::from_str::<Bill>(&bill.json).ok())
            .and_then(|bill| bill.net_metering)
            .map_or(0, |net| net.credit_out_mwh);
        Ok(u64::try_from(carried).unwrap_or(0))
    }

    fn billed(&mut self, meter: &MeterId, bill: &Bill, created_ms: i64) -> BillRecord {
        let summary = &mut self.run.summary;
        summary.billed += 1;
        summary.with_estimates += u64::from(bill.estimated.intervals > 0);
        summary.with_findings += u64::from(!bill.findings.is_empty());
        match summary
            .totals
            .iter_mut()
            .find(|total| total.currency == bill.currency)
        {
            Some(total) => total.total_minor += bill.total_minor,
            None => summary.totals.push(CurrencyTotal {
                currency: bill.currency.clone(),
                currency_digits: bill.currency_digits,
                total_minor: bill.total_minor,
            }),
        }
        BillRecord {
            id: 0,
            run_id: self.run.id,
            meter: meter.clone(),
            period: self.run.period.clone(),
            plan: bill.plan.clone(),
            currency: bill.currency.clone(),
            currency_digits: bill.currency_digits,
            total_minor: bill.total_minor,
            closed: false,
            created_ms,
            json: bill.to_json(),
        }
    }

    fn failed(&mut self, meter: &MeterId, reason: &str) {
        let summary = &mut self.run.summary;
        summary.failed += 1;
        if summary.errors.len() < MAX_ERRORS {
            summary.errors.push(format!("{meter}: {reason}"));
        }
    }
}
