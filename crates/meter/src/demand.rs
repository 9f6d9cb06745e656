//! The maximum-demand register's input: import energy per tick into block demand
//! intervals, with the highest closed interval's demand kept in the meter's state.

use joule_metrology::{DemandConfig, DemandMeter};

/// Block demand over the meter's interval, from the import register.
#[derive(Debug)]
pub struct Demand {
    meter: DemandMeter,
    /// The import register at the last tick, Wh.
    last_import_wh: Option<f64>,
}

impl Demand {
    /// Demand over intervals of `interval_s`.
    pub fn new(interval_s: u32) -> Self {
        Self {
            meter: DemandMeter::new(&DemandConfig {
                interval_s,
                subintervals: 1,
            }),
            last_import_wh: None,
        }
    }

    /// Takes the import register at `now_ms`; the demand of an interval that closed, W.
    pub fn add(&mut self, now_ms: i64, import_wh: f64) -> Option<f64> {
        let closed = self.last_import_wh.and_then(|last| {
            self.meter
                .add(now_ms as f64 / 1000.0, import_wh - last)
                .map(|reading| reading.demand_w)
        });
        self.last_import_wh = Some(import_wh);
        closed
    }

    /// The demand of the last closed interval, W (0 before the first).
    pub fn last_w(&self) -> f64 {
        self.meter.last().map_or(0.0, |d| d.demand_w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_load_closes_each_interval_at_its_power() {
        let mut demand = Demand::new(60);
        let wh_per_s = 1_200.0 / 3_600.0;
        // Primed at 59 s: the minutes from 60 s and 120 s are whole.
        let closed: Vec<f64> = (59..=180)
            .filter_map(|s| demand.add(s * 1_000, s as f64 * wh_per_s))
            .collect();
        assert_eq!(closed.len(), 2, "{closed:?}");
        assert!(
            closed.iter().all(|w| (w - 1_200.0).abs() < 1e-6),
            "{closed:?}"
        );
        assert!((demand.last_w() - 1_200.0).abs() < 1e-6);
    }
}
