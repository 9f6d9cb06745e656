#![doc = include_str!("../README.md")]

mod allocate;
mod bill;
mod calendar;
mod estimate;
mod forecast;
mod intervals;
mod lines;
mod money;
mod period;
mod plan;
mod prepare;
mod render;
mod revision;
mod series;
mod timeline;
mod tou;

pub use bill::{
    Bill, DemandPeak, EnergySummary, EstimatedSummary, Line, LineKind, MeterData,
    NetMeteringSummary, RegisterEnergy, Subtotals, bill_fleet,
};
pub use calendar::{DaySet, DayType, LocalTime, MonthDay, OutOfRange};
pub use estimate::{Estimate, EstimateError, FilledGap, Method, Profile, estimate};
pub use forecast::{
    Basis, CostSoFar, Forecast, ForecastError, PriceWindow, cheapest_block, cheapest_hours,
    cost_between, cost_period_so_far, cost_today, forecast_period, prices_ahead,
};
pub use intervals::{
    Finding, Interval, Register, RegisterRead, RegisterReads, SpikeReason, ValidationRules,
    validate,
};
pub use money::{DecimalError, Micros, format_minor};
pub use period::{Period, PeriodError};
pub use plan::{
    Block, DemandCharge, DemandWindow, DynamicPrice, EnergyCharge, ExportCredit, ExportPrice,
    FixedCharges, Levy, NetMetering, Plan, PlanError, Tax, TrueUp, Version,
};
pub use prepare::{BillError, PreparedPeriod};
pub use render::render_html;
pub use revision::{ReplacementError, check_replacement};
pub use series::{CriticalPeak, Market, PricePoint, PriceSeries, SeriesError, series_names};
pub use tou::{Season, Switch, TimeOfUse};
