//! Demand: the average import power over a demand interval (block), or over the last
//! interval updated every sub-interval (sliding), and the maximum demand with its time.
//!
//! Windows are aligned to the caller's clock (a 15-minute window ends at :00, :15, ...),
//! so the caller passes time in seconds since its epoch with each energy amount. A gap in
//! the energy (the meter was off) counts as sub-intervals with no energy.

use crate::config::{DemandConfig, MAX_SUBINTERVALS};

/// A demand value and the end of the window it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemandReading {
    /// Average import power over the window, in watts.
    pub demand_w: f64,
    /// End of the window, in the caller's seconds.
    pub window_end_s: i64,
}

/// Block or sliding demand with a maximum-demand register.
#[derive(Debug, Clone, Copy)]
pub struct DemandMeter {
    interval_s: i64,
    subinterval_s: i64,
    subintervals: usize,
    /// Energy of the last completed sub-intervals, newest last, in Wh.
    completed_wh: [f64; MAX_SUBINTERVALS],
    completed: usize,
    /// Index (time / subinterval_s) and energy of the sub-interval in progress.
    current: Option<(i64, f64)>,
    last: Option<DemandReading>,
    maximum: Option<DemandReading>,
}

impl DemandMeter {
    /// A demand meter for a validated configuration.
    pub fn new(config: &DemandConfig) -> Self {
        let subintervals = config.subintervals.max(1) as usize;
        let interval_s = i64::from(config.interval_s.max(1));
        Self {
            interval_s,
            subinterval_s: (interval_s / subintervals as i64).max(1),
            subintervals: subintervals.min(MAX_SUBINTERVALS),
            completed_wh: [0.0; MAX_SUBINTERVALS],
            completed: 0,
            current: None,
            last: None,
            maximum: None,
        }
    }

    /// Adds import energy (Wh) measured up to `time_s`; returns a new demand reading when
    /// this closes one or more sub-intervals (the reading of the latest window).
    pub fn add(&mut self, time_s: f64, import_wh: f64) -> Option<DemandReading> {
        let index = libm::floor(time_s / self.subinterval_s as f64) as i64;
        let mut reading = None;
        match self.current {
            None => self.current = Some((index, 0.0)),
            Some((current, _)) if index > current => {
                // Close the sub-interval in progress and any empty ones skipped over.
                let skipped = (index - current).min(self.subintervals as i64 + 1);
                for step in 0..skipped {
                    let energy = if step == 0 {
                        self.current.map_or(0.0, |c| c.1)
                    } else {
                        0.0
                    };
                    let end = (index - skipped + step + 1) * self.subinterval_s;
                    reading = self.close_subinterval(energy, end).or(reading);
                }
                self.current = Some((index, 0.0));
            }
            Some(_) => {}
        }
        if let Some((_, energy)) = &mut self.current {
            *energy += import_wh.max(0.0);
        }
        reading
    }

    fn close_subinterval(&mut self, energy_wh: f64, end_s: i64) -> Option<DemandReading> {
        if self.completed == self.subintervals {
            self.completed_wh.copy_within(1..self.subintervals, 0);
            self.completed -= 1;
        }
        self.completed_wh[self.completed] = energy_wh;
        self.completed += 1;
        if self.completed < self.subintervals {
            return None;
        }
        let window_wh: f64 = self.completed_wh[..self.subintervals].iter().sum();
        let reading = DemandReading {
            demand_w: window_wh * 3600.0 / self.interval_s as f64,
            window_end_s: end_s,
        };
        self.last = Some(reading);
        if self
            .maximum
            .is_none_or(|max| reading.demand_w > max.demand_w)
        {
            self.maximum = Some(reading);
        }
        Some(reading)
    }

    /// The demand of the last completed window.
    pub fn last(&self) -> Option<DemandReading> {
        self.last
    }

    /// The maximum demand since the last reset, with the end of its window.
    pub fn maximum(&self) -> Option<DemandReading> {
        self.maximum
    }

    /// Resets the maximum-demand register (a command, typically at the billing date).
    pub fn reset_maximum(&mut self) {
        self.maximum = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_demand_is_window_energy_over_window_time() {
        let mut demand = DemandMeter::new(&DemandConfig {
            interval_s: 900,
            subintervals: 1,
        });
        // 2 kW for the first window, 1 kW for the second, in 1-second steps.
        let mut readings = [None, None];
        for second in 0..1801 {
            let power_w = if second < 900 { 2000.0 } else { 1000.0 };
            if let Some(reading) = demand.add(f64::from(second) + 1.0, power_w / 3600.0) {
                readings[(reading.window_end_s / 900 - 1) as usize] = Some(reading);
            }
        }
        assert!((readings[0].expect("first").demand_w - 2000.0).abs() < 3.0);
        assert!((readings[1].expect("second").demand_w - 1000.0).abs() < 3.0);
        assert_eq!(demand.maximum().expect("max").window_end_s, 900);
        demand.reset_maximum();
        assert!(demand.maximum().is_none());
    }

    #[test]
    fn sliding_demand_updates_every_subinterval() {
        let mut demand = DemandMeter::new(&DemandConfig {
            interval_s: 900,
            subintervals: 3,
        });
        let mut readings = 0;
        for second in 0..=2700 {
            let power_w = if (600..900).contains(&second) {
                3000.0
            } else {
                0.0
            };
            if demand.add(f64::from(second), power_w / 3600.0).is_some() {
                readings += 1;
            }
        }
        // Sub-intervals end at 300, 600, ..., 2700: windows from the third one on.
        assert_eq!(readings, 7);
        let max = demand.maximum().expect("max");
        assert!((max.demand_w - 1000.0).abs() < 5.0, "{max:?}");
    }
}
