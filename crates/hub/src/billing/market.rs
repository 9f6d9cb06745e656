//! Billing's money figures for alert and automation rules ([`MarketInputs`]), kept in
//! memory. The watcher asks for them on every tick, once per rule and meter, so they must
//! answer without the store; a refresher task ([`run`]) fills the cache from billing:
//!
//! - each plan in use gets its import energy price (before levies and taxes, as the
//!   portal shows it) for the next 24 hours as far as prices are known, as a timeline of
//!   price steps, so the price at any instant is right across price boundaries between
//!   refreshes;
//! - each meter on a plan gets its bill forecast for the current local month
//!   ([`cost_on_plan`], the figure the portal shows), which holds until the month ends.
//!
//! The work of a pass is bounded: a pass runs every 15 s, and at once when prices, plans or
//! meters change (the API and the price fetcher say so). It reads the registry again at
//! most once a minute unless told of a change, reads the plans and the next 24 hours of
//! their prices (one query per plan in use), and computes at most 100 forecasts: the
//! stalest of those older than 5 minutes or computed before the last change. Every
//! forecast of a fleet of N meters is thus at most max(5 min, N / 100 × 15 s) old, about
//! 3000 meters within 5 minutes.

use super::cost::{AHEAD_HOURS, cost_on_plan, month_of, prices_now, whole_second};
use super::{BillingError, market_for};
use crate::market::MarketInputs;
use joule_clock::SharedClock;
use joule_protocol::MeterId;
use joule_store::{MeterFilter, MeterRecord, Store};
use joule_tariff::{Plan, PricePoint};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// How often a pass runs when nothing changes.
const PASS_EVERY: Duration = Duration::from_secs(15);

/// How old a forecast may grow before it is computed again, ms.
const FORECAST_MAX_AGE_MS: i64 = 300_000;

/// Forecasts computed in one pass at most.
const FORECASTS_PER_PASS: usize = 100;

/// How often the registry is read again when nobody said it changed, ms.
const REGISTRY_EVERY_MS: i64 = 60_000;

/// An import price over `[start_ms, end_ms)`, currency per kWh.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PriceStep {
    start_ms: i64,
    end_ms: i64,
    price_per_kwh: f64,
}

impl From<&PricePoint> for PriceStep {
    fn from(point: &PricePoint) -> Self {
        Self {
            start_ms: point.start.as_millisecond(),
            end_ms: point.end.as_millisecond(),
            price_per_kwh: point.price_per_kwh.0 as f64 / 1e6,
        }
    }
}

/// A meter's bill forecast, in the plan's currency, for the period ending at
/// `period_end_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Forecast {
    total: f64,
    period_end_ms: i64,
}

/// What the cache holds.
#[derive(Debug, Default)]
struct Figures {
    /// Each meter's plan.
    plans: HashMap<MeterId, Arc<str>>,
    /// Each meter's forecast, when it has one.
    forecasts: HashMap<MeterId, Forecast>,
    /// Each plan's import prices from the last pass on, in time order.
    prices: HashMap<Arc<str>, Vec<PriceStep>>,
}

/// Billing's money figures in memory: the refresher writes, the watcher reads.
#[derive(Debug, Clone, Default)]
pub struct MarketCache {
    figures: Arc<RwLock<Figures>>,
}

impl MarketCache {
    // A writer that panicked leaves figures that are still whole (each update is one
    // assignment), so a poisoned lock is used as it is.
    fn read(&self) -> RwLockReadGuard<'_, Figures> {
        self.figures.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Figures> {
        self.figures.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MarketInputs for MarketCache {
    fn bill_forecast(&self, meter: &MeterId, now_ms: i64) -> Option<f64> {
        let figures = self.read();
        let forecast = figures.forecasts.get(meter)?;
        (now_ms < forecast.period_end_ms).then_some(forecast.total)
    }

    fn price_per_kwh(&self, meter: &MeterId, now_ms: i64) -> Option<f64> {
        let figures = self.read();
        let steps = figures.prices.get(figures.plans.get(meter)?)?;
        let index = steps.partition_point(|step| step.end_ms <= now_ms);
        let step = steps.get(index)?;
        (step.start_ms <= now_ms).then_some(step.price_per_kwh)
    }
}

/// Keeps `cache` filled from `store` until aborted: a pass every 15 s, and one at once
/// whenever `changed` is notified (prices, plans or meters changed).
pub async fn run(
    store: Arc<dyn Store>,
    clock: SharedClock,
    cache: MarketCache,
    changed: Arc<Notify>,
) {
    let mut refresher = Refresher::new(store, cache);
    let mut tick = tokio::time::interval(PASS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = changed.notified() => refresher.changed(clock.now_ms()),
        }
        let started = std::time::Instant::now();
        match refresher.pass(clock.now_ms()).await {
            Ok(forecasts) => tracing::debug!(forecasts, "market figures refreshed"),
            Err(error) => tracing::warn!(%error, "refreshing market figures failed"),
        }
        metrics::histogram!(crate::telemetry::names::MARKET_PASS_SECONDS)
            .record(started.elapsed().as_secs_f64());
    }
}

/// What the refresher keeps between passes.
#[derive(Debug)]
struct Refresher {
    store: Arc<dyn Store>,
    cache: MarketCache,
    /// The meters on a plan, as last read.
    meters: Vec<MeterRecord>,
    /// When each meter's forecast was last computed (or tried), Unix ms.
    computed_ms: HashMap<MeterId, i64>,
    /// When the registry was last read, Unix ms; `None`: read it at the next pass.
    registry_ms: Option<i64>,
    /// Forecasts computed before this are due: something changed then, Unix ms.
    changed_ms: i64,
}

impl Refresher {
    /// A refresher filling `cache` from `store`, starting empty.
    fn new(store: Arc<dyn Store>, cache: MarketCache) -> Self {
        Self {
            store,
            cache,
            meters: Vec::new(),
            computed_ms: HashMap::new(),
            registry_ms: None,
            changed_ms: i64::MIN,
        }
    }

    /// Notes that prices, plans or meters changed at `now_ms`: the next pass reads the
    /// registry again and every forecast is due.
    fn changed(&mut self, now_ms: i64) {
        self.registry_ms = None;
        self.changed_ms = now_ms;
    }

    /// One pass at `now_ms`: the registry if due, every plan's prices, and the stalest due
    /// forecasts. Returns how many forecasts it computed.
    async fn pass(&mut self, now_ms: i64) -> Result<usize, BillingError> {
        if self
            .registry_ms
            .is_none_or(|read_ms| now_ms - read_ms >= REGISTRY_EVERY_MS)
        {
            self.read_registry().await?;
            self.registry_ms = Some(now_ms);
        }
        let plans = self.refresh_prices(now_ms).await?;
        Ok(self.refresh_forecasts(&plans, now_ms).await)
    }

    /// Reads the meters on a plan; a meter whose plan changed loses its forecast.
    async fn read_registry(&mut self) -> Result<(), BillingError> {
        let meters = self.store.meters(&MeterFilter::default()).await?;
        self.meters = meters
            .into_iter()
            .filter(|meter| meter.details.tariff.is_some())
            .collect();
        let mut names: HashMap<&str, Arc<str>> = HashMap::new();
        let plans: HashMap<MeterId, Arc<str>> = self
            .meters
            .iter()
            .filter_map(|meter| {
                let name = meter.details.tariff.as_deref()?;
                let shared = names.entry(name).or_insert_with(|| Arc::from(name));
                Some((meter.id.clone(), Arc::clone(shared)))
            })
            .collect();
        let mut figures = self.cache.write();
        let old = std::mem::replace(&mut figures.plans, plans);
        let Figures {
            plans, forecasts, ..
        } = &mut *figures;
        let kept = |id: &MeterId| old.get(id).is_some_and(|plan| plans.get(id) == Some(plan));
        forecasts.retain(|id, _| kept(id));
        self.computed_ms.retain(|id, _| kept(id));
        Ok(())
    }

    /// Reads the plans in use and their prices ahead; returns the plans by name. A plan
    /// whose prices cannot be worked out (tiered, no prices stored) has none.
    async fn refresh_prices(&self, now_ms: i64) -> Result<HashMap<String, Plan>, BillingError> {
        let now = whole_second(now_ms)?;
        let ahead_ms = now_ms.saturating_add(AHEAD_HOURS * 3_600_000);
        let plans: HashMap<String, Plan> = self
            .store
            .tariffs()
            .await?
            .into_iter()
            .filter(|record| {
                self.meters
                    .iter()
                    .any(|meter| meter.details.tariff.as_deref() == Some(record.name.as_str()))
            })
            .map(|record| (record.name, record.plan))
            .collect();
        let mut prices = HashMap::new();
        for (name, plan) in &plans {
            let market = match market_for(self.store.as_ref(), plan, now_ms, ahead_ms).await {
                Ok(market) => market,
                Err(error) => {
                    failed(&format_args!("plan {name}"), &error);
                    continue;
                }
            };
            let steps = prices_now(plan, &market, now)
                .map(|ahead| ahead.ahead.iter().map(PriceStep::from).collect())
                .unwrap_or_default();
            prices.insert(Arc::from(name.as_str()), steps);
        }
        self.cache.write().prices = prices;
        Ok(plans)
    }

    /// Computes the stalest due forecasts, at most [`FORECASTS_PER_PASS`].
    async fn refresh_forecasts(&mut self, plans: &HashMap<String, Plan>, now_ms: i64) -> usize {
        let due_before_ms = now_ms
            .saturating_sub(FORECAST_MAX_AGE_MS)
            .max(self.changed_ms);
        let mut due: Vec<(i64, &MeterRecord)> = self
            .meters
            .iter()
            .filter(|meter| {
                let name = meter.details.tariff.as_deref().unwrap_or_default();
                plans.contains_key(name)
            })
            .map(|meter| {
                let computed_ms = self.computed_ms.get(&meter.id).copied();
                (computed_ms.unwrap_or(i64::MIN), meter)
            })
            .filter(|(computed_ms, _)| *computed_ms < due_before_ms)
            .collect();
        due.sort_by_key(|(computed_ms, _)| *computed_ms);
        let due: Vec<MeterRecord> = due
            .into_iter()
            .take(FORECASTS_PER_PASS)
            .map(|(_, meter)| meter.clone())
            .collect();
        for meter in &due {
            let name = meter.details.tariff.as_deref().unwrap_or_default();
            let Some(plan) = plans.get(name) else {
                continue;
            };
            let forecast = forecast(self.store.as_ref(), meter, plan, now_ms).await;
            self.computed_ms.insert(meter.id.clone(), now_ms);
            let mut figures = self.cache.write();
            match forecast {
                Ok(forecast) => {
                    figures.forecasts.insert(meter.id.clone(), forecast);
                }
                Err(error) => {
                    figures.forecasts.remove(&meter.id);
                    drop(figures);
                    failed(&format_args!("meter {}", meter.id), &error);
                }
            }
        }
        due.len()
    }
}

/// The forecast of `meter`'s bill for the month holding `now_ms`.
async fn forecast(
    store: &dyn Store,
    meter: &MeterRecord,
    plan: &Plan,
    now_ms: i64,
) -> Result<Forecast, BillingError> {
    let cost = cost_on_plan(store, meter, plan, now_ms).await?;
    let month = month_of(plan, whole_second(now_ms)?)?;
    Ok(Forecast {
        total: cost.forecast.total_minor as f64 / 10f64.powi(i32::from(cost.currency_digits)),
        period_end_ms: month.end().as_millisecond(),
    })
}

/// Counts a figure that could not be worked out. Logged at debug level only: the same
/// failure comes back every pass, and the portal's cost page says why.
fn failed(what: &std::fmt::Arguments<'_>, error: &BillingError) {
    metrics::counter!(crate::telemetry::names::MARKET_REFRESH_FAILED_TOTAL).increment(1);
    tracing::debug!(%error, "market figures for {what} failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_with(plan: &str, steps: Vec<PriceStep>, forecast: Option<Forecast>) -> MarketCache {
        let cache = MarketCache::default();
        {
            let mut figures = cache.write();
            let meter = MeterId::new("m-1").expect("id");
            figures.plans.insert(meter.clone(), Arc::from(plan));
            figures.prices.insert(Arc::from(plan), steps);
            if let Some(forecast) = forecast {
                figures.forecasts.insert(meter, forecast);
            }
        }
        cache
    }

    #[test]
    fn the_price_follows_the_timeline_across_boundaries_and_ends_with_it() {
        let step = |start_ms, end_ms, price_per_kwh| PriceStep {
            start_ms,
            end_ms,
            price_per_kwh,
        };
        // A gap between 2000 and 3000: no price is known there.
        let cache = cache_with(
            "dyn",
            vec![
                step(0, 1000, 0.10),
                step(1000, 2000, 0.45),
                step(3000, 4000, 0.05),
            ],
            None,
        );
        let meter = MeterId::new("m-1").expect("id");
        let price = |now_ms| cache.price_per_kwh(&meter, now_ms);
        assert_eq!(price(-1), None);
        assert_eq!(price(0), Some(0.10));
        assert_eq!(price(999), Some(0.10));
        assert_eq!(price(1000), Some(0.45));
        assert_eq!(price(1999), Some(0.45));
        assert_eq!(price(2500), None);
        assert_eq!(price(3000), Some(0.05));
        assert_eq!(price(4000), None);
        let other = MeterId::new("m-2").expect("id");
        assert_eq!(cache.price_per_kwh(&other, 500), None);
        assert_eq!(cache.bill_forecast(&meter, 500), None);
    }

    #[test]
    fn a_forecast_holds_until_its_period_ends() {
        let forecast = Forecast {
            total: 81.25,
            period_end_ms: 10_000,
        };
        let cache = cache_with("flat", Vec::new(), Some(forecast));
        let meter = MeterId::new("m-1").expect("id");
        assert_eq!(cache.bill_forecast(&meter, 9_999), Some(81.25));
        assert_eq!(cache.bill_forecast(&meter, 10_000), None);
        assert_eq!(cache.price_per_kwh(&meter, 0), None);
    }
}
