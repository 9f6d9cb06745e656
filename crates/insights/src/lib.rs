#![doc = include_str!("../README.md")]

mod basis;
mod baseload;
mod money;
mod series;
mod stats;

pub use basis::Basis;
pub use baseload::{Baseload, BaseloadError, BaseloadOptions, NightMinimum, baseload};
pub use money::{Money, Price};
pub use series::{Interval, PowerSample};
