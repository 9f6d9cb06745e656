//! Groups events by size and duration ("a 2.2 kW load that runs about 3 minutes, seen 14
//! times"), in log space so that 100 W against 120 W weighs like 2 kW against 2.4 kW.
//! A simple leader clustering: an event joins the nearest group whose centre is within
//! 20 % in power and a factor of two in duration, or starts a new group.

use super::events::Event;

/// Power ratio within which events group together.
const POWER_RATIO: f64 = 1.2;

/// Duration ratio within which events group together.
const DURATION_RATIO: f64 = 2.0;

/// The centre of a group in log space, and its size.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Centre {
    ln_power: f64,
    ln_duration: f64,
    members: u32,
}

impl Centre {
    /// Distance in units of the grouping ratios; within a group when at most 1.
    fn distance(&self, ln_power: f64, ln_duration: f64) -> f64 {
        let power = (ln_power - self.ln_power).abs() / POWER_RATIO.ln();
        let duration = (ln_duration - self.ln_duration).abs() / DURATION_RATIO.ln();
        power.max(duration)
    }

    fn add(&mut self, ln_power: f64, ln_duration: f64) {
        self.members += 1;
        let n = f64::from(self.members);
        self.ln_power += (ln_power - self.ln_power) / n;
        self.ln_duration += (ln_duration - self.ln_duration) / n;
    }
}

/// The group index of each event (positive power and duration, as pairing gives), in the
/// same order; groups are numbered from 0 in order of their first event.
pub(super) fn cluster(events: &[Event]) -> Vec<usize> {
    let mut centres: Vec<Centre> = Vec::new();
    events
        .iter()
        .map(|event| {
            let ln_power = event.power_w.max(1.0).ln();
            let ln_duration = event.duration_s().max(1.0).ln();
            let nearest = centres
                .iter()
                .enumerate()
                .map(|(k, c)| (k, c.distance(ln_power, ln_duration)))
                .filter(|(_, distance)| *distance <= 1.0)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, _)| k);
            match nearest.and_then(|k| Some((k, centres.get_mut(k)?))) {
                Some((k, centre)) => {
                    centre.add(ln_power, ln_duration);
                    k
                }
                None => {
                    centres.push(Centre {
                        ln_power,
                        ln_duration,
                        members: 1,
                    });
                    centres.len() - 1
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(start_s: i64, duration_s: i64, power_w: f64) -> Event {
        Event {
            start_ms: start_s * 1000,
            end_ms: (start_s + duration_s) * 1000,
            power_w,
        }
    }

    #[test]
    fn groups_by_size_and_duration() {
        let events = [
            event(0, 180, 2200.0),     // kettle
            event(500, 600, 120.0),    // fridge-sized
            event(1000, 200, 2150.0),  // kettle again
            event(2000, 3000, 2200.0), // same power, far longer: another group
            event(9000, 500, 110.0),   // fridge-sized again
            event(9500, 150, 2300.0),  // kettle
        ];
        assert_eq!(cluster(&events), vec![0, 1, 0, 2, 1, 0]);
        assert!(cluster(&[]).is_empty());
    }
}
