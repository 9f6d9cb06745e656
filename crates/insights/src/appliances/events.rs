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
        (self.end_ms - self.start_ms) as f64 / 1000.0
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

/// Pairs the steps of `edges`; a gap closes nothing and leaves every open step unmatched.
pub(super) fn pair(edges: &[Edge], options: &DetectorOptions) -> Pairing {
    let mut open: Vec<Open> = Vec::new();
    let mut events = Vec::new();
    let (mut unmatched_on, mut unmatched_off) = (0, 0);
    for edge in edges {
        match *edge {
            Edge::Gap => unmatched_on += std::mem::take(&mut open).len(),
            Edge::Step { ts_ms, delta_w } if delta_w > 0.0 => open.push(Open {
                ts_ms,
                power_w: delta_w,
            }),
            Edge::Step { ts_ms, delta_w } => {
                let off_w = -delta_w;
                let tolerance =
                    |on_w: f64| (on_w * options.match_tolerance).max(options.steady_tolerance_w);
                // The closest magnitude wins; of equals, the most recent (rev + min_by keeps
                // the first minimum met, which is the latest).
                let best = open
                    .iter()
                    .enumerate()
                    .rev()
                    .filter(|(_, o)| (o.power_w - off_w).abs() <= tolerance(o.power_w))
                    .min_by(|(_, a), (_, b)| {
                        (a.power_w - off_w)
                            .abs()
                            .total_cmp(&(b.power_w - off_w).abs())
                    })
                    .map(|(index, _)| index);
                match best {
                    Some(index) => {
                        let on = open.remove(index);
                        events.push(Event {
                            start_ms: on.ts_ms,
                            end_ms: ts_ms,
                            power_w: (on.power_w + off_w) / 2.0,
                        });
                    }
                    None => unmatched_off += 1,
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
