//! From measurements to messages: live readings every `live_interval_s`, interval records
//! at the end of every clock-aligned interval, and events as they happen.
//!
//! An interval ends on a multiple of `interval_s` of Unix time (15 minutes: :00, :15, ...).
//! Its record carries the registers of the first tick at or after the boundary (within a
//! tick of it), the voltage range and RMS over the interval, the maximum demand register
//! and the power-quality events counted in it. A meter that was off across boundaries sends
//! no records for them: the next record's registers cover the energy, and the power-up
//! event says how long it was off. Messages are built with `seq` 0: the outbox numbers
//! them when they are first sent.

use crate::source::{Observation, SourceEvent};
use joule_protocol::{
    EventKind, EventMessage, EventState, IntervalRecord, LiveReading, PAYLOAD_VERSION, PqCounters,
    RelayState, TopicKind, encode,
};

/// What the agent adds to a tick's measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    /// Tariff register in use.
    pub tariff: u8,
    /// The supply switch.
    pub relay: RelayState,
    /// Maximum demand register, W.
    pub max_demand_w: Option<f64>,
}

/// A message for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A live reading.
    Live(LiveReading),
    /// An interval record.
    Interval(IntervalRecord),
    /// An event.
    Event(EventMessage),
}

impl Outgoing {
    /// The topic it goes to.
    pub fn kind(&self) -> TopicKind {
        match self {
            Self::Live(_) => TopicKind::Live,
            Self::Interval(_) => TopicKind::Interval,
            Self::Event(_) => TopicKind::Event,
        }
    }

    /// Its JSON payload.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Live(m) => encode(m),
            Self::Interval(m) => encode(m),
            Self::Event(m) => encode(m),
        }
    }
}

/// An event message with `seq` 0 and no measurement details.
pub fn event(
    kind: EventKind,
    state: EventState,
    ts_ms: i64,
    detail: impl Into<String>,
) -> EventMessage {
    EventMessage {
        v: PAYLOAD_VERSION,
        seq: 0,
        ts_ms,
        kind,
        state,
        phase: None,
        started_ms: None,
        duration_s: None,
        extreme: None,
        detail: Some(detail.into()),
    }
}

/// Voltage and power-quality figures of the interval in progress.
#[derive(Debug, Clone, Default)]
struct IntervalStats {
    voltage_min_v: f64,
    voltage_max_v: f64,
    voltage_square_sum: f64,
    ticks: u32,
    pq: PqCounters,
}

/// The recorder.
#[derive(Debug, Clone)]
pub struct Recorder {
    interval_ms: i64,
    live_ms: i64,
    next_live_ms: i64,
    /// End of the interval in progress (none before the first tick).
    interval_end_ms: Option<i64>,
    stats: IntervalStats,
}

impl Recorder {
    /// A recorder for intervals of `interval_s` and live readings every `live_s`.
    pub fn new(interval_s: u32, live_s: u32) -> Self {
        Self {
            interval_ms: i64::from(interval_s.max(1)) * 1000,
            live_ms: i64::from(live_s.max(1)) * 1000,
            next_live_ms: i64::MIN,
            interval_end_ms: None,
            stats: IntervalStats::default(),
        }
    }

    /// Takes one tick's observation; returns what to send.
    pub fn observe(&mut self, observation: &Observation, context: &Context) -> Vec<Outgoing> {
        let now_ms = observation.ts_ms;
        let mut out = Vec::new();
        let end_ms = *self
            .interval_end_ms
            .get_or_insert_with(|| next_boundary(now_ms, self.interval_ms));
        if now_ms >= end_ms {
            if self.stats.ticks > 0 {
                out.push(Outgoing::Interval(self.close(end_ms, observation, context)));
            }
            self.stats = IntervalStats::default();
            self.interval_end_ms = Some(next_boundary(now_ms, self.interval_ms));
        }
        self.add(observation);
        out.extend(
            observation
                .events
                .iter()
                .map(|e| Outgoing::Event(source_event(e))),
        );
        if now_ms >= self.next_live_ms {
            self.next_live_ms = now_ms - now_ms.rem_euclid(self.live_ms) + self.live_ms;
            out.push(Outgoing::Live(live(observation, context)));
        }
        out
    }

    fn add(&mut self, observation: &Observation) {
        let stats = &mut self.stats;
        if let Some((low, high)) = observation.voltage_range_v {
            if stats.ticks == 0 {
                (stats.voltage_min_v, stats.voltage_max_v) = (low, high);
            }
            stats.voltage_min_v = stats.voltage_min_v.min(low);
            stats.voltage_max_v = stats.voltage_max_v.max(high);
        }
        stats.voltage_square_sum += observation.total.voltage_v * observation.total.voltage_v;
        stats.ticks += 1;
        for event in observation
            .events
            .iter()
            .filter(|e| e.state != EventState::Ended)
        {
            match event.kind {
                EventKind::Sag => stats.pq.sags += 1,
                EventKind::Swell => stats.pq.swells += 1,
                EventKind::Interruption => stats.pq.interruptions += 1,
                _ => {}
            }
        }
    }

    fn close(&self, end_ms: i64, observation: &Observation, context: &Context) -> IntervalRecord {
        let stats = &self.stats;
        IntervalRecord {
            v: PAYLOAD_VERSION,
            seq: 0,
            ts_ms: end_ms,
            interval_s: u32::try_from(self.interval_ms / 1000).unwrap_or(u32::MAX),
            registers: observation.registers,
            tariffs: observation.tariff_registers.clone(),
            voltage_min_v: stats.voltage_min_v,
            voltage_max_v: stats.voltage_max_v,
            voltage_avg_v: (stats.voltage_square_sum / f64::from(stats.ticks.max(1))).sqrt(),
            max_demand_w: context.max_demand_w,
            pq: stats.pq,
        }
        .at_resolution()
    }
}

/// The first multiple of `interval_ms` after `now_ms`.
fn next_boundary(now_ms: i64, interval_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(interval_ms) + interval_ms
}

fn live(observation: &Observation, context: &Context) -> LiveReading {
    let total = &observation.total;
    LiveReading {
        v: PAYLOAD_VERSION,
        seq: 0,
        ts_ms: observation.ts_ms,
        voltage_v: total.voltage_v,
        current_a: total.current_a,
        p_w: total.p_w,
        q_var: total.q_var,
        s_va: total.s_va,
        pf: total.pf,
        freq_hz: observation.freq_hz,
        phases: observation.phases.clone(),
        registers: observation.registers,
        tariff: context.tariff,
        relay: context.relay,
    }
    .at_resolution()
}

fn source_event(event: &SourceEvent) -> EventMessage {
    EventMessage {
        v: PAYLOAD_VERSION,
        seq: 0,
        ts_ms: event.ts_ms,
        kind: event.kind,
        state: event.state,
        phase: event.phase,
        started_ms: event.started_ms,
        duration_s: event.duration_s,
        extreme: event.extreme,
        detail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::PhaseValues;
    use joule_protocol::Registers;

    fn observation(ts_ms: i64, import_mwh: u64, voltage_v: f64) -> Observation {
        Observation {
            ts_ms,
            total: PhaseValues {
                voltage_v,
                current_a: 1.0,
                p_w: 230.0,
                q_var: 0.0,
                s_va: 230.0,
                pf: 1.0,
            },
            phases: Vec::new(),
            freq_hz: Some(50.0),
            voltage_range_v: Some((voltage_v - 1.0, voltage_v + 1.0)),
            registers: Registers {
                import_mwh,
                ..Registers::default()
            },
            tariff_registers: Vec::new(),
            device_tariff: None,
            events: Vec::new(),
        }
    }

    const CONTEXT: Context = Context {
        tariff: 0,
        relay: RelayState::Connected,
        max_demand_w: None,
    };

    #[test]
    fn intervals_close_on_clock_boundaries_and_live_readings_keep_their_pace() {
        let mut recorder = Recorder::new(900, 1);
        let start = 1_795_000_000_000 - 1_795_000_000_000 % 900_000 + 899_000 - 10_000;
        let mut out = Vec::new();
        for k in 0..20 {
            let voltage = if k == 5 { 240.0 } else { 230.0 };
            out.extend(recorder.observe(
                &observation(start + k * 1000, 1000 + k as u64, voltage),
                &CONTEXT,
            ));
        }
        let lives = out
            .iter()
            .filter(|m| matches!(m, Outgoing::Live(_)))
            .count();
        assert_eq!(lives, 20);
        let intervals: Vec<&IntervalRecord> = out
            .iter()
            .filter_map(|m| match m {
                Outgoing::Interval(record) => Some(record),
                _ => None,
            })
            .collect();
        assert_eq!(intervals.len(), 1);
        let record = intervals[0];
        assert_eq!(record.ts_ms % 900_000, 0);
        assert_eq!(record.ts_ms, start + 11_000);
        assert_eq!(record.registers.import_mwh, 1011);
        assert_eq!((record.voltage_min_v, record.voltage_max_v), (229.0, 241.0));
    }

    #[test]
    fn a_gap_across_boundaries_sends_one_record_not_a_backfill() {
        let mut recorder = Recorder::new(900, 60);
        let t0 = 1_795_000_200_000;
        recorder.observe(&observation(t0, 1, 230.0), &CONTEXT);
        let out = recorder.observe(&observation(t0 + 3 * 3_600_000, 5000, 230.0), &CONTEXT);
        let intervals = out
            .iter()
            .filter(|m| matches!(m, Outgoing::Interval(_)))
            .count();
        assert_eq!(intervals, 1);
    }
}
