//! Cycle-aligned reporting intervals.
//!
//! RMS over whole cycles is what makes one-second values accurate, so an interval is a run
//! of whole cycles: it closes on the first completed cycle of phase 1 whose end, plus half a
//! cycle, reaches the next boundary. Boundaries sit on a fixed grid (`k × interval`), so
//! intervals never drift however the cycles fall. One closed interval is held back until
//! the next closes or the stream ends, so a short stretch at the end of the stream can be
//! merged into it; the last record always carries the registers after every sample.

use joule_metrology::{Completed, Event, IntervalAccumulator, Meter};

/// One reporting interval, ready to print.
#[derive(Debug, Clone)]
pub(super) struct IntervalRecord {
    /// End of the interval, seconds since the start of the stream.
    pub(super) t_s: f64,
    /// Whole cycles of each phase in the interval (one accumulator per phase).
    pub(super) phases: Vec<IntervalAccumulator>,
    /// Cumulative active import register at the end of the interval, Wh.
    pub(super) import_wh: f64,
    /// Cumulative active export register at the end of the interval, Wh.
    pub(super) export_wh: f64,
    /// Events the meter raised during the interval.
    pub(super) events: Vec<Event>,
}

impl IntervalRecord {
    /// Folds a later stretch into this record; its end time and registers become the
    /// record's.
    fn absorb(&mut self, later: Self) {
        for (into, from) in self.phases.iter_mut().zip(&later.phases) {
            into.merge(from);
        }
        self.events.extend(later.events);
        self.t_s = later.t_s;
        self.import_wh = later.import_wh;
        self.export_wh = later.export_wh;
    }
}

/// Splits a meter's cycles into reporting intervals.
#[derive(Debug)]
pub(super) struct IntervalRecorder {
    sample_rate_hz: f64,
    interval_s: f64,
    /// Index `k` of the next boundary, at `round(k × interval × rate)` samples.
    boundary_index: u64,
    /// The next boundary, in samples.
    boundary_sample: u64,
    /// Where the last interval ended, in samples.
    last_close_sample: u64,
    /// The interval in progress.
    phases: Vec<IntervalAccumulator>,
    events: Vec<Event>,
    /// The last closed interval, not yet handed out.
    held: Option<IntervalRecord>,
}

impl IntervalRecorder {
    /// A recorder for a meter with `phases` phases; `interval_s` must be positive.
    pub(super) fn new(phases: usize, sample_rate_hz: f64, interval_s: f64) -> Self {
        let mut recorder = Self {
            sample_rate_hz,
            interval_s,
            boundary_index: 0,
            boundary_sample: 0,
            last_close_sample: 0,
            phases: vec![IntervalAccumulator::default(); phases],
            events: Vec::new(),
            held: None,
        };
        recorder.advance_boundary(0);
        recorder
    }

    /// Takes what one frame completed; returns the previous interval when a new one
    /// closes.
    pub(super) fn after_frame(
        &mut self,
        meter: &mut Meter,
        completed: Completed,
    ) -> Option<IntervalRecord> {
        for (phase, accumulator) in self.phases.iter_mut().enumerate() {
            if completed.phase(phase) {
                accumulator.add(meter.last_cycle(phase));
            }
        }
        self.collect_events(meter);
        if !completed.phase(0) {
            return None;
        }
        let cycle = meter.last_cycle(0);
        let reach = cycle.end_sample + u64::from(cycle.samples / 2);
        if reach < self.boundary_sample {
            return None;
        }
        let end_sample = cycle.end_sample;
        self.advance_boundary(reach);
        let record = self.take_interval(meter, end_sample);
        self.last_close_sample = end_sample;
        self.held.replace(record)
    }

    /// Ends the stream: finishes the meter (registering the cycles in progress) and returns
    /// the records still to print. The last one ends at the end of the stream and carries
    /// the final registers.
    pub(super) fn finish(mut self, meter: &mut Meter) -> Vec<IntervalRecord> {
        // The cycles `finish` cuts short are partial: their energy reaches the registers,
        // but they have no meaningful RMS, so the accumulators leave them out.
        meter.finish();
        self.collect_events(meter);
        let end_sample = meter.samples();
        let trailing = end_sample.saturating_sub(self.last_close_sample);
        let short = (trailing as f64) < 0.5 * self.interval_s * self.sample_rate_hz;
        let empty = self.phases.iter().all(IntervalAccumulator::is_empty);
        let tail = self.take_interval(meter, end_sample);
        match self.held.take() {
            None => vec![tail],
            Some(mut held) if short || empty => {
                held.absorb(tail);
                vec![held]
            }
            Some(held) => vec![held, tail],
        }
    }

    /// Moves to the first boundary beyond `reach` samples.
    fn advance_boundary(&mut self, reach: u64) {
        while self.boundary_sample <= reach {
            self.boundary_index += 1;
            let boundary = self.boundary_index as f64 * self.interval_s * self.sample_rate_hz;
            self.boundary_sample = boundary.round() as u64;
        }
    }

    /// Closes the interval in progress at `end_sample`, reading the registers now.
    fn take_interval(&mut self, meter: &Meter, end_sample: u64) -> IntervalRecord {
        let total = &meter.registers().total;
        let phases = vec![IntervalAccumulator::default(); self.phases.len()];
        IntervalRecord {
            t_s: end_sample as f64 / self.sample_rate_hz,
            phases: std::mem::replace(&mut self.phases, phases),
            import_wh: total.active_import.wh(),
            export_wh: total.active_export.wh(),
            events: std::mem::take(&mut self.events),
        }
    }

    /// Moves the meter's pending events into the interval in progress.
    fn collect_events(&mut self, meter: &mut Meter) {
        while let Some(event) = meter.pop_event() {
            self.events.push(event);
        }
    }
}
