//! The meter's idea of the time: an injected base clock (the system's in production, a
//! manual one in tests) plus the correction the last time-sync command measured, and the
//! rule for when a time can be trusted at all. Domain code takes times as arguments; only
//! the agent and the device tasks read a clock.

pub use joule_clock::{Clock, ManualClock, SharedClock, SystemClock};

/// Earliest time a meter's clock can plausibly show (2025-01-01 UTC): a board without a
/// real-time clock starts at 1970 until NTP answers.
pub const PLAUSIBLE_AFTER_MS: i64 = 1_735_689_600_000;

/// The base clock corrected by the offset that time sync sets.
#[derive(Debug, Clone)]
pub struct SyncedClock {
    base: SharedClock,
    offset_ms: i64,
}

impl SyncedClock {
    /// `base` shifted by `offset_ms` (the correction saved with the registers).
    pub fn new(base: SharedClock, offset_ms: i64) -> Self {
        Self { base, offset_ms }
    }

    /// Corrects the clock so that it reads `true_ms` now; returns the new offset, ms.
    pub fn sync_to(&mut self, true_ms: i64) -> i64 {
        self.offset_ms = true_ms - self.base.now_ms();
        self.offset_ms
    }

    /// The correction in force, ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// The uncorrected clock underneath.
    pub fn base(&self) -> &SharedClock {
        &self.base
    }
}

impl Clock for SyncedClock {
    fn now_ms(&self) -> i64 {
        self.base.now_ms() + self.offset_ms
    }
}

/// Whether a time can be trusted: after [`PLAUSIBLE_AFTER_MS`] and not more than five
/// minutes before a time the meter already saw (its last saved state).
pub fn plausible(now_ms: i64, last_seen_ms: i64) -> bool {
    now_ms >= PLAUSIBLE_AFTER_MS && now_ms >= last_seen_ms - 5 * 60_000
}

/// Whether the meter trusts its clock. A clock before [`PLAUSIBLE_AFTER_MS`] or well
/// behind the last saved state holds readings back until a time sync sets it or it comes
/// right by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockTrust {
    trusted: bool,
    /// The newest time the meter had seen before this start, Unix ms.
    last_seen_ms: i64,
}

impl ClockTrust {
    /// The trust in a clock reading `now_ms` at a start after `last_seen_ms`.
    pub fn new(now_ms: i64, last_seen_ms: i64) -> Self {
        Self {
            trusted: plausible(now_ms, last_seen_ms),
            last_seen_ms,
        }
    }

    /// Whether the clock is trusted.
    pub fn is_trusted(&self) -> bool {
        self.trusted
    }

    /// Takes the time at a tick; true when an untrusted clock has just become plausible.
    pub fn regained(&mut self, now_ms: i64) -> bool {
        let regained = !self.trusted && plausible(now_ms, self.last_seen_ms);
        self.trusted |= regained;
        regained
    }

    /// Trusts the clock from now on (a time sync set it).
    pub fn set(&mut self) {
        self.trusted = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_shifts_the_base_clock_and_keeps_the_shift_as_it_moves() {
        let base = ManualClock::new(PLAUSIBLE_AFTER_MS);
        let mut clock = SyncedClock::new(base.clone(), 0);
        assert_eq!(clock.sync_to(PLAUSIBLE_AFTER_MS + 2_500), 2_500);
        assert_eq!(clock.now_ms(), PLAUSIBLE_AFTER_MS + 2_500);
        base.advance_ms(1_000);
        assert_eq!(clock.now_ms(), PLAUSIBLE_AFTER_MS + 3_500);
        assert_eq!(clock.base().now_ms(), PLAUSIBLE_AFTER_MS + 1_000);
        let restarted = SyncedClock::new(base, clock.offset_ms());
        assert_eq!(restarted.now_ms(), PLAUSIBLE_AFTER_MS + 3_500);
    }

    #[test]
    fn an_untrusted_clock_is_regained_once_when_it_comes_right() {
        let saved = PLAUSIBLE_AFTER_MS + 3_600_000;
        let mut trust = ClockTrust::new(0, saved);
        assert!(!trust.is_trusted());
        assert!(!trust.regained(saved - 10 * 60_000));
        assert!(trust.regained(saved));
        assert!(!trust.regained(saved + 1_000), "only once");
        assert!(trust.is_trusted());
        let mut set = ClockTrust::new(0, saved);
        set.set();
        assert!(set.is_trusted());
    }

    #[test]
    fn a_time_before_2025_or_well_before_the_last_save_is_not_trusted() {
        assert!(!plausible(0, 0));
        assert!(plausible(PLAUSIBLE_AFTER_MS, 0));
        let saved = PLAUSIBLE_AFTER_MS + 3_600_000;
        assert!(plausible(saved - 5 * 60_000, saved));
        assert!(!plausible(saved - 5 * 60_000 - 1, saved));
    }
}
