#![doc = include_str!("../README.md")]

mod anomaly;
mod appliances;
mod baseload;
mod basis;
mod carbon;
mod compare;
mod money;
mod profile;
mod series;
mod shift;
mod solar;
mod stats;
mod totals;

pub use anomaly::{Anomalies, AnomalyError, AnomalyOptions, Direction, HourAnomaly, anomalies};
pub use appliances::{
    ApplianceError, ApplianceEvent, ApplianceKind, ApplianceReport, DetectorOptions, EventCluster,
    detect_appliances,
};
pub use baseload::{Baseload, BaseloadError, BaseloadOptions, NightMinimum, baseload};
pub use basis::Basis;
pub use carbon::{CarbonError, CarbonFootprint, GridIntensity, IntensityPoint, carbon};
pub use compare::{
    CompareError, PeerComparison, PeerGroup, PeriodComparison, PeriodTotal, compare_with_peers,
    compare_with_previous,
};
pub use money::{Money, Price};
pub use profile::{
    DailyProfile, HourBucket, PeakHour, PeakHours, ProfileError, WeeklyProfile, daily_profile,
    peak_hours, weekly_profile,
};
pub use series::{Interval, Period, PowerSample};
pub use shift::{
    PeakWindow, PricePoint, ShiftError, ShiftOptions, ShiftPotential, ShiftPrices, shift_potential,
};
pub use solar::{SolarBalance, SolarError, solar_balance};
pub use totals::{
    DayTotal, MonthTotal, MonthlyTotals, TopDays, TotalsError, monthly_totals, top_days,
};
