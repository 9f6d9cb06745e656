//! On and off steps in a power trace. The signal is cut into steady runs; a step is the
//! difference between one steady level and the next, timed at the first sample that left
//! the old level. A new level only counts once it has held for the settling time, so a
//! motor's inrush, a ramp or a noise spike between two levels changes nothing.

use super::DetectorOptions;
use crate::series::PowerSample;

/// How many samples a level's mean remembers: long enough to average noise away, short
/// enough to follow a slow drift (solar output, a modulating heat pump).
const LEVEL_MEMORY: u32 = 10;

/// What the detector saw in the trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Edge {
    /// A change of steady level by at least the threshold.
    Step {
        /// First sample that left the old level, Unix ms.
        ts_ms: i64,
        /// New level minus old level, W.
        delta_w: f64,
    },
    /// A gap in the samples: what was on before may have changed unseen.
    Gap,
}

/// A run of samples within the tolerance of their mean.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    first_ms: i64,
    last_ms: i64,
    mean_w: f64,
    samples: u32,
}

impl Run {
    fn new(sample: &PowerSample) -> Self {
        Self {
            first_ms: sample.ts_ms,
            last_ms: sample.ts_ms,
            mean_w: sample.p_w,
            samples: 1,
        }
    }

    fn push(&mut self, sample: &PowerSample) {
        self.samples = self.samples.saturating_add(1);
        self.mean_w += (sample.p_w - self.mean_w) / f64::from(self.samples.min(LEVEL_MEMORY));
        self.last_ms = sample.ts_ms;
    }

    fn holds(&self, sample: &PowerSample, tolerance_w: f64) -> bool {
        (sample.p_w - self.mean_w).abs() <= tolerance_w
    }

    fn settled(&self, settle_ms: i64) -> bool {
        self.samples >= 2 && self.last_ms.saturating_sub(self.first_ms) >= settle_ms
    }
}

/// The steps and gaps of `samples` (finite, in strictly increasing time order).
pub(super) fn edges(samples: &[PowerSample], options: &DetectorOptions) -> Vec<Edge> {
    let tolerance_w = options.steady_tolerance_w;
    let mut edges = Vec::new();
    let mut level: Option<Run> = None;
    let mut candidate: Option<Run> = None;
    let mut departed_ms: Option<i64> = None;
    let mut previous_ms: Option<i64> = None;
    for sample in samples {
        if previous_ms.is_some_and(|ms| sample.ts_ms.saturating_sub(ms) > options.max_gap_ms) {
            edges.push(Edge::Gap);
            (level, candidate, departed_ms) = (None, None, None);
        }
        previous_ms = Some(sample.ts_ms);
        if let Some(steady) = level.as_mut().filter(|_| candidate.is_none())
            && steady.holds(sample, tolerance_w)
        {
            steady.push(sample);
            continue;
        }
        departed_ms.get_or_insert(sample.ts_ms);
        match candidate.as_mut() {
            Some(run) if run.holds(sample, tolerance_w) => run.push(sample),
            _ => candidate = Some(Run::new(sample)),
        }
        let Some(new) = candidate.filter(|run| run.settled(options.settle_ms)) else {
            continue;
        };
        level = match level {
            None => Some(new),
            Some(old) => {
                let delta_w = new.mean_w - old.mean_w;
                if delta_w.abs() >= options.step_threshold_w {
                    edges.push(Edge::Step {
                        ts_ms: departed_ms.unwrap_or(new.first_ms),
                        delta_w,
                    });
                }
                // Back at the old level after a blip: keep its longer memory.
                Some(if delta_w.abs() <= tolerance_w {
                    old
                } else {
                    new
                })
            }
        };
        (candidate, departed_ms) = (None, None);
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sample a second from t = 0 s with these powers.
    fn trace(powers: &[f64]) -> Vec<PowerSample> {
        powers
            .iter()
            .enumerate()
            .map(|(k, &p_w)| PowerSample {
                ts_ms: k as i64 * 1000,
                p_w,
            })
            .collect()
    }

    fn steps(edges: &[Edge]) -> Vec<(i64, f64)> {
        edges
            .iter()
            .filter_map(|e| match *e {
                Edge::Step { ts_ms, delta_w } => Some((ts_ms / 1000, delta_w.round())),
                Edge::Gap => None,
            })
            .collect()
    }

    #[test]
    fn a_rectangle_gives_an_on_and_an_off_step() {
        let mut powers = vec![100.0; 10];
        powers.extend([2100.0; 20]);
        powers.extend([100.0; 10]);
        let found = edges(&trace(&powers), &DetectorOptions::default());
        assert_eq!(steps(&found), vec![(10, 2000.0), (30, -2000.0)]);
    }

    #[test]
    fn inrush_and_ramps_are_not_steps_of_their_own() {
        // A motor: 3 kW inrush for two seconds, settling at 800 W; later a 10-second ramp
        // down to the base.
        let mut powers = vec![100.0; 10];
        powers.extend([3100.0, 2500.0, 950.0, 910.0]);
        powers.extend([900.0; 20]);
        powers.extend((1..=10).map(|k| 900.0 - 80.0 * f64::from(k)));
        powers.extend([100.0; 10]);
        let found = edges(&trace(&powers), &DetectorOptions::default());
        let steps = steps(&found);
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert_eq!(steps[0].0, 10);
        assert!((steps[0].1 - 800.0).abs() < 20.0, "{steps:?}");
        assert_eq!(steps[1].0, 34);
        assert!((steps[1].1 + 800.0).abs() < 20.0, "{steps:?}");
    }

    #[test]
    fn small_changes_and_short_spikes_are_ignored() {
        let mut powers = vec![100.0; 10];
        powers.extend([210.0; 20]); // a fridge: 110 W
        powers.extend([2000.0, 210.0, 210.0]); // a one-second spike
        powers.extend([210.0; 10]);
        assert!(steps(&edges(&trace(&powers), &DetectorOptions::default())).is_empty());
    }

    #[test]
    fn a_gap_forgets_the_level() {
        let mut samples = trace(&[100.0; 10]);
        samples.extend(trace(&[2100.0; 10]).into_iter().map(|s| PowerSample {
            ts_ms: s.ts_ms + 600_000,
            ..s
        }));
        let found = edges(&samples, &DetectorOptions::default());
        assert_eq!(found, vec![Edge::Gap]);
    }

    #[test]
    fn export_to_import_is_a_step_like_any_other() {
        let mut powers = vec![-1500.0; 10];
        powers.extend([700.0; 10]);
        let found = edges(&trace(&powers), &DetectorOptions::default());
        assert_eq!(steps(&found), vec![(10, 2200.0)]);
    }
}
