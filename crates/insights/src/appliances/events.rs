//! Pairs on steps with off steps into events: an off step closes the open on step of the
//! nearest magnitude (within a tolerance), so that a kettle switched on and off while the
//! oven runs is told apart from the oven.

use super::DetectorOptions;
use super::steps::Edge;

/// An appliance that was on from `start_ms` to `end_ms` drawing `power_w`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Event {
    pub(super) start_ms: i64,
    pub(super) end_ms: i64,
    /// Mean of the on and the off step's magnitudes, W.
    pub(super) power_w: f64,
}

impl Event {
    pub(super) fn duration_s(&self) -> f64 {
        self.end_ms.saturating_sub(self.start_ms) as f64 / 1000.0
    }
}

/// The events, in order of start, and the steps left without a partner.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pairing {
    pub(super) events: Vec<Event>,
    pub(super) unmatched_on: usize,
    pub(super) unmatched_off: usize,
}

/// An on step still waiting for its off step.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Open {
    ts_ms: i64,
    power_w: f64,
}

/// Steps this close (as a share of the off step) are taken for the same load: levels that
/// drift (solar, a modulating heat pump) blur a step's measured size by a few per cent.
const SAME_LOAD_SHARE: f64 = 0.05;

/// Most on steps kept open at once: beyond it the oldest is given up (unmatched), so that a
/// trace full of unpaired steps costs bounded time and memory.
const MAX_OPEN: usize = 64;

/// Pairs the steps of `edges`; a gap closes nothing and leaves every open step unmatched.
///
/// An off step closes, in order of preference: the most recent open step it cannot be told
/// from (within [`SAME_LOAD_SHARE`] or the steady tolerance, so that a stale step left by a
/// missed off step does not take a fresh one's partner); else the open step nearest in
/// magnitude within the match tolerance; else two open steps whose sum matches (two loads
/// switched off in the same second).
pub(super) fn pair(edges: &[Edge], options: &DetectorOptions) -> Pairing {
    let mut open: Vec<Open> = Vec::new();
    let mut events = Vec::new();
    let (mut unmatched_on, mut unmatched_off) = (0, 0);
    let close = |on: Open, end_ms: i64, power_w: f64| Event {
        start_ms: on.ts_ms,
        end_ms,
        power_w,
    };
    for edge in edges {
        match *edge {
            Edge::Gap => unmatched_on += std::mem::take(&mut open).len(),
            Edge::Step { ts_ms, delta_w } if delta_w > 0.0 => {
                if open.len() == MAX_OPEN {
                    open.remove(0);
                    unmatched_on += 1;
                }
                open.push(Open {
                    ts_ms,
                    power_w: delta_w,
                });
            }
            Edge::Step { ts_ms, delta_w } => {
                let off_w = -delta_w;
                if let Some(index) = single(&open, off_w, options) {
                    let on = open.remove(index);
                    events.push(close(on, ts_ms, (on.power_w + off_w) / 2.0));
                } else if let Some((first, second)) = two(&open, off_w, options) {
                    let later = open.remove(second);
                    let earlier = open.remove(first);
                    events.push(close(earlier, ts_ms, earlier.power_w));
                    events.push(close(later, ts_ms, later.power_w));
                } else {
                    unmatched_off += 1;
                }
            }
        }
    }
    events.sort_by_key(|e| e.start_ms);
    Pairing {
        events,
        unmatched_on: unmatched_on + open.len(),
        unmatched_off,
    }
}

/// How far an off step may be from `on_w` and still close it, W.
fn tolerance(on_w: f64, options: &DetectorOptions) -> f64 {
    (on_w * options.match_tolerance).max(options.steady_tolerance_w)
}

/// The open step one off step of `off_w` closes, if any.
fn single(open: &[Open], off_w: f64, options: &DetectorOptions) -> Option<usize> {
    let distance = |o: &Open| (o.power_w - off_w).abs();
    open.iter()
        .rposition(|o| distance(o) <= (SAME_LOAD_SHARE * off_w).max(options.steady_tolerance_w))
        .or_else(|| {
            open.iter()
                .enumerate()
                .filter(|(_, o)| distance(o) <= tolerance(o.power_w, options))
                .min_by(|(_, a), (_, b)| distance(a).total_cmp(&distance(b)))
                .map(|(index, _)| index)
        })
}

/// Two open steps (earlier index first) whose sum an off step of `off_w` closes, if any.
fn two(open: &[Open], off_w: f64, options: &DetectorOptions) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize, f64)> = None;
    for (i, a) in open.iter().enumerate() {
        for (j, b) in open.iter().enumerate().skip(i + 1) {
            let sum_w = a.power_w + b.power_w;
            let distance = (sum_w - off_w).abs();
            if distance <= tolerance(sum_w, options) && best.is_none_or(|(_, _, d)| distance < d) {
                best = Some((i, j, distance));
            }
        }
    }
    best.map(|(i, j, _)| (i, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(ts_s: i64, delta_w: f64) -> Edge {
        Edge::Step {
            ts_ms: ts_s * 1000,
            delta_w,
        }
    }

    #[test]
    fn nested_loads_pair_by_magnitude() {
        // Oven 2400 W from 0 to 3000 s; kettle 2200 W from 100 to 280 s inside it.
        let edges = [
            step(0, 2400.0),
            step(100, 2200.0),
            step(280, -2210.0),
            step(3000, -2390.0),
        ];
        let pairing = pair(&edges, &DetectorOptions::default());
        assert_eq!(
            pairing.events,
            vec![
                Event {
                    start_ms: 0,
                    end_ms: 3_000_000,
                    power_w: 2395.0
                },
                Event {
                    start_ms: 100_000,
                    end_ms: 280_000,
                    power_w: 2205.0
                },
            ]
        );
        assert_eq!((pairing.unmatched_on, pairing.unmatched_off), (0, 0));
        assert_eq!(pairing.events[1].duration_s(), 180.0);
    }

    #[test]
    fn steps_without_partner_are_counted() {
        let edges = [
            step(0, 2000.0),
            step(10, -500.0),
            step(20, 300.0),
            Edge::Gap,
            step(30, 1000.0),
        ];
        let pairing = pair(&edges, &DetectorOptions::default());
        assert!(pairing.events.is_empty());
        assert_eq!((pairing.unmatched_on, pairing.unmatched_off), (3, 1));
    }

    #[test]
    fn a_stale_step_does_not_take_a_fresh_partner() {
        // A kettle whose off step was missed at 100 s, then a kettle from 5000 to 5180 s
        // whose on step is 25 W further from its off step than the stale one.
        let edges = [step(0, 2210.0), step(5000, 2190.0), step(5180, -2215.0)];
        let pairing = pair(&edges, &DetectorOptions::default());
        assert_eq!(pairing.events[0].start_ms, 5_000_000);
        assert_eq!(pairing.unmatched_on, 1);
    }

    #[test]
    fn two_loads_off_in_the_same_second() {
        let edges = [step(0, 1200.0), step(60, 2200.0), step(240, -3390.0)];
        let pairing = pair(&edges, &DetectorOptions::default());
        assert_eq!(
            pairing.events,
            vec![
                Event {
                    start_ms: 0,
                    end_ms: 240_000,
                    power_w: 1200.0
                },
                Event {
                    start_ms: 60_000,
                    end_ms: 240_000,
                    power_w: 2200.0
                },
            ]
        );
    }

    #[test]
    fn open_steps_are_bounded() {
        let edges: Vec<Edge> = (0..100)
            .map(|k| step(k, 1000.0 + k as f64 * 100.0))
            .collect();
        let pairing = pair(&edges, &DetectorOptions::default());
        assert_eq!(pairing.unmatched_on, 100);
    }

    #[test]
    fn equal_loads_close_the_latest_first() {
        let edges = [
            step(0, 1000.0),
            step(10, 1000.0),
            step(20, -1000.0),
            step(30, -1000.0),
        ];
        let pairing = pair(&edges, &DetectorOptions::default());
        assert_eq!(
            pairing.events[0],
            Event {
                start_ms: 0,
                end_ms: 30_000,
                power_w: 1000.0
            }
        );
        assert_eq!(
            pairing.events[1],
            Event {
                start_ms: 10_000,
                end_ms: 20_000,
                power_w: 1000.0
            }
        );
    }
}
