//! Aggregation of cycles over a reporting interval: averages weighted by time, plus the
//! minimum and maximum cycle values.

use crate::measurement::CycleMeasurement;

/// A minimum and a maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Smallest value seen.
    pub min: f64,
    /// Largest value seen.
    pub max: f64,
}

impl Range {
    fn include(range: &mut Option<Self>, value: f64) {
        match range {
            Some(range) => {
                range.min = range.min.min(value);
                range.max = range.max.max(value);
            }
            None => {
                *range = Some(Self {
                    min: value,
                    max: value,
                })
            }
        }
    }

    fn merge(range: &mut Option<Self>, other: Option<Self>) {
        if let Some(other) = other {
            Self::include(range, other.min);
            Self::include(range, other.max);
        }
    }
}

/// Accumulates complete cycles of one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IntervalAccumulator {
    samples: u64,
    duration_s: f64,
    v_square_s: f64,
    i_square_s: f64,
    p_ws: f64,
    q_vars: f64,
    s_vas: f64,
    frequency_cycles: u32,
    frequency_period_s: f64,
    vrms: Option<Range>,
    irms: Option<Range>,
    p: Option<Range>,
    frequency: Option<Range>,
}

/// An interval's aggregates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalSummary {
    /// Time covered by the cycles aggregated, in seconds.
    pub duration_s: f64,
    /// RMS voltage over the interval, V.
    pub vrms_v: f64,
    /// RMS current over the interval, A.
    pub irms_a: f64,
    /// Average active power, W (+ import).
    pub p_w: f64,
    /// Average reactive power, var (+ inductive).
    pub q_var: f64,
    /// Average apparent power, VA.
    pub s_va: f64,
    /// `P / S` over the interval, signed like P.
    pub pf: f64,
    /// Frequency: cycles counted over the time they took, Hz (`None` with no voltage).
    pub frequency_hz: Option<f64>,
    /// Cycle RMS voltage range.
    pub vrms_range: Range,
    /// Cycle RMS current range.
    pub irms_range: Range,
    /// Cycle active power range.
    pub p_range: Range,
    /// Cycle frequency range.
    pub frequency_range: Option<Range>,
}

impl IntervalAccumulator {
    /// Adds a cycle. Windows that are not whole cycles (see [`CycleMeasurement::whole`])
    /// are left out: a fraction of a cycle does not have a meaningful RMS.
    pub fn add(&mut self, cycle: &CycleMeasurement) {
        if !cycle.whole || cycle.samples == 0 {
            return;
        }
        let t = cycle.duration_s;
        self.samples += u64::from(cycle.samples);
        self.duration_s += t;
        self.v_square_s += cycle.vrms_v * cycle.vrms_v * t;
        self.i_square_s += cycle.irms_a * cycle.irms_a * t;
        self.p_ws += cycle.p_w * t;
        self.q_vars += cycle.q_var * t;
        self.s_vas += cycle.s_va * t;
        Range::include(&mut self.vrms, cycle.vrms_v);
        Range::include(&mut self.irms, cycle.irms_a);
        Range::include(&mut self.p, cycle.p_w);
        if let Some(frequency_hz) = cycle.frequency_hz {
            self.frequency_cycles += 1;
            self.frequency_period_s += 1.0 / frequency_hz;
            Range::include(&mut self.frequency, frequency_hz);
        }
    }

    /// Folds another accumulator (a later stretch of the same phase) into this one.
    pub fn merge(&mut self, other: &Self) {
        self.samples += other.samples;
        self.duration_s += other.duration_s;
        self.v_square_s += other.v_square_s;
        self.i_square_s += other.i_square_s;
        self.p_ws += other.p_ws;
        self.q_vars += other.q_vars;
        self.s_vas += other.s_vas;
        self.frequency_cycles += other.frequency_cycles;
        self.frequency_period_s += other.frequency_period_s;
        Range::merge(&mut self.vrms, other.vrms);
        Range::merge(&mut self.irms, other.irms);
        Range::merge(&mut self.p, other.p);
        Range::merge(&mut self.frequency, other.frequency);
    }

    /// Whether no complete cycle has been added.
    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    /// The aggregates, or `None` when no complete cycle was added.
    pub fn summary(&self) -> Option<IntervalSummary> {
        if self.samples == 0 {
            return None;
        }
        let t = self.duration_s;
        let s_va = self.s_vas / t;
        let p_w = self.p_ws / t;
        Some(IntervalSummary {
            duration_s: t,
            vrms_v: libm::sqrt(self.v_square_s / t),
            irms_a: libm::sqrt(self.i_square_s / t),
            p_w,
            q_var: self.q_vars / t,
            s_va,
            pf: if s_va > 0.0 {
                (p_w / s_va).clamp(-1.0, 1.0)
            } else {
                0.0
            },
            frequency_hz: (self.frequency_cycles > 0)
                .then(|| f64::from(self.frequency_cycles) / self.frequency_period_s),
            vrms_range: self.vrms?,
            irms_range: self.irms?,
            p_range: self.p?,
            frequency_range: self.frequency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(vrms_v: f64, irms_a: f64, frequency_hz: f64) -> CycleMeasurement {
        CycleMeasurement {
            samples: 80,
            duration_s: 0.02,
            vrms_v,
            irms_a,
            p_w: vrms_v * irms_a,
            s_va: vrms_v * irms_a,
            pf: 1.0,
            frequency_hz: Some(frequency_hz),
            whole: true,
            ..CycleMeasurement::default()
        }
    }

    #[test]
    fn averages_are_time_weighted_and_ranges_kept() {
        let mut accumulator = IntervalAccumulator::default();
        accumulator.add(&cycle(230.0, 0.0, 49.9));
        accumulator.add(&cycle(230.0, 10.0, 50.1));
        accumulator.add(&CycleMeasurement {
            partial: true,
            whole: false,
            ..cycle(0.0, 99.0, 50.0)
        });
        let summary = accumulator.summary().expect("cycles");
        assert!((summary.p_w - 1150.0).abs() < 1e-9);
        assert!((summary.irms_a - libm::sqrt(50.0)).abs() < 1e-9);
        assert_eq!(
            summary.irms_range,
            Range {
                min: 0.0,
                max: 10.0
            }
        );
        let frequency = summary.frequency_hz.expect("frequency");
        assert!((frequency - 2.0 / (1.0 / 49.9 + 1.0 / 50.1)).abs() < 1e-9);
    }
}
