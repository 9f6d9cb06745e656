//! The meter's idea of the time: the system clock plus the correction the last time-sync
//! command measured. Domain code takes times as arguments; only the agent reads a clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Earliest time a meter's clock can plausibly show (2025-01-01 UTC): a board without a
/// real-time clock starts at 1970 until NTP answers.
pub const PLAUSIBLE_AFTER_MS: i64 = 1_735_689_600_000;

/// A source of Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, Unix ms.
    fn now_ms(&self) -> i64;
}

/// The system clock corrected by an offset that time sync sets.
#[derive(Debug, Default)]
pub struct SystemClock {
    offset_ms: AtomicI64,
}

impl SystemClock {
    /// The system clock shifted by `offset_ms`.
    pub fn with_offset(offset_ms: i64) -> Self {
        Self {
            offset_ms: AtomicI64::new(offset_ms),
        }
    }

    /// Corrects the clock so that it reads `true_ms` now; returns the new offset.
    pub fn sync_to(&self, true_ms: i64) -> i64 {
        let offset = true_ms - system_ms();
        self.offset_ms.store(offset, Ordering::Relaxed);
        offset
    }

    /// The correction in force, ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        system_ms() + self.offset_ms()
    }
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whether a time can be trusted: after [`PLAUSIBLE_AFTER_MS`] and not more than five
/// minutes before a time the meter already saw (its last saved state).
pub fn plausible(now_ms: i64, last_seen_ms: i64) -> bool {
    now_ms >= PLAUSIBLE_AFTER_MS && now_ms >= last_seen_ms - 5 * 60_000
}
