//! The start/extreme/end bookkeeping every threshold event shares.
//!
//! An episode starts once its condition has held for the persistence time, remembers when
//! the condition first held, tracks the most severe value, and ends when the release
//! condition (the threshold plus hysteresis) holds.

use crate::events::{Event, EventKind, Transition};

/// One kind of condition on one phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Episode {
    kind: EventKind,
    phase: Option<u8>,
    active: bool,
    /// When the condition first held, while it waits out the persistence time or is active.
    since_sample: Option<u64>,
    extreme: f64,
    severity: f64,
}

/// One observation of an episode's condition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observation {
    /// The condition that starts an episode holds.
    pub(crate) starts: bool,
    /// The condition that ends an active episode holds.
    pub(crate) releases: bool,
    /// The measured value (reported as the extreme when most severe).
    pub(crate) value: f64,
    /// How severe the value is; larger is worse.
    pub(crate) severity: f64,
}

impl Episode {
    pub(crate) const fn new(kind: EventKind, phase: Option<u8>) -> Self {
        Self {
            kind,
            phase,
            active: false,
            since_sample: None,
            extreme: 0.0,
            severity: 0.0,
        }
    }

    /// Feeds one observation at `at_sample`; returns the event a transition raises.
    pub(crate) fn observe(
        &mut self,
        observation: Observation,
        at_sample: u64,
        persistence_samples: u64,
        sample_rate_hz: f64,
    ) -> Option<Event> {
        if self.active {
            if observation.severity > self.severity {
                self.severity = observation.severity;
                self.extreme = observation.value;
            }
            if observation.releases {
                self.active = false;
                let start = self.since_sample.take().unwrap_or(at_sample);
                return Some(self.event(Transition::Ended, start, at_sample, sample_rate_hz));
            }
            return None;
        }
        if !observation.starts {
            self.since_sample = None;
            return None;
        }
        let since = *self.since_sample.get_or_insert(at_sample);
        if self.severity < observation.severity || at_sample == since {
            self.severity = observation.severity;
            self.extreme = observation.value;
        }
        if at_sample - since >= persistence_samples {
            self.active = true;
            return Some(self.event(Transition::Started, since, at_sample, sample_rate_hz));
        }
        None
    }

    fn event(&self, transition: Transition, start: u64, at: u64, sample_rate_hz: f64) -> Event {
        let duration_s = match transition {
            Transition::Started => 0.0,
            Transition::Ended => (at - start) as f64 / sample_rate_hz,
        };
        Event {
            kind: self.kind,
            transition,
            phase: self.phase,
            start_sample: start,
            at_sample: at,
            duration_s,
            extreme: self.extreme,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sag(value: f64) -> Observation {
        Observation {
            starts: value < 207.0,
            releases: value > 211.6,
            value,
            severity: -value,
        }
    }

    #[test]
    fn reports_start_extreme_duration() {
        let mut episode = Episode::new(EventKind::Sag, Some(0));
        assert!(episode.observe(sag(230.0), 0, 0, 1000.0).is_none());
        let started = episode.observe(sag(180.0), 100, 0, 1000.0).expect("starts");
        assert_eq!(
            (started.transition, started.start_sample),
            (Transition::Started, 100)
        );
        assert!(episode.observe(sag(150.0), 110, 0, 1000.0).is_none());
        // Inside the hysteresis band: still a sag.
        assert!(episode.observe(sag(209.0), 120, 0, 1000.0).is_none());
        let ended = episode.observe(sag(230.0), 300, 0, 1000.0).expect("ends");
        assert_eq!(ended.transition, Transition::Ended);
        assert_eq!(ended.extreme, 150.0);
        assert!((ended.duration_s - 0.2).abs() < 1e-12);
    }

    #[test]
    fn persistence_filters_short_blips() {
        let mut episode = Episode::new(EventKind::Sag, None);
        assert!(episode.observe(sag(100.0), 0, 50, 1000.0).is_none());
        assert!(episode.observe(sag(230.0), 20, 50, 1000.0).is_none());
        assert!(episode.observe(sag(100.0), 40, 50, 1000.0).is_none());
        let started = episode
            .observe(sag(120.0), 95, 50, 1000.0)
            .expect("persists");
        assert_eq!(started.start_sample, 40);
        assert_eq!(started.extreme, 100.0);
    }
}
