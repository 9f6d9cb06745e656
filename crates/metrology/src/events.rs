//! Events the meter raises (power quality and tamper), and the fixed-size queue that holds
//! them until the caller collects them.

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Voltage sag (dip): one-cycle RMS below the sag threshold. Extreme: lowest volts.
    Sag,
    /// Voltage swell: one-cycle RMS above the swell threshold. Extreme: highest volts.
    Swell,
    /// Interruption: one-cycle RMS below the interruption threshold. Extreme: lowest volts.
    Interruption,
    /// RMS current above the over-current threshold. Extreme: highest amps.
    OverCurrent,
    /// Frequency outside its band. Extreme: the frequency farthest from nominal, Hz.
    FrequencyOutOfRange,
    /// Energy flowing out of an import-only installation. Extreme: largest export, W.
    ReverseFlow,
    /// Current flowing with the voltage missing: the voltage tap removed. Extreme: amps.
    CurrentWithoutVoltage,
    /// The neutral does not carry what the phases carry: a bypass or earth leakage.
    /// Extreme: largest residual current, amps.
    NeutralMismatch,
    /// The terminal cover was opened (digital input).
    CoverOpen,
    /// A magnetic field was sensed (digital input).
    MagneticField,
}

/// Whether the condition began or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The condition began at `start_sample`.
    Started,
    /// The condition ended; `duration_s` and `extreme` cover the whole episode.
    Ended,
}

/// One event: a condition starting or ending.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// Started or ended.
    pub transition: Transition,
    /// The phase (0-based), or `None` for the whole meter.
    pub phase: Option<u8>,
    /// When the condition began, in samples since the meter started.
    pub start_sample: u64,
    /// When this transition was recognised, in samples since the meter started.
    pub at_sample: u64,
    /// How long the episode lasted (for `Ended`; 0 for `Started`), in seconds.
    pub duration_s: f64,
    /// The extreme value over the episode so far, in the unit the kind names.
    pub extreme: f64,
}

/// Events waiting to be collected.
const QUEUE_CAPACITY: usize = 64;

/// A fixed-size FIFO of events. When full, the oldest event is dropped and counted.
#[derive(Debug, Clone)]
pub struct EventQueue {
    slots: [Option<Event>; QUEUE_CAPACITY],
    head: usize,
    len: usize,
    dropped: u64,
}

impl Default for EventQueue {
    fn default() -> Self {
        Self {
            slots: [None; QUEUE_CAPACITY],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }
}

impl EventQueue {
    /// Appends an event, dropping the oldest if the queue is full.
    pub fn push(&mut self, event: Event) {
        if self.len == QUEUE_CAPACITY {
            self.head = (self.head + 1) % QUEUE_CAPACITY;
            self.len -= 1;
            self.dropped += 1;
        }
        self.slots[(self.head + self.len) % QUEUE_CAPACITY] = Some(event);
        self.len += 1;
    }

    /// Takes the oldest event.
    pub fn pop(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        let event = self.slots[self.head].take();
        self.head = (self.head + 1) % QUEUE_CAPACITY;
        self.len -= 1;
        event
    }

    /// Events lost because nobody collected them in time.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at_sample: u64) -> Event {
        Event {
            kind: EventKind::Sag,
            transition: Transition::Started,
            phase: Some(0),
            start_sample: at_sample,
            at_sample,
            duration_s: 0.0,
            extreme: 200.0,
        }
    }

    #[test]
    fn drops_the_oldest_when_full() {
        let mut queue = EventQueue::default();
        for n in 0..(QUEUE_CAPACITY as u64 + 3) {
            queue.push(event(n));
        }
        assert_eq!(queue.dropped(), 3);
        assert_eq!(queue.pop().map(|e| e.at_sample), Some(3));
        let mut remaining = 1;
        while queue.pop().is_some() {
            remaining += 1;
        }
        assert_eq!(remaining, QUEUE_CAPACITY);
    }
}
