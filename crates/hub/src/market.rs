//! What alerts and automation need from billing: a meter's bill forecast and its energy
//! price now, behind one small trait.
//!
//! Billing (tariff plans, bills and forecasts from `joule-tariff`) lives elsewhere in the
//! hub; alert rules ("bill forecast above a budget", "price above a threshold") and
//! automation triggers ("price above/below") only read these two numbers, so their
//! evaluation stays pure and testable with any source of them. The hub's source is
//! billing's in-memory cache (`billing::market::MarketCache`, kept fresh by a task of its
//! own, since the watcher asks on every tick); [`Unpriced`] knows neither figure and so
//! never fires such rules.

use joule_protocol::MeterId;

/// A meter's money figures at an instant.
pub trait MarketInputs: Send + Sync + std::fmt::Debug {
    /// The forecast of the meter's bill for the current billing period, in the plan's
    /// currency, as known at `now_ms`; `None` when there is none (no plan, no data).
    fn bill_forecast(&self, meter: &MeterId, now_ms: i64) -> Option<f64>;
    /// The meter's import price at `now_ms`, currency per kWh; `None` when unknown.
    fn price_per_kwh(&self, meter: &MeterId, now_ms: i64) -> Option<f64>;
}

/// No billing source: no forecast, no price.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unpriced;

impl MarketInputs for Unpriced {
    fn bill_forecast(&self, _meter: &MeterId, _now_ms: i64) -> Option<f64> {
        None
    }

    fn price_per_kwh(&self, _meter: &MeterId, _now_ms: i64) -> Option<f64> {
        None
    }
}
